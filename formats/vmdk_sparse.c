/*
 * VMDK sparse extents: the hosted "KDMV" format (header versions 1-3, grain
 * directory + 512-entry grain tables, the redundant copy, zeroed-grain
 * entries, the unclean-shutdown flag, zlib-compressed grains with or without
 * markers, streamOptimized with the directory in front or at the end behind a
 * footer) and ESX's older "COWD" vmfsSparse format (read only, 4096-entry
 * tables). Grain tables are cached (bounded); contiguous grains are read with
 * one pread.
 *
 * Writes (plain KDMV only) never overwrite metadata in a way a crash could
 * turn into corruption: new grains and new tables go to the end of the file
 * and space is never reused; the table entries pointing at them stay in
 * memory (pinned in the cache) until sparse_flush, which syncs the data,
 * then writes and syncs the primary tables, then the redundant ones, or
 * sparse_commit, which writes them in the same order without syncing (they
 * are then in the file for any later reader, synced by the next flush). The
 * header's unclean flag is set (and synced) before the first write and
 * cleared on a clean close. A file found unclean is checked at open: every
 * primary entry must point inside the file, and the redundant tables are
 * rewritten from the primary ones before the first write (a redundant table
 * whose directory entry never reached the file is added at its end).
 *
 * What the write path trusts is checked at open, for every extent of a
 * writable format: each directory entry present in both directories or in
 * neither (but for the unclean case just named), and every grain inside the
 * file, clear of the header, descriptor, directories and tables, and of every
 * other grain. An extent that fails is still read, but says why in
 * sparse_info()->damage and is never written: the disk above it puts guest
 * writes in an overlay instead.
 */
#include "formats/vmdk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define KDMV_MAGIC 0x564d444bu /* "KDMV" */
#define COWD_MAGIC 0x44574f43u /* "COWD" */
#define GD_AT_END UINT64_MAX
#define FLAG_NL_TEST (1u << 0)
#define FLAG_RGD (1u << 1)
#define COMPRESS_DEFLATE 1
#define MARKER_FOOTER 3
#define KDMV_GTES 512
#define COWD_GTES 4096
#define GT_CACHE 256
#define MAX_GRAIN 16384u          /* sectors (8 MiB) */
#define MAX_CAPACITY (1ull << 37) /* sectors (64 TiB) */
#define MAX_GD_BYTES (4u << 20)
#define SECTOR 512u

struct gt_slot {
    uint32_t *e;
    uint64_t gi, tick;
    bool used, dirty, fresh; /* fresh: table allocated this session (GD entry pending) */
};

struct sparse {
    int fd;
    uint64_t base; /* the extent's first byte in the file (an extent inside a .ova) */
    char *path;
    struct sparse_info info;
    bool writable, rgd_on, markers;
    uint8_t hdr[SECTOR];
    uint64_t gd_off, rgd_off, min_data; /* min_data: first sector a grain may start at */
    uint32_t gt_entries;
    uint64_t gt_sectors, gd_entries, gd_sectors;
    uint32_t *gd, *rgd;
    int32_t *slot_of; /* per directory entry: cache slot or -1 */
    struct gt_slot slot[GT_CACHE];
    uint64_t tick;
    unsigned n_dirty;
    uint64_t end;            /* sectors in the file at open */
    uint64_t alloc;          /* sectors: where the next grain or table goes */
    bool began, repair, written;
    uint8_t *grain_buf;      /* partial-grain writes */
    uint8_t *zgrain, *zbuf;  /* one decompressed grain (cached) and its input */
    size_t zmax;
    uint32_t zgrain_entry;
};

static uint32_t le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads len bytes at off; the part past the end of the file reads as zeros. */
int vmdk_pread(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            memset(p, 0, len);
            return 0;
        }
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

int vmdk_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

/* Reads from the extent (base bytes into the file). */
static int sp_pread(const struct sparse *s, void *buf, size_t len, uint64_t off)
{
    return vmdk_pread(s->fd, buf, len, s->base + off);
}

static int sync_fd(int fd)
{
    return fdatasync(fd) ? -errno : 0;
}

static int fail(struct sparse *s, struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct sparse *s, struct error *err, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(err, EX_DATAERR, "%s: %s", s->path, msg);
}

