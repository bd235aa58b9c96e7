/*
 * libFuzzer target: arbitrary bytes as a .vmdk file (in a private scratch
 * folder on tmpfs when there is one) through blockdev_open and a read of
 * every sector (at most 32 MiB from each end of an absurdly large disk).
 * Every error must be one line with a sysexits code. Single-file sparse
 * inputs are also written through (a copy-on-write grain, a table entry, the
 * CID and the unclean flag) and must open again and read back what was
 * written. Text descriptors are only read: their extent lines may name any
 * file on the host.
 */
#include "formats/blockdev.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CAP (32u << 20) / BLOCKDEV_SECTOR /* sectors read from each end */

static void check_error(const struct error *e)
{
    if (strchr(e->msg, '\n') || e->code < EX__BASE || e->code > EX__MAX)
        __builtin_trap();
}

static void read_range(struct blockdev *bd, uint64_t from, uint64_t to, uint8_t *buf)
{
    for (uint64_t s = from; s < to;) {
        uint32_t n = to - s < 2048 ? (uint32_t)(to - s) : 2048;
        blockdev_read(bd, s, n, buf);
        s += n;
    }
}

static void read_all(struct blockdev *bd, uint8_t *buf)
{
    uint64_t n = bd->sectors;
    if (n <= 2 * READ_CAP) {
        read_range(bd, 0, n, buf);
        return;
    }
    read_range(bd, 0, READ_CAP, buf);
    read_range(bd, n - READ_CAP, n, buf);
}

/* Writes two sectors; the disk must open again and hold them. */
static void write_back(const char *path, struct blockdev *bd, uint8_t *buf)
{
    uint8_t pat[BLOCKDEV_SECTOR];
    memset(pat, 0xa5, sizeof pat);
    uint64_t mid = bd->sectors / 2;
    bool failed = blockdev_write(bd, 0, 1, pat) || blockdev_write(bd, mid, 1, pat) ||
                  blockdev_flush(bd);
    bool overlay = bd->warning != NULL;
    blockdev_close(bd);
    if (overlay || failed)
        return;
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = true};
    struct error e = {0};
    struct blockdev *again;
    if (blockdev_open(path, &o, &again, &e))
        __builtin_trap();
    if (blockdev_read(again, 0, 1, buf) || memcmp(buf, pat, sizeof pat) ||
        blockdev_read(again, mid, 1, buf) || memcmp(buf, pat, sizeof pat))
        __builtin_trap();
    blockdev_close(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[256];
    static uint8_t *buf;
    if (!path[0]) {
        char dir[] = "/dev/shm/fuzz-vmdk-XXXXXX";
        char alt[] = "/tmp/fuzz-vmdk-XXXXXX";
        const char *d = mkdtemp(dir) ? dir : mkdtemp(alt);
        if (!d)
            abort();
        snprintf(path, sizeof path, "%s/disk.vmdk", d);
        buf = malloc(2048 * BLOCKDEV_SECTOR);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
    bool sparse = size >= 4 && !memcmp(data, "KDMV", 4);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = !sparse};
    struct error e = {0};
    struct blockdev *bd;
    if (blockdev_open(path, &o, &bd, &e)) {
        check_error(&e);
        return 0;
    }
    char desc[2048];
    if (bd->ops->describe)
        bd->ops->describe(bd, desc, sizeof desc);
    read_all(bd, buf);
    if (sparse && bd->sectors)
        write_back(path, bd, buf);
    else
        blockdev_close(bd);
    return 0;
}
