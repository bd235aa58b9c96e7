/*
 * Standard VGA registers, the 0xA0000-0xBFFFF memory window and the Bochs
 * VBE interface (see vga.h). Subset: the sequencer, graphics controller
 * (write modes 0-3, read modes 0-1, set/reset, rotate, logical ops, bit
 * mask), CRT controller with its write protect, attribute controller with
 * its index/data flip-flop, the DAC with 6-bit (or VBE 8-bit) entries, input
 * status 1 with blanking and vertical retrace derived from virtual time, and
 * the memory maps with chain-4, odd/even and planar addressing. VBE banked
 * and linear modes of 8, 15, 16, 24 and 32 bits, and 4-bit planar.
 * Rendering is in vga_render.c.
 */
#include "devices/vga_int.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

/* ---- memory window ---- */

/* Offset of a window address (0 = 0xA0000) in the map GR6 selects, or -1. */
static int64_t window_offset(const struct vga *s, uint64_t addr)
{
    switch ((s->gr[VGA_GR_MISC] >> 2) & 3) {
    case 0:
        return (int64_t)addr;
    case 1:
        return addr < 0x10000 ? (int64_t)addr : -1;
    case 2:
        return addr >= 0x10000 && addr < 0x18000 ? (int64_t)(addr - 0x10000) : -1;
    default:
        return addr >= 0x18000 ? (int64_t)(addr - 0x18000) : -1;
    }
}

static bool vbe_linear(const struct vga *s)
{
    return vga_vbe_enabled(s) && s->vbe[VBE_DISPI_INDEX_BPP] >= 8;
}

static uint32_t bank_offset(const struct vga *s)
{
    return vga_vbe_enabled(s) ? (uint32_t)s->vbe[VBE_DISPI_INDEX_BANK] << 16 : 0;
}

/* Plane offset of a legacy window offset (VBE banks reach beyond 64 KiB). */
static uint32_t plane_offset(const struct vga *s, uint32_t off)
{
    return vga_vbe_enabled(s) ? bank_offset(s) + off : off & (VGA_PLANE_SIZE - 1);
}

static void load_latches(struct vga *s, uint32_t poff)
{
    uint32_t i = poff * 4;
    if (i + 4 <= s->vram_size)
        memcpy(s->latch, s->vram + i, 4);
}

static uint8_t read_mode1(const struct vga *s)
{
    uint8_t match = 0xFF;
    for (int p = 0; p < 4; p++) {
        if (!((s->gr[VGA_GR_COLOR_DONT_CARE] >> p) & 1))
            continue;
        uint8_t want = (s->gr[VGA_GR_COLOR_COMPARE] >> p) & 1 ? 0xFF : 0x00;
        match &= (uint8_t) ~(s->latch[p] ^ want);
    }
    return match;
}

static uint8_t mem_readb(struct vga *s, uint32_t off)
{
    if (vbe_linear(s)) {
        uint32_t i = bank_offset(s) + off;
        return i < s->vram_size ? s->vram[i] : 0xFF;
    }
    uint32_t poff, plane;
    if (s->sr[VGA_SR_MEM_MODE] & VGA_SR_MEM_MODE_CHAIN4) {
        plane = off & 3;
        poff = plane_offset(s, off & ~3u);
    } else if (s->gr[VGA_GR_MODE] & 0x10) {
        plane = (s->gr[VGA_GR_READ_MAP] & 2) | (off & 1);
        poff = plane_offset(s, off & ~1u);
    } else {
        plane = s->gr[VGA_GR_READ_MAP] & 3;
        poff = plane_offset(s, off);
    }
    load_latches(s, poff);
    if (s->gr[VGA_GR_MODE] & 0x08)
        return read_mode1(s);
    return s->latch[plane];
}

static void plane_write(struct vga *s, uint32_t poff, unsigned plane, uint8_t v)
{
    uint32_t i = poff * 4 + plane;
    if (i >= s->vram_size)
        return;
    s->vram[i] = v;
    vga_mark_dirty(s, i);
    if (plane == 2 && !(s->ar[VGA_AR_MODE] & 1))
        s->full_redraw = true; /* font memory of a text mode */
}

static uint8_t alu(const struct vga *s, uint8_t v, uint8_t latch)
{
    switch ((s->gr[VGA_GR_DATA_ROTATE] >> 3) & 3) {
    case 1:
        return v & latch;
    case 2:
        return v | latch;
    case 3:
        return v ^ latch;
    default:
        return v;
    }
}

