/*
 * The VGA as PCI function (QEMU's "VGA" device that vgabios-stdvga.bin and
 * SeaBIOS expect): 1234:1111, class 0300 (VGA compatible), subsystem
 * 1af4:1100; BAR0 = the VRAM as a prefetchable RAM-backed framebuffer, BAR2
 * = 4 KiB of MMIO with the VGA ports at 0x400 and the dispi registers at
 * 0x500; the VGA BIOS in the expansion ROM BAR, from which SeaBIOS copies
 * and runs it at 0xC0000. The legacy ports and window are always decoded.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/vga_int.h"

#define VGA_PCI_REVISION 0x02
#define VGA_PCI_SUBSYS_VENDOR 0x1af4
#define VGA_PCI_SUBSYS_ID 0x1100

static uint32_t rom_bar_size(size_t n)
{
    uint32_t size = 2048;
    while (size < n)
        size <<= 1;
    return size;
}

static int set_rom(struct vga *s, const uint8_t *rom, size_t n, struct error *err)
{
    if (n > (16u << 20))
        return error_set(err, EX_DATAERR, "vga: the VGA BIOS image is too large (%zu bytes)", n);
    s->rom_size = rom_bar_size(n);
    s->rom = malloc(s->rom_size);
    if (!s->rom)
        return error_set(err, EX_OSERR, "vga: out of memory");
    memset(s->rom, 0xFF, s->rom_size);
    memcpy(s->rom, rom, n);
    pci_device_set_rom(&s->pci, s->rom, s->rom_size);
    return 0;
}

int vga_pci_register(struct vga *s, struct pci_bus *pb, int devfn, const uint8_t *rom,
                     size_t rom_size, struct error *err)
{
    struct pci_device *d = &s->pci;
    pci_device_init(d, "vga", VGA_PCI_VENDOR, VGA_PCI_DEVICE, VGA_PCI_CLASS, VGA_PCI_REVISION, 0);
    pci_set_subsystem(d, VGA_PCI_SUBSYS_VENDOR, VGA_PCI_SUBSYS_ID);
    d->opaque = s;
    pci_device_set_bar(d, 0, PCI_BAR_MEM32, s->vram_size, NULL, NULL, s->vram);
    d->bar[0].prefetch = true;
    d->config[PCI_BASE_ADDRESS_0] |= 0x08; /* prefetchable */
    pci_device_set_bar(d, 2, PCI_BAR_MEM32, VGA_MMIO_SIZE, &vga_mmio_bar_ops, s, NULL);
    if (rom && rom_size && set_rom(s, rom, rom_size, err) < 0)
        return -1;
    if (pci_register(pb, d, devfn) < 0)
        return error_set(err, EX_SOFTWARE, "vga: PCI slot %d.%d is taken", devfn >> 3, devfn & 7);
    return 0;
}
