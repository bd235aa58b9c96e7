/*
 * Raw images: flat disks read and write through to the file (the file itself
 * is the oracle), ISO media need a multiple of 2048 bytes and are read-only,
 * floppies are recognised by their five standard sizes, errors name the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tests/unit/disktest.h"

static int open_media(const char *path, enum blockdev_media media, bool ro, struct blockdev **bd,
                      struct error *err)
{
    struct blockdev_open_opts o = {.media = media, .read_only = ro};
    return blockdev_open(path, &o, bd, err);
}

static void make_file(const char *path, size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n);
    rng_fill(&seed, b, n);
    spit(path, b, n);
    free(b);
}

TEST(raw_disk_reads_and_writes_the_file)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/disk.img", test_tmpdir());
    make_file(p, 1 << 20, 1);
    struct blockdev *bd = open_disk(p, true);
    ASSERT_STR_EQ(bd->format, "raw");
    ASSERT_EQ(bd->sectors, 2048);
    assert_disk_equals(bd, p);
    uint8_t buf[1024];
    memset(buf, 0x3c, sizeof buf);
    ASSERT_EQ(blockdev_write(bd, 100, 2, buf), 0);
    ASSERT_EQ(blockdev_flush(bd), 0);
    ASSERT_EQ(blockdev_read(bd, 2047, 2, buf), -EIO); /* past the end */
    blockdev_close(bd);
    size_t n;
    uint8_t *f = slurp(p, &n);
    memset(buf, 0x3c, sizeof buf);
    ASSERT_MEM_EQ(f + 100 * 512, buf, sizeof buf);
    free(f);
}

TEST(raw_odd_size_reads_zero_padded)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/odd.img", test_tmpdir());
    make_file(p, 1000, 2);
    struct blockdev *bd = open_disk(p, false);
    ASSERT_EQ(bd->sectors, 2);
    uint8_t b[1024];
    size_t n;
    uint8_t *f = slurp(p, &n);
    ASSERT_EQ(blockdev_read(bd, 0, 2, b), 0);
    ASSERT_MEM_EQ(b, f, 1000);
    for (int i = 1000; i < 1024; i++)
        ASSERT_EQ(b[i], 0);
    ASSERT_EQ(blockdev_write(bd, 0, 1, b), -EROFS);
    free(f);
    blockdev_close(bd);
}

TEST(iso_needs_2048_byte_blocks)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/cd.iso", test_tmpdir());
    make_file(p, 2048 * 300, 3);
    struct blockdev *bd;
    struct error err = {0};
    ASSERT_EQ(open_media(p, MEDIA_CDROM, false, &bd, &err), 0);
    ASSERT_STR_EQ(bd->format, "iso");
    ASSERT(bd->read_only);
    ASSERT_EQ(bd->sectors, 1200);
    assert_disk_equals(bd, p);
    uint8_t b[512] = {0};
    ASSERT_EQ(blockdev_write(bd, 0, 1, b), -EROFS);
    blockdev_close(bd);
    make_file(p, 2048 * 300 + 512, 3);
    ASSERT(open_media(p, MEDIA_CDROM, false, &bd, &err) != 0);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(strstr(err.msg, "2048") && strstr(err.msg, "cd.iso"));
}

TEST(floppy_sizes)
{
    static const struct { size_t bytes; const char *name; } ok[] = {
        {368640, "floppy 360K"}, {737280, "floppy 720K"}, {1228800, "floppy 1.2M"},
        {1474560, "floppy 1.44M"}, {2949120, "floppy 2.88M"},
    };
    char p[4200];
    snprintf(p, sizeof p, "%s/fd.img", test_tmpdir());
    struct blockdev *bd;
    struct error err = {0};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        make_file(p, ok[i].bytes, i);
        ASSERT_EQ(open_media(p, MEDIA_FLOPPY, false, &bd, &err), 0);
        ASSERT_STR_EQ(bd->format, ok[i].name);
        ASSERT_EQ(bd->sectors, ok[i].bytes / 512);
        ASSERT(!bd->read_only);
        blockdev_close(bd);
    }
    make_file(p, 1474560 - 512, 9);
    ASSERT(open_media(p, MEDIA_FLOPPY, false, &bd, &err) != 0);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(strstr(err.msg, "floppy"));
}

TEST(missing_and_empty_files)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/nothere.img", test_tmpdir());
    struct blockdev *bd;
    struct error err = {0};
    ASSERT(open_media(p, MEDIA_DISK, false, &bd, &err) != 0);
    ASSERT_EQ(err.code, EX_NOINPUT);
    ASSERT(strstr(err.msg, p));
    spit(p, "", 0);
    ASSERT(open_media(p, MEDIA_DISK, false, &bd, &err) != 0);
    ASSERT_EQ(err.code, EX_DATAERR);
    /* a small .vmdk that is neither sparse nor a descriptor is not taken for a raw disk */
    snprintf(p, sizeof p, "%s/junk.vmdk", test_tmpdir());
    spit(p, "hello\n", 6);
    ASSERT(open_media(p, MEDIA_DISK, false, &bd, &err) != 0);
    ASSERT_EQ(err.code, EX_DATAERR);
    ASSERT(strstr(err.msg, "not a VMDK"));
}

TEST(snapshot_keeps_file_untouched)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/disk.img", test_tmpdir());
    make_file(p, 1 << 16, 4);
    uint64_t before = file_sum(p);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .snapshot = true};
    struct blockdev *bd;
    struct error err = {0};
    ASSERT_EQ(blockdev_open(p, &o, &bd, &err), 0);
    ASSERT_STR_EQ(bd->format, "raw");
    uint8_t b[512];
    memset(b, 0x11, sizeof b);
    ASSERT_EQ(blockdev_write(bd, 3, 1, b), 0);
    ASSERT_EQ(blockdev_flush(bd), 0);
    blockdev_close(bd);
    ASSERT_EQ(file_sum(p), before);
}
