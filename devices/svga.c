/*
 * VMware SVGA II over the standard VGA (see svga.h). Register and FIFO
 * layouts are VMware's svga_reg.h as Linux's vmwgfx and Xorg's vmware driver
 * use them; what vmwgfx needs to bind without 3D is the ID_2 handshake, the
 * PITCHLOCK capability, DEPTH 24 for 32 bits per pixel, and a FIFO whose
 * MIN/MAX the guest sets before CONFIG_DONE.
 */
#include "devices/svga.h"

#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "devices/trace.h"
#include "devices/vga_int.h"

#define SVGA_CAPS                                                                              \
    (SVGA_CAP_RECT_COPY | SVGA_CAP_CURSOR | SVGA_CAP_CURSOR_BYPASS | SVGA_CAP_CURSOR_BYPASS_2 | \
     SVGA_CAP_ALPHA_CURSOR | SVGA_CAP_EXTENDED_FIFO | SVGA_CAP_PITCHLOCK)
#define SVGA_FIFO_CAPS SVGA_FIFO_CAP_FENCE
#define DEFAULT_WIDTH 800
#define DEFAULT_HEIGHT 600

struct svga {
    struct vga *vga;
    struct pci_device pci;
    uint8_t *rom;
    uint32_t rom_size;
    uint8_t *fifo;

    uint32_t index;
    uint32_t id, enable, width, height, pitchlock, config_done, guest_id, irqmask, traces;
    uint32_t cursor_id, cursor_x, cursor_y, cursor_on;
    uint32_t scratch[SVGA_SCRATCH_REGS];
    uint8_t palette[256 * 3];

    bool shown; /* the SVGA mode is on the screen (the VGA's VBE registers hold it) */
    uint16_t saved_vbe[VBE_DISPI_INDEX_NB];
    struct svga_stats stats;
};

/* ---- the mode ---- */

static uint32_t pitch(const struct svga *s)
{
    return s->pitchlock ? s->pitchlock : s->width * 4;
}

static bool mode_fits(const struct svga *s)
{
    uint64_t p = pitch(s);
    return s->width && s->height && p >= (uint64_t)s->width * 4 && p % 4 == 0 &&
           p * s->height <= s->vga->vram_size;
}

/* Puts the SVGA mode into the VGA's VBE registers (its renderer draws it), or gives the VGA
 * back the registers it had before. */
static void apply_mode(struct svga *s)
{
    struct vga *v = s->vga;
    bool show = (s->enable & SVGA_REG_ENABLE_ENABLE) && !(s->enable & SVGA_REG_ENABLE_HIDE) &&
                mode_fits(s);
    if (!show) {
        if (s->shown) {
            memcpy(v->vbe, s->saved_vbe, sizeof v->vbe);
            v->full_redraw = true;
        }
        s->shown = false;
        return;
    }
    if (!s->shown)
        memcpy(s->saved_vbe, v->vbe, sizeof v->vbe);
    s->shown = true;
    uint32_t p = pitch(s);
    v->vbe[VBE_DISPI_INDEX_XRES] = (uint16_t)s->width;
    v->vbe[VBE_DISPI_INDEX_YRES] = (uint16_t)s->height;
    v->vbe[VBE_DISPI_INDEX_BPP] = 32;
    v->vbe[VBE_DISPI_INDEX_VIRT_WIDTH] = (uint16_t)(p / 4);
    uint32_t vh = v->vram_size / p;
    v->vbe[VBE_DISPI_INDEX_VIRT_HEIGHT] = (uint16_t)(vh > 0xFFFF ? 0xFFFF : vh);
    v->vbe[VBE_DISPI_INDEX_X_OFFSET] = v->vbe[VBE_DISPI_INDEX_Y_OFFSET] = 0;
    v->vbe[VBE_DISPI_INDEX_BANK] = 0;
    v->vbe[VBE_DISPI_INDEX_ENABLE] = VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM;
    v->full_redraw = true;
}

