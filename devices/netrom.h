/*
 * Network boot ROMs: the iPXE images of Debian's ipxe-qemu package
 * (/usr/lib/ipxe/qemu, or the folder VMPLAY_IPXE_DIR names), handed to SeaBIOS
 * as a card's PCI expansion ROM. SeaBIOS runs the ROM of every PCI device
 * during POST; iPXE registers a boot entry (BEV) that SeaBIOS takes after the
 * disks, or first for bios.bootOrder = "ethernet0" style orders.
 */
#ifndef VMPLAY_NETROM_H
#define VMPLAY_NETROM_H

#include <stdint.h>
#include <stdio.h>

/* The ROM file name (pxe-e1000e.rom) read and padded with zeros to a power of two (at least
 * 2 KiB), *size set; NULL when it is absent or unusable, with one line on log (may be NULL)
 * saying that card `who` boots without PXE. The caller frees the image. */
uint8_t *netrom_read(const char *name, const char *who, uint64_t *size, FILE *log);

/* The same for a card whose PCI ID (vendor:device) differs from the one the ROM's PCI data
 * structure names, when the ROM is an iPXE image of that vendor whose driver also takes the
 * card: the data structure's device ID becomes `device` and iPXE's checksum byte (offset 6)
 * keeps the image's byte sum at zero. SeaBIOS runs a ROM only when its PCI data structure
 * names the function's vendor and device (PCI Firmware 3.0, 5.1.1). Any other mismatch is
 * refused with the one-line notice. */
uint8_t *netrom_read_as(const char *name, uint16_t vendor, uint16_t device, const char *who,
                        uint64_t *size, FILE *log);

/* The rewrite alone, on an image of `size` bytes in memory: 0 when the PCI data structure now
 * names vendor:device (already so or rewritten), -1 with *why when the image is not an iPXE
 * ROM of that vendor with a valid checksum. */
int netrom_retarget(uint8_t *img, uint64_t size, uint16_t vendor, uint16_t device, const char **why);

#endif
