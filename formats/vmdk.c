/*
 * A VMDK disk as a struct blockdev: a chain of layers (the disk, then each
 * parent named by parentFileNameHint, resolved relative to the child), each
 * layer a descriptor (a text file or embedded in a sparse extent) and its
 * extents (SPARSE, FLAT, ZERO, VMFS, VMFSSPARSE). Reads fall through
 * unallocated grains to the parent; writes go to the top layer only, after
 * its CID has been renewed (embedded descriptors in place, text descriptors
 * through a temporary file and rename). parentCID must match the parent's
 * CID; cycles and absurd depths are refused. Disks whose top layer cannot be
 * written in place (streamOptimized, RDONLY, ZERO or COWD extents) get a
 * copy-on-write overlay in memory and a warning for the player to print.
 */
#include "formats/vmdk.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/image.h"
#include "formats/lock.h"

struct layer;

struct extent {
    struct vmdk_desc_extent d;
    uint64_t start;
    char *path;
    int fd;
    struct sparse *sp;
    struct layer *owner;
    bool written;
};

struct layer {
    char *path, *dir;
    char *text; /* descriptor text */
    size_t text_len;
    bool embedded, writable, cid_done;
    struct vmdk_desc desc;
    uint64_t sectors;
    struct extent *ext;
    size_t n_ext;
    struct layer *parent;
    dev_t dev;
    ino_t ino;
};

struct vmdk {
    struct blockdev bd;
    struct layer *top;
    char format[80];
};

static const struct blockdev_ops vmdk_ops;

static int open_error(struct error *err, const char *path, const char *what, bool writing)
{
    int e = errno;
    int code = error_code_for_errno(e);
    if (writing && (e == EACCES || e == EPERM || e == EROFS))
        return error_set(err, EX_CANTCREAT, "%s: %s%sread-only (%s): use --snapshot, or mode = "
                         "independent-nonpersistent", path, what, *what ? ": " : "", strerror(e));
    return error_set(err, code, "%s: %s%s%s", path, what, *what ? ": " : "", strerror(e));
}

static char *join_path(const char *dir, const char *name)
{
    char *p;
    if (name[0] == '/')
        return strdup(name);
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        return NULL;
    return p;
}

static void layer_free(struct layer *l)
{
    while (l) {
        struct layer *parent = l->parent;
        for (size_t i = 0; i < l->n_ext; i++) {
            struct extent *e = &l->ext[i];
            if (e->sp)
                sparse_free(e->sp);
            else if (e->fd >= 0)
                close(e->fd);
            free(e->path);
        }
        free(l->ext);
        vmdk_desc_free(&l->desc);
        free(l->text);
        free(l->path);
        free(l->dir);
        free(l);
        l = parent;
    }
}

static int add_extents(struct layer *l, struct error *err)
{
    l->n_ext = l->desc.n_ext;
    l->ext = calloc(l->n_ext ? l->n_ext : 1, sizeof *l->ext);
    if (!l->ext)
        return error_set(err, EX_OSERR, "out of memory");
    uint64_t start = 0;
    for (size_t i = 0; i < l->n_ext; i++) {
        struct extent *e = &l->ext[i];
        e->d = l->desc.ext[i];
        e->d.file = NULL;
        e->fd = -1;
        e->owner = l;
        e->start = start;
        if (l->desc.ext[i].file && !(e->path = join_path(l->dir, l->desc.ext[i].file)))
            return error_set(err, EX_OSERR, "out of memory");
        if (e->d.sectors > (1ull << 40) - start)
            return error_set(err, EX_DATAERR, "%s: extents add up to an absurd size", l->path);
        start += e->d.sectors;
    }
    l->sectors = start;
    if (!l->n_ext)
        return error_set(err, EX_DATAERR, "%s: descriptor lists no extents", l->path);
    return 0;
}

