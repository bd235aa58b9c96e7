/*
 * Display handoff tests: only dirty rows cross, nothing happens when nothing
 * changed, resizes, snapshots, and the CP437 -> UTF-8 readback checked
 * against glibc's iconv CP437 table.
 */
#include "tests/unit/test.h"

#include <iconv.h>
#include <stdlib.h>

#include "devices/display.h"

TEST(publish_copies_dirty_rows_only)
{
    struct display *d = display_new();
    struct framebuffer fb = {0};
    ASSERT_EQ(framebuffer_resize(&fb, 64, 32), 0);
    for (unsigned y = 0; y < 32; y++)
        for (unsigned x = 0; x < 64; x++)
            framebuffer_row(&fb, y)[x] = y << 8 | x;
    ASSERT_EQ(display_publish(d, &fb), 32);
    struct display_frame f;
    display_acquire(d, &f);
    ASSERT(f.resized);
    ASSERT_EQ(f.width, 64);
    ASSERT_EQ(f.pixels[5 * 64 + 7], 0x0507);
    display_release(d);

    uint64_t gen = display_generation(d);
    ASSERT_EQ(display_publish(d, &fb), 0); /* no dirty row: no copy, no new generation */
    ASSERT_EQ(display_generation(d), gen);

    framebuffer_row(&fb, 9)[1] = 0xABCDEF;
    framebuffer_row(&fb, 11)[1] = 0x123456; /* not flagged: must not cross */
    fb.dirty[9] = 1;
    ASSERT_EQ(display_publish(d, &fb), 1);
    ASSERT(display_generation(d) != gen);
    display_acquire(d, &f);
    ASSERT(!f.resized);
    for (unsigned y = 0; y < 32; y++)
        ASSERT_EQ(f.dirty[y], y == 9);
    ASSERT_EQ(f.pixels[9 * 64 + 1], 0xABCDEF);
    ASSERT_EQ(f.pixels[11 * 64 + 1], 0x0B01);
    display_release(d);
    display_acquire(d, &f);
    ASSERT_EQ(f.dirty[9], 0);
    display_release(d);

    ASSERT_EQ(framebuffer_resize(&fb, 32, 16), 0);
    ASSERT_EQ(display_publish(d, &fb), 16);
    struct framebuffer shot = {0};
    ASSERT_EQ(display_snapshot(d, &shot), 0);
    ASSERT_EQ(shot.width, 32);
    ASSERT_EQ(shot.height, 16);
    framebuffer_release(&shot);
    framebuffer_release(&fb);
    display_free(d);
}

TEST(framebuffer_limits)
{
    struct framebuffer fb = {0};
    ASSERT_EQ(framebuffer_resize(&fb, 0, 10), -1);
    ASSERT_EQ(framebuffer_resize(&fb, DISPLAY_MAX_WIDTH + 1, 10), -1);
    ASSERT(fb.pixels == NULL);
}

/* Every upper-half CP437 byte converts as glibc's iconv does. */
TEST(cp437_matches_iconv)
{
    iconv_t cd = iconv_open("UTF-8", "CP437");
    if (cd == (iconv_t)-1)
        SKIP("iconv has no CP437");
    struct display *d = display_new();
    for (unsigned c = 0x80; c < 0x100; c++) {
        char in[1] = {(char)c}, out[8] = {0};
        char *ip = in, *op = out;
        size_t il = 1, ol = sizeof out;
        ASSERT(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
        uint8_t row[2] = {(uint8_t)c, 'x'};
        display_publish_text(d, 1, 2, row);
        char *t = display_text_utf8(d);
        size_t n = strlen(out);
        ASSERT_MEM_EQ(t, out, n);
        ASSERT_STR_EQ(t + n, "x\n");
        free(t);
    }
    iconv_close(cd);
    display_free(d);
}

TEST(text_rows_and_graphics)
{
    struct display *d = display_new();
    uint8_t cells[2 * 4] = {'a', 'b', ' ', ' ', 0x01, ' ', 'c', 0};
    display_publish_text(d, 2, 4, cells);
    char *t = display_text_utf8(d);
    ASSERT_STR_EQ(t, "ab\n\xE2\x98\xBA c\n");
    free(t);
    display_publish_text(d, 0, 0, NULL);
    t = display_text_utf8(d);
    ASSERT_STR_EQ(t, "");
    free(t);
    display_set_state(d, DISPLAY_PAUSED);
    ASSERT_EQ(display_get_state(d), DISPLAY_PAUSED);
    display_free(d);
}
