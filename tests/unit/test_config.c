/*
 * formats/config.c: the four real .vmx samples give the values written in
 * them (read by hand from the files), VMware's generated-MAC rule reproduces
 * the generatedAddress VMware stored in the samples, and every validation
 * rule is checked on a fixture, including the file:line: key of its error.
 */
#include "formats/config.h"
#include "tests/unit/test.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define ASSERT_HAS(msg, part)                                                       \
    do {                                                                            \
        if (!strstr((msg), (part)))                                                 \
            FAIL("\"%s\" does not contain \"%s\"", (msg), (part));                  \
    } while (0)

static struct vm_config *build_at(const char *text, const char *path)
{
    struct vmx *v;
    struct vm_config *c;
    struct error e = { 0 };
    if (vmx_parse(text, strlen(text), path, &v, &e) < 0)
        FAIL("parse: %s", e.msg);
    int rc = config_build(v, path, &c, &e);
    vmx_free(v);
    if (rc < 0)
        FAIL("build: %s", e.msg);
    return c;
}

static struct vm_config *build(const char *text)
{
    return build_at(text, "/vms/t/t.vmx");
}

static struct error build_bad(const char *text)
{
    struct vmx *v;
    struct vm_config *c = (struct vm_config *)1;
    struct error e = { 0 };
    if (vmx_parse(text, strlen(text), "/vms/t/t.vmx", &v, &e) < 0)
        FAIL("parse: %s", e.msg);
    int rc = config_build(v, "/vms/t/t.vmx", &c, &e);
    vmx_free(v);
    if (rc == 0)
        FAIL("accepted: %s", text);
    ASSERT(c == NULL);
    return e;
}

static struct vm_config *sample(const char *name, char *path, size_t n)
{
    const char *dir = test_samples_dir();
    if (!dir)
        SKIP_NO_SAMPLES();
    snprintf(path, n, "%s/vmx/%s", dir, name);
    if (access(path, R_OK) != 0)
        SKIP("%s missing", path);
    struct vm_config *c;
    struct error e = { 0 };
    if (config_load(path, &c, &e) < 0)
        FAIL("%s", e.msg);
    return c;
}

static const struct vm_key *unknown(const struct vm_config *c, const char *key)
{
    for (size_t i = 0; i < c->nunknown; i++)
        if (!strcasecmp(c->unknown[i].key, key))
            return &c->unknown[i];
    return NULL;
}

static void assert_mac(const uint8_t *mac, const char *want)
{
    char s[18];
    snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
    ASSERT_STR_EQ(s, want);
}

/* path is the file name next to vmx: same folder (by realpath), same base name. */
static void assert_sibling(const char *path, const char *vmx, const char *name)
{
    char a[1024], b[1024], ra[PATH_MAX], rb[PATH_MAX];
    ASSERT(path && path[0] == '/');
    const char *ps = strrchr(path, '/'), *vs = strrchr(vmx, '/');
    ASSERT_STR_EQ(ps + 1, name);
    snprintf(a, sizeof a, "%.*s", (int)(ps - path), path);
    snprintf(b, sizeof b, "%.*s", (int)(vs - vmx), vmx);
    ASSERT(realpath(a, ra) && realpath(b, rb));
    ASSERT_STR_EQ(ra, rb);
}

/* dir/name with dir made absolute. */
static void abs_join(char *out, size_t n, const char *dir, const char *name)
{
    char cwd[1024] = "";
    if (dir[0] != '/')
        ASSERT(getcwd(cwd, sizeof cwd));
    snprintf(out, n, "%s%s%s/%s", cwd, cwd[0] ? "/" : "", dir, name);
}

/* ---- the samples ---- */

TEST(sample_workstation)
{
    char path[1024];
    struct vm_config *c = sample("ws-in-the-wild-1.vmx", path, sizeof path);
    ASSERT_STR_EQ(c->display_name, "debian6");
    ASSERT_STR_EQ(c->guest_os, "debian6-64");
    ASSERT_EQ(c->memsize_mib, 512);
    ASSERT_EQ(c->numvcpus, 1);
    ASSERT_EQ(c->hw_version, 8);
    ASSERT_EQ(c->firmware, VM_FW_BIOS);
    ASSERT(!c->has_uuid_bios);
    ASSERT(c->scsi_present[0] && c->scsi_dev[0] == VM_SCSI_LSILOGIC);
    ASSERT_EQ(c->ndisks, 2);
    ASSERT_STR_EQ(c->disks[0].slot, "ide1:0");
    ASSERT_EQ(c->disks[0].type, VM_DISK_CDROM_IMAGE);
    ASSERT_STR_EQ(c->disks[0].path, "/usr/lib/vmware/isoimages/linux.iso");
    ASSERT_STR_EQ(c->disks[1].slot, "scsi0:0");
    ASSERT_EQ(c->disks[1].bus, VM_BUS_SCSI);
    ASSERT_EQ(c->disks[1].type, VM_DISK_HDD);
    ASSERT_EQ(c->disks[1].mode, VM_MODE_PERSISTENT);
    ASSERT(c->disks[1].start_connected);
    ASSERT_STR_EQ(c->disks[1].file_name, "/data/vmware/disk.vmdk");
    ASSERT_STR_EQ(c->disks[1].path, "/data/vmware/disk.vmdk");
    ASSERT_EQ(c->disks[1].line, 13);
    ASSERT(c->floppy[0].present && !c->floppy[0].start_connected && !c->floppy[0].path);
    ASSERT(!c->floppy[1].present);
    ASSERT(c->nic[0].present && !c->nic[1].present);
    ASSERT_EQ(c->nic[0].dev, VM_NIC_E1000);
    ASSERT_EQ(c->nic[0].conn, VM_NET_NAT);
    ASSERT_EQ(c->nic[0].addr_type, VM_ADDR_STATIC);
    ASSERT_EQ(c->nic[0].mac_source, VM_MAC_STORED);
    assert_mac(c->nic[0].mac, "00:50:56:2f:d3:46");
    ASSERT(!c->serial[0].present);
    ASSERT(c->sound_present && c->usb_present && c->ehci_present && !c->xhci_present);
    ASSERT(!c->checkpoint_vmstate);
    ASSERT_EQ(unknown(c, "vcpu.hotadd")->line, 9);
    ASSERT(unknown(c, "powerType.reset"));
    ASSERT(!unknown(c, "serial0.present"));
    ASSERT(!unknown(c, "sound.fileName"));
    ASSERT(!unknown(c, "memsize"));

    struct error e = { 0 };
    ASSERT_EQ(config_check_files(c, &e), -1);
    ASSERT_EQ(e.code, EX_NOINPUT);
    ASSERT_HAS(e.msg, "ws-in-the-wild-1.vmx:13: scsi0:0.fileName: disk /data/vmware/disk.vmdk");
    ASSERT_HAS(e.msg, "(and 1 more missing)");
    config_free(c);
}

