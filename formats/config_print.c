/*
 * The machine a struct vm_config describes, printed for people (and for
 * tests that compare it): one "label  value" line per item in a fixed order,
 * only devices that are present, then what is present but not emulated, and
 * in verbose mode every .vmx key vmplay does not use.
 */
#include "formats/config.h"

static void print_uuid(FILE *f, const char *label, const uint8_t u[16])
{
    fprintf(f, "%-11s", label);
    for (int i = 0; i < 16; i++)
        fprintf(f, "%s%02x", i == 0 ? "" : i == 8 ? "-" : " ", u[i]);
    fputc('\n', f);
}

static void print_general(const struct vm_config *c, FILE *f)
{
    fprintf(f, "%-11s%s\n", "name", c->display_name);
    fprintf(f, "%-11s%s\n", "file", c->vmx_path);
    fprintf(f, "%-11s%s\n", "guest OS", c->guest_os);
    if (c->hw_version)
        fprintf(f, "%-11s%d\n", "hardware", c->hw_version);
    fprintf(f, "%-11s%llu MiB\n", "memory", (unsigned long long)c->memsize_mib);
    fprintf(f, "%-11s%d (%d per socket)\n", "CPUs", c->numvcpus, c->cores_per_socket);
    if (config_vcpus_run(c) != c->numvcpus)
        fprintf(f, "%-11snote: runs %d vCPU: vmplay has one vCPU today\n", "", config_vcpus_run(c));
    fprintf(f, "%-11s%s\n", "firmware", c->firmware == VM_FW_EFI ? "efi" : "bios");
    if (c->has_uuid_bios)
        print_uuid(f, "uuid.bios", c->uuid_bios);
    if (c->boot_order)
        fprintf(f, "%-11s%s\n", "boot order", c->boot_order);
    if (c->hdd_order)
        fprintf(f, "%-11s%s\n", "hdd order", c->hdd_order);
}

static void print_disks(const struct vm_config *c, FILE *f)
{
    for (int x = 0; x < VM_MAX_SCSI; x++) {
        const char *why;
        if (!c->scsi_present[x])
            continue;
        bool shown = config_scsi_emulated(c->scsi_model[x], &why);
        fprintf(f, "scsi%d      controller %s%s%s%s%s\n", x, config_scsi_dev_name(c->scsi_model[x]),
                c->scsi_dev[x] == VM_SCSI_DEFAULT ? " (no virtualDev: from ddb.adapterType)" : "",
                shown ? "" : "  NOT PRESENTED (", shown ? "" : why, shown ? "" : ")");
    }
    for (int x = 0; x < VM_MAX_SATA; x++)
        if (c->sata_present[x])
            fprintf(f, "sata%d      controller ahci\n", x);
    for (int x = 0; x < VM_MAX_NVME; x++)
        if (c->nvme_present[x])
            fprintf(f, "nvme%d      controller nvme (15ad:07f0)\n", x);
    for (size_t i = 0; i < c->ndisks; i++) {
        const struct vm_disk *d = &c->disks[i];
        bool is_cd = d->type == VM_DISK_CDROM_IMAGE || d->type == VM_DISK_CDROM_RAW;
        const char *what = d->type == VM_DISK_CDROM_RAW ? "host drive (empty in vmplay)"
                           : d->path                    ? d->path
                                                        : "no media";
        const char *why;
        bool shown = config_disk_presented(d, &why);
        fprintf(f, "%-11s%-12s %-26s %s%s%s%s%s%s%s%s\n", d->slot, config_disk_type_name(d->type),
                is_cd ? "-" : config_disk_mode_name(d->mode), what,
                d->start_connected ? "" : " (not connected)",
                d->write_through && !is_cd ? " (write-through)" : "",
                d->bus == VM_BUS_SCSI ? " on " : "",
                d->bus == VM_BUS_SCSI ? config_scsi_dev_name(d->scsi_dev) : "",
                shown ? "" : "  NOT PRESENTED (", shown ? "" : why, shown ? "" : ")");
    }
}

static void print_floppies(const struct vm_config *c, FILE *f)
{
    for (int i = 0; i < VM_MAX_FLOPPIES; i++) {
        const struct vm_floppy *fl = &c->floppy[i];
        if (!fl->present)
            continue;
        const char *what = fl->path ? fl->path
                           : fl->type == VM_FLOPPY_DEVICE && fl->file_name[0]
                               ? "host drive (empty in vmplay)"
                               : "no media";
        fprintf(f, "floppy%d    %s%s%s\n", i, what, fl->start_connected ? "" : " (not connected)",
                config_floppy_presented(c, i) ? "" : "  NOT PRESENTED (no image connected)");
    }
}

