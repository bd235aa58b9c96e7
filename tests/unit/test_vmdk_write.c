/*
 * VMDK writing: random writes through the blockdev mirrored to a raw file
 * must compare equal under `qemu-img compare` (also after reopening) and pass
 * `qemu-img check`, in every subformat qemu-img writes in place; snapshot
 * children take the writes and their parents stay byte-identical; the CID is
 * renewed before the first write; the unclean flag is set while writing and
 * cleared on close; an unclean file is repaired from its primary tables or
 * refused; read-only formats keep writes in the overlay; a stable write (and
 * every write of a write-through disk) is in the file, tables and all, when
 * it returns, as a copy of the open file read by qemu-img shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tests/unit/disktest.h"

static uint32_t peek32(const char *path, long off)
{
    uint8_t b[4] = {0};
    int fd = open(path, O_RDONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ(pread(fd, b, 4, off), 4);
    close(fd);
    return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void poke(const char *path, long off, const void *b, size_t n)
{
    int fd = open(path, O_WRONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ(pwrite(fd, b, n, off), (ssize_t)n);
    close(fd);
}

/* n random writes (some partial grains, some across extents near `hot`), mirrored. */
static void random_writes(struct blockdev *bd, int mirror_fd, uint64_t seed, int n, uint64_t hot)
{
    uint8_t *buf = malloc(256 * 512);
    for (int i = 0; i < n; i++) {
        uint32_t len = 1 + (uint32_t)(rng_next(&seed) % 256);
        uint64_t span = bd->sectors - len, s;
        if (hot && i % 2)
            s = hot - 300 + rng_next(&seed) % 600;
        else
            s = rng_next(&seed) % (span < 40000 ? span : 40000) + (i % 3 ? 0 : span / 2);
        if (s > span)
            s = span;
        rng_fill(&seed, buf, len * 512);
        if (i % 17 == 0)
            memset(buf, 0, len * 512);
        int r = blockdev_write(bd, s, len, buf);
        if (r)
            FAIL("write %u at %llu: %s", len, (unsigned long long)s, strerror(-r));
        ASSERT_EQ(pwrite(mirror_fd, buf, len * 512, (off_t)(s * 512)), (ssize_t)(len * 512));
        if (i % 50 == 49)
            ASSERT_EQ(blockdev_flush(bd), 0);
    }
    free(buf);
}

static void write_and_compare(const char *dir, const char *fmt, const char *size, uint64_t hot,
                              bool prefill)
{
    char v[4200], m[4200];
    snprintf(v, sizeof v, "%s/%s.vmdk", dir, fmt);
    snprintf(m, sizeof m, "%s/%s.raw", dir, fmt);
    if (prefill)
        ASSERT_EQ(sh("qemu-img create -q -f raw %s %s && qemu-io -f raw -c 'write -P 0x5a 0 3M' "
                     "%s >/dev/null && qemu-img convert -O vmdk -o subformat=%s %s %s",
                     m, size, m, fmt, m, v), 0);
    else
        ASSERT_EQ(sh("qemu-img create -q -f vmdk -o subformat=%s %s %s && "
                     "qemu-img create -q -f raw %s %s", fmt, v, size, m, size), 0);
    int mfd = open(m, O_RDWR);
    ASSERT(mfd >= 0);
    struct blockdev *bd = open_disk(v, true);
    ASSERT(!bd->read_only && !bd->warning);
    random_writes(bd, mfd, 42 + (uint64_t)strlen(fmt), 400, hot);
    blockdev_close(bd);
    close(mfd);
    if (sh("qemu-img compare -q -f vmdk -F raw %s %s", v, m) != 0)
        FAIL("%s: qemu-img compare differs", fmt);
    if (sh("qemu-img check -q -f vmdk %s >/dev/null 2>&1", v) != 0 &&
        sh("qemu-img check -f vmdk %s 2>&1 | grep -q 'not support checks'", v) != 0)
        FAIL("%s: qemu-img check reports errors", fmt);
    /* reopen: the same data, and more writes on top */
    mfd = open(m, O_RDWR);
    bd = open_disk(v, true);
    random_writes(bd, mfd, 7, 100, hot);
    blockdev_close(bd);
    close(mfd);
    if (sh("qemu-img compare -q -f vmdk -F raw %s %s", v, m) != 0)
        FAIL("%s: qemu-img compare differs after reopening", fmt);
    bd = open_disk(v, false);
    if (!hot)
        assert_disk_equals(bd, m);
    blockdev_close(bd);
}