static int open_extent(struct extent *e, bool writable, struct error *err)
{
    if (e->d.type == VMDK_EXT_ZERO)
        return 0;
    bool rw = writable && e->d.access == VMDK_RW;
    e->fd = open(e->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (e->fd < 0)
        return open_error(err, e->path, "extent", rw);
    if (image_lock(e->fd, e->path, rw, err))
        return -1;
    if (e->d.type == VMDK_EXT_FLAT || e->d.type == VMDK_EXT_VMFS)
        return 0;
    int fd = e->fd;
    e->fd = -1;
    if (sparse_open(fd, e->path, rw, &e->sp, err))
        return -1;
    if (sparse_info(e->sp)->capacity < e->d.sectors)
        return error_set(err, EX_DATAERR, "%s: holds %llu sectors, descriptor says %llu",
                         e->path, (unsigned long long)sparse_info(e->sp)->capacity,
                         (unsigned long long)e->d.sectors);
    return 0;
}

static int open_text_layer(struct layer *l, int fd, uint64_t size, bool writable,
                           struct error *err)
{
    if (size > VMDK_DESC_MAX)
        return error_set(err, EX_DATAERR, "%s: not a VMDK descriptor (larger than %u bytes)",
                         l->path, VMDK_DESC_MAX);
    l->text = malloc(size + 1);
    if (!l->text)
        return error_set(err, EX_OSERR, "out of memory");
    if (vmdk_pread(fd, l->text, size, 0))
        return open_error(err, l->path, "", false);
    l->text[size] = 0;
    l->text_len = strlen(l->text); /* text up to the NUL padding, if any */
    if (vmdk_desc_parse(l->text, l->text_len, &l->desc, err))
        return error_prefix(err, "%s", l->path);
    if (add_extents(l, err))
        return -1;
    for (size_t i = 0; i < l->n_ext; i++)
        if (open_extent(&l->ext[i], writable, err))
            return -1;
    return 0;
}

static int open_sparse_layer(struct layer *l, int fd, bool writable, struct error *err)
{
    l->n_ext = 1;
    l->ext = calloc(1, sizeof *l->ext);
    if (!l->ext || !(l->ext[0].path = strdup(l->path))) {
        close(fd);
        return error_set(err, EX_OSERR, "out of memory");
    }
    struct extent *e = &l->ext[0];
    e->fd = -1;
    e->owner = l;
    if (sparse_open(fd, l->path, writable, &e->sp, err))
        return -1;
    const struct sparse_info *in = sparse_info(e->sp);
    e->d.sectors = l->sectors = in->capacity;
    e->d.type = in->cowd ? VMDK_EXT_VMFSSPARSE : VMDK_EXT_SPARSE;
    if (sparse_read_descriptor(e->sp, &l->text, &l->text_len, err))
        return -1;
    if (!l->text) {
        l->desc.parent_cid = VMDK_CID_NONE;
        snprintf(l->desc.create_type, sizeof l->desc.create_type, "%s",
                 in->cowd ? "vmfsSparse" : in->stream ? "streamOptimized" : "monolithicSparse");
        return 0;
    }
    l->embedded = true;
    if (vmdk_desc_parse(l->text, l->text_len, &l->desc, err))
        return error_prefix(err, "%s: embedded descriptor", l->path);
    return 0;
}

static int layer_open(const char *path, bool writable, struct layer **out, struct error *err)
{
    struct layer *l = calloc(1, sizeof *l);
    char *tmp = strdup(path);
    if (!l || !tmp || !(l->path = strdup(path)) || !(l->dir = strdup(dirname(tmp)))) {
        free(tmp);
        layer_free(l);
        return error_set(err, EX_OSERR, "out of memory");
    }
    free(tmp);
    l->writable = writable;
    *out = l;
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return open_error(err, path, "", writable);
    struct stat st;
    uint8_t magic[4] = {0};
    if (fstat(fd, &st) || vmdk_pread(fd, magic, sizeof magic, 0)) {
        close(fd);
        return open_error(err, path, "", false);
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    if (!memcmp(magic, "KDMV", 4) || !memcmp(magic, "COWD", 4)) {
        if (image_lock(fd, path, writable, err)) {
            close(fd);
            return -1;
        }
        return open_sparse_layer(l, fd, writable, err);
    }
    int rc = open_text_layer(l, fd, (uint64_t)st.st_size, writable, err);
    close(fd);
    return rc;
}

static int check_parent(struct layer *child, struct layer *p, struct layer *top, struct error *err)
{
    for (struct layer *c = top; c; c = c->parent)
        if (c->dev == p->dev && c->ino == p->ino)
            return error_set(err, EX_DATAERR, "%s: snapshot chain loops back to %s", child->path,
                             p->path);
    if (child->desc.parent_cid != VMDK_CID_NONE && child->desc.parent_cid != p->desc.cid)
        return error_set(err, EX_DATAERR,
                         "%s: parentCID %08x does not match CID %08x of parent %s "
                         "(the parent changed after the snapshot was taken)",
                         child->path, child->desc.parent_cid, p->desc.cid, p->path);
    return 0;
}

/* parentFileNameHint, relative to the child's folder. A Windows path
 * ("C:\\VMs\\base.vmdk") that does not exist here falls back to its last
 * component next to the child. */
static char *parent_path(const struct layer *l)
{
    const char *h = l->desc.parent_hint, *bs = strrchr(h, '\\');
    char *p = join_path(l->dir, h);
    if (!p || !bs || access(p, F_OK) == 0)
        return p;
    free(p);
    return join_path(l->dir, bs + 1);
}

static int open_parents(struct layer *top, struct error *err)
{
    unsigned depth = 1;
    for (struct layer *l = top; l->desc.parent_hint; l = l->parent) {
        if (++depth > VMDK_MAX_DEPTH)
            return error_set(err, EX_DATAERR, "%s: snapshot chain deeper than %u layers",
                             top->path, VMDK_MAX_DEPTH);
        char *pp = parent_path(l);
        struct layer *p = NULL;
        int rc = pp ? layer_open(pp, false, &p, err) : error_set(err, EX_OSERR, "out of memory");
        free(pp);
        if (rc || check_parent(l, p, top, err)) {
            layer_free(p);
            return error_prefix(err, "parent of %s", l->path);
        }
        l->parent = p;
    }
    if (top->desc.parent_cid != VMDK_CID_NONE && !top->desc.parent_hint)
        return error_set(err, EX_DATAERR, "%s: has a parentCID but no parentFileNameHint",
                         top->path);
    return 0;
}

static int chain_open(const char *path, bool writable, struct layer **out, struct error *err)
{
    struct layer *top = NULL;
    if (layer_open(path, writable, &top, err) || open_parents(top, err)) {
        layer_free(top);
        return -1;
    }
    *out = top;
    return 0;
}

/* Why the top layer cannot be written in place, or NULL. */
/* A range of bytes of one file that something of the chain occupies. */
struct span {
    dev_t dev;
    ino_t ino;
    uint64_t lo, hi; /* bytes [lo, hi) */
    const char *what;
    bool written;    /* an extent of the top layer, which writes go to */
};

static size_t chain_spans(const struct layer *top, struct span *sp, size_t cap)
{
    size_t n = 0;
    struct stat st;
    for (const struct layer *l = top; l; l = l->parent) {
        if (!l->embedded && n < cap && stat(l->path, &st) == 0)
            sp[n++] = (struct span){st.st_dev, st.st_ino, 0, l->text_len, l->path, false};
        for (size_t i = 0; i < l->n_ext && n < cap; i++) {
            const struct extent *e = &l->ext[i];
            if (e->d.type == VMDK_EXT_ZERO || !e->path || stat(e->path, &st) != 0)
                continue;
            bool flat = !e->sp;
            uint64_t lo = flat ? e->d.offset * 512 : 0;
            uint64_t hi = flat ? lo + e->d.sectors * 512 : UINT64_MAX;
            sp[n++] = (struct span){st.st_dev, st.st_ino, lo, hi, e->path,
                                    l == top && e->d.access == VMDK_RW};
        }
    }
    return n;
}

/* Two parts of the chain in the same bytes of one file (an extent listed twice, a
 * flat extent over its own descriptor, a child whose extent is its parent's file),
 * where one of them is written: a write there would change the other. */
static const char *aliasing_reason(const struct layer *top)
{
    static _Thread_local char why[600];
    size_t cap = 64, n = 0;
    for (const struct layer *l = top; l; l = l->parent)
        cap += l->n_ext + 1;
    struct span *sp = malloc(cap * sizeof *sp);
    if (!sp)
        return NULL;
    n = chain_spans(top, sp, cap);
    const char *reason = NULL;
    for (size_t i = 0; i < n && !reason; i++)
        for (size_t j = i + 1; j < n && !reason; j++) {
            const struct span *a = &sp[i], *b = &sp[j];
            if ((a->written || b->written) && a->dev == b->dev && a->ino == b->ino &&
                a->lo < b->hi && b->lo < a->hi) {
                snprintf(why, sizeof why, "has extents sharing bytes of one file (%s and %s), "
                         "so vmplay never writes to it", a->what, b->what);
                reason = why;
            }
        }
    free(sp);
    return reason;
}

static const char *unwritable_reason(const struct layer *l)
{
    const char *alias = aliasing_reason(l);
    if (alias)
        return alias;
    for (size_t i = 0; i < l->n_ext; i++) {
        const struct extent *e = &l->ext[i];
        if (e->d.access == VMDK_RDONLY)
            return "has read-only (RDONLY) extents";
        if (e->d.type == VMDK_EXT_ZERO)
            return "has ZERO extents";
        if (e->sp && sparse_info(e->sp)->cowd)
            return "is a vmfsSparse (COWD) disk, which vmplay only reads";
        if (e->sp && sparse_info(e->sp)->stream)
            return "is streamOptimized (compressed; never written in place)";
        if (e->sp && sparse_info(e->sp)->version == 3)
            return "has a version 3 sparse header (changed block tracking), read only here";
        if (e->sp && sparse_info(e->sp)->damage[0]) {
            static _Thread_local char why[400];
            snprintf(why, sizeof why, "has inconsistent metadata in %s (%s), so vmplay never "
                     "writes to it (repair it with qemu-img check -r all or "
                     "vmware-vdiskmanager -R)", e->path, sparse_info(e->sp)->damage);
            return why;
        }
    }
    return NULL;
}

/* ---- I/O ---- */

static struct extent *find_extent(struct layer *l, uint64_t sector)
{
    size_t lo = 0, hi = l->n_ext;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (l->ext[mid].start <= sector)
            lo = mid;
        else
            hi = mid;
    }
    return &l->ext[lo];
}

static int layer_read(struct layer *l, uint64_t sector, uint32_t count, uint8_t *buf);

/* Sectors a sparse extent does not hold: the parent layer's, or zeros. */
static int fallback(void *opaque, uint64_t sector, uint32_t count, uint8_t *buf)
{
    struct extent *e = opaque;
    uint32_t n = count;
    if (sector >= e->d.sectors)
        n = 0;
    else if (e->d.sectors - sector < n)
        n = (uint32_t)(e->d.sectors - sector);
    memset(buf + (size_t)n * BLOCKDEV_SECTOR, 0, (size_t)(count - n) * BLOCKDEV_SECTOR);
    if (!e->owner->parent) {
        memset(buf, 0, (size_t)n * BLOCKDEV_SECTOR);
        return 0;
    }
    return layer_read(e->owner->parent, e->start + sector, n, buf);
}

static int extent_read(struct extent *e, uint64_t off, uint32_t n, uint8_t *buf)
{
    switch (e->d.type) {
    case VMDK_EXT_ZERO:
        memset(buf, 0, (size_t)n * BLOCKDEV_SECTOR);
        return 0;
    case VMDK_EXT_FLAT:
    case VMDK_EXT_VMFS:
        return vmdk_pread(e->fd, buf, (size_t)n * BLOCKDEV_SECTOR,
                          (e->d.offset + off) * BLOCKDEV_SECTOR);
    default:
        return sparse_read(e->sp, off, n, buf, fallback, e);
    }
}

static int layer_read(struct layer *l, uint64_t sector, uint32_t count, uint8_t *buf)
{
    while (count) {
        if (sector >= l->sectors) {
            memset(buf, 0, (size_t)count * BLOCKDEV_SECTOR);
            return 0;
        }
        struct extent *e = find_extent(l, sector);
        uint64_t off = sector - e->start;
        uint32_t n = e->d.sectors - off < count ? (uint32_t)(e->d.sectors - off) : count;
        int r = e->d.access == VMDK_NOACCESS ? -EIO : extent_read(e, off, n, buf);
        if (r)
            return r;
        sector += n, count -= n, buf += (size_t)n * BLOCKDEV_SECTOR;
    }
    return 0;
}

static int replace_file(const char *path, const char *text, size_t len)
{
    char *tmp, *dcopy = strdup(path);
    struct stat st;
    if (!dcopy || asprintf(&tmp, "%s.vmplay-tmp", path) < 0) {
        free(dcopy);
        return -ENOMEM;
    }
    int r = stat(path, &st) ? -errno : 0;
    int fd = r ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
    if (!r && fd < 0)
        r = -errno;
    if (!r)
        r = vmdk_pwrite(fd, text, len, 0);
    if (!r && fsync(fd))
        r = -errno;
    if (fd >= 0)
        close(fd);
    if (!r && rename(tmp, path))
        r = -errno;
    if (r)
        unlink(tmp);
    int dfd = r ? -1 : open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd))
            r = -errno;
        close(dfd);
    }
    free(tmp);
    free(dcopy);
    return r;
}

