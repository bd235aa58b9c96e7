/*
 * The .vmx syntax (see vmx.h). The file is checked for binary bytes first,
 * then read line by line into entries kept in file order, with an
 * open-addressing hash of lower-cased keys for lookups. Values are unescaped
 * (|XX) when read; the .encoding entry is applied once all lines are in:
 * windows-1252 values are converted to UTF-8, UTF-8 values are validated.
 */
#include "formats/vmx.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct vmx {
    char *name;
    struct vmx_entry *e;
    size_t n, cap;
    uint32_t *slots; /* entry index + 1, 0 = empty */
    size_t nslots;   /* power of two, > 2 * n */
};

/* ---- the key index ---- */

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (uint8_t)tolower((unsigned char)*k)) * 16777619u;
    return h;
}

static size_t slot_of(const struct vmx *v, const char *key)
{
    size_t mask = v->nslots - 1, i = key_hash(key) & mask;
    while (v->slots[i] && strcasecmp(v->e[v->slots[i] - 1].key, key) != 0)
        i = (i + 1) & mask;
    return i;
}

static int index_grow(struct vmx *v)
{
    size_t ns = v->nslots ? v->nslots * 2 : 64;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s)
        return -1;
    free(v->slots);
    v->slots = s;
    v->nslots = ns;
    for (size_t i = 0; i < v->n; i++)
        v->slots[slot_of(v, v->e[i].key)] = (uint32_t)(i + 1);
    return 0;
}

long vmx_index(const struct vmx *v, const char *key)
{
    if (!v->nslots)
        return -1;
    uint32_t s = v->slots[slot_of(v, key)];
    return s ? (long)s - 1 : -1;
}

/* Adds or replaces key (last definition wins, first position kept). Takes value. */
static int vmx_set(struct vmx *v, const char *key, size_t klen, char *value, int line)
{
    char *k = strndup(key, klen);
    if (!k)
        return -1;
    long i = vmx_index(v, k);
    if (i >= 0) {
        free(k);
        free(v->e[i].value);
        v->e[i].value = value;
        v->e[i].earlier = v->e[i].line;
        v->e[i].line = line;
        return 0;
    }
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        struct vmx_entry *ne = realloc(v->e, nc * sizeof *ne);
        if (!ne)
            goto fail;
        v->e = ne;
        v->cap = nc;
    }
    v->e[v->n++] = (struct vmx_entry){ k, value, line, 0 };
    if (2 * v->n >= v->nslots && index_grow(v) < 0)
        return -1; /* entry is owned by v now; vmx_free releases it */
    v->slots[slot_of(v, k)] = (uint32_t)v->n;
    return 0;
fail:
    free(k);
    return -1;
}

/* ---- one line ---- */