TEST(mirror_monolithic_sparse)
{
    need_qemu_img();
    write_and_compare(test_tmpdir(), "monolithicSparse", "9M", 0, false);
}

TEST(mirror_monolithic_sparse_prefilled)
{
    need_qemu_img();
    write_and_compare(test_tmpdir(), "monolithicSparse", "9M", 0, true);
}

TEST(mirror_monolithic_flat)
{
    need_qemu_img();
    write_and_compare(test_tmpdir(), "monolithicFlat", "9M", 0, false);
}

/* 4.2 GiB: three extents; half the writes straddle the first extent boundary. */
TEST(mirror_two_gb_sparse)
{
    need_qemu_img();
    write_and_compare(test_tmpdir(), "twoGbMaxExtentSparse", "4300M", 4194304, false);
}

TEST(mirror_two_gb_flat)
{
    need_qemu_img();
    write_and_compare(test_tmpdir(), "twoGbMaxExtentFlat", "4300M", 4194304, false);
}

/* A large sparse disk: many grain tables, more than the cache holds. */
TEST(mirror_sparse_many_tables)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200], m[4200];
    snprintf(v, sizeof v, "%s/big.vmdk", dir);
    snprintf(m, sizeof m, "%s/big.raw", dir);
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 20G && qemu-img create -q -f raw %s 20G", v, m), 0);
    int mfd = open(m, O_RDWR);
    struct blockdev *bd = open_disk(v, true);
    uint8_t buf[4096];
    uint64_t seed = 3;
    for (int i = 0; i < 600; i++) {
        uint64_t s = rng_next(&seed) % (bd->sectors - 8);
        rng_fill(&seed, buf, sizeof buf);
        ASSERT_EQ(blockdev_write(bd, s, 8, buf), 0);
        ASSERT_EQ(pwrite(mfd, buf, sizeof buf, (off_t)(s * 512)), (ssize_t)sizeof buf);
    }
    blockdev_close(bd);
    close(mfd);
    ASSERT_EQ(sh("qemu-img compare -q -f vmdk -F raw %s %s", v, m), 0);
    ASSERT_EQ(sh("qemu-img check -q %s", v), 0);
}

/* Directory entries cleared (a table never allocated): writes allocate new tables at the end. */
TEST(mirror_fresh_grain_tables)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200], m[4200];
    snprintf(v, sizeof v, "%s/f.vmdk", dir);
    snprintf(m, sizeof m, "%s/f.raw", dir);
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 100M && qemu-img create -q -f raw %s 100M", v, m), 0);
    uint32_t gd = peek32(v, 56), rgd = peek32(v, 48);
    uint8_t zero[16] = {0};
    poke(v, (long)gd * 512, zero, 16);
    poke(v, (long)rgd * 512, zero, 16);
    int mfd = open(m, O_RDWR);
    struct blockdev *bd = open_disk(v, true);
    random_writes(bd, mfd, 5, 300, 0);
    blockdev_close(bd);
    close(mfd);
    ASSERT_NE(peek32(v, (long)gd * 512), 0);
    ASSERT_NE(peek32(v, (long)rgd * 512), peek32(v, (long)gd * 512));
    ASSERT_EQ(sh("qemu-img compare -q %s %s && qemu-img check -q %s", v, m, v), 0);
}

