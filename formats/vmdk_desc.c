/*
 * The VMDK text descriptor: `key = "value"` lines (version, CID, parentCID,
 * createType, parentFileNameHint, ddb.* ...) and extent lines
 * `ACCESS SECTORS TYPE ["file" [offset]]`, with comments and blank lines
 * anywhere. Parsing is strict about what matters (numbers, known types) and
 * keeps everything else; rewriting changes only the CID line.
 */
#include "formats/vmdk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const create_types[] = {
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
    "streamOptimized", "vmfs", "vmfsSparse", "custom", "vmfsPreallocated",
    "vmfsEagerZeroedThick", "vmfsThin",
};

struct line {
    const char *p;
    size_t len;
    unsigned no;
};

static void trim(const char **p, size_t *len)
{
    while (*len && isspace((unsigned char)**p))
        (*p)++, (*len)--;
    while (*len && isspace((unsigned char)(*p)[*len - 1]))
        (*len)--;
}

static void unquote(const char **p, size_t *len)
{
    if (*len >= 2 && (*p)[0] == '"' && (*p)[*len - 1] == '"')
        (*p)++, *len -= 2;
}

static bool word_is(const char *p, size_t len, const char *w)
{
    return strlen(w) == len && strncasecmp(p, w, len) == 0;
}

static int parse_u64(const char *p, size_t len, int base, uint64_t max, uint64_t *out)
{
    char tmp[32];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, p, len);
    tmp[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (!(base == 16 ? isxdigit((unsigned char)tmp[i]) : isdigit((unsigned char)tmp[i])))
            return -1;
    unsigned long long v = strtoull(tmp, NULL, base);
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static char *dupn(const char *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = 0;
    }
    return s;
}

static int bad(struct error *err, const struct line *l, const char *what)
{
    int n = (int)(l->len > 60 ? 60 : l->len);
    return error_set(err, EX_DATAERR, "descriptor line %u: %s: \"%.*s\"", l->no, what, n, l->p);
}

static int parse_access(const char *w, size_t n, enum vmdk_access *a)
{
    if (word_is(w, n, "RW"))
        *a = VMDK_RW;
    else if (word_is(w, n, "RDONLY"))
        *a = VMDK_RDONLY;
    else if (word_is(w, n, "NOACCESS"))
        *a = VMDK_NOACCESS;
    else
        return -1;
    return 0;
}

static int parse_type(const char *w, size_t n, enum vmdk_ext_type *t)
{
    static const struct { const char *name; enum vmdk_ext_type t; } types[] = {
        {"SPARSE", VMDK_EXT_SPARSE}, {"FLAT", VMDK_EXT_FLAT}, {"ZERO", VMDK_EXT_ZERO},
        {"VMFS", VMDK_EXT_VMFS}, {"VMFSSPARSE", VMDK_EXT_VMFSSPARSE},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (word_is(w, n, types[i].name)) {
            *t = types[i].t;
            return 0;
        }
    return -1;
}

/* Next whitespace-separated word of [*p, end). */
static size_t next_word(const char **p, const char *end)
{
    while (*p < end && isspace((unsigned char)**p))
        (*p)++;
    const char *s = *p;
    while (*p < end && !isspace((unsigned char)**p))
        (*p)++;
    size_t n = (size_t)(*p - s);
    *p = s;
    return n;
}

static int parse_extent(const struct line *l, struct vmdk_desc *d, struct error *err)
{
    const char *p = l->p, *end = l->p + l->len;
    struct vmdk_desc_extent e = {0};
    size_t n = next_word(&p, end);
    if (parse_access(p, n, &e.access))
        return bad(err, l, "unknown extent access");
    p += n;
    n = next_word(&p, end);
    if (parse_u64(p, n, 10, UINT64_MAX >> 10, &e.sectors) || e.sectors == 0)
        return bad(err, l, "bad extent size");
    p += n;
    n = next_word(&p, end);
    if (parse_type(p, n, &e.type))
        return bad(err, l, "unsupported extent type (raw devices and seSparse are not supported)");
    p += n;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (e.type != VMDK_EXT_ZERO) {
        const char *q = p < end && *p == '"' ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
        if (!q || q == p + 1)
            return bad(err, l, "extent needs a quoted file name");
        e.file = dupn(p + 1, (size_t)(q - p - 1));
        p = q + 1;
        n = next_word(&p, end);
        if (n && (parse_u64(p, n, 10, UINT64_MAX >> 10, &e.offset) ||
                  (e.type != VMDK_EXT_FLAT && e.type != VMDK_EXT_VMFS))) {
            free(e.file);
            return bad(err, l, "bad extent offset");
        }
    }
    if (d->n_ext >= VMDK_MAX_EXTENTS) {
        free(e.file);
        return bad(err, l, "too many extents");
    }
    struct vmdk_desc_extent *ne = realloc(d->ext, (d->n_ext + 1) * sizeof *ne);
    if (!ne) {
        free(e.file);
        return error_set(err, EX_OSERR, "out of memory");
    }
    d->ext = ne;
    d->ext[d->n_ext++] = e;
    return 0;
}

static int parse_create_type(const struct line *l, const char *v, size_t vn, struct vmdk_desc *d,
                             struct error *err)
{
    for (size_t i = 0; i < sizeof create_types / sizeof create_types[0]; i++)
        if (word_is(v, vn, create_types[i])) {
            snprintf(d->create_type, sizeof d->create_type, "%s", create_types[i]);
            return 0;
        }
    static const char *const raw_types[] = {
        "vmfsRawDeviceMap", "vmfsPassthroughRawDeviceMap", "fullDevice", "partitionedDevice",
    };
    for (size_t i = 0; i < sizeof raw_types / sizeof raw_types[0]; i++)
        if (word_is(v, vn, raw_types[i]))
            return bad(err, l, "unsupported createType (raw device mappings are not supported)");
    if (word_is(v, vn, "seSparse") || word_is(v, vn, "vsanSparse"))
        return bad(err, l, "unsupported createType (ESXi's seSparse/vsanSparse are not supported)");
    return bad(err, l, "unknown createType");
}

static int parse_key(const struct line *l, struct vmdk_desc *d, struct error *err)
{
    const char *eq = memchr(l->p, '=', l->len);
    if (!eq)
        return bad(err, l, "neither key = value nor an extent");
    const char *k = l->p, *v = eq + 1;
    size_t kn = (size_t)(eq - l->p), vn = l->len - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    unquote(&v, &vn);
    uint64_t x;
    if (word_is(k, kn, "version")) {
        if (parse_u64(v, vn, 10, 3, &x) || x < 1)
            return bad(err, l, "unsupported descriptor version");
        d->version = (unsigned)x;
    } else if (word_is(k, kn, "CID") || word_is(k, kn, "parentCID")) {
        if (parse_u64(v, vn, 16, UINT32_MAX, &x))
            return bad(err, l, "bad content ID");
        if (kn == 3) {
            d->cid = (uint32_t)x;
            d->has_cid = true;
        } else {
            d->parent_cid = (uint32_t)x;
        }
    } else if (word_is(k, kn, "createType")) {
        return parse_create_type(l, v, vn, d, err);
    } else if (word_is(k, kn, "parentFileNameHint")) {
        free(d->parent_hint);
        d->parent_hint = vn ? dupn(v, vn) : NULL;
    } else if (kn > 4 && strncasecmp(k, "ddb.", 4) == 0) {
        d->n_ddb++;
    }
    return 0;
}

static int parse_line(const struct line *l, struct vmdk_desc *d, struct error *err)
{
    const char *p = l->p, *end = l->p + l->len;
    size_t n = next_word(&p, end);
    enum vmdk_access a;
    if (n && parse_access(p, n, &a) == 0)
        return parse_extent(l, d, err);
    return parse_key(l, d, err);
}

int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d, struct error *err)
{
    memset(d, 0, sizeof *d);
    d->parent_cid = VMDK_CID_NONE;
    if (len > VMDK_DESC_MAX)
        return error_set(err, EX_DATAERR, "descriptor larger than %u bytes", VMDK_DESC_MAX);
    struct line l = {text, 0, 0};
    const char *end = text + len;
    while (l.p < end) {
        const char *nl = memchr(l.p, '\n', (size_t)(end - l.p));
        size_t raw = nl ? (size_t)(nl - l.p) : (size_t)(end - l.p);
        struct line t = {l.p, raw, ++l.no};
        trim(&t.p, &t.len);
        if (memchr(l.p, 0, raw)) {
            vmdk_desc_free(d);
            return bad(err, &t, "NUL byte in descriptor");
        }
        if (t.len && t.p[0] != '#' && parse_line(&t, d, err)) {
            vmdk_desc_free(d);
            return -1;
        }
        l.p += raw + (nl ? 1 : 0);
    }
    if (!d->create_type[0]) {
        vmdk_desc_free(d);
        return error_set(err, EX_DATAERR, "descriptor has no createType");
    }
    if (!d->version)
        d->version = 1;
    return 0;
}