TEST(sample_esx)
{
    char path[1024];
    static const uint8_t uuid[16] = { 0x42, 0x00, 0x93, 0x72, 0x17, 0xda, 0xbe, 0x73,
                                      0x77, 0x9d, 0x00, 0x7c, 0xcf, 0x1b, 0xd2, 0x28 };
    struct vm_config *c = sample("esx-in-the-wild-9.vmx", path, sizeof path);
    ASSERT_STR_EQ(c->display_name, "v2v-windows-kkulkarn");
    ASSERT_STR_EQ(c->guest_os, "windows8srv-64");
    ASSERT_EQ(c->memsize_mib, 16384); /* written memSize */
    ASSERT_EQ(c->numvcpus, 16);
    ASSERT_EQ(config_vcpus_run(c), 1); /* one vCPU runs today */
    ASSERT_EQ(c->cores_per_socket, 4);
    ASSERT_EQ(c->hw_version, 10);
    ASSERT_EQ(c->svga_vram_size, 8388608);
    ASSERT(c->has_uuid_bios);
    ASSERT_MEM_EQ(c->uuid_bios, uuid, 16);
    ASSERT(c->scsi_present[0] && c->scsi_dev[0] == VM_SCSI_LSISAS1068);
    ASSERT(c->sata_present[0] && !c->sata_present[1]);
    ASSERT_EQ(c->ndisks, 2);
    ASSERT_STR_EQ(c->disks[0].slot, "scsi0:0");
    ASSERT_EQ(c->disks[0].type, VM_DISK_HDD); /* scsi-hardDisk */
    assert_sibling(c->disks[0].path, path, "v2v-windows-kkulkarn.vmdk");
    ASSERT_STR_EQ(c->disks[0].file_name, "v2v-windows-kkulkarn.vmdk");
    ASSERT_STR_EQ(c->disks[1].slot, "sata0:0");
    ASSERT_EQ(c->disks[1].bus, VM_BUS_SATA);
    ASSERT_EQ(c->disks[1].type, VM_DISK_CDROM_RAW);
    ASSERT(!c->disks[1].start_connected && c->disks[1].client_device && !c->disks[1].path);
    ASSERT(c->floppy[0].present && c->floppy[0].client_device && !c->floppy[0].path);
    ASSERT_EQ(c->nic[0].dev, VM_NIC_VMXNET3);
    ASSERT_EQ(c->nic[0].addr_type, VM_ADDR_VPX);
    assert_mac(c->nic[0].mac, "00:50:56:80:b3:81");
    ASSERT_STR_EQ(c->nic[0].network_name, "VM Network");
    ASSERT(!c->tools_sync_time);
    ASSERT(!c->sound_present && !c->usb_present);
    ASSERT(unknown(c, "sched.scsi0:0.shares"));
    ASSERT_EQ(unknown(c, "annotation")->line, 71);

    struct error e = { 0 };
    char want[1200];
    snprintf(want, sizeof want, "%s:15: scsi0:0.fileName: disk %s does not exist", path,
             c->disks[0].path);
    ASSERT_EQ(config_check_files(c, &e), -1);
    ASSERT_EQ(e.code, EX_NOINPUT);
    ASSERT_STR_EQ(e.msg, want);
    config_free(c);
}

TEST(sample_fusion)
{
    char path[1024];
    struct vm_config *c = sample("fusion-in-the-wild-1.vmx", path, sizeof path);
    ASSERT_STR_EQ(c->display_name, "ATTM_VM");
    ASSERT_STR_EQ(c->guest_os, "winxppro");
    ASSERT_EQ(c->memsize_mib, 3572);
    ASSERT_EQ(c->numvcpus, 2);
    ASSERT(c->scsi_present[0] && c->scsi_dev[0] == VM_SCSI_BUSLOGIC);
    ASSERT_EQ(c->ndisks, 2);
    ASSERT_STR_EQ(c->disks[0].slot, "ide0:0");
    ASSERT_EQ(c->disks[0].type, VM_DISK_CDROM_RAW);
    ASSERT_STR_EQ(c->disks[0].file_name, "auto detect"); /* written ide0:0.filename */
    ASSERT(!c->disks[0].start_connected);
    ASSERT_STR_EQ(c->disks[1].slot, "scsi0:0");
    assert_sibling(c->disks[1].path, path, "ATTM_VM.vmdk");
    for (int i = 0; i < 2; i++) {
        ASSERT(c->nic[i].present);
        ASSERT_EQ(c->nic[i].dev, VM_NIC_VLANCE); /* no virtualDev, 32-bit guest */
        ASSERT_EQ(c->nic[i].conn, VM_NET_BRIDGED);
        ASSERT_EQ(c->nic[i].addr_type, VM_ADDR_GENERATED);
        ASSERT_EQ(c->nic[i].mac_source, VM_MAC_STORED);
    }
    assert_mac(c->nic[0].mac, "00:0c:29:3b:64:ea");
    assert_mac(c->nic[1].mac, "00:0c:29:3b:64:f4");
    ASSERT(c->sound_present && c->usb_present && c->ehci_present);
    ASSERT(!unknown(c, "usb:1.deviceType"));
    ASSERT(unknown(c, "scsi0:0.redo"));

    struct error e = { 0 };
    ASSERT_EQ(config_check_files(c, &e), -1);
    ASSERT_HAS(e.msg, ":23: scsi0:0.fileName: disk ");
    ASSERT_HAS(e.msg, c->disks[1].path);
    config_free(c);
}