TEST(chain_writes_go_to_child)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char base[4200], child[4200], m[4200];
    snprintf(base, sizeof base, "%s/base.vmdk", dir);
    snprintf(child, sizeof child, "%s/child.vmdk", dir);
    snprintf(m, sizeof m, "%s/mirror.raw", dir);
    ASSERT_EQ(sh("cd %s && head -c 6M /dev/urandom > mirror.raw && truncate -s 9M mirror.raw && "
                 "qemu-img convert -O vmdk mirror.raw base.vmdk && "
                 "qemu-img create -q -f vmdk -b base.vmdk -F vmdk child.vmdk", dir), 0);
    uint64_t base_sum = file_sum(base);
    int mfd = open(m, O_RDWR);
    struct blockdev *bd = open_disk(child, true);
    random_writes(bd, mfd, 11, 300, 0);
    blockdev_close(bd);
    close(mfd);
    ASSERT_EQ(file_sum(base), base_sum);
    ASSERT_EQ(sh("qemu-img compare -q %s %s", child, m), 0);
    ASSERT_EQ(sh("qemu-img check -q %s", child), 0);
    bd = open_disk(child, false);
    assert_disk_equals(bd, m);
    blockdev_close(bd);
}

static uint32_t desc_cid(const char *path)
{
    size_t n;
    uint8_t *b = slurp(path, &n);
    ASSERT(b);
    b[n] = 0;
    for (size_t i = 0; i + 4 < n; i++)
        if ((i == 0 || b[i - 1] == '\n') && !memcmp(b + i, "CID=", 4)) {
            uint32_t v = (uint32_t)strtoul((char *)b + i + 4, NULL, 16);
            free(b);
            return v;
        }
    FAIL("%s: no CID line", path);
}

TEST(cid_renewed_before_first_write)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char sp[4200], fl[4200];
    snprintf(sp, sizeof sp, "%s/s.vmdk", dir);
    snprintf(fl, sizeof fl, "%s/f.vmdk", dir);
    ASSERT_EQ(sh("cd %s && qemu-img create -q -f vmdk s.vmdk 4M && "
                 "qemu-img create -q -f vmdk -o subformat=monolithicFlat f.vmdk 4M", dir), 0);
    uint32_t c1 = desc_cid(sp), c2 = desc_cid(fl);
    size_t before_len = 0;
    char *before = (char *)slurp(fl, &before_len);
    before[strnlen(before, before_len)] = 0;
    struct stat st1, st2;
    ASSERT_EQ(stat(fl, &st1), 0);
    uint8_t buf[512] = {1, 2, 3};
    struct blockdev *a = open_disk(sp, true), *b = open_disk(fl, true);
    ASSERT_EQ(desc_cid(sp), c1); /* opening writes nothing */
    ASSERT_EQ(blockdev_write(a, 5, 1, buf), 0);
    ASSERT_EQ(blockdev_write(b, 5, 1, buf), 0);
    ASSERT_NE(desc_cid(sp), c1);
    ASSERT_NE(desc_cid(fl), c2);
    uint32_t n1 = desc_cid(sp);
    ASSERT_EQ(blockdev_write(a, 9, 1, buf), 0); /* once per session */
    ASSERT_EQ(desc_cid(sp), n1);
    blockdev_close(a);
    blockdev_close(b);
    ASSERT_EQ(stat(fl, &st2), 0);
    ASSERT_NE(st1.st_ino, st2.st_ino); /* replaced by rename */
    /* every other line (ddb.* included) kept verbatim */
    char *cid = strstr(before, "CID="), want[4096];
    ASSERT(cid && strlen(before) < sizeof want - 16);
    snprintf(want, sizeof want, "%.*sCID=%08x%s", (int)(cid - before), before, desc_cid(fl),
             strchr(cid, '\n'));
    size_t after_len = 0;
    char *after = (char *)slurp(fl, &after_len);
    after[after_len] = 0;
    ASSERT_STR_EQ(after, want);
    ASSERT(strstr(after, "ddb.adapterType"));
    free(before);
    free(after);
    ASSERT_EQ(sh("ls %s | grep -q vmplay-tmp", dir), 1); /* no temporary file left */
    ASSERT_EQ(sh("qemu-img check -q %s && qemu-img info %s >/dev/null", sp, fl), 0);
    /* a child of the old contents now refuses to open */
    ASSERT_EQ(sh("cd %s && qemu-img create -q -f vmdk -b s.vmdk -F vmdk c.vmdk", dir), 0);
    a = open_disk(sp, true);
    ASSERT_EQ(blockdev_write(a, 0, 1, buf), 0);
    blockdev_close(a);
    char c[4200];
    snprintf(c, sizeof c, "%s/c.vmdk", dir);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = true};
    struct error err = {0};
    struct blockdev *bd;
    ASSERT(blockdev_open(c, &o, &bd, &err) != 0);
    ASSERT(strstr(err.msg, "parentCID"));
}