static uint8_t rotate(const struct vga *s, uint8_t v)
{
    unsigned r = s->gr[VGA_GR_DATA_ROTATE] & 7;
    return (uint8_t)((v >> r) | (v << ((8 - r) & 7)));
}

/* The graphics controller's data for plane p in write modes 0, 2 and 3. */
static uint8_t planar_data(const struct vga *s, unsigned mode, uint8_t v, int p, uint8_t *mask)
{
    uint8_t sr_bit = (s->gr[VGA_GR_SET_RESET] >> p) & 1 ? 0xFF : 0x00;
    switch (mode) {
    case 0:
        return (s->gr[VGA_GR_ENABLE_SET_RESET] >> p) & 1 ? sr_bit : rotate(s, v);
    case 2:
        return (v >> p) & 1 ? 0xFF : 0x00;
    default: /* 3: the rotated data ANDed with the bit mask is the mask */
        *mask &= rotate(s, v);
        return sr_bit;
    }
}

static void planar_write(struct vga *s, uint32_t poff, uint8_t v)
{
    unsigned mode = s->gr[VGA_GR_MODE] & 3;
    uint8_t map_mask = s->sr[VGA_SR_MAP_MASK];
    for (int p = 0; p < 4; p++) {
        if (!((map_mask >> p) & 1))
            continue;
        if (mode == 1) {
            plane_write(s, poff, p, s->latch[p]);
            continue;
        }
        uint8_t mask = s->gr[VGA_GR_BIT_MASK];
        uint8_t d = alu(s, planar_data(s, mode, v, p, &mask), s->latch[p]);
        plane_write(s, poff, p, (uint8_t)((d & mask) | (s->latch[p] & ~mask)));
    }
}

static void mem_writeb(struct vga *s, uint32_t off, uint8_t v)
{
    uint8_t map_mask = s->sr[VGA_SR_MAP_MASK];
    if (vbe_linear(s)) {
        uint32_t i = bank_offset(s) + off;
        if (i < s->vram_size) {
            s->vram[i] = v;
            vga_mark_dirty(s, i);
        }
    } else if (s->sr[VGA_SR_MEM_MODE] & VGA_SR_MEM_MODE_CHAIN4) {
        if ((map_mask >> (off & 3)) & 1)
            plane_write(s, plane_offset(s, off & ~3u), off & 3, v);
    } else if (!(s->sr[VGA_SR_MEM_MODE] & VGA_SR_MEM_MODE_OE_DISABLE)) {
        uint8_t planes = map_mask & ((off & 1) ? 0x0A : 0x05);
        for (int p = 0; p < 4; p++)
            if ((planes >> p) & 1)
                plane_write(s, plane_offset(s, off & ~1u), p, v);
    } else {
        planar_write(s, plane_offset(s, off), v);
    }
}

static uint64_t window_read(void *opaque, uint64_t addr, unsigned size)
{
    struct vga *s = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        int64_t off = window_offset(s, addr + i);
        uint8_t b = off < 0 ? 0xFF : mem_readb(s, (uint32_t)off);
        v |= (uint64_t)b << (8 * i);
    }
    return v;
}

static void window_write(void *opaque, uint64_t addr, uint64_t value, unsigned size)
{
    struct vga *s = opaque;
    for (unsigned i = 0; i < size; i++) {
        int64_t off = window_offset(s, addr + i);
        if (off >= 0)
            mem_writeb(s, (uint32_t)off, (uint8_t)(value >> (8 * i)));
    }
}

static const struct bus_ops window_ops = {
    .read = window_read, .write = window_write, .min_size = 1, .max_size = 4,
};

/* ---- registers ---- */

static bool crtc_port_ok(const struct vga *s, uint16_t port)
{
    bool color = s->misc & VGA_MISC_IOAS;
    return color ? (port & 0xFFF0) == 0x3D0 : (port & 0xFFF0) == 0x3B0;
}