TEST(sample_gsx)
{
    char path[1024];
    struct vm_config *c = sample("gsx-in-the-wild-4.vmx", path, sizeof path);
    ASSERT_STR_EQ(c->display_name, "Client");
    ASSERT_STR_EQ(c->guest_os, "other26xlinux");
    ASSERT_EQ(c->memsize_mib, 264);
    ASSERT_EQ(c->hw_version, 4);
    ASSERT(c->scsi_present[0] && c->scsi_dev[0] == VM_SCSI_LSILOGIC);
    ASSERT_EQ(c->ndisks, 1); /* ide1:0.present = "FALSE" */
    ASSERT_STR_EQ(c->disks[0].slot, "ide0:0");
    ASSERT_EQ(c->disks[0].mode, VM_MODE_INDEPENDENT_PERSISTENT);
    assert_sibling(c->disks[0].path, path, "Debian-System1-0-cl2.vmdk");
    ASSERT(!c->disks[0].write_through && !unknown(c, "ide0:0.writeThrough"));
    ASSERT(!unknown(c, "ide1:0.fileName") && !unknown(c, "ide1:0.deviceType"));
    ASSERT(!c->floppy[0].present);
    ASSERT(!unknown(c, "floppy0.fileName"));
    ASSERT_EQ(c->nic[0].conn, VM_NET_CUSTOM);
    ASSERT_EQ(c->nic[0].dev, VM_NIC_VLANCE);
    assert_mac(c->nic[0].mac, "00:0c:29:c5:e3:5d");
    ASSERT_STR_EQ(c->nic[0].network_name, "net2");
    ASSERT(!c->sound_present && c->usb_present);
    ASSERT(!unknown(c, "sound.virtualDev"));
    ASSERT_EQ(unknown(c, "ethernet0.vnet")->line, 47);
    ASSERT_EQ(unknown(c, "uuid.action")->line, 54);
    config_free(c);
}

/* The sample text without its generatedAddress lines: vmplay derives what VMware stored. */
static struct vm_config *sample_without_generated(const char *name, char *path, size_t n)
{
    config_free(sample(name, path, n));
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 1 << 16), line[512];
    while (fgets(line, sizeof line, f))
        if (!strstr(line, "generatedAddress ="))
            strcat(text, line);
    fclose(f);
    struct vm_config *c = build_at(text, path);
    free(text);
    return c;
}

TEST(generated_mac_rule_reproduces_samples)
{
    char path[1024];
    struct vm_config *c = sample_without_generated("fusion-in-the-wild-1.vmx", path, sizeof path);
    ASSERT_EQ(c->nic[0].mac_source, VM_MAC_FROM_UUID);
    assert_mac(c->nic[0].mac, "00:0c:29:3b:64:ea"); /* offset 0 */
    assert_mac(c->nic[1].mac, "00:0c:29:3b:64:f4"); /* offset 10 */
    config_free(c);
    c = sample_without_generated("gsx-in-the-wild-4.vmx", path, sizeof path);
    ASSERT_EQ(c->nic[0].mac_source, VM_MAC_FROM_UUID);
    assert_mac(c->nic[0].mac, "00:0c:29:c5:e3:5d");
    config_free(c);
}

/* ---- defaults ---- */

TEST(defaults_of_an_empty_vmx)
{
    struct vm_config *c = build("");
    ASSERT_STR_EQ(c->display_name, "t");
    ASSERT_STR_EQ(c->guest_os, "other");
    ASSERT_EQ(c->memsize_mib, 32);
    ASSERT_EQ(c->numvcpus, 1);
    ASSERT_EQ(c->firmware, VM_FW_BIOS);
    ASSERT_EQ(c->ndisks, 0);
    ASSERT(c->floppy[0].present && !c->floppy[0].path && !c->floppy[1].present);
    ASSERT(!c->nic[0].present && !c->serial[0].present);
    ASSERT_EQ(c->svga_vram_size, 4 << 20);
    ASSERT(!c->vnc_enabled);
    ASSERT_EQ(c->vnc_port, 5900);
    ASSERT_STR_EQ(c->dir, "/vms/t");
    ASSERT_EQ(c->nunknown, 0);
    config_free(c);
}