TEST(unclean_flag_set_while_writing)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200];
    snprintf(v, sizeof v, "%s/u.vmdk", dir);
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 4M", v), 0);
    struct blockdev *bd = open_disk(v, true);
    ASSERT_EQ(peek32(v, 72) & 0xff, 0);
    uint8_t buf[512] = {9};
    ASSERT_EQ(blockdev_write(bd, 100, 1, buf), 0);
    ASSERT_EQ(peek32(v, 72) & 0xff, 1);
    ASSERT_EQ(blockdev_flush(bd), 0);
    ASSERT_EQ(peek32(v, 72) & 0xff, 1);
    blockdev_close(bd);
    ASSERT_EQ(peek32(v, 72) & 0xff, 0);
}

/* A file left unclean with a stale redundant table: opened, repaired at the first write. */
TEST(unclean_repaired_from_primary)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200], m[4200];
    snprintf(v, sizeof v, "%s/u.vmdk", dir);
    snprintf(m, sizeof m, "%s/u.raw", dir);
    ASSERT_EQ(sh("cd %s && head -c 2M /dev/urandom > u.raw && truncate -s 4M u.raw && "
                 "qemu-img convert -O vmdk u.raw u.vmdk", dir), 0);
    uint32_t gd = peek32(v, 56), rgd = peek32(v, 48);
    uint32_t gt = peek32(v, (long)gd * 512), rgt = peek32(v, (long)rgd * 512);
    uint8_t one = 1, zero4[4] = {0};
    poke(v, 72, &one, 1);
    poke(v, (long)rgt * 512 + 8, zero4, 4); /* the redundant copy lags */
    struct blockdev *bd = open_disk(v, true);
    char d[2048];
    bd->ops->describe(bd, d, sizeof d);
    ASSERT(strstr(d, "not closed cleanly"));
    uint8_t buf[512] = {7};
    ASSERT_EQ(blockdev_write(bd, 7000, 1, buf), 0);
    blockdev_close(bd);
    int mfd = open(m, O_RDWR);
    ASSERT_EQ(pwrite(mfd, buf, 512, 7000 * 512), 512);
    close(mfd);
    ASSERT_EQ(peek32(v, 72) & 0xff, 0);
    ASSERT_EQ(peek32(v, (long)rgt * 512 + 8), peek32(v, (long)gt * 512 + 8));
    ASSERT_EQ(sh("qemu-img check -q %s && qemu-img compare -q %s %s", v, v, m), 0);
}

/* Killed between the primary and the redundant directory entry of a new grain table: the
 * file opens, reads what the primary holds, and gets its redundant table at the first write. */
TEST(unclean_missing_redundant_table_added)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200];
    snprintf(v, sizeof v, "%s/u.vmdk", dir);
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 4M", v), 0);
    uint32_t gd = peek32(v, 56), rgd = peek32(v, 48);
    uint8_t one = 1, zero4[4] = {0}, a[512], b[512], back[512];
    memset(a, 0x3c, sizeof a);
    memset(b, 0xc3, sizeof b);
    poke(v, (long)gd * 512, zero4, 4);
    poke(v, (long)rgd * 512, zero4, 4);
    struct blockdev *bd = open_disk(v, true);
    ASSERT_EQ(blockdev_write(bd, 10, 1, a), 0); /* a new table for entry 0 */
    blockdev_close(bd);
    ASSERT(peek32(v, (long)gd * 512) != 0 && peek32(v, (long)rgd * 512) != 0);
    poke(v, (long)rgd * 512, zero4, 4);
    poke(v, 72, &one, 1);
    bd = open_disk(v, false);
    ASSERT_EQ(blockdev_read(bd, 10, 1, back), 0);
    ASSERT_MEM_EQ(a, back, sizeof a);
    blockdev_close(bd);
    bd = open_disk(v, true);
    ASSERT_EQ(blockdev_write(bd, 20, 1, b), 0);
    blockdev_close(bd);
    uint32_t gt = peek32(v, (long)gd * 512), rgt = peek32(v, (long)rgd * 512);
    ASSERT(rgt != 0 && rgt != gt);
    for (long e = 0; e < 512; e++)
        ASSERT_EQ(peek32(v, (long)rgt * 512 + 4 * e), peek32(v, (long)gt * 512 + 4 * e));
    ASSERT_EQ(peek32(v, 72) & 0xff, 0);
    ASSERT_EQ(sh("qemu-img check -q %s", v), 0);
    bd = open_disk(v, false);
    ASSERT_EQ(blockdev_read(bd, 10, 1, back), 0);
    ASSERT_MEM_EQ(a, back, sizeof a);
    ASSERT_EQ(blockdev_read(bd, 20, 1, back), 0);
    ASSERT_MEM_EQ(b, back, sizeof b);
    blockdev_close(bd);
}

