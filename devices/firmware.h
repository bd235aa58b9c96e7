/*
 * Firmware images for the board (see firmware.c).
 */
#ifndef VMPLAY_FIRMWARE_H
#define VMPLAY_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/config.h"
#include "formats/error.h"

struct firmware {
    uint8_t *bios;      /* mapped at the top of 4 GiB; its last 128 KiB (or all of a smaller ROM) below 1 MiB */
    size_t bios_size;
    uint8_t *vgabios;   /* the VGA's option ROM; NULL with --bios */
    size_t vgabios_size;
    bool raw_rom;       /* --bios: no fw_cfg-driven firmware, no VGA BIOS */
    char source[300];   /* where it came from, for --check: a folder, "embedded (...)", a file */
    bool efi;           /* OVMF: bios is OVMF_CODE, vars the variable store template */
    uint8_t *vars;
    size_t vars_size;
};

/* dir: --firmware-dir or NULL (the images embedded at build time when the binary has them,
 * else /usr/share/seabios); bios_file: --bios or NULL. EX_UNAVAILABLE when missing. */
int firmware_load(const char *dir, const char *bios_file, struct firmware *fw, struct error *err);
void firmware_free(struct firmware *fw);
/* A malloc'd copy of the embedded bytes [a, b) (mk/firmware.mk); *size set. */
uint8_t *firmware_copy_embedded(const uint8_t *a, const uint8_t *b, size_t *size);
/* Whether this binary carries SeaBIOS and its VGA BIOS (embedded at build time). */
bool firmware_embedded(void);
/* OVMF (firmware_efi.c): OVMF_CODE_4M.fd and OVMF_VARS_4M.fd from dir, else the copies
 * embedded at build time, else /usr/share/OVMF. */
int firmware_load_efi(const char *dir, struct firmware *fw, struct error *err);
/* Whether this binary carries OVMF's code and variable store template. */
bool firmware_efi_embedded(void);
/* The VM's own EFI variable store file (malloc'd): "<nvram without extension>.ovmfvars", or
 * "<vmx without .vmx>.ovmfvars" without an nvram key. NULL: out of memory. */
char *firmware_efi_store_path(const struct vm_config *cfg);
/* Reads a whole (small) file. */
int firmware_read_file(const char *path, uint8_t **data, size_t *size, struct error *err);
/* The same with a size limit of max bytes instead of 16 MiB (--kernel, --initrd). */
int firmware_read_file_max(const char *path, uint8_t **data, size_t *size, uint64_t max,
                           struct error *err);
/* SeaBIOS "bootorder" file contents (newline-separated device paths) for the config's drives. */
void firmware_bootorder(const struct vm_config *cfg, char *out, size_t len);

#endif
