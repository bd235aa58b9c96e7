/*
 * The copy-on-write overlay: random writes of random sizes over a raw base,
 * mirrored into a plain memory copy (the oracle), read back in random ranges;
 * the base file never changes; the hash table grows past its first size.
 */
#include <errno.h>

#include "formats/image.h"
#include "tests/unit/disktest.h"

#define SECTORS 5000u /* not a multiple of the 8-sector cluster */

static struct blockdev *overlay_over(const char *path, uint8_t **model)
{
    uint64_t seed = 8;
    size_t n = SECTORS * 512;
    uint8_t *b = malloc(n);
    rng_fill(&seed, b, n);
    spit(path, b, n);
    *model = b;
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .read_only = true};
    struct blockdev *base, *ov;
    struct error err = {0};
    ASSERT_EQ(blockdev_open(path, &o, &base, &err), 0);
    ASSERT_EQ(overlay_new(base, "kept in memory", &ov, &err), 0);
    return ov;
}

TEST(random_writes_match_model)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/base.img", test_tmpdir());
    uint8_t *model;
    struct blockdev *bd = overlay_over(p, &model);
    uint64_t before = file_sum(p);
    ASSERT_STR_EQ(bd->warning, "kept in memory");
    ASSERT(!bd->read_only);
    ASSERT_EQ(bd->sectors, SECTORS);
    uint8_t *buf = malloc(100 * 512);
    uint64_t seed = 1;
    for (int i = 0; i < 3000; i++) {
        uint32_t len = 1 + (uint32_t)(rng_next(&seed) % 100);
        uint64_t s = rng_next(&seed) % (SECTORS - len + 1);
        if (i % 2) {
            rng_fill(&seed, buf, len * 512);
            ASSERT_EQ(blockdev_write(bd, s, len, buf), 0);
            memcpy(model + s * 512, buf, len * 512);
        } else {
            ASSERT_EQ(blockdev_read(bd, s, len, buf), 0);
            if (memcmp(buf, model + s * 512, len * 512))
                FAIL("step %d: read of %u at %llu differs", i, len, (unsigned long long)s);
        }
    }
    uint8_t *all = read_disk(bd);
    ASSERT_MEM_EQ(all, model, SECTORS * 512);
    ASSERT_EQ(blockdev_read(bd, SECTORS, 1, buf), -EIO);
    ASSERT_EQ(blockdev_write(bd, SECTORS - 1, 2, buf), -EIO);
    char d[512];
    bd->ops->describe(bd, d, sizeof d);
    ASSERT(strstr(d, "copy-on-write") && strstr(d, "raw"));
    blockdev_close(bd);
    ASSERT_EQ(file_sum(p), before);
    free(all);
    free(buf);
    free(model);
}

TEST(untouched_disk_reads_through)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/base.img", test_tmpdir());
    uint8_t *model;
    struct blockdev *bd = overlay_over(p, &model);
    uint8_t *all = read_disk(bd);
    ASSERT_MEM_EQ(all, model, SECTORS * 512);
    blockdev_close(bd);
    free(all);
    free(model);
}
