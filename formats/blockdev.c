/*
 * blockdev_open: the probe chain. VMDK (sparse header magic "KDMV"/"COWD" or
 * a text descriptor) for disks, else a raw image (disk, ISO or floppy by the
 * requested media); with opts->snapshot the result is wrapped in the
 * copy-on-write overlay so the file is never written. The disk that comes out
 * carries the write-cache policy of the options (formats/blockdev.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/blockdev.h"
#include "formats/image.h"
#include "formats/ovf.h"
#include "formats/vmdk.h"

#define PROBE_BYTES 4096
#define FLAT_MIN (1u << 20) /* a .vmdk this large with no VMDK magic is a flat extent */

static bool has_vmdk_suffix(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".vmdk") == 0;
}

int blockdev_open(const char *path, const struct blockdev_open_opts *opts,
                  struct blockdev **out, struct error *err)
{
    uint8_t buf[PROBE_BYTES];
    struct stat st;
    if (opts->window_len && opts->media == MEDIA_DISK) {
        if (ovf_disk_open(path, opts, out, err))
            return -1;
        (*out)->write_through = opts->write_through;
        (*out)->sync = opts->sync;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    ssize_t n = fstat(fd, &st) ? -1 : pread(fd, buf, sizeof buf, 0);
    int e = errno;
    close(fd);
    if (n < 0 && e == EISDIR)
        return error_set(err, EX_NOINPUT, "%s: a directory, not a disk image", path);
    if (n < 0)
        return error_set(err, EX_IOERR, "%s: %s", path, strerror(e));
    struct blockdev *bd;
    int rc;
    if (opts->media == MEDIA_DISK && vmdk_probe(buf, (size_t)n))
        rc = vmdk_open(path, opts, &bd, err);
    else if (opts->media == MEDIA_DISK && has_vmdk_suffix(path) && st.st_size < FLAT_MIN &&
             S_ISREG(st.st_mode))
        rc = error_set(err, EX_DATAERR, "%s: not a VMDK disk (no sparse header, no descriptor)",
                       path);
    else
        rc = raw_open(path, opts, &bd, err);
    if (rc)
        return -1;
    if (opts->snapshot && !opts->read_only && opts->media != MEDIA_CDROM &&
        overlay_new(bd, NULL, &bd, err))
        return -1;
    bd->write_through = opts->write_through;
    bd->sync = opts->sync;
    *out = bd;
    return 0;
}
