/*
 * .vmx dictionary -> struct vm_config (see config.h). The builder marks every
 * entry it reads as used; what is left unused at the end is the list of
 * unknown keys. Device families are checked first for slots that cannot
 * exist (ide2:0, scsi0:7, ethernet12), then each family is read slot by slot
 * with VMware's defaults (those libvirt's VMX mapping documents: memsize 32,
 * numvcpus 1, floppy0 present, startConnected TRUE, connectionType bridged,
 * addressType generated, mode persistent).
 */
#include "formats/config.h"
#include "formats/vmdk.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct build {
    const struct vmx *v;
    struct vm_config *c;
    bool *used;
    struct error *err;
};

struct name_value {
    const char *name;
    int value;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct name_value disk_types[] = {
    { "disk", VM_DISK_HDD },
    { "scsi-hardDisk", VM_DISK_HDD },
    { "ata-hardDisk", VM_DISK_HDD },
    { "sata-hardDisk", VM_DISK_HDD },
    { "nvme-hardDisk", VM_DISK_HDD },
    { "plainDisk", VM_DISK_HDD },
    { "cdrom-image", VM_DISK_CDROM_IMAGE },
    { "atapi-cdrom", VM_DISK_CDROM_RAW },
    { "cdrom-raw", VM_DISK_CDROM_RAW },
    { "rawDisk", VM_DISK_RAWDISK },
};
static const struct name_value disk_modes[] = {
    { "persistent", VM_MODE_PERSISTENT },
    { "nonpersistent", VM_MODE_NONPERSISTENT },
    { "independent-persistent", VM_MODE_INDEPENDENT_PERSISTENT },
    { "independent-nonpersistent", VM_MODE_INDEPENDENT_NONPERSISTENT },
    { "undoable", VM_MODE_UNDOABLE },
};
static const struct name_value scsi_devs[] = {
    { "lsilogic", VM_SCSI_LSILOGIC },
    { "buslogic", VM_SCSI_BUSLOGIC },
    { "pvscsi", VM_SCSI_PVSCSI },
    { "lsisas1068", VM_SCSI_LSISAS1068 },
};
static const struct name_value nic_devs[] = {
    { "vlance", VM_NIC_VLANCE }, { "vmxnet", VM_NIC_VMXNET },   { "e1000", VM_NIC_E1000 },
    { "e1000e", VM_NIC_E1000E }, { "vmxnet3", VM_NIC_VMXNET3 },
};
static const struct name_value nic_conns[] = {
    { "bridged", VM_NET_BRIDGED },
    { "nat", VM_NET_NAT },
    { "hostonly", VM_NET_HOSTONLY },
    { "custom", VM_NET_CUSTOM },
};
static const struct name_value addr_types[] = {
    { "generated", VM_ADDR_GENERATED },
    { "static", VM_ADDR_STATIC },
    { "vpx", VM_ADDR_VPX },
};
static const struct name_value floppy_types[] = {
    { "device", VM_FLOPPY_DEVICE },
    { "file", VM_FLOPPY_FILE },
};
static const struct name_value serial_types[] = {
    { "device", VM_SERIAL_DEVICE },   { "file", VM_SERIAL_FILE },
    { "pipe", VM_SERIAL_PIPE },       { "thinprint", VM_SERIAL_THINPRINT },
    { "network", VM_SERIAL_NETWORK },
};
static const struct name_value firmwares[] = {
    { "bios", VM_FW_BIOS },
    { "efi", VM_FW_EFI },
};

static const char *name_of(const struct name_value *t, size_t n, int value)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == value)
            return t[i].name;
    return "?";
}

const char *config_disk_type_name(enum vm_disk_type t)
{
    return t == VM_DISK_HDD ? "disk" : name_of(disk_types, N(disk_types), (int)t);
}
const char *config_disk_mode_name(enum vm_disk_mode m)
{
    return name_of(disk_modes, N(disk_modes), (int)m);
}
const char *config_scsi_dev_name(enum vm_scsi_dev d)
{
    return d == VM_SCSI_DEFAULT ? "default" : name_of(scsi_devs, N(scsi_devs), (int)d);
}
bool config_nic_emulated(enum vm_nic_dev d)
{
    return d == VM_NIC_E1000 || d == VM_NIC_E1000E || d == VM_NIC_VLANCE || d == VM_NIC_VMXNET3;
}

const char *config_nic_dev_name(enum vm_nic_dev d)
{
    return name_of(nic_devs, N(nic_devs), (int)d);
}
const char *config_nic_conn_name(enum vm_nic_conn c)
{
    return name_of(nic_conns, N(nic_conns), (int)c);
}
const char *config_serial_type_name(enum vm_serial_type t)
{
    return name_of(serial_types, N(serial_types), (int)t);
}

/* ---- reading keys (every read marks the entry used) ---- */

static const struct vmx_entry *use(struct build *b, const char *key)
{
    long i = vmx_index(b->v, key);
    if (i < 0)
        return NULL;
    b->used[i] = true;
    return vmx_entry_at(b->v, (size_t)i);
}