static uint32_t new_cid(uint32_t old)
{
    uint32_t c = old;
    while (c == old || c == VMDK_CID_NONE)
        if (getrandom(&c, sizeof c, 0) != sizeof c)
            c = old + 1;
    return c;
}

/* Before the first data write: a new CID, so snapshots of the old contents notice. */
static int renew_cid(struct layer *l)
{
    if (l->cid_done || !l->text || !l->desc.has_cid)
        return 0;
    uint32_t cid = new_cid(l->desc.cid);
    size_t len;
    char *t = vmdk_desc_with_cid(l->text, l->text_len, cid, &len);
    if (!t)
        return -ENOMEM;
    int r = l->embedded ? sparse_write_descriptor(l->ext[0].sp, t, len)
                        : replace_file(l->path, t, len);
    if (r) {
        free(t);
        return r;
    }
    free(l->text);
    l->text = t;
    l->text_len = len;
    l->desc.cid = cid;
    l->cid_done = true;
    return 0;
}

static int extent_write(struct extent *e, uint64_t off, uint32_t n, const uint8_t *buf)
{
    if (e->d.access != VMDK_RW)
        return e->d.access == VMDK_NOACCESS ? -EIO : -EROFS;
    e->written = true;
    switch (e->d.type) {
    case VMDK_EXT_FLAT:
    case VMDK_EXT_VMFS:
        return vmdk_pwrite(e->fd, buf, (size_t)n * BLOCKDEV_SECTOR,
                           (e->d.offset + off) * BLOCKDEV_SECTOR);
    case VMDK_EXT_ZERO:
        return -EROFS;
    default:
        return sparse_write(e->sp, off, n, buf, fallback, e);
    }
}

