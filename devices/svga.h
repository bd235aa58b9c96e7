/*
 * VMware SVGA II (PCI 15ad:0405, class VGA) in front of the standard VGA
 * (devices/vga.h): BAR0 is 16 I/O ports (index at +0, value at +1), BAR1 the
 * VGA's VRAM as the linear framebuffer, BAR2 the command FIFO in RAM, and the
 * expansion ROM is SeaBIOS's VGA BIOS for this ID (vgabios-vmware.bin, the
 * stdvga image with its PCI IDs changed). Until the guest writes
 * SVGA_REG_ENABLE the VGA and its Bochs VBE registers drive the screen, as
 * vgabios-vmware.bin expects; once enabled (and not hidden) the screen is
 * SVGA_REG_WIDTH x HEIGHT at 32 bits per pixel with the pitch locked or
 * width * 4, drawn by the VGA's own VBE renderer, so the window, screenshots
 * and dirty tracking are the VGA's.
 *
 * The FIFO is processed when the guest writes SVGA_REG_SYNC (and when it
 * reads SVGA_REG_BUSY): UPDATE, UPDATE_VERBOSE, RECT_COPY, FRONT_ROP_FILL,
 * DEFINE_CURSOR, DEFINE_ALPHA_CURSOR, FENCE (written back to SVGA_FIFO_FENCE)
 * and ESCAPE are understood; anything else, or a command that does not fit
 * between MIN and MAX, stops processing and is counted, never followed.
 */
#ifndef VMPLAY_SVGA_H
#define VMPLAY_SVGA_H

#include <stddef.h>
#include <stdint.h>

#include "formats/error.h"

#define SVGA_PCI_VENDOR 0x15AD
#define SVGA_PCI_DEVICE 0x0405

#define SVGA_MAGIC 0x900000u
#define SVGA_ID_0 (SVGA_MAGIC << 8 | 0)
#define SVGA_ID_1 (SVGA_MAGIC << 8 | 1)
#define SVGA_ID_2 (SVGA_MAGIC << 8 | 2)

/* Registers (index port values). */
enum {
    SVGA_REG_ID = 0, SVGA_REG_ENABLE = 1, SVGA_REG_WIDTH = 2, SVGA_REG_HEIGHT = 3,
    SVGA_REG_MAX_WIDTH = 4, SVGA_REG_MAX_HEIGHT = 5, SVGA_REG_DEPTH = 6,
    SVGA_REG_BITS_PER_PIXEL = 7, SVGA_REG_PSEUDOCOLOR = 8, SVGA_REG_RED_MASK = 9,
    SVGA_REG_GREEN_MASK = 10, SVGA_REG_BLUE_MASK = 11, SVGA_REG_BYTES_PER_LINE = 12,
    SVGA_REG_FB_START = 13, SVGA_REG_FB_OFFSET = 14, SVGA_REG_VRAM_SIZE = 15,
    SVGA_REG_FB_SIZE = 16, SVGA_REG_CAPABILITIES = 17, SVGA_REG_MEM_START = 18,
    SVGA_REG_MEM_SIZE = 19, SVGA_REG_CONFIG_DONE = 20, SVGA_REG_SYNC = 21, SVGA_REG_BUSY = 22,
    SVGA_REG_GUEST_ID = 23, SVGA_REG_CURSOR_ID = 24, SVGA_REG_CURSOR_X = 25,
    SVGA_REG_CURSOR_Y = 26, SVGA_REG_CURSOR_ON = 27, SVGA_REG_HOST_BITS_PER_PIXEL = 28,
    SVGA_REG_SCRATCH_SIZE = 29, SVGA_REG_MEM_REGS = 30, SVGA_REG_NUM_DISPLAYS = 31,
    SVGA_REG_PITCHLOCK = 32, SVGA_REG_IRQMASK = 33, SVGA_REG_TRACES = 45,
    SVGA_REG_TOP = 48,
    SVGA_SCRATCH_BASE = 0x40, SVGA_PALETTE_BASE = 0x400,
};
#define SVGA_SCRATCH_REGS 64