TEST(general_keys)
{
    struct vm_config *c = build("displayName = \"X|22Y\"\nmemsize = \"2048\"\nnumvcpus = \"4\"\n"
                                "firmware = \"EFI\"\nuuid.bios = \"00 11 22 33 44 55 66 77-88 99 "
                                "aa bb cc dd ee ff\"\nuuid.location = \"00112233445566778899aabbccddeeff\"\n"
                                "RemoteDisplay.vnc.enabled = \"TRUE\"\nRemoteDisplay.vnc.port = \"5901\"\n"
                                "RemoteDisplay.vnc.password = \"secret\"\ntools.syncTime = \"TRUE\"\n"
                                "checkpoint.vmState = \"t.vmss\"\nbios.bootOrder = \"cdrom,hdd\"\n"
                                "bios.hddOrder = \"scsi0:0\"\nusb_xhci.present = \"TRUE\"\n"
                                "svga.vramSize = \"16777216\"\n");
    static const uint8_t u[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    ASSERT_STR_EQ(c->display_name, "X\"Y");
    ASSERT_EQ(c->memsize_mib, 2048);
    ASSERT_EQ(c->numvcpus, 4);
    ASSERT_EQ(c->firmware, VM_FW_EFI);
    ASSERT_MEM_EQ(c->uuid_bios, u, 16);
    ASSERT_MEM_EQ(c->uuid_location, u, 16);
    ASSERT(c->vnc_enabled);
    ASSERT_EQ(c->vnc_port, 5901);
    ASSERT_STR_EQ(c->vnc_password, "secret");
    ASSERT(c->tools_sync_time);
    ASSERT_STR_EQ(c->checkpoint_vmstate, "t.vmss");
    ASSERT_STR_EQ(c->boot_order, "cdrom,hdd");
    ASSERT_STR_EQ(c->hdd_order, "scsi0:0");
    ASSERT(c->xhci_present);
    ASSERT_EQ(c->svga_vram_size, 16 << 20);
    ASSERT_EQ(c->nunknown, 0);
    config_free(c);
}

/* ---- disks ---- */

TEST(disk_slots_types_modes_and_paths)
{
    struct vm_config *c = build(
        "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"sys.vmdk\"\n"
        "ide0:1.present = \"TRUE\"\nide0:1.fileName = \"sub/inst.ISO\"\nide0:1.startConnected = \"no\"\n"
        "scsi1.present = \"TRUE\"\nscsi1.virtualDev = \"pvscsi\"\n"
        "scsi1:15.present = \"TRUE\"\nscsi1:15.fileName = \"/abs/d.vmdk\"\n"
        "scsi1:15.mode = \"Independent-NonPersistent\"\n"
        "sata0.present = \"TRUE\"\nsata0:29.present = \"TRUE\"\nsata0:29.fileName = \"r.vmdk\"\n"
        "sata0:29.deviceType = \"rawDisk\"\n"
        "nvme3.present = \"TRUE\"\nnvme3:14.present = \"TRUE\"\nnvme3:14.fileName = \"n.vmdk\"\n"
        "nvme3:14.mode = \"undoable\"\nnvme3:14.writeThrough = \"TRUE\"\n"
        "ide0:0.writethrough = \"false\"\n");
    ASSERT_EQ(c->ndisks, 5);
    ASSERT(!c->disks[0].write_through && !c->disks[3].write_through);
    ASSERT(c->disks[4].write_through);
    ASSERT_STR_EQ(c->disks[0].slot, "ide0:0");
    ASSERT_EQ(c->disks[0].type, VM_DISK_HDD);
    ASSERT_STR_EQ(c->disks[0].path, "/vms/t/sys.vmdk");
    ASSERT_STR_EQ(c->disks[1].slot, "ide0:1");
    ASSERT_EQ(c->disks[1].type, VM_DISK_CDROM_IMAGE); /* by the .iso name */
    ASSERT_STR_EQ(c->disks[1].file_name, "sub/inst.ISO");
    ASSERT_STR_EQ(c->disks[1].path, "/vms/t/sub/inst.ISO");
    ASSERT(!c->disks[1].start_connected);
    ASSERT(c->scsi_present[1] && c->scsi_dev[1] == VM_SCSI_PVSCSI);
    ASSERT_STR_EQ(c->disks[2].slot, "scsi1:15");
    ASSERT_EQ(c->disks[2].ctrl, 1);
    ASSERT_EQ(c->disks[2].unit, 15);
    ASSERT_EQ(c->disks[2].mode, VM_MODE_INDEPENDENT_NONPERSISTENT);
    ASSERT_STR_EQ(c->disks[2].path, "/abs/d.vmdk");
    ASSERT_EQ(c->disks[2].line, 9);
    ASSERT_EQ(c->disks[3].bus, VM_BUS_SATA);
    ASSERT_EQ(c->disks[3].type, VM_DISK_RAWDISK);
    ASSERT_STR_EQ(c->disks[4].slot, "nvme3:14");
    ASSERT_EQ(c->disks[4].bus, VM_BUS_NVME);
    ASSERT_EQ(c->disks[4].mode, VM_MODE_UNDOABLE);
    ASSERT_STR_EQ(c->disks[4].path, "/vms/t/n.vmdk");
    ASSERT_EQ(c->nunknown, 0);
    config_free(c);
}

TEST(disk_modes_all_named)
{
    static const struct {
        const char *name;
        enum vm_disk_mode mode;
    } m[] = {
        { "persistent", VM_MODE_PERSISTENT },
        { "nonpersistent", VM_MODE_NONPERSISTENT },
        { "independent-persistent", VM_MODE_INDEPENDENT_PERSISTENT },
        { "independent-nonpersistent", VM_MODE_INDEPENDENT_NONPERSISTENT },
        { "undoable", VM_MODE_UNDOABLE },
    };
    char t[256];
    for (size_t i = 0; i < 5; i++) {
        snprintf(t, sizeof t, "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"a.vmdk\"\n"
                              "ide0:0.mode = \"%s\"\n", m[i].name);
        struct vm_config *c = build(t);
        ASSERT_EQ(c->disks[0].mode, m[i].mode);
        ASSERT_STR_EQ(config_disk_mode_name(c->disks[0].mode), m[i].name);
        config_free(c);
    }
}

TEST(relative_vmx_path_resolves_against_cwd)
{
    char cwd[1024], want[1100];
    ASSERT(getcwd(cwd, sizeof cwd));
    struct vm_config *c = build_at("ide0:0.present = \"TRUE\"\nide0:0.fileName = \"d.vmdk\"\n",
                                   "sub/x.vmx");
    snprintf(want, sizeof want, "%s/sub/d.vmdk", cwd);
    ASSERT_STR_EQ(c->disks[0].path, want);
    config_free(c);
    c = build_at("ide0:0.present = \"TRUE\"\nide0:0.fileName = \"d.vmdk\"\n", "x.vmx");
    snprintf(want, sizeof want, "%s/d.vmdk", cwd);
    ASSERT_STR_EQ(c->disks[0].path, want);
    ASSERT_STR_EQ(c->display_name, "x");
    config_free(c);
}

TEST(present_false_switches_the_subtree_off)
{
    struct vm_config *c = build(
        "scsi0.present = \"FALSE\"\nscsi0.virtualDev = \"bogus\"\nscsi0:0.present = \"TRUE\"\n"
        "scsi0:0.fileName = \"a.vmdk\"\nethernet0.present = \"false\"\n"
        "ethernet0.virtualDev = \"bogus\"\nethernet0.address = \"zz\"\nide0:0.present = \"FALSE\"\n"
        "ide0:0.deviceType = \"bogus\"\nserial0.present = \"FALSE\"\nserial0.fileType = \"x\"\n"
        "floppy0.present = \"FALSE\"\nfloppy0.fileName = \"/dev/fd0\"\nsound.present = \"FALSE\"\n"
        "sound.virtualDev = \"es1371\"\nscsi1:0.present = \"TRUE\"\n");
    ASSERT_EQ(c->ndisks, 0);
    ASSERT(!c->scsi_present[0] && !c->nic[0].present && !c->serial[0].present);
    ASSERT(!c->floppy[0].present && !c->sound_present);
    ASSERT_EQ(c->nunknown, 0);
    config_free(c);
}

/* ---- floppies, serial ports, NICs ---- */

TEST(floppy_and_serial)
{
    struct vm_config *c = build(
        "floppy0.fileName = \"boot.flp\"\nfloppy1.present = \"TRUE\"\nfloppy1.fileType = \"file\"\n"
        "floppy1.fileName = \"/f/b.bin\"\nfloppy1.startConnected = \"FALSE\"\n"
        "serial0.present = \"TRUE\"\nserial0.fileType = \"file\"\nserial0.fileName = \"com1.txt\"\n"
        "serial0.yieldOnMsrRead = \"TRUE\"\nserial1.present = \"TRUE\"\nserial1.fileType = \"pipe\"\n"
        "serial1.fileName = \"/tmp/com2\"\nserial2.present = \"TRUE\"\nserial2.fileType = \"thinprint\"\n"
        "serial3.present = \"TRUE\"\nserial3.fileName = \"/dev/ttyS0\"\n");
    ASSERT(c->floppy[0].present && c->floppy[0].type == VM_FLOPPY_FILE);
    ASSERT_STR_EQ(c->floppy[0].path, "/vms/t/boot.flp");
    ASSERT(c->floppy[1].present && !c->floppy[1].start_connected);
    ASSERT_STR_EQ(c->floppy[1].path, "/f/b.bin");
    ASSERT_EQ(c->serial[0].type, VM_SERIAL_FILE);
    ASSERT_STR_EQ(c->serial[0].path, "/vms/t/com1.txt");
    ASSERT_EQ(c->serial[1].type, VM_SERIAL_PIPE);
    ASSERT_STR_EQ(c->serial[1].path, "/tmp/com2");
    ASSERT_EQ(c->serial[2].type, VM_SERIAL_THINPRINT);
    ASSERT_EQ(c->serial[3].type, VM_SERIAL_DEVICE);
    ASSERT_STR_EQ(c->serial[3].file_name, "/dev/ttyS0");
    ASSERT(!c->serial[3].path);
    ASSERT_EQ(c->nunknown, 1);
    ASSERT_STR_EQ(c->unknown[0].key, "serial0.yieldOnMsrRead");
    ASSERT_EQ(c->unknown[0].line, 9);
    config_free(c);
}

TEST(nic_devices_and_generated_macs)
{
    struct vm_config *c = build(
        "guestOS = \"ubuntu-64\"\nuuid.bios = \"56 4d 00 00 00 00 00 00-00 00 00 00 00 aa bb f0\"\n"
        "ethernet0.present = \"TRUE\"\nethernet1.present = \"TRUE\"\nethernet1.virtualDev = \"e1000e\"\n"
        "ethernet1.generatedAddressOffset = \"20\"\nethernet1.connectionType = \"hostonly\"\n"
        "ethernet9.present = \"TRUE\"\nethernet9.virtualDev = \"vmxnet\"\n"
        "ethernet9.addressType = \"static\"\nethernet9.address = \"00-50-56-00-00-01\"\n");
    ASSERT_EQ(c->nic[0].dev, VM_NIC_E1000); /* 64-bit guest default */
    ASSERT_EQ(c->nic[0].mac_source, VM_MAC_FROM_UUID);
    assert_mac(c->nic[0].mac, "00:0c:29:aa:bb:f0");
    ASSERT_EQ(c->nic[1].dev, VM_NIC_E1000E);
    ASSERT_EQ(c->nic[1].conn, VM_NET_HOSTONLY);
    assert_mac(c->nic[1].mac, "00:0c:29:aa:bb:04"); /* 0xf0 + 20, in the last byte */
    ASSERT_EQ(c->nic[9].dev, VM_NIC_VMXNET);
    assert_mac(c->nic[9].mac, "00:50:56:00:00:01");
    config_free(c);
}

TEST(nic_without_uuid_gets_a_stable_mac_from_the_path)
{
    const char *t = "ethernet0.present = \"TRUE\"\n";
    struct vm_config *a = build_at(t, "/vms/a/a.vmx"), *b = build_at(t, "/vms/a/a.vmx"),
                     *d = build_at(t, "/vms/b/b.vmx");
    ASSERT_EQ(a->nic[0].mac_source, VM_MAC_FROM_PATH);
    ASSERT_MEM_EQ(a->nic[0].mac, "\x00\x0c\x29", 3);
    ASSERT_MEM_EQ(a->nic[0].mac, b->nic[0].mac, 6);
    ASSERT(memcmp(a->nic[0].mac, d->nic[0].mac, 6) != 0);
    config_free(a);
    config_free(b);
    config_free(d);
}

/* Cards whose .vmx gives no generatedAddressOffset are spaced as VMware writes them
 * (ethernetN at N * 10), with or without uuid.bios: no two share a MAC. */
TEST(nics_without_offsets_get_distinct_macs)
{
    struct vm_config *c = build(
        "uuid.bios = \"56 4d 00 00 00 00 00 00-00 00 00 00 00 aa bb 10\"\n"
        "ethernet0.present = \"TRUE\"\nethernet1.present = \"TRUE\"\nethernet3.present = \"TRUE\"\n");
    assert_mac(c->nic[0].mac, "00:0c:29:aa:bb:10");
    assert_mac(c->nic[1].mac, "00:0c:29:aa:bb:1a");
    assert_mac(c->nic[3].mac, "00:0c:29:aa:bb:2e");
    config_free(c);
    struct vm_config *d = build_at("ethernet0.present = \"TRUE\"\nethernet1.present = \"TRUE\"\n",
                                   "/vms/a/a.vmx");
    ASSERT_MEM_EQ(d->nic[0].mac, d->nic[1].mac, 5);
    ASSERT_EQ((uint8_t)(d->nic[1].mac[5] - d->nic[0].mac[5]), 10);
    config_free(d);
}

/* ---- validation: one line, file:line: key ---- */

TEST(validation_errors_name_file_line_and_key)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        { "a = \"1\"\nmemsize = \"lots\"\n", "/vms/t/t.vmx:2: memsize: \"lots\" is not a number" },
        { "memsize = \"0\"\n", "/vms/t/t.vmx:1: memsize: 0 is out of range (1 to 65536)" },
        { "memSize = \"65537\"\n", "/vms/t/t.vmx:1: memSize: 65537 is out of range (1 to 65536)" },
        { "numvcpus = \"0\"\n", "/vms/t/t.vmx:1: numvcpus: 0 is out of range (1 to 64)" },
        { "numvcpus = \"65\"\n", "/vms/t/t.vmx:1: numvcpus: 65 is out of range (1 to 64)" },
        { "x = \"1\"\nide2:0.present = \"TRUE\"\n", "/vms/t/t.vmx:2: ide2:0.present: no such slot" },
        { "ide0:2.fileName = \"a\"\n", "/vms/t/t.vmx:1: ide0:2.fileName: no such slot" },
        { "scsi0:7.present = \"TRUE\"\n", "/vms/t/t.vmx:1: scsi0:7.present: no such slot" },
        { "scsi4.present = \"TRUE\"\n", "/vms/t/t.vmx:1: scsi4.present: no such slot" },
        { "ethernet10.present = \"TRUE\"\n", "/vms/t/t.vmx:1: ethernet10.present: no such device" },
        { "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"a.vmdk\"\nide0:0.deviceType = \"tape\"\n",
          "/vms/t/t.vmx:3: ide0:0.deviceType: unknown value \"tape\"" },
        { "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"a.vmdk\"\nide0:0.mode = \"sometimes\"\n",
          "/vms/t/t.vmx:3: ide0:0.mode: unknown value \"sometimes\"" },
        { "ide0:0.present = \"perhaps\"\n", "/vms/t/t.vmx:1: ide0:0.present: \"perhaps\" is not a boolean" },
        { "ide0:1.present = \"TRUE\"\nide0:1.fileName = \"a.vmdk\"\nide0:1.writeThrough = \"maybe\"\n",
          "/vms/t/t.vmx:3: ide0:1.writeThrough: \"maybe\" is not a boolean" },
        { "ide0:0.present = \"TRUE\"\n", "/vms/t/t.vmx:1: ide0:0.fileName: a present disk needs a file name" },
        { "scsi0.present = \"TRUE\"\nscsi0.virtualDev = \"aha1542\"\n",
          "/vms/t/t.vmx:2: scsi0.virtualDev: unknown value \"aha1542\" (expected lsilogic, buslogic, pvscsi, lsisas1068)" },
        { "ethernet0.present = \"TRUE\"\nethernet0.virtualDev = \"rtl8139\"\n",
          "/vms/t/t.vmx:2: ethernet0.virtualDev: unknown value \"rtl8139\"" },
        { "ethernet0.present = \"TRUE\"\nethernet0.connectionType = \"wifi\"\n",
          "/vms/t/t.vmx:2: ethernet0.connectionType: unknown value \"wifi\"" },
        { "ethernet0.present = \"TRUE\"\nethernet0.addressType = \"static\"\n",
          "ethernet0.addressType is static but ethernet0.address is missing" },
        { "ethernet0.present = \"TRUE\"\nethernet0.generatedAddress = \"00:0c:29:zz:00:00\"\n",
          "/vms/t/t.vmx:2: ethernet0.generatedAddress: \"00:0c:29:zz:00:00\" is not a MAC address" },
        { "firmware = \"uefi\"\n", "/vms/t/t.vmx:1: firmware: unknown value \"uefi\"" },
        { "uuid.bios = \"56 4d 00\"\n", "/vms/t/t.vmx:1: uuid.bios: \"56 4d 00\" is not a UUID" },
        { "serial0.present = \"TRUE\"\nserial0.fileType = \"modem\"\n",
          "/vms/t/t.vmx:2: serial0.fileType: unknown value \"modem\"" },
        { "svga.vramSize = \"12\"\n", "/vms/t/t.vmx:1: svga.vramSize: 12 is out of range" },
        { "RemoteDisplay.vnc.port = \"70000\"\n", "/vms/t/t.vmx:1: RemoteDisplay.vnc.port: 70000" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct error e = build_bad(cases[i].text);
        ASSERT_EQ(e.code, EX_DATAERR);
        ASSERT_HAS(e.msg, cases[i].want);
        ASSERT(!strchr(e.msg, '\n'));
    }
}