static uint8_t input_status_1(struct vga *s)
{
    s->ar_data_next = false;
    unsigned hz = vga_compute_hz(s);
    unsigned vtotal = (s->cr[VGA_CR_VTOTAL] | (s->cr[VGA_CR_OVERFLOW] & 0x01) << 8
                       | (s->cr[VGA_CR_OVERFLOW] & 0x20) << 4) + 2;
    unsigned vde = (s->cr[VGA_CR_VDISP_END] | (s->cr[VGA_CR_OVERFLOW] & 0x02) << 7
                    | (s->cr[VGA_CR_OVERFLOW] & 0x40) << 3) + 1;
    unsigned vrs = s->cr[VGA_CR_VRETRACE_START] | (s->cr[VGA_CR_OVERFLOW] & 0x04) << 6
                   | (s->cr[VGA_CR_OVERFLOW] & 0x80) << 2;
    unsigned vr_len = (s->cr[VGA_CR_VRETRACE_END] - vrs) & 0x0F;
    if (vtotal < 16 || vde >= vtotal || vrs >= vtotal) {
        vtotal = 449; /* the 70 Hz text timing */
        vde = 400;
        vrs = 412;
    }
    int64_t frame_ns = 1000000000 / hz;
    int64_t t = clock_now_ns(s->clock) % frame_ns;
    int64_t line_ns = frame_ns / vtotal;
    unsigned line = (unsigned)(t / line_ns);
    bool hblank = (t % line_ns) * 5 >= line_ns * 4; /* the last fifth of a line */
    uint8_t v = 0;
    if (line >= vrs && line < vrs + (vr_len ? vr_len : 16))
        v |= VGA_IS1_VR;
    if (hblank || line >= vde)
        v |= VGA_IS1_DE;
    return v;
}

static uint8_t dac_read_data(struct vga *s)
{
    uint8_t v = s->dac[s->dac_read_index][s->dac_sub];
    if (++s->dac_sub == 3) {
        s->dac_sub = 0;
        s->dac_read_index++;
    }
    return v;
}

static void dac_write_data(struct vga *s, uint8_t v)
{
    bool dac8 = vga_vbe_enabled(s) && (s->vbe[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC);
    s->dac_latch[s->dac_sub] = dac8 ? v : v & 0x3F;
    if (++s->dac_sub < 3)
        return;
    s->dac_sub = 0;
    memcpy(s->dac[s->dac_write_index], s->dac_latch, 3);
    vga_update_palette(s, s->dac_write_index);
    s->dac_write_index++;
    s->full_redraw = true;
}

static uint8_t port_read(struct vga *s, uint16_t port)
{
    switch (port) {
    case 0x3C0:
        return s->ar_index;
    case 0x3C1:
        return s->ar[s->ar_index & 0x1F];
    case 0x3C2:
        return 0x00; /* input status 0 */
    case 0x3C3:
        return 0x01;
    case 0x3C4:
        return s->sr_index;
    case 0x3C5:
        return s->sr[s->sr_index & 7];
    case 0x3C6:
        return s->dac_mask;
    case 0x3C7:
        return s->dac_reading ? 0x03 : 0x00;
    case 0x3C8:
        return s->dac_write_index;
    case 0x3C9:
        return dac_read_data(s);
    case 0x3CA:
        return s->feature;
    case 0x3CC:
        return s->misc;
    case 0x3CE:
        return s->gr_index;
    case 0x3CF:
        return s->gr[s->gr_index & 0x0F];
    case 0x3B4:
    case 0x3D4:
        return crtc_port_ok(s, port) ? s->cr_index : 0xFF;
    case 0x3B5:
    case 0x3D5:
        return crtc_port_ok(s, port) ? s->cr[s->cr_index & 0x3F] : 0xFF;
    case 0x3BA:
    case 0x3DA:
        return crtc_port_ok(s, port) ? input_status_1(s) : 0xFF;
    default:
        return 0xFF;
    }
}

static void ar_write(struct vga *s, uint8_t v)
{
    if (!s->ar_data_next) {
        if ((v ^ s->ar_index) & VGA_AR_PAS)
            s->full_redraw = true;
        s->ar_index = v & 0x3F;
    } else if ((s->ar_index & 0x1F) <= VGA_AR_COLOR_SELECT) {
        s->ar[s->ar_index & 0x1F] = v;
        s->full_redraw = true;
    }
    s->ar_data_next = !s->ar_data_next;
}

static void cr_write(struct vga *s, uint8_t v)
{
    unsigned i = s->cr_index & 0x3F;
    /* CR11 bit 7 protects CR0-CR7, except the line compare bit 8 in CR7. */
    if ((s->cr[VGA_CR_VRETRACE_END] & 0x80) && i <= VGA_CR_OVERFLOW) {
        if (i == VGA_CR_OVERFLOW)
            s->cr[i] = (uint8_t)((s->cr[i] & ~0x10) | (v & 0x10));
        return;
    }
    s->cr[i] = v;
    if (i != VGA_CR_CURSOR_HI && i != VGA_CR_CURSOR_LO)
        s->full_redraw = true;
}

static void port_write(struct vga *s, uint16_t port, uint8_t v)
{
    switch (port) {
    case 0x3C0:
        ar_write(s, v);
        break;
    case 0x3C2:
        s->misc = v;
        s->full_redraw = true;
        break;
    case 0x3C4:
        s->sr_index = v;
        break;
    case 0x3C5:
        s->sr[s->sr_index & 7] = v;
        s->full_redraw = true;
        break;
    case 0x3C6:
        s->dac_mask = v;
        s->full_redraw = true;
        break;
    case 0x3C7:
        s->dac_read_index = v;
        s->dac_sub = 0;
        s->dac_reading = true;
        break;
    case 0x3C8:
        s->dac_write_index = v;
        s->dac_sub = 0;
        s->dac_reading = false;
        break;
    case 0x3C9:
        dac_write_data(s, v);
        break;
    case 0x3CE:
        s->gr_index = v;
        break;
    case 0x3CF:
        s->gr[s->gr_index & 0x0F] = v;
        s->full_redraw = true;
        break;
    case 0x3B4:
    case 0x3D4:
        if (crtc_port_ok(s, port))
            s->cr_index = v;
        break;
    case 0x3B5:
    case 0x3D5:
        if (crtc_port_ok(s, port))
            cr_write(s, v);
        break;
    case 0x3BA:
    case 0x3DA:
        if (crtc_port_ok(s, port))
            s->feature = v;
        break;
    default:
        break;
    }
}

static uint64_t ports_read(void *opaque, uint64_t offset, unsigned size)
{
    struct vga *s = opaque;
    uint8_t v = port_read(s, (uint16_t)(0x3B0 + offset));
    if (trace_on(TRACE_VGA))
        trace_printf(TRACE_VGA, "in 0x%03x -> 0x%02x\n", (unsigned)(0x3B0 + offset), v);
    return v;
}

static void ports_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct vga *s = opaque;
    if (trace_on(TRACE_VGA))
        trace_printf(TRACE_VGA, "out 0x%03x <- 0x%02x\n", (unsigned)(0x3B0 + offset),
                     (unsigned)(value & 0xFF));
    port_write(s, (uint16_t)(0x3B0 + offset), (uint8_t)value);
}