TEST(unclean_damaged_refused)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200];
    snprintf(v, sizeof v, "%s/u.vmdk", dir);
    ASSERT_EQ(sh("cd %s && head -c 1M /dev/urandom > u.raw && qemu-img convert -O vmdk u.raw u.vmdk",
                 dir), 0);
    uint32_t gd = peek32(v, 56), gt = peek32(v, (long)gd * 512);
    uint8_t one = 1, far[4] = {0, 0, 0, 0x40};
    poke(v, 72, &one, 1);
    poke(v, (long)gt * 512, far, 4);
    uint64_t before = file_sum(v);
    struct blockdev_open_opts o = {.media = MEDIA_DISK};
    struct error err = {0};
    struct blockdev *bd;
    ASSERT(blockdev_open(v, &o, &bd, &err) != 0);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(strstr(err.msg, "not closed cleanly") && !strchr(err.msg, '\n'));
    ASSERT_EQ(file_sum(v), before);
}

TEST(read_only_formats_use_overlay)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200];
    snprintf(v, sizeof v, "%s/s.vmdk", dir);
    ASSERT_EQ(sh("cd %s && head -c 1M /dev/urandom > r.raw && "
                 "qemu-img convert -O vmdk -o subformat=streamOptimized r.raw s.vmdk", dir), 0);
    uint64_t before = file_sum(v);
    struct blockdev *bd = open_disk(v, true);
    ASSERT(bd->warning && strstr(bd->warning, "s.vmdk") && !strchr(bd->warning, '\n'));
    uint8_t buf[1024], back[1024];
    memset(buf, 0xab, sizeof buf);
    ASSERT_EQ(blockdev_write(bd, 3, 2, buf), 0);
    ASSERT_EQ(blockdev_read(bd, 3, 2, back), 0);
    ASSERT_MEM_EQ(buf, back, sizeof buf);
    ASSERT_EQ(blockdev_flush(bd), 0);
    blockdev_close(bd);
    ASSERT_EQ(file_sum(v), before);
    /* snapshot mode on a writable disk: the same, without a warning */
    ASSERT_EQ(sh("cd %s && qemu-img convert -O vmdk r.raw p.vmdk", dir), 0);
    snprintf(v, sizeof v, "%s/p.vmdk", dir);
    before = file_sum(v);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .snapshot = true};
    struct error err = {0};
    ASSERT_EQ(blockdev_open(v, &o, &bd, &err), 0);
    ASSERT(!bd->warning && !bd->read_only);
    ASSERT_EQ(blockdev_write(bd, 3, 2, buf), 0);
    ASSERT_EQ(blockdev_read(bd, 3, 2, back), 0);
    ASSERT_MEM_EQ(buf, back, sizeof buf);
    blockdev_close(bd);
    ASSERT_EQ(file_sum(v), before);
    /* read-only open: writes fail */
    bd = open_disk(v, false);
    ASSERT_EQ(blockdev_write(bd, 0, 1, buf), -EROFS);
    blockdev_close(bd);
}

/* A file cut before its overhead, tables never allocated: new grains go past the
 * overhead and read back after reopening (found by fuzz-vmdk). */