/* ---- the FIFO ---- */

static uint32_t fifo_get(const struct svga *s, uint32_t reg)
{
    uint32_t v;
    memcpy(&v, s->fifo + (size_t)reg * 4, 4);
    return v;
}

static void fifo_put(struct svga *s, uint32_t reg, uint32_t v)
{
    memcpy(s->fifo + (size_t)reg * 4, &v, 4);
}

static void fifo_host_regs(struct svga *s)
{
    fifo_put(s, SVGA_FIFO_CAPABILITIES, SVGA_FIFO_CAPS);
    fifo_put(s, SVGA_FIFO_FLAGS, 0);
    fifo_put(s, SVGA_FIFO_3D_HWVERSION, 0);
}

/* The ring between min and max (bytes), read a word at a time from stop. */
struct ring {
    uint32_t min, max, pos, avail; /* avail: bytes the guest has committed past pos */
};

static uint32_t ring_word(const struct svga *s, const struct ring *r, uint32_t k)
{
    uint64_t off = r->pos + (uint64_t)k * 4;
    uint32_t len = r->max - r->min;
    off = r->min + (off - r->min) % len;
    uint32_t v;
    memcpy(&v, s->fifo + off, 4);
    return v;
}

static void fill_rect(struct svga *s, uint32_t color, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    if (!s->shown || x >= s->width || y >= s->height)
        return;
    w = w > s->width - x ? s->width - x : w;
    h = h > s->height - y ? s->height - y : h;
    uint32_t p = pitch(s);
    for (uint32_t j = 0; j < h; j++)
        for (uint32_t i = 0; i < w; i++)
            memcpy(s->vga->vram + (size_t)(y + j) * p + (size_t)(x + i) * 4, &color, 4);
}

static void copy_rect(struct svga *s, const uint32_t *a)
{
    uint32_t sx = a[0], sy = a[1], dx = a[2], dy = a[3], w = a[4], h = a[5];
    if (!s->shown || sx >= s->width || dx >= s->width || sy >= s->height || dy >= s->height)
        return;
    uint32_t maxw = s->width - (sx > dx ? sx : dx), maxh = s->height - (sy > dy ? sy : dy);
    w = w > maxw ? maxw : w;
    h = h > maxh ? maxh : h;
    uint32_t p = pitch(s);
    uint8_t *vr = s->vga->vram;
    if (dy <= sy) {
        for (uint32_t j = 0; j < h; j++)
            memmove(vr + (size_t)(dy + j) * p + dx * 4u, vr + (size_t)(sy + j) * p + sx * 4u, w * 4u);
    } else {
        for (uint32_t j = h; j-- > 0;)
            memmove(vr + (size_t)(dy + j) * p + dx * 4u, vr + (size_t)(sy + j) * p + sx * 4u, w * 4u);
    }
}

/* Words a command takes, command word included, from its first n fixed words (args);
 * 0: not a command this device knows, or one whose sizes are out of bounds. */
static uint64_t command_words(uint32_t cmd, const uint32_t *a)
{
    switch (cmd) {
    case SVGA_CMD_UPDATE: return 5;
    case SVGA_CMD_RECT_COPY: return 7;
    case SVGA_CMD_UPDATE_VERBOSE: return 6;
    case SVGA_CMD_FRONT_ROP_FILL: return 7;
    case SVGA_CMD_FENCE: return 2;
    case SVGA_CMD_DEFINE_CURSOR: {
        uint32_t w = a[3], h = a[4], and_depth = a[5], xor_depth = a[6];
        if (w > SVGA_CURSOR_MAX || h > SVGA_CURSOR_MAX || and_depth > 32 || xor_depth > 32)
            return 0;
        return 8 + (uint64_t)((w * and_depth + 31) / 32) * h + (uint64_t)((w * xor_depth + 31) / 32) * h;
    }
    case SVGA_CMD_DEFINE_ALPHA_CURSOR: {
        uint32_t w = a[3], h = a[4];
        if (w > SVGA_CURSOR_MAX || h > SVGA_CURSOR_MAX)
            return 0;
        return 6 + (uint64_t)w * h;
    }
    case SVGA_CMD_ESCAPE:
        return a[1] > SVGA_FIFO_SIZE ? 0 : 3 + ((uint64_t)a[1] + 3) / 4;
    default:
        return 0;
    }
}