static const struct bus_ops ports_ops = {
    .read = ports_read, .write = ports_write, .min_size = 1, .max_size = 1,
};

/* ---- Bochs VBE ---- */

static unsigned vbe_bytes_pp(unsigned bpp)
{
    return (bpp + 7) / 8;
}

static bool vbe_bpp_ok(unsigned bpp)
{
    return bpp == 4 || bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32;
}

/* Line length in bytes (per plane for 4 bits per pixel). */
static uint32_t vbe_line_bytes(const struct vga *s)
{
    unsigned bpp = s->vbe[VBE_DISPI_INDEX_BPP];
    uint32_t w = s->vbe[VBE_DISPI_INDEX_VIRT_WIDTH];
    return bpp == 4 ? w / 8 : w * vbe_bytes_pp(bpp);
}

static void vbe_fix_virt(struct vga *s)
{
    uint16_t *r = s->vbe;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH] < r[VBE_DISPI_INDEX_XRES])
        r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];
    uint32_t line = vbe_line_bytes(s);
    uint32_t vh = line ? s->vram_size / line : 0;
    r[VBE_DISPI_INDEX_VIRT_HEIGHT] = (uint16_t)(vh > 0xFFFF ? 0xFFFF : vh);
}

static void vbe_enable(struct vga *s, uint16_t v)
{
    uint16_t *r = s->vbe;
    bool was = vga_vbe_enabled(s);
    r[VBE_DISPI_INDEX_ENABLE] = v;
    if (!(v & VBE_DISPI_ENABLED) || was)
        return;
    if (!r[VBE_DISPI_INDEX_XRES] || !r[VBE_DISPI_INDEX_YRES])
        return;
    r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];
    r[VBE_DISPI_INDEX_X_OFFSET] = r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
    vbe_fix_virt(s);
    if (!(v & VBE_DISPI_NOCLEARMEM)) {
        uint64_t n = (uint64_t)vbe_line_bytes(s) * r[VBE_DISPI_INDEX_YRES]
                     * (r[VBE_DISPI_INDEX_BPP] == 4 ? 4 : 1);
        memset(s->vram, 0, n < s->vram_size ? n : s->vram_size);
    }
}

