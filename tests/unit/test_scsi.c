/*
 * The SCSI target layer (devices/scsi_disk.c) driven as a controller drives
 * it: a CDB, a flat initiator buffer, scsi_execute. Oracles: the reply
 * formats of SPC-4 (standard INQUIRY, VPD 00h/80h/83h, fixed sense data,
 * REPORT LUNS, mode parameter headers and block descriptors, mode pages 08h,
 * 0Ah, 04h), SBC-3 (READ CAPACITY 10/16, VPD B0h/B1h/B2h) and MMC-6 (READ
 * TOC formats 0/1/2, GET CONFIGURATION, GET EVENT STATUS NOTIFICATION, READ
 * DISC INFORMATION), checked at their byte offsets; the sense key/ASC the
 * standards name for each error; and a RAM disk's contents and flush count
 * (FUA and WCE=0 writes are stable before the command completes).
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/scsi.h"
#include "tests/unit/ramdisk.h"
#include "tests/unit/test.h"

static struct ramdisk *ramdisk_filled(uint64_t sectors)
{
    struct ramdisk *r = ramdisk_new(sectors);
    for (uint64_t i = 0; i < sectors * 512; i++)
        r->data[i] = (uint8_t)(i * 7 + (i >> 9));
    return r;
}

/* ---- an initiator with a flat buffer ---- */

#define BUF (256 * 1024)

struct ini {
    uint8_t buf[BUF];
    int fail; /* xfer fails */
};

static int ini_xfer(void *opaque, uint64_t off, void *buf, size_t len, bool to_guest)
{
    struct ini *i = opaque;
    if (i->fail || off > BUF || len > BUF - off)
        return -1;
    if (to_guest)
        memcpy(i->buf + off, buf, len);
    else
        memcpy(buf, i->buf + off, len);
    return 0;
}

static struct ini ini;

/* Runs cdb (length from the opcode group) with len bytes of buffer in direction dir. */
static struct scsi_req run(struct scsi_dev *d, const uint8_t *cdb, unsigned cdb_len, enum scsi_dir dir,
                           uint64_t len)
{
    struct scsi_req r = {0};
    memcpy(r.cdb, cdb, cdb_len);
    r.cdb_len = cdb_len;
    r.dir = dir;
    r.xfer_len = len;
    r.xfer = ini_xfer;
    r.opaque = &ini;
    scsi_execute(d, &r);
    return r;
}

#define RUN_IN(d, len, ...) run(d, (const uint8_t[]){__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), SCSI_DIR_IN, len)
#define RUN_OUT(d, len, ...) run(d, (const uint8_t[]){__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), SCSI_DIR_OUT, len)
#define RUN_NONE(d, ...) run(d, (const uint8_t[]){__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__}), SCSI_DIR_NONE, 0)

static void assert_sense(struct scsi_req rv, uint8_t key, uint8_t asc, uint8_t ascq, int line)
{
    const struct scsi_req *r = &rv;
    if (r->status != SCSI_CHECK_CONDITION || r->sense_len != SCSI_SENSE_LEN || r->sense[0] != 0x70 ||
        r->sense[7] != 10 || (r->sense[2] & 0xf) != key || r->sense[12] != asc || r->sense[13] != ascq)
        test_fail(__FILE__, line, "status %02x sense %02x key %x asc %02x/%02x, want key %x asc %02x/%02x",
                  r->status, r->sense[0], r->sense[2] & 0xf, r->sense[12], r->sense[13], key, asc, ascq);
}
#define ASSERT_SENSE(r, key, asc, ascq) assert_sense((r), key, asc, ascq, __LINE__)
#define ASSERT_GOOD(r) ASSERT_EQ((r).status, SCSI_GOOD)

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

#define DISK_SECTORS 8192 /* 4 MiB */

static struct ramdisk *rd;
static struct scsi_bus bus;

static struct scsi_dev *disk_new(void)
{
    memset(&bus, 0, sizeof(bus));
    rd = ramdisk_filled(DISK_SECTORS);
    struct scsi_dev *d = scsi_dev_new(SCSI_DISK, &rd->bd, NULL);
    ASSERT(d);
    ASSERT_EQ(scsi_bus_attach(&bus, 0, 0, d, NULL), 0);
    memset(ini.buf, 0xee, sizeof(ini.buf));
    ini.fail = 0;
    return d;
}

static void disk_free(void)
{
    scsi_bus_free(&bus);
    ramdisk_close(&rd->bd);
}

/* ---- tests ---- */