/* ---- the file check ---- */

static void touch(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ASSERT(f);
    fclose(f);
}

TEST(check_files)
{
    const char *dir = test_tmpdir();
    char vmx[1024];
    snprintf(vmx, sizeof vmx, "%s/m.vmx", dir);
    touch(dir, "d.vmdk");
    const char *t = "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"d.vmdk\"\n"
                    "ide1:0.present = \"TRUE\"\nide1:0.fileName = \"gone.iso\"\n"
                    "ide1:0.startConnected = \"FALSE\"\nfloppy0.fileName = \"f.flp\"\n";
    struct vm_config *c = build_at(t, vmx);
    struct error e = { 0 };
    ASSERT_EQ(config_check_files(c, &e), -1); /* f.flp is connected and missing */
    ASSERT_EQ(e.code, EX_NOINPUT);
    char want[2400], flp[1100];
    abs_join(flp, sizeof flp, dir, "f.flp");
    snprintf(want, sizeof want, "%s:6: floppy0.fileName: floppy image %s does not exist", vmx, flp);
    ASSERT_STR_EQ(e.msg, want);
    touch(dir, "f.flp");
    ASSERT_EQ(config_check_files(c, &e), 0); /* the disconnected ISO does not count */
    config_free(c);
}

/* One file in two slots: by inode, a written one (hard disk, floppy) refused, two ISOs allowed. */
TEST(check_files_same_file_twice)
{
    const char *dir = test_tmpdir();
    char vmx[1024], link[1100], target[1100];
    snprintf(vmx, sizeof vmx, "%s/t.vmx", dir);
    touch(dir, "t.vmdk");
    touch(dir, "t.iso");
    snprintf(link, sizeof link, "%s/l.vmdk", dir);
    abs_join(target, sizeof target, dir, "t.vmdk");
    unlink(link);
    ASSERT_EQ(symlink(target, link), 0);
    struct vm_config *c = build_at("ide0:0.present = \"TRUE\"\nide0:0.fileName = \"t.vmdk\"\n"
                                   "ide1:0.present = \"TRUE\"\nide1:0.deviceType = \"cdrom-image\"\n"
                                   "ide1:0.fileName = \"t.iso\"\n"
                                   "ide1:1.present = \"TRUE\"\nide1:1.deviceType = \"cdrom-image\"\n"
                                   "ide1:1.fileName = \"t.iso\"\n", vmx);
    struct error e = { 0 };
    ASSERT_EQ(config_check_files(c, &e), 0); /* two CD-ROMs on one ISO */
    config_free(c);
    c = build_at("ide0:0.present = \"TRUE\"\nide0:0.fileName = \"t.vmdk\"\n"
                 "sata0.present = \"TRUE\"\nsata0:4.present = \"TRUE\"\nsata0:4.fileName = \"l.vmdk\"\n", vmx);
    ASSERT_EQ(config_check_files(c, &e), -1);
    ASSERT_EQ(e.code, EX_DATAERR);
    char want[2400], abs_link[1100];
    abs_join(abs_link, sizeof abs_link, dir, "l.vmdk");
    snprintf(want, sizeof want, "%s:5: sata0:4.fileName names the same file as ide0:0.fileName "
             "(line 2), %s; a VM can hold a disk only once", vmx, abs_link);
    ASSERT_STR_EQ(e.msg, want);
    config_free(c);
    c = build_at("ide1:0.present = \"TRUE\"\nide1:0.deviceType = \"cdrom-image\"\n"
                 "ide1:0.fileName = \"t.iso\"\nide1:0.startConnected = \"FALSE\"\n"
                 "floppy0.fileType = \"file\"\nfloppy0.fileName = \"t.iso\"\n", vmx);
    ASSERT_EQ(config_check_files(c, &e), 0); /* the disconnected CD-ROM is not opened */
    config_free(c);
}

