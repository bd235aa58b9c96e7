/*
 * OVF packages on disk: the .ova as a POSIX tar (ustar, with pax 'x' and GNU
 * 'L' long names and base-256 sizes), its manifest ("SHA1(name)= hex",
 * SHA256, SHA512; DSP0243 section 5.3) checked before anything else is used,
 * and ovf_load, which turns the envelope into a struct vm_config through the
 * .vmx path (formats/ovf.c, then vmx_parse and config_build) and points each
 * disk at its bytes inside the package. A .ovf is the same with every file
 * beside it. The package is only ever opened read-only.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "formats/ovf.h"
#include "formats/vmdk.h"
#include "formats/vmx.h"

#define TAR_BLOCK 512u
#define NAME_MAX_LEN 1024

struct member {
    char *name;
    uint64_t off, size; /* data bytes in the package (for a .ovf: the whole file) */
    char *path;         /* the file holding it */
};

struct pkg {
    const char *path;
    bool ova;
    char *dir; /* the package's folder */
    struct member *m;
    size_t n;
};

bool ovf_is_package(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && (!strcasecmp(path + n - 4, ".ova") || !strcasecmp(path + n - 4, ".ovf"));
}

static void pkg_free(struct pkg *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->m[i].name), free(p->m[i].path);
    free(p->m);
    free(p->dir);
}

static const struct member *find(const struct pkg *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->m[i].name, name))
            return &p->m[i];
    return NULL;
}

/* ---- tar ---- */

static bool octal(const uint8_t *f, size_t len, uint64_t *out)
{
    if (f[0] & 0x80) { /* base-256 (GNU, star) */
        uint64_t v = f[0] & 0x7f;
        for (size_t i = 1; i < len; i++) {
            if (v >> 55)
                return false;
            v = v << 8 | f[i];
        }
        *out = v;
        return true;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return false;
        v = v << 3 | (uint64_t)(f[i] - '0');
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != 0)
            return false;
    *out = v;
    return true;
}

static bool checksum_ok(const uint8_t *h)
{
    uint64_t want;
    if (!octal(h + 148, 8, &want))
        return false;
    uint64_t sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == want;
}

static char *field_str(const uint8_t *f, size_t len)
{
    size_t n = strnlen((const char *)f, len);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, f, n);
        s[n] = 0;
    }
    return s;
}

/* pax records "len key=value\n": path and size override the next header's. */
static void pax_records(const char *b, size_t len, char **path, uint64_t *size, bool *has_size)
{
    size_t at = 0;
    while (at < len) {
        char *end;
        unsigned long long rl = strtoull(b + at, &end, 10);
        if (end == b + at || *end != ' ' || rl == 0 || rl > len - at)
            return;
        const char *rec = end + 1, *stop = b + at + rl - 1; /* stop: the '\n' */
        const char *eq = memchr(rec, '=', (size_t)(stop - rec));
        if (eq && *stop == '\n') {
            size_t kl = (size_t)(eq - rec), vl = (size_t)(stop - eq - 1);
            if (kl == 4 && !memcmp(rec, "path", 4) && vl < NAME_MAX_LEN) {
                free(*path);
                if ((*path = malloc(vl + 1))) {
                    memcpy(*path, eq + 1, vl);
                    (*path)[vl] = 0;
                }
            } else if (kl == 4 && !memcmp(rec, "size", 4) && vl < 21) {
                char t[24];
                memcpy(t, eq + 1, vl);
                t[vl] = 0;
                *size = strtoull(t, NULL, 10);
                *has_size = true;
            }
        }
        at += rl;
    }
}

static int read_ext(int fd, uint64_t off, uint64_t size, char **out)
{
    if (size > 65536)
        return -1;
    char *b = malloc((size_t)size + 1);
    if (!b || vmdk_pread(fd, b, (size_t)size, off)) {
        free(b);
        return -1;
    }
    b[size] = 0;
    *out = b;
    return 0;
}

