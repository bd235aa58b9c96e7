/*
 * Firmware for the board: finding and loading SeaBIOS (bios-256k.bin) and
 * its VGA BIOS (vgabios-stdvga.bin) from Debian's seabios package or
 * --firmware-dir, a raw --bios ROM, and the SeaBIOS boot order strings for
 * the disks the .vmx names (bios.bootOrder and bios.hddOrder, VMware's default
 * otherwise), at the slots of the board's plan (devices/slots.h).
 */
#include "devices/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/slots.h"

#define FIRMWARE_DIR_DEFAULT "/usr/share/seabios"
#define ROM_MAX (16u << 20)

int firmware_read_file(const char *path, uint8_t **data, size_t *size, struct error *err)
{
    return firmware_read_file_max(path, data, size, ROM_MAX, err);
}

int firmware_read_file_max(const char *path, uint8_t **data, size_t *size, uint64_t max,
                           struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, error_code_for_errno(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > max) {
        close(fd);
        if (max == ROM_MAX)
            return error_set(err, EX_DATAERR,
                             "%s: not a ROM image (a regular file of 1 byte to 16 MiB)", path);
        return error_set(err, EX_DATAERR, "%s: not a regular file of 1 byte to %llu KiB", path,
                         (unsigned long long)(max >> 10));
    }
    uint8_t *buf = malloc((size_t)st.st_size);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(buf);
        return error_set(err, EX_IOERR, "%s: cannot read", path);
    }
    *data = buf;
    *size = (size_t)st.st_size;
    return 0;
}

/* A firmware file from dir, with a hint about the package when it is missing. */
static int load_named(const char *dir, const char *name, uint8_t **data, size_t *size,
                      struct error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : FIRMWARE_DIR_DEFAULT, name);
    if (access(path, R_OK) < 0) {
        if (dir)
            return error_set(err, EX_UNAVAILABLE, "firmware %s not found (--firmware-dir=%s)", path,
                             dir);
        return error_set(err, EX_UNAVAILABLE,
                         "firmware %s not found: install Debian's seabios package or use "
                         "--firmware-dir",
                         path);
    }
    if (firmware_read_file(path, data, size, err) < 0)
        return error_set(err, err->code == EX_NOINPUT ? EX_UNAVAILABLE : err->code, "firmware %s",
                         err->msg);
    return 0;
}

/* Embedded at build time (mk/firmware.mk); absent (NULL) in a build without them. */
extern const uint8_t vmplay_fw_bios[] __attribute__((weak));
extern const uint8_t vmplay_fw_bios_end[] __attribute__((weak));
extern const uint8_t vmplay_fw_vga[] __attribute__((weak));
extern const uint8_t vmplay_fw_vga_end[] __attribute__((weak));
extern const char vmplay_fw_from[] __attribute__((weak));

uint8_t *firmware_copy_embedded(const uint8_t *a, const uint8_t *b, size_t *size)
{
    *size = (size_t)(b - a);
    uint8_t *p = malloc(*size);
    if (p)
        memcpy(p, a, *size);
    return p;
}

static int load_embedded(struct firmware *fw, struct error *err)
{
    fw->bios = firmware_copy_embedded(vmplay_fw_bios, vmplay_fw_bios_end, &fw->bios_size);
    fw->vgabios = firmware_copy_embedded(vmplay_fw_vga, vmplay_fw_vga_end, &fw->vgabios_size);
    if (!fw->bios || !fw->vgabios) {
        firmware_free(fw);
        return error_set(err, EX_OSERR, "out of memory");
    }
    snprintf(fw->source, sizeof fw->source, "embedded (SeaBIOS from %s at build time)",
             vmplay_fw_from ? vmplay_fw_from : "?");
    return 0;
}

bool firmware_embedded(void)
{
    const uint8_t *b = vmplay_fw_bios, *be = vmplay_fw_bios_end, *v = vmplay_fw_vga,
                  *ve = vmplay_fw_vga_end;
    return b && be && v && ve && be - b == 256 * 1024 && ve > v;
}

int firmware_load(const char *dir, const char *bios_file, struct firmware *fw, struct error *err)
{
    memset(fw, 0, sizeof *fw);
    if (!bios_file && !dir && firmware_embedded())
        return load_embedded(fw, err);
    snprintf(fw->source, sizeof fw->source, "%s",
             bios_file ? bios_file : dir ? dir : FIRMWARE_DIR_DEFAULT " (SeaBIOS)");
    if (bios_file) {
        if (firmware_read_file(bios_file, &fw->bios, &fw->bios_size, err) < 0)
            return error_prefix(err, "--bios");
        if (fw->bios_size != 64 * 1024 && fw->bios_size != 128 * 1024 &&
            fw->bios_size != 256 * 1024) {
            firmware_free(fw);
            return error_set(err, EX_DATAERR, "--bios %s: a ROM image must be 64, 128 or 256 KiB",
                             bios_file);
        }
        fw->raw_rom = true;
        return 0;
    }
    if (load_named(dir, "bios-256k.bin", &fw->bios, &fw->bios_size, err) < 0)
        return -1;
    if (fw->bios_size != 256 * 1024) {
        firmware_free(fw);
        return error_set(err, EX_UNAVAILABLE, "firmware bios-256k.bin is not 256 KiB");
    }
    if (load_named(dir, "vgabios-stdvga.bin", &fw->vgabios, &fw->vgabios_size, err) < 0) {
        firmware_free(fw);
        return -1;
    }
    return 0;
}

