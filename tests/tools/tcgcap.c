/* tcgcap: an LD_PRELOAD shim that plays a TCG Enterprise SSC drive on NVMe just far enough for a
 * tool to send its first ComPackets, and logs what the tool sends. Nothing reaches a device: every
 * NVMe admin command (NVME_IOCTL_ADMIN_CMD) returns 0. Identify answers zeros; Security Receive of
 * Level 0 Discovery (protocol 01h, ComID 0001h) answers an Enterprise SSC (feature 0100h, base
 * ComID 07FEh) with locking supported and enabled. Every other Security Receive answers the last
 * Security Send as a drive that accepts everything would: SyncSession (TSN 1) to a StartSession, a
 * LockingInfo row with MaxRanges 1 or
 * a C_PIN row with PIN "SIMMSID1" to a Get, True to an Authenticate, an empty result to any other method call, and the
 * end of session to an end of session; each with status SUCCESS. Every Security Send (81h) is
 * logged with all its bytes.
 *
 *   gcc -shared -fPIC -O2 -o target/tcgcap.so tests/tools/tcgcap.c -ldl
 *   LD_PRELOAD=$PWD/target/tcgcap.so sedutil-cli -n --eraseLockingRange 0 PASSWORD /dev/nvme9
 *
 * mediasan's own code; used to record tests/data/ioctlcap/sedutil-enterprise-*.txt. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

struct admin { /* struct nvme_admin_cmd, linux/nvme_ioctl.h */
    uint8_t opcode, flags;
    uint16_t rsvd1;
    uint32_t nsid, cdw2, cdw3;
    uint64_t metadata, addr;
    uint32_t metadata_len, data_len, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15, timeout_ms, result;
};

#define ADMIN_CMD 0xC0484E41UL

static uint8_t last[2048];

/* The answer to the last ComPacket sent: its tokens, framed as the TPer frames them. */
static void answer(uint8_t *b, unsigned len) {
    static const uint8_t sync[] = {0xF8, 0xA8, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xA8, 0, 0, 0, 0, 0, 0, 0xFF, 0x03,
                                   0xF0, 0x81, 0x69, 0x01, 0xF1, 0xF9, 0xF0, 0x00, 0x00, 0x00, 0xF1};
    static const uint8_t get[] = {0xF0, 0xF0, 0xF0, 0xF2, 0xA9, 'M', 'a', 'x', 'R', 'a', 'n', 'g', 'e', 's', 0x01,
                                  0xF3, 0xF1, 0xF1, 0xF1, 0xF9, 0xF0, 0x00, 0x00, 0x00, 0xF1};
    static const uint8_t empty[] = {0xF0, 0xF1, 0xF9, 0xF0, 0x00, 0x00, 0x00, 0xF1};
    static const uint8_t pin[] = {0xF0, 0xF0, 0xF0, 0xF2, 0xA3, 'P', 'I', 'N', 0xA8, 'S', 'I', 'M', 'M', 'S', 'I', 'D', '1',
                                  0xF3, 0xF1, 0xF1, 0xF1, 0xF9, 0xF0, 0x00, 0x00, 0x00, 0xF1};
    static const uint8_t yes[] = {0xF0, 0x01, 0xF1, 0xF9, 0xF0, 0x00, 0x00, 0x00, 0xF1};
    static const uint8_t eos[] = {0xFA};
    const uint8_t *sent = last + 56, *t = empty;
    unsigned n = sizeof empty;
    if (sent[0] == 0xFA) t = eos, n = sizeof eos;
    else if (sent[0] == 0xF8 && sent[17] == 0xFF && sent[18] == 0x02) t = sync, n = sizeof sync;
    else if (memmem(sent, 400, "MaxRanges", 9)) t = get, n = sizeof get;
    else if (memmem(sent, 400, "PIN", 3)) t = pin, n = sizeof pin; /* C_PIN_MSID: "SIMMSID1" */
    else if (sent[0] == 0xF8 && sent[14] == 0x06 && sent[18] == 0x0C) t = yes, n = sizeof yes; /* Authenticate */
    if (len < 56 + n + 4) return;
    unsigned sub = n, pkt = 12 + ((n + 3) & ~3u), com = 24 + pkt;
    memcpy(b, last, 56); /* ComID, TSN, HSN as sent */
    if (t == sync) b[20 + 3] = 1; /* the TSN the TPer gives */
    b[16] = com >> 24, b[17] = com >> 16, b[18] = com >> 8, b[19] = com;
    b[40] = pkt >> 24, b[41] = pkt >> 16, b[42] = pkt >> 8, b[43] = pkt;
    b[52] = sub >> 24, b[53] = sub >> 16, b[54] = sub >> 8, b[55] = sub;
    memcpy(b + 56, t, n);
}

int ioctl(int fd, unsigned long req, ...) {
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    (void)fd;
    if (req != ADMIN_CMD) return 0;
    struct admin *c = arg;
    uint8_t *b = (uint8_t *)(uintptr_t)c->addr;
    fprintf(stderr, "NVME admin opc=0x%02x cdw10=0x%08x cdw11=0x%08x data_len=%u\n", c->opcode, c->cdw10,
            c->cdw11, c->data_len);
    if (c->opcode == 0x81) {
        for (unsigned i = 0; i < c->data_len; i++)
            fprintf(stderr, "%02x%s", b[i], (i % 32 == 31 || i + 1 == c->data_len) ? "\n" : " ");
        memcpy(last, b, c->data_len < sizeof last ? c->data_len : sizeof last);
        return 0;
    }
    if (b) memset(b, 0, c->data_len);
    if (c->opcode == 0x82 && c->cdw10 != 0x01000100) answer(b, c->data_len);
    if (c->opcode == 0x82 && c->cdw10 == 0x01000100 && c->data_len >= 80) {
        static const uint8_t d0[] = {
            0, 0, 0, 76, 0, 0, 0, 1, /* header: length, revision 1 */
        };
        memcpy(b, d0, sizeof d0);
        static const uint8_t feats[] = {
            0x00, 0x01, 0x10, 0x0C, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* TPer: sync */
            0x00, 0x02, 0x10, 0x0C, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* Locking: supported, enabled, ME */
            0x01, 0x00, 0x10, 0x0C, 0x07, 0xFE, 0x00, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, /* Enterprise */
        };
        memcpy(b + 48, feats, sizeof feats);
        b[3] = 44 + sizeof feats;
    }
    return 0;
}
