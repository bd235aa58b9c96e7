/*
 * libFuzzer target: arbitrary bytes as a disk (in a private scratch folder
 * on tmpfs when there is one) through blockdev_open and a read of every
 * sector (at most 32 MiB from each end of an absurdly large disk). Every
 * error must be one line with a sysexits code.
 *
 * An input is one file, or several in a pack (tests/fuzz/pack.sh): "VMPF",
 * then per file a name length (1 byte), the name ([A-Za-z0-9._-], at most
 * 32), a length (4 bytes, little-endian) and the bytes; the first file is the
 * disk opened, the others what it names (extents of a split disk, parents of
 * a snapshot chain).
 *
 * The disk is also written through (a sector at each end and one in the
 * middle, then flush and close) when the disk is a sparse file or a
 * descriptor whose own extents are all files of the pack. After that it must
 * open again and read back what was written; every other sector must read
 * as before the write; and every file that is not an extent of the disk
 * itself (a parent) must be byte for byte unchanged.
 */
#include "formats/blockdev.h"
#include "formats/vmdk.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CAP (32u << 20) / BLOCKDEV_SECTOR /* sectors read from each end */
#define MAX_FILES 8
#define MAX_NAME 32

struct file {
    char name[MAX_NAME + 1];
    const uint8_t *data;
    uint32_t len;
    bool own; /* an extent of the opened disk: the write may change it */
};

static char dir[64];
static uint8_t *buf;
static uint64_t *sums; /* per sector read, before the write */

static void check_error(const struct error *e)
{
    if (strchr(e->msg, '\n') || e->code < EX__BASE || e->code > EX__MAX)
        __builtin_trap();
}

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* The sectors read: [0, READ_CAP) and the last READ_CAP, or all of a smaller disk. */
static uint64_t nth_sector(const struct blockdev *bd, uint64_t i)
{
    return bd->sectors <= 2 * READ_CAP || i < READ_CAP ? i : bd->sectors - 2 * READ_CAP + i;
}

static uint64_t n_read(const struct blockdev *bd)
{
    return bd->sectors <= 2 * READ_CAP ? bd->sectors : 2 * READ_CAP;
}

/* Reads every sector of the range in chunks; with sums, a hash per sector (a sector
 * that fails to read hashes as 0). */
static void read_all(struct blockdev *bd, uint64_t *out)
{
    uint64_t n = n_read(bd);
    for (uint64_t i = 0; i < n;) {
        uint64_t s = nth_sector(bd, i);
        uint32_t c = 2048;
        if (n - i < c)
            c = (uint32_t)(n - i);
        if (i < READ_CAP && i + c > READ_CAP && bd->sectors > 2 * READ_CAP)
            c = (uint32_t)(READ_CAP - i);
        int r = blockdev_read(bd, s, c, buf);
        for (uint32_t k = 0; out && k < c; k++)
            out[i + k] = r ? 0 : hash(buf + (size_t)k * BLOCKDEV_SECTOR, BLOCKDEV_SECTOR);
        i += c;
    }
}