static uint16_t vbe_read(struct vga *s, unsigned i)
{
    bool caps = s->vbe[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_GETCAPS;
    switch (i) {
    case VBE_DISPI_INDEX_XRES:
        return caps ? VBE_DISPI_MAX_XRES : s->vbe[i];
    case VBE_DISPI_INDEX_YRES:
        return caps ? VBE_DISPI_MAX_YRES : s->vbe[i];
    case VBE_DISPI_INDEX_BPP:
        return caps ? VBE_DISPI_MAX_BPP : s->vbe[i];
    case VBE_DISPI_INDEX_VIDEO_MEMORY_64K:
        return (uint16_t)(s->vram_size >> 16);
    default:
        return i < VBE_DISPI_INDEX_NB ? s->vbe[i] : 0;
    }
}

static void vbe_write(struct vga *s, unsigned i, uint16_t v)
{
    uint16_t *r = s->vbe;
    switch (i) {
    case VBE_DISPI_INDEX_ID:
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5)
            r[i] = v;
        break;
    case VBE_DISPI_INDEX_XRES:
        if (v <= VBE_DISPI_MAX_XRES && (v & 7) == 0)
            r[i] = v;
        break;
    case VBE_DISPI_INDEX_YRES:
        if (v <= VBE_DISPI_MAX_YRES)
            r[i] = v;
        break;
    case VBE_DISPI_INDEX_BPP:
        if (v == 0)
            v = 8;
        if (vbe_bpp_ok(v))
            r[i] = v;
        break;
    case VBE_DISPI_INDEX_ENABLE:
        vbe_enable(s, v);
        for (unsigned c = 0; c < 256; c++)
            vga_update_palette(s, c); /* the DAC width may have changed */
        break;
    case VBE_DISPI_INDEX_BANK:
        if ((uint32_t)v << 16 < s->vram_size)
            r[i] = v;
        break;
    case VBE_DISPI_INDEX_VIRT_WIDTH:
        r[i] = v;
        vbe_fix_virt(s);
        break;
    case VBE_DISPI_INDEX_X_OFFSET:
    case VBE_DISPI_INDEX_Y_OFFSET:
        r[i] = v;
        break;
    default:
        break;
    }
    s->full_redraw = true;
}

static uint64_t dispi_read(void *opaque, uint64_t offset, unsigned size)
{
    struct vga *s = opaque;
    return offset == 0 ? s->vbe_index : vbe_read(s, s->vbe_index);
}

static void dispi_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct vga *s = opaque;
    if (trace_on(TRACE_VGA))
        trace_printf(TRACE_VGA, "dispi %s 0x%04x\n", offset ? "data" : "index",
                     (unsigned)value);
    if (offset == 0)
        s->vbe_index = (uint16_t)value;
    else
        vbe_write(s, s->vbe_index, (uint16_t)value);
}

/* 0x1CE index, 0x1CF data (0x1D0 too, as on QEMU's non-x86 layout). */
static const struct bus_ops dispi_ops = {
    .read = dispi_read, .write = dispi_write, .min_size = 2, .max_size = 2,
};

/* ---- PCI BAR2: the ports and dispi registers by MMIO ---- */

static uint64_t mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct vga *s = opaque;
    if (off >= VGA_MMIO_PORTS && off < VGA_MMIO_PORTS + 0x20 && size == 1)
        return port_read(s, (uint16_t)(0x3C0 + off - VGA_MMIO_PORTS));
    if (off >= VGA_MMIO_DISPI && off < VGA_MMIO_DISPI + 2 * VBE_DISPI_INDEX_NB && size == 2)
        return vbe_read(s, (unsigned)(off - VGA_MMIO_DISPI) / 2);
    return 0;
}

static void mmio_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct vga *s = opaque;
    if (off >= VGA_MMIO_PORTS && off < VGA_MMIO_PORTS + 0x20) {
        for (unsigned i = 0; i < size && off + i < VGA_MMIO_PORTS + 0x20; i++)
            port_write(s, (uint16_t)(0x3C0 + off + i - VGA_MMIO_PORTS), (uint8_t)(v >> 8 * i));
    } else if (off >= VGA_MMIO_DISPI && off < VGA_MMIO_DISPI + 2 * VBE_DISPI_INDEX_NB
               && size == 2) {
        vbe_write(s, (unsigned)(off - VGA_MMIO_DISPI) / 2, (uint16_t)v);
    }
}

