/*
 * The machine a .vmx describes, as a plain typed struct: what the board
 * (devices/pc.c) and the player read, and nothing else. config_build turns a
 * vmx dictionary into it with VMware's defaults for absent keys, validates
 * every value it uses (errors name file:line: key, EX_DATAERR), and keeps the
 * keys it does not use so `vmplay --check -v` can list them. A device whose
 * `.present` is FALSE is switched off with its whole subtree. Referenced
 * files are resolved against the .vmx's folder; whether they exist is a
 * separate check (config_check_files), so --check can report both.
 */
#ifndef VMPLAY_CONFIG_H
#define VMPLAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "formats/error.h"
#include "formats/vmx.h"

#define VM_MAX_MEMSIZE_MIB 65536 /* 64 GiB */
#define VM_MAX_VCPUS 64
#define VM_MAX_SCSI 4
#define VM_MAX_SATA 4
#define VM_MAX_NVME 4
#define VM_MAX_FLOPPIES 2
#define VM_MAX_NICS 10
#define VM_MAX_SERIALS 4

enum vm_firmware { VM_FW_BIOS, VM_FW_EFI };
enum vm_bus { VM_BUS_IDE, VM_BUS_SCSI, VM_BUS_SATA, VM_BUS_NVME };
enum vm_disk_type {
    VM_DISK_HDD,         /* disk, scsi-hardDisk, ata-hardDisk, ...: a .vmdk */
    VM_DISK_CDROM_IMAGE, /* cdrom-image: an ISO */
    VM_DISK_CDROM_RAW,   /* atapi-cdrom, cdrom-raw: the host's drive (vmplay: an empty drive) */
    VM_DISK_RAWDISK,     /* rawDisk: a .vmdk over host partitions */
};
enum vm_disk_mode {
    VM_MODE_PERSISTENT,
    VM_MODE_NONPERSISTENT,
    VM_MODE_INDEPENDENT_PERSISTENT,
    VM_MODE_INDEPENDENT_NONPERSISTENT,
    VM_MODE_UNDOABLE,
};
/* VM_SCSI_DEFAULT: scsiX.virtualDev absent; the player picks from the disk's ddb.adapterType. */
enum vm_scsi_dev { VM_SCSI_DEFAULT, VM_SCSI_LSILOGIC, VM_SCSI_BUSLOGIC, VM_SCSI_PVSCSI, VM_SCSI_LSISAS1068 };
enum vm_nic_dev { VM_NIC_VLANCE, VM_NIC_VMXNET, VM_NIC_E1000, VM_NIC_E1000E, VM_NIC_VMXNET3 };
enum vm_nic_conn { VM_NET_BRIDGED, VM_NET_NAT, VM_NET_HOSTONLY, VM_NET_CUSTOM };
enum vm_addr_type { VM_ADDR_GENERATED, VM_ADDR_STATIC, VM_ADDR_VPX };
enum vm_mac_source {
    VM_MAC_STORED,    /* ethernetN.address or ethernetN.generatedAddress */
    VM_MAC_FROM_UUID, /* 00:0c:29 + last three bytes of uuid.bios (+ generatedAddressOffset) */
    VM_MAC_FROM_PATH, /* no uuid.bios either: 00:0c:29 + a hash of the .vmx path */
};
enum vm_floppy_type { VM_FLOPPY_DEVICE, VM_FLOPPY_FILE };
enum vm_serial_type { VM_SERIAL_DEVICE, VM_SERIAL_FILE, VM_SERIAL_PIPE, VM_SERIAL_THINPRINT, VM_SERIAL_NETWORK };

