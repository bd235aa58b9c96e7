/*
 * OVMF for firmware = "efi" VMs: the code image (OVMF_CODE_4M.fd, read-only,
 * at the top of 4 GiB) and the variable store template (OVMF_VARS_4M.fd) from
 * --firmware-dir, else the copies embedded at build time (mk/firmware.mk), else
 * Debian's ovmf package. Debian's OVMF_CODE_4M.fd is the
 * build without Secure Boot and without SMM, which is what the PIIX board
 * without SMRAM can run. The store itself is the VM's own file next to the
 * .vmx (devices/pflash.c): VMware's .nvram file is VMware's format and is
 * never read or written.
 */
#include "devices/firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "devices/pflash.h"

#define OVMF_DIR_DEFAULT "/usr/share/OVMF"
#define OVMF_CODE "OVMF_CODE_4M.fd"
#define OVMF_VARS "OVMF_VARS_4M.fd"
#define STORE_SUFFIX ".ovmfvars"

static int load_one(const char *dir, const char *name, uint8_t **data, size_t *size,
                    struct error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : OVMF_DIR_DEFAULT, name);
    if (access(path, R_OK) < 0)
        return error_set(err, EX_UNAVAILABLE,
                         dir ? "firmware %s not found (--firmware-dir=%s)"
                             : "firmware %s not found: firmware = \"efi\" needs Debian's ovmf "
                               "package, or use --firmware-dir%s",
                         path, dir ? dir : "");
    if (firmware_read_file(path, data, size, err) < 0)
        return error_set(err, err->code == EX_NOINPUT ? EX_UNAVAILABLE : err->code, "firmware %s",
                         err->msg);
    if (*size % PFLASH_BLOCK) {
        free(*data);
        *data = NULL;
        return error_set(err, EX_UNAVAILABLE, "firmware %s: not a flash image (%zu bytes, not a "
                         "multiple of 4 KiB)", path, *size);
    }
    return 0;
}

/* Embedded at build time (mk/firmware.mk); absent (NULL) in a build without OVMF. */
extern const uint8_t vmplay_ovmf_code[] __attribute__((weak));
extern const uint8_t vmplay_ovmf_code_end[] __attribute__((weak));
extern const uint8_t vmplay_ovmf_vars[] __attribute__((weak));
extern const uint8_t vmplay_ovmf_vars_end[] __attribute__((weak));
extern const char vmplay_ovmf_from[] __attribute__((weak));

bool firmware_efi_embedded(void)
{
    const uint8_t *c = vmplay_ovmf_code, *ce = vmplay_ovmf_code_end, *v = vmplay_ovmf_vars,
                  *ve = vmplay_ovmf_vars_end;
    return c && ce && v && ve && ce > c && ve > v && (ce - c) % PFLASH_BLOCK == 0 &&
           (ve - v) % PFLASH_BLOCK == 0;
}

int firmware_load_efi(const char *dir, struct firmware *fw, struct error *err)
{
    memset(fw, 0, sizeof *fw);
    fw->efi = true;
    if (!dir && firmware_efi_embedded()) {
        fw->bios = firmware_copy_embedded(vmplay_ovmf_code, vmplay_ovmf_code_end, &fw->bios_size);
        fw->vars = firmware_copy_embedded(vmplay_ovmf_vars, vmplay_ovmf_vars_end, &fw->vars_size);
        if (!fw->bios || !fw->vars) {
            firmware_free(fw);
            return error_set(err, EX_OSERR, "out of memory");
        }
        snprintf(fw->source, sizeof fw->source, "embedded (OVMF from %s at build time)",
                 vmplay_ovmf_from ? vmplay_ovmf_from : "?");
        return 0;
    }
    if (load_one(dir, OVMF_CODE, &fw->bios, &fw->bios_size, err) < 0 ||
        load_one(dir, OVMF_VARS, &fw->vars, &fw->vars_size, err) < 0) {
        firmware_free(fw);
        return -1;
    }
    if (fw->bios_size + fw->vars_size > (16u << 20)) {
        firmware_free(fw);
        return error_set(err, EX_UNAVAILABLE, "firmware %s + %s: more than 16 MiB of flash",
                         OVMF_CODE, OVMF_VARS);
    }
    snprintf(fw->source, sizeof fw->source, "%s (OVMF)", dir ? dir : OVMF_DIR_DEFAULT);
    return 0;
}

/* base without its extension (the last '.' after the last '/'), plus the suffix. */
static char *with_suffix(const char *base)
{
    const char *slash = strrchr(base, '/');
    const char *dot = strrchr(slash ? slash : base, '.');
    size_t n = dot && dot != (slash ? slash + 1 : base) ? (size_t)(dot - base) : strlen(base);
    char *p = malloc(n + sizeof STORE_SUFFIX);
    if (p) {
        memcpy(p, base, n);
        memcpy(p + n, STORE_SUFFIX, sizeof STORE_SUFFIX);
    }
    return p;
}

char *firmware_efi_store_path(const struct vm_config *cfg)
{
    if (cfg->nvram_path)
        return with_suffix(cfg->nvram_path);
    const char *vmx = strrchr(cfg->vmx_path, '/');
    vmx = vmx ? vmx + 1 : cfg->vmx_path;
    size_t n = strlen(cfg->dir) + strlen(vmx) + 2;
    char *p = malloc(n);
    if (!p)
        return NULL;
    snprintf(p, n, "%s/%s", cfg->dir, vmx);
    char *r = with_suffix(p);
    free(p);
    return r;
}