static unsigned fixed_words(uint32_t cmd)
{
    switch (cmd) {
    case SVGA_CMD_DEFINE_CURSOR: return 7;
    case SVGA_CMD_DEFINE_ALPHA_CURSOR: return 5;
    case SVGA_CMD_ESCAPE: return 2;
    case SVGA_CMD_RECT_COPY:
    case SVGA_CMD_FRONT_ROP_FILL: return 6;
    case SVGA_CMD_UPDATE_VERBOSE: return 5;
    case SVGA_CMD_UPDATE: return 4;
    case SVGA_CMD_FENCE: return 1;
    default: return 0;
    }
}

static void run_command(struct svga *s, uint32_t cmd, const uint32_t *a)
{
    switch (cmd) {
    case SVGA_CMD_UPDATE:
    case SVGA_CMD_UPDATE_VERBOSE:
        s->stats.updates++; /* the VGA's renderer finds the changed lines itself */
        break;
    case SVGA_CMD_RECT_COPY:
        s->stats.copies++;
        copy_rect(s, a);
        break;
    case SVGA_CMD_FRONT_ROP_FILL:
        s->stats.fills++;
        if (a[5] == 3) /* GXcopy: the only raster operation the fill is used with */
            fill_rect(s, a[0], a[1], a[2], a[3], a[4]);
        break;
    case SVGA_CMD_FENCE:
        s->stats.fences++;
        fifo_put(s, SVGA_FIFO_FENCE, a[0]);
        break;
    case SVGA_CMD_DEFINE_CURSOR:
    case SVGA_CMD_DEFINE_ALPHA_CURSOR:
        s->stats.cursors++; /* the host pointer stays the window's own: only the size is kept */
        s->stats.cursor_width = a[3];
        s->stats.cursor_height = a[4];
        break;
    case SVGA_CMD_ESCAPE:
        s->stats.escapes++; /* no escape namespace is implemented: the payload is skipped */
        break;
    default:
        break;
    }
}

/* Runs the committed commands. A ring the guest set up wrong, or a command this device does
 * not know, discards what is committed (STOP = NEXT_CMD), so the guest never waits for ever. */
static void fifo_process(struct svga *s)
{
    if (!s->config_done) {
        fifo_put(s, SVGA_FIFO_BUSY, 0);
        return;
    }
    uint32_t min = fifo_get(s, SVGA_FIFO_MIN), max = fifo_get(s, SVGA_FIFO_MAX);
    uint32_t next = fifo_get(s, SVGA_FIFO_NEXT_CMD), stop = fifo_get(s, SVGA_FIFO_STOP);
    if (min < 16)
        goto bad;
    if (min >= max || max > SVGA_FIFO_SIZE || (min | max | next | stop) & 3 || next < min ||
        next >= max || stop < min || stop >= max)
        goto bad;
    struct ring r = {min, max, stop, 0};
    for (unsigned guard = 0; r.pos != next && guard < SVGA_FIFO_SIZE / 4; guard++) {
        r.avail = next >= r.pos ? next - r.pos : (max - r.pos) + (next - min);
        uint32_t cmd = ring_word(s, &r, 0);
        unsigned nfix = fixed_words(cmd);
        if (!nfix)
            goto bad_at;
        if ((uint64_t)(1 + nfix) * 4 > r.avail)
            break; /* the guest has not committed the whole command yet */
        uint32_t a[8] = {0};
        for (unsigned k = 0; k < nfix; k++)
            a[k] = ring_word(s, &r, 1 + k);
        uint64_t words = command_words(cmd, a);
        if (!words || words * 4 > (uint64_t)(max - min))
            goto bad_at;
        if (words * 4 > r.avail)
            break;
        run_command(s, cmd, a);
        uint64_t p = r.pos + words * 4;
        r.pos = (uint32_t)(min + (p - min) % (max - min));
        fifo_put(s, SVGA_FIFO_STOP, r.pos);
    }
    fifo_put(s, SVGA_FIFO_BUSY, 0);
    return;
bad_at:
    fifo_put(s, SVGA_FIFO_STOP, next);
bad:
    s->stats.bad++;
    fifo_put(s, SVGA_FIFO_BUSY, 0);
}

