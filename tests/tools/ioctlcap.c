/* A copy of the team's ../shared/tools/ioctlcap/ioctlcap.c (see its README there), kept in the
 * repository so the shim tests run on a clean clone. */
/* LD_PRELOAD shim: log NVMe admin passthru and SG_IO CDBs (golden-vector capture) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <scsi/sg.h>
#include <linux/nvme_ioctl.h>


#include <stdlib.h>
/* IOCTLCAP_FAKE=1: do not touch the device; answer like a drive that supports
 * ATA Security + Sanitize, SCSI SANITIZE and NVMe Sanitize/Format so reference
 * tools emit every command (golden-vector capture against e.g. a loop device). */
static int fake(void) { const char *e = getenv("IOCTLCAP_FAKE"); return e && *e == '1'; }
static void put16(unsigned char *b, int w, unsigned v) { b[2*w] = v & 0xff; b[2*w+1] = v >> 8; }
static int fake_sg(sg_io_hdr_t *h) {
    unsigned char *c = h->cmdp, *d = h->dxferp;
    if (h->dxfer_direction == SG_DXFER_FROM_DEV && d && !h->iovec_count) memset(d, 0, h->dxfer_len);
    if (((c[0] == 0x85 && c[14] == 0xec) || (c[0] == 0xa1 && c[9] == 0xec)) && d && h->dxfer_len >= 512) {
        /* ATA IDENTIFY DEVICE, in ATA PASS-THROUGH(16) or (12) (mediasan's addition: the (12)
         * form, and word 48's Trusted Computing feature set, which sedutil-cli looks for) */
        put16(d, 0, 0x0040); put16(d, 48, 0x4001); put16(d, 49, 0x0300); put16(d, 53, 0x0006);
        put16(d, 59, 0xf000 | 0x0100 | 16); /* SANITIZE supported + block/overwrite/crypto */
        put16(d, 60, 0x0000); put16(d, 61, 0x0002); /* 131072 sectors */
        put16(d, 80, 0x07f0); put16(d, 82, 0x4003); put16(d, 83, 0x7400); put16(d, 84, 0x4000);
        put16(d, 85, 0x4003); put16(d, 86, 0x3400); put16(d, 87, 0x4000);
        put16(d, 89, 1); put16(d, 90, 1); put16(d, 100, 0x0000); put16(d, 101, 0x0002);
        put16(d, 128, 0x0021); /* security supported, enhanced erase supported */
        { const char *a = getenv("IOCTLCAP_AMA"); /* mediasan's addition: the AMA feature set */
          if (a && *a == '1') { put16(d, 119, 0x4000 | 0x0100); put16(d, 120, 0x4000 | 0x0100); } }
        const char *m = "FAKE CAPTURE DRIVE                      ";
        for (int i = 0; i < 40; i += 2) { d[54+i] = m[i+1]; d[54+i+1] = m[i]; }
        put16(d, 255, 0x00a5); /* integrity word: signature, checksum fixed below */
        unsigned char sum = 0; for (int i = 0; i < 511; i++) sum += d[i]; d[511] = -sum;
        { const char *f = getenv("IOCTLCAP_IDENTIFY"); /* mediasan's addition: a real drive's 512 bytes */
          if (f && *f) { FILE *in = fopen(f, "rb"); size_t n = in ? fread(d, 1, 512, in) : 0;
            if (in) fclose(in);
            if (n != 512) { h->status = 2; h->driver_status = 8; return 0; } } }
    } else if (c[0] == 0x85 && c[14] == 0xb0 && c[4] == 0xd0 && d && h->dxfer_len >= 512
               && getenv("IOCTLCAP_SMART") && *getenv("IOCTLCAP_SMART")) {
        /* mediasan's addition: SMART READ DATA answered with a real drive's 512 bytes */
        FILE *in = fopen(getenv("IOCTLCAP_SMART"), "rb"); size_t n = in ? fread(d, 1, 512, in) : 0;
        if (in) fclose(in);
        if (n != 512) { h->status = 2; h->driver_status = 8; return 0; }
    } else if (c[0] == 0x12 && d) { /* INQUIRY */
        if (c[1] & 1) { d[1] = c[2]; if (c[2] == 0x00) { d[3] = 3; d[4] = 0; d[5] = 0x83; d[6] = 0x89; } }
        else { d[2] = 6; d[3] = 2; d[4] = 31; memcpy(d + 8, "FAKECAP DISK FOR GOLDEN VECTRS  0001", 28 > h->dxfer_len - 8 ? h->dxfer_len - 8 : 28); }
    } else if (c[0] == 0x85 && (c[2] & 0x20) && h->sbp && h->mx_sb_len >= 22) { /* CK_COND: ATA status return descriptor */
        unsigned char *sb = h->sbp; memset(sb, 0, 22);
        sb[0] = 0x72; sb[1] = 0x01; sb[2] = 0x00; sb[3] = 0x1d; sb[7] = 14; sb[8] = 0x09; sb[9] = 0x0c;
        sb[13] = 0x00; sb[21] = 0x50; /* status DRDY|DSC, sanitize idle */
        h->sb_len_wr = 22; h->status = 2; h->masked_status = 1; h->driver_status = 8; return 0;
    }
    h->status = 0; h->host_status = 0; h->driver_status = 0; h->sb_len_wr = 0; h->resid = 0; return 0;
}
static int fake_nvme(struct nvme_passthru_cmd *c) {
    unsigned char *d = (unsigned char *)(uintptr_t)c->addr;
    if (d && c->data_len) memset(d, 0, c->data_len);
    if (c->opcode == 0x06 && (c->cdw10 & 0xff) == 1 && d) { /* Identify Controller */
        memcpy(d + 24, "FAKECAP NVME FOR GOLDEN VECTORS         ", 40);
        d[256] = 0x02; /* OACS: Format NVM */ d[260] = 0x0f; /* LPA */ d[524] = 0x04; /* FNA: crypto erase */
        d[328] = 0x07; /* SANICAP: crypto|block|overwrite */ d[516] = 1; /* NN */
    } else if (c->opcode == 0x06 && (c->cdw10 & 0xff) == 0 && d) { /* Identify Namespace */
        d[0] = 0x00; d[1] = 0x00; d[2] = 0x02; d[8] = 0x00; d[10] = 0x02; d[25] = 0; d[26] = 0; d[128+2] = 9; /* LBAF0 512B */
    }
    c->result = 0; return 0;
}