const char *vmx_printable(const char *s, size_t n, char out[VMX_PRINTABLE_SIZE])
{
    size_t m = n > 40 ? 40 : n, i;
    for (i = 0; i < m && s[i]; i++)
        out[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
    strcpy(out + i, i < n && s[i] ? "..." : "");
    return out;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* |XX -> byte; a '|' not followed by two hex digits stays as written. */
static char *unescape(const char *s, size_t n, bool *nul)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    *nul = false;
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (s[i] == '|' && hi >= 0 && lo >= 0) {
            *nul |= hi == 0 && lo == 0;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

static bool key_char_ok(unsigned char c)
{
    return c > ' ' && c < 0x7f && c != '"' && c != '#' && c != '=';
}

static bool key_ok(const char *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!key_char_ok((unsigned char)k[i]))
            return false;
    return n > 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Splits the text after '=' into the raw (still escaped) value. */
static int split_value(const struct vmx *v, const char *p, size_t n, int line,
                       const char *key, size_t klen, const char **val, size_t *vlen,
                       struct error *err)
{
    if (n && p[0] == '"') {
        const char *q = memchr(p + 1, '"', n - 1);
        if (!q)
            return error_set(err, EX_DATAERR, "%s:%d: %.*s: missing closing quote",
                             v->name, line, (int)klen, key);
        *val = p + 1;
        *vlen = (size_t)(q - p - 1);
        const char *t = q + 1, *end = p + n;
        while (t < end && is_blank(*t))
            t++;
        if (t < end && *t != '#')
            return error_set(err, EX_DATAERR, "%s:%d: %.*s: text after the closing quote",
                             v->name, line, (int)klen, key);
        return 0;
    }
    const char *h = memchr(p, '#', n);
    size_t m = h ? (size_t)(h - p) : n;
    while (m && is_blank(p[m - 1]))
        m--;
    *val = p;
    *vlen = m;
    return 0;
}

static int parse_line(struct vmx *v, const char *p, size_t n, int line, struct error *err)
{
    char pr[VMX_PRINTABLE_SIZE];
    while (n && is_blank(*p))
        p++, n--;
    while (n && is_blank(p[n - 1]))
        n--;
    if (!n || *p == '#')
        return 0;
    const char *eq = memchr(p, '=', n);
    if (!eq)
        return error_set(err, EX_DATAERR, "%s:%d: expected key = \"value\", found \"%s\"",
                         v->name, line, vmx_printable(p, n, pr));
    size_t klen = (size_t)(eq - p);
    while (klen && is_blank(p[klen - 1]))
        klen--;
    if (!key_ok(p, klen))
        return error_set(err, EX_DATAERR, "%s:%d: bad key \"%s\"", v->name, line,
                         vmx_printable(p, klen, pr));
    const char *r = eq + 1, *end = p + n;
    while (r < end && is_blank(*r))
        r++;
    const char *val = NULL;
    size_t vlen = 0;
    if (split_value(v, r, (size_t)(end - r), line, p, klen, &val, &vlen, err) < 0)
        return -1;
    bool nul;
    char *value = unescape(val, vlen, &nul);
    if (!value)
        return error_set(err, EX_SOFTWARE, "out of memory");
    if (nul) {
        free(value);
        return error_set(err, EX_DATAERR, "%s:%d: %.*s: the escape |00 is not allowed",
                         v->name, line, (int)klen, p);
    }
    if (vmx_set(v, p, klen, value, line) < 0)
        return error_set(err, EX_SOFTWARE, "out of memory");
    return 0;
}

/* ---- encodings ---- */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (!n || s[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    return n;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        size_t n = utf8_seq(u);
        if (!n)
            return false;
        u += n;
    }
    return true;
}

/* windows-1252 0x80..0x9f; the five unassigned bytes map to the C1 code point, as Windows does. */
static const uint16_t cp1252_c1[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, /* 80-87 */
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f, /* 88-8f */
    0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, /* 90-97 */
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178, /* 98-9f */
};

static char *cp1252_to_utf8(const char *s)
{
    char *out = malloc(strlen(s) * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        unsigned c = *u >= 0x80 && *u < 0xa0 ? cp1252_c1[*u - 0x80] : *u;
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xc0 | c >> 6);
            *o++ = (char)(0x80 | (c & 0x3f));
        } else {
            *o++ = (char)(0xe0 | c >> 12);
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = 0;
    return out;
}

static int convert_all_cp1252(struct vmx *v, struct error *err)
{
    for (size_t i = 0; i < v->n; i++) {
        char *c = cp1252_to_utf8(v->e[i].value);
        if (!c)
            return error_set(err, EX_SOFTWARE, "out of memory");
        free(v->e[i].value);
        v->e[i].value = c;
    }
    return 0;
}

static bool all_utf8(const struct vmx *v, size_t *bad)
{
    for (size_t i = 0; i < v->n; i++)
        if (!utf8_valid(v->e[i].value)) {
            *bad = i;
            return false;
        }
    return true;
}

/* Applies .encoding; without one, UTF-8 is assumed unless the bytes say windows-1252. */
static int apply_encoding(struct vmx *v, struct error *err)
{
    const struct vmx_entry *enc = vmx_find(v, ".encoding");
    size_t bad;
    if (!enc)
        return all_utf8(v, &bad) ? 0 : convert_all_cp1252(v, err);
    if (!strcasecmp(enc->value, "windows-1252") || !strcasecmp(enc->value, "cp1252"))
        return convert_all_cp1252(v, err);
    if (strcasecmp(enc->value, "UTF-8") && strcasecmp(enc->value, "utf8"))
        return error_set(err, EX_DATAERR,
                         "%s:%d: .encoding: \"%s\" is not supported (UTF-8 or windows-1252)",
                         v->name, enc->line, VMX_PRINTABLE(enc->value));
    if (!all_utf8(v, &bad))
        return error_set(err, EX_DATAERR, "%s:%d: %s: not valid UTF-8 (.encoding is UTF-8)",
                         v->name, v->e[bad].line, v->e[bad].key);
    return 0;
}

/* ---- whole files ---- */

/* Refuses NUL and control bytes other than tab, CR, LF, FF, VT: one clear line. */
static int check_text(const char *t, size_t len, const char *name, struct error *err)
{
    int line = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\n')
            line++;
        else if (c < ' ' && !is_blank((char)c))
            return error_set(err, EX_DATAERR,
                             "%s:%d: not a .vmx file (binary byte 0x%02x)", name, line, c);
    }
    return 0;
}

int vmx_parse(const char *text, size_t len, const char *name, struct vmx **out,
              struct error *err)
{
    *out = NULL;
    if (len > VMX_MAX_FILE_SIZE)
        return error_set(err, EX_DATAERR, "%s: not a .vmx file (%zu bytes, more than %u)",
                         name, len, VMX_MAX_FILE_SIZE);
    if (check_text(text, len, name, err) < 0)
        return -1;
    struct vmx *v = calloc(1, sizeof *v);
    if (!v || !(v->name = strdup(name)) || index_grow(v) < 0) {
        vmx_free(v);
        return error_set(err, EX_SOFTWARE, "out of memory");
    }
    int line = 1;
    size_t start = len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0; /* a UTF-8 BOM */
    for (size_t pos = start; pos < len; line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - text - pos) : len - pos;
        if (parse_line(v, text + pos, n, line, err) < 0)
            goto fail;
        pos += n + 1;
    }
    if (apply_encoding(v, err) < 0)
        goto fail;
    *out = v;
    return 0;
fail:
    vmx_free(v);
    return -1;
}

static int read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int vmx_load(const char *path, struct vmx **out, struct error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = -1;
    char *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        error_set(err, EX_NOINPUT, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > VMX_MAX_FILE_SIZE) {
        error_set(err, EX_DATAERR, "%s: not a .vmx file (%lld bytes, more than %u)", path,
                  (long long)st.st_size, VMX_MAX_FILE_SIZE);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf || read_all(fd, buf, (size_t)st.st_size) < 0) {
        error_set(err, EX_IOERR, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    rc = vmx_parse(buf, (size_t)st.st_size, path, out, err);
out:
    free(buf);
    close(fd);
    return rc;
}

void vmx_free(struct vmx *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        free(v->e[i].key);
        free(v->e[i].value);
    }
    free(v->e);
    free(v->slots);
    free(v->name);
    free(v);
}

/* ---- lookups ---- */

const char *vmx_name(const struct vmx *v) { return v->name; }
size_t vmx_count(const struct vmx *v) { return v->n; }

const struct vmx_entry *vmx_entry_at(const struct vmx *v, size_t i)
{
    return i < v->n ? &v->e[i] : NULL;
}

const struct vmx_entry *vmx_find(const struct vmx *v, const char *key)
{
    long i = vmx_index(v, key);
    return i < 0 ? NULL : &v->e[i];
}

const char *vmx_get(const struct vmx *v, const char *key)
{
    const struct vmx_entry *e = vmx_find(v, key);
    return e ? e->value : NULL;
}

bool vmx_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "1", "on" };
    static const char *const no[] = { "false", "no", "0", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i]))
            return *out = true, true;
        if (!strcasecmp(s, no[i]))
            return *out = false, true;
    }
    return false;
}