static int vmdk_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct vmdk *v = (struct vmdk *)bd;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    return layer_read(v->top, sector, count, buf);
}

static int vmdk_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    struct vmdk *v = (struct vmdk *)bd;
    const uint8_t *p = buf;
    if (bd->read_only)
        return -EROFS;
    if (sector > bd->sectors || count > bd->sectors - sector)
        return -EIO;
    int r = renew_cid(v->top);
    while (!r && count) {
        struct extent *e = find_extent(v->top, sector);
        uint64_t off = sector - e->start;
        uint32_t n = e->d.sectors - off < count ? (uint32_t)(e->d.sectors - off) : count;
        r = extent_write(e, off, n, p);
        sector += n, count -= n, p += (size_t)n * BLOCKDEV_SECTOR;
    }
    return r;
}

static int vmdk_flush(struct blockdev *bd)
{
    struct vmdk *v = (struct vmdk *)bd;
    int rc = 0;
    for (size_t i = 0; i < v->top->n_ext; i++) {
        struct extent *e = &v->top->ext[i];
        int r = e->sp ? sparse_flush(e->sp) : e->written && fdatasync(e->fd) ? -errno : 0;
        if (!r && !e->sp)
            e->written = false;
        if (r && !rc)
            rc = r;
    }
    return rc;
}

