/*
 * PNG screenshots: written with png_write_xrgb, read back with libpng's own
 * reader and compared pixel by pixel; a failed write leaves nothing behind.
 */
#include "tests/unit/test.h"

#include <dirent.h>
#include <png.h>
#include <stdlib.h>

#include "formats/png.h"

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

TEST(write_and_read_back)
{
    unsigned w = 37, h = 23;
    size_t stride = 64 * 4; /* wider than the picture */
    uint32_t *px = calloc(h, stride);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            px[y * 64 + x] = 0xFF000000u | (x * 7) << 16 | (y * 11) << 8 | ((x ^ y) & 0xFF);
    char path[512];
    snprintf(path, sizeof path, "%s/shot.png", test_tmpdir());
    struct error err = {0};
    ASSERT_EQ(png_write_xrgb(path, px, w, h, stride, &err), 0);
    ASSERT_EQ(count_files(test_tmpdir()), 1);

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ASSERT(png_image_begin_read_from_file(&img, path));
    ASSERT_EQ(img.width, w);
    ASSERT_EQ(img.height, h);
    img.format = PNG_FORMAT_RGB;
    uint8_t *rgb = malloc(PNG_IMAGE_SIZE(img));
    ASSERT(png_image_finish_read(&img, NULL, rgb, 0, NULL));
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            const uint8_t *p = rgb + (y * w + x) * 3;
            uint32_t got = (uint32_t)p[0] << 16 | p[1] << 8 | p[2];
            ASSERT_EQ(got, px[y * 64 + x] & 0xFFFFFF);
        }
    free(rgb);
    free(px);
}

TEST(failure_leaves_nothing)
{
    uint32_t px[4] = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/missing-dir/shot.png", test_tmpdir());
    struct error err = {0};
    ASSERT_EQ(png_write_xrgb(path, px, 2, 2, 8, &err), -1);
    ASSERT_EQ(err.code, EX_CANTCREAT);
    ASSERT_EQ(png_write_xrgb(path, px, 0, 2, 8, &err), -1);
    ASSERT_EQ(count_files(test_tmpdir()), 0);
}