TEST(truncated_before_overhead_writes_stay_readable)
{
    need_qemu_img();
    char v[4200];
    snprintf(v, sizeof v, "%s/t.vmdk", test_tmpdir());
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 4M", v), 0);
    uint32_t gd = peek32(v, 56), rgd = peek32(v, 48);
    uint8_t zero[4] = {0};
    poke(v, (long)gd * 512, zero, 4);
    poke(v, (long)rgd * 512, zero, 4);
    ASSERT_EQ(truncate(v, (off_t)(gd + 1) * 512), 0);
    uint8_t buf[512], back[512];
    memset(buf, 0xa5, sizeof buf);
    struct blockdev *bd = open_disk(v, true);
    ASSERT_EQ(blockdev_write(bd, 0, 1, buf), 0);
    blockdev_close(bd);
    bd = open_disk(v, false);
    ASSERT_EQ(blockdev_read(bd, 0, 1, back), 0);
    ASSERT_MEM_EQ(buf, back, sizeof buf);
    blockdev_close(bd);
    ASSERT_EQ(sh("qemu-img check -q %s", v), 0);
}

/* A sparse file whose tables a write would trust are inconsistent (damage() pokes
 * them): it opens, its data reads as before, guest writes go to the overlay with one
 * warning line naming the damage, and the file is never written. */
static void damaged_never_written(void (*damage)(const char *v), const char *what)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char v[4200], raw[4200];
    snprintf(v, sizeof v, "%s/d.vmdk", dir);
    snprintf(raw, sizeof raw, "%s/d.raw", dir);
    ASSERT_EQ(sh("cd %s && rm -f d.vmdk && head -c 1M /dev/urandom > d.raw && "
                 "qemu-img convert -O vmdk d.raw d.vmdk", dir), 0);
    damage(v);
    uint64_t before = file_sum(v);
    struct blockdev *bd = open_disk(v, true);
    ASSERT(bd->warning && strstr(bd->warning, "inconsistent metadata") &&
           strstr(bd->warning, what) && !strchr(bd->warning, '\n'));
    uint8_t buf[4096], back[4096];
    memset(buf, 0x5a, sizeof buf);
    for (uint64_t s = 0; s < 120; s += 37) /* grain 0: intact in every damage() */
        ASSERT_EQ(blockdev_write(bd, s, 8, buf), 0);
    ASSERT_EQ(blockdev_read(bd, 37, 8, back), 0);
    ASSERT_MEM_EQ(buf, back, sizeof buf);
    ASSERT_EQ(blockdev_flush(bd), 0);
    blockdev_close(bd);
    ASSERT_EQ(file_sum(v), before);
    bd = open_disk(v, false); /* still opens: the damage did not grow */
    blockdev_close(bd);
}

static void zero_redundant_entry(const char *v)
{
    uint8_t zero[4] = {0};
    poke(v, (long)peek32(v, 48) * 512, zero, 4);
}

static void grain_onto_table(const char *v)
{
    uint32_t gt = peek32(v, (long)peek32(v, 56) * 512);
    uint8_t e[4] = {(uint8_t)gt, (uint8_t)(gt >> 8), (uint8_t)(gt >> 16), (uint8_t)(gt >> 24)};
    poke(v, (long)gt * 512 + 4, e, 4); /* entry 1 of table 0 points at table 0 itself */
}

static void grains_shared(const char *v)
{
    uint32_t gt = peek32(v, (long)peek32(v, 56) * 512);
    uint32_t e0 = peek32(v, (long)gt * 512);
    uint8_t e[4] = {(uint8_t)e0, (uint8_t)(e0 >> 8), (uint8_t)(e0 >> 16), (uint8_t)(e0 >> 24)};
    poke(v, (long)gt * 512 + 4, e, 4); /* grains 0 and 1 in the same place */
}

static void grain_past_end(const char *v)
{
    uint32_t gt = peek32(v, (long)peek32(v, 56) * 512);
    uint8_t e[4] = {0, 0, 0x10, 0};
    poke(v, (long)gt * 512 + 8, e, 4);
}