void firmware_free(struct firmware *fw)
{
    free(fw->bios);
    free(fw->vgabios);
    free(fw->vars);
    memset(fw, 0, sizeof *fw);
}

/*
 * The device paths SeaBIOS matches its drives against (boot.c: the PCI path with a '*' glob for
 * the device's name, then the drive's own part):
 *   IDE     /pci@i0cf8/ide@1,1/drive@C/disk@U        (bootprio_find_ata_device)
 *   AHCI    /pci@i0cf8/sata@S/drive@P/disk@0         (the port as the channel)
 *   SCSI    /pci@i0cf8/scsi@S/channel@0/disk@T,0     (lsi, mpt and pvscsi: bootprio_find_scsi_device)
 *   NVMe    /pci@i0cf8/nvme@S                        (one priority per controller: bootprio_find_pci_device)
 */
static void disk_path(char *buf, size_t len, const struct vm_disk *d, const struct pc_slots *s)
{
    switch (d->bus) {
    case VM_BUS_IDE:
        snprintf(buf, len, "/pci@i0cf8/ide@1,1/drive@%x/disk@%x\n", d->ctrl, d->unit);
        break;
    case VM_BUS_SATA:
        snprintf(buf, len, "/pci@i0cf8/sata@%x/drive@%x/disk@0\n", s->sata[d->ctrl], d->unit);
        break;
    case VM_BUS_SCSI:
        snprintf(buf, len, "/pci@i0cf8/scsi@%x/channel@0/disk@%x,0\n", s->scsi[d->ctrl], d->unit);
        break;
    case VM_BUS_NVME:
        snprintf(buf, len, "/pci@i0cf8/nvme@%x\n", s->nvme[d->ctrl]);
        break;
    }
}

static bool disk_is_cd(const struct vm_disk *d)
{
    return d->type == VM_DISK_CDROM_IMAGE || d->type == VM_DISK_CDROM_RAW;
}

/* Appends d's path unless the list has it (NVMe namespaces share their controller's). */
static void append_disk(char *out, size_t len, const struct vm_disk *d, const struct pc_slots *s)
{
    char line[96];
    disk_path(line, sizeof line, d, s);
    size_t used = strlen(out), n = strlen(line);
    for (const char *p = out; *p; p += strcspn(p, "\n") + 1)
        if (!strncmp(p, line, n))
            return;
    if (used + n < len)
        memcpy(out + used, line, n + 1);
}

/* The disk in slot name ("scsi0:1"), if it is a presented hard disk. */
static const struct vm_disk *find_hdd(const struct vm_config *cfg, const char *name, size_t n)
{
    for (size_t i = 0; i < cfg->ndisks; i++) {
        const struct vm_disk *d = &cfg->disks[i];
        if (strlen(d->slot) == n && !strncasecmp(d->slot, name, n) && !disk_is_cd(d) &&
            config_disk_presented(d, NULL))
            return d;
    }
    return NULL;
}

/* The hard disks: bios.hddOrder's first, in its order, then the others in the .vmx's order. */
static void append_hdds(char *out, size_t len, const struct vm_config *cfg, const struct pc_slots *s)
{
    for (const char *p = cfg->hdd_order ? cfg->hdd_order : ""; *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        const struct vm_disk *d = n ? find_hdd(cfg, p, n) : NULL;
        if (d)
            append_disk(out, len, d, s);
        p += n;
    }
    for (size_t i = 0; i < cfg->ndisks; i++) {
        const struct vm_disk *d = &cfg->disks[i];
        if (!disk_is_cd(d) && config_disk_presented(d, NULL))
            append_disk(out, len, d, s);
    }
}

static void append_cds(char *out, size_t len, const struct vm_config *cfg, const struct pc_slots *s)
{
    for (size_t i = 0; i < cfg->ndisks; i++) {
        const struct vm_disk *d = &cfg->disks[i];
        if (disk_is_cd(d) && config_disk_presented(d, NULL))
            append_disk(out, len, d, s);
    }
}

void firmware_bootorder(const struct vm_config *cfg, char *out, size_t len)
{
    /* VMware's BIOS default: removable devices, hard disk, CD-ROM, network. */
    const char *order = cfg->boot_order && *cfg->boot_order ? cfg->boot_order : "floppy,hdd,cdrom";
    struct pc_slots slots;
    pc_slots_plan(cfg, &slots, NULL);
    out[0] = 0;
    const char *p = order;
    while (*p) {
        size_t n = strcspn(p, ",");
        while (n && p[n - 1] == ' ')
            n--;
        if (n == 3 && strncasecmp(p, "hdd", 3) == 0)
            append_hdds(out, len, cfg, &slots);
        else if (n == 5 && strncasecmp(p, "cdrom", 5) == 0)
            append_cds(out, len, cfg, &slots);
        else if (n == 6 && strncasecmp(p, "floppy", 6) == 0 && cfg->floppy[0].present &&
                 cfg->floppy[0].path) {
            size_t used = strlen(out);
            snprintf(out + used, len - used, "/isa@i0/fdc@03f0/floppy@0\n");
        } else if (n == 9 && strncasecmp(p, "ethernet", 8) == 0 && p[8] >= '0' && p[8] <= '9' &&
                   p[8] - '0' < VM_MAX_NICS && cfg->nic[p[8] - '0'].present) {
            /* the card's option ROM (iPXE) in its slot of the plan */
            size_t used = strlen(out);
            snprintf(out + used, len - used, "/pci@i0cf8/*@%x\n", slots.nic[p[8] - '0']);
        }
        p += strcspn(p, ",");
        while (*p == ',' || *p == ' ')
            p++;
    }
}
