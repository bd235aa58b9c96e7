/*
 * Multiboot 1 kernels for --kernel (see multiboot.c): the image, its
 * modules and the multiboot information handed to QEMU's multiboot_dma.bin
 * option ROM through fw_cfg.
 */
#ifndef VMPLAY_MULTIBOOT_H
#define VMPLAY_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/fwcfg.h"
#include "formats/error.h"

/* The option ROM's fw_cfg file name (named in the bootorder with linuxboot's) and its file. */
#define MULTIBOOT_ROM_NAME "genroms/multiboot_dma.bin"
#define MULTIBOOT_ROM_PATH "/usr/share/qemu/multiboot_dma.bin"

/* Offset of a valid multiboot header in the first 8 KiB of buf, or -1. */
int multiboot_find(const uint8_t *buf, size_t len);
/*
 * Loads the kernel image buf (the file kernel), the modules of initrd
 * (comma-separated, arguments after a space) and the command line into
 * fw_cfg with the ROM. below_4g: guest RAM under 4 GiB. EX_DATAERR for an
 * image that cannot be loaded or does not fit, EX_UNAVAILABLE without the ROM.
 */
int multiboot_setup(struct fwcfg *fw, const uint8_t *buf, size_t len, const char *kernel,
                    const char *initrd, const char *append, uint64_t below_4g, struct error *err);

#endif