static bool pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int check_region(struct sparse *s, const char *what, uint64_t off, uint64_t len,
                        struct error *err)
{
    if (off == 0 || off > s->end || len > s->end - off)
        return fail(s, err, "%s at sector %llu (+%llu) lies past the end of the file (%llu sectors)",
                    what, (unsigned long long)off, (unsigned long long)len,
                    (unsigned long long)s->end);
    return 0;
}

static int check_geometry(struct sparse *s, struct error *err)
{
    struct sparse_info *in = &s->info;
    if (!pow2(in->grain) || in->grain > MAX_GRAIN)
        return fail(s, err, "grain size %llu sectors is not a power of two up to %u",
                    (unsigned long long)in->grain, MAX_GRAIN);
    if (in->capacity == 0 || in->capacity > MAX_CAPACITY)
        return fail(s, err, "capacity %llu sectors is out of range",
                    (unsigned long long)in->capacity);
    uint64_t per_gt = in->grain * s->gt_entries;
    uint64_t need = (in->capacity + per_gt - 1) / per_gt;
    if (!s->gd_entries)
        s->gd_entries = need;
    if (s->gd_entries < need || s->gd_entries > MAX_GD_BYTES / 4)
        return fail(s, err, "grain directory of %llu entries is out of range (need %llu, at most %u)",
                    (unsigned long long)s->gd_entries, (unsigned long long)need,
                    MAX_GD_BYTES / 4);
    s->gd_sectors = (s->gd_entries * 4 + SECTOR - 1) / SECTOR;
    s->gt_sectors = ((uint64_t)s->gt_entries * 4 + SECTOR - 1) / SECTOR;
    if (check_region(s, "grain directory", s->gd_off, s->gd_sectors, err))
        return -1;
    if (s->rgd_on && check_region(s, "redundant grain directory", s->rgd_off, s->gd_sectors, err))
        return -1;
    s->alloc = s->end > s->min_data ? s->end : s->min_data;
    return 0;
}

/* The footer of a streamOptimized file with gdOffset = GD_AT_END: a footer
 * marker, a copy of the header with the real gdOffset, an end-of-stream marker. */
static int read_footer(struct sparse *s, struct error *err)
{
    uint8_t m[SECTOR];
    if (s->end < 4)
        return fail(s, err, "directory at end but the file has no footer");
    uint64_t at = (s->end - 3) * SECTOR;
    if (sp_pread(s, m, SECTOR, at) || sp_pread(s, s->hdr, SECTOR, at + SECTOR))
        return error_set(err, EX_IOERR, "%s: cannot read footer", s->path);
    if (le32(m + 8) != 0 || le32(m + 12) != MARKER_FOOTER || le32(s->hdr) != KDMV_MAGIC ||
        le64(s->hdr + 56) == GD_AT_END)
        return fail(s, err, "directory at end but no valid footer before the end-of-stream marker");
    return 0;
}

static int parse_kdmv(struct sparse *s, struct error *err)
{
    struct sparse_info *in = &s->info;
    if (le64(s->hdr + 56) == GD_AT_END && read_footer(s, err))
        return -1;
    const uint8_t *h = s->hdr;
    in->version = le32(h + 4);
    uint32_t flags = le32(h + 8);
    if (in->version < 1 || in->version > 3)
        return fail(s, err, "unsupported sparse header version %u", in->version);
    in->capacity = le64(h + 12);
    in->grain = le64(h + 20);
    in->desc_off = le64(h + 28);
    in->desc_size = le64(h + 36);
    s->gt_entries = le32(h + 44);
    s->rgd_off = le64(h + 48);
    s->gd_off = le64(h + 56);
    in->unclean = h[72] != 0;
    unsigned alg = h[77] | h[78] << 8;
    if (alg > COMPRESS_DEFLATE)
        return fail(s, err, "unsupported compression algorithm %u", alg);
    in->compressed = alg == COMPRESS_DEFLATE;
    s->markers = flags & (1u << 17);
    in->stream = in->compressed || s->markers;
    s->rgd_on = (flags & FLAG_RGD) && s->rgd_off != 0;
    if (s->gt_entries != KDMV_GTES)
        return fail(s, err, "%u entries per grain table (must be %u)", s->gt_entries, KDMV_GTES);
    if (in->desc_size && (in->desc_size > VMDK_DESC_MAX / SECTOR ||
                          check_region(s, "descriptor", in->desc_off, in->desc_size, err)))
        return in->desc_size > VMDK_DESC_MAX / SECTOR
                   ? fail(s, err, "embedded descriptor of %llu sectors is too large",
                          (unsigned long long)in->desc_size)
                   : -1;
    s->min_data = in->desc_size ? in->desc_off + in->desc_size : 1;
    uint64_t overhead = le64(h + 64); /* metadata sectors before the first grain */
    if (!in->stream && overhead > s->min_data && overhead < UINT32_MAX)
        s->min_data = overhead;
    if (check_geometry(s, err))
        return -1;
    if ((flags & FLAG_NL_TEST) && memcmp(h + 73, "\n \r\n", 4) != 0)
        return fail(s, err, "header newline test failed (file damaged by a text-mode transfer)");
    return 0;
}

