/*
 * A disk in memory for the controller tests (test_scsi, test_pvscsi, test_mpt,
 * test_ahci): 512-byte sectors, zeroed, out-of-range requests fail with -EIO;
 * it counts writes and flushes (and the writes a flush covered) so a test can
 * see that a stable write was flushed before it completed, and fail_read makes
 * every read fail. The caller fills data as its test needs.
 */
#ifndef VMPLAY_RAMDISK_H
#define VMPLAY_RAMDISK_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats/blockdev.h"

struct ramdisk {
    struct blockdev bd;
    uint8_t *data;
    int writes, flushes, writes_at_flush, fail_read;
};

static inline int ramdisk_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    if (r->fail_read || sector + count > bd->sectors)
        return -EIO;
    memcpy(buf, r->data + 512 * sector, 512 * (size_t)count);
    return 0;
}

static inline int ramdisk_write(struct blockdev *bd, uint64_t sector, uint32_t count,
                                const void *buf)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    if (sector + count > bd->sectors)
        return -EIO;
    memcpy(r->data + 512 * sector, buf, 512 * (size_t)count);
    r->writes++;
    return 0;
}

static inline int ramdisk_flush(struct blockdev *bd)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    r->flushes++;
    r->writes_at_flush = r->writes;
    return 0;
}

static inline void ramdisk_close(struct blockdev *bd)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    free(r->data);
    free(r);
}

static const struct blockdev_ops ramdisk_ops = {ramdisk_read, ramdisk_write, ramdisk_flush,
                                                ramdisk_close, NULL, NULL};

static inline struct ramdisk *ramdisk_new(uint64_t sectors)
{
    struct ramdisk *r = calloc(1, sizeof *r);
    r->bd.ops = &ramdisk_ops;
    r->bd.sectors = sectors;
    r->bd.format = "ram";
    r->data = calloc(sectors, 512);
    return r;
}

#endif
