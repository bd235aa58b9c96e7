/*
 * The VGA's state, shared by vga.c (registers, memory window, VBE, PCI) and
 * vga_render.c (the refresh: text, planar, 256-colour and VBE rendering with
 * dirty tracking). Register names follow the IBM VGA reference: SR
 * (sequencer), GR (graphics controller), CR (CRT controller), AR (attribute
 * controller).
 */
#ifndef VMPLAY_VGA_INT_H
#define VMPLAY_VGA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "devices/vga.h"

/* Register indexes used by name. */
#define VGA_SR_CLOCKING 0x01
#define VGA_SR_MAP_MASK 0x02
#define VGA_SR_CHAR_MAP 0x03
#define VGA_SR_MEM_MODE 0x04
#define VGA_SR_MEM_MODE_OE_DISABLE 0x04
#define VGA_SR_MEM_MODE_CHAIN4 0x08
#define VGA_GR_SET_RESET 0x00
#define VGA_GR_ENABLE_SET_RESET 0x01
#define VGA_GR_COLOR_COMPARE 0x02
#define VGA_GR_DATA_ROTATE 0x03
#define VGA_GR_READ_MAP 0x04
#define VGA_GR_MODE 0x05
#define VGA_GR_MISC 0x06
#define VGA_GR_COLOR_DONT_CARE 0x07
#define VGA_GR_BIT_MASK 0x08
#define VGA_AR_MODE 0x10
#define VGA_AR_PLANE_ENABLE 0x12
#define VGA_AR_COLOR_SELECT 0x14
#define VGA_AR_PAS 0x20 /* palette address source: 0 blanks the screen */
#define VGA_CR_HTOTAL 0x00
#define VGA_CR_HDISP_END 0x01
#define VGA_CR_VTOTAL 0x06
#define VGA_CR_OVERFLOW 0x07
#define VGA_CR_MAX_SCAN 0x09
#define VGA_CR_CURSOR_START 0x0A
#define VGA_CR_CURSOR_END 0x0B
#define VGA_CR_START_HI 0x0C
#define VGA_CR_START_LO 0x0D
#define VGA_CR_CURSOR_HI 0x0E
#define VGA_CR_CURSOR_LO 0x0F
#define VGA_CR_VRETRACE_START 0x10
#define VGA_CR_VRETRACE_END 0x11
#define VGA_CR_VDISP_END 0x12
#define VGA_CR_OFFSET 0x13
#define VGA_CR_UNDERLINE 0x14
#define VGA_CR_MODE 0x17
#define VGA_CR_LINE_COMPARE 0x18
#define VGA_MISC_IOAS 0x01 /* CRTC at 0x3Dx (else 0x3Bx) */
#define VGA_IS1_DE 0x01    /* display disabled (blanking) */
#define VGA_IS1_VR 0x08    /* vertical retrace */

#define VGA_PLANE_SIZE 0x10000u
#define VGA_DIRTY_SHIFT 9 /* dirty granule: 512 bytes of VRAM */

struct vga {
    struct bus *bus;
    struct clock *clock;
    struct display *display;
    bool mapped;
    uint8_t *vram;
    uint32_t vram_size;

    uint8_t misc, feature;
    uint8_t sr_index, sr[8];
    uint8_t gr_index, gr[16];
    uint8_t cr_index, cr[64];
    uint8_t ar_index, ar[32];
    bool ar_data_next; /* the 0x3C0 flip-flop: next write is data */
    uint8_t latch[4];

    uint8_t dac[256][3];
    uint8_t dac_read_index, dac_write_index, dac_sub, dac_mask;
    uint8_t dac_latch[3];
    bool dac_reading;

    uint16_t vbe_index;
    uint16_t vbe[VBE_DISPI_INDEX_NB];

    /* Rendering. */
    struct timer refresh;
    unsigned hz;
    uint64_t frame;
    struct framebuffer fb;
    uint32_t palette[256]; /* DAC entries as XRGB */
    bool full_redraw;
    bool vram_written;
    uint8_t *dirty; /* one bit per VRAM granule written through the window */
    uint8_t *shadow; /* VBE: the VRAM bytes last rendered, to find changed lines */
    size_t shadow_size;
    uint8_t *cells; /* text readback, CP437 */
    uint8_t *attrs; /* the attributes rendered last */
    unsigned cell_rows, cell_cols;
    int cursor_drawn; /* cell index of the last drawn cursor, -1 none */
    bool blink_phase;

    /* PCI */
    struct pci_device pci;
    uint8_t *rom;
    uint32_t rom_size;
};

static inline bool vga_vbe_enabled(const struct vga *s)
{
    return (s->vbe[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED) != 0;
}

static inline void vga_mark_dirty(struct vga *s, uint32_t index)
{
    uint32_t g = index >> VGA_DIRTY_SHIFT;
    s->dirty[g >> 3] |= (uint8_t)(1u << (g & 7));
    s->vram_written = true;
}

void vga_render(struct vga *s);
void vga_update_palette(struct vga *s, unsigned index);
/* Frame period from the CRTC timings (for the refresh timer and input status 1). */
unsigned vga_compute_hz(const struct vga *s);

#endif
