/*
 * A standard VGA with the Bochs VBE extension ("stdvga", QEMU's PCI
 * 1234:1111), as Debian's vgabios-stdvga.bin drives it: the legacy ports
 * 0x3B0-0x3DF, the 0xA0000-0xBFFFF window, four 64 KiB planes, text and
 * graphics modes, the DAC, and VBE modes through ports 0x1CE/0x1CF with a
 * linear framebuffer. The device renders into a framebuffer at each refresh
 * (a timer on the machine's clock) and publishes it to a struct display.
 *
 * VRAM layout: plane p's byte at plane offset o is vram[o * 4 + p]; VBE modes
 * use vram linearly (the PCI BAR0 framebuffer).
 */
#ifndef VMPLAY_VGA_H
#define VMPLAY_VGA_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/display.h"
#include "formats/error.h"

#define VGA_VRAM_DEFAULT (16u << 20)
#define VGA_VRAM_MIN (1u << 20)
#define VGA_VRAM_MAX (256u << 20)

/* Bochs VBE "dispi" interface (index at 0x1CE, data at 0x1CF). */
#define VBE_DISPI_IOPORT_INDEX 0x1CE
#define VBE_DISPI_INDEX_ID 0x0
#define VBE_DISPI_INDEX_XRES 0x1
#define VBE_DISPI_INDEX_YRES 0x2
#define VBE_DISPI_INDEX_BPP 0x3
#define VBE_DISPI_INDEX_ENABLE 0x4
#define VBE_DISPI_INDEX_BANK 0x5
#define VBE_DISPI_INDEX_VIRT_WIDTH 0x6
#define VBE_DISPI_INDEX_VIRT_HEIGHT 0x7
#define VBE_DISPI_INDEX_X_OFFSET 0x8
#define VBE_DISPI_INDEX_Y_OFFSET 0x9
#define VBE_DISPI_INDEX_VIDEO_MEMORY_64K 0xA
#define VBE_DISPI_INDEX_NB 0xB
#define VBE_DISPI_ID0 0xB0C0
#define VBE_DISPI_ID5 0xB0C5
#define VBE_DISPI_ENABLED 0x01
#define VBE_DISPI_GETCAPS 0x02
#define VBE_DISPI_8BIT_DAC 0x20
#define VBE_DISPI_LFB_ENABLED 0x40
#define VBE_DISPI_NOCLEARMEM 0x80
#define VBE_DISPI_MAX_XRES 4096
#define VBE_DISPI_MAX_YRES 4096
#define VBE_DISPI_MAX_BPP 32

/* PCI identity (QEMU's stdvga) and the MMIO BAR2 layout. */
#define VGA_PCI_VENDOR 0x1234
#define VGA_PCI_DEVICE 0x1111
#define VGA_PCI_CLASS 0x030000
#define VGA_MMIO_SIZE 0x1000
#define VGA_MMIO_PORTS 0x400 /* 0x3C0-0x3DF */
#define VGA_MMIO_DISPI 0x500 /* dispi register n at 0x500 + 2n */

struct vga;
struct pci_bus;

/* vram_size: a power of two in VGA_VRAM_MIN..VGA_VRAM_MAX (0 = default). */
struct vga *vga_new(struct bus *bus, struct clock *clock, struct display *display,
                    uint32_t vram_size, struct error *err);
void vga_free(struct vga *s);
void vga_reset(struct vga *s);

/* Renders the current screen and publishes it (the refresh timer does this). */
void vga_refresh(struct vga *s);
unsigned vga_refresh_hz(struct vga *s);

uint8_t *vga_vram(struct vga *s);
uint32_t vga_vram_size(struct vga *s);

/* BAR2 handlers (VGA ports and dispi registers by MMIO), for the PCI glue. */
extern const struct bus_ops vga_mmio_bar_ops;

/*
 * Makes the VGA a PCI function at devfn (QEMU's pc puts it at 2 << 3):
 * BAR0 = VRAM (prefetchable, RAM-backed), BAR2 = MMIO, and the VGA BIOS in
 * the expansion ROM BAR when rom is given (copied). Returns 0 or -1.
 */
int vga_pci_register(struct vga *s, struct pci_bus *pb, int devfn, const uint8_t *rom,
                     size_t rom_size, struct error *err);

#endif