static void hex(const char *tag, const void *p, size_t n) {
    const unsigned char *b = p;
    fprintf(stderr, "%s", tag);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%02x%s", b[i], (i + 1) % 16 ? " " : (i + 1 < n ? "\n      " : ""));
    fprintf(stderr, "\n");
}

int ioctl(int fd, unsigned long req, ...) {
    static int (*real)(int, unsigned long, ...);
    va_list ap; va_start(ap, req); void *arg = va_arg(ap, void *); va_end(ap);
    if (!real) real = dlsym(RTLD_NEXT, "ioctl");
    if (req == NVME_IOCTL_ADMIN_CMD || req == NVME_IOCTL_IO_CMD) {
        struct nvme_passthru_cmd *c = arg;
        fprintf(stderr, "[cap] %s opc=0x%02x nsid=0x%x cdw10=0x%08x cdw11=0x%08x cdw12=0x%08x cdw13=0x%08x cdw14=0x%08x cdw15=0x%08x data_len=%u\n",
                req == NVME_IOCTL_ADMIN_CMD ? "NVME_IOCTL_ADMIN_CMD" : "NVME_IOCTL_IO_CMD",
                c->opcode, c->nsid, c->cdw10, c->cdw11, c->cdw12, c->cdw13, c->cdw14, c->cdw15, c->data_len);
        hex("[cap] raw72 ", c, sizeof(*c));
        int r = fake() ? fake_nvme(c) : real(fd, req, arg); int e = errno;
        fprintf(stderr, "[cap]   -> ret=%d (0x%x) errno=%d result=0x%08x\n", r, r > 0 ? r : 0, r < 0 ? e : 0, c->result);
        errno = e; return r;
    }
    if (req == SG_IO) {
        sg_io_hdr_t *h = arg;
        if (h->interface_id == 'S') {
            hex("[cap] SG_IO cdb ", h->cmdp, h->cmd_len);
            fprintf(stderr, "[cap]   dxfer_dir=%d dxfer_len=%u timeout=%u\n", h->dxfer_direction, h->dxfer_len, h->timeout);
            if (h->dxfer_direction == SG_DXFER_TO_DEV && h->dxfer_len && !h->iovec_count)
                hex("[cap]   data-out ", h->dxferp, h->dxfer_len > 64 ? 64 : h->dxfer_len);
            int r = fake() ? fake_sg(h) : real(fd, req, arg); int e = errno;
            fprintf(stderr, "[cap]   -> ret=%d status=0x%x host=0x%x driver=0x%x sb_len_wr=%u\n", r, h->status, h->host_status, h->driver_status, h->sb_len_wr);
            if (h->sb_len_wr) hex("[cap]   sense ", h->sbp, h->sb_len_wr);
            errno = e; return r;
        }
    }
    return real(fd, req, arg);
}