/* Value of key, NULL when absent or empty. */
static const char *use_str(struct build *b, const char *key)
{
    const struct vmx_entry *e = use(b, key);
    return e && e->value[0] ? e->value : NULL;
}

static int use_bool(struct build *b, const char *key, bool dflt, bool *out)
{
    use(b, key);
    return vmx_get_bool(b->v, key, dflt, out, b->err);
}

static int use_int(struct build *b, const char *key, int64_t dflt, int64_t min, int64_t max,
                   int64_t *out)
{
    use(b, key);
    return vmx_get_int(b->v, key, dflt, min, max, out, b->err);
}

static int use_enum(struct build *b, const char *key, const struct name_value *t, size_t n,
                    int dflt, int *out)
{
    const struct vmx_entry *e = use(b, key);
    *out = dflt;
    if (!e || !e->value[0])
        return 0;
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(e->value, t[i].name)) {
            *out = t[i].value;
            return 0;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", t[i].name);
    }
    return error_set(b->err, EX_DATAERR, "%s:%d: %s: unknown value \"%s\" (expected %s)",
                     vmx_name(b->v), e->line, e->key, VMX_PRINTABLE(e->value), list);
}

/* Marks prefix.* and prefix:* used: a device switched off takes its subtree with it. */
static void mark_subtree(struct build *b, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < vmx_count(b->v); i++) {
        const char *k = vmx_entry_at(b->v, i)->key;
        if (!strncasecmp(k, prefix, n) && (k[n] == '.' || k[n] == ':'))
            b->used[i] = true;
    }
}

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static int oom(struct build *b)
{
    return error_set(b->err, EX_SOFTWARE, "out of memory");
}

static char *resolve(const struct vm_config *c, const char *name)
{
    if (name[0] == '/')
        return strdup(name);
    size_t n = strlen(c->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", c->dir, name);
    return p;
}

/* ---- slots that cannot exist ---- */

struct family {
    const char *name;
    int max_x, max_y; /* max_y < 0: no :Y units */
};
static const struct family families[] = {
    { "ide", 1, 1 },      { "scsi", 3, 15 },  { "sata", 3, 29 },   { "nvme", 3, 14 },
    { "ethernet", 9, -1 }, { "serial", 3, -1 }, { "floppy", 1, -1 },
};

/* Reads up to 3 digits at *p; returns -1 when there are none, 1000 when too many. */
static int read_num(const char **p)
{
    int x = 0, n = 0;
    while (isdigit((unsigned char)**p)) {
        if (++n <= 3)
            x = x * 10 + (**p - '0');
        (*p)++;
    }
    return n == 0 ? -1 : n > 3 ? 1000 : x;
}

/* 1 if key names a slot of f out of range, 0 otherwise. */
static int slot_out_of_range(const struct family *f, const char *key)
{
    size_t n = strlen(f->name);
    if (strncasecmp(key, f->name, n))
        return 0;
    const char *p = key + n;
    int x = read_num(&p), y = 0;
    if (x < 0)
        return 0;
    if (*p == ':' && f->max_y >= 0) {
        p++;
        if ((y = read_num(&p)) < 0)
            return 0;
        if (*p == '.' && (y > f->max_y || (!strcmp(f->name, "scsi") && y == 7)))
            return 1;
    }
    return *p == '.' && x > f->max_x;
}

static int check_slots(struct build *b)
{
    for (size_t i = 0; i < vmx_count(b->v); i++) {
        const struct vmx_entry *e = vmx_entry_at(b->v, i);
        for (size_t j = 0; j < N(families); j++) {
            const struct family *f = &families[j];
            if (!slot_out_of_range(f, e->key))
                continue;
            if (f->max_y < 0)
                return error_set(b->err, EX_DATAERR, "%s:%d: %s: no such device (%s0 to %s%d)",
                                 vmx_name(b->v), e->line, e->key, f->name, f->name, f->max_x);
            return error_set(b->err, EX_DATAERR, "%s:%d: %s: no such slot (%s0:0 to %s%d:%d%s)",
                             vmx_name(b->v), e->line, e->key, f->name, f->name, f->max_x,
                             f->max_y, strcmp(f->name, "scsi") ? "" : ", unit 7 is the controller");
        }
    }
    return 0;
}

/* ---- general ---- */

static int hex_digit(char c)
{
    if (!isxdigit((unsigned char)c))
        return -1;
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* "56 4d 12 34 56 78 9a bc-de f0 12 34 56 78 9a bc": 32 hex digits, spaces and dashes ignored. */
static int parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-')
            continue;
        int d = hex_digit(*s);
        if (d < 0 || n >= 32)
            return -1;
        out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | d : d << 4);
        n++;
    }
    return n == 32 ? 0 : -1;
}

