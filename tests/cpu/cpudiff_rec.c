/*
 * Recorded host answers of the 32-bit differential suite: normalisation to
 * what the comparison reads, and the gzip file (cpudiff_rec.h). A case
 * record holds the answer as differences from what can be predicted from
 * the input (registers and flags XORed with their starting values), so the
 * deflated file stays small.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cpudiff_rec.h"

#define REC_MAGIC "vmplay cpudiff record 2"
#define REC_SKIPPED 0x7F   /* the vector byte of a case deliberately not recorded */
#define REC_ERR 0x01       /* parts present */
#define REC_FPU 0x02
#define REC_SSE 0x04

static const uint16_t seg_default[6] = {CD_SEL_DATA, CD_SEL_CODE, CD_SEL_DATA,
                                        CD_SEL_DATA, 0,           CD_SEL_TLS};

static bool err_code_vector(int v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

static bool ignored_byte(const struct gen *g, uint32_t off)
{
    for (int i = 0; i < 6; i++)
        if (off >= g->ignore[i].off && off < (uint32_t)g->ignore[i].off + g->ignore[i].len)
            return true;
    return false;
}

void cd_rec_normalize(const struct gen *g, const struct cd_in *in, struct cd_out *o)
{
    static uint8_t init[CD_WIN_SIZE];
    cd_fill(in, init);
    if (o->vector == -1 || (o->vector >= 0 && !err_code_vector(o->vector)))
        o->err = 0;
    if (g->undef_result) {
        memset(o->gpr, 0, sizeof o->gpr);
        memcpy(o->mem, init, CD_WIN_SIZE);
    }
    o->eflags &= CD_FLAGS_ALL & ~g->undef;
    if (!g->fpu)
        o->fcw = o->fsw = 0;
    if (!g->sse) {
        o->mxcsr = 0;
        memset(o->xmm, 0, sizeof o->xmm);
    }
    for (uint32_t i = 0; i < CD_WIN_SIZE; i++)
        if (ignored_byte(g, i))
            o->mem[i] = init[i];
}

bool cd_rec_recordable(const struct gen *g)
{
    return !g->approx;
}

static uint32_t fnv(uint32_t h, const void *p_, size_t n)
{
    const uint8_t *p = p_;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

uint32_t cd_rec_input_hash(uint32_t h, const struct cd_in *in)
{
    return fnv(h, in, sizeof *in);
}

uint32_t cd_rec_xm_hash(const struct cd_out *o)
{
    return fnv(fnv(CD_REC_HASH0, o->xmm, sizeof o->xmm), o->mem, sizeof o->mem);
}

/* ---- writing ---- */

struct cd_rec {
    gzFile gz;          /* writing */
    bool failed;
    uint8_t *buf;       /* reading: the whole file, inflated */
    size_t len;
    char *header;       /* reading: the header lines, NUL-separated pairs */
    struct rec_group {
        char name[32];
        int count;
        uint32_t input_hash;
        size_t *at;     /* offset of each case record in buf */
    } *groups;
    int ngroups;
};

struct cd_rec *cd_rec_create(const char *path, uint32_t seed, int scale, const char *host,
                             const char *source)
{
    struct cd_rec *r = calloc(1, sizeof *r);
    if (!r || !(r->gz = gzopen(path, "wb9"))) {
        free(r);
        return NULL;
    }
    if (gzprintf(r->gz, "%s\nseed: %u\nscale: %d\nhost: %s\nsource: %s\n\n", REC_MAGIC, seed,
                 scale, host, source) <= 0)
        r->failed = true;
    return r;
}

void cd_rec_group(struct cd_rec *r, const char *name, int count, uint32_t input_hash)
{
    if (gzprintf(r->gz, "group %s %d %08x\n", name, count, input_hash) <= 0)
        r->failed = true;
}

struct wbuf {
    uint8_t b[8192];
    size_t n;
};

static void put(struct wbuf *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put8(struct wbuf *w, uint8_t v) { put(w, &v, 1); }
static void put16(struct wbuf *w, uint16_t v) { put(w, &v, 2); }
static void put32(struct wbuf *w, uint32_t v) { put(w, &v, 4); }

void cd_rec_put(struct cd_rec *r, const struct cd_in *in, const struct cd_out *o)
{
    static struct wbuf w;
    w.n = 0;
    if (!o) {
        put8(&w, REC_SKIPPED);
    } else {
        bool err = o->err != 0, fpu = o->fcw || o->fsw, sse = o->mxcsr != 0;
        put8(&w, (uint8_t)(int8_t)o->vector);
        put8(&w, (uint8_t)((err ? REC_ERR : 0) | (fpu ? REC_FPU : 0) | (sse ? REC_SSE : 0)));
        put32(&w, o->eip ^ (CD_CODE + in->code_len));
        if (err)
            put32(&w, o->err);
        for (int i = 0; i < 8; i++)
            put32(&w, o->gpr[i] ^ in->gpr[i]);
        put32(&w, o->eflags ^ in->eflags);
        for (int i = 0; i < 6; i++)
            put16(&w, o->seg[i] ^ seg_default[i]);
        if (fpu) {
            put16(&w, o->fcw);
            put16(&w, o->fsw);
        }
        if (sse)
            put32(&w, o->mxcsr);
        put32(&w, cd_rec_xm_hash(o));
    }
    if (gzwrite(r->gz, w.b, (unsigned)w.n) != (int)w.n)
        r->failed = true;
}

int cd_rec_close(struct cd_rec *r)
{
    bool bad = r->failed || gzclose(r->gz) != Z_OK;
    free(r);
    return bad ? -1 : 0;
}

/* ---- reading ---- */

struct rbuf {
    const uint8_t *p, *end;
    bool bad;
};

static void get(struct rbuf *b, void *dst, size_t n)
{
    if ((size_t)(b->end - b->p) < n) {
        b->bad = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, b->p, n);
    b->p += n;
}

static uint8_t get8(struct rbuf *b) { uint8_t v; get(b, &v, 1); return v; }
static uint16_t get16(struct rbuf *b) { uint16_t v; get(b, &v, 2); return v; }
static uint32_t get32(struct rbuf *b) { uint32_t v; get(b, &v, 4); return v; }

/* Decodes one record at b into o and *xm (with in NULL it only steps over it): 1 an
 * answer, 0 a case not recorded, -1 malformed. */
static int decode(struct rbuf *b, const struct cd_in *in, struct cd_out *o, uint32_t *xm)
{
    static const struct cd_in none;
    const struct cd_in *x = in ? in : &none;
    int8_t v = (int8_t)get8(b);
    if (v == REC_SKIPPED)
        return b->bad ? -1 : 0;
    uint8_t parts = get8(b);
    memset(o, 0, sizeof *o);
    o->vector = v;
    o->eip = get32(b) ^ (CD_CODE + x->code_len);
    if (parts & REC_ERR)
        o->err = get32(b);
    for (int i = 0; i < 8; i++)
        o->gpr[i] = get32(b) ^ x->gpr[i];
    o->eflags = get32(b) ^ x->eflags;
    for (int i = 0; i < 6; i++)
        o->seg[i] = get16(b) ^ seg_default[i];
    if (parts & REC_FPU) {
        o->fcw = get16(b);
        o->fsw = get16(b);
    }
    if (parts & REC_SSE)
        o->mxcsr = get32(b);
    *xm = get32(b);
    return b->bad || (parts & ~(REC_ERR | REC_FPU | REC_SSE)) ? -1 : 1;
}

static int inflate_all(struct cd_rec *r, const char *path, char *why, size_t n)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(why, n, "cannot open %s", path);
        return -1;
    }
    size_t cap = 1u << 24;
    r->buf = malloc(cap);
    int got;
    while (r->buf && (got = gzread(gz, r->buf + r->len, (unsigned)(cap - r->len))) > 0) {
        r->len += (size_t)got;
        if (r->len == cap)
            r->buf = realloc(r->buf, cap *= 2);
    }
    int errnum = Z_OK;
    const char *msg = r->buf ? gzerror(gz, &errnum) : "out of memory";
    gzclose(gz);
    if (!r->buf || errnum != Z_OK) {
        snprintf(why, n, "%s: %s", path, msg);
        return -1;
    }
    return 0;
}

/* "group NAME COUNT\n" at b; false when it is not one. */
static bool group_line(struct rbuf *b, struct rec_group *g)
{
    const uint8_t *nl = memchr(b->p, '\n', (size_t)(b->end - b->p));
    char line[80];
    size_t l = nl ? (size_t)(nl - b->p) : 0;
    if (!nl || l >= sizeof line)
        return false;
    memcpy(line, b->p, l);
    line[l] = 0;
    b->p = nl + 1;
    return sscanf(line, "group %31s %d %x", g->name, &g->count, &g->input_hash) == 3 &&
           g->count >= 0 && g->count <= 1 << 22;
}

static int parse(struct cd_rec *r, char *why, size_t n)
{
    const char *text = (const char *)r->buf;
    const char *hdr_end = memmem(text, r->len, "\n\n", 2);
    if (r->len < sizeof REC_MAGIC || memcmp(text, REC_MAGIC "\n", sizeof REC_MAGIC) != 0 ||
        !hdr_end) {
        snprintf(why, n, "not a record of this format (%s)", REC_MAGIC);
        return -1;
    }
    r->header = strndup(text, (size_t)(hdr_end - text) + 1);
    struct rbuf b = {(const uint8_t *)hdr_end + 2, r->buf + r->len, false};
    static struct cd_out scratch;
    uint32_t xm;
    while (b.p < b.end) {
        struct rec_group g = {0};
        size_t at = (size_t)(b.p - r->buf);
        if (!group_line(&b, &g)) {
            snprintf(why, n, "malformed group line at byte %zu", at);
            return -1;
        }
        g.at = malloc(sizeof *g.at * (size_t)(g.count ? g.count : 1));
        struct rec_group *gs = realloc(r->groups, sizeof *gs * (size_t)(r->ngroups + 1));
        if (!g.at || !gs) {
            free(g.at);
            snprintf(why, n, "out of memory");
            return -1;
        }
        r->groups = gs;
        r->groups[r->ngroups++] = g;
        for (int i = 0; i < g.count; i++) {
            g.at[i] = (size_t)(b.p - r->buf);
            if (decode(&b, NULL, &scratch, &xm) < 0) {
                snprintf(why, n, "group %s: case %d is cut short or malformed", g.name, i);
                return -1;
            }
        }
    }
    return 0;
}

struct cd_rec *cd_rec_open(const char *path, char *why, size_t n)
{
    struct cd_rec *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    if (inflate_all(r, path, why, n) < 0 || parse(r, why, n) < 0) {
        cd_rec_free(r);
        return NULL;
    }
    return r;
}

const char *cd_rec_header(const struct cd_rec *r, const char *key)
{
    static char val[256];
    size_t kl = strlen(key);
    for (const char *l = r->header; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ':' && l[kl + 1] == ' ') {
            const char *v = l + kl + 2, *e = strchr(v, '\n');
            snprintf(val, sizeof val, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            return val;
        }
    }
    return NULL;
}

static const struct rec_group *find(const struct cd_rec *r, const char *group)
{
    for (int gi = 0; gi < r->ngroups; gi++)
        if (strcmp(r->groups[gi].name, group) == 0)
            return &r->groups[gi];
    return NULL;
}

bool cd_rec_has_group(const struct cd_rec *r, const char *group, int count, uint32_t input_hash)
{
    const struct rec_group *g = find(r, group);
    return g && g->count == count && g->input_hash == input_hash;
}

int cd_rec_get(const struct cd_rec *r, const char *group, int index, const struct cd_in *in,
               struct cd_out *out, uint32_t *xm_hash)
{
    const struct rec_group *g = find(r, group);
    if (!g || index < 0 || index >= g->count)
        return 0;
    struct rbuf b = {r->buf + g->at[index], r->buf + r->len, false};
    return decode(&b, in, out, xm_hash) == 1;
}

void cd_rec_free(struct cd_rec *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->ngroups; i++)
        free(r->groups[i].at);
    free(r->groups);
    free(r->header);
    free(r->buf);
    free(r);
}
