/*
 * VGA tests: modes programmed through the ports with the IBM VGA BIOS
 * parameter-table values (modes 03h, 12h, 13h), fonts loaded into plane 2 the
 * way the BIOS does, then rendered pixels compared with the standard VGA
 * colours and the font bits; the graphics controller's write and read modes
 * against the IBM VGA reference; Bochs VBE through ports 0x1CE/0x1CF; dirty
 * rows and idle cost; input status 1 from virtual time.
 */
#include "tests/unit/test.h"

#include <stdlib.h>

#include "devices/pci.h"
#include "devices/vga.h"

struct rig {
    struct bus *bus;
    struct clock *clock;
    struct display *disp;
    struct vga *vga;
};

static struct rig rig_new(void)
{
    struct rig r;
    r.bus = bus_new();
    r.clock = clock_new(CLOCK_DETERMINISTIC, 1);
    r.disp = display_new();
    struct error err = {0};
    r.vga = vga_new(r.bus, r.clock, r.disp, 0, &err);
    if (!r.vga)
        FAIL("vga_new: %s", err.msg);
    return r;
}

static void rig_free(struct rig *r)
{
    vga_free(r->vga);
    display_free(r->disp);
    clock_free(r->clock);
    bus_free(r->bus);
}

static void outb(struct rig *r, uint16_t port, uint8_t v)
{
    bus_out(r->bus, port, v, 1);
}

static uint8_t inb(struct rig *r, uint16_t port)
{
    return (uint8_t)bus_in(r->bus, port, 1);
}

/* A mode as in the VGA BIOS parameter table: misc, SR1-4, CR0-18, AR0-13, GR0-8. */
struct vga_params {
    uint8_t misc, sr[4], cr[25], ar[20], gr[9];
};

static const struct vga_params mode03 = {
    0x67, {0x00, 0x03, 0x00, 0x02},
    {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
     0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF},
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D,
     0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF},
};

static const struct vga_params mode12 = {
    0xE3, {0x01, 0x0F, 0x00, 0x06},
    {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF},
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D,
     0x3E, 0x3F, 0x01, 0x00, 0x0F, 0x00},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF},
};

static const struct vga_params mode13 = {
    0x63, {0x01, 0x0F, 0x00, 0x0E},
    {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF},
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D,
     0x0E, 0x0F, 0x41, 0x00, 0x0F, 0x00},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF},
};

/* The VGA BIOS sequence: sequencer reset, misc, CRTC unlocked, AR via the flip-flop, GR, PAS on. */
static void set_mode(struct rig *r, const struct vga_params *p)
{
    outb(r, 0x3C4, 0x00);
    outb(r, 0x3C5, 0x01);
    for (int i = 0; i < 4; i++) {
        outb(r, 0x3C4, (uint8_t)(i + 1));
        outb(r, 0x3C5, p->sr[i]);
    }
    outb(r, 0x3C2, p->misc);
    outb(r, 0x3C4, 0x00);
    outb(r, 0x3C5, 0x03);
    uint16_t crtc = (p->misc & 1) ? 0x3D4 : 0x3B4; /* mono modes use 0x3Bx */
    outb(r, crtc, 0x11);
    outb(r, crtc + 1, 0x00);
    for (int i = 0; i < 25; i++) {
        outb(r, crtc, (uint8_t)i);
        outb(r, crtc + 1, p->cr[i]);
    }
    inb(r, crtc + 6);
    for (int i = 0; i < 20; i++) {
        outb(r, 0x3C0, (uint8_t)i);
        outb(r, 0x3C0, p->ar[i]);
    }
    outb(r, 0x3C0, 0x14);
    outb(r, 0x3C0, 0x00);
    for (int i = 0; i < 9; i++) {
        outb(r, 0x3CE, (uint8_t)i);
        outb(r, 0x3CF, p->gr[i]);
    }
    inb(r, crtc + 6);
    outb(r, 0x3C0, 0x20);
}

/* The EGA-compatible 64-colour DAC table (index bits: B G R b g r, upper case = 1/3 step). */
static void load_ega_dac(struct rig *r)
{
    outb(r, 0x3C8, 0);
    for (int i = 0; i < 64; i++) {
        outb(r, 0x3C9, (uint8_t)(((i >> 2) & 1) * 0x2A + ((i >> 5) & 1) * 0x15));
        outb(r, 0x3C9, (uint8_t)(((i >> 1) & 1) * 0x2A + ((i >> 4) & 1) * 0x15));
        outb(r, 0x3C9, (uint8_t)((i & 1) * 0x2A + ((i >> 3) & 1) * 0x15));
    }
}

static uint8_t synth_glyph(unsigned ch, unsigned line)
{
    if (ch == ' ')
        return 0;
    return (uint8_t)(ch ^ (line * 37u) ^ 0x5A);
}

static void seq(struct rig *r, uint8_t i, uint8_t v)
{
    outb(r, 0x3C4, i);
    outb(r, 0x3C5, v);
}

static void gr(struct rig *r, uint8_t i, uint8_t v)
{
    outb(r, 0x3CE, i);
    outb(r, 0x3CF, v);
}

