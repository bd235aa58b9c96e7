/*
 * formats/ovf.c, ovf_pkg.c, ovf_disk.c: an envelope written as VMware's
 * exports write them gives the machine its Items mean by their CIM
 * ResourceType (DSP0243 / CIM_ResourceAllocationSettingData: 3 processor,
 * 4 memory, 5 IDE, 6 parallel SCSI, 10 Ethernet, 14 floppy, 15 CD, 17 disk,
 * 20 other storage), hostile XML (DOCTYPE, entities, deep nesting, cut text)
 * is refused with EX_DATAERR, what vmplay cannot present gives EX_UNAVAILABLE,
 * and a package built by GNU tar with a sha1sum manifest loads (pax long
 * names too) while a changed byte is refused. The disk in a package reads
 * what qemu-img put into the streamOptimized VMDK, and writes persist in the
 * copy-on-write file, not in the package.
 */
#include "formats/config.h"
#include "formats/ovf.h"
#include "tests/unit/test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD                                                                                   \
    "<?xml version=\"1.0\"?>\n<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" "     \
    "xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" xmlns:rasd=\"http://schemas.dmtf."   \
    "org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\" xmlns:vmw=\"http://www." \
    "vmware.com/schema/ovf\" xmlns:vssd=\"x\">\n"
#define REFS                                                                                   \
    "<References><File ovf:href=\"disk-1.vmdk\" ovf:id=\"file1\"/>"                            \
    "<File ovf:href=\"disk-2.vmdk\" ovf:id=\"file2\"/></References>\n"                         \
    "<DiskSection><Info>d</Info>"                                                              \
    "<Disk ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\" ovf:format=\"http://www.vmware.com/"   \
    "interfaces/specifications/vmdk.html#streamOptimized\"/>"                                  \
    "<Disk ovf:diskId=\"vmdisk2\" ovf:fileRef=\"file2\" ovf:format=\"http://www.vmware.com/"   \
    "interfaces/specifications/vmdk.html#streamOptimized\"/></DiskSection>\n"
#define ITEM(body) "<Item>" body "</Item>\n"
#define VS_OPEN                                                                                \
    "<VirtualSystem ovf:id=\"vm1\"><Info>i</Info><Name>web &amp; db &lt;1&gt;</Name>"          \
    "<OperatingSystemSection ovf:id=\"96\" vmw:osType=\"debian11_64Guest\"><Info>o</Info>"      \
    "</OperatingSystemSection><VirtualHardwareSection><Info>h</Info><System>"                   \
    "<vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType></System>\n"
#define VS_CLOSE "</VirtualHardwareSection></VirtualSystem></Envelope>\n"

static const char full[] = HEAD REFS VS_OPEN
    ITEM("<rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>"
         "<rasd:VirtualQuantity>4</rasd:VirtualQuantity><vmw:CoresPerSocket ovf:required=\"false\">2"
         "</vmw:CoresPerSocket>")
    ITEM("<rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>"
         "<rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity>")
    ITEM("<rasd:Address>1</rasd:Address><rasd:InstanceID>3</rasd:InstanceID>"
         "<rasd:ResourceType>5</rasd:ResourceType>")
    ITEM("<rasd:Address>0</rasd:Address><rasd:InstanceID>4</rasd:InstanceID>"
         "<rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType>")
    ITEM("<rasd:Address>0</rasd:Address><rasd:InstanceID>5</rasd:InstanceID>"
         "<rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType>")
    ITEM("<rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/vmdisk1"
         "</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>4</rasd:Parent>"
         "<rasd:ResourceType>17</rasd:ResourceType>")
    ITEM("<rasd:AddressOnParent>2</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/vmdisk2"
         "</rasd:HostResource><rasd:InstanceID>7</rasd:InstanceID><rasd:Parent>5</rasd:Parent>"
         "<rasd:ResourceType>17</rasd:ResourceType>")
    ITEM("<rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:AutomaticAllocation>false"
         "</rasd:AutomaticAllocation><rasd:InstanceID>8</rasd:InstanceID><rasd:Parent>3</rasd:Parent>"
         "<rasd:ResourceType>15</rasd:ResourceType>")
    ITEM("<rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>VM Network"
         "</rasd:Connection><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceSubType>VmxNet3"
         "</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType>")
    ITEM("<rasd:InstanceID>10</rasd:InstanceID><rasd:ResourceSubType>E1000e</rasd:ResourceSubType>"
         "<rasd:ResourceType>10</rasd:ResourceType><rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>")
    ITEM("<rasd:InstanceID>11</rasd:InstanceID><rasd:ResourceType>14</rasd:ResourceType>")
    ITEM("<rasd:InstanceID>12</rasd:InstanceID><rasd:ResourceType>23</rasd:ResourceType>"
         "<rasd:ResourceSubType>vmware.usb.ehci</rasd:ResourceSubType>")
    "<vmw:Config ovf:required=\"false\" vmw:key=\"firmware\" vmw:value=\"efi\"/>"
    "<vmw:ExtraConfig ovf:required=\"false\" vmw:key=\"svga.vramSize\" vmw:value=\"16777216\"/>"
    "<vmw:ExtraConfig ovf:required=\"false\" vmw:key=\"annotation\" vmw:value=\"a &quot;b&quot; |c&apos;\"/>"
    VS_CLOSE;

