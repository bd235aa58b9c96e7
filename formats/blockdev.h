/*
 * The block-device interface every disk image type implements (VMDK, raw,
 * ISO, floppy, the copy-on-write overlay). Devices (IDE, SCSI, ...) see only
 * this: 512-byte sectors, read/write/flush/close. Operations return 0 or a
 * negative errno; a failed write leaves the image as consistent as before it.
 *
 * Stable writes: a device whose write cache is off (ATA SET FEATURES 82h,
 * SCSI WCE 0, NVMe VWC off), or that gets a FUA write, completes a write only
 * when what a flush does for it has been done. Such devices call
 * blockdev_write_stable (or write, then blockdev_flush before completing); the
 * disk's own policy (.vmx writeThrough) makes every blockdev_write stable.
 * How deep a flush goes is the disk's sync setting: BLOCKDEV_SYNC_MEDIA
 * (data and the metadata that finds it in the file, then fdatasync: survives
 * a host crash) or BLOCKDEV_SYNC_FILE (in the file only: survives the
 * player's death, not the host's).
 */
#ifndef VMPLAY_BLOCKDEV_H
#define VMPLAY_BLOCKDEV_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/error.h"

#define BLOCKDEV_SECTOR 512

struct blockdev;

/* How deep blockdev_flush (and so a stable write) goes. */
enum blockdev_sync {
    BLOCKDEV_SYNC_MEDIA, /* into the file, then fdatasync: survives a host crash or power loss */
    BLOCKDEV_SYNC_FILE,  /* into the file (data and metadata), not synced: survives the player's death */
};

struct blockdev_ops {
    int (*read)(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf);
    int (*write)(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf);
    /* Every write so far in the file (with its metadata) and fdatasync'd. */
    int (*flush)(struct blockdev *bd);
    void (*close)(struct blockdev *bd); /* also frees bd */
    /* One line per layer for `vmplay --check` (format, chain, extents); may be NULL. */
    void (*describe)(struct blockdev *bd, char *buf, size_t len);
    /* Every write so far in the file with the metadata that finds it, not synced; NULL when a
     * write is all in the file once it returns (raw images, memory). */
    int (*commit)(struct blockdev *bd);
};

struct blockdev {
    const struct blockdev_ops *ops;
    uint64_t sectors;   /* capacity in 512-byte sectors */
    bool read_only;     /* writes fail with -EROFS */
    const char *format; /* "vmdk monolithicSparse", "raw", "iso", "floppy", "overlay" ... */
    const char *warning; /* one line for the player to print once (e.g. writes kept in memory), or NULL */
    /* The disk's write-cache policy (blockdev_open sets it from its options). */
    bool write_through;     /* every write is stable: blockdev_write flushes before it returns */
    enum blockdev_sync sync; /* how deep a flush goes */
    /* The errno of the first guest write or flush that failed (0: none; -EROFS on a read-only
     * disk is not counted): the guest saw an I/O error, and the player says so once and ends
     * with a failing status. */
    int write_errno;
};

static inline int blockdev_note_write(struct blockdev *bd, int r)
{
    if (r < 0 && r != -EROFS && !bd->write_errno)
        bd->write_errno = -r;
    return r;
}

enum blockdev_media { MEDIA_DISK, MEDIA_CDROM, MEDIA_FLOPPY };

struct blockdev_open_opts {
    enum blockdev_media media;
    bool read_only;   /* open read-only (CD-ROM images, RDONLY disks) */
    bool snapshot;    /* writes go to a copy-on-write overlay in memory, never the file */
    bool write_through; /* every write stable (.vmx writeThrough, --disk-sync=always) */
    enum blockdev_sync sync; /* depth of flushes and stable writes (default MEDIA) */
    /* A disk inside an OVF package (formats/ovf.h): its VMDK is bytes [window_off,
     * window_off + window_len) of path, never written; guest writes go to the copy-on-write
     * file overlay (or, with snapshot, to memory). window_len 0: not such a disk. */
    uint64_t window_off, window_len;
    const char *overlay;
};

/* Opens path through the probe chain (VMDK descriptor or sparse magic, else raw). */
int blockdev_open(const char *path, const struct blockdev_open_opts *opts,
                  struct blockdev **out, struct error *err);

static inline int blockdev_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    return bd->ops->read(bd, sector, count, buf);
}
/* Every write so far stable, as deep as bd->sync says. */
static inline int blockdev_flush(struct blockdev *bd)
{
    if (bd->sync == BLOCKDEV_SYNC_FILE)
        return blockdev_note_write(bd, bd->ops->commit ? bd->ops->commit(bd) : 0);
    return blockdev_note_write(bd, bd->ops->flush(bd));
}
/* A write that is stable when it returns: written, then flushed (to bd->sync). */
static inline int blockdev_write_stable(struct blockdev *bd, uint64_t sector, uint32_t count,
                                        const void *buf)
{
    int r = blockdev_note_write(bd, bd->ops->write(bd, sector, count, buf));
    return r ? r : blockdev_flush(bd);
}
/* A write a device's write cache may hold: stable only after a flush, unless the disk is
 * write-through. */
static inline int blockdev_write(struct blockdev *bd, uint64_t sector, uint32_t count,
                                 const void *buf)
{
    if (bd->write_through)
        return blockdev_write_stable(bd, sector, count, buf);
    return blockdev_note_write(bd, bd->ops->write(bd, sector, count, buf));
}
static inline void blockdev_close(struct blockdev *bd)
{
    if (bd)
        bd->ops->close(bd);
}

#endif