int vmx_get_bool(const struct vmx *v, const char *key, bool dflt, bool *out,
                 struct error *err)
{
    const struct vmx_entry *e = vmx_find(v, key);
    *out = dflt;
    if (!e || vmx_parse_bool(e->value, out))
        return 0;
    return error_set(err, EX_DATAERR, "%s:%d: %s: \"%s\" is not a boolean (TRUE or FALSE)",
                     v->name, e->line, e->key, VMX_PRINTABLE(e->value));
}

int vmx_get_int(const struct vmx *v, const char *key, int64_t dflt, int64_t min,
                int64_t max, int64_t *out, struct error *err)
{
    const struct vmx_entry *e = vmx_find(v, key);
    *out = dflt;
    if (!e)
        return 0;
    const char *s = e->value;
    while (*s == ' ' || *s == '\t')
        s++;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (!isdigit((unsigned char)s[*s == '-' || *s == '+']) || *end || errno)
        return error_set(err, EX_DATAERR, "%s:%d: %s: \"%s\" is not a number", v->name,
                         e->line, e->key, VMX_PRINTABLE(e->value));
    if (x < min || x > max)
        return error_set(err, EX_DATAERR, "%s:%d: %s: %lld is out of range (%lld to %lld)",
                         v->name, e->line, e->key, x, (long long)min, (long long)max);
    *out = x;
    return 0;
}