/* ---- registers ---- */

static uint32_t bar_addr(const struct svga *s, int n)
{
    return s->pci.bar[n].mapped ? (uint32_t)s->pci.bar[n].mapped_at : 0;
}

static uint32_t reg_read(struct svga *s, uint32_t i)
{
    switch (i) {
    case SVGA_REG_ID: return s->id;
    case SVGA_REG_ENABLE: return s->enable;
    case SVGA_REG_WIDTH: return s->width;
    case SVGA_REG_HEIGHT: return s->height;
    case SVGA_REG_MAX_WIDTH: return SVGA_MAX_WIDTH;
    case SVGA_REG_MAX_HEIGHT: return SVGA_MAX_HEIGHT;
    case SVGA_REG_DEPTH: return 24;
    case SVGA_REG_BITS_PER_PIXEL:
    case SVGA_REG_HOST_BITS_PER_PIXEL: return 32;
    case SVGA_REG_PSEUDOCOLOR: return 0;
    case SVGA_REG_RED_MASK: return 0xFF0000;
    case SVGA_REG_GREEN_MASK: return 0x00FF00;
    case SVGA_REG_BLUE_MASK: return 0x0000FF;
    case SVGA_REG_BYTES_PER_LINE: return pitch(s);
    case SVGA_REG_FB_START: return bar_addr(s, 1);
    case SVGA_REG_FB_OFFSET: return 0;
    case SVGA_REG_VRAM_SIZE: return s->vga->vram_size;
    case SVGA_REG_FB_SIZE: return pitch(s) * s->height;
    case SVGA_REG_CAPABILITIES: return SVGA_CAPS;
    case SVGA_REG_MEM_START: return bar_addr(s, 2);
    case SVGA_REG_MEM_SIZE: return SVGA_FIFO_SIZE;
    case SVGA_REG_CONFIG_DONE: return s->config_done;
    case SVGA_REG_SYNC: return 0;
    case SVGA_REG_BUSY:
        fifo_process(s); /* every command is done once processed */
        return 0;
    case SVGA_REG_GUEST_ID: return s->guest_id;
    case SVGA_REG_CURSOR_ID: return s->cursor_id;
    case SVGA_REG_CURSOR_X: return s->cursor_x;
    case SVGA_REG_CURSOR_Y: return s->cursor_y;
    case SVGA_REG_CURSOR_ON: return s->cursor_on;
    case SVGA_REG_SCRATCH_SIZE: return SVGA_SCRATCH_REGS;
    case SVGA_REG_MEM_REGS: return SVGA_FIFO_NUM_REGS;
    case SVGA_REG_NUM_DISPLAYS: return 1;
    case SVGA_REG_PITCHLOCK: return s->pitchlock;
    case SVGA_REG_IRQMASK: return s->irqmask;
    case SVGA_REG_TRACES: return s->traces;
    default:
        if (i >= SVGA_SCRATCH_BASE && i < SVGA_SCRATCH_BASE + SVGA_SCRATCH_REGS)
            return s->scratch[i - SVGA_SCRATCH_BASE];
        if (i >= SVGA_PALETTE_BASE && i < SVGA_PALETTE_BASE + sizeof s->palette)
            return s->palette[i - SVGA_PALETTE_BASE];
        return 0;
    }
}