/* ---- the printer ---- */

TEST(print_is_stable)
{
    struct vm_config *c = build(
        "displayName = \"Demo\"\nguestOS = \"otherlinux\"\nmemsize = \"128\"\n"
        "uuid.bios = \"56 4d 01 02 03 04 05 06-07 08 09 0a 0b 0c 0d 0e\"\n"
        "ide0:0.present = \"TRUE\"\nide0:0.fileName = \"demo.vmdk\"\n"
        "ide0:1.present = \"TRUE\"\nide0:1.fileName = \"data.vmdk\"\nide0:1.writeThrough = \"TRUE\"\n"
        "ide1:0.present = \"TRUE\"\nide1:0.fileName = \"cd.iso\"\n"
        "floppy0.present = \"FALSE\"\nethernet0.present = \"TRUE\"\nethernet0.virtualDev = \"e1000\"\n"
        "ethernet0.connectionType = \"nat\"\nserial0.present = \"TRUE\"\nserial0.fileType = \"file\"\n"
        "serial0.fileName = \"s.txt\"\ncheckpoint.vmState = \"Demo.vmss\"\nusb.present = \"TRUE\"\n"
        "answer.msg = \"x\"\n");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    config_print(c, f, true);
    fclose(f);
    const char *want =
        "name       Demo\n"
        "file       /vms/t/t.vmx\n"
        "guest OS   otherlinux\n"
        "memory     128 MiB\n"
        "CPUs       1 (1 per socket)\n"
        "firmware   bios\n"
        "uuid.bios  56 4d 01 02 03 04 05 06-07 08 09 0a 0b 0c 0d 0e\n"
        "ide0:0     disk         persistent                 /vms/t/demo.vmdk\n"
        "ide0:1     disk         persistent                 /vms/t/data.vmdk (write-through)\n"
        "ide1:0     cdrom-image  -                          /vms/t/cd.iso\n"
        "ethernet0  e1000    00:0c:29:0c:0d:0e (generated, derived from uuid.bios) nat\n"
        "serial0    file /vms/t/s.txt\n"
        "svga       vram 4096 KiB\n"
        "platform   VMware: CPUID hypervisor bit, leaf 0x40000000 \"VMwareVMware\", "
        "leaf 0x40000010 TSC and APIC bus kHz\n"
        "backdoor   port 0x5658: version, time, vmmouse, RPC with 0 guestinfo keys\n"
        "suspended  Demo.vmss: vmplay cannot resume a suspended VM yet\n"
        "not emulated usb\n"
        "keys vmplay does not use: 1\n"
        "  line 21: answer.msg = \"x\"\n";
    ASSERT_STR_EQ(buf, want);
    free(buf);
    config_free(c);
}