struct vm_disk {
    enum vm_bus bus;
    int ctrl, unit;   /* ideX:Y -> ctrl X, unit Y */
    char slot[32];    /* "scsi0:1" */
    enum vm_disk_type type;
    enum vm_disk_mode mode;
    bool start_connected;
    bool client_device;
    bool write_through; /* <slot>.writeThrough: every write reaches the host's disk before it completes */
    enum vm_scsi_dev scsi_dev; /* SCSI disks: their controller's model (scsi_model[ctrl]) */
    char *file_name;  /* as written ("" when none) */
    char *path;       /* resolved against the .vmx's folder; NULL: no media / host device */
    int line;         /* line of <slot>.fileName, else of <slot>.present */
    /* From an OVF package (formats/ovf.h): the VMDK is bytes [window_off, +window_len) of
     * path, read in place; guest writes go to the copy-on-write file overlay. 0/NULL: a
     * disk of a .vmx. */
    uint64_t window_off, window_len;
    char *overlay;
};

struct vm_floppy {
    bool present;
    enum vm_floppy_type type;
    bool start_connected;
    bool client_device;
    char *file_name;  /* as written ("" when none) */
    char *path;       /* image file, resolved; NULL for host drives and empty drives */
    int line;
};

struct vm_nic {
    bool present;
    enum vm_nic_dev dev;
    enum vm_nic_conn conn;
    enum vm_addr_type addr_type;
    uint8_t mac[6];
    enum vm_mac_source mac_source;
    bool start_connected;
    char *network_name; /* NULL when absent */
    int pci_slot;       /* ethernetN.pciSlotNumber, -1 when absent */
};

struct vm_serial {
    bool present;
    enum vm_serial_type type;
    bool start_connected;
    char *file_name;  /* as written ("" when none) */
    char *path;       /* for file and pipe: resolved; else NULL */
};

/* A key vmplay does not use, kept for `--check -v`. */
struct vm_key {
    char *key, *value;
    int line;
    int earlier; /* duplicates: the line of the definition this one replaced */
};

struct vm_config {
    char *vmx_path;           /* as given */
    char *dir;                /* absolute folder of the .vmx */
    char *display_name;       /* displayName; default: the .vmx's name without .vmx */
    char *guest_os;           /* guestOS; default "other" */
    int hw_version;           /* virtualHW.version; 0 when absent */
    uint64_t memsize_mib;     /* memsize; VMware's default 32 */
    int numvcpus;             /* default 1 */
    int cores_per_socket;     /* cpuid.coresPerSocket; default 1 */
    enum vm_firmware firmware;
    char *nvram_path;         /* nvram, resolved; NULL when absent (VMware's file, never opened) */
    bool secure_boot;         /* uefi.secureBoot.enabled */
    bool has_uuid_bios, has_uuid_location;
    uint8_t uuid_bios[16], uuid_location[16];

    bool scsi_present[VM_MAX_SCSI];
    enum vm_scsi_dev scsi_dev[VM_MAX_SCSI];
    enum vm_scsi_dev scsi_model[VM_MAX_SCSI]; /* scsi_dev, DEFAULT resolved from ddb.adapterType */
    bool sata_present[VM_MAX_SATA];
    bool nvme_present[VM_MAX_NVME];
    /* <ctrl>.pciSlotNumber as written, -1 when absent (devices/slots.c decides what it means) */
    int scsi_pci_slot[VM_MAX_SCSI], sata_pci_slot[VM_MAX_SATA], nvme_pci_slot[VM_MAX_NVME];
    struct vm_disk *disks;    /* present slots, in order ide, scsi, sata, nvme */
    size_t ndisks;
    struct vm_floppy floppy[VM_MAX_FLOPPIES];
    struct vm_nic nic[VM_MAX_NICS];
    struct vm_serial serial[VM_MAX_SERIALS];