/* Loads 256 glyphs of 16 lines into plane 2 the way the VGA BIOS does (font block 0). */
static void load_font(struct rig *r, const uint8_t *font16)
{
    seq(r, 0x02, 0x04);
    seq(r, 0x04, 0x07);
    gr(r, 0x04, 0x02);
    gr(r, 0x05, 0x00);
    gr(r, 0x06, 0x04);
    for (unsigned c = 0; c < 256; c++)
        for (unsigned l = 0; l < 16; l++)
            bus_write(r->bus, 0xA0000 + c * 32 + l, font16 ? font16[c * 16 + l] : synth_glyph(c, l), 1);
    seq(r, 0x02, 0x03);
    seq(r, 0x04, 0x02);
    gr(r, 0x04, 0x00);
    gr(r, 0x05, 0x10);
    gr(r, 0x06, 0x0E);
}

static void put_char(struct rig *r, unsigned row, unsigned col, uint8_t ch, uint8_t attr)
{
    bus_write(r->bus, 0xB8000 + (row * 80 + col) * 2, (uint32_t)attr << 8 | ch, 2);
}

static struct framebuffer snap(struct rig *r)
{
    struct framebuffer fb = {0};
    ASSERT_EQ(display_snapshot(r->disp, &fb), 0);
    return fb;
}

static uint32_t px(const struct framebuffer *fb, unsigned x, unsigned y)
{
    return framebuffer_row(fb, y)[x];
}

static void text_setup(struct rig *r)
{
    set_mode(r, &mode03);
    load_ega_dac(r);
    load_font(r, NULL);
    for (unsigned i = 0; i < 80 * 25; i++)
        put_char(r, i / 80, i % 80, ' ', 0x07);
}

