/*
 * The SCSI target layer (see devices/scsi.h): one command set for disks
 * (SPC-4 / SBC-3) and CD-ROM drives (MMC-6), used by every SCSI controller.
 * Disks: TEST UNIT READY, INQUIRY (standard data; VPD pages 00h, 80h, 83h,
 * B0h, B1h, B2h), READ CAPACITY(10/16), READ/WRITE(6/10/12/16) with FUA,
 * VERIFY(10/16), SYNCHRONIZE CACHE(10/16), MODE SENSE/SELECT(6/10) (pages
 * 01h, 04h, 08h with WCE, 0Ah, 3Fh), REQUEST SENSE, REPORT LUNS, START STOP
 * UNIT, PREVENT ALLOW MEDIUM REMOVAL. CD-ROMs add READ TOC/PMA/ATIP (formats
 * 0, 1, 2; LBA or MSF), GET CONFIGURATION, GET EVENT STATUS NOTIFICATION,
 * READ DISC INFORMATION, MECHANISM STATUS, SET CD SPEED, SEEK, and read in
 * 2048-byte blocks. Everything else is ILLEGAL REQUEST. Sense data is fixed
 * format; the last sense is also kept for a later REQUEST SENSE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/scsi.h"

#define ASC_NONE 0x00
#define ASC_WRITE_ERROR 0x0c
#define ASC_READ_ERROR 0x11
#define ASC_MISCOMPARE 0x1d
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_LUN_NOT_SUPPORTED 0x25
#define ASC_INVALID_PARAM 0x26
#define ASC_WRITE_PROTECTED 0x27
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_RESET_OCCURRED 0x29
#define ASC_SAVING_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a
#define ASC_DATA_PHASE_ERROR 0x4b
#define ASC_REMOVAL_PREVENTED 0x53
#define SENSE_MISCOMPARE 0xe

#define CD_BLOCK 2048
#define DATA_BUF (64 * 1024) /* one chunk of a READ or WRITE */
#define REPLY_BUF 1024       /* the longest reply that is not block data */

struct scsi_dev {
    enum scsi_kind kind;
    struct blockdev *bd;
    char vendor[9], product[17], revision[5], serial[21];
    bool serial_given;
    bool atapi;
    uint32_t block;      /* logical block size */
    bool wce;            /* the write cache (caching mode page) */
    bool ua_reset, ua_medium, media_event;
    bool locked;
    uint8_t sense[SCSI_SENSE_LEN]; /* the last CHECK CONDITION, for REQUEST SENSE */
    struct scsi_bus *bus;          /* set by scsi_bus_attach, for REPORT LUNS */
    unsigned target, lun;
    uint8_t reply[REPLY_BUF];
    uint8_t *data;
};

/* ---- byte order ---- */

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)be16(p) << 16 | be16(p + 2);
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static void pad(uint8_t *p, const char *s, size_t n)
{
    size_t l = strlen(s);
    memset(p, ' ', n);
    memcpy(p, s, l < n ? l : n);
}