TEST(test_unit_ready_and_inquiry)
{
    struct scsi_dev *d = disk_new();
    ASSERT_GOOD(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0));
    struct scsi_req r = RUN_IN(d, 255, 0x12, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 36);
    const uint8_t *b = ini.buf;
    ASSERT_EQ(b[0], 0x00);      /* qualifier 0, direct access block device */
    ASSERT_EQ(b[1] & 0x80, 0);  /* not removable */
    ASSERT(b[2] >= 5);          /* SPC-3 or later */
    ASSERT_EQ(b[3] & 0x0f, 2);  /* response data format */
    ASSERT_EQ(b[4], 31);        /* additional length */
    ASSERT_MEM_EQ(b + 8, "VMware  ", 8);
    ASSERT_MEM_EQ(b + 16, "Virtual disk    ", 16);
    ASSERT_MEM_EQ(b + 32, "2.0 ", 4);
    ASSERT_EQ(b[36], 0xee); /* nothing past the reply */
    /* allocation length cuts the reply */
    r = RUN_IN(d, 255, 0x12, 0, 0, 0, 5, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 5);
    /* the initiator's buffer cuts it too */
    r = RUN_IN(d, 10, 0x12, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 10);
    /* page code without EVPD: invalid field */
    ASSERT_SENSE(RUN_IN(d, 255, 0x12, 0, 0x80, 0, 255, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(vpd_pages)
{
    struct scsi_dev *d = disk_new();
    struct scsi_req r = RUN_IN(d, 255, 0x12, 1, 0x00, 0, 255, 0);
    ASSERT_GOOD(r);
    const uint8_t *b = ini.buf;
    ASSERT_EQ(b[1], 0x00);
    ASSERT_EQ(be16(b + 2), 6);
    ASSERT_MEM_EQ(b + 4, ((uint8_t[]){0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2}), 6);
    ASSERT_EQ(r.transferred, 10);

    r = RUN_IN(d, 255, 0x12, 1, 0x80, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(b[1], 0x80);
    unsigned n = be16(b + 2);
    ASSERT(n > 0 && n <= 20);
    for (unsigned i = 0; i < n; i++)
        ASSERT(b[4 + i] >= 0x20 && b[4 + i] < 0x7f);

    r = RUN_IN(d, 255, 0x12, 1, 0x83, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(b[1], 0x83);
    unsigned len = be16(b + 2), off = 4, naa = 0, t10 = 0;
    ASSERT_EQ(r.transferred, len + 4);
    while (off < len + 4) { /* designation descriptors: code set, association/type, length */
        const uint8_t *p = b + off;
        if ((p[1] & 0x0f) == 3) {
            ASSERT_EQ(p[0] & 0x0f, 1); /* binary */
            ASSERT_EQ(p[3], 8);
            ASSERT_EQ(p[4] >> 4, 5); /* NAA IEEE registered */
            naa++;
        } else if ((p[1] & 0x0f) == 1) {
            ASSERT_EQ(p[0] & 0x0f, 2); /* ASCII */
            ASSERT_MEM_EQ(p + 4, "VMware  ", 8);
            t10++;
        }
        ASSERT_EQ(p[1] & 0x30, 0); /* associated with the LU */
        off += 4 + p[3];
    }
    ASSERT_EQ(off, len + 4);
    ASSERT_EQ(naa, 1);
    ASSERT_EQ(t10, 1);

    r = RUN_IN(d, 255, 0x12, 1, 0xb0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(b[1], 0xb0);
    ASSERT_EQ(be16(b + 2), 0x3c);
    ASSERT(be32(b + 8) >= 128); /* maximum transfer length */
    ASSERT_EQ(be32(b + 20), 0); /* no UNMAP */

    r = RUN_IN(d, 255, 0x12, 1, 0xb1, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(b + 2), 0x3c);
    ASSERT_EQ(be16(b + 4), 1); /* non-rotating medium */

    r = RUN_IN(d, 255, 0x12, 1, 0xb2, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(b + 2), 4);
    ASSERT_EQ(b[5] & 0xe0, 0); /* LBPU, LBPWS, LBPWS10 clear */

    ASSERT_SENSE(RUN_IN(d, 255, 0x12, 1, 0x99, 0, 255, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(read_capacity)
{
    struct scsi_dev *d = disk_new();
    struct scsi_req r = RUN_IN(d, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 8);
    ASSERT_EQ(be32(ini.buf), DISK_SECTORS - 1);
    ASSERT_EQ(be32(ini.buf + 4), 512);
    r = RUN_IN(d, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 32);
    ASSERT_EQ(be64(ini.buf), DISK_SECTORS - 1);
    ASSERT_EQ(be32(ini.buf + 8), 512);
    ASSERT_EQ(ini.buf[12] & 1, 0); /* no protection */
    ASSERT_EQ(ini.buf[13] & 0x0f, 0);
    /* service action other than 10h */
    ASSERT_SENSE(RUN_IN(d, 32, 0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0),
                 SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(read_write_all_sizes)
{
    struct scsi_dev *d = disk_new();
    static uint8_t pat[BUF];
    for (unsigned i = 0; i < sizeof(pat); i++)
        pat[i] = (uint8_t)(i * 13 + 5);
    /* WRITE(6) 3 blocks at 10, WRITE(10) 4 at 100, WRITE(12) 5 at 1000, WRITE(16) 200 at 5000 */
    memcpy(ini.buf, pat, 3 * 512);
    ASSERT_GOOD(RUN_OUT(d, 3 * 512, 0x0a, 0, 0, 10, 3, 0));
    ASSERT_MEM_EQ(rd->data + 10 * 512, pat, 3 * 512);
    memcpy(ini.buf, pat + 1, 4 * 512);
    ASSERT_GOOD(RUN_OUT(d, 4 * 512, 0x2a, 0, 0, 0, 0, 100, 0, 0, 4, 0));
    ASSERT_MEM_EQ(rd->data + 100 * 512, pat + 1, 4 * 512);
    memcpy(ini.buf, pat + 2, 5 * 512);
    ASSERT_GOOD(RUN_OUT(d, 5 * 512, 0xaa, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5, 0, 0));
    ASSERT_MEM_EQ(rd->data + 1000 * 512, pat + 2, 5 * 512);
    memcpy(ini.buf, pat + 3, 200 * 512);
    struct scsi_req r = RUN_OUT(d, 200 * 512, 0x8a, 0, 0, 0, 0, 0, 0, 0, 0x13, 0x88, 0, 0, 0, 200, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 200 * 512);
    ASSERT_MEM_EQ(rd->data + 5000 * 512, pat + 3, 200 * 512);
    /* and back through each READ */
    memset(ini.buf, 0, BUF);
    ASSERT_GOOD(RUN_IN(d, 3 * 512, 0x08, 0, 0, 10, 3, 0));
    ASSERT_MEM_EQ(ini.buf, pat, 3 * 512);
    ASSERT_GOOD(RUN_IN(d, 4 * 512, 0x28, 0, 0, 0, 0, 100, 0, 0, 4, 0));
    ASSERT_MEM_EQ(ini.buf, pat + 1, 4 * 512);
    ASSERT_GOOD(RUN_IN(d, 5 * 512, 0xa8, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5, 0, 0));
    ASSERT_MEM_EQ(ini.buf, pat + 2, 5 * 512);
    r = RUN_IN(d, 200 * 512, 0x88, 0, 0, 0, 0, 0, 0, 0, 0x13, 0x88, 0, 0, 0, 200, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 200 * 512);
    ASSERT_MEM_EQ(ini.buf, pat + 3, 200 * 512);
    /* READ(6) with length 0 means 256 blocks */
    r = RUN_IN(d, 256 * 512, 0x08, 0, 0, 0, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 256 * 512);
    ASSERT_MEM_EQ(ini.buf, rd->data, 256 * 512);
    /* READ(10) with length 0 moves nothing */
    r = RUN_IN(d, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 0);
    /* a buffer shorter than the command: only the buffer moves, residual left */
    r = RUN_IN(d, 700, 0x28, 0, 0, 0, 0, 0, 0, 0, 4, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 700);
    /* a last block read is fine, one past is not */
    ASSERT_GOOD(RUN_IN(d, 512, 0x28, 0, 0, 0, 0x1f, 0xff, 0, 0, 1, 0));
    ASSERT_SENSE(RUN_IN(d, 1024, 0x28, 0, 0, 0, 0x1f, 0xff, 0, 0, 2, 0), SENSE_ILLEGAL_REQUEST, 0x21, 0);
    ASSERT_SENSE(RUN_IN(d, 512, 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0),
                 SENSE_ILLEGAL_REQUEST, 0x21, 0);
    ASSERT_SENSE(RUN_OUT(d, 512, 0x2a, 0, 0, 0, 0x20, 0x00, 0, 0, 1, 0), SENSE_ILLEGAL_REQUEST, 0x21, 0);
    /* a buffer in the wrong direction */
    ASSERT_SENSE(RUN_OUT(d, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    /* the initiator's memory cannot be reached */
    ini.fail = 1;
    ASSERT_SENSE(RUN_IN(d, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_HARDWARE_ERROR, 0x4b, 0);
    ini.fail = 0;
    /* a read error */
    rd->fail_read = 1;
    ASSERT_SENSE(RUN_IN(d, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_MEDIUM_ERROR, 0x11, 0);
    /* REQUEST SENSE then returns it */
    r = RUN_IN(d, 252, 0x03, 0, 0, 0, 252, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 18);
    ASSERT_EQ(ini.buf[0], 0x70);
    ASSERT_EQ(ini.buf[2], SENSE_MEDIUM_ERROR);
    ASSERT_EQ(ini.buf[12], 0x11);
    /* and after that, no sense */
    r = RUN_IN(d, 252, 0x03, 0, 0, 0, 252, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[2], SENSE_NO_SENSE);
    ASSERT_EQ(ini.buf[12], 0);
    disk_free();
}

/* With the write cache on, a plain write is not flushed; FUA and WCE=0 writes are flushed
 * after their last write, before they complete. */
TEST(fua_and_write_cache)
{
    struct scsi_dev *d = disk_new();
    memset(ini.buf, 0x5a, 8 * 512);
    ASSERT_GOOD(RUN_OUT(d, 512, 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0));
    ASSERT_EQ(rd->flushes, 0);
    ASSERT_GOOD(RUN_OUT(d, 512, 0x2a, 0x08, 0, 0, 0, 1, 0, 0, 1, 0)); /* FUA */
    ASSERT_EQ(rd->flushes, 1);
    ASSERT_EQ(rd->writes_at_flush, rd->writes);
    ASSERT_GOOD(RUN_OUT(d, 512, 0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)); /* FUA(16) */
    ASSERT_EQ(rd->flushes, 2);
    ASSERT_GOOD(RUN_OUT(d, 512, 0xaa, 0x08, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0)); /* FUA(12) */
    ASSERT_EQ(rd->flushes, 3);

    /* MODE SENSE(10) caching page: WCE set */
    struct scsi_req r = RUN_IN(d, 255, 0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    uint8_t page[20];
    ASSERT_EQ(be16(ini.buf + 6), 0); /* DBD: no block descriptor */
    memcpy(page, ini.buf + 8, 20);
    ASSERT_EQ(page[0] & 0x3f, 0x08);
    ASSERT_EQ(page[1], 0x12);
    ASSERT_EQ(page[2] & 0x04, 0x04);
    /* the changeable values show WCE */
    r = RUN_IN(d, 255, 0x1a, 0x08, 0x48, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[4], 0x08);
    ASSERT_EQ(ini.buf[4 + 2], 0x04);

    /* MODE SELECT(6) clears WCE: what the cache held is flushed, every write is stable */
    ASSERT_GOOD(RUN_OUT(d, 512, 0x2a, 0, 0, 0, 0, 2, 0, 0, 1, 0));
    int before = rd->flushes;
    memset(ini.buf, 0, 4);
    memcpy(ini.buf + 4, page, 20);
    ini.buf[4 + 2] &= ~0x04;
    ASSERT_GOOD(RUN_OUT(d, 24, 0x15, 0x10, 0, 0, 24, 0));
    ASSERT_EQ(rd->flushes, before + 1);
    ASSERT_EQ(rd->writes_at_flush, rd->writes);
    r = RUN_IN(d, 255, 0x1a, 0x08, 0x08, 0, 255, 0);
    ASSERT_EQ(ini.buf[4 + 2] & 0x04, 0);
    memset(ini.buf, 0x77, 4 * 512);
    ASSERT_GOOD(RUN_OUT(d, 4 * 512, 0x2a, 0, 0, 0, 0, 3, 0, 0, 4, 0));
    ASSERT_EQ(rd->flushes, before + 2);
    ASSERT_EQ(rd->writes_at_flush, rd->writes);
    ASSERT_GOOD(RUN_OUT(d, 512, 0x0a, 0, 0, 9, 1, 0));
    ASSERT_EQ(rd->flushes, before + 3);
    ASSERT_EQ(rd->writes_at_flush, rd->writes);

    /* MODE SELECT(10) sets it again */
    memset(ini.buf, 0, 8);
    memcpy(ini.buf + 8, page, 20);
    ASSERT_GOOD(RUN_OUT(d, 28, 0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0));
    before = rd->flushes;
    ASSERT_GOOD(RUN_OUT(d, 512, 0x2a, 0, 0, 0, 0, 4, 0, 0, 1, 0));
    ASSERT_EQ(rd->flushes, before);
    /* SYNCHRONIZE CACHE 10 and 16 flush */
    ASSERT_GOOD(RUN_NONE(d, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    ASSERT_EQ(rd->flushes, before + 1);
    ASSERT_GOOD(RUN_NONE(d, 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    ASSERT_EQ(rd->flushes, before + 2);
    ASSERT_EQ(rd->writes_at_flush, rd->writes);
    /* bad MODE SELECT parameter lists: page length wrong, unknown page, saving pages */
    memset(ini.buf, 0, 4);
    memcpy(ini.buf + 4, page, 20);
    ini.buf[5] = 0x10;
    ASSERT_SENSE(RUN_OUT(d, 24, 0x15, 0x10, 0, 0, 24, 0), SENSE_ILLEGAL_REQUEST, 0x26, 0);
    ini.buf[4] = 0x33;
    ini.buf[5] = 0x12;
    ASSERT_SENSE(RUN_OUT(d, 24, 0x15, 0x10, 0, 0, 24, 0), SENSE_ILLEGAL_REQUEST, 0x26, 0);
    ASSERT_SENSE(RUN_OUT(d, 24, 0x15, 0x11, 0, 0, 24, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(mode_sense_pages)
{
    struct scsi_dev *d = disk_new();
    /* MODE SENSE(6), all pages, with block descriptor */
    struct scsi_req r = RUN_IN(d, 255, 0x1a, 0, 0x3f, 0, 255, 0);
    ASSERT_GOOD(r);
    const uint8_t *b = ini.buf;
    ASSERT_EQ(b[0] + 1u, r.transferred); /* mode data length */
    ASSERT_EQ(b[2] & 0x80, 0);            /* not write protected */
    ASSERT_EQ(b[3], 8);                   /* block descriptor length */
    ASSERT_EQ((uint32_t)b[5] << 16 | b[6] << 8 | b[7], DISK_SECTORS);
    ASSERT_EQ((uint32_t)b[9] << 16 | b[10] << 8 | b[11], 512);
    unsigned off = 12, seen = 0;
    while (off < r.transferred) {
        uint8_t pg = b[off] & 0x3f, len = b[off + 1];
        if (pg == 0x08) {
            ASSERT_EQ(len, 0x12);
            seen |= 1;
        } else if (pg == 0x0a) {
            ASSERT_EQ(len, 0x0a);
            seen |= 2;
        } else if (pg == 0x04) {
            ASSERT_EQ(len, 0x16);
            uint32_t cyl = (uint32_t)b[off + 2] << 16 | b[off + 3] << 8 | b[off + 4];
            ASSERT(cyl * b[off + 5] * 63u <= DISK_SECTORS);
            seen |= 4;
        }
        off += 2 + len;
    }
    ASSERT_EQ(off, r.transferred);
    ASSERT_EQ(seen, 7);
    /* MODE SENSE(10) control page */
    r = RUN_IN(d, 255, 0x5a, 0, 0x0a, 0, 0, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(b) + 2u, r.transferred);
    ASSERT_EQ(be16(b + 6), 8);
    ASSERT_EQ(be32(b + 8), DISK_SECTORS);
    ASSERT_EQ(be32(b + 12) & 0xffffff, 512);
    ASSERT_EQ(b[16], 0x0a);
    ASSERT_EQ(b[17], 0x0a);
    ASSERT_EQ(r.transferred, 8 + 8 + 12);
    /* LONGLBA: a 16-byte descriptor */
    r = RUN_IN(d, 255, 0x5a, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(b[4] & 1, 1);
    ASSERT_EQ(be16(b + 6), 16);
    ASSERT_EQ(be64(b + 8), DISK_SECTORS);
    ASSERT_EQ(be32(b + 20), 512);
    /* saved values: not supported; an unknown page: invalid field */
    ASSERT_SENSE(RUN_IN(d, 255, 0x1a, 0, 0xc8, 0, 255, 0), SENSE_ILLEGAL_REQUEST, 0x39, 0);
    ASSERT_SENSE(RUN_IN(d, 255, 0x1a, 0, 0x2b, 0, 255, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(read_only_disk)
{
    struct scsi_dev *d = disk_new();
    rd->bd.read_only = true;
    memset(ini.buf, 1, 512);
    ASSERT_SENSE(RUN_OUT(d, 512, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_DATA_PROTECT, 0x27, 0);
    ASSERT_SENSE(RUN_OUT(d, 512, 0x0a, 0, 0, 0, 1, 0), SENSE_DATA_PROTECT, 0x27, 0);
    ASSERT_EQ(rd->writes, 0);
    struct scsi_req r = RUN_IN(d, 255, 0x1a, 0x08, 0x08, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[2] & 0x80, 0x80); /* WP */
    ASSERT_GOOD(RUN_IN(d, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
    disk_free();
}

TEST(verify)
{
    struct scsi_dev *d = disk_new();
    ASSERT_GOOD(RUN_NONE(d, 0x2f, 0, 0, 0, 0, 0, 0, 0, 16, 0));
    ASSERT_SENSE(RUN_NONE(d, 0x2f, 0, 0, 0, 0x20, 0, 0, 0, 1, 0), SENSE_ILLEGAL_REQUEST, 0x21, 0);
    /* BYTCHK 1: the data out equals the medium, then one byte differs */
    memcpy(ini.buf, rd->data + 7 * 512, 2 * 512);
    ASSERT_GOOD(RUN_OUT(d, 1024, 0x2f, 0x02, 0, 0, 0, 7, 0, 0, 2, 0));
    ini.buf[700] ^= 1;
    ASSERT_SENSE(RUN_OUT(d, 1024, 0x2f, 0x02, 0, 0, 0, 7, 0, 0, 2, 0), 0xe, 0x1d, 0);
    ini.buf[700] ^= 1;
    ASSERT_GOOD(RUN_OUT(d, 1024, 0x8f, 0x02, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0));
    disk_free();
}

TEST(errors_and_unit_attention)
{
    struct scsi_dev *d = disk_new();
    ASSERT_SENSE(RUN_NONE(d, 0xc5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), SENSE_ILLEGAL_REQUEST, 0x20, 0);
    ASSERT_SENSE(RUN_NONE(d, 0x43, 0, 0, 0, 0, 0, 0, 0, 0, 0), SENSE_ILLEGAL_REQUEST, 0x20, 0); /* TOC on a disk */
    ASSERT_SENSE(RUN_NONE(d, 0x00, 0, 0), SENSE_ILLEGAL_REQUEST, 0x20, 0); /* CDB too short */
    /* reset: INQUIRY and REPORT LUNS pass, TUR gets 29h once, then GOOD */
    scsi_bus_reset(&bus);
    ASSERT_GOOD(RUN_IN(d, 36, 0x12, 0, 0, 0, 36, 0));
    ASSERT_GOOD(RUN_IN(d, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0));
    ASSERT_SENSE(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0), SENSE_UNIT_ATTENTION, 0x29, 0);
    ASSERT_GOOD(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0));
    /* REQUEST SENSE reports and clears a pending UNIT ATTENTION */
    scsi_dev_reset(d);
    struct scsi_req r = RUN_IN(d, 18, 0x03, 0, 0, 0, 18, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[2], SENSE_UNIT_ATTENTION);
    ASSERT_EQ(ini.buf[12], 0x29);
    ASSERT_GOOD(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0));
    /* START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL */
    ASSERT_GOOD(RUN_NONE(d, 0x1b, 0, 0, 0, 0x01, 0));
    ASSERT_GOOD(RUN_NONE(d, 0x1e, 0, 0, 0, 0x01, 0));
    ASSERT_GOOD(RUN_NONE(d, 0x1e, 0, 0, 0, 0x00, 0));
    /* REQUEST SENSE descriptor format: not supported */
    ASSERT_SENSE(RUN_IN(d, 18, 0x03, 1, 0, 0, 18, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(report_luns_and_absent)
{
    struct scsi_dev *d = disk_new();
    struct scsi_dev *d3 = scsi_dev_new(SCSI_DISK, &rd->bd, NULL);
    ASSERT_EQ(scsi_bus_attach(&bus, 0, 3, d3, NULL), 0);
    struct error err;
    ASSERT_EQ(scsi_bus_attach(&bus, 0, 3, d3, &err), -1);
    ASSERT_EQ(scsi_bus_attach(&bus, 16, 0, d3, &err), -1);
    ASSERT(scsi_bus_find(&bus, 0, 3) == d3);
    ASSERT(scsi_bus_find(&bus, 0, 2) == NULL);
    ASSERT(scsi_bus_find(&bus, 99, 0) == NULL);
    ASSERT(scsi_bus_target_present(&bus, 0));
    ASSERT(!scsi_bus_target_present(&bus, 1));
    struct scsi_req r = RUN_IN(d, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be32(ini.buf), 16); /* two LUNs */
    ASSERT_EQ(r.transferred, 24);
    ASSERT_EQ(be64(ini.buf + 8), 0);
    ASSERT_EQ(be64(ini.buf + 16), 0x0003000000000000ull);
    ASSERT_SENSE(RUN_IN(d, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    /* an absent LUN: INQUIRY says qualifier 3, REPORT LUNS lists the target's, others fail */
    struct scsi_req a = {.cdb = {0x12, 0, 0, 0, 36, 0}, .cdb_len = 6, .dir = SCSI_DIR_IN,
                         .xfer_len = 36, .xfer = ini_xfer, .opaque = &ini};
    scsi_execute_absent(&bus, 0, 1, &a);
    ASSERT_GOOD(a);
    ASSERT_EQ(a.transferred, 36);
    ASSERT_EQ(ini.buf[0], 0x7f);
    struct scsi_req l = {.cdb = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0}, .cdb_len = 12,
                         .dir = SCSI_DIR_IN, .xfer_len = 64, .xfer = ini_xfer, .opaque = &ini};
    scsi_execute_absent(&bus, 0, 1, &l);
    ASSERT_GOOD(l);
    ASSERT_EQ(be32(ini.buf), 16);
    struct scsi_req s = {.cdb = {0x03, 0, 0, 0, 18, 0}, .cdb_len = 6, .dir = SCSI_DIR_IN,
                         .xfer_len = 18, .xfer = ini_xfer, .opaque = &ini};
    scsi_execute_absent(&bus, 0, 1, &s);
    ASSERT_GOOD(s);
    ASSERT_EQ(ini.buf[2], SENSE_ILLEGAL_REQUEST);
    ASSERT_EQ(ini.buf[12], 0x25);
    struct scsi_req t = {.cdb = {0x00}, .cdb_len = 6, .xfer = ini_xfer, .opaque = &ini};
    scsi_execute_absent(&bus, 0, 1, &t);
    ASSERT_SENSE(t, SENSE_ILLEGAL_REQUEST, 0x25, 0);
    disk_free();
}

/* ---- CD-ROM ---- */

#define CD_SECTORS (4 * 1000) /* 1000 blocks of 2048 bytes */

static struct scsi_dev *cd_new(bool medium)
{
    memset(&bus, 0, sizeof(bus));
    rd = ramdisk_filled(CD_SECTORS);
    rd->bd.read_only = true;
    struct scsi_dev *d = scsi_dev_new(SCSI_CDROM, medium ? &rd->bd : NULL, NULL);
    ASSERT_EQ(scsi_bus_attach(&bus, 1, 0, d, NULL), 0);
    memset(ini.buf, 0xee, sizeof(ini.buf));
    return d;
}

TEST(cdrom_basics)
{
    struct scsi_dev *d = cd_new(true);
    struct scsi_req r = RUN_IN(d, 36, 0x12, 0, 0, 0, 36, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[0], 0x05);
    ASSERT_EQ(ini.buf[1], 0x80);
    /* a medium there at power-on is ready at once */
    ASSERT_GOOD(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0));
    r = RUN_IN(d, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be32(ini.buf), 999);
    ASSERT_EQ(be32(ini.buf + 4), 2048);
    /* READ(10) and READ(12) in 2048-byte blocks */
    r = RUN_IN(d, 2 * 2048, 0x28, 0, 0, 0, 0, 16, 0, 0, 2, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 4096);
    ASSERT_MEM_EQ(ini.buf, rd->data + 16 * 2048, 4096);
    r = RUN_IN(d, 2048, 0xa8, 0, 0, 0, 0x03, 0xe7, 0, 0, 0, 1, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_MEM_EQ(ini.buf, rd->data + 999 * 2048, 2048);
    ASSERT_SENSE(RUN_IN(d, 2048, 0x28, 0, 0, 0, 0x03, 0xe8, 0, 0, 1, 0), SENSE_ILLEGAL_REQUEST, 0x21, 0);
    /* writes and disk-only commands are not CD commands */
    ASSERT_SENSE(RUN_OUT(d, 2048, 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_ILLEGAL_REQUEST, 0x20, 0);
    ASSERT_EQ(rd->writes, 0);
    /* MODE SENSE(10) capabilities page 2Ah */
    r = RUN_IN(d, 255, 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[8], 0x2a);
    ASSERT_EQ(ini.buf[9], 18);
    /* PREVENT then eject: removal prevented */
    ASSERT_GOOD(RUN_NONE(d, 0x1e, 0, 0, 0, 1, 0));
    ASSERT_SENSE(RUN_NONE(d, 0x1b, 0, 0, 0, 0x02, 0), SENSE_ILLEGAL_REQUEST, 0x53, 0x02);
    ASSERT_GOOD(RUN_NONE(d, 0x1e, 0, 0, 0, 0, 0));
    ASSERT_GOOD(RUN_NONE(d, 0x1b, 0, 0, 0, 0x02, 0));
    /* VPD 00h of a CD lists no block-device pages */
    r = RUN_IN(d, 255, 0x12, 1, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(ini.buf + 2), 3);
    ASSERT_SENSE(RUN_IN(d, 255, 0x12, 1, 0xb0, 0, 255, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(cdrom_toc)
{
    struct scsi_dev *d = cd_new(true);
    /* format 0, LBA */
    struct scsi_req r = RUN_IN(d, 100, 0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0);
    ASSERT_GOOD(r);
    const uint8_t *b = ini.buf;
    ASSERT_EQ(be16(b), 18);
    ASSERT_EQ(r.transferred, 20);
    ASSERT_EQ(b[2], 1);
    ASSERT_EQ(b[3], 1);
    ASSERT_EQ(b[5], 0x14); /* ADR 1, data track */
    ASSERT_EQ(b[6], 1);
    ASSERT_EQ(be32(b + 8), 0);
    ASSERT_EQ(b[14], 0xaa);
    ASSERT_EQ(be32(b + 16), 1000);
    /* format 0, MSF: lead-out at 1000 + 150 frames = 00:15:25 */
    r = RUN_IN(d, 100, 0x43, 0x02, 0, 0, 0, 0, 0, 0, 100, 0);
    ASSERT_GOOD(r);
    ASSERT_MEM_EQ(b + 8, ((uint8_t[]){0, 0, 2, 0}), 4);
    ASSERT_MEM_EQ(b + 16, ((uint8_t[]){0, 0, 15, 25}), 4);
    /* starting track AAh: the lead-out alone */
    r = RUN_IN(d, 100, 0x43, 0, 0, 0, 0, 0, 0xaa, 0, 100, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(b), 10);
    ASSERT_EQ(b[6], 0xaa);
    ASSERT_SENSE(RUN_IN(d, 100, 0x43, 0, 0, 0, 0, 0, 2, 0, 100, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    /* format 1: session info */
    r = RUN_IN(d, 100, 0x43, 0, 1, 0, 0, 0, 0, 0, 100, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(b), 10);
    ASSERT_EQ(b[2], 1);
    ASSERT_EQ(b[3], 1);
    ASSERT_EQ(b[6], 1);
    ASSERT_EQ(be32(b + 8), 0);
    /* format 2: full TOC, four 11-byte descriptors: A0, A1, A2, track 1 */
    r = RUN_IN(d, 100, 0x43, 0x02, 2, 0, 0, 0, 1, 0, 100, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be16(b), 2 + 4 * 11);
    ASSERT_EQ(b[2], 1);
    ASSERT_EQ(b[3], 1);
    const uint8_t *e = b + 4;
    ASSERT_EQ(e[0], 1);
    ASSERT_EQ(e[3], 0xa0);
    ASSERT_EQ(e[8], 1); /* first track */
    ASSERT_EQ(e[11 + 3], 0xa1);
    ASSERT_EQ(e[11 + 8], 1); /* last track */
    ASSERT_EQ(e[22 + 3], 0xa2);
    ASSERT_MEM_EQ(e + 22 + 8, ((uint8_t[]){0, 15, 25}), 3);
    ASSERT_EQ(e[33 + 3], 1);
    ASSERT_MEM_EQ(e + 33 + 8, ((uint8_t[]){0, 2, 0}), 3);
    ASSERT_SENSE(RUN_IN(d, 100, 0x43, 0, 5, 0, 0, 0, 0, 0, 100, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    disk_free();
}

TEST(cdrom_mmc_queries)
{
    struct scsi_dev *d = cd_new(true);
    /* GET EVENT STATUS NOTIFICATION is exempt from the attention and reports the new medium */
    struct scsi_req r = RUN_IN(d, 8, 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0);
    ASSERT_GOOD(r);
    const uint8_t *b = ini.buf;
    ASSERT_EQ(be16(b), 6);
    ASSERT_EQ(b[2], 0x04); /* media class */
    ASSERT_EQ(b[3], 0x10);
    ASSERT_EQ(b[4] & 0x0f, 0x02); /* new media */
    ASSERT_EQ(b[5], 0x02);        /* present */
    r = RUN_IN(d, 8, 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0);
    ASSERT_EQ(b[4] & 0x0f, 0); /* reported once */
    ASSERT_SENSE(RUN_IN(d, 8, 0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0), SENSE_ILLEGAL_REQUEST, 0x24, 0);
    /* GET CONFIGURATION: header, current profile CD-ROM, profile list, core */
    r = RUN_IN(d, 255, 0x46, 0, 0, 0, 0, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(be32(b) + 4, r.transferred);
    ASSERT_EQ(be16(b + 6), 0x0008);
    ASSERT_EQ(be16(b + 8), 0x0000);
    ASSERT_EQ(b[11], 4);
    ASSERT_EQ(be16(b + 12), 0x0008);
    ASSERT_EQ(b[14] & 1, 1);
    ASSERT_EQ(be16(b + 16), 0x0001);
    /* RT 2, feature 1 alone */
    r = RUN_IN(d, 255, 0x46, 2, 0, 1, 0, 0, 0, 0, 255, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 8 + 12);
    ASSERT_EQ(be16(b + 8), 0x0001);
    /* READ DISC INFORMATION */
    r = RUN_IN(d, 34, 0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 34);
    ASSERT_EQ(be16(b), 32);
    ASSERT_EQ(b[2] & 0x03, 2);        /* disc complete */
    ASSERT_EQ((b[2] >> 2) & 0x03, 3); /* last session complete */
    ASSERT_EQ(b[3], 1);
    ASSERT_EQ(b[4], 1);
    /* MECHANISM STATUS */
    r = RUN_IN(d, 8, 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(r.transferred, 8);
    disk_free();
}

TEST(cdrom_no_medium)
{
    struct scsi_dev *d = cd_new(false);
    ASSERT_SENSE(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0), SENSE_NOT_READY, 0x3a, 0);
    ASSERT_SENSE(RUN_IN(d, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), SENSE_NOT_READY, 0x3a, 0);
    ASSERT_SENSE(RUN_IN(d, 2048, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), SENSE_NOT_READY, 0x3a, 0);
    ASSERT_GOOD(RUN_IN(d, 36, 0x12, 0, 0, 0, 36, 0));
    struct scsi_req r = RUN_IN(d, 8, 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0);
    ASSERT_GOOD(r);
    ASSERT_EQ(ini.buf[5], 0); /* no medium */
    /* a medium arrives: UNIT ATTENTION 28h, then it reads */
    scsi_dev_change_medium(d, &rd->bd);
    ASSERT_SENSE(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0), SENSE_UNIT_ATTENTION, 0x28, 0);
    ASSERT_GOOD(RUN_NONE(d, 0x00, 0, 0, 0, 0, 0));
    ASSERT_GOOD(RUN_IN(d, 2048, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0));
    disk_free();
}
