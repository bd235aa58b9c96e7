/*
 * A copy-on-write overlay in memory over any blockdev: used for nonpersistent
 * disk modes, `--snapshot`, and images that must never be written in place
 * (streamOptimized or RDONLY VMDK extents). Written data lives in 4 KiB
 * clusters in an open-addressing hash table; reads take each cluster from the
 * table or, for runs of untouched clusters, from the base in one call. The
 * base is never written; everything written is lost at close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"

#define CLUSTER_SECTORS 8u
#define CLUSTER_BYTES (CLUSTER_SECTORS * BLOCKDEV_SECTOR)
#define NO_KEY UINT64_MAX

struct overlay {
    struct blockdev bd;
    struct blockdev *base;
    uint64_t *keys;
    uint8_t **vals;
    size_t cap, used;
    char format[96];
    char warning[1024];
};

static size_t slot_for(const struct overlay *o, uint64_t key)
{
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (o->cap - 1);
    while (o->keys[i] != NO_KEY && o->keys[i] != key)
        i = (i + 1) & (o->cap - 1);
    return i;
}

static uint8_t *find(const struct overlay *o, uint64_t key)
{
    size_t i = slot_for(o, key);
    return o->keys[i] == key ? o->vals[i] : NULL;
}

static int grow(struct overlay *o)
{
    size_t ncap = o->cap * 2;
    struct overlay n = {.cap = ncap, .keys = malloc(ncap * sizeof *n.keys),
                        .vals = malloc(ncap * sizeof *n.vals)};
    if (!n.keys || !n.vals) {
        free(n.keys);
        free(n.vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ncap; i++)
        n.keys[i] = NO_KEY;
    for (size_t i = 0; i < o->cap; i++)
        if (o->keys[i] != NO_KEY) {
            size_t j = slot_for(&n, o->keys[i]);
            n.keys[j] = o->keys[i];
            n.vals[j] = o->vals[i];
        }
    free(o->keys);
    free(o->vals);
    o->keys = n.keys;
    o->vals = n.vals;
    o->cap = ncap;
    return 0;
}

/* Reads whole clusters [c, c+n) from the base; the part past its end is zeros. */
static int base_read(struct overlay *o, uint64_t c, uint64_t n, uint8_t *buf)
{
    uint64_t s = c * CLUSTER_SECTORS, total = n * CLUSTER_SECTORS;
    uint64_t have = s >= o->bd.sectors ? 0 : o->bd.sectors - s;
    if (have > total)
        have = total;
    memset(buf + have * BLOCKDEV_SECTOR, 0, (total - have) * BLOCKDEV_SECTOR);
    return have ? blockdev_read(o->base, s, (uint32_t)have, buf) : 0;
}

static int get_cluster(struct overlay *o, uint64_t c, uint8_t **out)
{
    if ((*out = find(o, c)))
        return 0;
    if ((o->used + 1) * 2 > o->cap && grow(o))
        return -ENOMEM;
    uint8_t *d = malloc(CLUSTER_BYTES);
    if (!d)
        return -ENOMEM;
    int r = base_read(o, c, 1, d);
    if (r) {
        free(d);
        return r;
    }
    size_t i = slot_for(o, c);
    o->keys[i] = c;
    o->vals[i] = d;
    o->used++;
    *out = d;
    return 0;
}

static int overlay_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct overlay *o = (struct overlay *)bd;
    uint8_t *p = buf, tmp[CLUSTER_BYTES];
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    while (count) {
        uint64_t c = sector / CLUSTER_SECTORS;
        uint32_t in = (uint32_t)(sector % CLUSTER_SECTORS);
        uint32_t n = count < CLUSTER_SECTORS - in ? count : CLUSTER_SECTORS - in;
        const uint8_t *d = find(o, c);
        if (!d && in == 0 && n == CLUSTER_SECTORS) { /* a run of untouched whole clusters */
            uint32_t run = n;
            while (count - run >= CLUSTER_SECTORS && !find(o, c + run / CLUSTER_SECTORS))
                run += CLUSTER_SECTORS;
            int r = blockdev_read(o->base, sector, run, p);
            if (r)
                return r;
            n = run;
        } else {
            int r = d ? 0 : base_read(o, c, 1, tmp);
            if (r)
                return r;
            memcpy(p, (d ? d : tmp) + (size_t)in * BLOCKDEV_SECTOR, (size_t)n * BLOCKDEV_SECTOR);
        }
        sector += n, count -= n, p += (size_t)n * BLOCKDEV_SECTOR;
    }
    return 0;
}

static int overlay_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    struct overlay *o = (struct overlay *)bd;
    const uint8_t *p = buf;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    while (count) {
        uint32_t in = (uint32_t)(sector % CLUSTER_SECTORS);
        uint32_t n = count < CLUSTER_SECTORS - in ? count : CLUSTER_SECTORS - in;
        uint8_t *d;
        int r = get_cluster(o, sector / CLUSTER_SECTORS, &d);
        if (r)
            return r;
        memcpy(d + (size_t)in * BLOCKDEV_SECTOR, p, (size_t)n * BLOCKDEV_SECTOR);
        sector += n, count -= n, p += (size_t)n * BLOCKDEV_SECTOR;
    }
    return 0;
}

static int overlay_flush(struct blockdev *bd)
{
    return 0;
}

static void overlay_close(struct blockdev *bd)
{
    struct overlay *o = (struct overlay *)bd;
    for (size_t i = 0; i < o->cap; i++)
        if (o->keys[i] != NO_KEY)
            free(o->vals[i]);
    free(o->keys);
    free(o->vals);
    blockdev_close(o->base);
    free(o);
}

static void overlay_describe(struct blockdev *bd, char *buf, size_t len)
{
    struct overlay *o = (struct overlay *)bd;
    int n = snprintf(buf, len, "copy-on-write overlay in memory (%zu KiB written) over ",
                     o->used * CLUSTER_BYTES / 1024);
    if (n < 0 || (size_t)n >= len)
        return;
    if (o->base->ops->describe)
        o->base->ops->describe(o->base, buf + n, len - (size_t)n);
    else
        snprintf(buf + n, len - (size_t)n, "%s", o->base->format);
}

static const struct blockdev_ops overlay_ops = {
    .read = overlay_read,
    .write = overlay_write,
    .flush = overlay_flush,
    .close = overlay_close,
    .describe = overlay_describe,
};

int overlay_new(struct blockdev *base, const char *warning, struct blockdev **out,
                struct error *err)
{
    struct overlay *o = calloc(1, sizeof *o);
    if (o) {
        o->cap = 64;
        o->keys = malloc(o->cap * sizeof *o->keys);
        o->vals = malloc(o->cap * sizeof *o->vals);
    }
    if (!o || !o->keys || !o->vals) {
        if (o) {
            free(o->keys);
            free(o->vals);
        }
        free(o);
        blockdev_close(base);
        return error_set(err, EX_OSERR, "out of memory");
    }
    for (size_t i = 0; i < o->cap; i++)
        o->keys[i] = NO_KEY;
    o->base = base;
    snprintf(o->format, sizeof o->format, "%s", base->format ? base->format : "image");
    if (warning)
        snprintf(o->warning, sizeof o->warning, "%s", warning);
    o->bd = (struct blockdev){.ops = &overlay_ops, .sectors = base->sectors,
                              .format = o->format, .warning = warning ? o->warning : NULL};
    *out = &o->bd;
    return 0;
}