static void copy_field(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* ---- completion ---- */

void scsi_req_sense(struct scsi_req *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
    memset(r->sense, 0, sizeof(r->sense));
    r->sense[0] = 0x70; /* current error, fixed format */
    r->sense[2] = key;
    r->sense[7] = SCSI_SENSE_LEN - 8;
    r->sense[12] = asc;
    r->sense[13] = ascq;
    r->sense_len = SCSI_SENSE_LEN;
    r->status = SCSI_CHECK_CONDITION;
}

static void check(struct scsi_dev *d, struct scsi_req *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
    scsi_req_sense(r, key, asc, ascq);
    if (d)
        memcpy(d->sense, r->sense, SCSI_SENSE_LEN);
}

static void good(struct scsi_req *r)
{
    r->status = SCSI_GOOD;
    r->sense_len = 0;
}

static void invalid_field(struct scsi_dev *d, struct scsi_req *r)
{
    check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
}

/* Bytes the initiator offers for data in (device -> guest). */
static uint64_t in_room(const struct scsi_req *r)
{
    return r->dir == SCSI_DIR_IN ? r->xfer_len : 0;
}

static uint64_t out_room(const struct scsi_req *r)
{
    return r->dir == SCSI_DIR_OUT ? r->xfer_len : 0;
}

static bool move(struct scsi_dev *d, struct scsi_req *r, void *buf, size_t len, bool to_guest)
{
    if (!len)
        return true;
    if (r->xfer(r->opaque, r->transferred, buf, len, to_guest) < 0) {
        check(d, r, SENSE_HARDWARE_ERROR, ASC_DATA_PHASE_ERROR, 0);
        return false;
    }
    r->transferred += len;
    return true;
}

/* A reply of len bytes in buf, cut to the allocation length and the initiator's buffer. */
static void reply(struct scsi_dev *d, struct scsi_req *r, const void *buf, size_t len, uint64_t alloc)
{
    if (r->dir == SCSI_DIR_OUT && r->xfer_len) {
        invalid_field(d, r);
        return;
    }
    uint64_t n = len;
    if (n > alloc)
        n = alloc;
    if (n > in_room(r))
        n = in_room(r);
    if (move(d, r, (void *)buf, (size_t)n, true))
        good(r);
}

/* ---- the device ---- */

struct scsi_dev *scsi_dev_new(enum scsi_kind kind, struct blockdev *bd, const struct scsi_ident *id)
{
    struct scsi_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->data = malloc(DATA_BUF);
    if (!d->data) {
        free(d);
        return NULL;
    }
    d->kind = kind;
    d->bd = bd;
    d->block = kind == SCSI_CDROM ? CD_BLOCK : BLOCKDEV_SECTOR;
    bool cd = kind == SCSI_CDROM;
    copy_field(d->vendor, sizeof(d->vendor), id && id->vendor ? id->vendor : cd ? "NECVMWar" : "VMware");
    copy_field(d->product, sizeof(d->product),
               id && id->product ? id->product : cd ? "VMware IDE CDR10" : "Virtual disk");
    copy_field(d->revision, sizeof(d->revision), id && id->revision ? id->revision : cd ? "1.00" : "2.0");
    d->serial_given = id && id->serial;
    d->atapi = id && id->atapi;
    copy_field(d->serial, sizeof(d->serial), d->serial_given ? id->serial : "");
    d->wce = !(bd && bd->write_through);
    /* A medium in the drive at power-on is no change: no UNIT ATTENTION (SeaBIOS's PVSCSI and
     * MPT drivers look at the host status alone and would take its sense for data). */
    d->media_event = cd && bd;
    return d;
}

void scsi_dev_free(struct scsi_dev *d)
{
    if (!d)
        return;
    free(d->data);
    free(d);
}

void scsi_dev_reset(struct scsi_dev *d)
{
    d->ua_reset = true;
    d->locked = false;
    memset(d->sense, 0, sizeof(d->sense));
}

void scsi_dev_change_medium(struct scsi_dev *d, struct blockdev *bd)
{
    d->bd = bd;
    d->ua_medium = d->media_event = true;
    d->locked = false;
}

enum scsi_kind scsi_dev_kind(const struct scsi_dev *d)
{
    return d->kind;
}

void scsi_dev_power_on(struct scsi_dev *d, bool medium_ua)
{
    d->ua_reset = false;
    d->ua_medium = d->media_event = medium_ua && d->bd;
    d->locked = false;
    memset(d->sense, 0, sizeof(d->sense));
}

void scsi_dev_set_sense(struct scsi_dev *d, uint8_t key, uint8_t asc, uint8_t ascq)
{
    memset(d->sense, 0, sizeof(d->sense));
    if (key || asc || ascq) {
        struct scsi_req t = {0};
        scsi_req_sense(&t, key, asc, ascq);
        memcpy(d->sense, t.sense, SCSI_SENSE_LEN);
    }
}

static uint64_t blocks(const struct scsi_dev *d)
{
    return d->bd ? d->bd->sectors / (d->block / BLOCKDEV_SECTOR) : 0;
}

/* ---- INQUIRY ---- */

static const char *serial(struct scsi_dev *d)
{
    if (!d->serial_given)
        snprintf(d->serial, sizeof(d->serial), "VMPLAY%02u%02u", d->target, d->lun);
    return d->serial;
}

static unsigned inquiry_std(struct scsi_dev *d, uint8_t *b)
{
    memset(b, 0, 36);
    b[0] = d->kind == SCSI_CDROM ? 0x05 : 0x00;
    b[1] = d->kind == SCSI_CDROM ? 0x80 : 0x00; /* RMB */
    b[2] = d->atapi ? 0x00 : 0x05;               /* ATAPI: no ANSI version; SPC-3 */
    b[3] = d->atapi ? 0x21 : 0x12;               /* ATAPI 2, format 1; HISUP, format 2 */
    b[4] = 36 - 5;
    b[7] = d->atapi ? 0x00 : 0x02;               /* CMDQUE: none over ATAPI */
    pad(b + 8, d->vendor, 8);
    pad(b + 16, d->product, 16);
    pad(b + 32, d->revision, 4);
    return 36;
}

/* A VPD page; 0 when there is no such page. */
static unsigned inquiry_vpd(struct scsi_dev *d, uint8_t page, uint8_t *b)
{
    static const uint8_t disk_pages[] = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};
    bool disk = d->kind == SCSI_DISK;
    unsigned n = disk ? sizeof(disk_pages) : 3, len;
    memset(b, 0, 68);
    b[0] = disk ? 0x00 : 0x05;
    b[1] = page;
    switch (page) {
    case 0x00:
        memcpy(b + 4, disk_pages, n);
        len = n;
        break;
    case 0x80: {
        const char *s = serial(d);
        len = (unsigned)strlen(s);
        memcpy(b + 4, s, len);
        break;
    }
    case 0x83: {
        const char *s = serial(d);
        unsigned sl = (unsigned)strlen(s);
        uint8_t *p = b + 4;
        /* NAA IEEE registered (5h), OUI 00-50-56, vendor part from the serial */
        uint64_t h = 1469598103934665603ull;
        for (unsigned i = 0; i < sl; i++)
            h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
        p[0] = 0x01; /* binary */
        p[1] = 0x03; /* LU association, NAA */
        p[3] = 8;
        put_be64(p + 4, 0x5005056000000000ull | (h & 0xfffffffffull));
        p += 12;
        /* T10 vendor identification: vendor, then the serial */
        p[0] = 0x02; /* ASCII */
        p[1] = 0x01;
        p[3] = (uint8_t)(8 + sl);
        pad(p + 4, d->vendor, 8);
        memcpy(p + 12, s, sl);
        p += 12 + sl;
        len = (unsigned)(p - (b + 4));
        break;
    }
    case 0xb0: /* block limits */
        if (!disk)
            return 0;
        len = 0x3c;
        put_be16(b + 6, 1);                     /* optimal transfer length granularity */
        put_be32(b + 8, 0xffff);                /* maximum transfer length */
        put_be32(b + 12, 128);                  /* optimal transfer length */
        break;
    case 0xb1: /* block device characteristics */
        if (!disk)
            return 0;
        len = 0x3c;
        put_be16(b + 4, 1); /* medium rotation rate: non-rotating */
        break;
    case 0xb2: /* logical block provisioning: no UNMAP, no WRITE SAME unmapping */
        if (!disk)
            return 0;
        len = 4;
        break;
    default:
        return 0;
    }
    put_be16(b + 2, len);
    return len + 4;
}