    uint64_t svga_vram_size;  /* bytes; default 4 MiB */
    bool svga_present;        /* svga.present: VMware SVGA II instead of the stdvga */
    bool vnc_enabled;         /* RemoteDisplay.vnc.* */
    int vnc_port;             /* default 5900 */
    char *vnc_password;       /* NULL when absent */
    char *checkpoint_vmstate; /* non-NULL (non-empty): the VM is suspended */
    bool tools_sync_time;
    /* guestinfo.<name> keys, name without the prefix (the backdoor's info-get), in file order */
    struct vm_key *guestinfo;
    size_t nguestinfo;
    bool backdoor_restricted; /* monitor_control.restrict_backdoor: no VMware backdoor */
    /* Accepted and reported, not emulated. */
    bool sound_present, usb_present, ehci_present, xhci_present;
    char *boot_order, *hdd_order; /* bios.bootOrder, bios.hddOrder; NULL when absent */

    struct vm_key *unknown;   /* in file order */
    size_t nunknown;
    struct vm_key *dups;      /* keys defined more than once (the last wins), in file order */
    size_t ndups;
};

/* Whether the board presents this disk slot today (one place for the board and
 * --check); when not, why (a short phrase). */
bool config_disk_presented(const struct vm_disk *d, const char **why);
/* Whether the board has this SCSI controller model; when not, why. */
bool config_scsi_emulated(enum vm_scsi_dev model, const char **why);
/* Whether the board presents floppy drive i (an image connected at power-on): one place for
 * the board (drive in CMOS, image in the 82077AA) and --check. */
bool config_floppy_presented(const struct vm_config *c, int i);
/* The vCPUs the board runs for numvcpus (one today: the guest is told of one CPU, so SeaBIOS
 * waits for no other); the board and --check say so when the .vmx asks for more. */
int config_vcpus_run(const struct vm_config *c);
/* Its writes never reach the file (nonpersistent modes): the board runs it on an overlay. */
bool config_disk_nonpersistent(const struct vm_disk *d);
/* A disk the firmware could boot is presented (a connected disk or CD image). */
bool config_has_boot_disk(const struct vm_config *c);

/* Builds the config from a parsed .vmx; vmx_path locates relative file names. */
int config_build(const struct vmx *v, const char *vmx_path, struct vm_config **out,
                 struct error *err);
/* vmx_load + config_build. */
int config_load(const char *vmx_path, struct vm_config **out, struct error *err);
void config_free(struct vm_config *c);
/*
 * Every file the machine must open exists: disks always, CD images and
 * floppy images when connected at power on. The first missing one is named
 * with its key and resolved path, EX_NOINPUT.
 */
int config_check_files(const struct vm_config *c, struct error *err);
/*
 * Called by config_check_files once every file exists: one file (by device and
 * inode) in two slots, where one of them is written (a hard disk or a floppy
 * image; two CD-ROMs may share an ISO). Names both keys, EX_DATAERR.
 */
int config_check_twice(const struct vm_config *c, struct error *err);
/* The machine in a readable, stable form; verbose adds the unused keys. */
void config_print(const struct vm_config *c, FILE *f, bool verbose);
/* The VRAM SVGA II gets for svga.vramSize: the next power of two, 1 MiB..256 MiB. */
static inline uint64_t svga_vram_bytes(uint64_t want)
{
    uint64_t v = 1u << 20;
    while (v < want && v < (256u << 20))
        v <<= 1;
    return v;
}

/* Names for printing and messages. */
const char *config_disk_type_name(enum vm_disk_type t);
const char *config_disk_mode_name(enum vm_disk_mode m);
const char *config_scsi_dev_name(enum vm_scsi_dev d);
const char *config_nic_dev_name(enum vm_nic_dev d);
/* The cards the board emulates (the run presents them, --check lists the rest as not presented). */
bool config_nic_emulated(enum vm_nic_dev d);
const char *config_nic_conn_name(enum vm_nic_conn c);
const char *config_serial_type_name(enum vm_serial_type t);
/* The MAC VMware generates: 00:0c:29, uuid.bios bytes 13..15, offset added to the last byte. */
void config_generated_mac(const uint8_t uuid[16], int offset, uint8_t mac[6]);

#endif
