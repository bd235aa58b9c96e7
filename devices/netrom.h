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

#endif