static void cmd_inquiry(struct scsi_dev *d, struct scsi_req *r)
{
    const uint8_t *c = r->cdb;
    unsigned len;
    if (c[1] & 0x01) {
        len = inquiry_vpd(d, c[2], d->reply);
        if (!len) {
            invalid_field(d, r);
            return;
        }
    } else {
        if (c[2]) {
            invalid_field(d, r);
            return;
        }
        len = inquiry_std(d, d->reply);
    }
    reply(d, r, d->reply, len, be16(c + 3));
}

/* ---- REPORT LUNS, REQUEST SENSE ---- */

static void report_luns(struct scsi_dev *d, struct scsi_bus *b, unsigned target, struct scsi_req *r)
{
    uint8_t p[8 + 8 * SCSI_MAX_LUNS];
    const uint8_t *c = r->cdb;
    unsigned n = 0;
    uint32_t alloc = be32(c + 6);
    if (c[2] > 2 || alloc < 16) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    memset(p, 0, 8 + 8 * SCSI_MAX_LUNS);
    for (unsigned l = 0; l < SCSI_MAX_LUNS; l++) {
        if (b && target < SCSI_MAX_TARGETS && b->lun[target][l]) {
            p[8 + 8 * n + 1] = (uint8_t)l;
            n++;
        } else if (!b && l == 0 && d) {
            n++; /* a device on no bus: LUN 0 alone */
        }
    }
    put_be32(p, 8 * n);
    reply(d, r, p, 8 + 8 * n, alloc);
}

static void cmd_request_sense(struct scsi_dev *d, struct scsi_req *r)
{
    uint8_t *b = d->reply;
    if (r->cdb[1] & 0x01) { /* descriptor format: not supported */
        invalid_field(d, r);
        return;
    }
    memcpy(b, d->sense, SCSI_SENSE_LEN);
    if (d->ua_reset || d->ua_medium) {
        struct scsi_req t = {0};
        scsi_req_sense(&t, SENSE_UNIT_ATTENTION, d->ua_reset ? ASC_RESET_OCCURRED : ASC_MEDIUM_CHANGED, 0);
        memcpy(b, t.sense, SCSI_SENSE_LEN);
        if (d->ua_reset)
            d->ua_reset = false;
        else
            d->ua_medium = false;
    } else if (!b[0]) {
        struct scsi_req t = {0};
        scsi_req_sense(&t, SENSE_NO_SENSE, 0, 0);
        memcpy(b, t.sense, SCSI_SENSE_LEN);
    }
    memset(d->sense, 0, sizeof(d->sense));
    reply(d, r, b, SCSI_SENSE_LEN, r->cdb[4]);
}

/* ---- READ CAPACITY ---- */

static void cmd_read_capacity10(struct scsi_dev *d, struct scsi_req *r)
{
    uint64_t last = blocks(d) ? blocks(d) - 1 : 0;
    put_be32(d->reply, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
    put_be32(d->reply + 4, d->block);
    reply(d, r, d->reply, 8, 8);
}

static void cmd_read_capacity16(struct scsi_dev *d, struct scsi_req *r)
{
    memset(d->reply, 0, 32);
    put_be64(d->reply, blocks(d) ? blocks(d) - 1 : 0);
    put_be32(d->reply + 8, d->block);
    reply(d, r, d->reply, 32, be32(r->cdb + 10));
}

/* ---- READ, WRITE, VERIFY, SYNCHRONIZE CACHE ---- */

static bool range_ok(struct scsi_dev *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
    if (lba > blocks(d) || count > blocks(d) - lba) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return false;
    }
    return true;
}

static void do_read(struct scsi_dev *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
    if (!range_ok(d, r, lba, count))
        return;
    if (r->dir == SCSI_DIR_OUT && r->xfer_len) {
        invalid_field(d, r);
        return;
    }
    uint64_t bytes = count * d->block, room = in_room(r), per = d->block / BLOCKDEV_SECTOR;
    if (bytes > room)
        bytes = room;
    while (bytes) {
        uint64_t n = bytes < DATA_BUF ? bytes : DATA_BUF;
        uint64_t nb = (n + d->block - 1) / d->block;
        if (blockdev_read(d->bd, lba * per, (uint32_t)(nb * per), d->data) < 0) {
            check(d, r, SENSE_MEDIUM_ERROR, ASC_READ_ERROR, 0);
            return;
        }
        if (!move(d, r, d->data, (size_t)n, true))
            return;
        lba += nb;
        bytes -= n;
    }
    good(r);
}