/* Text mode 3: glyph bits from plane 2 in the standard colours (white #FFFFFF on blue #0000AA). */
TEST(text_glyph_pixels)
{
    struct rig r = rig_new();
    text_setup(&r);
    put_char(&r, 2, 5, 'X', 0x1F);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    ASSERT_EQ(fb.width, 720);
    ASSERT_EQ(fb.height, 400);
    for (unsigned l = 0; l < 16; l++)
        for (unsigned x = 0; x < 9; x++) {
            bool on = x < 8 && ((synth_glyph('X', l) >> (7 - x)) & 1);
            ASSERT_EQ(px(&fb, 5 * 9 + x, 2 * 16 + l), on ? 0xFFFFFF : 0x0000AA);
        }
    /* a blank cell: light grey attribute 07 background is black */
    ASSERT_EQ(px(&fb, 0, 0), 0x000000);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* AR10 bit 2: characters C0h-DFh repeat their 8th column into the 9th; others get background. */
TEST(text_line_graphics_ninth_column)
{
    struct rig r = rig_new();
    text_setup(&r);
    put_char(&r, 0, 0, 0xC4, 0x0E); /* yellow: AR14h -> DAC 3Eh = #FFFF55 */
    put_char(&r, 0, 1, 0x41, 0x0E);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    int checked_lg = 0, checked_plain = 0;
    for (unsigned l = 0; l < 16; l++) {
        if (synth_glyph(0xC4, l) & 1) {
            ASSERT_EQ(px(&fb, 8, l), 0xFFFF55);
            checked_lg++;
        }
        if (synth_glyph(0x41, l) & 1) {
            ASSERT_EQ(px(&fb, 9 + 8, l), 0x000000);
            checked_plain++;
        }
    }
    ASSERT(checked_lg > 0 && checked_plain > 0);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* The real VGA BIOS font: the IBM 8x16 'A' as published, rendered from plane 2. */
TEST(text_rom_font)
{
    FILE *f = fopen("/usr/share/seabios/vgabios-stdvga.bin", "rb");
    if (!f)
        SKIP("no /usr/share/seabios/vgabios-stdvga.bin");
    static uint8_t rom[65536];
    size_t n = fread(rom, 1, sizeof rom, f);
    fclose(f);
    static const uint8_t glyph_a[16] = {0x00, 0x00, 0x10, 0x38, 0x6C, 0xC6, 0xC6, 0xFE,
                                        0xC6, 0xC6, 0xC6, 0xC6, 0x00, 0x00, 0x00, 0x00};
    size_t at = 0;
    while (at + 16 <= n && memcmp(rom + at, glyph_a, 16) != 0)
        at++;
    ASSERT(at + 16 <= n && at >= 0x41 * 16);
    struct rig r = rig_new();
    set_mode(&r, &mode03);
    load_ega_dac(&r);
    load_font(&r, rom + at - 0x41 * 16);
    put_char(&r, 0, 0, 'A', 0x07);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    for (unsigned l = 0; l < 16; l++)
        for (unsigned x = 0; x < 8; x++)
            ASSERT_EQ(px(&fb, x, l), (glyph_a[l] >> (7 - x)) & 1 ? 0xAAAAAA : 0x000000);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* The text readback: CP437 codes as UTF-8, trailing blanks trimmed. */
TEST(text_readback)
{
    struct rig r = rig_new();
    text_setup(&r);
    const char *msg = "Hello, VGA";
    for (unsigned i = 0; msg[i]; i++)
        put_char(&r, 0, i, (uint8_t)msg[i], 0x07);
    put_char(&r, 0, 10, 0xC9, 0x07); /* box drawing double down and right */
    put_char(&r, 24, 79, 0x82, 0x07); /* e acute */
    vga_refresh(r.vga);
    char *t = display_text_utf8(r.disp);
    ASSERT(t != NULL);
    ASSERT(strncmp(t, "Hello, VGA\xE2\x95\x94\n\n", 15) == 0);
    size_t len = strlen(t);
    ASSERT(len > 80);
    char last[90];
    memset(last, ' ', 79);
    strcpy(last + 79, "\xC3\xA9\n");
    ASSERT_STR_EQ(t + len - strlen(last), last);
    free(t);
    rig_free(&r);
}

/* CR0A/CR0B cursor shape at the CR0E/0F location, blinking every 8 frames. */
TEST(text_cursor_shape_and_blink)
{
    struct rig r = rig_new();
    text_setup(&r);
    outb(&r, 0x3D4, 0x0E);
    outb(&r, 0x3D5, 0x00);
    outb(&r, 0x3D4, 0x0F);
    outb(&r, 0x3D5, 81); /* row 1, column 1 */
    uint32_t on_seen = 0, off_seen = 0;
    for (int f = 0; f < 32; f++) {
        vga_refresh(r.vga);
        struct framebuffer fb = snap(&r);
        /* mode 3 cursor: lines 0Dh-0Eh of the 16-line cell */
        uint32_t c12 = px(&fb, 9 + 3, 16 + 12), c13 = px(&fb, 9 + 3, 16 + 13);
        uint32_t c14 = px(&fb, 9 + 8, 16 + 14), c15 = px(&fb, 9 + 3, 16 + 15);
        ASSERT_EQ(c12, 0x000000);
        ASSERT_EQ(c15, 0x000000);
        ASSERT_EQ(c13, c14);
        if (c14 == 0xAAAAAA)
            on_seen++;
        else
            off_seen++;
        framebuffer_release(&fb);
    }
    ASSERT_EQ(on_seen, 16);
    ASSERT_EQ(off_seen, 16);
    rig_free(&r);
}

/* Mode 13h: chain-4 bytes through the DAC (6-bit values scaled to 8 bits). */
TEST(mode13_pixels_dac)
{
    struct rig r = rig_new();
    set_mode(&r, &mode13);
    outb(&r, 0x3C8, 200);
    outb(&r, 0x3C9, 63);
    outb(&r, 0x3C9, 32);
    outb(&r, 0x3C9, 1);
    outb(&r, 0x3C9, 0x00); /* entry 201 */
    outb(&r, 0x3C9, 0x3F);
    outb(&r, 0x3C9, 0x15);
    for (unsigned y = 0; y < 200; y++)
        for (unsigned x = 0; x < 320; x++)
            bus_write(r.bus, 0xA0000 + y * 320 + x, (x + y) & 1 ? 200 : 201, 1);
    ASSERT_EQ(bus_read(r.bus, 0xA0000 + 5 * 320 + 7, 1), 201);
    ASSERT_EQ(bus_read(r.bus, 0xA0000 + 5 * 320 + 8, 1), 200);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    ASSERT_EQ(fb.width, 320);
    ASSERT_EQ(fb.height, 200);
    ASSERT_EQ(px(&fb, 1, 0), 0xFF8204); /* 63,32,1 -> FF,82,04 */
    ASSERT_EQ(px(&fb, 0, 0), 0x00FF55);
    ASSERT_EQ(px(&fb, 319, 199), 0x00FF55);
    ASSERT_EQ(px(&fb, 318, 199), 0xFF8204);
    /* DAC read back through 3C7/3C9: 6-bit values */
    outb(&r, 0x3C7, 200);
    ASSERT_EQ(inb(&r, 0x3C7), 0x03);
    ASSERT_EQ(inb(&r, 0x3C9), 63);
    ASSERT_EQ(inb(&r, 0x3C9), 32);
    ASSERT_EQ(inb(&r, 0x3C9), 1);
    ASSERT_EQ(inb(&r, 0x3C9), 0);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* Mode 12h: write mode 2 colours and write mode 0 with set/reset, through the bit mask. */
TEST(mode12_planar_write_modes)
{
    struct rig r = rig_new();
    set_mode(&r, &mode12);
    load_ega_dac(&r);
    gr(&r, 0x05, 0x02);       /* write mode 2 */
    gr(&r, 0x08, 0x80);       /* only the leftmost pixel of the byte */
    bus_read(r.bus, 0xA0000 + 80 * 10, 1); /* load latches */
    bus_write(r.bus, 0xA0000 + 80 * 10, 0x0C, 1);
    gr(&r, 0x05, 0x00);       /* write mode 0 with set/reset = 9 (bright blue) */
    gr(&r, 0x00, 0x09);
    gr(&r, 0x01, 0x0F);
    gr(&r, 0x08, 0xFF);
    bus_write(r.bus, 0xA0000 + 80 * 20 + 1, 0x00, 1);
    gr(&r, 0x01, 0x00);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    ASSERT_EQ(fb.width, 640);
    ASSERT_EQ(fb.height, 480);
    ASSERT_EQ(px(&fb, 0, 10), 0xFF5555); /* colour 12 -> AR 3Ch -> bright red */
    ASSERT_EQ(px(&fb, 1, 10), 0x000000);
    for (unsigned x = 8; x < 16; x++)
        ASSERT_EQ(px(&fb, x, 20), 0x5555FF); /* colour 9 -> AR 39h -> bright blue */
    ASSERT_EQ(px(&fb, 16, 20), 0x000000);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* Read mode 1 (colour compare with don't care), read map select, write mode 1 (latch copy), XOR. */
TEST(planar_read_modes_and_latches)
{
    struct rig r = rig_new();
    set_mode(&r, &mode12);
    gr(&r, 0x05, 0x02);
    bus_read(r.bus, 0xA0000, 1);
    bus_write(r.bus, 0xA0000, 0x05, 1); /* all eight pixels colour 5 */
    gr(&r, 0x08, 0x0F);
    bus_read(r.bus, 0xA0000, 1);
    bus_write(r.bus, 0xA0000, 0x0A, 1); /* low four pixels colour 10 */
    gr(&r, 0x08, 0xFF);
    gr(&r, 0x05, 0x08);                 /* read mode 1 */
    gr(&r, 0x02, 0x05);
    gr(&r, 0x07, 0x0F);
    ASSERT_EQ(bus_read(r.bus, 0xA0000, 1), 0xF0);
    gr(&r, 0x07, 0x01);                 /* compare plane 0 only: 5 and 10 differ there */
    ASSERT_EQ(bus_read(r.bus, 0xA0000, 1), 0xF0);
    gr(&r, 0x07, 0x00);
    ASSERT_EQ(bus_read(r.bus, 0xA0000, 1), 0xFF);
    gr(&r, 0x05, 0x00);                 /* read mode 0, map 1: pixels with bit 1 */
    gr(&r, 0x04, 0x01);
    ASSERT_EQ(bus_read(r.bus, 0xA0000, 1), 0x0F);
    gr(&r, 0x05, 0x01);                 /* write mode 1: latches to another byte */
    bus_read(r.bus, 0xA0000, 1);
    bus_write(r.bus, 0xA0000 + 3, 0x00, 1);
    gr(&r, 0x05, 0x00);
    gr(&r, 0x04, 0x02);
    ASSERT_EQ(bus_read(r.bus, 0xA0000 + 3, 1), 0xF0);
    gr(&r, 0x03, 0x18);                 /* XOR with the latches, rotate 0 */
    seq(&r, 0x02, 0x04);
    bus_read(r.bus, 0xA0000 + 3, 1);
    bus_write(r.bus, 0xA0000 + 3, 0xFF, 1);
    ASSERT_EQ(bus_read(r.bus, 0xA0000 + 3, 1), 0x0F);
    rig_free(&r);
}

static void dispi(struct rig *r, uint16_t index, uint16_t v)
{
    bus_out(r->bus, 0x1CE, index, 2);
    bus_out(r->bus, 0x1CF, v, 2);
}

static uint16_t dispi_get(struct rig *r, uint16_t index)
{
    bus_out(r->bus, 0x1CE, index, 2);
    return (uint16_t)bus_in(r->bus, 0x1CF, 2);
}

/* What vgabios-stdvga's bochsvga_setup reads: the ID handshake, GETCAPS and the memory size. */
TEST(vbe_identify)
{
    struct rig r = rig_new();
    dispi(&r, VBE_DISPI_INDEX_ID, VBE_DISPI_ID0);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_ID), 0xB0C0);
    dispi(&r, VBE_DISPI_INDEX_ID, VBE_DISPI_ID5);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_ID), 0xB0C5);
    dispi(&r, VBE_DISPI_INDEX_ID, 0x1234);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_ID), 0xB0C5);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_VIDEO_MEMORY_64K), 256);
    dispi(&r, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_GETCAPS);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_XRES), VBE_DISPI_MAX_XRES);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_BPP), 32);
    dispi(&r, VBE_DISPI_INDEX_ENABLE, 0);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_XRES), 0);
    rig_free(&r);
}