static bool plain_name(const char *s, size_t n)
{
    if (!n || n > MAX_NAME || (n <= 2 && s[0] == '.' && (n == 1 || s[1] == '.')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* The pack, or the whole input as one file named disk.vmdk; 0 files when malformed. */
static int unpack(const uint8_t *d, size_t n, struct file *f)
{
    if (n < 4 || memcmp(d, "VMPF", 4) != 0) {
        f[0] = (struct file){"disk.vmdk", d, (uint32_t)n, true};
        return 1;
    }
    int nf = 0;
    size_t at = 4;
    while (at < n && nf < MAX_FILES) {
        size_t l = d[at++];
        if (at + l + 4 > n || !plain_name((const char *)d + at, l))
            return 0;
        memcpy(f[nf].name, d + at, l);
        f[nf].name[l] = 0;
        at += l;
        uint32_t len = d[at] | d[at + 1] << 8 | d[at + 2] << 16 | (uint32_t)d[at + 3] << 24;
        at += 4;
        if (len > n - at)
            return 0;
        for (int k = 0; k < nf; k++)
            if (!strcmp(f[k].name, f[nf].name))
                return 0;
        f[nf].data = d + at;
        f[nf].len = len;
        f[nf].own = nf == 0;
        at += len;
        nf++;
    }
    return nf;
}

/* Whether writes stay in the pack: a sparse file, or a descriptor whose extents are all
 * files of the pack (marked own). A descriptor naming anything else is only read. */
static bool writable_here(struct file *f, int nf)
{
    if (f[0].len >= 4 && !memcmp(f[0].data, "KDMV", 4))
        return true;
    struct vmdk_desc d;
    struct error e = {0};
    if (vmdk_desc_parse((const char *)f[0].data, f[0].len, &d, &e))
        return false;
    bool ok = d.n_ext > 0;
    for (size_t i = 0; ok && i < d.n_ext; i++) {
        if (!d.ext[i].file)
            continue;
        ok = false;
        for (int k = 1; k < nf; k++)
            if (!strcmp(d.ext[i].file, f[k].name))
                ok = f[k].own = true;
    }
    vmdk_desc_free(&d);
    return ok;
}

static void clear_dir(void)
{
    DIR *dh = opendir(dir);
    struct dirent *de;
    char p[160];
    while (dh && (de = readdir(dh)))
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    if (dh)
        closedir(dh);
}

static uint64_t file_hash(const char *name)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_RDONLY);
    uint64_t h = 0xcbf29ce484222325ull;
    ssize_t got;
    while (fd >= 0 && (got = read(fd, buf, 1 << 20)) > 0)
        h = hash(buf, (size_t)got) ^ (h * 31);
    if (fd >= 0)
        close(fd);
    return h;
}

/* Three sectors written through; the disk must open again and hold them, the rest of
 * it as before, and the files that are not its own extents unchanged. */
static void write_back(const char *path, struct blockdev *bd, struct file *f, int nf)
{
    uint8_t pat[BLOCKDEV_SECTOR];
    memset(pat, 0xa5, sizeof pat);
    uint64_t n = bd->sectors, at[3] = {0, n / 2, n - 1};
    uint64_t before[MAX_FILES];
    for (int k = 0; k < nf; k++)
        before[k] = f[k].own ? 0 : file_hash(f[k].name);
    bool failed = false;
    for (int i = 0; i < 3; i++)
        failed |= blockdev_write(bd, at[i], 1, pat) != 0;
    failed |= blockdev_flush(bd) != 0;
    bool overlay = bd->warning != NULL;
    blockdev_close(bd);
    for (int k = 0; k < nf; k++)
        if (!f[k].own && file_hash(f[k].name) != before[k])
            __builtin_trap(); /* a parent (or an unrelated file) was written */
    if (overlay || failed)
        return;
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = true};
    struct error e = {0};
    struct blockdev *again;
    if (blockdev_open(path, &o, &again, &e) || again->sectors != n)
        __builtin_trap();
    uint64_t hp = hash(pat, sizeof pat);
    uint64_t *now = malloc(n_read(again) * sizeof *now);
    if (!now)
        abort();
    read_all(again, now);
    for (uint64_t i = 0; i < n_read(again); i++) {
        uint64_t s = nth_sector(again, i);
        bool written = s == at[0] || s == at[1] || s == at[2];
        if (written ? now[i] != hp : now[i] != sums[i])
            __builtin_trap(); /* lost a write, or a write landed somewhere else */
    }
    free(now);
    blockdev_close(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        char d1[] = "/dev/shm/fuzz-vmdk-XXXXXX", d2[] = "/tmp/fuzz-vmdk-XXXXXX";
        const char *d = mkdtemp(d1) ? d1 : mkdtemp(d2);
        if (!d)
            abort();
        snprintf(dir, sizeof dir, "%s", d);
        buf = malloc(2048 * BLOCKDEV_SECTOR);
        sums = malloc(2 * READ_CAP * sizeof *sums);
        if (!buf || !sums)
            abort();
    }
    struct file f[MAX_FILES];
    int nf = unpack(data, size, f);
    if (!nf)
        return 0;
    clear_dir();
    char path[160];
    for (int k = 0; k < nf; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, f[k].name);
        FILE *fh = fopen(path, "wb");
        if (!fh || fwrite(f[k].data, 1, f[k].len, fh) != f[k].len || fclose(fh))
            abort();
    }
    snprintf(path, sizeof path, "%s/%s", dir, f[0].name);
    bool rw = writable_here(f, nf);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = !rw};
    struct error e = {0};
    struct blockdev *bd;
    if (blockdev_open(path, &o, &bd, &e)) {
        check_error(&e);
        return 0;
    }
    char desc[2048];
    if (bd->ops->describe)
        bd->ops->describe(bd, desc, sizeof desc);
    read_all(bd, rw ? sums : NULL);
    if (rw && bd->sectors)
        write_back(path, bd, f, nf);
    else
        blockdev_close(bd);
    return 0;
}
