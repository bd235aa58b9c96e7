/*
 * QEMU's firmware configuration interface as SeaBIOS reads it: selector
 * port 0x510 (16-bit), data port 0x511 (8-bit), DMA address registers at
 * 0x514 (high) and 0x518 (low, starts the transfer), both big-endian, which
 * also read back the signature "QEMU CFG". Items are byte strings under a
 * 16-bit key; named files get keys from FW_CFG_FILE_FIRST up and appear in
 * the directory at FW_CFG_FILE_DIR (big-endian, sorted by name).
 */
#ifndef VMPLAY_FWCFG_H
#define VMPLAY_FWCFG_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

enum {
    FW_CFG_SIGNATURE = 0x00,
    FW_CFG_ID = 0x01,
    FW_CFG_UUID = 0x02,
    FW_CFG_RAM_SIZE = 0x03,
    FW_CFG_NOGRAPHIC = 0x04,
    FW_CFG_NB_CPUS = 0x05,
    FW_CFG_MACHINE_ID = 0x06,
    FW_CFG_KERNEL_ADDR = 0x07,
    FW_CFG_KERNEL_SIZE = 0x08,
    FW_CFG_KERNEL_CMDLINE = 0x09,
    FW_CFG_INITRD_ADDR = 0x0a,
    FW_CFG_INITRD_SIZE = 0x0b,
    FW_CFG_BOOT_DEVICE = 0x0c,
    FW_CFG_NUMA = 0x0d,
    FW_CFG_BOOT_MENU = 0x0e,
    FW_CFG_MAX_CPUS = 0x0f,
    FW_CFG_KERNEL_ENTRY = 0x10,
    FW_CFG_KERNEL_DATA = 0x11,
    FW_CFG_INITRD_DATA = 0x12,
    FW_CFG_CMDLINE_ADDR = 0x13,
    FW_CFG_CMDLINE_SIZE = 0x14,
    FW_CFG_CMDLINE_DATA = 0x15,
    FW_CFG_SETUP_ADDR = 0x16,
    FW_CFG_SETUP_SIZE = 0x17,
    FW_CFG_SETUP_DATA = 0x18,
    FW_CFG_FILE_DIR = 0x19,
    FW_CFG_FILE_FIRST = 0x20,
    FW_CFG_ARCH_LOCAL = 0x8000,
    FW_CFG_ACPI_TABLES = 0x8000,
    FW_CFG_SMBIOS_ENTRIES = 0x8001,
    FW_CFG_IRQ0_OVERRIDE = 0x8002,
    FW_CFG_E820_TABLE = 0x8003,
    FW_CFG_HPET = 0x8004,
};

#define FW_CFG_FILE_NAME_MAX 56
#define FW_CFG_MAX_FILES 256

/* E820 types. */
enum { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3, E820_NVS = 4, E820_UNUSABLE = 5 };

struct fwcfg_e820 {
    uint64_t address, length;
    uint32_t type;
};

struct fwcfg;

/* Maps 0x510-0x511 and 0x514-0x51B; DMA goes through bus_dma_read/write on bus. */
struct fwcfg *fwcfg_new(struct bus *bus);
void fwcfg_free(struct fwcfg *fw);
/* Machine reset: selector 0, offset 0 (items are kept). */
void fwcfg_reset(struct fwcfg *fw);

/* Adds or replaces an item (the data is copied). Return 0, or -1 (no memory, bad key). */
int fwcfg_add_bytes(struct fwcfg *fw, uint16_t key, const void *data, size_t len);
int fwcfg_add_u16(struct fwcfg *fw, uint16_t key, uint16_t v); /* little-endian */
int fwcfg_add_u32(struct fwcfg *fw, uint16_t key, uint32_t v);
int fwcfg_add_u64(struct fwcfg *fw, uint16_t key, uint64_t v);
/* Adds or replaces a named file; returns its key, or -1 (name too long, too many files). */
int fwcfg_add_file(struct fwcfg *fw, const char *name, const void *data, size_t len);
/* "etc/e820": 20-byte little-endian records {u64 address, u64 length, u32 type}. */
int fwcfg_add_e820(struct fwcfg *fw, const struct fwcfg_e820 *map, size_t n);

#endif