static void do_write(struct scsi_dev *d, struct scsi_req *r, uint64_t lba, uint64_t count, bool fua)
{
    if (d->kind == SCSI_CDROM) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return;
    }
    if (!range_ok(d, r, lba, count))
        return;
    if (d->bd->read_only) {
        check(d, r, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
        return;
    }
    if (r->dir == SCSI_DIR_IN && r->xfer_len) {
        invalid_field(d, r);
        return;
    }
    uint64_t nblk = count, per = d->block / BLOCKDEV_SECTOR;
    if (nblk > out_room(r) / d->block)
        nblk = out_room(r) / d->block;
    bool stable = fua || !d->wce;
    while (nblk) {
        uint64_t nb = nblk < DATA_BUF / d->block ? nblk : DATA_BUF / d->block;
        if (!move(d, r, d->data, (size_t)(nb * d->block), false))
            return;
        int e = stable ? blockdev_write_stable(d->bd, lba * per, (uint32_t)(nb * per), d->data)
                       : blockdev_write(d->bd, lba * per, (uint32_t)(nb * per), d->data);
        if (e < 0) {
            if (e == -EROFS)
                check(d, r, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
            else
                check(d, r, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
            return;
        }
        lba += nb;
        nblk -= nb;
    }
    good(r);
}

/* VERIFY: BYTCHK 0 checks the medium can be read; 1 compares the data out with it. */
static void do_verify(struct scsi_dev *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
    uint8_t bytchk = (r->cdb[1] >> 1) & 3;
    if (bytchk > 1) {
        invalid_field(d, r);
        return;
    }
    if (!range_ok(d, r, lba, count))
        return;
    uint64_t per = d->block / BLOCKDEV_SECTOR, half = DATA_BUF / 2;
    uint8_t *cmp = d->data + half;
    if (bytchk && count > out_room(r) / d->block) {
        invalid_field(d, r);
        return;
    }
    while (count) {
        uint64_t nb = count < half / d->block ? count : half / d->block;
        if (blockdev_read(d->bd, lba * per, (uint32_t)(nb * per), d->data) < 0) {
            check(d, r, SENSE_MEDIUM_ERROR, ASC_READ_ERROR, 0);
            return;
        }
        if (bytchk) {
            if (!move(d, r, cmp, (size_t)(nb * d->block), false))
                return;
            if (memcmp(cmp, d->data, (size_t)(nb * d->block)) != 0) {
                check(d, r, SENSE_MISCOMPARE, ASC_MISCOMPARE, 0);
                return;
            }
        }
        lba += nb;
        count -= nb;
    }
    good(r);
}

static void do_sync(struct scsi_dev *d, struct scsi_req *r, uint64_t lba, uint64_t count)
{
    if (!range_ok(d, r, lba, count))
        return;
    if (blockdev_flush(d->bd) < 0) {
        check(d, r, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
        return;
    }
    good(r);
}

/* ---- MODE SENSE / MODE SELECT ---- */

enum { MP_CURRENT, MP_CHANGEABLE, MP_DEFAULT, MP_SAVED };

/* Page `page` for page control pc into p; 0 when the device has no such page. */
static unsigned mode_page(struct scsi_dev *d, uint8_t page, int pc, uint8_t *p)
{
    bool cd = d->kind == SCSI_CDROM, ch = pc == MP_CHANGEABLE;
    switch (page) {
    case 0x01: /* read-write error recovery */
        memset(p, 0, 12);
        p[0] = 0x01;
        p[1] = 10;
        if (!ch)
            p[3] = 5; /* read retry count */
        return 12;
    case 0x04: { /* rigid disk geometry */
        if (cd)
            return 0;
        memset(p, 0, 24);
        p[0] = 0x04;
        p[1] = 0x16;
        if (ch)
            return 24;
        uint64_t cyl = blocks(d) / (255 * 63);
        if (cyl > 0xffffff)
            cyl = 0xffffff;
        p[2] = (uint8_t)(cyl >> 16);
        p[3] = (uint8_t)(cyl >> 8);
        p[4] = (uint8_t)cyl;
        p[5] = 255; /* heads */
        put_be16(p + 20, 7200); /* medium rotation rate */
        return 24;
    }
    case 0x08: /* caching */
        if (cd)
            return 0;
        memset(p, 0, 20);
        p[0] = 0x08;
        p[1] = 0x12;
        if (ch)
            p[2] = 0x04; /* WCE changeable */
        else if (pc == MP_DEFAULT ? !(d->bd && d->bd->write_through) : d->wce)
            p[2] = 0x04;
        return 20;
    case 0x0a: /* control */
        memset(p, 0, 12);
        p[0] = 0x0a;
        p[1] = 10;
        if (!ch) {
            p[3] = 0x10; /* queue algorithm modifier 1: unrestricted reordering */
            put_be16(p + 8, 0xffff); /* busy timeout period: unlimited */
        }
        return 12;
    case 0x2a: /* CD/DVD capabilities and mechanical status */
        if (!cd)
            return 0;
        memset(p, 0, 20);
        p[0] = 0x2a;
        p[1] = 18;
        if (ch)
            return 20;
        p[2] = 0x03; /* reads CD-R, CD-RW */
        p[4] = 0x71; /* audio play, composite, digital ports, multisession */
        p[5] = 0x60;
        p[6] = 0x29 | (d->locked ? 0x02 : 0); /* lock, eject, tray; lock state */
        put_be16(p + 8, 706);
        put_be16(p + 10, 2);
        put_be16(p + 12, 512);
        put_be16(p + 14, 706);
        return 20;
    default:
        return 0;
    }
}

static void cmd_mode_sense(struct scsi_dev *d, struct scsi_req *r, bool ten)
{
    const uint8_t *c = r->cdb;
    bool dbd = c[1] & 0x08, llba = ten && (c[1] & 0x10);
    int pc = c[2] >> 6;
    uint8_t page = c[2] & 0x3f, sub = c[3];
    uint8_t *b = d->reply;
    unsigned hdr = ten ? 8 : 4, len = hdr;
    if (pc == MP_SAVED) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED, 0);
        return;
    }
    if (sub && !(page == 0x3f && sub == 0xff)) {
        invalid_field(d, r);
        return;
    }
    memset(b, 0, hdr);
    if (!dbd && d->kind == SCSI_DISK) { /* one block descriptor */
        uint64_t nb = blocks(d);
        uint8_t *p = b + hdr;
        if (llba) {
            memset(p, 0, 16);
            put_be64(p, nb);
            put_be32(p + 12, d->block);
            len += 16;
            b[4] = 0x01;
        } else {
            memset(p, 0, 8);
            uint32_t n24 = nb > 0xffffff ? 0xffffff : (uint32_t)nb;
            if (ten)
                put_be32(p, nb > 0xffffffffu ? 0xffffffffu : (uint32_t)nb);
            else
                p[1] = (uint8_t)(n24 >> 16), p[2] = (uint8_t)(n24 >> 8), p[3] = (uint8_t)n24;
            put_be32(p + 4, d->block & 0xffffff);
            len += 8;
        }
    }
    unsigned bdl = len - hdr;
    if (page == 0x3f) {
        static const uint8_t all[] = {0x01, 0x04, 0x08, 0x0a, 0x2a};
        for (unsigned i = 0; i < sizeof(all); i++)
            len += mode_page(d, all[i], pc, b + len);
    } else {
        unsigned n = mode_page(d, page, pc, b + len);
        if (!n) {
            invalid_field(d, r);
            return;
        }
        len += n;
    }
    uint8_t dsp = 0;
    if (d->kind == SCSI_DISK)
        dsp = (uint8_t)(0x10 | (d->bd->read_only ? 0x80 : 0)); /* DPOFUA, WP */
    if (ten) {
        put_be16(b, len - 2);
        b[3] = dsp;
        put_be16(b + 6, bdl);
    } else {
        b[0] = (uint8_t)(len - 1);
        b[2] = dsp;
        b[3] = (uint8_t)bdl;
    }
    if (d->kind == SCSI_CDROM)
        b[ten ? 2 : 1] = 0x70; /* medium type: door closed, no disc / any */
    reply(d, r, b, len, ten ? be16(c + 7) : c[4]);
}

static void param_error(struct scsi_dev *d, struct scsi_req *r)
{
    check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_PARAM, 0);
}