/* uuid.bios and the generatedAddress values VMware stored in published .vmx files. */
TEST(generated_mac_rule_matches_published_pairs)
{
    static const struct {
        uint8_t uuid[16];
        const char *mac[3]; /* offsets 0, 10, 20 */
    } pub[] = {
        { { 0x56, 0x4d, 0x89, 0xe6, 0xb3, 0x6d, 0x8f, 0x4b, 0xec, 0x83, 0x0e, 0xe1, 0x92, 0x7c, 0xbf, 0x81 },
          { "00:0c:29:7c:bf:81", "00:0c:29:7c:bf:8b", "00:0c:29:7c:bf:95" } },
        { { 0x56, 0x4d, 0x8b, 0x6f, 0x33, 0x49, 0xda, 0x71, 0x22, 0x5c, 0x70, 0xdd, 0xd8, 0x60, 0x5f, 0xc1 },
          { "00:0c:29:60:5f:c1", "00:0c:29:60:5f:cb", "00:0c:29:60:5f:d5" } },
        { { 0x56, 0x4d, 0x13, 0x7a, 0xa9, 0x32, 0x1e, 0x82, 0x0c, 0xce, 0x85, 0x9c, 0xd6, 0xef, 0x24, 0x3c },
          { "00:0c:29:ef:24:3c", "00:0c:29:ef:24:46", "00:0c:29:ef:24:50" } },
    };
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++)
        for (int n = 0; n < 3; n++) {
            uint8_t mac[6];
            config_generated_mac(pub[i].uuid, 10 * n, mac);
            assert_mac(mac, pub[i].mac[n]);
        }
}