static void vbe_mode(struct rig *r, uint16_t w, uint16_t h, uint16_t bpp, uint16_t flags)
{
    dispi(r, VBE_DISPI_INDEX_ENABLE, 0);
    dispi(r, VBE_DISPI_INDEX_BPP, bpp);
    dispi(r, VBE_DISPI_INDEX_XRES, w);
    dispi(r, VBE_DISPI_INDEX_YRES, h);
    dispi(r, VBE_DISPI_INDEX_BANK, 0);
    dispi(r, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | flags);
}

/* 800x600x32 through the linear framebuffer (BAR0 is the VRAM itself). */
TEST(vbe_lfb_800x600x32)
{
    struct rig r = rig_new();
    memset(vga_vram(r.vga), 0x77, 4096);
    vbe_mode(&r, 800, 600, 32, VBE_DISPI_LFB_ENABLED);
    ASSERT_EQ(vga_vram(r.vga)[0], 0); /* cleared without NOCLEARMEM */
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_VIRT_WIDTH), 800);
    uint32_t *lfb = (uint32_t *)vga_vram(r.vga);
    lfb[0] = 0x00123456;
    lfb[599 * 800 + 799] = 0x00ABCDEF;
    lfb[300 * 800 + 400] = 0x00FF0000;
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    ASSERT_EQ(fb.width, 800);
    ASSERT_EQ(fb.height, 600);
    ASSERT_EQ(px(&fb, 0, 0), 0x123456);
    ASSERT_EQ(px(&fb, 799, 599), 0xABCDEF);
    ASSERT_EQ(px(&fb, 400, 300), 0xFF0000);
    ASSERT_EQ(px(&fb, 401, 300), 0);
    /* Y offset (panning) moves the visible start */
    dispi(&r, VBE_DISPI_INDEX_Y_OFFSET, 300);
    vga_refresh(r.vga);
    framebuffer_release(&fb);
    fb = snap(&r);
    ASSERT_EQ(px(&fb, 400, 0), 0xFF0000);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* 16 bpp 5:6:5 and the banked window: bank 2 at 0xA0000 is VRAM 128 KiB on. */