/* Found by fuzz-vmdk: with a redundant directory entry 0, the first flush wrote the
 * redundant table over the header and embedded descriptor. */
TEST(damaged_redundant_directory_never_written)
{
    damaged_never_written(zero_redundant_entry, "redundant directory");
}

TEST(grain_onto_a_table_never_written)
{
    damaged_never_written(grain_onto_table, "grain table 0 entry 1");
}

TEST(grains_sharing_a_place_never_written)
{
    damaged_never_written(grains_shared, "overlaps");
}

TEST(grain_past_the_end_never_written)
{
    damaged_never_written(grain_past_end, "outside the data area");
}

/* A descriptor whose flat extents share bytes of one file (the same file listed twice,
 * the second time through a hard link): a write to one would change the other, so the
 * disk is never written; and a flat extent laid over its own descriptor text. */
TEST(extents_sharing_bytes_never_written)
{
    const char *dir = test_tmpdir();
    char v[4200], w[4200];
    snprintf(v, sizeof v, "%s/twice.vmdk", dir);
    snprintf(w, sizeof w, "%s/self.vmdk", dir);
    ASSERT_EQ(sh("cd %s && head -c 1M /dev/urandom > a-flat.vmdk && ln -f a-flat.vmdk b-flat.vmdk && "
                 "printf '# Disk DescriptorFile\\nversion=1\\nCID=12345678\\nparentCID=ffffffff\\n"
                 "createType=\"monolithicFlat\"\\nRW 1024 FLAT \"a-flat.vmdk\" 0\\n"
                 "RW 1024 FLAT \"b-flat.vmdk\" 512\\n' > twice.vmdk && "
                 "printf '# Disk DescriptorFile\\nversion=1\\nCID=12345678\\nparentCID=ffffffff\\n"
                 "createType=\"monolithicFlat\"\\nRW 2048 FLAT \"self.vmdk\" 0\\n' > self.vmdk && "
                 "truncate -s 1M self.vmdk", dir), 0);
    const char *paths[2] = {v, w};
    char a[4200];
    snprintf(a, sizeof a, "%s/a-flat.vmdk", dir);
    for (int k = 0; k < 2; k++) {
        uint64_t before = file_sum(paths[k]), flat = file_sum(a);
        struct blockdev *bd = open_disk(paths[k], true);
        ASSERT(bd->warning && strstr(bd->warning, "sharing bytes") && !strchr(bd->warning, '\n'));
        uint8_t buf[512];
        memset(buf, 0xee, sizeof buf);
        ASSERT_EQ(blockdev_write(bd, 0, 1, buf), 0);
        ASSERT_EQ(blockdev_write(bd, 1500, 1, buf), 0);
        ASSERT_EQ(blockdev_flush(bd), 0);
        blockdev_close(bd);
        ASSERT_EQ(file_sum(paths[k]), before);
        ASSERT_EQ(file_sum(a), flat);
    }
}

/* What a SIGKILL of the player would leave: the file as it is now, the blockdev still open,
 * copied aside; qemu-img checks the copy and reads n sectors at s from it. */
static bool copy_holds(const char *v, uint64_t s, uint32_t n, const uint8_t *want)
{
    char c[4300], raw[4300];
    snprintf(c, sizeof c, "%s.killed.vmdk", v);
    snprintf(raw, sizeof raw, "%s.killed.raw", v);
    ASSERT_EQ(sh("cp %s %s && qemu-img check -q %s && qemu-img convert -O raw %s %s", v, c, c, c,
                 raw), 0);
    size_t len;
    uint8_t *b = slurp(raw, &len);
    ASSERT(b && len >= (s + n) * 512);
    bool same = !memcmp(b + s * 512, want, (size_t)n * 512);
    free(b);
    return same;
}

/* A stable write (a drive with its write cache off, FUA) is in the file, with the grain
 * table entry that finds it, when it returns, at either depth; a cached write is not until
 * a flush, and a write-through disk makes every write stable. */
