/*
 * The disks of an OVF package: a VMDK extent read in place from a window of a
 * larger file (the .ova tar; for a plain .ovf the whole .vmdk beside it),
 * never written, under a persistent copy-on-write file that keeps the guest's
 * writes across runs (or, with --snapshot, the in-memory overlay).
 *
 * The copy-on-write file ("<disk>.cow" in the folder "<package>.overlay"):
 *   bytes 0..4095     header: "VMPLAY-COW-1\0\0\0\0", capacity (sectors, le64),
 *                     cluster size (bytes, le32), fingerprint of the base (32 bytes)
 *   bytes 4096..      one bit per 4 KiB cluster (set: the cluster is in this file)
 *   data_off..        cluster c at data_off + c * 4096 (a sparse host file)
 * A write puts whole clusters (the base's bytes merged in where the guest wrote
 * part of one) and then the bitmap bytes that name them, so a cluster is never
 * named before its data is there. The fingerprint (size and SHA-256 of the first
 * and last 64 KiB of the base extent) refuses a file written over another disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "formats/image.h"
#include "formats/ovf.h"
#include "formats/vmdk.h"

#define COW_MAGIC "VMPLAY-COW-1\0\0\0\0"
#define COW_HDR 4096u
#define CLUSTER 4096u
#define CLUSTER_SECTORS (CLUSTER / BLOCKDEV_SECTOR)
#define COW_MAX_SECTORS (1ull << 32) /* 2 TiB: a 64 MiB bitmap */
#define FP_BYTES 32
#define FP_SPAN (64u * 1024)

/* The base: a sparse extent inside the container, read only. */
struct ovf_base {
    struct blockdev bd;
    struct sparse *sp;
    char format[96];
};

static int base_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct ovf_base *b = (struct ovf_base *)bd;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    return sparse_read(b->sp, sector, count, buf, NULL, NULL);
}

static int base_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    return -EROFS;
}

static int base_flush(struct blockdev *bd)
{
    return 0;
}

static void base_close(struct blockdev *bd)
{
    struct ovf_base *b = (struct ovf_base *)bd;
    sparse_free(b->sp);
    free(b);
}

static const struct blockdev_ops base_ops = {
    .read = base_read, .write = base_write, .flush = base_flush, .close = base_close,
};

static int base_open(const char *path, uint64_t off, uint64_t len, struct blockdev **out,
                     struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    uint8_t magic[4] = {0};
    if (vmdk_pread(fd, magic, sizeof magic, off) || memcmp(magic, "KDMV", 4)) {
        close(fd);
        return error_set(err, EX_UNAVAILABLE,
                         "%s: the disk at byte %llu is not a sparse or streamOptimized VMDK "
                         "(the only disk format vmplay reads inside an OVF package)",
                         path, (unsigned long long)off);
    }
    struct ovf_base *b = calloc(1, sizeof *b);
    if (!b) {
        close(fd);
        return error_set(err, EX_OSERR, "out of memory");
    }
    if (sparse_open_window(fd, path, false, off, len, &b->sp, err)) {
        free(b);
        return -1;
    }
    const struct sparse_info *in = sparse_info(b->sp);
    snprintf(b->format, sizeof b->format, "vmdk %s (inside the package, read only)",
             in->stream ? "streamOptimized" : "monolithicSparse");
    b->bd = (struct blockdev){.ops = &base_ops, .sectors = in->capacity, .read_only = true,
                              .format = b->format};
    *out = &b->bd;
    return 0;
}

/* ---- the copy-on-write file ---- */

struct cow {
    struct blockdev bd;
    struct blockdev *base;
    int fd;
    uint64_t clusters, data_off;
    uint8_t *bitmap;
    size_t bitmap_bytes;
    uint8_t *tmp; /* one cluster */
    char *path;
    char format[160];
};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool has(const struct cow *c, uint64_t cl)
{
    return c->bitmap[cl / 8] >> (cl % 8) & 1;
}

/* Reads base clusters, sector-exact, for [sector, sector+count). */
static int read_base(struct cow *c, uint64_t sector, uint32_t count, uint8_t *buf)
{
    uint64_t end = sector + count;
    uint64_t lim = c->base->sectors;
    if (sector >= lim)
        return memset(buf, 0, (size_t)count * BLOCKDEV_SECTOR), 0;
    uint32_t n = end > lim ? (uint32_t)(lim - sector) : count;
    int r = blockdev_read(c->base, sector, n, buf);
    if (!r && n < count)
        memset(buf + (size_t)n * BLOCKDEV_SECTOR, 0, (size_t)(count - n) * BLOCKDEV_SECTOR);
    return r;
}

