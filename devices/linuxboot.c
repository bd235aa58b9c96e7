/*
 * Direct kernel boot through the firmware, as QEMU's -kernel does it: SeaBIOS
 * runs the option ROM linuxboot_dma.bin (Debian's qemu-system-data) from the
 * fw_cfg file genroms/linuxboot_dma.bin, first in the boot order; the ROM reads
 * the real-mode setup, the protected-mode kernel, the command line and the
 * initrd from fw_cfg by DMA to the addresses the fw_cfg items name, then jumps
 * to the setup code's real-mode entry. The kernel's setup header is patched
 * here (Linux boot protocol, Documentation/x86/boot.rst): loader type, heap
 * end with CAN_USE_HEAP, the command line pointer, the initrd address and size.
 *
 * Layout (the protocol's "modern bzImage" one): setup at 0x10000 (its stack and
 * heap up to 0x1FE00), command line at 0x20000, kernel at 1 MiB, the initrd
 * page-aligned at the top of what both the kernel (initrd_addr_max) and the
 * RAM under 4 GiB (less 1 MiB for SeaBIOS's tables) allow, above the kernel.
 * Kernel and initrd may be as large as that RAM allows (no 16 MiB ROM limit);
 * what does not fit is refused with the addresses it had to fit between.
 * Only bzImages of protocol 2.02 and later load this way; a file without the
 * setup header but with a multiboot header goes to multiboot.c.
 */
#include "devices/linuxboot.h"

#include <stdlib.h>
#include <string.h>

#include "devices/firmware.h"
#include "devices/multiboot.h"

#define HDR_SETUP_SECTS 0x1F1
#define HDR_BOOT_FLAG 0x1FE
#define HDR_MAGIC 0x202 /* "HdrS" */
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21C
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22C
#define HDR_CMDLINE_SIZE 0x238
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80

#define REAL_ADDR 0x10000u
#define CMDLINE_ADDR 0x20000u
#define PROT_ADDR 0x100000u
#define FIRMWARE_TOP_RESERVE 0x100000u

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int linuxboot_parse(const uint8_t *buf, size_t len, struct linuxboot_hdr *h)
{
    if (len < 0x240 || rd16(buf + HDR_BOOT_FLAG) != 0xAA55 || memcmp(buf + HDR_MAGIC, "HdrS", 4))
        return -1;
    h->version = rd16(buf + HDR_VERSION);
    unsigned sects = buf[HDR_SETUP_SECTS] ? buf[HDR_SETUP_SECTS] : 4;
    h->setup_size = (sects + 1) * 512;
    h->loaded_high = buf[HDR_LOADFLAGS] & LOADED_HIGH;
    h->initrd_max = h->version >= 0x203 ? rd32(buf + HDR_INITRD_ADDR_MAX) : 0x37FFFFFFu;
    if (h->version < 0x202 || !h->loaded_high || h->setup_size >= len)
        return -1;
    return 0;
}

static bool is_elf(const uint8_t *buf, size_t len)
{
    return len >= 4 && !memcmp(buf, "\177ELF", 4);
}

static int add(struct fwcfg *fw, uint16_t key, const void *data, size_t len, struct error *err)
{
    if (fwcfg_add_bytes(fw, key, data, len) < 0)
        return error_set(err, EX_SOFTWARE, "fw_cfg: cannot add the kernel's item 0x%x", key);
    return 0;
}

static int add32(struct fwcfg *fw, uint16_t key, uint32_t v, struct error *err)
{
    if (fwcfg_add_u32(fw, key, v) < 0)
        return error_set(err, EX_SOFTWARE, "fw_cfg: cannot add the kernel's item 0x%x", key);
    return 0;
}

/* The initrd: at the top of what the kernel and the RAM allow, page-aligned. */
static int place_initrd(struct fwcfg *fw, uint8_t *setup, const struct linuxboot_hdr *h,
                        const char *path, uint64_t below_4g, uint64_t kernel_end, struct error *err)
{
    uint8_t *data = NULL;
    size_t size = 0;
    if (firmware_read_file_max(path, &data, &size, below_4g, err) < 0)
        return -1;
    uint64_t top = h->initrd_max;
    if (below_4g > FIRMWARE_TOP_RESERVE && top > below_4g - FIRMWARE_TOP_RESERVE - 1)
        top = below_4g - FIRMWARE_TOP_RESERVE - 1;
    if (size == 0 || (uint64_t)size > top || ((top + 1 - size) & ~0xFFFull) < kernel_end) {
        free(data);
        return error_set(err, EX_DATAERR,
                         "--initrd %s: %zu bytes do not fit between the kernel's end 0x%llx and "
                         "0x%llx (initrd_addr_max, and the RAM below 4 GiB less 1 MiB for the "
                         "firmware): give the VM more memory (memsize)",
                         path, size, (unsigned long long)kernel_end, (unsigned long long)top);
    }
    uint32_t addr = (uint32_t)((top + 1 - size) & ~0xFFFull);
    wr32(setup + HDR_RAMDISK_IMAGE, addr);
    wr32(setup + HDR_RAMDISK_SIZE, (uint32_t)size);
    int rc = add32(fw, FW_CFG_INITRD_ADDR, addr, err) < 0 ||
             add32(fw, FW_CFG_INITRD_SIZE, (uint32_t)size, err) < 0 ||
             add(fw, FW_CFG_INITRD_DATA, data, size, err) < 0 ? -1 : 0;
    free(data);
    return rc;
}