TEST(stable_writes_are_in_the_file_when_they_return)
{
    need_qemu_img();
    static const enum blockdev_sync depth[] = {BLOCKDEV_SYNC_MEDIA, BLOCKDEV_SYNC_FILE};
    uint8_t a[128 * 512], b[128 * 512], c[8 * 512];
    uint64_t seed = 26;
    rng_fill(&seed, a, sizeof a);
    rng_fill(&seed, b, sizeof b);
    rng_fill(&seed, c, sizeof c);
    for (int i = 0; i < 2; i++) {
        char v[4200];
        snprintf(v, sizeof v, "%s/s%d.vmdk", test_tmpdir(), i);
        ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 64M", v), 0);
        struct blockdev_open_opts o = {.media = MEDIA_DISK, .sync = depth[i]};
        struct blockdev *bd;
        struct error err;
        ASSERT_EQ(blockdev_open(v, &o, &bd, &err), 0);
        ASSERT_EQ(blockdev_write(bd, 1024, 128, a), 0); /* a new grain, entry in memory */
        ASSERT(!copy_holds(v, 1024, 128, a));
        /* a new grain in the second grain table, then a partial grain */
        ASSERT_EQ(blockdev_write_stable(bd, 70000, 128, b), 0);
        ASSERT(copy_holds(v, 70000, 128, b));
        ASSERT(copy_holds(v, 1024, 128, a)); /* a flush covers every write before it */
        ASSERT_EQ(blockdev_write_stable(bd, 3, 8, c), 0);
        ASSERT(copy_holds(v, 3, 8, c));
        blockdev_close(bd);
        ASSERT_EQ(sh("qemu-img check -q %s", v), 0);
    }
    char v[4200];
    snprintf(v, sizeof v, "%s/wt.vmdk", test_tmpdir());
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 64M", v), 0);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .write_through = true};
    struct blockdev *bd;
    struct error err;
    ASSERT_EQ(blockdev_open(v, &o, &bd, &err), 0);
    ASSERT(bd->write_through && bd->sync == BLOCKDEV_SYNC_MEDIA);
    ASSERT_EQ(blockdev_write(bd, 5000, 128, a), 0);
    ASSERT(copy_holds(v, 5000, 128, a));
    blockdev_close(bd);
}

/* The policy reaches the disk blockdev_open returns, overlay or not; a snapshot's stable
 * writes stay in memory (its flush has nothing to make durable) and the file is untouched. */
TEST(policy_on_every_kind_of_disk)
{
    need_qemu_img();
    char v[4200], r[4200];
    snprintf(v, sizeof v, "%s/p.vmdk", test_tmpdir());
    snprintf(r, sizeof r, "%s/p.raw", test_tmpdir());
    ASSERT_EQ(sh("qemu-img create -q -f vmdk %s 4M && qemu-img create -q -f raw %s 4M", v, r), 0);
    uint64_t before = file_sum(v);
    const char *paths[] = {v, r, v};
    for (int i = 0; i < 3; i++) {
        struct blockdev_open_opts o = {.media = MEDIA_DISK, .snapshot = i == 2,
                                       .write_through = true, .sync = BLOCKDEV_SYNC_FILE};
        struct blockdev *bd;
        struct error err;
        ASSERT_EQ(blockdev_open(paths[i], &o, &bd, &err), 0);
        ASSERT(bd->write_through && bd->sync == BLOCKDEV_SYNC_FILE);
        uint8_t buf[512], back[512];
        memset(buf, 0x40 + i, sizeof buf);
        ASSERT_EQ(blockdev_write(bd, 7, 1, buf), 0);
        ASSERT_EQ(blockdev_flush(bd), 0);
        ASSERT_EQ(blockdev_read(bd, 7, 1, back), 0);
        ASSERT_MEM_EQ(buf, back, sizeof buf);
        blockdev_close(bd);
    }
    ASSERT(file_sum(v) != before); /* the first open wrote it */
    before = file_sum(v);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .snapshot = true, .write_through = true};
    struct blockdev *bd;
    struct error err;
    ASSERT_EQ(blockdev_open(v, &o, &bd, &err), 0);
    uint8_t buf[512] = {1};
    ASSERT_EQ(blockdev_write(bd, 9, 1, buf), 0);
    blockdev_close(bd);
    ASSERT_EQ(file_sum(v), before);
}
