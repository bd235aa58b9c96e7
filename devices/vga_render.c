/*
 * The VGA's refresh: turns VRAM and the CRTC/attribute/DAC state into an
 * XRGB framebuffer and publishes it. Text modes use the font in plane 2
 * (8- or 9-dot characters, the line-graphics 9th column, blink, underline,
 * the cursor with its shape and blink); graphics modes are planar 16-colour,
 * CGA 2-bit interleaved and 256-colour (chained or not), with the CRTC's
 * byte/word/doubleword addressing, CGA row-scan address bits and the line
 * compare split; VBE modes read VRAM linearly.
 *
 * Only lines whose VRAM changed are re-rendered: text rows whose characters
 * or attributes differ from the last frame; graphics lines whose VRAM
 * granules (512 bytes) were written through the window (a dirty bitmap); the linear framebuffer, which the guest
 * writes directly, is compared with a shadow copy of what was last rendered.
 * Register changes force a full redraw.
 */
#include "devices/vga_int.h"

#include <stdlib.h>
#include <string.h>

enum render_kind { KIND_BLANK, KIND_TEXT, KIND_GRAPHICS, KIND_VBE };

static uint8_t expand6(unsigned v)
{
    return (uint8_t)((v << 2) | (v >> 4));
}

static uint8_t expand5(unsigned v)
{
    return (uint8_t)((v << 3) | (v >> 2));
}