static int vmdk_commit(struct blockdev *bd)
{
    struct vmdk *v = (struct vmdk *)bd;
    int rc = 0;
    for (size_t i = 0; i < v->top->n_ext; i++) {
        int r = v->top->ext[i].sp ? sparse_commit(v->top->ext[i].sp) : 0;
        if (r && !rc)
            rc = r;
    }
    return rc;
}

static void vmdk_close(struct blockdev *bd)
{
    struct vmdk *v = (struct vmdk *)bd;
    vmdk_flush(bd);
    for (size_t i = 0; i < v->top->n_ext; i++)
        if (v->top->ext[i].sp && v->top->writable)
            sparse_close_clean(v->top->ext[i].sp);
    layer_free(v->top);
    free(v);
}

static void vmdk_describe(struct blockdev *bd, char *buf, size_t len)
{
    struct vmdk *v = (struct vmdk *)bd;
    size_t n = (size_t)snprintf(buf, len, "%s, %llu MiB (%llu sectors), %s, chain:", v->format,
                                (unsigned long long)(bd->sectors >> 11),
                                (unsigned long long)bd->sectors,
                                bd->read_only ? "read-only" : "read-write");
    for (struct layer *l = v->top; l && n < len; l = l->parent) {
        bool unclean = false;
        for (size_t i = 0; i < l->n_ext; i++)
            unclean |= l->ext[i].sp && sparse_info(l->ext[i].sp)->unclean;
        n += (size_t)snprintf(buf + n, len - n, "%s %s [%s, CID %08x, %zu extent%s%s]",
                              l == v->top ? "" : " <-", l->path, l->desc.create_type, l->desc.cid,
                              l->n_ext, l->n_ext == 1 ? "" : "s",
                              unclean ? ", not closed cleanly: tables checked" : "");
    }
}

