/*
 * The suspend state format (see state.h): a growable writer, a parser that
 * checks the whole image before anything reads it, bounds-checked getters, and
 * the crash-safe write of the file.
 */
#include "devices/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "formats/error.h"

/* ---- writing ---- */

static void put(struct state_writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (n > SIZE_MAX / 2 - w->len) {
        w->failed = true;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = true;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void le_store(uint8_t *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_load(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void put_le(struct state_writer *w, uint64_t v, int n)
{
    uint8_t b[8];
    le_store(b, v, n);
    put(w, b, (size_t)n);
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
    put_le(w, v, 1);
}
void state_put_u16(struct state_writer *w, uint16_t v)
{
    put_le(w, v, 2);
}
void state_put_u32(struct state_writer *w, uint32_t v)
{
    put_le(w, v, 4);
}
void state_put_u64(struct state_writer *w, uint64_t v)
{
    put_le(w, v, 8);
}
void state_put_i64(struct state_writer *w, int64_t v)
{
    put_le(w, (uint64_t)v, 8);
}
void state_put_bytes(struct state_writer *w, const void *p, size_t n)
{
    put(w, p, n);
}

void state_writer_init(struct state_writer *w, const char *vmplay_version)
{
    memset(w, 0, sizeof *w);
    size_t n = strnlen(vmplay_version, 64);
    put(w, STATE_MAGIC, 8);
    state_put_u32(w, STATE_FORMAT_VERSION);
    state_put_u16(w, (uint16_t)n);
    put(w, vmplay_version, n);
    w->count_at = w->len;
    state_put_u32(w, 0);
}

void state_writer_release(struct state_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static bool name_ok(const char *name, size_t n)
{
    if (n == 0 || n > STATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (name[i] <= ' ' || name[i] > '~')
            return false;
    return true;
}

int state_section_begin(struct state_writer *w, const char *name, uint32_t version)
{
    size_t n = strnlen(name, STATE_NAME_MAX + 1);
    if (w->length_at || !name_ok(name, n) || w->nsections >= STATE_MAX_SECTIONS) {
        w->failed = true;
        return -1;
    }
    state_put_u8(w, (uint8_t)n);
    put(w, name, n);
    state_put_u32(w, version);
    w->length_at = w->len;
    state_put_u64(w, 0);
    w->nsections++;
    return w->failed ? -1 : 0;
}

void state_section_end(struct state_writer *w)
{
    if (!w->length_at || w->failed) {
        w->failed = true;
        return;
    }
    le_store(w->buf + w->length_at, w->len - w->length_at - 8, 8);
    w->length_at = 0;
}

int state_writer_finish(struct state_writer *w, struct error *err)
{
    if (w->length_at)
        w->failed = true;
    if (!w->failed) {
        le_store(w->buf + w->count_at, w->nsections, 4);
        state_put_u32(w, (uint32_t)crc32_z(crc32(0, Z_NULL, 0), w->buf, w->len));
    }
    if (w->failed)
        return error_set(err, EX_SOFTWARE, "cannot build the state image (out of memory)");
    return 0;
}

/* ---- reading ---- */

static int get(struct state_reader *r, void *p, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        memset(p, 0, n);
        return -1;
    }
    memcpy(p, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static int get_le(struct state_reader *r, uint64_t *v, int n)
{
    uint8_t b[8];
    int rc = get(r, b, (size_t)n);
    *v = le_load(b, n);
    return rc;
}

int state_get_u8(struct state_reader *r, uint8_t *v)
{
    uint64_t x;
    int rc = get_le(r, &x, 1);
    *v = (uint8_t)x;
    return rc;
}

int state_get_u16(struct state_reader *r, uint16_t *v)
{
    uint64_t x;
    int rc = get_le(r, &x, 2);
    *v = (uint16_t)x;
    return rc;
}

int state_get_u32(struct state_reader *r, uint32_t *v)
{
    uint64_t x;
    int rc = get_le(r, &x, 4);
    *v = (uint32_t)x;
    return rc;
}

int state_get_u64(struct state_reader *r, uint64_t *v)
{
    return get_le(r, v, 8);
}

int state_get_i64(struct state_reader *r, int64_t *v)
{
    uint64_t x;
    int rc = get_le(r, &x, 8);
    *v = (int64_t)x;
    return rc;
}

int state_get_bytes(struct state_reader *r, void *p, size_t n)
{
    return get(r, p, n);
}

bool state_reader_done(const struct state_reader *r)
{
    return !r->failed && r->pos == r->len;
}

size_t state_reader_left(const struct state_reader *r)
{
    return r->failed ? 0 : r->len - r->pos;
}

static int bad(struct error *err, const char *why)
{
    return error_set(err, EX_DATAERR, "the saved state is damaged or not vmplay's (%s)", why);
}

static int parse_sections(struct state_file *f, struct state_reader *r, struct error *err)
{
    for (uint32_t i = 0; i < f->nsections; i++) {
        struct state_section *s = &f->sec[i];
        uint8_t n;
        uint64_t len;
        if (state_get_u8(r, &n) < 0 || n == 0 || n > STATE_NAME_MAX ||
            state_get_bytes(r, s->name, n) < 0)
            return bad(err, "a section name");
        s->name[n] = 0;
        if (!name_ok(s->name, n))
            return bad(err, "a section name");
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(f->sec[j].name, s->name))
                return bad(err, "a section twice");
        if (state_get_u32(r, &s->version) < 0 || state_get_u64(r, &len) < 0 ||
            len > state_reader_left(r))
            return bad(err, "a section length");
        s->off = r->pos;
        s->len = (size_t)len;
        r->pos += s->len;
    }
    if (!state_reader_done(r))
        return bad(err, "bytes after the last section");
    return 0;
}

int state_file_parse(struct state_file *f, const uint8_t *buf, size_t len, struct error *err)
{
    memset(f, 0, sizeof *f);
    if (len < 8 + 4 + 2 + 4 + 4 || memcmp(buf, STATE_MAGIC, 8) != 0)
        return bad(err, "no vmplay state magic");
    uint32_t crc = (uint32_t)le_load(buf + len - 4, 4);
    if (crc != (uint32_t)crc32_z(crc32(0, Z_NULL, 0), buf, len - 4))
        return bad(err, "checksum mismatch");
    struct state_reader r = {.p = buf, .len = len - 4, .pos = 8};
    uint32_t version, count;
    uint16_t vlen;
    state_get_u32(&r, &version);
    if (version != STATE_FORMAT_VERSION)
        return error_set(err, EX_DATAERR,
                         "the saved state has format version %u; this vmplay reads "
                         "version %u only",
                         version, STATE_FORMAT_VERSION);
    if (state_get_u16(&r, &vlen) < 0 || vlen > 64 ||
        state_get_bytes(&r, f->vmplay_version, vlen) < 0)
        return bad(err, "the writer's version");
    f->vmplay_version[vlen] = 0;
    if (state_get_u32(&r, &count) < 0 || count > STATE_MAX_SECTIONS)
        return bad(err, "the section count");
    f->buf = buf;
    f->len = len;
    f->nsections = count;
    f->sec = calloc(count ? count : 1, sizeof *f->sec);
    if (!f->sec)
        return error_set(err, EX_OSERR, "out of memory");
    if (parse_sections(f, &r, err) < 0) {
        state_file_release(f);
        return -1;
    }
    return 0;
}

void state_file_release(struct state_file *f)
{
    free(f->sec);
    memset(f, 0, sizeof *f);
}

int state_file_section(struct state_file *f, const char *name, struct state_reader *r,
                       uint32_t *version)
{
    for (uint32_t i = 0; i < f->nsections; i++) {
        struct state_section *s = &f->sec[i];
        if (strcmp(s->name, name) != 0)
            continue;
        s->claimed = true;
        *r = (struct state_reader){.p = f->buf + s->off, .len = s->len};
        *version = s->version;
        return 0;
    }
    return -1;
}

const char *state_file_unclaimed(const struct state_file *f)
{
    for (uint32_t i = 0; i < f->nsections; i++)
        if (!f->sec[i].claimed)
            return f->sec[i].name;
    return NULL;
}

/* ---- the file ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int state_file_write(const char *path, const uint8_t *buf, size_t len, struct error *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return error_set(err, EX_CANTCREAT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set(err, EX_CANTCREAT, "%s: %s", tmp, strerror(errno));
    if (write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return error_set(err, EX_CANTCREAT, "%s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return error_set(err, EX_CANTCREAT, "%s: %s", path, strerror(e));
    }
    if (fsync_dir_of(path) < 0)
        return error_set(err, EX_CANTCREAT, "%s: cannot sync its folder: %s", path,
                         strerror(errno));
    return 0;
}

int state_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, struct error *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return error_set(err, EX_DATAERR, "%s: not a state file of a size vmplay writes", path);
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        close(fd);
        return error_set(err, EX_OSERR, "out of memory");
    }
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        free(b);
        return error_set(err, EX_IOERR, "%s: short read", path);
    }
    *buf = b;
    *len = n;
    return 0;
}
