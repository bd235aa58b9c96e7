/*
 * The PCI slot plan (devices/slots.c) and the SeaBIOS boot order built on it
 * (devices/firmware.c). Oracles: VMware's .vmx keys (pciSlotNumber below 32 is
 * the device number on bus 0, as VMware's scsi0 at 16 is 00:10.0), and the
 * device paths SeaBIOS's boot.c builds for each driver (ata/ahci
 * bootprio_find_ata_device, lsi/mpt/pvscsi bootprio_find_scsi_device, nvme
 * bootprio_find_pci_device) with its '*' glob for the device name.
 */
#include <stdlib.h>

#include "devices/firmware.h"
#include "devices/slots.h"
#include "formats/config.h"
#include "formats/vmx.h"
#include "test.h"

static struct vm_config *build(const char *text)
{
    struct vmx *v;
    struct vm_config *c;
    struct error e = {0};
    if (vmx_parse(text, strlen(text), "/vms/t/t.vmx", &v, &e) < 0)
        FAIL("parse: %s", e.msg);
    int rc = config_build(v, "/vms/t/t.vmx", &c, &e);
    vmx_free(v);
    if (rc < 0)
        FAIL("build: %s", e.msg);
    return c;
}

/* The plan with its warnings captured in buf. */
static void plan(const struct vm_config *c, struct pc_slots *s, char *buf, size_t len)
{
    FILE *f = fmemopen(buf, len, "w");
    ASSERT(f != NULL);
    pc_slots_plan(c, s, f);
    fclose(f);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

TEST(defaults_without_pci_slot_numbers)
{
    struct vm_config *c = build("scsi0.present = \"TRUE\"\nsata0.present = \"TRUE\"\n"
                                "nvme1.present = \"TRUE\"\nethernet0.present = \"TRUE\"\n");
    struct pc_slots s;
    char log[512] = "";
    plan(c, &s, log, sizeof log);
    ASSERT_EQ(s.nic[0], 3);
    ASSERT_EQ(s.scsi[0], 0x10);
    ASSERT_EQ(s.sata[0], 0x14);
    ASSERT_EQ(s.nvme[1], 0x19);
    ASSERT_STR_EQ(log, "");
    config_free(c);
}

/* Workstation's own numbers: scsi0 16 (bus 0), sata0 33 and ethernet0 160 (behind bridges). */
TEST(vmware_numbers_bus0_followed_bridges_ignored)
{
    struct vm_config *c = build("scsi0.present = \"TRUE\"\nscsi0.pciSlotNumber = \"16\"\n"
                                "sata0.present = \"TRUE\"\nsata0.pciSlotNumber = \"33\"\n"
                                "ethernet0.present = \"TRUE\"\nethernet0.pciSlotNumber = \"160\"\n"
                                "nvme0.present = \"TRUE\"\nnvme0.pciSlotNumber = \"9\"\n"
                                "scsi1.present = \"TRUE\"\nscsi1.pciSlotNumber = \"1184\"\n");
    struct pc_slots s;
    char log[512] = "";
    plan(c, &s, log, sizeof log);
    ASSERT_EQ(s.scsi[0], 16);
    ASSERT_EQ(s.scsi[1], 0x11);
    ASSERT_EQ(s.sata[0], 0x14);
    ASSERT_EQ(s.nic[0], 3);
    ASSERT_EQ(s.nvme[0], 9);
    ASSERT_STR_EQ(log, "");
    config_free(c);
}

/* Two devices asking for one slot, and one asking for the VGA's: one line each, never two
 * devices in a slot; a default taken by a followed number moves to the first free slot. */
TEST(conflicts_warn_once_and_never_share_a_slot)
{
    struct vm_config *c = build("ethernet0.present = \"TRUE\"\nethernet0.pciSlotNumber = \"20\"\n"
                                "scsi0.present = \"TRUE\"\nscsi0.pciSlotNumber = \"20\"\n"
                                "sata0.present = \"TRUE\"\n"
                                "nvme0.present = \"TRUE\"\nnvme0.pciSlotNumber = \"2\"\n"
                                "ethernet1.present = \"TRUE\"\n");
    struct pc_slots s;
    char log[1024] = "";
    plan(c, &s, log, sizeof log);
    ASSERT_EQ(s.nic[0], 20);
    ASSERT_EQ(s.scsi[0], 0x10);   /* conflict: its default */
    ASSERT_EQ(s.nvme[0], 0x18);   /* the VGA's slot: its default */
    ASSERT_EQ(s.nic[1], 4);
    ASSERT(s.sata[0] != 20 && s.sata[0] >= 3 && s.sata[0] < 32);
    ASSERT_EQ(s.sata[0], 3);      /* 14h is ethernet0's: the first free slot from 03 */
    ASSERT_EQ(lines(log), 3);
    ASSERT(strstr(log, "scsi0.pciSlotNumber = 20") != NULL);
    ASSERT(strstr(log, "nvme0.pciSlotNumber = 2") != NULL);
    ASSERT(strstr(log, "sata0: its default slot 14") != NULL);
    int used[32] = {0};
    int all[] = {s.nic[0], s.nic[1], s.scsi[0], s.sata[0], s.nvme[0]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ASSERT_EQ(used[all[i]]++, 0);
    config_free(c);
}

TEST(hostile_pci_slot_numbers)
{
    static const char *vals[] = {"-1", "0", "31", "32", "2147483647"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "scsi0.present = \"TRUE\"\nscsi0.pciSlotNumber = \"%s\"\n", vals[i]);
        struct vm_config *c = build(text);
        struct pc_slots s;
        char log[512] = "";
        plan(c, &s, log, sizeof log);
        ASSERT(s.scsi[0] >= 3 && s.scsi[0] < 32);
        config_free(c);
    }
}

static struct vm_disk disk(enum vm_bus bus, int ctrl, int unit, enum vm_disk_type type)
{
    struct vm_disk d = {.bus = bus, .ctrl = ctrl, .unit = unit, .type = type, .start_connected = true};
    static const char *names[] = {"ide", "scsi", "sata", "nvme"};
    snprintf(d.slot, sizeof d.slot, "%s%d:%d", names[bus], ctrl, unit);
    d.scsi_dev = VM_SCSI_LSILOGIC;
    d.path = (char *)(type == VM_DISK_HDD ? "/x.vmdk" : "/x.iso");
    return d;
}

/* Every bus's path as SeaBIOS builds it, bios.hddOrder first, an NVMe controller named once. */
TEST(boot_order_names_every_bus_and_follows_hdd_order)
{
    struct vm_disk disks[] = {
        disk(VM_BUS_IDE, 1, 0, VM_DISK_CDROM_IMAGE), disk(VM_BUS_SCSI, 0, 1, VM_DISK_HDD),
        disk(VM_BUS_SCSI, 1, 3, VM_DISK_CDROM_IMAGE), disk(VM_BUS_SATA, 0, 2, VM_DISK_HDD),
        disk(VM_BUS_NVME, 0, 0, VM_DISK_HDD),         disk(VM_BUS_NVME, 0, 1, VM_DISK_HDD),
    };
    struct vm_config c = {.disks = disks, .ndisks = sizeof disks / sizeof disks[0]};
    c.scsi_present[0] = c.scsi_present[1] = c.sata_present[0] = c.nvme_present[0] = true;
    for (int i = 0; i < VM_MAX_NICS; i++)
        c.nic[i].pci_slot = -1;
    c.scsi_pci_slot[0] = 16;
    c.scsi_pci_slot[1] = c.sata_pci_slot[0] = -1;
    c.nvme_pci_slot[0] = 7;
    char out[1024];
    firmware_bootorder(&c, out, sizeof out);
    ASSERT_STR_EQ(out, "/pci@i0cf8/scsi@10/channel@0/disk@1,0\n"
                       "/pci@i0cf8/sata@14/drive@2/disk@0\n"
                       "/pci@i0cf8/nvme@7\n"
                       "/pci@i0cf8/ide@1,1/drive@1/disk@0\n"
                       "/pci@i0cf8/scsi@11/channel@0/disk@3,0\n");
    c.boot_order = "cdrom, hdd";
    c.hdd_order = "nvme0:1,sata0:2, ide0:0,scsi1:3";
    firmware_bootorder(&c, out, sizeof out);
    ASSERT_STR_EQ(out, "/pci@i0cf8/ide@1,1/drive@1/disk@0\n"
                       "/pci@i0cf8/scsi@11/channel@0/disk@3,0\n"
                       "/pci@i0cf8/nvme@7\n"
                       "/pci@i0cf8/sata@14/drive@2/disk@0\n"
                       "/pci@i0cf8/scsi@10/channel@0/disk@1,0\n");
    /* ethernetN and unknown words are skipped; a tiny buffer holds whole lines only. */
    c.boot_order = "ethernet0,bogus,hdd";
    char small[40];
    firmware_bootorder(&c, small, sizeof small);
    ASSERT_STR_EQ(small, "/pci@i0cf8/nvme@7\n");
}