/* MODE SELECT: the caching page sets the write cache; other known pages are taken as they are. */
static void cmd_mode_select(struct scsi_dev *d, struct scsi_req *r, bool ten)
{
    const uint8_t *c = r->cdb;
    uint32_t plen = ten ? be16(c + 7) : c[4];
    unsigned hdr = ten ? 8 : 4;
    uint8_t *b = d->reply;
    if (c[1] & 0x01) { /* SP: saving pages */
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
        return;
    }
    if (!plen) {
        good(r);
        return;
    }
    if (plen > REPLY_BUF || plen < hdr || plen > out_room(r)) {
        plen < hdr && plen <= out_room(r) ? param_error(d, r) : invalid_field(d, r);
        return;
    }
    if (!move(d, r, b, plen, false))
        return;
    unsigned bdl = ten ? be16(b + 6) : b[3], off = hdr + bdl;
    if (off > plen || (bdl && bdl != (ten && (b[4] & 1) ? 16u : 8u))) {
        param_error(d, r);
        return;
    }
    if (bdl) { /* the block length must stay ours */
        uint32_t bl = bdl == 16 ? be32(b + hdr + 12) : be32(b + hdr + 4) & 0xffffff;
        if (bl && bl != d->block) {
            param_error(d, r);
            return;
        }
    }
    bool wce = d->wce;
    while (off < plen) {
        uint8_t *p = b + off;
        if (off + 2 > plen || (p[0] & 0x40)) { /* truncated, or a subpage */
            param_error(d, r);
            return;
        }
        uint8_t page = p[0] & 0x3f;
        unsigned n = (unsigned)p[1] + 2;
        uint8_t ref[24];
        unsigned want = mode_page(d, page, MP_CURRENT, ref);
        if (!want || n != want || off + n > plen) {
            param_error(d, r);
            return;
        }
        if (page == 0x08)
            wce = p[2] & 0x04;
        off += n;
    }
    if (d->wce && !wce && blockdev_flush(d->bd) < 0) {
        check(d, r, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
        return;
    }
    d->wce = wce;
    good(r);
}

/* ---- CD-ROM (MMC) ---- */

/* An address in a TOC descriptor: LBA, or MSF with the 2-second lead-in offset. */
static void toc_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (!msf) {
        put_be32(p, lba);
        return;
    }
    uint32_t f = lba + 150;
    p[0] = 0;
    p[1] = (uint8_t)(f / (75 * 60));
    p[2] = (uint8_t)(f / 75 % 60);
    p[3] = (uint8_t)(f % 75);
}