TEST(vbe_banked_16bpp)
{
    struct rig r = rig_new();
    vbe_mode(&r, 640, 480, 16, VBE_DISPI_NOCLEARMEM);
    dispi(&r, VBE_DISPI_INDEX_BANK, 2);
    bus_write(r.bus, 0xA0000 + 4, 0xF800, 2); /* pure red */
    ASSERT_EQ(vga_vram(r.vga)[0x20004 + 1], 0xF8);
    ASSERT_EQ(bus_read(r.bus, 0xA0004, 2), 0xF800);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    unsigned pixel = (0x20004) / 2;
    ASSERT_EQ(px(&fb, pixel % 640, pixel / 640), 0xFF0000);
    framebuffer_release(&fb);
    rig_free(&r);
}

static unsigned dirty_rows(struct rig *r, unsigned *first)
{
    struct display_frame f;
    display_acquire(r->disp, &f);
    unsigned n = 0;
    *first = ~0u;
    for (unsigned y = 0; y < f.height; y++)
        if (f.dirty[y]) {
            if (*first == ~0u)
                *first = y;
            n++;
        }
    display_release(r->disp);
    return n;
}

/* Only the rows whose cells changed are re-rendered and handed to the front end. */
TEST(dirty_rows_text)
{
    struct rig r = rig_new();
    text_setup(&r);
    outb(&r, 0x3D4, 0x0A);
    outb(&r, 0x3D5, 0x20); /* cursor off: no blinking rows */
    vga_refresh(r.vga);
    unsigned first;
    ASSERT_EQ(dirty_rows(&r, &first), 400);
    uint64_t gen = display_generation(r.disp);
    for (int i = 0; i < 40; i++)
        vga_refresh(r.vga);
    ASSERT_EQ(display_generation(r.disp), gen); /* idle: nothing published */
    put_char(&r, 10, 40, 'Z', 0x07);
    vga_refresh(r.vga);
    ASSERT_EQ(dirty_rows(&r, &first), 16);
    ASSERT_EQ(first, 160);
    rig_free(&r);
}

/* The linear framebuffer has no write traps: changed lines are found against a shadow copy. */
TEST(dirty_rows_vbe)
{
    struct rig r = rig_new();
    vbe_mode(&r, 800, 600, 32, VBE_DISPI_LFB_ENABLED);
    vga_refresh(r.vga);
    unsigned first;
    ASSERT_EQ(dirty_rows(&r, &first), 600);
    ((uint32_t *)vga_vram(r.vga))[123 * 800 + 5] = 0xFFFFFF;
    vga_refresh(r.vga);
    ASSERT_EQ(dirty_rows(&r, &first), 1);
    ASSERT_EQ(first, 123);
    vga_refresh(r.vga);
    ASSERT_EQ(dirty_rows(&r, &first), 0);
    rig_free(&r);
}

/* Input status 1: vertical retrace for CR10..CR11 lines of each 70 Hz frame; reading resets the AR flip-flop. */
TEST(input_status_retrace)
{
    struct rig r = rig_new();
    set_mode(&r, &mode03);
    int64_t frame = 1000000000 / vga_refresh_hz(r.vga);
    ASSERT_EQ(vga_refresh_hz(r.vga), 70);
    unsigned vr = 0, de = 0, samples = 2000;
    for (unsigned i = 0; i < samples; i++) {
        clock_warp(r.clock, clock_now_ns(r.clock) + frame / samples + 1);
        uint8_t v = inb(&r, 0x3DA);
        vr += (v >> 3) & 1;
        de += v & 1;
    }
    /* 449 lines per frame, retrace from line 0x19C to 0x19E (2 lines), 400 displayed */
    ASSERT(vr > samples * 1 / 449 && vr < samples * 4 / 449);
    ASSERT(de > samples * 49 / 449 && de < samples * 49 / 449 + samples / 4);
    outb(&r, 0x3C0, 0x10);        /* index; next write would be data */
    inb(&r, 0x3DA);               /* reset: the next write is an index again */
    outb(&r, 0x3C0, 0x31);
    ASSERT_EQ(inb(&r, 0x3C0), 0x31);
    rig_free(&r);
}

/* CR11 bit 7 write-protects CR0-CR7; the mono/colour address select follows misc bit 0. */
TEST(crtc_protect_and_address_select)
{
    struct rig r = rig_new();
    set_mode(&r, &mode03);
    outb(&r, 0x3D4, 0x11);
    outb(&r, 0x3D5, 0x8E);
    outb(&r, 0x3D4, 0x01);
    outb(&r, 0x3D5, 0x27);
    ASSERT_EQ(inb(&r, 0x3D5), 0x4F);
    ASSERT_EQ(inb(&r, 0x3B5), 0xFF); /* colour mode: 0x3Bx CRTC is not decoded */
    outb(&r, 0x3C2, 0x66);
    outb(&r, 0x3B4, 0x0C);
    outb(&r, 0x3B5, 0x12);
    ASSERT_EQ(inb(&r, 0x3B5), 0x12);
    rig_free(&r);
}