static struct vm_config *load_text(const char *xml, const char *path, struct error *e)
{
    char *vmx = NULL;
    struct vmx *v = NULL;
    struct vm_config *c = NULL;
    if (ovf_to_vmx(xml, strlen(xml), path, &vmx, NULL, e) == 0 &&
        vmx_parse(vmx, strlen(vmx), path, &v, e) == 0)
        config_build(v, path, &c, e);
    vmx_free(v);
    free(vmx);
    return c;
}

static const struct vm_disk *disk(const struct vm_config *c, const char *slot)
{
    for (size_t i = 0; i < c->ndisks; i++)
        if (!strcmp(c->disks[i].slot, slot))
            return &c->disks[i];
    FAIL("no disk %s", slot);
}

TEST(envelope_gives_the_machine)
{
    struct error e = {0};
    struct vm_config *c = load_text(full, "/vms/p.ovf", &e);
    if (!c)
        FAIL("%s", e.msg);
    ASSERT_STR_EQ(c->display_name, "web & db <1>");
    ASSERT_STR_EQ(c->guest_os, "debian11_64Guest");
    ASSERT_EQ(c->hw_version, 14);
    ASSERT_EQ(c->numvcpus, 4);
    ASSERT_EQ(c->cores_per_socket, 2);
    ASSERT_EQ(c->memsize_mib, 2048);
    ASSERT_EQ(c->firmware, VM_FW_EFI);
    ASSERT(c->scsi_present[0]);
    ASSERT_EQ(c->scsi_dev[0], VM_SCSI_PVSCSI);
    ASSERT(c->sata_present[0]);
    const struct vm_disk *d = disk(c, "scsi0:1");
    ASSERT_EQ(d->type, VM_DISK_HDD);
    ASSERT_STR_EQ(d->file_name, "disk-1.vmdk");
    ASSERT_STR_EQ(disk(c, "sata0:2")->file_name, "disk-2.vmdk");
    d = disk(c, "ide1:0");
    ASSERT_EQ(d->type, VM_DISK_CDROM_RAW);
    ASSERT(!d->start_connected);
    ASSERT(c->nic[0].present);
    ASSERT_EQ(c->nic[0].dev, VM_NIC_VMXNET3);
    ASSERT(c->nic[0].start_connected);
    ASSERT_EQ(c->nic[1].dev, VM_NIC_E1000E);
    ASSERT(!c->nic[1].start_connected);
    ASSERT(c->floppy[0].present);
    ASSERT(!c->floppy[0].start_connected);
    ASSERT(c->ehci_present);
    ASSERT_EQ(c->svga_vram_size, 16777216);
    bool annotation = false;
    for (size_t i = 0; i < c->nunknown; i++)
        if (!strcmp(c->unknown[i].key, "annotation")) {
            ASSERT_STR_EQ(c->unknown[i].value, "a \"b\" |c'");
            annotation = true;
        }
    ASSERT(annotation);
    config_free(c);
}

static struct error bad(const char *xml)
{
    struct error e = {0};
    struct vm_config *c = load_text(xml, "p.ovf", &e);
    if (c)
        FAIL("accepted: %.200s", xml);
    return e;
}

#define ASSERT_HAS(msg, part)                                                                  \
    do {                                                                                       \
        if (!strstr((msg), (part)))                                                            \
            FAIL("\"%s\" does not contain \"%s\"", (msg), (part));                             \
    } while (0)

