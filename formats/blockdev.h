/*
 * The block-device interface every disk image type implements (VMDK, raw,
 * ISO, floppy, the copy-on-write overlay). Devices (IDE, SCSI, ...) see only
 * this: 512-byte sectors, read/write/flush/close. Operations return 0 or a
 * negative errno; a failed write leaves the image as consistent as before it.
 */
#ifndef VMPLAY_BLOCKDEV_H
#define VMPLAY_BLOCKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/error.h"

#define BLOCKDEV_SECTOR 512

struct blockdev;

struct blockdev_ops {
    int (*read)(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf);
    int (*write)(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf);
    int (*flush)(struct blockdev *bd);
    void (*close)(struct blockdev *bd); /* also frees bd */
    /* One line per layer for `vmplay --check` (format, chain, extents); may be NULL. */
    void (*describe)(struct blockdev *bd, char *buf, size_t len);
};

struct blockdev {
    const struct blockdev_ops *ops;
    uint64_t sectors;   /* capacity in 512-byte sectors */
    bool read_only;     /* writes fail with -EROFS */
    const char *format; /* "vmdk monolithicSparse", "raw", "iso", "floppy", "overlay" ... */
    const char *warning; /* one line for the player to print once (e.g. writes kept in memory), or NULL */
};

enum blockdev_media { MEDIA_DISK, MEDIA_CDROM, MEDIA_FLOPPY };

struct blockdev_open_opts {
    enum blockdev_media media;
    bool read_only;   /* open read-only (CD-ROM images, RDONLY disks) */
    bool snapshot;    /* writes go to a copy-on-write overlay in memory, never the file */
};

/* Opens path through the probe chain (VMDK descriptor or sparse magic, else raw). */
int blockdev_open(const char *path, const struct blockdev_open_opts *opts,
                  struct blockdev **out, struct error *err);

static inline int blockdev_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    return bd->ops->read(bd, sector, count, buf);
}
static inline int blockdev_write(struct blockdev *bd, uint64_t sector, uint32_t count,
                                 const void *buf)
{
    return bd->ops->write(bd, sector, count, buf);
}
static inline int blockdev_flush(struct blockdev *bd)
{
    return bd->ops->flush(bd);
}
static inline void blockdev_close(struct blockdev *bd)
{
    if (bd)
        bd->ops->close(bd);
}

#endif