static void reg_write(struct svga *s, uint32_t i, uint32_t v)
{
    switch (i) {
    case SVGA_REG_ID:
        if (v == SVGA_ID_0 || v == SVGA_ID_1 || v == SVGA_ID_2)
            s->id = v; /* a later ID (3 and up) is refused: the guest reads back ID_2 */
        break;
    case SVGA_REG_ENABLE:
        s->enable = v & (SVGA_REG_ENABLE_ENABLE | SVGA_REG_ENABLE_HIDE);
        apply_mode(s);
        break;
    case SVGA_REG_WIDTH:
        if (v >= 1 && v <= SVGA_MAX_WIDTH)
            s->width = v;
        apply_mode(s);
        break;
    case SVGA_REG_HEIGHT:
        if (v >= 1 && v <= SVGA_MAX_HEIGHT)
            s->height = v;
        apply_mode(s);
        break;
    case SVGA_REG_PITCHLOCK:
        s->pitchlock = v <= s->vga->vram_size ? v & ~3u : 0;
        apply_mode(s);
        break;
    case SVGA_REG_CONFIG_DONE:
        s->config_done = v != 0;
        if (s->config_done)
            fifo_host_regs(s);
        break;
    case SVGA_REG_SYNC:
        fifo_process(s);
        break;
    case SVGA_REG_GUEST_ID: s->guest_id = v; break;
    case SVGA_REG_CURSOR_ID: s->cursor_id = v; break;
    case SVGA_REG_CURSOR_X: s->cursor_x = v; break;
    case SVGA_REG_CURSOR_Y: s->cursor_y = v; break;
    case SVGA_REG_CURSOR_ON: s->cursor_on = v; break;
    case SVGA_REG_IRQMASK: s->irqmask = v; break;
    case SVGA_REG_TRACES: s->traces = v; break;
    default:
        if (i >= SVGA_SCRATCH_BASE && i < SVGA_SCRATCH_BASE + SVGA_SCRATCH_REGS)
            s->scratch[i - SVGA_SCRATCH_BASE] = v;
        else if (i >= SVGA_PALETTE_BASE && i < SVGA_PALETTE_BASE + sizeof s->palette)
            s->palette[i - SVGA_PALETTE_BASE] = (uint8_t)v;
        break; /* BITS_PER_PIXEL stays 32: no 8-bit emulation is offered */
    }
}

uint32_t svga_io_read(struct svga *s, unsigned offset)
{
    if (offset == 0)
        return s->index;
    if (offset == 1)
        return reg_read(s, s->index);
    return 0; /* the BIOS and IRQ status ports: no interrupts are raised */
}

void svga_io_write(struct svga *s, unsigned offset, uint32_t value)
{
    if (trace_on(TRACE_VGA))
        trace_printf(TRACE_VGA, "svga %s 0x%x\n", offset == 0 ? "index" : "value", value);
    if (offset == 0)
        s->index = value;
    else if (offset == 1)
        reg_write(s, s->index, value);
}

static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)size;
    return svga_io_read(opaque, (unsigned)offset);
}

static void io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)size;
    svga_io_write(opaque, (unsigned)offset, (uint32_t)value);
}

static const struct bus_ops io_ops = {.read = io_read, .write = io_write, .min_size = 1, .max_size = 4};

/* ---- the VGA BIOS ---- */

int svga_patch_vgabios(uint8_t *rom, size_t size)
{
    if (size < 0x1A || rom[0] != 0x55 || rom[1] != 0xAA)
        return -1;
    size_t pcir = (size_t)rom[0x18] | (size_t)rom[0x19] << 8;
    if (pcir + 8 > size || memcmp(rom + pcir, "PCIR", 4) != 0)
        return -1;
    rom[pcir + 4] = SVGA_PCI_VENDOR & 0xFF;
    rom[pcir + 5] = SVGA_PCI_VENDOR >> 8;
    rom[pcir + 6] = SVGA_PCI_DEVICE & 0xFF;
    rom[pcir + 7] = SVGA_PCI_DEVICE >> 8;
    size_t len = (size_t)rom[2] * 512;
    if (len > size || len < 7)
        return -1;
    rom[6] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + rom[i]);
    rom[6] = (uint8_t)-sum;
    return 0;
}

