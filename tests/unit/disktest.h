/*
 * Helpers for the disk-image tests (test_vmdk*.c, test_raw.c, test_overlay.c):
 * shell commands (qemu-img is the oracle), whole-file reads and checksums,
 * reading a whole blockdev, deterministic random data.
 */
#ifndef VMPLAY_DISKTEST_H
#define VMPLAY_DISKTEST_H

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "formats/blockdev.h"
#include "tests/unit/test.h"

static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void need_qemu_img(void)
{
    if (sh("qemu-img --version >/dev/null 2>&1") != 0)
        SKIP("qemu-img not installed (Debian package qemu-utils)");
}

static inline uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static inline void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    ASSERT_EQ(fwrite(buf, 1, len, f), len);
    ASSERT_EQ(fclose(f), 0);
}

/* FNV-1a over the file's bytes (0 when missing). */
static inline uint64_t file_sum(const char *path)
{
    size_t n;
    uint8_t *b = slurp(path, &n);
    uint64_t h = 0xcbf29ce484222325ull;
    if (!b)
        return 0;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    free(b);
    return h;
}

static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline void rng_fill(uint64_t *s, void *buf, size_t len)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(rng_next(s) >> 32);
}

static inline uint8_t *read_disk(struct blockdev *bd)
{
    uint8_t *b = malloc(bd->sectors * BLOCKDEV_SECTOR + 1);
    ASSERT(b);
    for (uint64_t s = 0; s < bd->sectors;) {
        uint32_t n = bd->sectors - s < 2048 ? (uint32_t)(bd->sectors - s) : 2048;
        int r = blockdev_read(bd, s, n, b + s * BLOCKDEV_SECTOR);
        if (r)
            FAIL("read at sector %llu: %s", (unsigned long long)s, strerror(-r));
        s += n;
    }
    return b;
}

/* Whole disk equals the raw file. */
static inline void assert_disk_equals(struct blockdev *bd, const char *raw)
{
    size_t n;
    uint8_t *want = slurp(raw, &n);
    ASSERT(want);
    ASSERT_EQ(bd->sectors * BLOCKDEV_SECTOR, n);
    uint8_t *got = read_disk(bd);
    for (size_t i = 0; i < n; i += BLOCKDEV_SECTOR)
        if (memcmp(got + i, want + i, BLOCKDEV_SECTOR))
            FAIL("%s: sector %zu differs", raw, i / BLOCKDEV_SECTOR);
    free(got);
    free(want);
}

static inline struct blockdev *open_disk(const char *path, bool rw)
{
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = !rw};
    struct blockdev *bd = NULL;
    struct error err = {0};
    if (blockdev_open(path, &o, &bd, &err))
        FAIL("open %s: %s (%d)", path, err.msg, err.code);
    return bd;
}

#endif