TEST(hostile_xml_is_refused)
{
    struct error e = bad("<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY a \"aaaaaaaa\">"
                         "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><Envelope>&b;</Envelope>");
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "DOCTYPE");
    char *deep = malloc(200 * 20 + 100);
    strcpy(deep, "<Envelope>");
    for (int i = 0; i < 200; i++)
        strcat(deep, "<a>");
    e = bad(deep);
    free(deep);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "nested deeper");
    e = bad(HEAD REFS VS_OPEN ITEM("<rasd:ResourceType>3</rasd:Resource"));
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "not an OVF envelope");
    e = bad(HEAD "</Envelope>");
    ASSERT_HAS(e.msg, "no VirtualSystem");
    e = bad(HEAD REFS VS_OPEN ITEM("<rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>3"
            "</rasd:ResourceType><rasd:VirtualQuantity>99999999999999999999</rasd:VirtualQuantity>")
            VS_CLOSE);
    ASSERT_EQ(e.code, EX_DATAERR);
    e = bad(HEAD REFS VS_OPEN ITEM("<rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>99</rasd:Parent>"
            "<rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:ResourceType>17"
            "</rasd:ResourceType>") VS_CLOSE);
    ASSERT_HAS(e.msg, "Parent \"99\"");
}

TEST(what_cannot_be_presented_is_unavailable)
{
    struct error e = bad(HEAD REFS VS_OPEN ITEM("<rasd:InstanceID>4</rasd:InstanceID>"
                         "<rasd:ResourceSubType>megaraid</rasd:ResourceSubType><rasd:ResourceType>6"
                         "</rasd:ResourceType>") VS_CLOSE);
    ASSERT_EQ(e.code, EX_UNAVAILABLE);
    ASSERT_HAS(e.msg, "megaraid");
    e = bad(HEAD REFS VS_OPEN ITEM("<rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>7"
            "</rasd:ResourceType>") VS_CLOSE);
    ASSERT_EQ(e.code, EX_UNAVAILABLE);
    e = bad(HEAD "<References><File ovf:href=\"d.vmdk.gz\" ovf:id=\"f\" ovf:compression=\"gzip\"/>"
            "</References><DiskSection><Disk ovf:diskId=\"d\" ovf:fileRef=\"f\" ovf:format=\"http://"
            "www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/></DiskSection>"
            VS_OPEN ITEM("<rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType>")
            ITEM("<rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:HostResource>"
                 "ovf:/disk/d</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType>") VS_CLOSE);
    ASSERT_EQ(e.code, EX_UNAVAILABLE);
    ASSERT_HAS(e.msg, "compressed");
    e = bad(HEAD "<VirtualSystem ovf:id=\"a\"></VirtualSystem><VirtualSystem ovf:id=\"b\">"
            "</VirtualSystem></Envelope>");
    ASSERT_EQ(e.code, EX_UNAVAILABLE);
}

static int sh(const char *fmt, const char *a)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, a, a, a, a, a);
    return system(cmd);
}

/* A package from qemu-img (the disk), GNU tar and sha1sum, in dir; 0 or skip. */
static void make_package(const char *dir)
{
    if (system("command -v qemu-img >/dev/null 2>&1 && command -v tar >/dev/null 2>&1"))
        SKIP("qemu-img or tar not installed");
    FILE *f;
    char p[600];
    snprintf(p, sizeof p, "%s/p.ovf", dir);
    ASSERT((f = fopen(p, "w")));
    const char *env = HEAD "<References><File ovf:href=\"a-disk-file-with-a-long-name-that-"
        "needs-more-than-the-hundred-bytes-of-a-ustar-header-name-field-0123456789.vmdk\" "
        "ovf:id=\"f\"/></References><DiskSection><Disk ovf:diskId=\"d\" ovf:fileRef=\"f\" "
        "ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>"
        "</DiskSection>" VS_OPEN ITEM("<rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5"
        "</rasd:ResourceType>") ITEM("<rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>3</rasd:Parent>"
        "<rasd:HostResource>ovf:/disk/d</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType>")
        VS_CLOSE;
    fputs(env, f);
    fclose(f);
    /* 4 MiB of known bytes: sector s holds the text "sector <s>" */
    ASSERT_EQ(sh("cd %s && for s in $(seq 0 8191); do printf 'sector %%-504d\\n' $s; done > raw.img && "
                 "qemu-img convert -f raw -O vmdk -o subformat=streamOptimized raw.img "
                 "a-disk-file-with-a-long-name-that-needs-more-than-the-hundred-bytes-of-a-ustar-"
                 "header-name-field-0123456789.vmdk && sha1sum p.ovf a-disk-*.vmdk | sed 's/^\\([0-9a-f]*\\)  \\(.*\\)$/SHA1(\\2)= \\1/' > p.mf && "
                 "tar --format=pax -cf p.ova p.ovf p.mf a-disk-*.vmdk", dir), 0);
}