static int parse_cowd(struct sparse *s, struct error *err)
{
    struct sparse_info *in = &s->info;
    const uint8_t *h = s->hdr;
    in->cowd = true;
    in->version = le32(h + 4);
    if (in->version != 1)
        return fail(s, err, "unsupported COWD version %u", in->version);
    in->capacity = le32(h + 12);
    in->grain = le32(h + 16);
    s->gd_off = le32(h + 20);
    s->gd_entries = le32(h + 24);
    if (s->gd_entries == 0)
        return fail(s, err, "COWD grain directory is empty");
    s->gt_entries = COWD_GTES;
    s->min_data = 1;
    return check_geometry(s, err);
}

static int load_dir(struct sparse *s, uint64_t off, uint32_t **out, struct error *err)
{
    size_t bytes = (size_t)s->gd_entries * 4;
    uint8_t *raw = malloc(bytes);
    uint32_t *d = malloc(bytes);
    if (!raw || !d || sp_pread(s, raw, bytes, off * SECTOR)) {
        free(raw);
        free(d);
        return error_set(err, EX_IOERR, "%s: cannot read grain directory", s->path);
    }
    for (uint64_t i = 0; i < s->gd_entries; i++)
        d[i] = le32(raw + 4 * i);
    free(raw);
    *out = d;
    return 0;
}

struct region {
    uint64_t off, len;
};

static int cmp_region(const void *a, const void *b)
{
    const struct region *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static void add_dir_regions(struct sparse *s, const uint32_t *d, struct region *r, size_t *n)
{
    for (uint64_t i = 0; d && i < s->gd_entries; i++)
        if (d[i])
            r[(*n)++] = (struct region){d[i], s->gt_sectors};
}

/* The header, descriptor, directories and every grain table, into r (room for
 * 2 * gd_entries + 4); returns the count. */
static size_t metadata_regions(struct sparse *s, struct region *r)
{
    size_t n = 0;
    r[n++] = (struct region){0, 1};
    if (s->info.desc_size)
        r[n++] = (struct region){s->info.desc_off, s->info.desc_size};
    r[n++] = (struct region){s->gd_off, s->gd_sectors};
    if (s->rgd_on)
        r[n++] = (struct region){s->rgd_off, s->gd_sectors};
    add_dir_regions(s, s->gd, r, &n);
    add_dir_regions(s, s->rgd, r, &n);
    return n;
}

/* Header, descriptor, directories and every grain table: inside the file, no overlaps. */
static int check_tables(struct sparse *s, struct error *err)
{
    struct region *r = malloc((2 * s->gd_entries + 4) * sizeof *r);
    if (!r)
        return error_set(err, EX_OSERR, "out of memory");
    size_t n = metadata_regions(s, r);
    qsort(r, n, sizeof *r, cmp_region);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (r[i].off > s->end || r[i].len > s->end - r[i].off)
            rc = fail(s, err, "grain table at sector %llu lies past the end of the file",
                      (unsigned long long)r[i].off);
        else if (i + 1 < n && r[i].off + r[i].len > r[i + 1].off)
            rc = fail(s, err, "metadata overlaps at sectors %llu and %llu (corrupt tables)",
                      (unsigned long long)r[i].off, (unsigned long long)r[i + 1].off);
    }
    free(r);
    return rc;
}

