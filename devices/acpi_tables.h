/*
 * ACPI tables for OVMF, handed over through fw_cfg as QEMU's firmware expects:
 * the blobs "etc/acpi/tables" and "etc/acpi/rsdp" and the linker script
 * "etc/table-loader" (128-byte commands ALLOCATE, ADD_POINTER, ADD_CHECKSUM)
 * that tells the firmware where to place the blobs, which pointers to
 * relocate and which checksums to fix. Only the EFI board offers them:
 * SeaBIOS boots keep SeaBIOS's own tables.
 */
#ifndef VMPLAY_ACPI_TABLES_H
#define VMPLAY_ACPI_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "devices/fwcfg.h"

#define ACPI_LOADER_ENTRY 128
#define ACPI_LOADER_FILE 56
#define ACPI_LOADER_ALLOCATE 1
#define ACPI_LOADER_ADD_POINTER 2
#define ACPI_LOADER_ADD_CHECKSUM 3
#define ACPI_LOADER_ZONE_HIGH 1
#define ACPI_LOADER_ZONE_FSEG 2

struct acpi_blobs {
    uint8_t tables[1024];
    size_t tables_len;
    uint8_t rsdp[36];
    uint8_t loader[ACPI_LOADER_ENTRY * 16];
    size_t loader_len;
};

/* Builds the tables (one CPU with APIC ID 0, the IOAPIC with ioapic_id). */
void acpi_tables_build(struct acpi_blobs *b, uint8_t ioapic_id);
/* Adds the three fw_cfg files; 0, or -1 when fw_cfg has no room. */
int acpi_tables_add(struct fwcfg *fw, uint8_t ioapic_id);

#endif