#define SVGA_REG_ENABLE_ENABLE 1
#define SVGA_REG_ENABLE_HIDE 2

/* Capabilities presented: 2D only (no GMR, no 3D, no screen objects). */
#define SVGA_CAP_RECT_COPY 0x00000002u
#define SVGA_CAP_CURSOR 0x00000020u
#define SVGA_CAP_CURSOR_BYPASS 0x00000040u
#define SVGA_CAP_CURSOR_BYPASS_2 0x00000080u
#define SVGA_CAP_ALPHA_CURSOR 0x00000200u
#define SVGA_CAP_EXTENDED_FIFO 0x00008000u
#define SVGA_CAP_PITCHLOCK 0x00020000u

/* FIFO registers (32-bit words at the start of BAR2). */
enum {
    SVGA_FIFO_MIN = 0, SVGA_FIFO_MAX = 1, SVGA_FIFO_NEXT_CMD = 2, SVGA_FIFO_STOP = 3,
    SVGA_FIFO_CAPABILITIES = 4, SVGA_FIFO_FLAGS = 5, SVGA_FIFO_FENCE = 6,
    SVGA_FIFO_3D_HWVERSION = 7, SVGA_FIFO_PITCHLOCK = 8, SVGA_FIFO_CURSOR_ON = 9,
    SVGA_FIFO_CURSOR_X = 10, SVGA_FIFO_CURSOR_Y = 11, SVGA_FIFO_CURSOR_COUNT = 12,
    SVGA_FIFO_CURSOR_LAST_UPDATED = 13, SVGA_FIFO_BUSY = 290, SVGA_FIFO_NUM_REGS = 291,
};
#define SVGA_FIFO_CAP_FENCE (1u << 0)
#define SVGA_FIFO_CAP_PITCHLOCK (1u << 2)
#define SVGA_FIFO_CAP_CURSOR_BYPASS_3 (1u << 4)

/* FIFO commands. */
enum {
    SVGA_CMD_UPDATE = 1, SVGA_CMD_RECT_COPY = 3, SVGA_CMD_DEFINE_CURSOR = 19,
    SVGA_CMD_DEFINE_ALPHA_CURSOR = 22, SVGA_CMD_UPDATE_VERBOSE = 25,
    SVGA_CMD_FRONT_ROP_FILL = 29, SVGA_CMD_FENCE = 30, SVGA_CMD_ESCAPE = 33,
};

#define SVGA_IO_SIZE 16
#define SVGA_FIFO_SIZE (256u << 10)
#define SVGA_MAX_WIDTH 2560
#define SVGA_MAX_HEIGHT 1600
#define SVGA_CURSOR_MAX 256 /* pixels each way */

struct vga;
struct pci_bus;
struct svga;

/* What the FIFO did, for tests and --trace. */
struct svga_stats {
    uint64_t updates, copies, fills, cursors, fences, escapes, bad;
    uint32_t cursor_width, cursor_height;
};

/* The SVGA II function at devfn over vga (whose own PCI function is not registered);
 * vgabios: SeaBIOS's stdvga VGA BIOS (its PCI IDs are changed here) or NULL. */
struct svga *svga_new(struct vga *vga, struct pci_bus *pb, int devfn, const uint8_t *vgabios,
                      size_t vgabios_size, struct error *err);
void svga_free(struct svga *s);
void svga_reset(struct svga *s);
/* The BAR0 ports (offset 0 index, 1 value), for tests. */
uint32_t svga_io_read(struct svga *s, unsigned offset);
void svga_io_write(struct svga *s, unsigned offset, uint32_t value);
/* The FIFO memory (SVGA_FIFO_SIZE bytes) and the statistics, for tests. */
uint8_t *svga_fifo(struct svga *s);
const struct svga_stats *svga_stats(const struct svga *s);

/* SeaBIOS's vgabios-stdvga.bin made the vgabios-vmware.bin the same build gives: the PCI
 * data structure's vendor and device become 15ad:0405 and the checksum byte (offset 6)
 * makes the ROM sum to 0 again. Returns 0, or -1 when rom has no PCI data structure. */
int svga_patch_vgabios(uint8_t *rom, size_t size);

#endif
