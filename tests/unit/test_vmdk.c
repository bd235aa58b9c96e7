/*
 * VMDK reading and refusing: the real samples against `qemu-img convert -O raw`
 * of the same files, every subformat qemu-img writes, a hand-made COWD
 * (vmfsSparse) disk, stream-optimized disks with the directory at either end,
 * and broken copies (afl9, truncated, directory past the end, overlapping
 * tables, parent cycle, CID mismatch) refused with one line and left
 * byte-identical. Writing is in test_vmdk_write.c, the crash test in
 * test_vmdk_crash.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/unit/disktest.h"

static const char *const sample_disks[] = {
    "monolithicSparse.vmdk", "streamOptimized.vmdk", "twoGbMaxExtentSparse.vmdk",
    "monolithicFlat.vmdk",   "twoGbMaxExtentFlat.vmdk", "vmfs_thick.vmdk", "ext2.vmdk",
};

/* A scratch copy of the vmdk samples with the flat extents regenerated. */
static const char *sample_copy(void)
{
    const char *s = test_samples_dir();
    if (!s)
        SKIP_NO_SAMPLES();
    need_qemu_img();
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/samples", test_tmpdir());
    ASSERT_EQ(sh("mkdir -p %s && cp %s/vmdk/* %s/ && chmod u+w %s/* && "
                 "sh %s/regen-flat-extents.sh >/dev/null",
                 dir, s, dir, dir, dir), 0);
    return dir;
}

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static int try_open(const char *path, bool rw, struct error *err)
{
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = !rw};
    struct blockdev *bd = NULL;
    int r = blockdev_open(path, &o, &bd, err);
    if (r == 0)
        blockdev_close(bd);
    return r;
}

/* Refused with one line of the given status; the file's bytes unchanged. */
static void assert_refused(const char *path, int code, const char *needle)
{
    uint64_t before = file_sum(path);
    struct error err = {0};
    for (int rw = 0; rw < 2; rw++) {
        if (try_open(path, rw, &err) == 0)
            FAIL("%s opened (rw=%d) but must be refused", path, rw);
        if (err.code != code || strchr(err.msg, '\n') || !strstr(err.msg, needle))
            FAIL("%s: status %d, message \"%s\" (want %d, \"%s\")", path, err.code, err.msg, code,
                 needle);
    }
    ASSERT_EQ(file_sum(path), before);
}

TEST(samples_match_qemu)
{
    const char *dir = sample_copy();
    char p[4200], raw[4300];
    for (size_t i = 0; i < sizeof sample_disks / sizeof sample_disks[0]; i++) {
        path_in(p, sizeof p, dir, sample_disks[i]);
        snprintf(raw, sizeof raw, "%s.raw", p);
        ASSERT_EQ(sh("qemu-img convert -O raw '%s' '%s'", p, raw), 0);
        struct blockdev *bd = open_disk(p, false);
        assert_disk_equals(bd, raw);
        blockdev_close(bd);
    }
}

TEST(samples_open_rw_writes_nothing)
{
    const char *dir = sample_copy();
    char p[4200];
    ASSERT_EQ(sh("cd %s && md5sum *.vmdk > ../before.md5", dir), 0);
    for (size_t i = 0; i < sizeof sample_disks / sizeof sample_disks[0]; i++) {
        path_in(p, sizeof p, dir, sample_disks[i]);
        struct blockdev *bd = open_disk(p, true);
        free(read_disk(bd));
        ASSERT_EQ(blockdev_flush(bd), 0);
        blockdev_close(bd);
    }
    ASSERT_EQ(sh("cd %s && md5sum --quiet -c ../before.md5", dir), 0);
}