/* ---- lifecycle ---- */

uint8_t *svga_fifo(struct svga *s)
{
    return s->fifo;
}

const struct svga_stats *svga_stats(const struct svga *s)
{
    return &s->stats;
}

void svga_reset(struct svga *s)
{
    struct svga_stats keep = s->stats;
    s->shown = false; /* the VGA's own reset has cleared its VBE registers */
    s->index = 0;
    s->id = SVGA_ID_2;
    s->enable = s->pitchlock = s->config_done = s->guest_id = s->irqmask = s->traces = 0;
    s->cursor_id = s->cursor_x = s->cursor_y = s->cursor_on = 0;
    s->width = DEFAULT_WIDTH;
    s->height = DEFAULT_HEIGHT;
    memset(s->scratch, 0, sizeof s->scratch);
    memset(s->palette, 0, sizeof s->palette);
    memset(s->fifo, 0, SVGA_FIFO_SIZE);
    fifo_host_regs(s);
    s->stats = keep;
    pci_device_reset(&s->pci);
}

struct svga *svga_new(struct vga *vga, struct pci_bus *pb, int devfn, const uint8_t *vgabios,
                      size_t vgabios_size, struct error *err)
{
    struct svga *s = calloc(1, sizeof *s);
    if (!s || !(s->fifo = calloc(1, SVGA_FIFO_SIZE))) {
        free(s);
        error_set(err, EX_OSERR, "svga: out of memory");
        return NULL;
    }
    s->vga = vga;
    struct pci_device *d = &s->pci;
    pci_device_init(d, "svga", SVGA_PCI_VENDOR, SVGA_PCI_DEVICE, VGA_PCI_CLASS, 0, 1);
    pci_set_subsystem(d, SVGA_PCI_VENDOR, SVGA_PCI_DEVICE);
    d->opaque = s;
    pci_device_set_bar(d, 0, PCI_BAR_IO, SVGA_IO_SIZE, &io_ops, s, NULL);
    pci_device_set_bar(d, 1, PCI_BAR_MEM32, vga->vram_size, NULL, NULL, vga->vram);
    d->bar[1].prefetch = true;
    d->config[PCI_BASE_ADDRESS_0 + 4] |= 0x08; /* prefetchable */
    pci_device_set_bar(d, 2, PCI_BAR_MEM32, SVGA_FIFO_SIZE, NULL, NULL, s->fifo);
    if (vgabios && vgabios_size) {
        if (vgabios_size > (16u << 20))
            goto fail_rom;
        uint32_t size = 2048;
        while (size < vgabios_size)
            size <<= 1;
        if (!(s->rom = malloc(size)))
            goto fail_oom;
        memset(s->rom, 0xFF, size);
        memcpy(s->rom, vgabios, vgabios_size);
        if (svga_patch_vgabios(s->rom, vgabios_size) < 0)
            goto fail_rom;
        s->rom_size = size;
        pci_device_set_rom(d, s->rom, size);
    }
    if (pci_register(pb, d, devfn) < 0) {
        error_set(err, EX_SOFTWARE, "svga: PCI slot %d.%d is taken", devfn >> 3, devfn & 7);
        goto fail;
    }
    svga_reset(s);
    return s;
fail_oom:
    error_set(err, EX_OSERR, "svga: out of memory");
    goto fail;
fail_rom:
    error_set(err, EX_DATAERR, "svga: the VGA BIOS is no PCI option ROM SeaBIOS's vgabios-vmware.bin "
              "can be made from");
fail:
    free(s->rom);
    free(s->fifo);
    free(s);
    return NULL;
}

void svga_free(struct svga *s)
{
    if (!s)
        return;
    free(s->rom);
    free(s->fifo);
    free(s);
}
