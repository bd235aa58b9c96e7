/*
 * Direct kernel boot (--kernel, --initrd, --append): a Linux bzImage handed to
 * SeaBIOS through fw_cfg for QEMU's linuxboot_dma.bin option ROM (see linuxboot.c).
 */
#ifndef VMPLAY_LINUXBOOT_H
#define VMPLAY_LINUXBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/fwcfg.h"
#include "formats/error.h"

/* The option ROM's fw_cfg file name, which also leads the bootorder file. */
#define LINUXBOOT_ROM_NAME "genroms/linuxboot_dma.bin"
/* Where the ROM is looked for (Debian's qemu-system-data). */
#define LINUXBOOT_ROM_PATH "/usr/share/qemu/linuxboot_dma.bin"

/*
 * Reads the kernel (and initrd), checks the boot protocol, patches the setup
 * header and fills the fw_cfg items and the option ROM. below_4g: guest RAM
 * under 4 GiB (the initrd goes under its top, below what SeaBIOS keeps there).
 * Errors: EX_NOINPUT for a missing file, EX_DATAERR for a file that is not a
 * bzImage the protocol can load, EX_UNAVAILABLE without the option ROM.
 */
int linuxboot_setup(struct fwcfg *fw, const char *kernel, const char *initrd, const char *append,
                    uint64_t below_4g, struct error *err);

/* The parts of a setup header the loader decides on (for tests): 0 and the
 * fields, or -1 when buf is not a bzImage of protocol 2.02 or later. */
struct linuxboot_hdr {
    uint32_t setup_size;   /* boot sector + setup sectors, in bytes */
    uint16_t version;      /* boot protocol */
    uint32_t initrd_max;   /* highest address the initrd may end at */
    bool loaded_high;      /* LOADED_HIGH: protected-mode code at 1 MiB */
};
int linuxboot_parse(const uint8_t *buf, size_t len, struct linuxboot_hdr *h);

#endif