/* Odd/even addressing: even bytes in plane 0, odd bytes in plane 1 at the same plane offset. */
TEST(odd_even_planes)
{
    struct rig r = rig_new();
    set_mode(&r, &mode03);
    bus_write(r.bus, 0xB8000 + 10, 0x1E41, 2);
    uint8_t *v = vga_vram(r.vga);
    ASSERT_EQ(v[10 * 4 + 0], 0x41);
    ASSERT_EQ(v[10 * 4 + 1], 0x1E);
    ASSERT_EQ(bus_read(r.bus, 0xB8000 + 11, 1), 0x1E);
    /* A0000 is not decoded in mode 3 (memory map 3 = B8000-BFFFF) */
    ASSERT_EQ(bus_read(r.bus, 0xA0000, 1), 0xFF);
    rig_free(&r);
}

/* The PCI function as SeaBIOS sees it: ids, BAR0 = VRAM, BAR2 = MMIO registers, ROM BAR = VGA BIOS. */
TEST(pci_function)
{
    struct rig r = rig_new();
    struct pci_bus *pb = pci_bus_new(r.bus);
    uint8_t rom[3000];
    memset(rom, 0, sizeof rom);
    rom[0] = 0x55;
    rom[1] = 0xAA;
    rom[2] = (uint8_t)((sizeof rom + 511) / 512);
    struct error err = {0};
    ASSERT_EQ(vga_pci_register(r.vga, pb, 2 << 3, rom, sizeof rom, &err), 0);
    int df = 2 << 3;
    ASSERT_EQ(pci_config_read(pb, df, PCI_VENDOR_ID, 4), 0x11111234);
    ASSERT_EQ(pci_config_read(pb, df, PCI_REVISION_ID, 4), 0x03000002);
    ASSERT_EQ(pci_config_read(pb, df, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x11001af4);
    /* BAR sizing: 16 MiB prefetchable memory, 4 KiB MMIO, 4 KiB ROM */
    pci_config_write(pb, df, PCI_BASE_ADDRESS_0, 0xFFFFFFFF, 4);
    ASSERT_EQ(pci_config_read(pb, df, PCI_BASE_ADDRESS_0, 4), 0xFF000008);
    pci_config_write(pb, df, PCI_BASE_ADDRESS_0 + 8, 0xFFFFFFFF, 4);
    ASSERT_EQ(pci_config_read(pb, df, PCI_BASE_ADDRESS_0 + 8, 4), 0xFFFFF000);
    pci_config_write(pb, df, PCI_ROM_ADDRESS, 0xFFFFFFFE, 4);
    ASSERT_EQ(pci_config_read(pb, df, PCI_ROM_ADDRESS, 4), 0xFFFFF000);
    pci_config_write(pb, df, PCI_BASE_ADDRESS_0, 0xFD000000, 4);
    pci_config_write(pb, df, PCI_BASE_ADDRESS_0 + 8, 0xFEBF0000, 4);
    pci_config_write(pb, df, PCI_ROM_ADDRESS, 0xFEBE0001, 4);
    pci_config_write(pb, df, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    bus_write(r.bus, 0xFD000000 + 0x1234, 0xCAFE, 2);
    ASSERT_EQ(vga_vram(r.vga)[0x1234], 0xFE);
    ASSERT_EQ(bus_read(r.bus, 0xFEBE0000, 2), 0xAA55);
    bus_write(r.bus, 0xFEBE0000, 0, 1); /* read-only */
    ASSERT_EQ(bus_read(r.bus, 0xFEBE0000, 1), 0x55);
    /* dispi register 0 (ID) and the misc output register through BAR2 */
    bus_write(r.bus, 0xFEBF0000 + VGA_MMIO_DISPI, VBE_DISPI_ID5, 2);
    ASSERT_EQ(bus_read(r.bus, 0xFEBF0000 + VGA_MMIO_DISPI, 2), VBE_DISPI_ID5);
    ASSERT_EQ(bus_read(r.bus, 0xFEBF0000 + VGA_MMIO_DISPI + 2 * VBE_DISPI_INDEX_VIDEO_MEMORY_64K, 2), 256);
    bus_write(r.bus, 0xFEBF0000 + VGA_MMIO_PORTS + 2, 0x67, 1);
    ASSERT_EQ(inb(&r, 0x3CC), 0x67);
    vga_reset(r.vga); /* machine reset: decoding off */
    ASSERT_EQ(bus_read(r.bus, 0xFEBE0000, 2), 0xFFFF);
    rig_free(&r);
    pci_bus_free(pb);
}

/* ---- every standard mode, programmed from the VGA BIOS's own parameter tables ---- */

/* One record of vgabios-stdvga's mode table (SeaBIOS stdvga_mode_s, 32-bit layout, 44 bytes). */
struct rom_mode {
    unsigned mode, memmodel, width, height, cw, ch;
    const uint8_t *dac, *sequ, *crtc, *actl, *grdc;
    unsigned dacsize, misc;
};

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Finds the table through the pointer to mode 3's CRTC values; returns the number of modes. */
static unsigned rom_modes(const uint8_t *rom, size_t n, struct rom_mode *out, unsigned max)
{
    static const uint8_t crtc03[8] = {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F};
    size_t c = 0, p = 0;
    while (c + 8 <= n && memcmp(rom + c, crtc03, 8) != 0)
        c++;
    while (p + 4 <= n && le32(rom + p) != c)
        p++;
    if (c + 8 > n || p + 4 > n || p < 32)
        return 0;
    size_t base = p - 32;
    while (base >= 44 && rom[base] != 0)
        base -= 44;
    unsigned k = 0;
    for (; base + 44 <= n && k < max; base += 44) {
        const uint8_t *r = rom + base;
        struct rom_mode m = {.mode = r[0] | r[1] << 8, .memmodel = r[2], .width = r[4] | r[5] << 8,
                             .height = r[6] | r[7] << 8, .cw = r[9], .ch = r[10]};
        uint32_t ptr[5] = {le32(r + 16), le32(r + 24), le32(r + 32), le32(r + 36), le32(r + 40)};
        bool ok = m.mode < 0x100 && m.memmodel <= 4 && r[14] == 0xFF;
        for (int i = 0; i < 5 && ok; i++)
            ok = ptr[i] + 25 <= n;
        if (!ok)
            break;
        m.dac = rom + ptr[0];
        m.dacsize = r[20] | r[21] << 8;
        m.sequ = rom + ptr[1];
        m.misc = r[28];
        m.crtc = rom + ptr[2];
        m.actl = rom + ptr[3];
        m.grdc = rom + ptr[4];
        out[k++] = m;
    }
    return k;
}

static void rom_set_mode(struct rig *r, const struct rom_mode *m)
{
    struct vga_params p;
    p.misc = (uint8_t)m->misc;
    memcpy(p.sr, m->sequ, 4);
    memcpy(p.cr, m->crtc, 25);
    memcpy(p.ar, m->actl, 20);
    memcpy(p.gr, m->grdc, 9);
    set_mode(r, &p);
    outb(r, 0x3C8, 0);
    for (unsigned i = 0; i < m->dacsize; i++)
        outb(r, 0x3C9, m->dac[i]);
}

/* A planar pixel the BIOS way: write mode 2, bit mask for the pixel. */
static void planar_pixel(struct rig *r, unsigned x, unsigned y, unsigned bpl, uint8_t colour)
{
    gr(r, 0x05, 0x02);
    gr(r, 0x08, (uint8_t)(0x80 >> (x & 7)));
    uint32_t a = 0xA0000 + y * bpl + x / 8;
    bus_read(r->bus, a, 1);
    bus_write(r->bus, a, colour, 1);
    gr(r, 0x05, 0x00);
    gr(r, 0x08, 0xFF);
}

static void check_mode_pixels(const struct rom_mode *m, const struct framebuffer *fb)
{
    switch (m->mode) {
    case 0x04: /* CGA palette 1, high intensity: black, light cyan, light magenta, white */
        ASSERT_EQ(px(fb, 0, 0), 0xFFFFFF);
        ASSERT_EQ(px(fb, 1, 0), 0xFF55FF);
        ASSERT_EQ(px(fb, 2, 0), 0x55FFFF);
        ASSERT_EQ(px(fb, 3, 0), 0x000000);
        ASSERT_EQ(px(fb, 0, 1), 0xFFFFFF); /* odd lines from B8000 + 2000h */
        break;
    case 0x06:
        ASSERT_EQ(px(fb, 0, 0), 0xFFFFFF);
        ASSERT_EQ(px(fb, 1, 0), 0x000000);
        ASSERT_EQ(px(fb, 0, 1), 0xFFFFFF);
        break;
    case 0x0D: case 0x0E: case 0x10: case 0x12: case 0x6A: /* colour 14 is yellow */
        ASSERT_EQ(px(fb, 9, 5), 0xFFFF55);
        ASSERT_EQ(px(fb, 8, 5), 0x000000);
        break;
    case 0x13: /* the default 256-colour palette: 28h is pure red, 0Fh white */
        ASSERT_EQ(px(fb, 9, 5), 0xFF0000);
        ASSERT_EQ(px(fb, 10, 5), 0xFFFFFF);
        break;
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x07: /* 'A' in attribute 07h: grey on black */
        for (unsigned l = 0; l < 4; l++)
            for (unsigned x = 0; x < 8; x++) {
                unsigned sx = m->width == 40 ? 2 * x : x;
                ASSERT_EQ(px(fb, sx, l), (synth_glyph('A', l) >> (7 - x)) & 1 ? 0xAAAAAA : 0x000000);
            }
        break;
    default:
        break;
    }
}

static void draw_mode_sample(struct rig *r, const struct rom_mode *m)
{
    unsigned bpl = m->width / 8;
    switch (m->mode) {
    case 0x04:
    case 0x05:
        bus_write(r->bus, 0xB8000, 0xE4, 1);
        bus_write(r->bus, 0xB8000 + 0x2000, 0xC0, 1);
        break;
    case 0x06:
        bus_write(r->bus, 0xB8000, 0x80, 1);
        bus_write(r->bus, 0xB8000 + 0x2000, 0x80, 1);
        break;
    case 0x13:
        bus_write(r->bus, 0xA0000 + 5 * 320 + 9, 0x28, 1);
        bus_write(r->bus, 0xA0000 + 5 * 320 + 10, 0x0F, 1);
        break;
    default:
        if (m->memmodel == 3)
            planar_pixel(r, 9, 5, bpl, 14);
        break;
    }
}

TEST(rom_mode_tables_all_modes)
{
    FILE *f = fopen("/usr/share/seabios/vgabios-stdvga.bin", "rb");
    if (!f)
        SKIP("no /usr/share/seabios/vgabios-stdvga.bin");
    static uint8_t rom[65536];
    size_t n = fread(rom, 1, sizeof rom, f);
    fclose(f);
    struct rom_mode modes[32];
    unsigned k = rom_modes(rom, n, modes, 32);
    ASSERT(k >= 16); /* 00-07, 0D-13, 6A */
    for (unsigned i = 0; i < k; i++) {
        const struct rom_mode *m = &modes[i];
        struct rig r = rig_new();
        rom_set_mode(&r, m);
        bool text = m->memmodel == 0;
        if (text) {
            load_font(&r, NULL);
            gr(&r, 0x06, m->grdc[6]); /* load_font leaves the colour text map */
            uint32_t seg = m->mode == 7 ? 0xB0000 : 0xB8000;
            for (unsigned c = 0; c < m->width * m->height; c++)
                bus_write(r.bus, seg + c * 2, c ? 0x0720 : 0x0741, 2);
        } else {
            draw_mode_sample(&r, m);
        }
        vga_refresh(r.vga);
        struct framebuffer fb = snap(&r);
        unsigned want_w = text ? m->width * m->cw * (m->width == 40 ? 2 : 1) : m->width;
        unsigned want_h = text ? m->height * m->ch : m->height;
        if (fb.width != want_w || fb.height != want_h)
            FAIL("mode %02xh: %ux%u, want %ux%u", m->mode, fb.width, fb.height, want_w, want_h);
        if (text) {
            char *t = display_text_utf8(r.disp);
            if (strncmp(t, "A\n", 2) != 0)
                FAIL("mode %02xh: text readback starts \"%.8s\"", m->mode, t);
            size_t lines = 0;
            for (char *c = t; *c; c++)
                lines += *c == '\n';
            ASSERT_EQ(lines, m->height);
            free(t);
        }
        check_mode_pixels(m, &fb);
        framebuffer_release(&fb);
        rig_free(&r);
    }
}

/* 8-bit DAC (VBE_DISPI_8BIT_DAC) in an 8 bpp mode, and 24 bpp packed B, G, R. */
TEST(vbe_8bit_dac_and_24bpp)
{
    struct rig r = rig_new();
    vbe_mode(&r, 640, 480, 8, VBE_DISPI_8BIT_DAC);
    outb(&r, 0x3C8, 7);
    outb(&r, 0x3C9, 0x80);
    outb(&r, 0x3C9, 0xC1);
    outb(&r, 0x3C9, 0xFF);
    vga_vram(r.vga)[640 + 3] = 7;
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    ASSERT_EQ(px(&fb, 3, 1), 0x80C1FF);
    framebuffer_release(&fb);
    vbe_mode(&r, 1024, 768, 24, 0);
    uint8_t *v = vga_vram(r.vga) + (767 * 1024 + 1023) * 3;
    v[0] = 0x11, v[1] = 0x22, v[2] = 0x33;
    vga_refresh(r.vga);
    fb = snap(&r);
    ASSERT_EQ(fb.width, 1024);
    ASSERT_EQ(px(&fb, 1023, 767), 0x332211);
    framebuffer_release(&fb);
    rig_free(&r);
}

/* A mode larger than the VRAM, or panned past its end, is not shown and nothing reads beyond it. */
TEST(vbe_mode_beyond_vram)
{
    struct rig r = rig_new();
    vga_free(r.vga);
    struct error err = {0};
    r.vga = vga_new(r.bus, r.clock, r.disp, VGA_VRAM_MIN, &err);
    ASSERT(r.vga != NULL);
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_VIDEO_MEMORY_64K), 16);
    vbe_mode(&r, 640, 400, 32, 0);
    vga_refresh(r.vga);
    vbe_mode(&r, 1024, 768, 32, 0);
    vga_refresh(r.vga);
    struct framebuffer fb = snap(&r);
    ASSERT_EQ(fb.width, 640);
    framebuffer_release(&fb);
    vbe_mode(&r, 640, 400, 32, 0);
    dispi(&r, VBE_DISPI_INDEX_Y_OFFSET, 300);
    dispi(&r, VBE_DISPI_INDEX_BANK, 100); /* beyond 1 MiB: refused */
    ASSERT_EQ(dispi_get(&r, VBE_DISPI_INDEX_BANK), 0);
    vga_refresh(r.vga);
    ASSERT_EQ(vga_new(r.bus, r.clock, r.disp, 3u << 20, &err), NULL);
    ASSERT_EQ(err.code, EX_DATAERR);
    rig_free(&r);
}