void vmdk_desc_free(struct vmdk_desc *d)
{
    for (size_t i = 0; i < d->n_ext; i++)
        free(d->ext[i].file);
    free(d->ext);
    free(d->parent_hint);
    memset(d, 0, sizeof *d);
}

static bool is_cid_line(const char *p, size_t len)
{
    const char *k = p;
    size_t kn = len;
    trim(&k, &kn);
    if (kn < 4 || strncasecmp(k, "CID", 3) != 0)
        return false;
    k += 3, kn -= 3;
    trim(&k, &kn);
    return kn && k[0] == '=';
}

char *vmdk_desc_with_cid(const char *text, size_t len, uint32_t cid, size_t *out_len)
{
    char *out = malloc(len + 32), *o = out;
    if (!out)
        return NULL;
    const char *p = text, *end = text + len;
    bool done = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        bool cr = n && p[n - 1] == '\r';
        if (!done && is_cid_line(p, n)) {
            o += sprintf(o, "CID=%08x%s", cid, cr ? "\r" : "");
            done = true;
        } else {
            memcpy(o, p, n);
            o += n;
        }
        if (nl)
            *o++ = '\n';
        p += n + (nl ? 1 : 0);
    }
    if (!done) {
        free(out);
        return NULL;
    }
    *o = 0;
    *out_len = (size_t)(o - out);
    return out;
}

bool vmdk_desc_probe(const uint8_t *buf, size_t len)
{
    const uint8_t *nul = memchr(buf, 0, len);
    if (nul) { /* qemu-img pads descriptors with NULs to a whole sector */
        for (const uint8_t *q = nul; q < buf + len; q++)
            if (*q)
                return false;
        len = (size_t)(nul - buf);
    }
    static const char sig[] = "# Disk DescriptorFile";
    if (len >= sizeof sig - 1 && strncasecmp((const char *)buf, sig, sizeof sig - 1) == 0)
        return true;
    /* Otherwise a "version=" line followed by a createType line, as QEMU probes. */
    const char *p = (const char *)buf, *end = p + len;
    bool version = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *k = p;
        size_t kn = n;
        trim(&k, &kn);
        if (kn >= 8 && strncasecmp(k, "version", 7) == 0 && memchr(k, '=', kn))
            version = true;
        if (version && kn >= 10 && strncasecmp(k, "createType", 10) == 0)
            return true;
        p += n + 1;
    }
    return false;
}