static int load_rom(struct fwcfg *fw, struct error *err)
{
    uint8_t *rom = NULL;
    size_t size = 0;
    struct error e2 = {0};
    if (firmware_read_file(LINUXBOOT_ROM_PATH, &rom, &size, &e2) < 0)
        return error_set(err, EX_UNAVAILABLE, "--kernel needs QEMU's option ROM %s (Debian package "
                         "qemu-system-data)", LINUXBOOT_ROM_PATH);
    int rc = fwcfg_add_file(fw, LINUXBOOT_ROM_NAME, rom, size);
    free(rom);
    return rc < 0 ? error_set(err, EX_SOFTWARE, "fw_cfg: cannot add %s", LINUXBOOT_ROM_NAME) : 0;
}

int linuxboot_setup(struct fwcfg *fw, const char *kernel, const char *initrd, const char *append,
                    uint64_t below_4g, struct error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (firmware_read_file_max(kernel, &buf, &len, below_4g, err) < 0)
        return -1;
    struct linuxboot_hdr h;
    int rc = -1;
    if (linuxboot_parse(buf, len, &h) < 0) {
        if (multiboot_find(buf, len) >= 0)
            rc = multiboot_setup(fw, buf, len, kernel, initrd, append, below_4g, err);
        else if (is_elf(buf, len))
            error_set(err, EX_DATAERR, "--kernel %s: an ELF without a multiboot header; vmplay "
                      "loads Linux bzImages and multiboot kernels", kernel);
        else
            error_set(err, EX_DATAERR, "--kernel %s: not a Linux bzImage of boot protocol 2.02 or "
                      "later (setup header, LOADED_HIGH)", kernel);
        goto out;
    }
    const char *cmd = append ? append : "";
    size_t cmdlen = strlen(cmd) + 1;
    uint32_t cmd_max = h.version >= 0x206 ? rd32(buf + HDR_CMDLINE_SIZE) : 255;
    if (cmdlen - 1 > cmd_max || cmdlen > 0x10000 - 0x200) {
        error_set(err, EX_USAGE, "--append: %zu bytes, the kernel takes %u", cmdlen - 1, cmd_max);
        goto out;
    }
    uint8_t *setup = buf; /* patched in place: the first setup_size bytes go to SETUP_DATA */
    setup[HDR_TYPE_OF_LOADER] = 0xB0; /* undefined loader id: 0xB (QEMU's), version 0 */
    wr16(setup + HDR_HEAP_END_PTR, (uint16_t)(CMDLINE_ADDR - REAL_ADDR - 0x200));
    setup[HDR_LOADFLAGS] |= CAN_USE_HEAP;
    wr32(setup + HDR_CMD_LINE_PTR, CMDLINE_ADDR);
    uint64_t kernel_end = PROT_ADDR + (len - h.setup_size);
    if (below_4g < FIRMWARE_TOP_RESERVE || kernel_end > below_4g - FIRMWARE_TOP_RESERVE) {
        error_set(err, EX_DATAERR, "--kernel %s: %zu bytes from 1 MiB do not fit in the %llu MiB "
                  "of RAM below 4 GiB (less 1 MiB for the firmware): give the VM more memory "
                  "(memsize)", kernel, len - h.setup_size, (unsigned long long)(below_4g >> 20));
        goto out;
    }
    if (initrd && place_initrd(fw, setup, &h, initrd, below_4g, kernel_end, err) < 0)
        goto out;
    if (add32(fw, FW_CFG_SETUP_ADDR, REAL_ADDR, err) < 0 ||
        add32(fw, FW_CFG_SETUP_SIZE, h.setup_size, err) < 0 ||
        add(fw, FW_CFG_SETUP_DATA, setup, h.setup_size, err) < 0 ||
        add32(fw, FW_CFG_KERNEL_ADDR, PROT_ADDR, err) < 0 ||
        add32(fw, FW_CFG_KERNEL_SIZE, (uint32_t)(len - h.setup_size), err) < 0 ||
        add(fw, FW_CFG_KERNEL_DATA, buf + h.setup_size, len - h.setup_size, err) < 0 ||
        add32(fw, FW_CFG_CMDLINE_ADDR, CMDLINE_ADDR, err) < 0 ||
        add32(fw, FW_CFG_CMDLINE_SIZE, (uint32_t)cmdlen, err) < 0 ||
        add(fw, FW_CFG_CMDLINE_DATA, cmd, cmdlen, err) < 0 || load_rom(fw, err) < 0)
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}