/* Which SCSI disks the board presents: pvscsi ones; the LSI Logic ones say which controller is
 * missing; without virtualDev the first disk's ddb.adapterType decides (lsilogic when none). */
TEST(scsi_models_and_presented_disks)
{
    const char *dir = test_tmpdir();
    char vmx[512], desc[512];
    snprintf(desc, sizeof desc, "%s/a.vmdk", dir);
    FILE *f = fopen(desc, "w");
    ASSERT(f);
    fputs("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
          "createType=\"monolithicFlat\"\nRW 2048 FLAT \"a-flat.vmdk\" 0\n"
          "ddb.virtualHWVersion = \"19\"\nddb.adapterType = \"pvscsi\"\n", f);
    fclose(f);
    snprintf(desc, sizeof desc, "%s/a-flat.vmdk", dir);
    f = fopen(desc, "w");
    ASSERT(f);
    ASSERT_EQ(ftruncate(fileno(f), 1 << 20), 0);
    fclose(f);
    snprintf(vmx, sizeof vmx, "%s/t.vmx", dir);
    struct vm_config *c = build_at(
        "scsi0.present = \"TRUE\"\nscsi0:0.present = \"TRUE\"\nscsi0:0.fileName = \"a.vmdk\"\n"
        "scsi1.present = \"TRUE\"\nscsi1.virtualDev = \"lsilogic\"\n"
        "scsi1:1.present = \"TRUE\"\nscsi1:1.fileName = \"a.vmdk\"\n"
        "scsi2.present = \"TRUE\"\nscsi2:0.present = \"TRUE\"\nscsi2:0.fileName = \"none.vmdk\"\n"
        "scsi3.present = \"TRUE\"\nscsi3.virtualDev = \"pvscsi\"\n"
        "scsi3:2.present = \"TRUE\"\nscsi3:2.fileName = \"x.iso\"\n", vmx);
    ASSERT_EQ(c->scsi_dev[0], VM_SCSI_DEFAULT);
    ASSERT_EQ(c->scsi_model[0], VM_SCSI_PVSCSI);    /* from ddb.adapterType */
    ASSERT_EQ(c->scsi_model[1], VM_SCSI_LSILOGIC);  /* virtualDev wins */
    ASSERT_EQ(c->scsi_model[2], VM_SCSI_LSILOGIC);  /* no readable disk: VMware's default */
    ASSERT_EQ(c->ndisks, 4);
    const char *why = NULL;
    ASSERT(config_disk_presented(&c->disks[0], &why));
    ASSERT(config_disk_presented(&c->disks[1], &why)); /* lsilogic */
    ASSERT(config_disk_presented(&c->disks[2], NULL));
    ASSERT_EQ(c->disks[3].type, VM_DISK_CDROM_IMAGE);
    ASSERT(config_disk_presented(&c->disks[3], NULL));
    ASSERT(!config_scsi_emulated(VM_SCSI_BUSLOGIC, &why));
    ASSERT_STR_EQ(why, "the BusLogic controller (buslogic) is not emulated");
    config_free(c);
}

TEST(guestinfo_keys_carried_and_used)
{
    struct vm_config *c = build("config.version = \"8\"\n"
                                "guestinfo.ci.marker = \"hello guest\"\n"
                                "GuestInfo.Second = \"2\"\n"
                                "guestinfo. = \"no name\"\n"
                                "monitor_control.restrict_backdoor = \"TRUE\"\n");
    ASSERT_EQ(c->nguestinfo, 2);
    ASSERT_STR_EQ(c->guestinfo[0].key, "ci.marker");
    ASSERT_STR_EQ(c->guestinfo[0].value, "hello guest");
    ASSERT_STR_EQ(c->guestinfo[1].key, "Second");
    ASSERT(c->backdoor_restricted);
    ASSERT_EQ(c->nunknown, 1); /* only the nameless "guestinfo." */
    ASSERT_STR_EQ(c->unknown[0].key, "guestinfo.");
    config_free(c);
}