/* A full-TOC (format 2) descriptor: session 1, point, address as MSF. */
static unsigned raw_toc_entry(uint8_t *p, uint8_t adr_ctl, uint8_t point, uint8_t pm, uint8_t ps,
                              uint8_t pf)
{
    memset(p, 0, 11);
    p[0] = 1;
    p[1] = adr_ctl;
    p[3] = point;
    p[8] = pm;
    p[9] = ps;
    p[10] = pf;
    return 11;
}

static void cmd_read_toc(struct scsi_dev *d, struct scsi_req *r)
{
    const uint8_t *c = r->cdb;
    bool msf = c[1] & 0x02;
    uint8_t format = c[2] & 0x0f, track = c[6];
    uint8_t *b = d->reply;
    unsigned len = 4;
    uint32_t cap = (uint32_t)blocks(d);
    if (format == 0 && c[9] >> 6)
        format = c[9] >> 6; /* the older format field in the control byte */
    memset(b, 0, 64);
    if (format == 0) {
        if (track > 1 && track != 0xaa) {
            invalid_field(d, r);
            return;
        }
        if (track <= 1) {
            b[len + 1] = 0x14; /* ADR 1, data track */
            b[len + 2] = 1;
            toc_addr(b + len + 4, 0, msf);
            len += 8;
        }
        b[len + 1] = 0x16; /* lead-out */
        b[len + 2] = 0xaa;
        toc_addr(b + len + 4, cap, msf);
        len += 8;
        b[2] = 1;
        b[3] = 1;
    } else if (format == 1) { /* session information: one session, track 1 first */
        b[len + 1] = 0x14;
        b[len + 2] = 1;
        toc_addr(b + len + 4, 0, msf);
        len += 8;
        b[2] = 1;
        b[3] = 1;
    } else if (format == 2) { /* full TOC: A0, A1, A2, track 1 */
        uint8_t lo[4];
        toc_addr(lo, cap, true);
        len += raw_toc_entry(b + len, 0x14, 0xa0, 1, 0x00, 0);    /* first track 1, CD-ROM disc */
        len += raw_toc_entry(b + len, 0x14, 0xa1, 1, 0, 0);       /* last track 1 */
        len += raw_toc_entry(b + len, 0x14, 0xa2, lo[1], lo[2], lo[3]); /* lead-out */
        len += raw_toc_entry(b + len, 0x14, 0x01, 0, 2, 0);       /* track 1 at 00:02:00 */
        b[2] = 1;
        b[3] = 1;
    } else {
        invalid_field(d, r);
        return;
    }
    put_be16(b, len - 2);
    reply(d, r, b, len, be16(c + 7));
}

static void cmd_get_configuration(struct scsi_dev *d, struct scsi_req *r)
{
    const uint8_t *c = r->cdb;
    uint8_t rt = c[1] & 3, *b = d->reply;
    uint16_t start = (uint16_t)be16(c + 2);
    unsigned len = 8;
    if (rt == 3) {
        invalid_field(d, r);
        return;
    }
    memset(b, 0, 64);
    put_be16(b + 6, d->bd ? 0x0008 : 0); /* current profile: CD-ROM */
    if (start == 0) { /* profile list */
        put_be16(b + len, 0x0000);
        b[len + 2] = 0x03; /* persistent, current */
        b[len + 3] = 4;
        put_be16(b + len + 4, 0x0008);
        b[len + 6] = d->bd ? 1 : 0;
        len += 8;
    }
    if ((rt != 2 && start <= 1) || (rt == 2 && start == 1)) { /* core */
        put_be16(b + len, 0x0001);
        b[len + 2] = 0x0b;
        b[len + 3] = 8;
        put_be32(b + len + 4, d->atapi ? 2 : 1); /* physical interface: ATAPI, SCSI family */
        b[len + 8] = 1;           /* DBE */
        len += 12;
    }
    if ((rt != 2 && start <= 3) || (rt == 2 && start == 3)) { /* removable medium */
        put_be16(b + len, 0x0003);
        b[len + 2] = 0x03;
        b[len + 3] = 4;
        b[len + 4] = (uint8_t)(0x29 | (d->locked ? 0x01 : 0)); /* tray, eject, lock */
        len += 8;
    }
    put_be32(b, len - 4);
    reply(d, r, b, len, be16(c + 7));
}