static int cow_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *vbuf)
{
    struct cow *c = (struct cow *)bd;
    uint8_t *buf = vbuf;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    while (count) {
        uint64_t cl = sector / CLUSTER_SECTORS;
        bool in = has(c, cl);
        /* a run of sectors from the same side */
        uint64_t run_end = (cl + 1) * CLUSTER_SECTORS;
        while (run_end < sector + count && has(c, run_end / CLUSTER_SECTORS) == in)
            run_end += CLUSTER_SECTORS;
        uint32_t n = (uint32_t)((run_end < sector + count ? run_end : sector + count) - sector);
        int r = in ? vmdk_pread(c->fd, buf, (size_t)n * BLOCKDEV_SECTOR,
                                c->data_off + sector * BLOCKDEV_SECTOR)
                   : read_base(c, sector, n, buf);
        if (r)
            return r;
        buf += (size_t)n * BLOCKDEV_SECTOR;
        sector += n;
        count -= n;
    }
    return 0;
}

static int write_bitmap(struct cow *c, uint64_t first_cl, uint64_t last_cl)
{
    size_t a = (size_t)(first_cl / 8), b = (size_t)(last_cl / 8);
    return vmdk_pwrite(c->fd, c->bitmap + a, b - a + 1, COW_HDR + a);
}

static int cow_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *vbuf)
{
    struct cow *c = (struct cow *)bd;
    const uint8_t *buf = vbuf;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    if (!count)
        return 0;
    uint64_t first = sector / CLUSTER_SECTORS, last = (sector + count - 1) / CLUSTER_SECTORS;
    while (count) {
        uint64_t cl = sector / CLUSTER_SECTORS;
        uint32_t in = (uint32_t)(sector % CLUSTER_SECTORS);
        uint32_t n = CLUSTER_SECTORS - in < count ? CLUSTER_SECTORS - in : count;
        uint64_t at = c->data_off + cl * CLUSTER;
        int r;
        if (has(c, cl) || n == CLUSTER_SECTORS) {
            r = vmdk_pwrite(c->fd, buf, (size_t)n * BLOCKDEV_SECTOR,
                            at + (uint64_t)in * BLOCKDEV_SECTOR);
        } else {
            r = read_base(c, cl * CLUSTER_SECTORS, CLUSTER_SECTORS, c->tmp);
            if (!r) {
                memcpy(c->tmp + (size_t)in * BLOCKDEV_SECTOR, buf, (size_t)n * BLOCKDEV_SECTOR);
                r = vmdk_pwrite(c->fd, c->tmp, CLUSTER, at);
            }
        }
        if (r)
            return r;
        c->bitmap[cl / 8] |= (uint8_t)(1u << (cl % 8));
        buf += (size_t)n * BLOCKDEV_SECTOR;
        sector += n;
        count -= n;
    }
    return write_bitmap(c, first, last);
}

static int cow_flush(struct blockdev *bd)
{
    struct cow *c = (struct cow *)bd;
    return fdatasync(c->fd) ? -errno : 0;
}

static void cow_close(struct blockdev *bd)
{
    struct cow *c = (struct cow *)bd;
    if (c->fd >= 0) {
        fdatasync(c->fd);
        close(c->fd);
    }
    blockdev_close(c->base);
    free(c->bitmap);
    free(c->tmp);
    free(c->path);
    free(c);
}

static void cow_describe(struct blockdev *bd, char *buf, size_t len)
{
    struct cow *c = (struct cow *)bd;
    uint64_t used = 0;
    for (uint64_t i = 0; i < c->clusters; i++)
        used += has(c, i);
    snprintf(buf, len, "%s, %llu MiB, guest writes in %s (%llu KiB written)", c->base->format,
             (unsigned long long)(bd->sectors >> 11), c->path,
             (unsigned long long)(used * CLUSTER / 1024));
}

static const struct blockdev_ops cow_ops = {
    .read = cow_read, .write = cow_write, .flush = cow_flush, .close = cow_close,
    .describe = cow_describe,
};

/* Size and SHA-256 of the first and last FP_SPAN bytes of the base extent. */
static int fingerprint(const char *path, uint64_t off, uint64_t len, uint8_t fp[FP_BYTES])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t *b = malloc(FP_SPAN), l[8];
    struct sha256_ctx h;
    sha256_init(&h);
    put64(l, len);
    sha256_update(&h, sizeof l, l);
    uint64_t span = len < FP_SPAN ? len : FP_SPAN;
    int r = b ? vmdk_pread(fd, b, (size_t)span, off) : -ENOMEM;
    if (!r) {
        sha256_update(&h, (size_t)span, b);
        r = vmdk_pread(fd, b, (size_t)span, off + len - span);
    }
    if (!r)
        sha256_update(&h, (size_t)span, b);
    sha256_digest(&h, FP_BYTES, fp);
    free(b);
    close(fd);
    return r;
}