static int use_uuid(struct build *b, const char *key, bool *has, uint8_t out[16])
{
    const struct vmx_entry *e = use(b, key);
    *has = e && e->value[0];
    if (*has && parse_uuid(e->value, out) < 0)
        return error_set(b->err, EX_DATAERR, "%s:%d: %s: \"%s\" is not a UUID (16 hex bytes)",
                         vmx_name(b->v), e->line, e->key, VMX_PRINTABLE(e->value));
    return 0;
}

static char *default_name(const char *vmx_path)
{
    const char *base = strrchr(vmx_path, '/');
    base = base ? base + 1 : vmx_path;
    size_t n = strlen(base);
    if (n > 4 && !strcasecmp(base + n - 4, ".vmx"))
        n -= 4;
    return strndup(base, n);
}

static int build_general(struct build *b)
{
    struct vm_config *c = b->c;
    int64_t mem, cpus, cores, hw;
    int fw;
    use(b, ".encoding");
    use(b, "config.version");
    const char *name = use_str(b, "displayName");
    c->display_name = name ? strdup(name) : default_name(c->vmx_path);
    c->guest_os = strdup(use_str(b, "guestOS") ? use_str(b, "guestOS") : "other");
    if (!c->display_name || !c->guest_os)
        return oom(b);
    if (use_int(b, "memsize", 32, 1, VM_MAX_MEMSIZE_MIB, &mem) < 0 ||
        use_int(b, "numvcpus", 1, 1, VM_MAX_VCPUS, &cpus) < 0 ||
        use_int(b, "cpuid.coresPerSocket", 1, 1, VM_MAX_VCPUS, &cores) < 0 ||
        use_int(b, "virtualHW.version", 0, 0, 255, &hw) < 0 ||
        use_enum(b, "firmware", firmwares, N(firmwares), VM_FW_BIOS, &fw) < 0 ||
        use_uuid(b, "uuid.bios", &c->has_uuid_bios, c->uuid_bios) < 0 ||
        use_uuid(b, "uuid.location", &c->has_uuid_location, c->uuid_location) < 0)
        return -1;
    c->memsize_mib = (uint64_t)mem;
    c->numvcpus = (int)cpus;
    c->cores_per_socket = (int)cores;
    c->hw_version = (int)hw;
    c->firmware = (enum vm_firmware)fw;
    const char *nvram = use_str(b, "nvram");
    if (nvram && *nvram && !(c->nvram_path = resolve(c, nvram)))
        return oom(b);
    return use_bool(b, "uefi.secureBoot.enabled", false, &c->secure_boot);
}

/* ---- disks ---- */