TEST(package_loads_and_disk_reads_in_place)
{
    const char *dir = test_tmpdir();
    make_package(dir);
    char ova[600], raw[600];
    snprintf(ova, sizeof ova, "%s/p.ova", dir);
    snprintf(raw, sizeof raw, "%s/raw.img", dir);
    struct error e = {0};
    struct vm_config *c;
    if (ovf_load(ova, &c, NULL, &e))
        FAIL("%s", e.msg);
    const struct vm_disk *d = disk(c, "ide0:0");
    ASSERT_STR_EQ(d->path, ova);
    ASSERT(d->window_off > 0 && d->window_len > 0);
    struct blockdev_open_opts o = {.media = MEDIA_DISK, .window_off = d->window_off,
                                   .window_len = d->window_len, .overlay = d->overlay};
    struct blockdev *bd;
    if (blockdev_open(d->path, &o, &bd, &e))
        FAIL("%s", e.msg);
    ASSERT_EQ(bd->sectors, 8192);
    static uint8_t got[8192 * 512], want[8192 * 512];
    FILE *f = fopen(raw, "rb");
    ASSERT(f && fread(want, 1, sizeof want, f) == sizeof want);
    fclose(f);
    ASSERT_EQ(blockdev_read(bd, 0, 8192, got), 0);
    ASSERT_MEM_EQ(got, want, sizeof want);
    /* a partial-cluster write and a run across clusters */
    uint8_t w[3 * 512];
    memset(w, 0xa5, sizeof w);
    ASSERT_EQ(blockdev_write(bd, 9, 3, w), 0);
    memcpy(want + 9 * 512, w, sizeof w);
    ASSERT_EQ(blockdev_flush(bd), 0);
    blockdev_close(bd);
    char before[700], after[700];
    snprintf(before, sizeof before, "sha256sum < %s > %s/sum1", ova, dir);
    ASSERT_EQ(system(before), 0);
    if (blockdev_open(d->path, &o, &bd, &e))
        FAIL("reopen: %s", e.msg);
    ASSERT_EQ(blockdev_read(bd, 0, 8192, got), 0);
    ASSERT_MEM_EQ(got, want, sizeof want);
    blockdev_close(bd);
    /* --snapshot: the persistent file is not read or written */
    o.snapshot = true;
    if (blockdev_open(d->path, &o, &bd, &e))
        FAIL("snapshot: %s", e.msg);
    ASSERT_EQ(blockdev_read(bd, 9, 1, got), 0);
    ASSERT_MEM_EQ(got, "sector 9 ", 9);
    blockdev_close(bd);
    snprintf(after, sizeof after, "cd %s && sha256sum < p.ova | cmp -s - sum1", dir);
    ASSERT_EQ(system(after), 0);
    config_free(c);
}

TEST(changed_byte_is_refused_by_the_manifest)
{
    const char *dir = test_tmpdir();
    make_package(dir);
    char ova[600];
    snprintf(ova, sizeof ova, "%s/p.ova", dir);
    int fd = open(ova, O_RDWR);
    ASSERT(fd >= 0);
    struct stat st;
    ASSERT(fstat(fd, &st) == 0);
    /* the disk is the last member: a byte in its middle */
    ASSERT(pwrite(fd, "Z", 1, st.st_size - 20000) == 1);
    close(fd);
    struct error e = {0};
    struct vm_config *c;
    ASSERT(ovf_load(ova, &c, NULL, &e) < 0);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "does not match its SHA1 digest");
}

TEST(not_a_tar_is_refused)
{
    const char *dir = test_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/x.ova", dir);
    FILE *f = fopen(p, "w");
    ASSERT(f);
    for (int i = 0; i < 2048; i++)
        fputc('A' + i % 26, f);
    fclose(f);
    struct error e = {0};
    struct vm_config *c;
    ASSERT(ovf_load(p, &c, NULL, &e) < 0);
    ASSERT_EQ(e.code, EX_DATAERR);
    ASSERT_HAS(e.msg, "not a tar archive");
}