static void damaged(struct sparse *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void damaged(struct sparse *s, const char *fmt, ...)
{
    if (s->info.damage[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->info.damage, sizeof s->info.damage, fmt, ap);
    va_end(ap);
}

static int read_gt(struct sparse *s, uint64_t off, uint32_t *e, bool strict);

/* Every grain of the primary tables as a region, with the metadata's, sorted: any overlap
 * or a grain past the end means a write could land on something else. Also moves the
 * allocation point past everything in use. */
static int scan_grains(struct sparse *s, struct error *err)
{
    for (uint64_t i = 0; s->rgd_on && i < s->gd_entries; i++)
        if (!s->gd[i] != !s->rgd[i] && !(s->info.unclean && s->gd[i])) {
            /* (a new table's redundant entry is written last: a crash can leave it out) */
            damaged(s, "grain directory entry %llu is %s in the redundant directory",
                    (unsigned long long)i, s->gd[i] ? "missing" : "present only");
            return 0;
        }
    size_t cap = 4 + 2 * s->gd_entries, n = 0;
    struct region *r = malloc(cap * sizeof *r);
    uint32_t *e = malloc(s->gt_entries * 4);
    if (!r || !e) {
        free(r);
        free(e);
        return error_set(err, EX_OSERR, "out of memory");
    }
    n = metadata_regions(s, r);
    int rc = 0;
    for (uint64_t i = 0; i < s->gd_entries && !rc && !s->info.damage[0]; i++) {
        if (!s->gd[i])
            continue;
        if (read_gt(s, s->gd[i], e, false)) {
            rc = error_set(err, EX_IOERR, "%s: cannot read grain table %llu", s->path,
                           (unsigned long long)i);
            break;
        }
        for (uint32_t k = 0; k < s->gt_entries; k++) {
            if (e[k] <= 1)
                continue;
            if (e[k] < s->min_data || e[k] + s->info.grain > s->end) {
                damaged(s, "grain table %llu entry %u points at sector %u, outside the data "
                        "area", (unsigned long long)i, k, e[k]);
                break;
            }
            if (n == cap) {
                struct region *m = realloc(r, (cap *= 2) * sizeof *r);
                if (!m) {
                    rc = error_set(err, EX_OSERR, "out of memory");
                    break;
                }
                r = m;
            }
            r[n++] = (struct region){e[k], s->info.grain};
        }
    }
    if (!rc && !s->info.damage[0]) {
        qsort(r, n, sizeof *r, cmp_region);
        for (size_t i = 0; i + 1 < n; i++) {
            if (r[i].off + r[i].len > r[i + 1].off) {
                damaged(s, "a grain overlaps other data or metadata at sectors %llu and %llu",
                        (unsigned long long)r[i].off, (unsigned long long)r[i + 1].off);
                break;
            }
        }
        if (n && r[n - 1].off + r[n - 1].len > s->alloc)
            s->alloc = r[n - 1].off + r[n - 1].len;
    }
    free(r);
    free(e);
    return rc;
}

static bool entry_ok(const struct sparse *s, uint32_t e)
{
    return e <= 1 || (e >= s->min_data && e < s->alloc);
}

/* Reads a grain table; strict: every entry must be sane (else lookups check each). */
static int read_gt(struct sparse *s, uint64_t off, uint32_t *e, bool strict)
{
    uint8_t *raw = (uint8_t *)e;
    int r = sp_pread(s, raw, s->gt_entries * 4, off * SECTOR);
    if (r)
        return r;
    for (uint32_t i = 0; i < s->gt_entries; i++) {
        e[i] = le32(raw + 4 * i);
        if (strict && !entry_ok(s, e[i]))
            return -EIO;
    }
    return 0;
}

/* A file not closed cleanly: every primary entry must be sane; redundant
 * tables that differ are rewritten from the primary before the first write,
 * and one that is missing (the process died between the primary and the
 * redundant directory entry of a new table) is added then. */
static int check_unclean(struct sparse *s, struct error *err)
{
    uint32_t *p = malloc(s->gt_entries * 4), *q = malloc(s->gt_entries * 4);
    int rc = p && q ? 0 : error_set(err, EX_OSERR, "out of memory");
    for (uint64_t i = 0; i < s->gd_entries && !rc; i++) {
        if (!s->gd[i])
            continue;
        if (read_gt(s, s->gd[i], p, true))
            rc = fail(s, err, "not closed cleanly and grain table %llu is damaged; refusing it "
                      "(repair with vmware-vdiskmanager -R)", (unsigned long long)i);
        else if (s->rgd_on && !s->rgd[i])
            s->repair = true; /* a new table whose redundant entry the crash kept from the file */
        else if (s->rgd_on && (read_gt(s, s->rgd[i], q, true) || memcmp(p, q, s->gt_entries * 4)))
            s->repair = true;
    }
    free(p);
    free(q);
    return rc;
}

static int alloc_buffers(struct sparse *s, struct error *err)
{
    size_t gbytes = (size_t)s->info.grain * SECTOR;
    s->slot_of = malloc(s->gd_entries * sizeof *s->slot_of);
    s->grain_buf = malloc(gbytes);
    if (!s->slot_of || !s->grain_buf)
        return error_set(err, EX_OSERR, "out of memory");
    for (uint64_t i = 0; i < s->gd_entries; i++)
        s->slot_of[i] = -1;
    if (s->info.compressed) {
        s->zmax = 2 * gbytes + 4096;
        s->zgrain = malloc(gbytes);
        s->zbuf = malloc(s->zmax);
        if (!s->zgrain || !s->zbuf)
            return error_set(err, EX_OSERR, "out of memory");
    }
    return 0;
}

static int open_tables(struct sparse *s, struct error *err)
{
    uint32_t magic = le32(s->hdr);
    if (magic == KDMV_MAGIC ? parse_kdmv(s, err) : magic == COWD_MAGIC ? parse_cowd(s, err)
                                                  : fail(s, err, "not a sparse extent"))
        return -1;
    if (load_dir(s, s->gd_off, &s->gd, err) ||
        (s->rgd_on && load_dir(s, s->rgd_off, &s->rgd, err)) || check_tables(s, err) ||
        alloc_buffers(s, err))
        return -1;
    if (sparse_writable_format(s) && scan_grains(s, err))
        return -1;
    if (s->info.unclean && !s->info.stream && !s->info.cowd)
        return check_unclean(s, err);
    return 0;
}

int sparse_open(int fd, const char *path, bool writable, struct sparse **out, struct error *err)
{
    return sparse_open_window(fd, path, writable, 0, UINT64_MAX, out, err);
}

int sparse_open_window(int fd, const char *path, bool writable, uint64_t base, uint64_t len,
                       struct sparse **out, struct error *err)
{
    struct sparse *s = calloc(1, sizeof *s);
    struct stat st;
    if (!s || !(s->path = strdup(path))) {
        free(s);
        close(fd);
        return error_set(err, EX_OSERR, "out of memory");
    }
    s->fd = fd;
    s->base = base;
    s->writable = writable && base == 0;
    if (fstat(fd, &st) || vmdk_pread(fd, s->hdr, SECTOR, base)) {
        error_set(err, EX_IOERR, "%s: %s", path, strerror(errno));
        sparse_free(s);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size > base ? (uint64_t)st.st_size - base : 0;
    size = size < len ? size : len;
    s->end = (size + SECTOR - 1) / SECTOR;
    if (size < SECTOR || open_tables(s, err)) {
        if (size < SECTOR)
            fail(s, err, "truncated sparse header");
        sparse_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sparse_free(struct sparse *s)
{
    if (!s)
        return;
    for (int i = 0; i < GT_CACHE; i++)
        free(s->slot[i].e);
    free(s->gd);
    free(s->rgd);
    free(s->slot_of);
    free(s->grain_buf);
    free(s->zgrain);
    free(s->zbuf);
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s);
}

const struct sparse_info *sparse_info(const struct sparse *s)
{
    return &s->info;
}

bool sparse_writable_format(const struct sparse *s)
{
    return !s->info.cowd && !s->info.stream && s->info.version < 3;
}

/* ---- grain-table cache ---- */

static int pick_slot(struct sparse *s)
{
    int best = -1;
    for (int i = 0; i < GT_CACHE; i++) {
        if (!s->slot[i].used)
            return i;
        if (!s->slot[i].dirty && (best < 0 || s->slot[i].tick < s->slot[best].tick))
            best = i;
    }
    if (best < 0) { /* every table dirty: make them durable, then any will do */
        int r = sparse_flush(s);
        if (r)
            return r;
        best = 0;
    }
    s->slot_of[s->slot[best].gi] = -1;
    s->slot[best].used = false;
    return best;
}

static int alloc_gt(struct sparse *s, uint64_t gi, struct gt_slot *sl)
{
    size_t bytes = s->gt_sectors * SECTOR;
    uint8_t *z = calloc(1, bytes);
    if (!z)
        return -ENOMEM;
    uint64_t p = s->alloc, r = p + (s->rgd_on ? s->gt_sectors : 0);
    int rc = vmdk_pwrite(s->fd, z, bytes, p * SECTOR);
    if (!rc && s->rgd_on)
        rc = vmdk_pwrite(s->fd, z, bytes, r * SECTOR);
    free(z);
    if (rc)
        return rc;
    if (r + s->gt_sectors > UINT32_MAX)
        return -EFBIG;
    s->alloc = r + s->gt_sectors;
    s->gd[gi] = (uint32_t)p;
    if (s->rgd_on)
        s->rgd[gi] = (uint32_t)r;
    memset(sl->e, 0, s->gt_entries * 4);
    sl->fresh = sl->dirty = true;
    s->n_dirty++;
    return 0;
}

/* The cached table for directory entry gi; NULL (and 0) when none exists and !alloc. */
static int gt_get(struct sparse *s, uint64_t gi, bool alloc, struct gt_slot **out)
{
    *out = NULL;
    if (gi >= s->gd_entries)
        return -EIO;
    int k = s->slot_of[gi];
    if (k < 0 && !s->gd[gi] && !alloc)
        return 0;
    if (k < 0) {
        if ((k = pick_slot(s)) < 0)
            return k;
        struct gt_slot *sl = &s->slot[k];
        if (!sl->e && !(sl->e = malloc(s->gt_entries * 4)))
            return -ENOMEM;
        int r = s->gd[gi] ? read_gt(s, s->gd[gi], sl->e, false) : alloc_gt(s, gi, sl);
        if (r)
            return r;
        sl->used = true;
        sl->gi = gi;
        s->slot_of[gi] = k;
    }
    s->slot[k].tick = ++s->tick;
    *out = &s->slot[k];
    return 0;
}

static int lookup(struct sparse *s, uint64_t grain, uint32_t *e)
{
    struct gt_slot *sl;
    int r = gt_get(s, grain / s->gt_entries, false, &sl);
    *e = sl ? sl->e[grain % s->gt_entries] : 0;
    return r ? r : entry_ok(s, *e) ? 0 : -EIO;
}

/* ---- reads ---- */

static int read_compressed(struct sparse *s, uint32_t e)
{
    if (s->zgrain_entry == e)
        return 0;
    uint64_t off = (uint64_t)e * SECTOR;
    size_t len = s->zmax;
    if (s->markers) {
        uint8_t m[12];
        int r = sp_pread(s, m, sizeof m, off);
        if (r)
            return r;
        len = le32(m + 8);
        if (len == 0 || len > s->zmax)
            return -EIO;
        off += sizeof m;
    }
    int r = sp_pread(s, s->zbuf, len, off);
    if (r)
        return r;
    uLongf out = (uLongf)(s->info.grain * SECTOR);
    if (uncompress(s->zgrain, &out, s->zbuf, (uLong)len) != Z_OK)
        return -EIO;
    memset(s->zgrain + out, 0, s->info.grain * SECTOR - out);
    s->zgrain_entry = e;
    return 0;
}

/* Sectors of grains following `grain` that lie right after it in the file. */
static uint32_t contiguous_run(struct sparse *s, uint64_t grain, uint32_t e, uint32_t first,
                               uint32_t count)
{
    uint32_t run = first;
    uint64_t next = (uint64_t)e + s->info.grain;
    while (run < count) {
        uint32_t e2;
        if (lookup(s, ++grain, &e2) || e2 != next)
            break;
        uint32_t m = count - run < s->info.grain ? count - run : (uint32_t)s->info.grain;
        run += m;
        next += s->info.grain;
    }
    return run;
}

int sparse_read(struct sparse *s, uint64_t sector, uint32_t count, uint8_t *buf,
                sparse_fallback fb, void *opaque)
{
    uint64_t g = s->info.grain;
    while (count) {
        uint64_t grain = sector / g;
        uint32_t in = (uint32_t)(sector % g), n = count < g - in ? count : (uint32_t)(g - in);
        uint32_t e;
        int r = lookup(s, grain, &e);
        if (r)
            return r;
        if (e == 0 && fb) {
            r = fb(opaque, sector, n, buf);
        } else if (e <= 1) {
            memset(buf, 0, (size_t)n * SECTOR);
        } else if (s->info.compressed) {
            if (!(r = read_compressed(s, e)))
                memcpy(buf, s->zgrain + (size_t)in * SECTOR, (size_t)n * SECTOR);
        } else {
            n = contiguous_run(s, grain, e, n, count);
            r = sp_pread(s, buf, (size_t)n * SECTOR, ((uint64_t)e + in) * SECTOR);
        }
        if (r)
            return r;
        sector += n, count -= n, buf += (size_t)n * SECTOR;
    }
    return 0;
}

/* ---- writes ---- */

static int write_header(struct sparse *s, bool unclean)
{
    s->hdr[72] = unclean;
    int r = vmdk_pwrite(s->fd, s->hdr, SECTOR, 0);
    return r ? r : sync_fd(s->fd);
}

static int write_table(struct sparse *s, const uint32_t *e, uint64_t off)
{
    size_t bytes = s->gt_entries * 4;
    uint8_t *raw = malloc(bytes);
    if (!raw)
        return -ENOMEM;
    for (uint32_t i = 0; i < s->gt_entries; i++)
        put_le32(raw + 4 * i, e[i]);
    int r = vmdk_pwrite(s->fd, raw, bytes, off * SECTOR);
    free(raw);
    return r;
}

static int write_dir_entry(struct sparse *s, uint64_t dir, uint64_t gi, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    return vmdk_pwrite(s->fd, b, 4, dir * SECTOR + gi * 4);
}

/* A redundant copy of table gi (entries e) at the end of the file, then its directory entry. */
static int add_redundant(struct sparse *s, uint64_t gi, const uint32_t *e)
{
    uint64_t at = s->alloc;
    if (at + s->gt_sectors > UINT32_MAX)
        return -EFBIG;
    int r = write_table(s, e, at);
    if (!r)
        r = write_dir_entry(s, s->rgd_off, gi, (uint32_t)at);
    if (r)
        return r;
    s->alloc = at + s->gt_sectors;
    s->rgd[gi] = (uint32_t)at;
    return 0;
}

/* Redundant tables that differ after an unclean shutdown take the primary's entries. */
static int repair_redundant(struct sparse *s)
{
    uint32_t *p = malloc(s->gt_entries * 4), *q = malloc(s->gt_entries * 4);
    int r = p && q ? 0 : -ENOMEM;
    for (uint64_t i = 0; i < s->gd_entries && !r; i++) {
        if (!s->gd[i] || (r = read_gt(s, s->gd[i], p, true)))
            continue;
        if (!s->rgd[i])
            r = add_redundant(s, i, p);
        else if (read_gt(s, s->rgd[i], q, true) || memcmp(p, q, s->gt_entries * 4))
            r = write_table(s, p, s->rgd[i]);
    }
    free(p);
    free(q);
    if (!r)
        r = sync_fd(s->fd);
    if (!r)
        s->repair = false;
    return r;
}

static int begin_write(struct sparse *s)
{
    if (s->began)
        return 0;
    if (!s->writable || !sparse_writable_format(s) || s->info.damage[0])
        return -EROFS;
    int r = s->repair ? repair_redundant(s) : 0;
    if (!r)
        r = write_header(s, true);
    if (!r)
        s->began = true;
    return r;
}

static int alloc_grain(struct sparse *s, struct gt_slot *sl, uint32_t idx, const uint8_t *data)
{
    uint64_t at = s->alloc;
    if (at + s->info.grain > UINT32_MAX)
        return -EFBIG;
    int r = vmdk_pwrite(s->fd, data, s->info.grain * SECTOR, at * SECTOR);
    if (r)
        return r;
    s->alloc = at + s->info.grain;
    sl->e[idx] = (uint32_t)at;
    if (!sl->dirty)
        s->n_dirty++;
    sl->dirty = true;
    return 0;
}

static int write_grain(struct sparse *s, uint64_t sector, uint32_t n, const uint8_t *buf,
                       sparse_fallback fb, void *opaque)
{
    uint64_t g = s->info.grain, grain = sector / g;
    uint32_t in = (uint32_t)(sector % g), idx = (uint32_t)(grain % s->gt_entries);
    struct gt_slot *sl;
    int r = gt_get(s, grain / s->gt_entries, true, &sl);
    if (r)
        return r;
    uint32_t e = sl->e[idx];
    if (!entry_ok(s, e))
        return -EIO; /* a damaged entry: never write through it */
    if (e > 1)
        return vmdk_pwrite(s->fd, buf, (size_t)n * SECTOR, ((uint64_t)e + in) * SECTOR);
    if (n == g)
        return alloc_grain(s, sl, idx, buf);
    if (e == 1 || !fb)
        memset(s->grain_buf, 0, g * SECTOR);
    else if ((r = fb(opaque, grain * g, (uint32_t)g, s->grain_buf)))
        return r;
    memcpy(s->grain_buf + (size_t)in * SECTOR, buf, (size_t)n * SECTOR);
    /* The fallback may have evicted the slot: look it up again. */
    if ((r = gt_get(s, grain / s->gt_entries, true, &sl)))
        return r;
    return alloc_grain(s, sl, idx, s->grain_buf);
}

int sparse_write(struct sparse *s, uint64_t sector, uint32_t count, const uint8_t *buf,
                 sparse_fallback fb, void *opaque)
{
    int r = begin_write(s);
    uint64_t g = s->info.grain;
    while (!r && count) {
        uint32_t in = (uint32_t)(sector % g), n = count < g - in ? count : (uint32_t)(g - in);
        r = write_grain(s, sector, n, buf, fb, opaque);
        s->written = true;
        sector += n, count -= n, buf += (size_t)n * SECTOR;
    }
    return r;
}

/* The dirty tables of one copy (primary or redundant) and their new directory entries, into the file. */
static int write_tables(struct sparse *s, bool redundant)
{
    for (int i = 0; i < GT_CACHE; i++) {
        struct gt_slot *sl = &s->slot[i];
        if (!sl->used || !sl->dirty)
            continue;
        uint64_t dir = redundant ? s->rgd_off : s->gd_off;
        uint32_t at = redundant ? s->rgd[sl->gi] : s->gd[sl->gi];
        if (!at)
            return -EIO; /* checked at open; never a table over the header */
        int r = write_table(s, sl->e, at);
        if (!r && sl->fresh)
            r = write_dir_entry(s, dir, sl->gi, at);
        if (r)
            return r;
    }
    return 0;
}

static void tables_clean(struct sparse *s)
{
    for (int i = 0; i < GT_CACHE; i++)
        s->slot[i].dirty = s->slot[i].fresh = false;
    s->n_dirty = 0;
}

/* Data first, then primary tables (and new directory entries), then the redundant copy,
 * each synced before the next begins. */
int sparse_flush(struct sparse *s)
{
    if (!s->written && !s->n_dirty)
        return 0;
    int r = sync_fd(s->fd);
    if (!r && s->n_dirty && !(r = write_tables(s, false)))
        r = sync_fd(s->fd);
    if (!r && s->n_dirty && s->rgd_on && !(r = write_tables(s, true)))
        r = sync_fd(s->fd);
    if (r)
        return r;
    tables_clean(s);
    s->written = false;
    return 0;
}

/* The same writes in the same order, none synced: what is in the file stays unsynced
 * (written), so the next sparse_flush syncs it. */
int sparse_commit(struct sparse *s)
{
    if (!s->n_dirty)
        return 0;
    int r = write_tables(s, false);
    if (!r && s->rgd_on)
        r = write_tables(s, true);
    if (r)
        return r;
    tables_clean(s);
    s->written = true;
    return 0;
}

int sparse_close_clean(struct sparse *s)
{
    int r = sparse_flush(s);
    if (!r && s->began)
        r = write_header(s, false);
    return r;
}

int sparse_write_descriptor(struct sparse *s, const char *text, size_t len)
{
    size_t cap = s->info.desc_size * SECTOR;
    if (len + 1 > cap)
        return -ENOSPC;
    size_t bytes = (len + 1 + SECTOR - 1) / SECTOR * SECTOR;
    uint8_t *b = calloc(1, bytes);
    if (!b)
        return -ENOMEM;
    memcpy(b, text, len);
    int r = vmdk_pwrite(s->fd, b, bytes, s->info.desc_off * SECTOR);
    free(b);
    return r ? r : sync_fd(s->fd);
}

int sparse_read_descriptor(struct sparse *s, char **text, size_t *len, struct error *err)
{
    *text = NULL;
    *len = 0;
    if (!s->info.desc_size)
        return 0;
    size_t bytes = s->info.desc_size * SECTOR;
    char *t = malloc(bytes + 1);
    if (!t)
        return error_set(err, EX_OSERR, "out of memory");
    if (sp_pread(s, t, bytes, s->info.desc_off * SECTOR)) {
        free(t);
        return error_set(err, EX_IOERR, "%s: cannot read descriptor", s->path);
    }
    t[bytes] = 0;
    *len = strlen(t);
    *text = t;
    return 0;
}