TEST(sample_formats_and_describe)
{
    const char *dir = sample_copy();
    char p[4200], d[2048];
    path_in(p, sizeof p, dir, "streamOptimized.vmdk");
    struct blockdev *bd = open_disk(p, true);
    ASSERT_STR_EQ(bd->format, "vmdk streamOptimized");
    ASSERT(bd->warning && strstr(bd->warning, "streamOptimized"));
    ASSERT_EQ(bd->sectors, 20480);
    bd->ops->describe(bd, d, sizeof d);
    ASSERT(strstr(d, "copy-on-write") && strstr(d, "streamOptimized.vmdk"));
    blockdev_close(bd);
    path_in(p, sizeof p, dir, "twoGbMaxExtentSparse.vmdk");
    bd = open_disk(p, true);
    ASSERT(!bd->warning && !bd->read_only);
    ASSERT_STR_EQ(bd->format, "vmdk twoGbMaxExtentSparse");
    bd->ops->describe(bd, d, sizeof d);
    ASSERT(strstr(d, "10 MiB") && strstr(d, "read-write"));
    blockdev_close(bd);
}

TEST(afl9_refused)
{
    const char *s = test_samples_dir();
    if (!s)
        SKIP_NO_SAMPLES();
    char p[4200];
    snprintf(p, sizeof p, "%s/afl9.vmdk", test_tmpdir());
    ASSERT_EQ(sh("bzip2 -dc %s/vmdk/afl9.vmdk.bz2 > %s", s, p), 0);
    assert_refused(p, EX_DATAERR, "grain");
}