static void print_nics(const struct vm_config *c, FILE *f)
{
    static const char *const addr[] = { "generated", "static", "vpx" };
    static const char *const src[] = { "", ", derived from uuid.bios", ", derived from the path" };
    for (int i = 0; i < VM_MAX_NICS; i++) {
        const struct vm_nic *n = &c->nic[i];
        if (!n->present)
            continue;
        fprintf(f, "ethernet%d  %-8s %02x:%02x:%02x:%02x:%02x:%02x (%s%s) %s%s%s%s\n", i,
                config_nic_dev_name(n->dev), n->mac[0], n->mac[1], n->mac[2], n->mac[3],
                n->mac[4], n->mac[5], addr[n->addr_type], src[n->mac_source],
                config_nic_conn_name(n->conn), n->network_name ? " \"" : "",
                n->network_name ? n->network_name : "", n->network_name ? "\"" : "");
        if (!config_nic_emulated(n->dev))
            fprintf(f, "           NOT PRESENTED (the %s card is not emulated yet)\n",
                    config_nic_dev_name(n->dev));
    }
}

static void print_serials(const struct vm_config *c, FILE *f)
{
    for (int i = 0; i < VM_MAX_SERIALS; i++) {
        const struct vm_serial *s = &c->serial[i];
        if (s->present)
            fprintf(f, "serial%d    %s %s%s\n", i, config_serial_type_name(s->type),
                    s->path ? s->path : s->file_name, s->start_connected ? "" : " (not connected)");
    }
}

static void print_rest(const struct vm_config *c, FILE *f)
{
    if (c->svga_present)
        fprintf(f, "%-11sSVGA II 15ad:0405 (VGA and Bochs VBE behind it), vram %llu KiB\n", "svga",
                (unsigned long long)(svga_vram_bytes(c->svga_vram_size) >> 10));
    else
        fprintf(f, "%-11svram %llu KiB\n", "svga", (unsigned long long)(c->svga_vram_size >> 10));
    fprintf(f, "%-11sVMware: CPUID hypervisor bit, leaf 0x40000000 \"VMwareVMware\", "
            "leaf 0x40000010 TSC and APIC bus kHz\n", "platform");
    if (c->backdoor_restricted)
        fprintf(f, "%-11soff (monitor_control.restrict_backdoor)\n", "backdoor");
    else
        fprintf(f, "%-11sport 0x5658: version, time, vmmouse, RPC with %zu guestinfo key%s\n",
                "backdoor", c->nguestinfo, c->nguestinfo == 1 ? "" : "s");
    if (c->vnc_enabled)
        fprintf(f, "%-11sport %d%s\n", "vnc", c->vnc_port, c->vnc_password ? ", password" : "");
    if (c->tools_sync_time)
        fprintf(f, "%-11son\n", "time sync");
    if (c->checkpoint_vmstate)
        fprintf(f, "%-11s%s: vmplay cannot resume a suspended VM yet\n", "suspended",
                c->checkpoint_vmstate);
    const char *ne[4] = { 0 };
    int n = 0;
    if (c->sound_present)
        ne[n++] = "sound";
    if (c->usb_present)
        ne[n++] = "usb";
    if (c->ehci_present)
        ne[n++] = "ehci";
    if (c->xhci_present)
        ne[n++] = "usb_xhci";
    if (n) {
        fprintf(f, "not emulated ");
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%s", i ? ", " : "", ne[i]);
        fputc('\n', f);
    }
}

void config_print(const struct vm_config *c, FILE *f, bool verbose)
{
    print_general(c, f);
    print_disks(c, f);
    print_floppies(c, f);
    print_nics(c, f);
    print_serials(c, f);
    print_rest(c, f);
    if (!verbose)
        return;
    if (c->ndups)
        fprintf(f, "keys defined more than once (the last wins, as in VMware): %zu\n", c->ndups);
    for (size_t i = 0; i < c->ndups; i++)
        fprintf(f, "  line %d: %s = \"%s\" (replaces line %d)\n", c->dups[i].line, c->dups[i].key,
                c->dups[i].value, c->dups[i].earlier);
    fprintf(f, "keys vmplay does not use: %zu\n", c->nunknown);
    for (size_t i = 0; i < c->nunknown; i++)
        fprintf(f, "  line %d: %s = \"%s\"\n", c->unknown[i].line, c->unknown[i].key,
                c->unknown[i].value);
}