/* <name><x>.pciSlotNumber of a present device: the number as written, -1 when absent. */
static int pci_slot_number(struct build *b, const char *name, int x, bool present, int *out)
{
    char k[64];
    int64_t v = -1;
    snprintf(k, sizeof k, "%s%d.pciSlotNumber", name, x);
    if (present && use_int(b, k, -1, -1, INT32_MAX, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int build_controllers(struct build *b)
{
    struct vm_config *c = b->c;
    char k[64];
    for (int x = 0; x < VM_MAX_SCSI; x++) {
        int dev;
        snprintf(k, sizeof k, "scsi%d.present", x);
        if (use_bool(b, k, false, &c->scsi_present[x]) < 0)
            return -1;
        snprintf(k, sizeof k, "scsi%d.virtualDev", x);
        if (c->scsi_present[x] &&
            use_enum(b, k, scsi_devs, N(scsi_devs), VM_SCSI_DEFAULT, &dev) < 0)
            return -1;
        c->scsi_dev[x] = c->scsi_present[x] ? (enum vm_scsi_dev)dev : VM_SCSI_DEFAULT;
        if (pci_slot_number(b, "scsi", x, c->scsi_present[x], &c->scsi_pci_slot[x]) < 0)
            return -1;
    }
    for (int x = 0; x < VM_MAX_SATA; x++) {
        snprintf(k, sizeof k, "sata%d.present", x);
        if (use_bool(b, k, false, &c->sata_present[x]) < 0)
            return -1;
        snprintf(k, sizeof k, "nvme%d.present", x);
        if (use_bool(b, k, false, &c->nvme_present[x]) < 0)
            return -1;
        if (pci_slot_number(b, "sata", x, c->sata_present[x], &c->sata_pci_slot[x]) < 0 ||
            pci_slot_number(b, "nvme", x, c->nvme_present[x], &c->nvme_pci_slot[x]) < 0)
            return -1;
    }
    return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

static struct vm_disk *add_disk(struct build *b)
{
    struct vm_config *c = b->c;
    struct vm_disk *d = realloc(c->disks, (c->ndisks + 1) * sizeof *d);
    if (!d)
        return NULL;
    c->disks = d;
    d = &c->disks[c->ndisks++];
    memset(d, 0, sizeof *d);
    return d;
}

/* Reads the slot's keys into d (already added, slot and bus set). */
static int read_disk(struct build *b, struct vm_disk *d, const struct vmx_entry *pe)
{
    char k[64];
    int type, mode;
    snprintf(k, sizeof k, "%s.fileName", d->slot);
    const struct vmx_entry *fe = use(b, k);
    if (!(d->file_name = xstrdup(fe ? fe->value : NULL)))
        return oom(b);
    d->line = fe ? fe->line : pe->line;
    int dflt = has_suffix(d->file_name, ".iso") ? VM_DISK_CDROM_IMAGE : VM_DISK_HDD;
    snprintf(k, sizeof k, "%s.deviceType", d->slot);
    if (use_enum(b, k, disk_types, N(disk_types), dflt, &type) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.mode", d->slot);
    if (use_enum(b, k, disk_modes, N(disk_modes), VM_MODE_PERSISTENT, &mode) < 0)
        return -1;
    d->type = (enum vm_disk_type)type;
    d->mode = (enum vm_disk_mode)mode;
    snprintf(k, sizeof k, "%s.startConnected", d->slot);
    if (use_bool(b, k, true, &d->start_connected) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.writeThrough", d->slot);
    if (use_bool(b, k, false, &d->write_through) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.clientDevice", d->slot);
    return use_bool(b, k, false, &d->client_device);
}

static int build_disk(struct build *b, enum vm_bus bus, const char *name, int x, int y)
{
    char slot[32], k[96];
    bool present;
    snprintf(slot, sizeof slot, "%s%d:%d", name, x, y);
    snprintf(k, sizeof k, "%s.present", slot);
    const struct vmx_entry *pe = use(b, k);
    if (use_bool(b, k, false, &present) < 0)
        return -1;
    if (!present) {
        mark_subtree(b, slot);
        return 0;
    }
    struct vm_disk *d = add_disk(b);
    if (!d)
        return oom(b);
    d->bus = bus;
    d->ctrl = x;
    d->unit = y;
    memcpy(d->slot, slot, sizeof slot);
    if (read_disk(b, d, pe) < 0)
        return -1;
    bool file_backed = d->type != VM_DISK_CDROM_RAW && !d->client_device;
    if (!d->file_name[0] && (d->type == VM_DISK_HDD || d->type == VM_DISK_RAWDISK))
        return error_set(b->err, EX_DATAERR, "%s:%d: %s.fileName: a present %s needs a file name",
                         vmx_name(b->v), d->line, slot, config_disk_type_name(d->type));
    if (file_backed && d->file_name[0] && !(d->path = resolve(b->c, d->file_name)))
        return oom(b);
    return 0;
}

static int build_bus(struct build *b, enum vm_bus bus, const char *name, int nx, int ny,
                     const bool *ctrl_present)
{
    for (int x = 0; x < nx; x++) {
        if (ctrl_present && !ctrl_present[x]) {
            char p[32];
            snprintf(p, sizeof p, "%s%d", name, x);
            mark_subtree(b, p);
            continue;
        }
        for (int y = 0; y < ny; y++)
            if (!(bus == VM_BUS_SCSI && y == 7) && build_disk(b, bus, name, x, y) < 0)
                return -1;
    }
    return 0;
}

/* scsiN.virtualDev absent: the first disk's ddb.adapterType decides, as VMware does; lsilogic
 * when no disk says. */
static void resolve_scsi_models(struct vm_config *c)
{
    static const struct name_value adapters[] = {
        { "lsilogic", VM_SCSI_LSILOGIC }, { "buslogic", VM_SCSI_BUSLOGIC },
        { "legacyESX", VM_SCSI_BUSLOGIC }, { "pvscsi", VM_SCSI_PVSCSI },
        { "lsisas1068", VM_SCSI_LSISAS1068 },
    };
    for (int x = 0; x < VM_MAX_SCSI; x++) {
        c->scsi_model[x] = c->scsi_dev[x];
        for (size_t i = 0; i < c->ndisks && c->scsi_model[x] == VM_SCSI_DEFAULT; i++) {
            const struct vm_disk *d = &c->disks[i];
            char type[32];
            if (d->bus != VM_BUS_SCSI || d->ctrl != x || d->type != VM_DISK_HDD || !d->path ||
                vmdk_adapter_type(d->path, type, sizeof type) < 0)
                continue;
            for (size_t k = 0; k < N(adapters); k++)
                if (!strcasecmp(type, adapters[k].name))
                    c->scsi_model[x] = (enum vm_scsi_dev)adapters[k].value;
        }
        if (c->scsi_model[x] == VM_SCSI_DEFAULT)
            c->scsi_model[x] = VM_SCSI_LSILOGIC;
    }
    for (size_t i = 0; i < c->ndisks; i++)
        if (c->disks[i].bus == VM_BUS_SCSI)
            c->disks[i].scsi_dev = c->scsi_model[c->disks[i].ctrl];
}

static int build_disks(struct build *b)
{
    struct vm_config *c = b->c;
    if (build_controllers(b) < 0 || build_bus(b, VM_BUS_IDE, "ide", 2, 2, NULL) < 0 ||
        build_bus(b, VM_BUS_SCSI, "scsi", VM_MAX_SCSI, 16, c->scsi_present) < 0 ||
        build_bus(b, VM_BUS_SATA, "sata", VM_MAX_SATA, 30, c->sata_present) < 0 ||
        build_bus(b, VM_BUS_NVME, "nvme", VM_MAX_NVME, 15, c->nvme_present) < 0)
        return -1;
    resolve_scsi_models(c);
    return 0;
}

/* ---- floppies and serial ports ---- */

static bool is_image_name(const char *s)
{
    return has_suffix(s, ".flp") || has_suffix(s, ".img") || has_suffix(s, ".ima") ||
           has_suffix(s, ".vfd");
}

static int build_floppy(struct build *b, int i)
{
    struct vm_floppy *f = &b->c->floppy[i];
    char p[32], k[96];
    int type;
    snprintf(p, sizeof p, "floppy%d", i);
    snprintf(k, sizeof k, "%s.present", p);
    if (use_bool(b, k, i == 0, &f->present) < 0)
        return -1;
    if (!f->present) {
        mark_subtree(b, p);
        return 0;
    }
    snprintf(k, sizeof k, "%s.fileName", p);
    const struct vmx_entry *fe = use(b, k);
    if (!(f->file_name = xstrdup(fe ? fe->value : NULL)))
        return oom(b);
    f->line = fe ? fe->line : 0;
    snprintf(k, sizeof k, "%s.fileType", p);
    int dflt = is_image_name(f->file_name) ? VM_FLOPPY_FILE : VM_FLOPPY_DEVICE;
    if (use_enum(b, k, floppy_types, N(floppy_types), dflt, &type) < 0)
        return -1;
    f->type = (enum vm_floppy_type)type;
    snprintf(k, sizeof k, "%s.startConnected", p);
    if (use_bool(b, k, true, &f->start_connected) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.clientDevice", p);
    if (use_bool(b, k, false, &f->client_device) < 0)
        return -1;
    if (f->type == VM_FLOPPY_FILE && !f->client_device && f->file_name[0] &&
        !(f->path = resolve(b->c, f->file_name)))
        return oom(b);
    return 0;
}

static int build_serial(struct build *b, int i)
{
    struct vm_serial *s = &b->c->serial[i];
    char p[32], k[96];
    int type;
    snprintf(p, sizeof p, "serial%d", i);
    snprintf(k, sizeof k, "%s.present", p);
    if (use_bool(b, k, false, &s->present) < 0)
        return -1;
    if (!s->present) {
        mark_subtree(b, p);
        return 0;
    }
    snprintf(k, sizeof k, "%s.fileType", p);
    if (use_enum(b, k, serial_types, N(serial_types), VM_SERIAL_DEVICE, &type) < 0)
        return -1;
    s->type = (enum vm_serial_type)type;
    snprintf(k, sizeof k, "%s.fileName", p);
    if (!(s->file_name = xstrdup(use_str(b, k))))
        return oom(b);
    snprintf(k, sizeof k, "%s.startConnected", p);
    if (use_bool(b, k, true, &s->start_connected) < 0)
        return -1;
    bool local = s->type == VM_SERIAL_FILE || s->type == VM_SERIAL_PIPE;
    if (local && s->file_name[0] && !(s->path = resolve(b->c, s->file_name)))
        return oom(b);
    return 0;
}

/* ---- network cards ---- */

void config_generated_mac(const uint8_t uuid[16], int offset, uint8_t mac[6])
{
    mac[0] = 0x00;
    mac[1] = 0x0c;
    mac[2] = 0x29;
    mac[3] = uuid[13];
    mac[4] = uuid[14];
    mac[5] = (uint8_t)(uuid[15] + offset);
}

/* "00:0c:29:3b:64:ea" (or with dashes). */
static int parse_mac(const char *s, uint8_t mac[6])
{
    if (strlen(s) != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
        char sep = s[3 * i + 2];
        if (hi < 0 || lo < 0 || (i < 5 && sep != ':' && sep != '-'))
            return -1;
        mac[i] = (uint8_t)(hi * 16 + lo);
    }
    return 0;
}

/* A MAC from the .vmx's path when there is no uuid.bios to derive one from. */
static void path_mac(const char *path, int offset, uint8_t mac[6])
{
    uint32_t h = 2166136261u;
    for (; *path; path++)
        h = (h ^ (uint8_t)*path) * 16777619u;
    uint8_t u[16] = { 0 };
    u[13] = (uint8_t)(h >> 16);
    u[14] = (uint8_t)(h >> 8);
    u[15] = (uint8_t)h;
    config_generated_mac(u, offset, mac);
}

static int nic_mac(struct build *b, struct vm_nic *n, const char *p, int index)
{
    char k[64];
    int64_t offset;
    snprintf(k, sizeof k, "%s.generatedAddressOffset", p);
    /* Absent: VMware's own spacing (ethernetN at N * 10), so no two cards share a MAC. */
    if (use_int(b, k, 10 * index, 0, 0xffffff, &offset) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.%s", p, n->addr_type == VM_ADDR_STATIC ? "address" : "generatedAddress");
    const struct vmx_entry *e = use(b, k);
    if (e && e->value[0]) {
        n->mac_source = VM_MAC_STORED;
        if (parse_mac(e->value, n->mac) < 0)
            return error_set(b->err, EX_DATAERR, "%s:%d: %s: \"%s\" is not a MAC address",
                             vmx_name(b->v), e->line, e->key, VMX_PRINTABLE(e->value));
        return 0;
    }
    if (n->addr_type == VM_ADDR_STATIC)
        return error_set(b->err, EX_DATAERR, "%s: %s.addressType is static but %s is missing",
                         vmx_name(b->v), p, k);
    n->mac_source = b->c->has_uuid_bios ? VM_MAC_FROM_UUID : VM_MAC_FROM_PATH;
    if (b->c->has_uuid_bios)
        config_generated_mac(b->c->uuid_bios, (int)offset, n->mac);
    else
        path_mac(b->c->vmx_path, (int)offset, n->mac);
    return 0;
}

/* VMware's default adapter: e1000 for 64-bit guests, the vlance ("Flexible") otherwise. */
static int default_nic(const struct vm_config *c)
{
    return has_suffix(c->guest_os, "-64") ? VM_NIC_E1000 : VM_NIC_VLANCE;
}

static int build_nic(struct build *b, int i)
{
    struct vm_nic *n = &b->c->nic[i];
    char p[32], k[96];
    int dev, conn, addr;
    snprintf(p, sizeof p, "ethernet%d", i);
    snprintf(k, sizeof k, "%s.present", p);
    if (use_bool(b, k, false, &n->present) < 0)
        return -1;
    if (pci_slot_number(b, "ethernet", i, n->present, &n->pci_slot) < 0)
        return -1;
    if (!n->present) {
        mark_subtree(b, p);
        return 0;
    }
    snprintf(k, sizeof k, "%s.virtualDev", p);
    if (use_enum(b, k, nic_devs, N(nic_devs), default_nic(b->c), &dev) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.connectionType", p);
    if (use_enum(b, k, nic_conns, N(nic_conns), VM_NET_BRIDGED, &conn) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.addressType", p);
    if (use_enum(b, k, addr_types, N(addr_types), VM_ADDR_GENERATED, &addr) < 0)
        return -1;
    n->dev = (enum vm_nic_dev)dev;
    n->conn = (enum vm_nic_conn)conn;
    n->addr_type = (enum vm_addr_type)addr;
    snprintf(k, sizeof k, "%s.startConnected", p);
    if (use_bool(b, k, true, &n->start_connected) < 0)
        return -1;
    snprintf(k, sizeof k, "%s.networkName", p);
    const char *net = use_str(b, k);
    if (net && !(n->network_name = strdup(net)))
        return oom(b);
    return nic_mac(b, n, p, i);
}

/* ---- the rest ---- */

static int dup_opt(struct build *b, const char *key, char **out)
{
    const char *s = use_str(b, key);
    if (s && !(*out = strdup(s)))
        return oom(b);
    return 0;
}

/* Devices vmplay accepts but does not emulate: their whole subtree is accepted. */
static int not_emulated(struct build *b, const char *dev, bool *present)
{
    char k[64];
    snprintf(k, sizeof k, "%s.present", dev);
    int rc = use_bool(b, k, false, present);
    mark_subtree(b, dev);
    return rc;
}

/* guestinfo.* keys are the guest's to read through the backdoor: all used, kept in file order. */
static int build_guestinfo(struct build *b)
{
    struct vm_config *c = b->c;
    static const char prefix[] = "guestinfo.";
    size_t n = vmx_count(b->v), plen = sizeof prefix - 1;
    for (size_t i = 0; i < n; i++) {
        const struct vmx_entry *e = vmx_entry_at(b->v, i);
        if (strncasecmp(e->key, prefix, plen) || !e->key[plen])
            continue;
        b->used[i] = true;
        struct vm_key *k = realloc(c->guestinfo, (c->nguestinfo + 1) * sizeof *k);
        if (!k)
            return oom(b);
        c->guestinfo = k;
        k += c->nguestinfo;
        *k = (struct vm_key){.key = strdup(e->key + plen), .value = strdup(e->value),
                             .line = e->line};
        c->nguestinfo++;
        if (!k->key || !k->value)
            return oom(b);
    }
    return use_bool(b, "monitor_control.restrict_backdoor", false, &c->backdoor_restricted);
}

static int build_misc(struct build *b)
{
    struct vm_config *c = b->c;
    int64_t vram, port;
    if (use_int(b, "svga.vramSize", 4 << 20, 1 << 16, INT64_C(1) << 32, &vram) < 0 ||
        use_bool(b, "svga.present", false, &c->svga_present) < 0 ||
        use_bool(b, "RemoteDisplay.vnc.enabled", false, &c->vnc_enabled) < 0 ||
        use_int(b, "RemoteDisplay.vnc.port", 5900, 1, 65535, &port) < 0 ||
        dup_opt(b, "RemoteDisplay.vnc.password", &c->vnc_password) < 0 ||
        dup_opt(b, "checkpoint.vmState", &c->checkpoint_vmstate) < 0 ||
        use_bool(b, "tools.syncTime", false, &c->tools_sync_time) < 0 ||
        not_emulated(b, "sound", &c->sound_present) < 0 ||
        not_emulated(b, "usb", &c->usb_present) < 0 ||
        not_emulated(b, "ehci", &c->ehci_present) < 0 ||
        not_emulated(b, "usb_xhci", &c->xhci_present) < 0 ||
        dup_opt(b, "bios.bootOrder", &c->boot_order) < 0 ||
        dup_opt(b, "bios.hddOrder", &c->hdd_order) < 0)
        return -1;
    c->svga_vram_size = (uint64_t)vram;
    c->vnc_port = (int)port;
    return 0;
}

static int collect_dups(struct build *b)
{
    struct vm_config *c = b->c;
    size_t n = 0;
    for (size_t i = 0; i < vmx_count(b->v); i++)
        n += vmx_entry_at(b->v, i)->earlier != 0;
    if (!n)
        return 0;
    if (!(c->dups = calloc(n, sizeof *c->dups)))
        return oom(b);
    for (size_t i = 0; i < vmx_count(b->v); i++) {
        const struct vmx_entry *e = vmx_entry_at(b->v, i);
        if (!e->earlier)
            continue;
        struct vm_key *k = &c->dups[c->ndups++];
        k->line = e->line;
        k->earlier = e->earlier;
        if (!(k->key = strdup(e->key)) || !(k->value = strdup(e->value)))
            return oom(b);
    }
    return 0;
}

bool config_scsi_emulated(enum vm_scsi_dev model, const char **why)
{
    /* One entry per row of the board's controller table (devices/scsi_hba.c). */
    static const char *const not_yet[] = {
        [VM_SCSI_DEFAULT] = "no SCSI controller model",
        [VM_SCSI_LSILOGIC] = "",
        [VM_SCSI_BUSLOGIC] = "the BusLogic controller (buslogic) is not emulated",
        [VM_SCSI_PVSCSI] = "",
        [VM_SCSI_LSISAS1068] = "",
    };
    if (why)
        *why = not_yet[model];
    return model == VM_SCSI_PVSCSI || model == VM_SCSI_LSILOGIC || model == VM_SCSI_LSISAS1068;
}

bool config_disk_presented(const struct vm_disk *d, const char **why)
{
    static const char *const bus[] = {"", "", "", "an NVMe controller has no CD-ROM"};
    bool cd = d->type == VM_DISK_CDROM_IMAGE || d->type == VM_DISK_CDROM_RAW;
    if (d->bus == VM_BUS_SCSI)
        return config_scsi_emulated(d->scsi_dev, why);
    if (why)
        *why = bus[d->bus];
    return d->bus == VM_BUS_IDE || d->bus == VM_BUS_SATA || (d->bus == VM_BUS_NVME && !cd);
}

bool config_floppy_presented(const struct vm_config *c, int i)
{
    const struct vm_floppy *f = &c->floppy[i];
    return f->present && f->type == VM_FLOPPY_FILE && f->path && f->start_connected;
}

int config_vcpus_run(const struct vm_config *c)
{
    return c->numvcpus < 1 ? c->numvcpus : 1;
}

bool config_disk_nonpersistent(const struct vm_disk *d)
{
    return d->mode == VM_MODE_NONPERSISTENT || d->mode == VM_MODE_INDEPENDENT_NONPERSISTENT;
}

bool config_has_boot_disk(const struct vm_config *c)
{
    for (size_t i = 0; i < c->ndisks; i++) {
        const struct vm_disk *d = &c->disks[i];
        if (config_disk_presented(d, NULL) && d->path && d->start_connected &&
            d->type != VM_DISK_CDROM_RAW)
            return true;
    }
    return false;
}

static int collect_unknown(struct build *b)
{
    struct vm_config *c = b->c;
    size_t n = 0;
    for (size_t i = 0; i < vmx_count(b->v); i++)
        n += !b->used[i];
    if (!n)
        return 0;
    if (!(c->unknown = calloc(n, sizeof *c->unknown)))
        return oom(b);
    for (size_t i = 0; i < vmx_count(b->v); i++) {
        const struct vmx_entry *e = vmx_entry_at(b->v, i);
        if (b->used[i])
            continue;
        struct vm_key *k = &c->unknown[c->nunknown++];
        k->line = e->line;
        if (!(k->key = strdup(e->key)) || !(k->value = strdup(e->value)))
            return oom(b);
    }
    return 0;
}

static char *abs_dir(const char *vmx_path)
{
    const char *slash = strrchr(vmx_path, '/');
    char *dir = slash ? strndup(vmx_path, slash == vmx_path ? 1 : (size_t)(slash - vmx_path))
                      : strdup(".");
    if (!dir || dir[0] == '/')
        return dir;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    const char *rel = strcmp(dir, ".") ? dir : "";
    size_t n = strlen(cwd) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", cwd, rel[0] ? "/" : "", rel);
    free(dir);
    return p;
}

static int build_all(struct build *b)
{
    if (check_slots(b) < 0 || build_general(b) < 0 || build_disks(b) < 0)
        return -1;
    for (int i = 0; i < VM_MAX_FLOPPIES; i++)
        if (build_floppy(b, i) < 0)
            return -1;
    for (int i = 0; i < VM_MAX_NICS; i++)
        if (build_nic(b, i) < 0)
            return -1;
    for (int i = 0; i < VM_MAX_SERIALS; i++)
        if (build_serial(b, i) < 0)
            return -1;
    if (build_misc(b) < 0 || build_guestinfo(b) < 0)
        return -1;
    return collect_unknown(b) < 0 ? -1 : collect_dups(b);
}

int config_build(const struct vmx *v, const char *vmx_path, struct vm_config **out,
                 struct error *err)
{
    *out = NULL;
    struct vm_config *c = calloc(1, sizeof *c);
    struct build b = { v, c, calloc(vmx_count(v) + 1, sizeof(bool)), err };
    if (!c || !b.used || !(c->vmx_path = strdup(vmx_path)) || !(c->dir = abs_dir(vmx_path))) {
        error_set(err, EX_SOFTWARE, "out of memory");
        goto fail;
    }
    if (build_all(&b) < 0)
        goto fail;
    free(b.used);
    *out = c;
    return 0;
fail:
    free(b.used);
    config_free(c);
    return -1;
}

int config_load(const char *vmx_path, struct vm_config **out, struct error *err)
{
    struct vmx *v;
    *out = NULL;
    if (vmx_load(vmx_path, &v, err) < 0)
        return -1;
    int rc = config_build(v, vmx_path, out, err);
    vmx_free(v);
    return rc;
}

void config_free(struct vm_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndisks; i++) {
        free(c->disks[i].file_name);
        free(c->disks[i].path);
        free(c->disks[i].overlay);
    }
    for (int i = 0; i < VM_MAX_FLOPPIES; i++) {
        free(c->floppy[i].file_name);
        free(c->floppy[i].path);
    }
    for (int i = 0; i < VM_MAX_NICS; i++)
        free(c->nic[i].network_name);
    for (int i = 0; i < VM_MAX_SERIALS; i++) {
        free(c->serial[i].file_name);
        free(c->serial[i].path);
    }
    for (size_t i = 0; i < c->ndups; i++) {
        free(c->dups[i].key);
        free(c->dups[i].value);
    }
    free(c->dups);
    for (size_t i = 0; i < c->nunknown; i++) {
        free(c->unknown[i].key);
        free(c->unknown[i].value);
    }
    free(c->unknown);
    for (size_t i = 0; i < c->nguestinfo; i++) {
        free(c->guestinfo[i].key);
        free(c->guestinfo[i].value);
    }
    free(c->guestinfo);
    free(c->disks);
    free(c->vmx_path);
    free(c->dir);
    free(c->display_name);
    free(c->guest_os);
    free(c->vnc_password);
    free(c->checkpoint_vmstate);
    free(c->boot_order);
    free(c->hdd_order);
    free(c->nvram_path);
    free(c);
}

/* ---- files ---- */

static bool file_missing(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR);
}

/* Counts missing files; the first one is described in err. */
static void note_missing(const struct vm_config *c, const char *path, int line, const char *key,
                         const char *what, size_t *n, struct error *err)
{
    if (!file_missing(path))
        return;
    if ((*n)++ == 0)
        error_set(err, EX_NOINPUT, "%s:%d: %s: %s %s does not exist", c->vmx_path, line, key,
                  what, path);
}

static bool is_hard_disk(const struct vm_disk *d)
{
    return d->type == VM_DISK_HDD || d->type == VM_DISK_RAWDISK;
}

/* Hard disks first (they are what the VM cannot run without), then removable media. */
int config_check_files(const struct vm_config *c, struct error *err)
{
    size_t n = 0;
    char k[64];
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->ndisks; i++) {
            const struct vm_disk *d = &c->disks[i];
            bool needed = pass == 0 ? is_hard_disk(d) : !is_hard_disk(d) && d->start_connected;
            snprintf(k, sizeof k, "%s.fileName", d->slot);
            if (d->path && needed)
                note_missing(c, d->path, d->line, k, pass == 0 ? "disk" : "image", &n, err);
        }
    for (int i = 0; i < VM_MAX_FLOPPIES; i++) {
        const struct vm_floppy *f = &c->floppy[i];
        snprintf(k, sizeof k, "floppy%d.fileName", i);
        if (f->present && f->path && f->start_connected)
            note_missing(c, f->path, f->line, k, "floppy image", &n, err);
    }
    if (n > 1 && err) {
        size_t l = strlen(err->msg);
        snprintf(err->msg + l, sizeof err->msg - l, " (and %zu more missing)", n - 1);
    }
    return n ? -1 : config_check_twice(c, err);
}
