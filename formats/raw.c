/*
 * Raw images: flat disk images (and flat VMDK extents opened directly), ISO
 * CD-ROM media (2048-byte blocks, read-only, size a multiple of 2048) and
 * floppy images recognised by their size (360K, 720K, 1.2M, 1.44M, 2.88M).
 * A disk image whose size is not a whole number of sectors reads its last
 * sector padded with zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/image.h"
#include "formats/lock.h"
#include "formats/vmdk.h"

#define ISO_BLOCK 2048

struct raw {
    struct blockdev bd;
    int fd;
    bool written;
    uint64_t bytes;
    char format[32];
    char *path;
};

static const struct {
    uint64_t bytes;
    const char *name;
} floppies[] = {
    {368640, "360K"}, {737280, "720K"}, {1228800, "1.2M"}, {1474560, "1.44M"}, {2949120, "2.88M"},
};

static int raw_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct raw *r = (struct raw *)bd;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    return vmdk_pread(r->fd, buf, (size_t)count * BLOCKDEV_SECTOR, sector * BLOCKDEV_SECTOR);
}

static int raw_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    struct raw *r = (struct raw *)bd;
    if (bd->read_only)
        return -EROFS;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    r->written = true;
    return vmdk_pwrite(r->fd, buf, (size_t)count * BLOCKDEV_SECTOR, sector * BLOCKDEV_SECTOR);
}

static int raw_flush(struct blockdev *bd)
{
    struct raw *r = (struct raw *)bd;
    if (!r->written)
        return 0;
    r->written = false;
    return fdatasync(r->fd) ? -errno : 0;
}

static void raw_close(struct blockdev *bd)
{
    struct raw *r = (struct raw *)bd;
    raw_flush(bd);
    close(r->fd);
    free(r->path);
    free(r);
}

static void raw_describe(struct blockdev *bd, char *buf, size_t len)
{
    struct raw *r = (struct raw *)bd;
    snprintf(buf, len, "%s, %llu KiB, %s, %s", r->format, (unsigned long long)(r->bytes >> 10),
             bd->read_only ? "read-only" : "read-write", r->path);
}

static const struct blockdev_ops raw_ops = {
    .read = raw_read,
    .write = raw_write,
    .flush = raw_flush,
    .close = raw_close,
    .describe = raw_describe,
};

static int media_format(struct raw *r, enum blockdev_media media, const char *path,
                        struct error *err)
{
    if (media == MEDIA_CDROM) {
        if (r->bytes == 0 || r->bytes % ISO_BLOCK)
            return error_set(err, EX_DATAERR,
                             "%s: not a CD-ROM image: %llu bytes is not a multiple of %d", path,
                             (unsigned long long)r->bytes, ISO_BLOCK);
        snprintf(r->format, sizeof r->format, "iso");
        return 0;
    }
    if (media == MEDIA_FLOPPY) {
        for (size_t i = 0; i < sizeof floppies / sizeof floppies[0]; i++)
            if (floppies[i].bytes == r->bytes) {
                snprintf(r->format, sizeof r->format, "floppy %s", floppies[i].name);
                return 0;
            }
        return error_set(err, EX_DATAERR,
                         "%s: not a floppy image: %llu bytes (expected 360K, 720K, 1.2M, "
                         "1.44M or 2.88M)", path, (unsigned long long)r->bytes);
    }
    if (r->bytes == 0)
        return error_set(err, EX_DATAERR, "%s: empty disk image", path);
    snprintf(r->format, sizeof r->format, "raw");
    return 0;
}

int raw_open(const char *path, const struct blockdev_open_opts *opts, struct blockdev **out,
             struct error *err)
{
    bool ro = opts->read_only || opts->snapshot || opts->media == MEDIA_CDROM;
    struct raw *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return error_set(err, EX_OSERR, "out of memory");
    }
    r->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st)) {
        int e = errno;
        if (!ro && (e == EACCES || e == EPERM || e == EROFS))
            error_set(err, EX_CANTCREAT, "%s: read-only (%s): use --snapshot, or mode = "
                      "independent-nonpersistent", path, strerror(e));
        else
            error_set(err, error_code_for_errno(e), "%s: %s", path, strerror(e));
    } else if (image_lock(r->fd, path, !ro, err) == 0) {
        off_t end = S_ISBLK(st.st_mode) ? lseek(r->fd, 0, SEEK_END) : st.st_size;
        r->bytes = end > 0 ? (uint64_t)end : 0;
        if (media_format(r, opts->media, path, err) == 0) {
            r->bd = (struct blockdev){.ops = &raw_ops,
                                      .sectors = (r->bytes + BLOCKDEV_SECTOR - 1) / BLOCKDEV_SECTOR,
                                      .read_only = ro, .format = r->format};
            *out = &r->bd;
            return 0;
        }
    }
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
    return -1;
}