void vga_update_palette(struct vga *s, unsigned i)
{
    bool dac8 = vga_vbe_enabled(s) && (s->vbe[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC);
    const uint8_t *c = s->dac[i & 0xFF];
    uint32_t r = dac8 ? c[0] : expand6(c[0] & 0x3F);
    uint32_t g = dac8 ? c[1] : expand6(c[1] & 0x3F);
    uint32_t b = dac8 ? c[2] : expand6(c[2] & 0x3F);
    s->palette[i & 0xFF] = r << 16 | g << 8 | b;
}

static unsigned vdisp_lines(const struct vga *s)
{
    const uint8_t *cr = s->cr;
    return (cr[VGA_CR_VDISP_END] | (cr[VGA_CR_OVERFLOW] & 0x02) << 7
            | (cr[VGA_CR_OVERFLOW] & 0x40) << 3) + 1;
}

unsigned vga_compute_hz(const struct vga *s)
{
    if (vga_vbe_enabled(s))
        return 60;
    unsigned clock = ((s->misc >> 2) & 3) == 1 ? 28322000 : 25175000;
    unsigned dots = (s->sr[VGA_SR_CLOCKING] & 1) ? 8 : 9;
    if (s->sr[VGA_SR_CLOCKING] & 0x08)
        dots *= 2;
    unsigned htotal = (s->cr[VGA_CR_HTOTAL] + 5u) * dots;
    unsigned vtotal = (s->cr[VGA_CR_VTOTAL] | (s->cr[VGA_CR_OVERFLOW] & 0x01) << 8
                       | (s->cr[VGA_CR_OVERFLOW] & 0x20) << 4) + 2u;
    unsigned hz = clock / (htotal * vtotal);
    return hz >= 50 && hz <= 120 ? hz : 60;
}

/* ---- addressing ---- */

/* Plane offset the CRTC fetches for memory address counter ma (byte/word/doubleword mode). */
static uint32_t crtc_fetch(const struct vga *s, uint32_t ma, unsigned row_scan)
{
    uint8_t mode = s->cr[VGA_CR_MODE];
    uint32_t a;
    if (s->cr[VGA_CR_UNDERLINE] & 0x40)
        a = ma << 2;
    else if (!(mode & 0x40))
        a = (ma << 1) | ((ma >> ((mode & 0x20) ? 15 : 13)) & 1);
    else
        a = ma;
    if (!(mode & 0x01)) /* CGA: row scan bit 0 is address bit 13 */
        a = (a & ~0x2000u) | (row_scan & 1) << 13;
    if (!(mode & 0x02)) /* Hercules: row scan bit 1 is address bit 14 */
        a = (a & ~0x4000u) | ((row_scan >> 1) & 1) << 14;
    return a & (VGA_PLANE_SIZE - 1);
}

static bool granule_dirty(const struct vga *s, uint32_t index)
{
    uint32_t g = index >> VGA_DIRTY_SHIFT;
    return (s->dirty[g >> 3] >> (g & 7)) & 1;
}

/* Sizes the framebuffer; a new size means a full redraw. Returns false when impossible. */
static bool fb_size(struct vga *s, unsigned w, unsigned h)
{
    if (s->fb.width == w && s->fb.height == h && s->fb.pixels)
        return true;
    if (framebuffer_resize(&s->fb, w, h) < 0)
        return false;
    s->full_redraw = true;
    return true;
}

/* The 16 attribute-controller colours as XRGB. */
static void ar_colors(const struct vga *s, uint32_t out[16])
{
    uint8_t sel = s->ar[VGA_AR_COLOR_SELECT];
    for (unsigned i = 0; i < 16; i++) {
        uint8_t v = s->ar[i];
        unsigned dac = (s->ar[VGA_AR_MODE] & 0x80) ? (unsigned)((v & 0x0F) | (sel & 0x03) << 4)
                                                   : (unsigned)(v & 0x3F);
        dac |= (sel & 0x0C) << 4;
        out[i] = s->palette[dac & s->dac_mask];
    }
}

/* ---- text ---- */

struct text_geom {
    unsigned cols, rows, cw, xdbl, chh;
    uint32_t start, offset;
    uint32_t font_a, font_b; /* plane-2 offsets of the two character maps */
    uint32_t colors[16];
    int cursor;              /* cell index, or -1 */
    unsigned cur_start, cur_end;
};

static uint32_t font_offset(unsigned sel)
{
    return (sel & 3) << 14 | (sel >> 2) << 13;
}

static void text_cursor(const struct vga *s, struct text_geom *g)
{
    g->cursor = -1;
    g->cur_start = s->cr[VGA_CR_CURSOR_START] & 0x1F;
    g->cur_end = s->cr[VGA_CR_CURSOR_END] & 0x1F;
    bool on = (s->frame >> 3) & 1; /* blinks at 1/16 of the frame rate */
    if ((s->cr[VGA_CR_CURSOR_START] & 0x20) || !on || g->cur_start > g->cur_end)
        return;
    uint32_t loc = (uint32_t)s->cr[VGA_CR_CURSOR_HI] << 8 | s->cr[VGA_CR_CURSOR_LO];
    uint32_t rel = (loc - g->start) & 0xFFFF;
    if (g->offset == 0)
        return;
    unsigned row = rel / g->offset, col = rel % g->offset;
    if (row < g->rows && col < g->cols)
        g->cursor = (int)(row * g->cols + col);
}

static bool text_geometry(const struct vga *s, struct text_geom *g)
{
    g->cw = (s->sr[VGA_SR_CLOCKING] & 1) ? 8 : 9;
    g->xdbl = (s->sr[VGA_SR_CLOCKING] & 0x08) ? 2 : 1;
    g->chh = (s->cr[VGA_CR_MAX_SCAN] & 0x1F) + 1;
    g->cols = s->cr[VGA_CR_HDISP_END] + 1u;
    unsigned lines = vdisp_lines(s) >> ((s->cr[VGA_CR_MAX_SCAN] & 0x80) ? 1 : 0);
    g->rows = lines / g->chh;
    g->start = (uint32_t)s->cr[VGA_CR_START_HI] << 8 | s->cr[VGA_CR_START_LO];
    g->offset = s->cr[VGA_CR_OFFSET] * 2u;
    uint8_t cm = s->sr[VGA_SR_CHAR_MAP];
    g->font_a = font_offset(((cm >> 5) & 1) << 2 | ((cm >> 2) & 3));
    g->font_b = font_offset(((cm >> 4) & 1) << 2 | (cm & 3));
    ar_colors(s, g->colors);
    text_cursor(s, g);
    unsigned w = g->cols * g->cw * g->xdbl, h = g->rows * g->chh;
    return g->rows > 0 && w <= DISPLAY_MAX_WIDTH && h <= DISPLAY_MAX_HEIGHT && w >= 8;
}

static void draw_glyph_line(const struct vga *s, const struct text_geom *g, uint32_t *dst,
                            uint8_t ch, uint8_t attr, unsigned line, bool cursor)
{
    bool blink_en = s->ar[VGA_AR_MODE] & 0x08;
    unsigned fg = attr & 0x0F, bg = attr >> 4;
    if (blink_en) {
        bg &= 7;
        if ((attr & 0x80) && !s->blink_phase)
            fg = bg;
    }
    uint32_t font = (attr & 0x08) ? g->font_a : g->font_b;
    uint8_t bits = s->vram[((font + ch * 32u + line) & 0xFFFF) * 4 + 2];
    if ((s->ar[VGA_AR_MODE] & 0x02) && (attr & 0x77) == 0x01
        && line == (s->cr[VGA_CR_UNDERLINE] & 0x1F))
        bits = 0xFF; /* monochrome underline */
    if (cursor && line >= g->cur_start && line <= g->cur_end)
        bits = 0xFF;
    unsigned bits9 = (unsigned)bits << 1;
    if (g->cw == 9 && (bits & 1) && (bits == 0xFF || ((s->ar[VGA_AR_MODE] & 0x04) && ch >= 0xC0 && ch <= 0xDF)))
        bits9 |= 1; /* line graphics (or cursor/underline) extend into the 9th column */
    uint32_t f = g->colors[fg], b = g->colors[bg];
    for (unsigned x = 0; x < g->cw; x++) {
        uint32_t px = (bits9 >> (8 - x)) & 1 ? f : b;
        for (unsigned k = 0; k < g->xdbl; k++)
            *dst++ = px;
    }
}

/* Reads row r's cells and attributes; tells whether any changed since the last frame. */
static bool text_row_scan(struct vga *s, const struct text_geom *g, unsigned r, bool *blinks,
                          bool *chars_changed)
{
    bool changed = false;
    *blinks = false;
    uint8_t *cells = s->cells + (size_t)r * g->cols;
    uint8_t *attrs = s->attrs + (size_t)r * g->cols;
    for (unsigned c = 0; c < g->cols; c++) {
        uint32_t a = crtc_fetch(s, g->start + r * g->offset + c, 0) * 4;
        uint8_t ch = s->vram[a], at = s->vram[a + 1];
        *chars_changed |= cells[c] != ch;
        changed |= cells[c] != ch || attrs[c] != at;
        cells[c] = ch;
        attrs[c] = at;
        *blinks |= (at & 0x80) != 0;
    }
    return changed;
}

static void text_row_draw(struct vga *s, const struct text_geom *g, unsigned r)
{
    for (unsigned line = 0; line < g->chh; line++) {
        unsigned y = r * g->chh + line;
        uint32_t *dst = framebuffer_row(&s->fb, y);
        for (unsigned c = 0; c < g->cols; c++) {
            uint32_t a = crtc_fetch(s, g->start + r * g->offset + c, 0) * 4;
            bool cur = g->cursor == (int)(r * g->cols + c);
            draw_glyph_line(s, g, dst, s->vram[a], s->vram[a + 1], line, cur);
            dst += g->cw * g->xdbl;
        }
        s->fb.dirty[y] = 1;
    }
}

/* Sizes the text readback; *fresh tells it was (re)allocated. */
static bool cells_size(struct vga *s, unsigned rows, unsigned cols, bool *fresh)
{
    *fresh = false;
    if (s->cell_rows == rows && s->cell_cols == cols)
        return true;
    *fresh = true;
    uint8_t *c = calloc((size_t)rows * cols + 1, 1);
    uint8_t *a = calloc((size_t)rows * cols + 1, 1);
    if (!c || !a) {
        free(c);
        free(a);
        return false;
    }
    free(s->cells);
    free(s->attrs);
    s->cells = c;
    s->attrs = a;
    s->full_redraw = true;
    s->cell_rows = rows;
    s->cell_cols = cols;
    return true;
}

static bool cursor_on_row(int cursor, const struct text_geom *g, unsigned r)
{
    return cursor >= 0 && (unsigned)cursor / g->cols == r;
}

static void render_text(struct vga *s, const struct text_geom *g, bool new_cells)
{
    bool blink_phase = (s->frame >> 4) & 1; /* characters blink at 1/32 of the frame rate */
    bool blink_flip = blink_phase != s->blink_phase && (s->ar[VGA_AR_MODE] & 0x08);
    s->blink_phase = blink_phase;
    bool cursor_moved = s->cursor_drawn != g->cursor;
    bool changed = new_cells;
    for (unsigned r = 0; r < g->rows; r++) {
        bool blinks;
        bool dirty = text_row_scan(s, g, r, &blinks, &changed) || s->full_redraw;
        dirty |= blink_flip && blinks;
        dirty |= cursor_moved && (cursor_on_row(s->cursor_drawn, g, r) || cursor_on_row(g->cursor, g, r));
        if (dirty)
            text_row_draw(s, g, r);
    }
    s->cursor_drawn = g->cursor;
    if (changed)
        display_publish_text(s->display, g->rows, g->cols, s->cells);
}

/* ---- graphics ---- */

enum gfx_shift { SHIFT_PLANAR, SHIFT_CGA, SHIFT_256 };

struct gfx_geom {
    enum gfx_shift shift;
    unsigned counters, width, height, msl;
    bool row_scan_addr; /* CGA/Hercules: each scan line of a row has its own address */
    uint32_t start, offset;
    unsigned split;     /* output line where the line compare restarts at address 0 */
    uint32_t colors[16];
};

static bool gfx_geometry(const struct vga *s, struct gfx_geom *g)
{
    uint8_t gm = s->gr[VGA_GR_MODE];
    g->shift = (gm & 0x40) ? SHIFT_256 : (gm & 0x20) ? SHIFT_CGA : SHIFT_PLANAR;
    g->counters = s->cr[VGA_CR_HDISP_END] + 1u;
    g->width = g->counters * (g->shift == SHIFT_256 ? 4 : 8);
    bool dbl = s->cr[VGA_CR_MAX_SCAN] & 0x80;
    unsigned scan = vdisp_lines(s) >> (dbl ? 1 : 0);
    g->msl = s->cr[VGA_CR_MAX_SCAN] & 0x1F;
    g->row_scan_addr = (s->cr[VGA_CR_MODE] & 0x03) != 0x03;
    g->height = g->row_scan_addr ? scan : scan / (g->msl + 1);
    g->start = (uint32_t)s->cr[VGA_CR_START_HI] << 8 | s->cr[VGA_CR_START_LO];
    g->offset = s->cr[VGA_CR_OFFSET] * 2u;
    unsigned lc = s->cr[VGA_CR_LINE_COMPARE] | (s->cr[VGA_CR_OVERFLOW] & 0x10) << 4
                  | (s->cr[VGA_CR_MAX_SCAN] & 0x40) << 3;
    lc >>= dbl ? 1 : 0;
    g->split = g->row_scan_addr ? lc + 1 : (lc + 1) / (g->msl + 1);
    ar_colors(s, g->colors);
    return g->width >= 8 && g->height >= 1 && g->width <= DISPLAY_MAX_WIDTH
           && g->height <= DISPLAY_MAX_HEIGHT;
}

static void gfx_line_addr(const struct gfx_geom *g, unsigned y, uint32_t *ma, unsigned *rs)
{
    unsigned per_row = g->row_scan_addr ? g->msl + 1 : 1;
    unsigned yy = y >= g->split ? y - g->split : y;
    uint32_t base = y >= g->split ? 0 : g->start;
    *ma = base + (yy / per_row) * g->offset;
    *rs = yy % per_row;
}

static void draw_counter(const struct vga *s, const struct gfx_geom *g, const uint8_t *p,
                         uint32_t *dst)
{
    uint8_t enable = s->ar[VGA_AR_PLANE_ENABLE] & 0x0F;
    if (g->shift == SHIFT_256) {
        for (int i = 0; i < 4; i++)
            dst[i] = s->palette[p[i] & s->dac_mask];
    } else if (g->shift == SHIFT_CGA) {
        for (int i = 0; i < 8; i++) {
            uint8_t b = p[i >> 2], sh = (uint8_t)(6 - 2 * (i & 3));
            uint8_t b2 = p[(i >> 2) + 2];
            unsigned c = ((b >> sh) & 3) | ((b2 >> sh) & 3) << 2;
            dst[i] = g->colors[c & enable];
        }
    } else {
        for (int i = 0; i < 8; i++) {
            unsigned bit = 7 - i;
            unsigned c = ((p[0] >> bit) & 1) | ((p[1] >> bit) & 1) << 1
                         | ((p[2] >> bit) & 1) << 2 | ((p[3] >> bit) & 1) << 3;
            dst[i] = g->colors[c & enable];
        }
    }
}

static void render_graphics(struct vga *s, const struct gfx_geom *g)
{
    unsigned px = g->shift == SHIFT_256 ? 4 : 8;
    for (unsigned y = 0; y < g->height; y++) {
        uint32_t ma;
        unsigned rs;
        gfx_line_addr(g, y, &ma, &rs);
        bool dirty = s->full_redraw;
        for (unsigned i = 0; i < g->counters && !dirty; i++)
            dirty = granule_dirty(s, crtc_fetch(s, ma + i, rs) * 4);
        if (!dirty)
            continue;
        uint32_t *dst = framebuffer_row(&s->fb, y);
        for (unsigned i = 0; i < g->counters; i++)
            draw_counter(s, g, s->vram + crtc_fetch(s, ma + i, rs) * 4, dst + i * px);
        s->fb.dirty[y] = 1;
    }
}

/* ---- VBE ---- */

static uint32_t vbe_pixel(const struct vga *s, unsigned bpp, const uint8_t *p)
{
    unsigned v;
    switch (bpp) {
    case 8:
        return s->palette[p[0]];
    case 15:
        v = p[0] | p[1] << 8;
        return (uint32_t)expand5(v >> 10 & 31) << 16 | (uint32_t)expand5(v >> 5 & 31) << 8
               | expand5(v & 31);
    case 16:
        v = p[0] | p[1] << 8;
        return (uint32_t)expand5(v >> 11 & 31) << 16 | (uint32_t)expand6(v >> 5 & 63) << 8
               | expand5(v & 31);
    default: /* 24 and 32: B, G, R in memory order */
        return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    }
}

static void vbe_draw_line(const struct vga *s, unsigned bpp, unsigned xres, const uint8_t *src,
                          uint32_t *dst)
{
    if (bpp == 4) {
        uint32_t colors[16];
        ar_colors(s, colors);
        for (unsigned x = 0; x < xres; x++) {
            const uint8_t *p = src + (x / 8) * 4;
            unsigned bit = 7 - (x & 7);
            unsigned c = ((p[0] >> bit) & 1) | ((p[1] >> bit) & 1) << 1
                         | ((p[2] >> bit) & 1) << 2 | ((p[3] >> bit) & 1) << 3;
            dst[x] = colors[c];
        }
        return;
    }
    unsigned bpx = (bpp + 7) / 8;
    for (unsigned x = 0; x < xres; x++)
        dst[x] = vbe_pixel(s, bpp, src + x * bpx);
}

static bool shadow_size(struct vga *s, size_t n)
{
    if (s->shadow_size == n)
        return true;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return false;
    free(s->shadow);
    s->shadow = p;
    s->shadow_size = n;
    s->full_redraw = true;
    return true;
}

static void render_vbe(struct vga *s)
{
    const uint16_t *r = s->vbe;
    unsigned bpp = r[VBE_DISPI_INDEX_BPP], xres = r[VBE_DISPI_INDEX_XRES];
    unsigned yres = r[VBE_DISPI_INDEX_YRES];
    uint64_t line = bpp == 4 ? r[VBE_DISPI_INDEX_VIRT_WIDTH] / 8 * 4u
                             : (uint64_t)r[VBE_DISPI_INDEX_VIRT_WIDTH] * ((bpp + 7) / 8);
    uint64_t span = bpp == 4 ? xres / 8 * 4u : (uint64_t)xres * ((bpp + 7) / 8);
    uint64_t start = (uint64_t)r[VBE_DISPI_INDEX_Y_OFFSET] * line
                     + (bpp == 4 ? r[VBE_DISPI_INDEX_X_OFFSET] / 8 * 4u
                                 : (uint64_t)r[VBE_DISPI_INDEX_X_OFFSET] * ((bpp + 7) / 8));
    if (!xres || !yres || start + line * (yres - 1) + span > s->vram_size
        || !fb_size(s, xres, yres) || !shadow_size(s, span * yres))
        return;
    for (unsigned y = 0; y < yres; y++) {
        const uint8_t *src = s->vram + start + line * y;
        uint8_t *sh = s->shadow + span * y;
        if (!s->full_redraw && memcmp(src, sh, span) == 0)
            continue;
        memcpy(sh, src, span);
        vbe_draw_line(s, bpp, xres, src, framebuffer_row(&s->fb, y));
        s->fb.dirty[y] = 1;
    }
}

/* ---- the frame ---- */

static void render_blank(struct vga *s)
{
    if (!fb_size(s, s->fb.width ? s->fb.width : 640, s->fb.height ? s->fb.height : 480))
        return;
    if (!s->full_redraw)
        return;
    for (unsigned y = 0; y < s->fb.height; y++)
        memset(framebuffer_row(&s->fb, y), 0, s->fb.width * 4u);
    framebuffer_mark_all(&s->fb);
}

static void clear_dirty(struct vga *s)
{
    if (s->vram_written)
        memset(s->dirty, 0, (s->vram_size >> VGA_DIRTY_SHIFT) / 8);
    s->vram_written = false;
    s->full_redraw = false;
}

static void render_legacy(struct vga *s)
{
    bool screen_on = (s->ar_index & VGA_AR_PAS) && !(s->sr[VGA_SR_CLOCKING] & 0x20);
    struct text_geom tg;
    struct gfx_geom gg;
    bool fresh;
    if (!screen_on) {
        render_blank(s);
    } else if (!(s->ar[VGA_AR_MODE] & 1)) {
        if (text_geometry(s, &tg) && fb_size(s, tg.cols * tg.cw * tg.xdbl, tg.rows * tg.chh)
            && cells_size(s, tg.rows, tg.cols, &fresh))
            render_text(s, &tg, fresh);
        else
            render_blank(s);
        return;
    } else if (gfx_geometry(s, &gg) && fb_size(s, gg.width, gg.height)) {
        render_graphics(s, &gg);
    } else {
        render_blank(s);
    }
    if (s->cell_rows) {
        s->cell_rows = s->cell_cols = 0;
        display_publish_text(s->display, 0, 0, NULL);
    }
}

void vga_render(struct vga *s)
{
    if (vga_vbe_enabled(s)) {
        render_vbe(s);
        if (s->cell_rows) {
            s->cell_rows = s->cell_cols = 0;
            display_publish_text(s->display, 0, 0, NULL);
        }
    } else {
        render_legacy(s);
    }
    clear_dirty(s);
    display_publish(s->display, &s->fb);
}
