/* opalcap: an LD_PRELOAD shim that logs every Linux sed-opal ioctl (type 'p', linux/sed-opal.h)
 * a program makes: the request code, its size and every byte of its argument, in hex, to stderr.
 * With OPALCAP_FAKE=1 nothing reaches the device: each request returns 0, and IOC_OPAL_GET_STATUS
 * answers "supported, locking supported and enabled", so a tool goes on to what it would send.
 * Other ioctls pass through (OPALCAP_FAKE answers them with 0 too). getpass() answers
 * $OPALCAP_KEY, so a tool that prompts for a password or PSID can run without a terminal.
 *
 *   gcc -shared -fPIC -O2 -o target/opalcap.so tests/tools/opalcap.c -ldl
 *   OPALCAP_FAKE=1 LD_PRELOAD=$PWD/target/opalcap.so nvme sed revert --psid /dev/nvme0n1
 *
 * mediasan's own code; used to record the golden vectors in tests/data/ioctlcap/nvme-sed-*.txt. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

char *getpass(const char *prompt) {
    static char key[300];
    const char *k = getenv("OPALCAP_KEY");
    fprintf(stderr, "%s(OPALCAP_KEY)\n", prompt);
    snprintf(key, sizeof key, "%s", k ? k : "");
    return key;
}

int ioctl(int fd, unsigned long req, ...) {
    static int (*real)(int, unsigned long, ...);
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!real) real = dlsym(RTLD_NEXT, "ioctl");
    int fake = getenv("OPALCAP_FAKE") != NULL;
    if (_IOC_TYPE(req) != 'p') {
        if (fake) return 0;
        return real(fd, req, arg);
    }
    unsigned size = _IOC_SIZE(req);
    fprintf(stderr, "OPAL ioctl 0x%08lx nr %lu size %u dir %u\n", req, (unsigned long)_IOC_NR(req), size,
            (unsigned)_IOC_DIR(req));
    if (fake && _IOC_NR(req) == 236) { /* IOC_OPAL_GET_STATUS: struct opal_status { u32 flags, reserved } */
        unsigned flags = 0x1 | 0x2 | 0x4; /* OPAL_FL_SUPPORTED | LOCKING_SUPPORTED | LOCKING_ENABLED */
        memset(arg, 0, size);
        memcpy(arg, &flags, sizeof flags);
    }
    const unsigned char *b = arg;
    for (unsigned i = 0; i < size; i++)
        fprintf(stderr, "%02x%s", b[i], (i % 32 == 31 || i + 1 == size) ? "\n" : " ");
    if (fake) return 0;
    return real(fd, req, arg);
}