static int add_member(struct pkg *p, char *name, uint64_t off, uint64_t size, struct error *err)
{
    if (p->n >= OVF_MAX_MEMBERS) {
        free(name);
        return error_set(err, EX_DATAERR, "%s: more than %u files in the package", p->path,
                         OVF_MAX_MEMBERS);
    }
    struct member *m = realloc(p->m, (p->n + 1) * sizeof *m);
    if (!m) {
        free(name);
        return error_set(err, EX_OSERR, "out of memory");
    }
    p->m = m;
    char *n = name;
    while (!strncmp(n, "./", 2))
        n += 2;
    memmove(name, n, strlen(n) + 1);
    p->m[p->n++] = (struct member){.name = name, .off = off, .size = size,
                                   .path = strdup(p->path)};
    return p->m[p->n - 1].path ? 0 : error_set(err, EX_OSERR, "out of memory");
}

static int tar_scan(struct pkg *p, int fd, uint64_t file_size, struct error *err)
{
    uint64_t at = 0;
    char *long_name = NULL;
    uint64_t pax_size = 0;
    bool has_pax_size = false;
    int rc = 0;
    while (at + TAR_BLOCK <= file_size) {
        uint8_t h[TAR_BLOCK];
        if (vmdk_pread(fd, h, sizeof h, at)) {
            rc = error_set(err, EX_IOERR, "%s: %s", p->path, strerror(errno));
            break;
        }
        bool zero = true;
        for (size_t i = 0; i < TAR_BLOCK && zero; i++)
            zero = !h[i];
        if (zero)
            break; /* end of archive */
        uint64_t size;
        if (!checksum_ok(h) || !octal(h + 124, 12, &size)) {
            rc = error_set(err, EX_DATAERR, "%s: not a tar archive (bad header at byte %llu)",
                           p->path, (unsigned long long)at);
            break;
        }
        if (has_pax_size)
            size = pax_size;
        uint64_t data = at + TAR_BLOCK;
        if (size > file_size - data) {
            rc = error_set(err, EX_DATAERR, "%s: truncated (a member of %llu bytes at byte %llu "
                           "runs past the end)", p->path, (unsigned long long)size,
                           (unsigned long long)data);
            break;
        }
        char type = (char)h[156];
        if (type == 'x' || type == 'L') {
            char *b = NULL;
            if (read_ext(fd, data, size, &b)) {
                rc = error_set(err, EX_DATAERR, "%s: an extended header at byte %llu is too "
                               "large or unreadable", p->path, (unsigned long long)at);
                break;
            }
            if (type == 'L') {
                free(long_name);
                long_name = b;
                b = NULL;
            } else
                pax_records(b, (size_t)size, &long_name, &pax_size, &has_pax_size);
            free(b);
        } else {
            if (type == '0' || type == 0 || type == '7') {
                char *name = long_name;
                long_name = NULL;
                if (!name) {
                    char *n = field_str(h, 100), *pre = !memcmp(h + 257, "ustar", 5)
                                                          ? field_str(h + 345, 155) : strdup("");
                    if (n && pre && (name = malloc(strlen(n) + strlen(pre) + 2)))
                        sprintf(name, "%s%s%s", pre, *pre ? "/" : "", n);
                    free(n), free(pre);
                }
                if (!name) {
                    rc = error_set(err, EX_OSERR, "out of memory");
                    break;
                }
                if ((rc = add_member(p, name, data, size, err)))
                    break;
            }
            free(long_name);
            long_name = NULL;
            has_pax_size = false;
        }
        at = data + (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    }
    free(long_name);
    if (!rc && !p->n)
        rc = error_set(err, EX_DATAERR, "%s: not a tar archive (no files in it)", p->path);
    return rc;
}

/* ---- manifest ---- */

struct digest {
    const char *name;
    size_t len;
    void (*init)(void *), (*update)(void *, size_t, const uint8_t *),
        (*digest)(void *, size_t, uint8_t *);
};

union hash_ctx { struct sha1_ctx s1; struct sha256_ctx s256; struct sha512_ctx s512; };

static const struct digest digests[] = {
    {"SHA1", SHA1_DIGEST_SIZE, (void (*)(void *))sha1_init,
     (void (*)(void *, size_t, const uint8_t *))sha1_update,
     (void (*)(void *, size_t, uint8_t *))sha1_digest},
    {"SHA256", SHA256_DIGEST_SIZE, (void (*)(void *))sha256_init,
     (void (*)(void *, size_t, const uint8_t *))sha256_update,
     (void (*)(void *, size_t, uint8_t *))sha256_digest},
    {"SHA512", SHA512_DIGEST_SIZE, (void (*)(void *))sha512_init,
     (void (*)(void *, size_t, const uint8_t *))sha512_update,
     (void (*)(void *, size_t, uint8_t *))sha512_digest},
};

static int hash_member(const struct member *m, const struct digest *d, uint8_t *out)
{
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t chunk = 1u << 20;
    uint8_t *b = malloc(chunk);
    union hash_ctx ctx;
    d->init(&ctx);
    int r = b ? 0 : -ENOMEM;
    for (uint64_t done = 0; !r && done < m->size; done += chunk) {
        size_t n = m->size - done < chunk ? (size_t)(m->size - done) : chunk;
        if (!(r = vmdk_pread(fd, b, n, m->off + done)))
            d->update(&ctx, n, b);
    }
    d->digest(&ctx, d->len, out);
    free(b);
    close(fd);
    return r;
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* One line "ALG(name)= hex". */
static int check_line(const struct pkg *p, const char *mf, const char *line, int lineno,
                      struct error *err)
{
    const struct digest *d = NULL;
    const char *open_p = strchr(line, '('), *close_p = strrchr(line, ')');
    for (size_t i = 0; open_p && i < sizeof digests / sizeof digests[0]; i++)
        if ((size_t)(open_p - line) == strlen(digests[i].name) &&
            !strncasecmp(line, digests[i].name, (size_t)(open_p - line)))
            d = &digests[i];
    if (!d || !close_p || close_p < open_p || close_p[1] != '=')
        return error_set(err, EX_DATAERR, "%s: %s line %d is not \"SHA1(file)= digest\" (or "
                         "SHA256, SHA512)", p->path, mf, lineno);
    char name[NAME_MAX_LEN];
    size_t nl = (size_t)(close_p - open_p - 1);
    if (nl >= sizeof name)
        return error_set(err, EX_DATAERR, "%s: %s line %d: file name too long", p->path, mf,
                         lineno);
    memcpy(name, open_p + 1, nl);
    name[nl] = 0;
    uint8_t want[SHA512_DIGEST_SIZE], got[SHA512_DIGEST_SIZE];
    const char *h = close_p + 2;
    h += strspn(h, " \t");
    size_t i = 0;
    for (; i < d->len && hexval((unsigned char)h[2 * i]) >= 0 &&
           hexval((unsigned char)h[2 * i + 1]) >= 0; i++)
        want[i] = (uint8_t)(hexval((unsigned char)h[2 * i]) << 4 | hexval((unsigned char)h[2 * i + 1]));
    if (i != d->len || (h[2 * i] && !isspace((unsigned char)h[2 * i])))
        return error_set(err, EX_DATAERR, "%s: %s line %d: not a %s digest", p->path, mf, lineno,
                         d->name);
    const struct member *m = find(p, name);
    if (!m)
        return error_set(err, EX_DATAERR, "%s: the manifest %s lists %s, which the package does "
                         "not hold", p->path, mf, VMX_PRINTABLE(name));
    int r = hash_member(m, d, got);
    if (r)
        return error_set(err, EX_IOERR, "%s: %s: %s", p->path, name, strerror(-r));
    if (memcmp(want, got, d->len))
        return error_set(err, EX_DATAERR, "%s: %s does not match its %s digest in the manifest "
                         "%s (the package is damaged or was changed)", p->path, name, d->name, mf);
    return 0;
}

static char *read_member(const struct member *m, size_t max, struct error *err)
{
    if (m->size > max) {
        error_set(err, EX_DATAERR, "%s: %s is larger than %zu KiB", m->path, m->name, max >> 10);
        return NULL;
    }
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    char *b = fd < 0 ? NULL : malloc((size_t)m->size + 1);
    if (!b || vmdk_pread(fd, b, (size_t)m->size, m->off)) {
        error_set(err, EX_IOERR, "%s: %s: %s", m->path, m->name, strerror(errno));
        free(b);
        b = NULL;
    } else
        b[m->size] = 0;
    if (fd >= 0)
        close(fd);
    return b;
}

static int check_manifest(const struct pkg *p, const struct member *ovf, struct error *err)
{
    char mf[NAME_MAX_LEN + 4];
    snprintf(mf, sizeof mf, "%.*s.mf", (int)(strlen(ovf->name) - 4), ovf->name);
    const struct member *m = find(p, mf);
    if (!m)
        return 0;
    char *text = read_member(m, 1u << 20, err);
    if (!text)
        return -1;
    int lineno = 0, rc = 0;
    for (char *line = text, *next; line && *line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = 0;
        if (n)
            rc = check_line(p, mf, line, lineno, err);
    }
    free(text);
    return rc;
}

/* ---- the package ---- */

static int dir_scan(struct pkg *p, struct error *err)
{
    /* a .ovf: its own member, its manifest, and (added on demand) the files it names */
    char *base = strdup(p->path);
    if (!base)
        return error_set(err, EX_OSERR, "out of memory");
    char *name = strdup(basename(base));
    free(base);
    struct stat st;
    if (!name || stat(p->path, &st))
        return free(name), error_set(err, error_code_for_errno(errno), "%s: %s", p->path,
                                     strerror(errno));
    p->m = calloc(1, sizeof *p->m);
    if (!p->m || !(p->m[0].path = strdup(p->path)))
        return free(name), error_set(err, EX_OSERR, "out of memory");
    p->m[0].name = name;
    p->m[0].size = (uint64_t)st.st_size;
    p->n = 1;
    return 0;
}

/* For a .ovf: the file name beside it, as a member (NULL when absent). */
static const struct member *dir_member(struct pkg *p, const char *name)
{
    const struct member *m = find(p, name);
    if (m || p->ova || strstr(name, "..") || name[0] == '/')
        return m;
    char *path = malloc(strlen(p->dir) + strlen(name) + 2);
    struct stat st;
    if (!path)
        return NULL;
    sprintf(path, "%s/%s", p->dir, name);
    struct member *nm = stat(path, &st) || !S_ISREG(st.st_mode)
                            ? NULL : realloc(p->m, (p->n + 1) * sizeof *p->m);
    char *dn = nm ? strdup(name) : NULL;
    if (!dn) {
        free(path);
        return NULL;
    }
    p->m = nm;
    p->m[p->n] = (struct member){.name = dn, .size = (uint64_t)st.st_size, .path = path};
    return &p->m[p->n++];
}

static int open_pkg(struct pkg *p, struct error *err)
{
    char *t = strdup(p->path);
    if (!t)
        return error_set(err, EX_OSERR, "out of memory");
    char *r = realpath(dirname(t), NULL);
    free(t);
    if (!r)
        return error_set(err, error_code_for_errno(errno), "%s: %s", p->path, strerror(errno));
    p->dir = r;
    if (!p->ova)
        return dir_scan(p, err);
    int fd = open(p->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return error_set(err, error_code_for_errno(e), "%s: %s", p->path, strerror(e));
    }
    int rc = S_ISREG(st.st_mode) ? tar_scan(p, fd, (uint64_t)st.st_size, err)
                                 : error_set(err, EX_DATAERR, "%s: not a file", p->path);
    close(fd);
    return rc;
}

static const struct member *envelope(const struct pkg *p, struct error *err)
{
    for (size_t i = 0; i < p->n; i++) {
        size_t n = strlen(p->m[i].name);
        if (n > 4 && !strcasecmp(p->m[i].name + n - 4, ".ovf") && !strchr(p->m[i].name, '/'))
            return &p->m[i];
    }
    error_set(err, EX_DATAERR, "%s: no .ovf envelope in the package", p->path);
    return NULL;
}

/* "<package>.overlay/<member>.cow", with '/' in the member's name as '_'. */
static char *overlay_path(const struct pkg *p, const char *member)
{
    size_t n = strlen(p->path) + strlen(member) + 16;
    char *s = malloc(n);
    if (!s)
        return NULL;
    int k = snprintf(s, n, "%s.overlay/", p->path);
    for (char *c = s + k + snprintf(s + k, n - (size_t)k, "%s.cow", member) - 4; c >= s + k; c--)
        if (*c == '/')
            *c = '_';
    return s;
}

/* Each disk's file name (a File href) -> its bytes in the package and its overlay. */
static int place_disks(struct pkg *p, struct vm_config *c, struct error *err)
{
    for (size_t i = 0; i < c->ndisks; i++) {
        struct vm_disk *d = &c->disks[i];
        if (d->type != VM_DISK_HDD || !d->file_name || !*d->file_name)
            continue;
        const struct member *m = dir_member(p, d->file_name);
        if (!m)
            return error_set(err, p->ova ? EX_DATAERR : EX_NOINPUT, "%s: %s: the disk %s is not %s",
                             p->path, d->slot, VMX_PRINTABLE(d->file_name),
                             p->ova ? "in the package" : "beside the .ovf");
        char *path = strdup(m->path), *ov = overlay_path(p, d->file_name);
        if (!path || !ov) {
            free(path), free(ov);
            return error_set(err, EX_OSERR, "out of memory");
        }
        free(d->path);
        d->path = path;
        d->overlay = ov;
        d->window_off = m->off;
        d->window_len = m->size ? m->size : 1;
    }
    return 0;
}

int ovf_load(const char *path, struct vm_config **out, FILE *warn, struct error *err)
{
    size_t n = strlen(path);
    struct pkg p = {.path = path, .ova = n >= 4 && !strcasecmp(path + n - 4, ".ova")};
    char *xml = NULL, *vmx_text = NULL;
    struct vmx *v = NULL;
    const struct member *env;
    int rc = -1;
    if (open_pkg(&p, err) || !(env = envelope(&p, err)))
        goto out;
    if (!p.ova) { /* the manifest and the files it names lie beside the .ovf */
        char mf[NAME_MAX_LEN + 4];
        snprintf(mf, sizeof mf, "%.*s.mf", (int)(strlen(env->name) - 4), env->name);
        char *text = NULL;
        const struct member *m = dir_member(&p, mf);
        if (m && (text = read_member(m, 1u << 20, err)) == NULL)
            goto out;
        for (char *l = text, *nx; l && *l; l = nx) { /* add every file the manifest names */
            nx = strchr(l, '\n');
            char *o = strchr(l, '('), *c = o ? strchr(o, ')') : NULL;
            if (c && (!nx || c < nx)) {
                char name[NAME_MAX_LEN];
                snprintf(name, sizeof name, "%.*s", (int)(c - o - 1), o + 1);
                dir_member(&p, name);
            }
            nx = nx ? nx + 1 : NULL;
        }
        free(text);
        env = envelope(&p, err);
    }
    if (check_manifest(&p, env, err) || !(xml = read_member(env, OVF_MAX_ENVELOPE, err)))
        goto out;
    if (ovf_to_vmx(xml, (size_t)env->size, path, &vmx_text, warn, err))
        goto out;
    char name[NAME_MAX_LEN + 32];
    snprintf(name, sizeof name, "%s [as .vmx]", path);
    if (vmx_parse(vmx_text, strlen(vmx_text), name, &v, err) ||
        config_build(v, path, out, err))
        goto out;
    if (place_disks(&p, *out, err)) {
        config_free(*out);
        *out = NULL;
        goto out;
    }
    rc = 0;
out:
    vmx_free(v);
    free(vmx_text);
    free(xml);
    pkg_free(&p);
    return rc;
}