const struct bus_ops vga_mmio_bar_ops = {
    .read = mmio_read, .write = mmio_write, .min_size = 1, .max_size = 2,
};

/* ---- object ---- */

static void refresh_tick(void *opaque)
{
    struct vga *s = opaque;
    vga_refresh(s);
    timer_arm(&s->refresh, clock_now_ns(s->clock) + 1000000000 / s->hz);
}

void vga_refresh(struct vga *s)
{
    s->frame++;
    vga_render(s);
    unsigned hz = vga_compute_hz(s);
    if (hz != s->hz) {
        s->hz = hz;
        display_set_refresh_hz(s->display, hz);
    }
}

unsigned vga_refresh_hz(struct vga *s)
{
    return vga_compute_hz(s);
}

void vga_reset(struct vga *s)
{
    s->misc = s->feature = 0;
    memset(s->sr, 0, sizeof s->sr);
    memset(s->gr, 0, sizeof s->gr);
    memset(s->cr, 0, sizeof s->cr);
    memset(s->ar, 0, sizeof s->ar);
    s->sr_index = s->gr_index = s->cr_index = s->ar_index = 0;
    s->ar_data_next = false;
    s->dac_mask = 0xFF;
    s->dac_read_index = s->dac_write_index = s->dac_sub = 0;
    memset(s->dac, 0, sizeof s->dac);
    for (unsigned i = 0; i < 256; i++)
        vga_update_palette(s, i);
    memset(s->vbe, 0, sizeof s->vbe);
    s->vbe[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID0;
    s->vbe[VBE_DISPI_INDEX_BPP] = 8;
    s->vbe_index = 0;
    s->full_redraw = true;
    if (s->pci.bus)
        pci_device_reset(&s->pci);
}

static int map_legacy(struct vga *s, struct error *err)
{
    if (bus_map_pio(s->bus, 0x3B0, 0x30, &ports_ops, s, "vga") < 0
        || bus_map_pio(s->bus, VBE_DISPI_IOPORT_INDEX, 3, &dispi_ops, s, "vbe-dispi") < 0
        || bus_map_mmio(s->bus, 0xA0000, 0x20000, &window_ops, s, "vga-window") < 0)
        return error_set(err, EX_SOFTWARE, "vga: ports or 0xA0000 window already taken");
    s->mapped = true;
    return 0;
}

struct vga *vga_new(struct bus *bus, struct clock *clock, struct display *display,
                    uint32_t vram_size, struct error *err)
{
    if (!vram_size)
        vram_size = VGA_VRAM_DEFAULT;
    if (vram_size < VGA_VRAM_MIN || vram_size > VGA_VRAM_MAX || (vram_size & (vram_size - 1))) {
        error_set(err, EX_DATAERR, "vga: video memory of %u bytes (need a power of two, 1-256 MiB)",
                  vram_size);
        return NULL;
    }
    struct vga *s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, EX_OSERR, "vga: out of memory");
        return NULL;
    }
    s->bus = bus;
    s->clock = clock;
    s->display = display;
    s->vram_size = vram_size;
    s->vram = calloc(1, vram_size);
    s->dirty = calloc(1, (vram_size >> VGA_DIRTY_SHIFT) / 8);
    s->cursor_drawn = -1;
    if (!s->vram || !s->dirty) {
        vga_free(s);
        error_set(err, EX_OSERR, "vga: out of memory for %u MiB of video memory", vram_size >> 20);
        return NULL;
    }
    vga_reset(s);
    s->hz = vga_compute_hz(s);
    if (map_legacy(s, err) < 0) {
        vga_free(s);
        return NULL;
    }
    timer_init(&s->refresh, clock, refresh_tick, s);
    timer_arm(&s->refresh, clock_now_ns(clock) + 1000000000 / s->hz);
    return s;
}

void vga_free(struct vga *s)
{
    if (!s)
        return;
    if (s->refresh.clock)
        timer_cancel(&s->refresh);
    if (s->mapped) {
        bus_unmap_pio(s->bus, 0x3B0);
        bus_unmap_pio(s->bus, VBE_DISPI_IOPORT_INDEX);
        bus_unmap(s->bus, 0xA0000);
    }
    free(s->vram);
    free(s->dirty);
    free(s->shadow);
    free(s->cells);
    free(s->attrs);
    free(s->rom);
    framebuffer_release(&s->fb);
    free(s);
}

uint8_t *vga_vram(struct vga *s)
{
    return s->vram;
}

uint32_t vga_vram_size(struct vga *s)
{
    return s->vram_size;
}