static void cmd_get_event_status(struct scsi_dev *d, struct scsi_req *r)
{
    const uint8_t *c = r->cdb;
    uint8_t *b = d->reply;
    if (!(c[1] & 1)) { /* only polled operation */
        invalid_field(d, r);
        return;
    }
    memset(b, 0, 8);
    b[3] = 0x10; /* supported: media class */
    if (!(c[4] & 0x10)) {
        put_be16(b, 2);
        b[2] = 0x80; /* no event available */
        reply(d, r, b, 4, be16(c + 7));
        return;
    }
    put_be16(b, 6);
    b[2] = 0x04;
    b[4] = d->media_event ? (d->bd ? 0x02 : 0x03) : 0x00; /* new media, media removal */
    b[5] = d->bd ? 0x02 : 0x00;                          /* media present */
    d->media_event = false;
    reply(d, r, b, 8, be16(c + 7));
}

static void cmd_read_disc_info(struct scsi_dev *d, struct scsi_req *r)
{
    const uint8_t *c = r->cdb;
    uint8_t *b = d->reply;
    if (c[1] & 7) { /* only standard disc information */
        invalid_field(d, r);
        return;
    }
    memset(b, 0, 34);
    put_be16(b, 32);
    b[2] = 0x0e; /* last session complete, disc complete */
    b[3] = 1;    /* first track */
    b[4] = 1;    /* sessions */
    b[5] = 1;    /* first track in last session */
    b[6] = 1;    /* last track in last session */
    b[8] = 0x00; /* CD-DA or CD-ROM */
    put_be32(b + 16, 0xffffffffu);
    put_be32(b + 20, 0xffffffffu);
    reply(d, r, b, 34, be16(c + 7));
}

static void cmd_mechanism_status(struct scsi_dev *d, struct scsi_req *r)
{
    memset(d->reply, 0, 8);
    reply(d, r, d->reply, 8, be16(r->cdb + 8));
}

static void cmd_start_stop(struct scsi_dev *d, struct scsi_req *r)
{
    bool loej = r->cdb[4] & 0x02, start = r->cdb[4] & 0x01;
    if (d->kind == SCSI_CDROM && loej && !start && d->locked) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 0x02);
        return;
    }
    good(r); /* the image stays in: vmplay has no eject */
}

/* ---- dispatch ---- */

static bool needs_medium(uint8_t op)
{
    switch (op) {
    case 0x00: case 0x08: case 0x0a: case 0x25: case 0x28: case 0x2a: case 0x2b: case 0x2f:
    case 0x35: case 0x43: case 0x51: case 0x88: case 0x8a: case 0x8f: case 0x91: case 0x9e:
    case 0xa8: case 0xaa:
        return true;
    default:
        return false;
    }
}

/* Commands that report instead of consuming a pending UNIT ATTENTION. */
static bool ua_exempt(uint8_t op)
{
    return op == 0x12 || op == 0x03 || op == 0xa0 || op == 0x4a || op == 0x46;
}

static unsigned cdb_len(uint8_t op)
{
    switch (op >> 5) {
    case 0: return 6;
    case 1: case 2: return 10;
    case 4: return 16;
    case 5: return 12;
    default: return 0;
    }
}

static void dispatch_rw(struct scsi_dev *d, struct scsi_req *r)
{
    const uint8_t *c = r->cdb;
    bool fua = c[1] & 0x08;
    switch (c[0]) {
    case 0x08: do_read(d, r, (uint32_t)(c[1] & 0x1f) << 16 | be16(c + 2), c[4] ? c[4] : 256); break;
    case 0x0a: do_write(d, r, (uint32_t)(c[1] & 0x1f) << 16 | be16(c + 2), c[4] ? c[4] : 256, false); break;
    case 0x28: do_read(d, r, be32(c + 2), be16(c + 7)); break;
    case 0x2a: do_write(d, r, be32(c + 2), be16(c + 7), fua); break;
    case 0xa8: do_read(d, r, be32(c + 2), be32(c + 6)); break;
    case 0xaa: do_write(d, r, be32(c + 2), be32(c + 6), fua); break;
    case 0x88: do_read(d, r, be64(c + 2), be32(c + 10)); break;
    case 0x8a: do_write(d, r, be64(c + 2), be32(c + 10), fua); break;
    case 0x2f: do_verify(d, r, be32(c + 2), be16(c + 7)); break;
    case 0x8f: do_verify(d, r, be64(c + 2), be32(c + 10)); break;
    case 0x35: do_sync(d, r, be32(c + 2), be16(c + 7)); break;
    case 0x91: do_sync(d, r, be64(c + 2), be32(c + 10)); break;
    }
}

static bool is_rw(uint8_t op)
{
    switch (op) {
    case 0x08: case 0x0a: case 0x28: case 0x2a: case 0xa8: case 0xaa: case 0x88: case 0x8a:
    case 0x2f: case 0x8f: case 0x35: case 0x91:
        return true;
    default:
        return false;
    }
}

static bool disk_only(uint8_t op)
{
    return op == 0x2f || op == 0x8f || op == 0x88 || op == 0x8a || op == 0x08 || op == 0x0a ||
           op == 0x15 || op == 0x55 || op == 0x9e;
}

static bool cd_only(uint8_t op)
{
    return op == 0x43 || op == 0x46 || op == 0x4a || op == 0x51 || op == 0xbd || op == 0xbb;
}