static int cow_create(struct cow *c, const uint8_t fp[FP_BYTES], struct error *err)
{
    uint8_t hdr[COW_HDR] = {0};
    memcpy(hdr, COW_MAGIC, 16);
    put64(hdr + 16, c->bd.sectors);
    put64(hdr + 24, CLUSTER);
    memcpy(hdr + 32, fp, FP_BYTES);
    int r = vmdk_pwrite(c->fd, hdr, sizeof hdr, 0);
    if (!r && ftruncate(c->fd, (off_t)(c->data_off + c->clusters * CLUSTER)))
        r = -errno;
    if (!r && fdatasync(c->fd))
        r = -errno;
    if (r)
        return error_set(err, EX_CANTCREAT, "%s: %s", c->path, strerror(-r));
    return 0;
}

static int cow_load(struct cow *c, const uint8_t fp[FP_BYTES], const char *member,
                    struct error *err)
{
    uint8_t hdr[COW_HDR];
    if (vmdk_pread(c->fd, hdr, sizeof hdr, 0) ||
        vmdk_pread(c->fd, c->bitmap, c->bitmap_bytes, COW_HDR))
        return error_set(err, EX_IOERR, "%s: %s", c->path, strerror(errno));
    if (memcmp(hdr, COW_MAGIC, 16) || get64(hdr + 24) != CLUSTER)
        return error_set(err, EX_DATAERR, "%s: not a vmplay copy-on-write file", c->path);
    if (get64(hdr + 16) != c->bd.sectors || memcmp(hdr + 32, fp, FP_BYTES))
        return error_set(err, EX_DATAERR,
                         "%s holds writes made over a different %s; remove it to start from the "
                         "package's disk", c->path, member);
    if (c->clusters % 8)
        c->bitmap[c->bitmap_bytes - 1] &= (uint8_t)((1u << (c->clusters % 8)) - 1);
    return 0;
}

static int cow_open(struct blockdev *base, const char *path, const struct blockdev_open_opts *o,
                    struct blockdev **out, struct error *err)
{
    if (base->sectors > COW_MAX_SECTORS) {
        blockdev_close(base);
        return error_set(err, EX_UNAVAILABLE, "%s: disks over 2 TiB inside a package are not "
                         "supported", path);
    }
    uint8_t fp[FP_BYTES];
    int r = fingerprint(path, o->window_off, o->window_len, fp);
    if (r) {
        blockdev_close(base);
        return error_set(err, EX_IOERR, "%s: %s", path, strerror(-r));
    }
    struct cow *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(o->overlay))) {
        free(c);
        blockdev_close(base);
        return error_set(err, EX_OSERR, "out of memory");
    }
    c->base = base;
    c->fd = -1;
    c->bd = (struct blockdev){.ops = &cow_ops, .sectors = base->sectors, .format = c->format};
    snprintf(c->format, sizeof c->format, "%s + %s", base->format, c->path);
    c->clusters = (base->sectors + CLUSTER_SECTORS - 1) / CLUSTER_SECTORS;
    c->bitmap_bytes = (size_t)((c->clusters + 7) / 8);
    c->data_off = COW_HDR + ((c->bitmap_bytes + CLUSTER - 1) / CLUSTER) * CLUSTER;
    c->bitmap = calloc(1, c->bitmap_bytes);
    c->tmp = malloc(CLUSTER);
    if (!c->bitmap || !c->tmp) {
        cow_close(&c->bd);
        return error_set(err, EX_OSERR, "out of memory");
    }
    bool fresh = false;
    char *slash = strrchr(c->path, '/');
    if (slash) { /* the folder "<package>.overlay" */
        *slash = 0;
        if (mkdir(c->path, 0755) && errno != EEXIST) {
            error_set(err, EX_CANTCREAT, "%s: %s", c->path, strerror(errno));
            *slash = '/';
            cow_close(&c->bd);
            return -1;
        }
        *slash = '/';
    }
    c->fd = open(c->path, O_RDWR | O_CLOEXEC);
    if (c->fd < 0 && errno == ENOENT) {
        c->fd = open(c->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        fresh = c->fd >= 0;
    }
    if (c->fd < 0) {
        error_set(err, EX_CANTCREAT, "%s: %s", c->path, strerror(errno));
        cow_close(&c->bd);
        return -1;
    }
    const char *member = strrchr(c->path, '/') ? strrchr(c->path, '/') + 1 : c->path;
    if ((fresh ? cow_create(c, fp, err) : cow_load(c, fp, member, err)) < 0) {
        if (fresh)
            unlink(c->path);
        cow_close(&c->bd);
        return -1;
    }
    *out = &c->bd;
    return 0;
}

int ovf_disk_open(const char *path, const struct blockdev_open_opts *o, struct blockdev **out,
                  struct error *err)
{
    struct blockdev *base = NULL;
    if (base_open(path, o->window_off, o->window_len, &base, err))
        return -1;
    if (o->snapshot || !o->overlay)
        return overlay_new(base, NULL, out, err);
    return cow_open(base, path, o, out, err);
}