static void patch(const char *path, long off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static uint32_t peek32(const char *path, long off)
{
    uint8_t b[4] = {0};
    int fd = open(path, O_RDONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ(pread(fd, b, 4, off), 4);
    close(fd);
    return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

TEST(broken_copies_refused)
{
    const char *dir = sample_copy();
    char p[4200];
    /* truncated: the tables lie past the end */
    path_in(p, sizeof p, dir, "monolithicSparse.vmdk");
    ASSERT_EQ(sh("head -c 8192 %s > %s/trunc.vmdk", p, dir), 0);
    path_in(p, sizeof p, dir, "trunc.vmdk");
    assert_refused(p, EX_DATAERR, "past the end");
    ASSERT_EQ(sh("head -c 100 %s/ext2.vmdk > %s/tiny.vmdk", dir, dir), 0);
    path_in(p, sizeof p, dir, "tiny.vmdk");
    assert_refused(p, EX_DATAERR, "truncated");
    /* grain directory offset past the end of the file */
    ASSERT_EQ(sh("cp %s/monolithicSparse.vmdk %s/gd.vmdk", dir, dir), 0);
    path_in(p, sizeof p, dir, "gd.vmdk");
    uint8_t far[8] = {0, 0, 0, 0x10};
    patch(p, 56, far, 8);
    assert_refused(p, EX_DATAERR, "grain directory");
    /* two directory entries naming the same grain table */
    ASSERT_EQ(sh("cp %s/monolithicSparse.vmdk %s/ov.vmdk", dir, dir), 0);
    path_in(p, sizeof p, dir, "ov.vmdk");
    uint32_t gd = peek32(p, 56), rgd = peek32(p, 48), gt0 = peek32(p, (long)gd * 512);
    uint8_t e[4] = {(uint8_t)gt0, (uint8_t)(gt0 >> 8), (uint8_t)(gt0 >> 16), (uint8_t)(gt0 >> 24)};
    patch(p, (long)rgd * 512, e, 4); /* the redundant table is the primary one */
    assert_refused(p, EX_DATAERR, "overlap");
    /* absurd grain size */
    ASSERT_EQ(sh("cp %s/monolithicSparse.vmdk %s/grain.vmdk", dir, dir), 0);
    path_in(p, sizeof p, dir, "grain.vmdk");
    uint8_t g[8] = {0x81};
    patch(p, 20, g, 8);
    assert_refused(p, EX_DATAERR, "grain size");
}

static void write_text(const char *path, const char *text)
{
    spit(path, text, strlen(text));
}

TEST(parent_cycle_refused)
{
    const char *dir = test_tmpdir();
    char a[4200], b[4200], self[4200];
    snprintf(a, sizeof a, "%s/a.vmdk", dir);
    snprintf(b, sizeof b, "%s/b.vmdk", dir);
    snprintf(self, sizeof self, "%s/self.vmdk", dir);
    ASSERT_EQ(sh("truncate -s 1M %s/d.raw", dir), 0);
    write_text(a, "# Disk DescriptorFile\nversion=1\nCID=0000000a\nparentCID=0000000b\n"
                  "createType=\"monolithicFlat\"\nparentFileNameHint=\"b.vmdk\"\n"
                  "RW 2048 FLAT \"d.raw\" 0\n");
    write_text(b, "# Disk DescriptorFile\nversion=1\nCID=0000000b\nparentCID=0000000a\n"
                  "createType=\"monolithicFlat\"\nparentFileNameHint=\"./a.vmdk\"\n"
                  "RW 2048 FLAT \"d.raw\" 0\n");
    write_text(self, "# Disk DescriptorFile\nversion=1\nCID=0000000c\nparentCID=0000000c\n"
                     "createType=\"monolithicFlat\"\nparentFileNameHint=\"self.vmdk\"\n"
                     "RW 2048 FLAT \"d.raw\" 0\n");
    assert_refused(a, EX_DATAERR, "loops back");
    assert_refused(self, EX_DATAERR, "loops back");
}

/* A child made by qemu-img create -b; returns its path in out. */
static void make_chain(const char *dir, char *base_raw, char *child, size_t len)
{
    need_qemu_img();
    snprintf(base_raw, len, "%s/base.raw", dir);
    snprintf(child, len, "%s/child.vmdk", dir);
    uint8_t *data = malloc(4 << 20);
    uint64_t seed = 99;
    rng_fill(&seed, data, 4 << 20);
    memset(data + (1 << 20), 0, 1 << 20); /* a hole: unallocated in the base */
    spit(base_raw, data, 4 << 20);
    free(data);
    ASSERT_EQ(sh("cd %s && qemu-img convert -O vmdk base.raw base.vmdk && "
                 "qemu-img create -q -f vmdk -b base.vmdk -F vmdk child.vmdk", dir), 0);
}

TEST(chain_reads_parent)
{
    char raw[4200], child[4200];
    make_chain(test_tmpdir(), raw, child, sizeof raw);
    struct blockdev *bd = open_disk(child, false);
    assert_disk_equals(bd, raw);
    char d[2048];
    bd->ops->describe(bd, d, sizeof d);
    ASSERT(strstr(d, "child.vmdk") && strstr(d, "<-") && strstr(d, "base.vmdk"));
    blockdev_close(bd);
}

TEST(chain_cid_mismatch_refused)
{
    const char *dir = test_tmpdir();
    char raw[4200], child[4200];
    make_chain(dir, raw, child, sizeof raw);
    /* the parent changes after the snapshot: a write through qemu gives it a new CID */
    ASSERT_EQ(sh("cd %s && qemu-io -c 'write -P 7 0 4k' base.vmdk >/dev/null", dir), 0);
    assert_refused(child, EX_DATAERR, "parentCID");
}

TEST(chain_missing_parent)
{
    const char *dir = test_tmpdir();
    char raw[4200], child[4200];
    make_chain(dir, raw, child, sizeof raw);
    ASSERT_EQ(sh("mv %s/base.vmdk %s/moved.vmdk", dir, dir), 0);
    struct error err = {0};
    ASSERT(try_open(child, false, &err) != 0);
    ASSERT_EQ(err.code, EX_NOINPUT);
    ASSERT(strstr(err.msg, "base.vmdk") && !strchr(err.msg, '\n'));
}

TEST(missing_extent_names_path)
{
    const char *dir = sample_copy();
    char p[4200];
    ASSERT_EQ(sh("rm %s/twoGbMaxExtentSparse-s001.vmdk", dir), 0);
    path_in(p, sizeof p, dir, "twoGbMaxExtentSparse.vmdk");
    struct error err = {0};
    ASSERT(try_open(p, false, &err) != 0);
    ASSERT_EQ(err.code, EX_NOINPUT);
    ASSERT(strstr(err.msg, "twoGbMaxExtentSparse-s001.vmdk"));
}

static const char *const subformats[] = {
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
    "streamOptimized",
};

/* Random data with holes and zero runs, 9 MiB + 7 sectors (a partial last grain). */
static void make_random_raw(const char *path, uint64_t seed, size_t *len)
{
    size_t n = (9 << 20) + 7 * 512;
    uint8_t *b = calloc(1, n);
    for (size_t off = 0; off < n; off += 65536)
        if (rng_next(&seed) % 3)
            rng_fill(&seed, b + off, n - off < 65536 ? n - off : 65536);
    memset(b + 100000, 0, 70000);
    spit(path, b, n);
    free(b);
    *len = n;
}

TEST(qemu_subformats_read)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char raw[4200], v[4200];
    size_t n;
    snprintf(raw, sizeof raw, "%s/data.raw", dir);
    make_random_raw(raw, 1234, &n);
    for (size_t i = 0; i < sizeof subformats / sizeof subformats[0]; i++) {
        snprintf(v, sizeof v, "%s/%s.vmdk", dir, subformats[i]);
        ASSERT_EQ(sh("qemu-img convert -O vmdk -o subformat=%s %s %s", subformats[i], raw, v), 0);
        struct blockdev *bd = open_disk(v, false);
        assert_disk_equals(bd, raw);
        blockdev_close(bd);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void marker(uint8_t *sec, uint64_t val, uint32_t type)
{
    memset(sec, 0, 512);
    put64(sec, val);
    put32(sec + 12, type);
}

/* A streamOptimized file as VMware writes it with gdOffset = GD_AT_END: header,
 * grain markers with zlib streams, GT markers + tables, GD marker + directory,
 * footer marker + footer (the header with the real gdOffset), end-of-stream. */
static size_t make_stream_at_end(const uint8_t *data, size_t len, uint8_t *out)
{
    enum { G = 128, GB = G * 512 };
    uint64_t cap = (len + 511) / 512, grains = (cap + G - 1) / G, gts = (grains + 511) / 512;
    uint32_t *gt = calloc(gts * 512, 4), *gd = calloc(gts, 4);
    uint8_t hdr[512] = {'K', 'D', 'M', 'V'};
    put32(hdr + 4, 3);
    put32(hdr + 8, 0x30001);
    put64(hdr + 12, cap);
    put64(hdr + 20, G);
    put32(hdr + 44, 512);
    put64(hdr + 56, UINT64_MAX);
    put64(hdr + 28, 1); /* descriptor: sectors 1-20 */
    put64(hdr + 36, 20);
    put64(hdr + 64, 21);
    memcpy(hdr + 73, "\n \r\n", 4);
    hdr[77] = 1;
    memcpy(out, hdr, 512);
    snprintf((char *)out + 512, 20 * 512,
             "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
             "createType=\"streamOptimized\"\n\n# Extent description\n"
             "RDONLY %llu SPARSE \"s.vmdk\"\n\n# The Disk Data Base\n#DDB\n\n"
             "ddb.virtualHWVersion = \"4\"\n", (unsigned long long)cap);
    size_t at = 21;
    uint8_t zero[GB] = {0}, chunk[GB];
    for (uint64_t g = 0; g < grains; g++) {
        size_t n = len - g * GB < GB ? len - g * GB : GB;
        memset(chunk, 0, GB);
        memcpy(chunk, data + g * GB, n);
        if (!memcmp(chunk, zero, GB))
            continue;
        uLongf zl = compressBound(GB);
        ASSERT_EQ(compress(out + at * 512 + 12, &zl, chunk, GB), Z_OK);
        put64(out + at * 512, g * G);
        put32(out + at * 512 + 8, (uint32_t)zl);
        gt[g] = (uint32_t)at;
        at += (12 + zl + 511) / 512;
    }
    for (uint64_t t = 0; t < gts; t++) {
        marker(out + at++ * 512, 4, 1);
        gd[t] = (uint32_t)at;
        for (int i = 0; i < 512; i++)
            put32(out + at * 512 + 4 * i, gt[t * 512 + i]);
        at += 4;
    }
    marker(out + at++ * 512, (gts * 4 + 511) / 512, 2);
    uint64_t gd_at = at;
    memset(out + at * 512, 0, (gts * 4 + 511) / 512 * 512);
    for (uint64_t t = 0; t < gts; t++)
        put32(out + at * 512 + 4 * t, gd[t]);
    at += (gts * 4 + 511) / 512;
    marker(out + at++ * 512, 1, 3);
    put64(hdr + 56, gd_at);
    memcpy(out + at++ * 512, hdr, 512);
    marker(out + at++ * 512, 0, 0);
    free(gt);
    free(gd);
    return at * 512;
}

/* streamOptimized with the directory at the end (hand-made) and in front (qemu-img, VMware sample). */
TEST(stream_gd_at_end_and_front)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    char raw[4200], v[4200], back[4200];
    size_t n;
    snprintf(raw, sizeof raw, "%s/data.raw", dir);
    snprintf(v, sizeof v, "%s/s.vmdk", dir);
    snprintf(back, sizeof back, "%s/s.raw", dir);
    make_random_raw(raw, 77, &n);
    uint8_t *data = slurp(raw, &n), *out = calloc(1, 2 * n + (1 << 20));
    size_t m = make_stream_at_end(data, n, out);
    spit(v, out, m);
    free(data);
    free(out);
    ASSERT_EQ(sh("qemu-img convert -O raw %s %s && cmp -s %s %s", v, back, raw, back), 0);
    struct blockdev *bd = open_disk(v, false);
    assert_disk_equals(bd, raw);
    blockdev_close(bd);
    /* the footer damaged: refused */
    uint8_t junk[4] = {'J', 'U', 'N', 'K'};
    patch(v, (long)m - 1024, junk, 4);
    assert_refused(v, EX_DATAERR, "footer");
}

/* An ESX vmfsSparse (COWD) delta over a flat base, made by hand; qemu-img reads it too. */
TEST(cowd_vmfssparse_read)
{
    need_qemu_img();
    const char *dir = test_tmpdir();
    enum { SECTORS = 8192, GRAIN = 2, GDE = 1, GD = 4, GT = 5, DATA = GT + 32 };
    uint8_t *f = calloc(1, (DATA + 64 * GRAIN) * 512);
    uint32_t hdr[8] = {0x44574f43, 1, 3, SECTORS, GRAIN, GD, GDE, DATA + 64 * GRAIN};
    memcpy(f, hdr, sizeof hdr);
    uint32_t gt = GT;
    memcpy(f + GD * 512, &gt, 4);
    uint64_t seed = 5;
    for (uint32_t i = 0; i < 64; i++) {
        uint32_t grain = (i * 37) % (SECTORS / GRAIN), at = DATA + i * GRAIN;
        memcpy(f + GT * 512 + grain * 4, &at, 4);
        rng_fill(&seed, f + at * 512, GRAIN * 512);
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/delta-delta.vmdk", dir);
    spit(p, f, (DATA + 64 * GRAIN) * 512);
    free(f);
    ASSERT_EQ(sh("cd %s && head -c %d /dev/urandom > base-flat.vmdk", dir, SECTORS * 512), 0);
    snprintf(p, sizeof p, "%s/base.vmdk", dir);
    write_text(p, "# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=ffffffff\n"
                  "createType=\"vmfs\"\n\n# Extent description\nRW 8192 VMFS \"base-flat.vmdk\"\n");
    snprintf(p, sizeof p, "%s/delta.vmdk", dir);
    write_text(p, "# Disk DescriptorFile\nversion=1\nCID=22222222\nparentCID=11111111\n"
                  "createType=\"vmfsSparse\"\nparentFileNameHint=\"base.vmdk\"\n"
                  "# Extent description\nRW 8192 VMFSSPARSE \"delta-delta.vmdk\"\n"
                  "ddb.adapterType = \"lsilogic\"\n");
    ASSERT_EQ(sh("cd %s && qemu-img convert -O raw delta.vmdk delta.raw", dir), 0);
    ASSERT(sh("cd %s && cmp -s delta.raw base-flat.vmdk", dir) != 0); /* the delta shows */
    struct blockdev *bd = open_disk(p, true);
    ASSERT(bd->warning && strstr(bd->warning, "COWD"));
    char raw[4200];
    snprintf(raw, sizeof raw, "%s/delta.raw", dir);
    assert_disk_equals(bd, raw);
    blockdev_close(bd);
}

TEST(descriptor_syntax)
{
    const char *dir = test_tmpdir();
    char p[4200];
    ASSERT_EQ(sh("cd %s && head -c 1048576 /dev/urandom > a.raw && truncate -s 512K b.raw", dir), 0);
    snprintf(p, sizeof p, "%s/custom.vmdk", dir);
    write_text(p, "# Disk DescriptorFile\r\n\r\n  # indented comment\r\nversion=1\r\n"
                  "encoding=\"UTF-8\"\r\nCID=fffffffe\r\nparentCID=ffffffff\r\n"
                  "createType=\"custom\"\r\n# Extent description\r\nRW 1024 FLAT \"a.raw\" 1024\r\n"
                  "\r\nRDONLY 1024 FLAT \"b.raw\"\r\nRW 2048 ZERO\r\nNOACCESS 8 FLAT \"b.raw\" 0\r\n"
                  "#DDB\r\nddb.virtualHWVersion = \"4\"\r\n ddb.geometry.heads = \"16\"  \r\n");
    struct blockdev *bd = open_disk(p, true);
    ASSERT_EQ(bd->sectors, 1024 + 1024 + 2048 + 8);
    ASSERT(bd->warning && strstr(bd->warning, "RDONLY"));
    size_t n = 0;
    uint8_t *a = slurp(strcat(strcpy(p, dir), "/a.raw"), &n);
    uint8_t *got = malloc(4096 * 512), zero[512] = {0};
    ASSERT_EQ(blockdev_read(bd, 0, 4096, got), 0);
    ASSERT_MEM_EQ(got, a + 1024 * 512, 1024 * 512);
    for (int i = 1024; i < 4096; i++)
        ASSERT_MEM_EQ(got + i * 512, zero, 512);
    ASSERT_EQ(blockdev_read(bd, 4096, 1, got), -EIO); /* NOACCESS */
    ASSERT_EQ(blockdev_write(bd, 0, 1, zero), 0);      /* into the overlay */
    blockdev_close(bd);
    uint8_t *a2 = slurp(p, &n);
    ASSERT_MEM_EQ(a, a2, n);
    free(a);
    free(a2);
    free(got);
}

TEST(descriptor_errors)
{
    const char *dir = test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/bad.vmdk", dir);
    static const struct { const char *text, *needle; } cases[] = {
        {"# Disk DescriptorFile\nversion=1\ncreateType=\"fullDevice\"\n", "createType"},
        {"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 12x FLAT \"a\"\n",
         "line 4"},
        {"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 8 VMFSRAW \"a\"\n",
         "extent type"},
        {"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 8 FLAT a\n",
         "quoted"},
        {"# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n", "no extents"},
        {"# Disk DescriptorFile\nversion=1\nCID=xyz\ncreateType=\"monolithicFlat\"\n", "content ID"},
        {"# Disk DescriptorFile\nversion=1\n", "createType"},
        {"# Disk DescriptorFile\nversion=1\nparentCID=12345678\ncreateType=\"monolithicFlat\"\n"
         "RW 8 ZERO\n", "parentFileNameHint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(p, cases[i].text);
        assert_refused(p, EX_DATAERR, cases[i].needle);
    }
}

/* base <- mid (written by vmplay) <- top (qemu-img create -b mid): both readers agree. */
TEST(three_level_chain_with_own_delta)
{
    char raw[4200], child[4200];
    const char *dir = test_tmpdir();
    make_chain(dir, raw, child, sizeof raw);
    struct blockdev *bd = open_disk(child, true);
    uint8_t buf[70 * 512];
    uint64_t seed = 4;
    for (int i = 0; i < 40; i++) {
        rng_fill(&seed, buf, sizeof buf);
        ASSERT_EQ(blockdev_write(bd, rng_next(&seed) % (bd->sectors - 70), 70, buf), 0);
    }
    blockdev_close(bd);
    ASSERT_EQ(sh("cd %s && qemu-img create -q -f vmdk -b child.vmdk -F vmdk top.vmdk && "
                 "qemu-img convert -O raw top.vmdk top.raw", dir), 0);
    char top[4200], topraw[4200];
    snprintf(top, sizeof top, "%s/top.vmdk", dir);
    snprintf(topraw, sizeof topraw, "%s/top.raw", dir);
    bd = open_disk(top, false);
    assert_disk_equals(bd, topraw);
    blockdev_close(bd);
    ASSERT(sh("cmp -s %s %s", raw, topraw) != 0); /* the middle layer's writes show */
}

static void chain_file(const char *dir, int i, int n)
{
    char p[4200], text[512];
    snprintf(p, sizeof p, "%s/l%d.vmdk", dir, i);
    if (i + 1 < n)
        snprintf(text, sizeof text, "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=%08x\n"
                 "createType=\"monolithicFlat\"\nparentFileNameHint=\"l%d.vmdk\"\n"
                 "RW 2048 FLAT \"d.raw\" 0\n", i + 1, i + 2, i + 1);
    else
        snprintf(text, sizeof text, "# Disk DescriptorFile\nversion=1\nCID=%08x\nparentCID=ffffffff\n"
                 "createType=\"monolithicFlat\"\nRW 2048 FLAT \"d.raw\" 0\n", i + 1);
    write_text(p, text);
}

TEST(absurd_chain_depth_refused)
{
    const char *dir = test_tmpdir();
    ASSERT_EQ(sh("truncate -s 1M %s/d.raw", dir), 0);
    for (int i = 0; i < 255; i++)
        chain_file(dir, i, 255);
    char p[4200];
    snprintf(p, sizeof p, "%s/l0.vmdk", dir);
    struct blockdev *bd = open_disk(p, false); /* 255 layers: the limit */
    blockdev_close(bd);
    for (int i = 0; i < 300; i++)
        chain_file(dir, i, 300);
    assert_refused(p, EX_DATAERR, "deeper than 255");
}

TEST(windows_parent_hint_falls_back_to_child_folder)
{
    const char *dir = test_tmpdir();
    char raw[4200], child[4200];
    make_chain(dir, raw, child, sizeof raw);
    ASSERT_EQ(sh("cd %s && sed -i 's|^parentFileNameHint=.*|parentFileNameHint=\"C:\\\\VMs\\\\old\\\\base.vmdk\"|' "
                 "child.vmdk && grep -q 'C:.VMs.old.base.vmdk' child.vmdk", dir), 0);
    struct blockdev *bd = open_disk(child, false);
    assert_disk_equals(bd, raw);
    blockdev_close(bd);
}

/* A persistent disk the user may not write: status 73 naming the file. */
TEST(unwritable_disk_is_cantcreat)
{
    need_qemu_img();
    char dir[] = "/tmp/vmplay-cantcreat-XXXXXX", p[256];
    ASSERT(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/ro.vmdk", dir);
    ASSERT_EQ(sh("chmod 755 %s && qemu-img create -q -f vmdk %s 1M && chmod 444 %s", dir, p, p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && setuid(65534) != 0)
            _exit(2);
        struct error err = {0};
        int r = try_open(p, true, &err);
        bool ok = r != 0 && err.code == EX_CANTCREAT && strstr(err.msg, p);
        _exit(ok ? 0 : 1);
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    sh("rm -rf %s", dir);
    if (WEXITSTATUS(st) == 2)
        SKIP("cannot drop root privileges here");
    ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* A grain-table entry pointing into the metadata: that read fails, the others work. */
TEST(grain_into_metadata_is_an_io_error)
{
    const char *dir = sample_copy();
    char p[4200];
    ASSERT_EQ(sh("cp %s/monolithicSparse.vmdk %s/meta.vmdk", dir, dir), 0);
    path_in(p, sizeof p, dir, "meta.vmdk");
    uint32_t gd = peek32(p, 56), gt = peek32(p, (long)gd * 512);
    uint8_t two[4] = {2, 0, 0, 0};
    patch(p, (long)gt * 512 + 4 * 3, two, 4); /* grain 3 -> sector 2 (the descriptor) */
    struct blockdev *bd = open_disk(p, false);
    uint8_t buf[512];
    ASSERT_EQ(blockdev_read(bd, 3 * 128, 1, buf), -EIO);
    ASSERT_EQ(blockdev_read(bd, 4 * 128, 1, buf), 0);
    blockdev_close(bd);
    bd = open_disk(p, true);
    ASSERT_EQ(blockdev_write(bd, 3 * 128, 1, buf), -EIO);
    blockdev_close(bd);
    ASSERT_EQ(sh("cmp -s -i 1024 -n 512 %s %s/monolithicSparse.vmdk", p, dir), 0); /* sector 2 intact */
}