void scsi_execute(struct scsi_dev *d, struct scsi_req *r)
{
    uint8_t op = r->cdb[0];
    r->status = SCSI_GOOD;
    r->sense_len = 0;
    r->transferred = 0;
    if (op != 0x03)
        memset(d->sense, 0, sizeof(d->sense));
    if (r->cdb_len < cdb_len(op) || !cdb_len(op)) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return;
    }
    if (!ua_exempt(op) && (d->ua_reset || d->ua_medium)) {
        bool reset = d->ua_reset;
        if (reset)
            d->ua_reset = false;
        else
            d->ua_medium = false;
        check(d, r, SENSE_UNIT_ATTENTION, reset ? ASC_RESET_OCCURRED : ASC_MEDIUM_CHANGED, 0);
        return;
    }
    if ((d->kind == SCSI_CDROM ? disk_only(op) : cd_only(op))) {
        check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return;
    }
    if (needs_medium(op) && !d->bd) {
        check(d, r, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
        return;
    }
    if (is_rw(op)) {
        dispatch_rw(d, r);
        return;
    }
    switch (op) {
    case 0x00: good(r); break; /* TEST UNIT READY */
    case 0x03: cmd_request_sense(d, r); break;
    case 0x12: cmd_inquiry(d, r); break;
    case 0x15: cmd_mode_select(d, r, false); break;
    case 0x55: cmd_mode_select(d, r, true); break;
    case 0x1a: cmd_mode_sense(d, r, false); break;
    case 0x5a: cmd_mode_sense(d, r, true); break;
    case 0x1b: cmd_start_stop(d, r); break;
    case 0x1e: d->locked = r->cdb[4] & 1; good(r); break; /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x25: cmd_read_capacity10(d, r); break;
    case 0x9e:
        if ((r->cdb[1] & 0x1f) == 0x10)
            cmd_read_capacity16(d, r);
        else
            invalid_field(d, r);
        break;
    case 0xa0: report_luns(d, d->bus, d->target, r); break;
    case 0x2b: good(r); break; /* SEEK(10) */
    case 0x43: cmd_read_toc(d, r); break;
    case 0x46: cmd_get_configuration(d, r); break;
    case 0x4a: cmd_get_event_status(d, r); break;
    case 0x51: cmd_read_disc_info(d, r); break;
    case 0xbb: good(r); break; /* SET CD SPEED */
    case 0xbd: cmd_mechanism_status(d, r); break;
    default: check(d, r, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0); break;
    }
}

/* ---- the bus ---- */

int scsi_bus_attach(struct scsi_bus *b, unsigned target, unsigned lun, struct scsi_dev *d,
                    struct error *err)
{
    if (target >= SCSI_MAX_TARGETS || lun >= SCSI_MAX_LUNS)
        return error_set(err, EX_DATAERR, "SCSI target %u LUN %u out of range (targets 0-%d, LUNs 0-%d)",
                         target, lun, SCSI_MAX_TARGETS - 1, SCSI_MAX_LUNS - 1);
    if (b->lun[target][lun])
        return error_set(err, EX_DATAERR, "SCSI target %u LUN %u is taken twice", target, lun);
    b->lun[target][lun] = d;
    d->bus = b;
    d->target = target;
    d->lun = lun;
    return 0;
}

struct scsi_dev *scsi_bus_find(struct scsi_bus *b, unsigned target, unsigned lun)
{
    if (target >= SCSI_MAX_TARGETS || lun >= SCSI_MAX_LUNS)
        return NULL;
    return b->lun[target][lun];
}

bool scsi_bus_target_present(struct scsi_bus *b, unsigned target)
{
    if (target >= SCSI_MAX_TARGETS)
        return false;
    for (unsigned l = 0; l < SCSI_MAX_LUNS; l++)
        if (b->lun[target][l])
            return true;
    return false;
}

void scsi_bus_reset(struct scsi_bus *b)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++)
        for (unsigned l = 0; l < SCSI_MAX_LUNS; l++)
            if (b->lun[t][l])
                scsi_dev_reset(b->lun[t][l]);
}

void scsi_bus_free(struct scsi_bus *b)
{
    for (unsigned t = 0; t < SCSI_MAX_TARGETS; t++)
        for (unsigned l = 0; l < SCSI_MAX_LUNS; l++) {
            scsi_dev_free(b->lun[t][l]);
            b->lun[t][l] = NULL;
        }
}

void scsi_execute_absent(struct scsi_bus *b, unsigned target, unsigned lun, struct scsi_req *r)
{
    uint8_t op = r->cdb[0];
    uint8_t buf[36];
    r->status = SCSI_GOOD;
    r->sense_len = 0;
    r->transferred = 0;
    if (op == 0x12 && !(r->cdb[1] & 1)) {
        memset(buf, 0, sizeof(buf));
        buf[0] = 0x7f; /* qualifier 3: no device here; type 1Fh */
        buf[2] = 0x05;
        buf[3] = 0x12;
        buf[4] = 36 - 5;
        reply(NULL, r, buf, 36, be16(r->cdb + 3));
    } else if (op == 0xa0) {
        report_luns(NULL, b, target, r);
    } else if (op == 0x03) {
        struct scsi_req t = {0};
        scsi_req_sense(&t, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
        reply(NULL, r, t.sense, SCSI_SENSE_LEN, r->cdb[4]);
    } else {
        check(NULL, r, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
    }
    (void)lun;
}