static const struct blockdev_ops vmdk_ops = {
    .read = vmdk_read,
    .write = vmdk_write,
    .flush = vmdk_flush,
    .close = vmdk_close,
    .describe = vmdk_describe,
    .commit = vmdk_commit,
};

bool vmdk_probe(const uint8_t *buf, size_t len)
{
    if (len >= 4 && (!memcmp(buf, "KDMV", 4) || !memcmp(buf, "COWD", 4)))
        return true;
    return vmdk_desc_probe(buf, len);
}

int vmdk_adapter_type(const char *path, char *out, size_t len)
{
    static const char key[] = "ddb.adapterType";
    struct layer *l = NULL;
    struct error err;
    int rc = -1;
    out[0] = 0;
    if (layer_open(path, false, &l, &err) == 0 && l->text) {
        for (const char *p = l->text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
            p += strspn(p, " \t");
            if (strncasecmp(p, key, sizeof key - 1) != 0)
                continue;
            const char *v = p + sizeof key - 1;
            v += strspn(v, " \t");
            if (*v++ != '=')
                continue;
            v += strspn(v, " \t\"");
            size_t n = strcspn(v, "\"\r\n \t");
            if (n && n < len) {
                memcpy(out, v, n);
                out[n] = 0;
                rc = 0;
            }
            break;
        }
    }
    layer_free(l);
    return rc;
}

int vmdk_open(const char *path, const struct blockdev_open_opts *opts, struct blockdev **out,
              struct error *err)
{
    bool want_write = !opts->read_only && !opts->snapshot;
    struct layer *top;
    if (chain_open(path, false, &top, err))
        return -1;
    const char *why = unwritable_reason(top);
    bool writable = want_write && !why;
    if (writable) {
        layer_free(top);
        if (chain_open(path, true, &top, err))
            return -1;
    }
    struct vmdk *v = calloc(1, sizeof *v);
    if (!v) {
        layer_free(top);
        return error_set(err, EX_OSERR, "out of memory");
    }
    v->top = top;
    snprintf(v->format, sizeof v->format, "vmdk %s", top->desc.create_type);
    v->bd = (struct blockdev){.ops = &vmdk_ops, .sectors = top->sectors, .read_only = !writable,
                              .format = v->format};
    *out = &v->bd;
    if (!want_write || !why)
        return 0;
    char warn[1024];
    snprintf(warn, sizeof warn,
             "%s %s: guest writes go to a copy-on-write overlay in memory and are lost at exit",
             path, why);
    return overlay_new(&v->bd, warn, out, err);
}
