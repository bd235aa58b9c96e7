/*
 * The AHCI controller (devices/ahci.c) driven the way Linux's libahci and
 * SeaBIOS's ahci.c drive it, through PCI config space, ABAR registers and
 * command lists, command tables and received FIS areas in RAM. Oracles: the
 * AHCI 1.3 specification (register reset values and bit positions, the
 * command header and PRD formats, the FIS layouts: D2H register 34h at FB+40h,
 * PIO setup 5Fh at FB+20h with E_Status in byte 15, set device bits A1h at
 * FB+58h; TFES/HBFS/OFS/DPS/SDBS/PSS/DHRS; SACT completion for NCQ), ATA8-ACS
 * (IDENTIFY words, FPDMA command layout, signatures), SPC/MMC (INQUIRY, sense
 * data) and the disk image contents. The hostile cases (command list outside
 * RAM, PRD into MMIO, huge DBC, PRDTL 65535, malformed FISes, random register
 * traffic) must end in the specified error bits, never in a crash (make SAN=1).
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/ahci.h"
#include "devices/bus.h"
#include "devices/firmware.h"
#include "devices/pci.h"
#include "tests/unit/ramdisk.h"
#include "tests/unit/test.h"

#define RAM_SIZE (8u << 20)
#define DEVFN (0x18 << 3)
#define ABAR 0xfebf0000u
#define DISK_SECTORS 16384 /* 8 MiB */
#define CD_BLOCKS 512      /* 1 MiB */

/* Guest memory layout of the tests */
#define CLB(port) (0x10000u + 0x1000u * (port))
#define FB(port) (0x30000u + 0x100u * (port))
#define CT(port, slot) (0x40000u + 0x10000u * (port) + 0x800u * (slot))
#define DATA 0x200000u
#define DATA2 0x400000u

/* Registers (AHCI 1.3 section 3) */
#define CAP 0x00
#define GHC 0x04
#define IS 0x08
#define PI 0x0c
#define VS 0x10
#define CAP2 0x24
#define P_CLB 0x00
#define P_CLBU 0x04
#define P_FB 0x08
#define P_FBU 0x0c
#define P_IS 0x10
#define P_IE 0x14
#define P_CMD 0x18
#define P_TFD 0x20
#define P_SIG 0x24
#define P_SSTS 0x28
#define P_SCTL 0x2c
#define P_SERR 0x30
#define P_SACT 0x34
#define P_CI 0x38

#define CMD_ST 0x1u
#define CMD_SUD 0x2u
#define CMD_POD 0x4u
#define CMD_CLO 0x8u
#define CMD_FRE 0x10u
#define CMD_FR 0x4000u
#define CMD_CR 0x8000u

#define IS_DHRS (1u << 0)
#define IS_PSS (1u << 1)
#define IS_SDBS (1u << 3)
#define IS_DPS (1u << 5)
#define IS_OFS (1u << 24)
#define IS_HBFS (1u << 29)
#define IS_TFES (1u << 30)

/* ---- a RAM disk ---- */

static struct ramdisk *ramdisk_seeded(uint64_t sectors, unsigned seed)
{
    struct ramdisk *r = ramdisk_new(sectors);
    for (uint64_t i = 0; i < 512 * sectors; i++)
        r->data[i] = (uint8_t)(i * 7 + (i >> 9) * 13 + seed);
    return r;
}

/* ---- the rig: RAM, PCI, the AHCI function at 18.0 with a disk on port 0 and a CD on port 1 ---- */

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct ahci *ahci;
    uint8_t *ram;
    struct ramdisk *disk, *cd;
    int intx;
};

static void router(void *opaque, int devfn, int pin, int level)
{
    struct rig *r = opaque;
    if (devfn == DEVFN)
        r->intx = level;
}

static void cfg_write(struct rig *r, unsigned off, uint32_t v, unsigned size)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | (off & ~3u), 4);
    bus_out(r->bus, 0xcfc + (off & 3), v, size);
}

static uint32_t cfg_read(struct rig *r, unsigned off, unsigned size)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | (off & ~3u), 4);
    return bus_in(r->bus, 0xcfc + (off & 3), size);
}

static uint32_t hr(struct rig *r, unsigned off)
{
    return (uint32_t)bus_read(r->bus, ABAR + off, 4);
}

static void hw(struct rig *r, unsigned off, uint32_t v)
{
    bus_write(r->bus, ABAR + off, v, 4);
}

static uint32_t pr(struct rig *r, int port, unsigned off)
{
    return hr(r, 0x100 + 0x80 * port + off);
}

static void pw(struct rig *r, int port, unsigned off, uint32_t v)
{
    hw(r, 0x100 + 0x80 * port + off, v);
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    struct error err;
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->ram = calloc(1, RAM_SIZE);
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    ASSERT_EQ(pci_bus_map_conf_ports(r->pb), 0);
    pci_bus_set_intx_router(r->pb, router, r);
    r->ahci = ahci_new(r->pb, DEVFN, 0);
    ASSERT(r->ahci != NULL);
    r->disk = ramdisk_seeded(DISK_SECTORS, 1);
    r->cd = ramdisk_seeded(CD_BLOCKS * 4, 2);
    ASSERT_EQ(ahci_attach(r->ahci, 0, IDE_DISK, &r->disk->bd, &err), 0);
    ASSERT_EQ(ahci_attach(r->ahci, 1, IDE_CDROM, &r->cd->bd, &err), 0);
    ahci_reset(r->ahci);
    /* What the firmware does: BAR5, memory decoding and bus mastering. */
    cfg_write(r, 0x24, ABAR, 4);
    cfg_write(r, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    return r;
}

static void rig_free(struct rig *r)
{
    ahci_free(r->ahci);
    pci_bus_free(r->pb);
    bus_free(r->bus);
    ramdisk_close(&r->disk->bd);
    ramdisk_close(&r->cd->bd);
    free(r->ram);
    free(r);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t idword(const uint8_t *id, int w)
{
    return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* ---- libahci's sequences ---- */

/* ahci_stop_engine + ahci_stop_fis_rx, then ahci_start_fis_rx and ahci_start_engine. */
static void port_start(struct rig *r, int port)
{
    pw(r, port, P_CMD, pr(r, port, P_CMD) & ~CMD_ST);
    ASSERT_EQ(pr(r, port, P_CMD) & CMD_CR, 0);
    pw(r, port, P_CMD, pr(r, port, P_CMD) & ~CMD_FRE);
    ASSERT_EQ(pr(r, port, P_CMD) & CMD_FR, 0);
    pw(r, port, P_CLB, CLB(port));
    pw(r, port, P_CLBU, 0);
    pw(r, port, P_FB, FB(port));
    pw(r, port, P_FBU, 0);
    pw(r, port, P_SERR, pr(r, port, P_SERR));
    pw(r, port, P_IS, pr(r, port, P_IS));
    pw(r, port, P_CMD, pr(r, port, P_CMD) | CMD_FRE);
    ASSERT(pr(r, port, P_CMD) & CMD_FR);
    pw(r, port, P_CMD, pr(r, port, P_CMD) | CMD_ST);
    ASSERT(pr(r, port, P_CMD) & CMD_CR);
}

struct prd {
    uint64_t addr;
    uint32_t len;
    bool irq;
};

/* A H2D register FIS (C bit set) of a command, as ata_tf_to_fis builds it. */
static void fis_cmd(uint8_t *f, uint8_t command, uint8_t feature, uint64_t lba, uint16_t count)
{
    memset(f, 0, 20);
    f[0] = 0x27;
    f[1] = 0x80;
    f[2] = command;
    f[3] = feature;
    f[4] = (uint8_t)lba;
    f[5] = (uint8_t)(lba >> 8);
    f[6] = (uint8_t)(lba >> 16);
    f[7] = 0x40;
    f[8] = (uint8_t)(lba >> 24);
    f[9] = (uint8_t)(lba >> 32);
    f[10] = (uint8_t)(lba >> 40);
    f[12] = (uint8_t)count;
    f[13] = (uint8_t)(count >> 8);
}

/* Command header and table of a slot; flags are DW0's bits 5-15 (A = 1 << 5, W = 1 << 6). */
static void slot_setup(struct rig *r, int port, int slot, const uint8_t *fis, const uint8_t *acmd,
                       const struct prd *prd, unsigned nprd, uint32_t flags)
{
    uint8_t *h = r->ram + CLB(port) + 32 * slot, *t = r->ram + CT(port, slot);
    memset(h, 0, 32);
    put32(h, 5 | flags | nprd << 16);
    put32(h + 4, 0xdeadbeef); /* PRDBC: the HBA writes it */
    put32(h + 8, CT(port, slot));
    memset(t, 0, 0x80 + 16 * nprd);
    memcpy(t, fis, 20);
    if (acmd)
        memcpy(t + 0x40, acmd, 16);
    for (unsigned i = 0; i < nprd; i++) {
        put32(t + 0x80 + 16 * i, (uint32_t)prd[i].addr);
        put32(t + 0x80 + 16 * i + 4, (uint32_t)(prd[i].addr >> 32));
        put32(t + 0x80 + 16 * i + 12, (prd[i].len - 1) | (prd[i].irq ? 1u << 31 : 0));
    }
}

static uint32_t prdbc(struct rig *r, int port, int slot)
{
    return get32(r->ram + CLB(port) + 32 * slot + 4);
}

static const uint8_t *rfis(struct rig *r, int port, unsigned off)
{
    return r->ram + FB(port) + off;
}

/* Runs one non-queued command in slot 0 and returns PxIS (cleared afterwards). */
static uint32_t run(struct rig *r, int port, const uint8_t *fis, const uint8_t *acmd,
                    const struct prd *prd, unsigned nprd, uint32_t flags)
{
    slot_setup(r, port, 0, fis, acmd, prd, nprd, flags);
    pw(r, port, P_CI, 1);
    uint32_t is = pr(r, port, P_IS);
    pw(r, port, P_IS, is);
    return is;
}

/* SeaBIOS's and libahci's non-queued error recovery: ST off and on again. */
static void recover(struct rig *r, int port)
{
    pw(r, port, P_CMD, pr(r, port, P_CMD) & ~CMD_ST);
    ASSERT_EQ(pr(r, port, P_CMD) & CMD_CR, 0);
    ASSERT_EQ(pr(r, port, P_CI), 0);
    pw(r, port, P_SERR, pr(r, port, P_SERR));
    pw(r, port, P_IS, pr(r, port, P_IS));
    pw(r, port, P_CMD, pr(r, port, P_CMD) | CMD_ST);
}

/* ---- tests ---- */

TEST(pci_identity_as_vmware)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfg_read(r, 0x00, 4), 0x07e015ad);
    ASSERT_EQ(cfg_read(r, 0x08, 4) >> 8, 0x010601); /* mass storage, SATA, AHCI 1.0 */
    ASSERT_EQ(cfg_read(r, 0x2c, 4), 0x07e015ad);
    ASSERT_EQ(cfg_read(r, PCI_INTERRUPT_PIN, 1), 1);
    /* BAR5 is a 32-bit memory BAR of 4 KiB (sizing as the firmware does). */
    cfg_write(r, PCI_COMMAND, 0, 2);
    cfg_write(r, 0x24, 0xffffffff, 4);
    ASSERT_EQ(cfg_read(r, 0x24, 4), 0xfffff000);
    rig_free(r);
}

TEST(register_reset_values_follow_the_spec)
{
    struct rig *r = rig_new();
    uint32_t cap = hr(r, CAP);
    ASSERT_EQ(cap & 0x1f, 29);              /* NP: 30 ports */
    ASSERT_EQ(cap >> 8 & 0x1f, 31);         /* NCS: 32 slots */
    ASSERT(cap & 1u << 31);                 /* S64A */
    ASSERT(cap & 1u << 30);                 /* SNCQ */
    ASSERT(cap & 1u << 18);                 /* SAM: AHCI only */
    ASSERT_EQ(cap >> 20 & 0xf, 3);          /* ISS: Gen 3 */
    ASSERT_EQ(cap & (1u << 27), 0);         /* no staggered spin-up: SUD is 1 */
    ASSERT_EQ(hr(r, GHC), 0x80000000);      /* AE (read-only 1 with SAM), IE 0, HR 0 */
    ASSERT_EQ(hr(r, IS), 0);
    ASSERT_EQ(hr(r, PI), 0x3fffffff);
    ASSERT_EQ(hr(r, VS), 0x00010300);
    ASSERT_EQ(hr(r, CAP2), 0);
    /* A disk that signed on: TFD status 50h error 01h, SIG 00000101h, link up at Gen 3. */
    ASSERT_EQ(pr(r, 0, P_CMD), CMD_SUD | CMD_POD);
    ASSERT_EQ(pr(r, 0, P_TFD), 0x0150);
    ASSERT_EQ(pr(r, 0, P_SIG), 0x00000101);
    ASSERT_EQ(pr(r, 0, P_SSTS), 0x133);
    ASSERT_EQ(pr(r, 0, P_IS) | pr(r, 0, P_IE) | pr(r, 0, P_SACT) | pr(r, 0, P_CI), 0);
    ASSERT_EQ(pr(r, 0, P_SCTL) | pr(r, 0, P_SERR), 0);
    /* The ATAPI signature. */
    ASSERT_EQ(pr(r, 1, P_SIG), 0xeb140101);
    /* An empty port: no device, no link, the reset TFD and SIG. */
    ASSERT_EQ(pr(r, 2, P_SSTS), 0);
    ASSERT_EQ(pr(r, 2, P_SIG), 0xffffffff);
    ASSERT_EQ(pr(r, 2, P_TFD), 0x7f);
    /* GHC: AE cannot be cleared; IE sticks; HR resets the HBA and reads back 0. */
    hw(r, GHC, 0);
    ASSERT_EQ(hr(r, GHC), 0x80000000);
    hw(r, GHC, 2);
    ASSERT_EQ(hr(r, GHC), 0x80000002);
    pw(r, 0, P_IE, 0xffffffff);
    ASSERT_EQ(pr(r, 0, P_IE), 0xfdc000ff);
    pw(r, 0, P_CLB, 0x12345);
    ASSERT_EQ(pr(r, 0, P_CLB), 0x12000); /* 1 KiB aligned */
    hw(r, GHC, 1);
    ASSERT_EQ(hr(r, GHC), 0x80000000);
    ASSERT_EQ(pr(r, 0, P_IE), 0);
    ASSERT_EQ(pr(r, 0, P_SIG), 0x00000101);
    rig_free(r);
}

TEST(port_brought_up_as_libahci_does_and_comreset)
{
    struct rig *r = rig_new();
    hw(r, GHC, 0x80000000);
    hw(r, GHC, 0x80000001); /* ahci_reset_controller */
    ASSERT_EQ(hr(r, GHC) & 1, 0);
    port_start(r, 0);
    ASSERT_EQ(pr(r, 0, P_CMD) & (CMD_ST | CMD_CR | CMD_FRE | CMD_FR), CMD_ST | CMD_CR | CMD_FRE | CMD_FR);
    /* ahci_hardreset: engine stopped, D2H area preset to BSY, COMRESET through SCTL.DET. */
    pw(r, 0, P_CMD, pr(r, 0, P_CMD) & ~CMD_ST);
    memset(r->ram + FB(0) + 0x40, 0, 20);
    r->ram[FB(0) + 0x42] = 0x80;
    pw(r, 0, P_SCTL, 0x301);
    ASSERT((pr(r, 0, P_SSTS) & 0xf) != 3);
    ASSERT(pr(r, 0, P_TFD) & 0x80);
    pw(r, 0, P_SCTL, 0x300);
    ASSERT_EQ(pr(r, 0, P_SSTS), 0x133);
    ASSERT_EQ(pr(r, 0, P_TFD) & 0xff, 0x50);    /* ahci_check_ready: not busy */
    ASSERT_EQ(pr(r, 0, P_SIG), 0x00000101);     /* ahci_dev_classify: ATA */
    const uint8_t *d2h = rfis(r, 0, 0x40);      /* the signature FIS, posted since FRE is on */
    ASSERT_EQ(d2h[0], 0x34);
    ASSERT_EQ(d2h[2], 0x50);
    ASSERT_EQ(d2h[12], 1);
    ASSERT_EQ(d2h[4], 1);
    /* COMRESET of the CD port: the ATAPI signature again. */
    pw(r, 1, P_SCTL, 1);
    pw(r, 1, P_SCTL, 0);
    ASSERT_EQ(pr(r, 1, P_SIG), 0xeb140101);
    /* On an empty port the link stays down. */
    pw(r, 5, P_SCTL, 1);
    pw(r, 5, P_SCTL, 0);
    ASSERT_EQ(pr(r, 5, P_SSTS), 0);
    rig_free(r);
}

TEST(identify_through_a_command_table)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    fis_cmd(fis, 0xec, 0, 0, 0);
    fis[7] = 0;
    struct prd p = {DATA, 512, false};
    uint32_t is = run(r, 0, fis, NULL, &p, 1, 0);
    ASSERT_EQ(pr(r, 0, P_CI), 0);
    /* PIO data-in: the PIO setup FIS is the completion (E_Status), no D2H FIS. */
    ASSERT_EQ(is & (IS_PSS | IS_TFES | IS_DHRS), IS_PSS);
    const uint8_t *ps = rfis(r, 0, 0x20);
    ASSERT_EQ(ps[0], 0x5f);
    ASSERT(ps[1] & 0x20);                 /* D: device to host */
    ASSERT(ps[1] & 0x40);                 /* I */
    ASSERT_EQ(ps[2] & 0x89, 0x08);        /* DRQ, not BSY nor ERR */
    ASSERT_EQ(ps[15], 0x50);              /* E_Status */
    ASSERT_EQ(ps[16] | ps[17] << 8, 512); /* transfer count */
    ASSERT_EQ(pr(r, 0, P_TFD) & 0xff, 0x50);
    ASSERT_EQ(prdbc(r, 0, 0), 512);
    const uint8_t *id = r->ram + DATA;
    char model[41];
    for (int i = 0; i < 20; i++) {
        model[2 * i] = (char)(idword(id, 27 + i) >> 8);
        model[2 * i + 1] = (char)idword(id, 27 + i);
    }
    model[40] = 0;
    ASSERT(!strncmp(model, "VMware Virtual SATA Hard Drive  ", 32));
    ASSERT_EQ(idword(id, 0), 0x0040);
    ASSERT_EQ(idword(id, 75), 31);            /* queue depth 32 */
    ASSERT(idword(id, 76) & 1 << 8);          /* NCQ */
    ASSERT(idword(id, 83) & 1 << 10);         /* LBA48 */
    ASSERT_EQ(idword(id, 100) | (uint32_t)idword(id, 101) << 16, DISK_SECTORS);
    /* IDENTIFY PACKET DEVICE on the disk is aborted (SeaBIOS's probe): TFES, CI kept. */
    fis_cmd(fis, 0xa1, 0, 0, 0);
    is = run(r, 0, fis, NULL, &p, 1, 0);
    ASSERT(is & IS_TFES);
    ASSERT(is & IS_DHRS);
    ASSERT_EQ(pr(r, 0, P_TFD) & 0x01, 0x01);
    ASSERT_EQ(pr(r, 0, P_TFD) >> 8 & 0x04, 0x04); /* ABRT */
    ASSERT_EQ(rfis(r, 0, 0x40)[0], 0x34);
    ASSERT_EQ(rfis(r, 0, 0x40)[2] & 0x01, 0x01);
    ASSERT_EQ(pr(r, 0, P_CI), 1);
    /* The port stays stopped until ST is cleared: another issue does nothing. */
    fis_cmd(fis, 0xec, 0, 0, 0);
    slot_setup(r, 0, 1, fis, NULL, &p, 1, 0);
    pw(r, 0, P_CI, 2);
    ASSERT_EQ(pr(r, 0, P_CI), 3);
    recover(r, 0);
    ASSERT_EQ(run(r, 0, fis, NULL, &p, 1, 0) & (IS_PSS | IS_TFES), IS_PSS);
    ASSERT_EQ(pr(r, 0, P_CI), 0);
    rig_free(r);
}

TEST(read_write_dma_ext_with_multi_prd_tables)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    /* 24 sectors at LBA 5000 from three buffers of 4096, 2048 (with I) and 6144 bytes. */
    for (unsigned i = 0; i < 24 * 512; i++)
        r->ram[DATA + i] = (uint8_t)(i * 31 + 5);
    struct prd w[3] = {{DATA, 4096, false}, {DATA + 4096, 2048, true}, {DATA + 6144, 6144, false}};
    fis_cmd(fis, 0x35, 0, 5000, 24);
    uint32_t is = run(r, 0, fis, NULL, w, 3, 1 << 6);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES | IS_DPS), IS_DHRS | IS_DPS);
    ASSERT_MEM_EQ(r->disk->data + 512 * 5000, r->ram + DATA, 24 * 512);
    ASSERT_EQ(prdbc(r, 0, 0), 24 * 512);
    ASSERT_EQ(rfis(r, 0, 0x40)[0], 0x34);
    ASSERT_EQ(rfis(r, 0, 0x40)[2], 0x50);
    /* Read them back through five odd-sized entries, the last larger than what is left. */
    struct prd rd[5] = {{DATA2, 512, false},  {DATA2 + 512, 1536, false}, {DATA2 + 2048, 1024, false},
                        {DATA2 + 3072, 8192, false}, {DATA2 + 11264, 65536, false}};
    memset(r->ram + DATA2, 0, 0x20000);
    fis_cmd(fis, 0x25, 0, 5000, 24);
    is = run(r, 0, fis, NULL, rd, 5, 0);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES | IS_DPS), IS_DHRS);
    ASSERT_MEM_EQ(r->ram + DATA2, r->ram + DATA, 24 * 512);
    ASSERT_EQ(r->ram[DATA2 + 24 * 512], 0); /* nothing past the data */
    /* READ DMA (28-bit) of a sector beyond the disk: IDNF, TFES. */
    fis_cmd(fis, 0xc8, 0, DISK_SECTORS, 1);
    is = run(r, 0, fis, NULL, rd, 1, 0);
    ASSERT(is & IS_TFES);
    ASSERT_EQ(pr(r, 0, P_TFD) >> 8, 0x10);
    recover(r, 0);
    /* PIO: WRITE SECTORS of 3 sectors (three data-out blocks), READ MULTIPLE back. */
    for (unsigned i = 0; i < 3 * 512; i++)
        r->ram[DATA + i] = (uint8_t)(i ^ 0x5a);
    fis_cmd(fis, 0x30, 0, 77, 3);
    is = run(r, 0, fis, NULL, w, 1, 1 << 6);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES), IS_DHRS);
    ASSERT_MEM_EQ(r->disk->data + 512 * 77, r->ram + DATA, 3 * 512);
    fis_cmd(fis, 0xc6, 0, 0, 2); /* SET MULTIPLE 2 */
    ASSERT_EQ(run(r, 0, fis, NULL, NULL, 0, 0) & IS_TFES, 0);
    memset(r->ram + DATA2, 0, 4096);
    fis_cmd(fis, 0xc4, 0, 77, 3);
    is = run(r, 0, fis, NULL, rd, 5, 0);
    ASSERT_EQ(is & (IS_PSS | IS_TFES | IS_DHRS), IS_PSS);
    ASSERT_EQ(rfis(r, 0, 0x20)[15], 0x50);
    ASSERT_MEM_EQ(r->ram + DATA2, r->ram + DATA, 3 * 512);
    ASSERT_EQ(prdbc(r, 0, 0), 3 * 512);
    rig_free(r);
}

/* READ/WRITE FPDMA QUEUED: count in the features, tag in count 7:3, FUA in device bit 7. */
static void fis_ncq(uint8_t *f, bool write, int tag, uint64_t lba, uint16_t count, bool fua)
{
    fis_cmd(f, write ? 0x61 : 0x60, (uint8_t)count, lba, (uint16_t)(tag << 3));
    f[11] = (uint8_t)(count >> 8);
    f[7] = (uint8_t)(0x40 | (fua ? 0x80 : 0));
}

TEST(ncq_with_several_tags)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    pw(r, 0, P_IE, 0xffffffff);
    /* Tag 7 writes 16 sectors at 300 (FUA); tags 0 and 3 read 8 sectors at 100 and at 300. */
    for (unsigned i = 0; i < 16 * 512; i++)
        r->ram[DATA + 0x10000 + i] = (uint8_t)(i * 3 + 1);
    struct prd p7[2] = {{DATA + 0x10000, 4096, false}, {DATA + 0x11000, 4096, false}};
    struct prd p0 = {DATA2, 4096, false}, p3 = {DATA2 + 0x10000, 4096, false};
    fis_ncq(fis, true, 7, 300, 16, true);
    slot_setup(r, 0, 7, fis, NULL, p7, 2, 1 << 6);
    fis_ncq(fis, false, 0, 100, 8, false);
    slot_setup(r, 0, 0, fis, NULL, &p0, 1, 0);
    fis_ncq(fis, false, 3, 300, 8, false);
    slot_setup(r, 0, 3, fis, NULL, &p3, 1, 0);
    int flushes = r->disk->flushes;
    /* One at a time as ahci_qc_issue does: SACT, then CI. */
    pw(r, 0, P_SACT, 1u << 7);
    pw(r, 0, P_CI, 1u << 7);
    ASSERT_EQ(pr(r, 0, P_CI), 0);
    ASSERT_EQ(pr(r, 0, P_SACT), 0);
    ASSERT(pr(r, 0, P_IS) & IS_SDBS);
    const uint8_t *sdb = rfis(r, 0, 0x58);
    ASSERT_EQ(sdb[0], 0xa1);
    ASSERT(sdb[1] & 0x40);
    ASSERT_EQ(get32(sdb + 4), 1u << 7);
    ASSERT_EQ(sdb[2] & 0x77, 0x50);
    ASSERT_MEM_EQ(r->disk->data + 512 * 300, r->ram + DATA + 0x10000, 16 * 512);
    ASSERT(r->disk->flushes > flushes); /* FUA: stable before it completes */
    pw(r, 0, P_IS, pr(r, 0, P_IS));
    /* Two at once: both SACT bits, one CI write. */
    pw(r, 0, P_SACT, 1u << 0 | 1u << 3);
    pw(r, 0, P_CI, 1u << 0 | 1u << 3);
    ASSERT_EQ(pr(r, 0, P_CI), 0);
    ASSERT_EQ(pr(r, 0, P_SACT), 0);
    ASSERT_EQ(pr(r, 0, P_IS) & (IS_SDBS | IS_TFES), IS_SDBS);
    ASSERT_MEM_EQ(r->ram + DATA2, r->disk->data + 512 * 100, 4096);
    ASSERT_MEM_EQ(r->ram + DATA2 + 0x10000, r->ram + DATA + 0x10000, 4096);
    ASSERT_EQ(pr(r, 0, P_TFD) & 0xff, 0x50);
    /* A queued read beyond the disk: the SDB FIS carries ERR and no completion; TFES. */
    pw(r, 0, P_IS, pr(r, 0, P_IS));
    fis_ncq(fis, false, 5, DISK_SECTORS - 4, 8, false);
    slot_setup(r, 0, 5, fis, NULL, &p0, 1, 0);
    pw(r, 0, P_SACT, 1u << 5);
    pw(r, 0, P_CI, 1u << 5);
    ASSERT(pr(r, 0, P_IS) & IS_TFES);
    ASSERT_EQ(pr(r, 0, P_SACT), 1u << 5);
    ASSERT_EQ(get32(sdb + 4), 0);
    ASSERT_EQ(sdb[2] & 0x01, 0x01);
    recover(r, 0);
    ASSERT_EQ(pr(r, 0, P_SACT), 0);
    rig_free(r);
}

static void cdb_read10(uint8_t *c, uint32_t lba, uint16_t n)
{
    memset(c, 0, 16);
    c[0] = 0x28;
    c[2] = (uint8_t)(lba >> 24);
    c[3] = (uint8_t)(lba >> 16);
    c[4] = (uint8_t)(lba >> 8);
    c[5] = (uint8_t)lba;
    c[7] = (uint8_t)(n >> 8);
    c[8] = (uint8_t)n;
}

TEST(atapi_inquiry_sense_and_read)
{
    struct rig *r = rig_new();
    uint8_t fis[20], cdb[16] = {0};
    port_start(r, 1);
    /* IDENTIFY PACKET DEVICE: a CD-ROM. */
    fis_cmd(fis, 0xa1, 0, 0, 0);
    struct prd p = {DATA, 0x10000, false};
    uint32_t is = run(r, 1, fis, NULL, &p, 1, 0);
    ASSERT_EQ(is & (IS_PSS | IS_TFES), IS_PSS);
    ASSERT_EQ(idword(r->ram + DATA, 0) >> 8 & 0x1f, 5);
    /* INQUIRY (PACKET with the A bit, data by DMA): answered despite the unit attention. */
    cdb[0] = 0x12;
    cdb[4] = 96;
    fis_cmd(fis, 0xa0, 1, 0, 0);
    fis[7] = 0;
    is = run(r, 1, fis, cdb, &p, 1, 1 << 5);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES), IS_DHRS);
    ASSERT_EQ(r->ram[DATA] & 0x1f, 5);
    ASSERT(!memcmp(r->ram + DATA + 8, "NECVMWarVMware SATA CD00", 24));
    ASSERT_EQ(prdbc(r, 1, 0), 36);
    /* TEST UNIT READY: CHECK CONDITION, sense key 6 in the error register's high nibble. */
    memset(cdb, 0, sizeof cdb);
    is = run(r, 1, fis, cdb, NULL, 0, 1 << 5);
    ASSERT(is & IS_TFES);
    ASSERT_EQ(pr(r, 1, P_TFD) >> 12, 6);
    recover(r, 1);
    /* REQUEST SENSE by PIO (features 0, byte count limit 18): UNIT ATTENTION, 28h. */
    cdb[0] = 0x03;
    cdb[4] = 18;
    fis_cmd(fis, 0xa0, 0, 0, 0);
    fis[5] = 18;
    fis[7] = 0;
    is = run(r, 1, fis, cdb, &p, 1, 1 << 5);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES), IS_DHRS);
    ASSERT(is & IS_PSS);
    ASSERT_EQ(r->ram[DATA + 2] & 0xf, 6);
    ASSERT_EQ(r->ram[DATA + 12], 0x28);
    /* READ(10) of 3 blocks at 100 by DMA, into two PRD entries. */
    struct prd two[2] = {{DATA, 2048, false}, {DATA2, 4096, false}};
    cdb_read10(cdb, 100, 3);
    fis_cmd(fis, 0xa0, 1, 0, 0);
    fis[7] = 0;
    is = run(r, 1, fis, cdb, two, 2, 1 << 5);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES), IS_DHRS);
    ASSERT_MEM_EQ(r->ram + DATA, r->cd->data + 2048 * 100, 2048);
    ASSERT_MEM_EQ(r->ram + DATA2, r->cd->data + 2048 * 101, 4096);
    ASSERT_EQ(prdbc(r, 1, 0), 3 * 2048);
    /* The same by PIO in chunks of the byte count limit (2048): three PIO setup FISes. */
    memset(r->ram + DATA2, 0, 8192);
    struct prd one = {DATA2, 8192, false};
    fis_cmd(fis, 0xa0, 0, 0, 0);
    fis[5] = 0x00;
    fis[6] = 0x08;
    fis[7] = 0;
    is = run(r, 1, fis, cdb, &one, 1, 1 << 5);
    ASSERT_EQ(is & (IS_DHRS | IS_TFES), IS_DHRS);
    ASSERT_MEM_EQ(r->ram + DATA2, r->cd->data + 2048 * 100, 3 * 2048);
    ASSERT_EQ(rfis(r, 1, 0x20)[16] | rfis(r, 1, 0x20)[17] << 8, 2048);
    /* A buffer too small for the data: overflow (OFS) and the command fails. */
    struct prd small = {DATA2, 1024, false};
    fis[5] = 0;
    fis[6] = 0;
    fis[3] = 1;
    is = run(r, 1, fis, cdb, &small, 1, 1 << 5);
    ASSERT(is & IS_OFS);
    ASSERT(is & IS_TFES);
    rig_free(r);
}

TEST(interrupt_status_bits_and_intx)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    fis_cmd(fis, 0xe7, 0, 0, 0); /* FLUSH CACHE: no data, a D2H FIS */
    /* GHC.IE off: PxIS and IS record, the line stays low. */
    pw(r, 0, P_IE, IS_DHRS);
    slot_setup(r, 0, 0, fis, NULL, NULL, 0, 0);
    pw(r, 0, P_CI, 1);
    ASSERT_EQ(pr(r, 0, P_IS), IS_DHRS);
    ASSERT_EQ(hr(r, IS), 1);
    ASSERT_EQ(r->intx, 0);
    /* IE on: the line follows IS. */
    hw(r, GHC, 0x80000002);
    ASSERT_EQ(r->intx, 1);
    /* Clearing PxIS leaves IS set (software clears both, port first) ... */
    pw(r, 0, P_IS, IS_DHRS);
    ASSERT_EQ(pr(r, 0, P_IS), 0);
    ASSERT_EQ(hr(r, IS), 1);
    ASSERT_EQ(r->intx, 1);
    hw(r, IS, 1);
    ASSERT_EQ(hr(r, IS), 0);
    ASSERT_EQ(r->intx, 0);
    /* ... and IS cannot be cleared while the port's cause is still there. */
    pw(r, 0, P_CI, 1);
    hw(r, IS, 1);
    ASSERT_EQ(hr(r, IS), 1);
    pw(r, 0, P_IS, 0xffffffff);
    hw(r, IS, 1);
    ASSERT_EQ(r->intx, 0);
    /* A cause masked in PxIE sets PxIS only. */
    pw(r, 0, P_IE, IS_SDBS);
    pw(r, 0, P_CI, 1);
    ASSERT_EQ(pr(r, 0, P_IS), IS_DHRS);
    ASSERT_EQ(hr(r, IS), 0);
    ASSERT_EQ(r->intx, 0);
    /* Unmasking it raises the line. */
    pw(r, 0, P_IE, IS_DHRS);
    ASSERT_EQ(r->intx, 1);
    /* INTX_DISABLE in the PCI command register masks the pin. */
    cfg_write(r, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE, 2);
    ASSERT_EQ(r->intx, 0);
    rig_free(r);
}

TEST(softreset_by_control_fis_and_clo)
{
    struct rig *r = rig_new();
    uint8_t fis[20] = {0x27, 0x00};
    port_start(r, 1);
    /* ahci_do_softreset: SRST set (R and C bits), then cleared; the device signs on. */
    fis[15] = 0x04;
    run(r, 1, fis, NULL, NULL, 0, 1 << 8 | 1 << 10);
    ASSERT_EQ(pr(r, 1, P_CI), 0);
    fis[15] = 0;
    memset(r->ram + FB(1) + 0x40, 0, 20);
    run(r, 1, fis, NULL, NULL, 0, 0);
    ASSERT_EQ(pr(r, 1, P_CI), 0);
    ASSERT_EQ(pr(r, 1, P_SIG), 0xeb140101);
    ASSERT_EQ(pr(r, 1, P_TFD) & 0x88, 0);
    ASSERT_EQ(rfis(r, 1, 0x40)[0], 0x34);
    ASSERT_EQ(rfis(r, 1, 0x40)[5], 0x14);
    ASSERT_EQ(rfis(r, 1, 0x40)[6], 0xeb);
    /* CLO clears BSY and DRQ in TFD and reads back 0. */
    pw(r, 1, P_CMD, pr(r, 1, P_CMD) & ~CMD_ST);
    pw(r, 1, P_SCTL, 1); /* COMRESET in progress: BSY */
    ASSERT(pr(r, 1, P_TFD) & 0x80);
    pw(r, 1, P_CMD, pr(r, 1, P_CMD) | CMD_CLO);
    ASSERT_EQ(pr(r, 1, P_TFD) & 0x88, 0);
    ASSERT_EQ(pr(r, 1, P_CMD) & CMD_CLO, 0);
    rig_free(r);
}

/* ---- hostile guests ---- */

TEST(hostile_command_list_and_table_outside_ram)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    /* CLB beyond RAM. */
    pw(r, 0, P_CLB, 0xf0000000);
    pw(r, 0, P_CI, 1);
    ASSERT(pr(r, 0, P_IS) & IS_HBFS);
    ASSERT_EQ(pr(r, 0, P_CI), 1);
    /* CLBU: above 4 GiB, nothing there. */
    recover(r, 0);
    pw(r, 0, P_CLB, CLB(0));
    pw(r, 0, P_CLBU, 0x80000000);
    pw(r, 0, P_CI, 1);
    ASSERT(pr(r, 0, P_IS) & IS_HBFS);
    recover(r, 0);
    pw(r, 0, P_CLBU, 0);
    /* A command table in the ABAR itself (MMIO). */
    fis_cmd(fis, 0xec, 0, 0, 0);
    slot_setup(r, 0, 0, fis, NULL, NULL, 0, 0);
    put32(r->ram + CLB(0) + 8, ABAR);
    pw(r, 0, P_CI, 1);
    ASSERT(pr(r, 0, P_IS) & IS_HBFS);
    recover(r, 0);
    /* The received FIS area outside RAM: HBFS, and no write anywhere. */
    pw(r, 0, P_CMD, pr(r, 0, P_CMD) & ~(CMD_ST | CMD_FRE));
    pw(r, 0, P_FB, 0xfffff000);
    pw(r, 0, P_CMD, pr(r, 0, P_CMD) | CMD_FRE | CMD_ST);
    fis_cmd(fis, 0xe7, 0, 0, 0);
    ASSERT(run(r, 0, fis, NULL, NULL, 0, 0) & IS_HBFS);
    /* The port still works once software sets it up properly. */
    pw(r, 0, P_CMD, pr(r, 0, P_CMD) & ~(CMD_ST | CMD_FRE));
    port_start(r, 0);
    ASSERT_EQ(run(r, 0, fis, NULL, NULL, 0, 0) & (IS_HBFS | IS_TFES), 0);
    rig_free(r);
}

TEST(hostile_prds_mmio_huge_dbc_and_prdtl_65535)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    uint32_t cap = hr(r, CAP);
    /* READ DMA into the ABAR: refused (HBFS), the command fails (TFES), the HBA is unchanged. */
    struct prd mmio = {ABAR, 4096, false};
    fis_cmd(fis, 0xc8, 0, 0, 8);
    uint32_t is = run(r, 0, fis, NULL, &mmio, 1, 0);
    ASSERT(is & IS_HBFS);
    ASSERT(is & IS_TFES);
    ASSERT_EQ(hr(r, CAP), cap);
    recover(r, 0);
    /* WRITE DMA from MMIO: the same, and the disk is untouched. */
    uint8_t before[4096];
    memcpy(before, r->disk->data, sizeof before);
    fis_cmd(fis, 0xca, 0, 0, 8);
    is = run(r, 0, fis, NULL, &mmio, 1, 1 << 6);
    ASSERT(is & IS_HBFS);
    ASSERT_MEM_EQ(r->disk->data, before, sizeof before);
    recover(r, 0);
    /* DBC with every bit set: 22 bits count (4 MiB), the I bit is bit 31. A read of 8 sectors
     * takes only 4096 bytes of it. */
    uint8_t *t = r->ram + CT(0, 0);
    fis_cmd(fis, 0xc8, 0, 0, 8);
    struct prd big = {DATA, 4096, false};
    slot_setup(r, 0, 0, fis, NULL, &big, 1, 0);
    put32(t + 0x80 + 12, 0xffffffff);
    r->ram[DATA + 4096] = 0xa5;
    pw(r, 0, P_CI, 1);
    is = pr(r, 0, P_IS);
    pw(r, 0, P_IS, is);
    ASSERT_EQ(is & (IS_TFES | IS_HBFS | IS_DPS | IS_DHRS), IS_DHRS); /* the entry is not used up */
    ASSERT_MEM_EQ(r->ram + DATA, r->disk->data, 4096);
    ASSERT_EQ(r->ram[DATA + 4096], 0xa5);
    /* ... at the end of RAM, the transfer would leave it: HBFS. */
    put32(t + 0x80, RAM_SIZE - 1024);
    pw(r, 0, P_CI, 1);
    ASSERT(pr(r, 0, P_IS) & IS_HBFS);
    recover(r, 0);
    /* PRDTL 65535 with the table running past the end of RAM: HBFS, bounded. */
    uint32_t tbl = RAM_SIZE - 0x80 - 16 * 104; /* 128-byte aligned */
    memset(r->ram + tbl, 0, 0x80 + 16 * 104);
    memcpy(r->ram + tbl, fis, 20);
    for (int i = 0; i < 104; i++) {
        put32(r->ram + tbl + 0x80 + 16 * i, DATA + 2 * i);
        put32(r->ram + tbl + 0x80 + 16 * i + 12, 1); /* 2 bytes */
    }
    fis_cmd(fis, 0x25, 0, 0, 256); /* 128 KiB */
    memcpy(r->ram + tbl, fis, 20);
    put32(r->ram + CLB(0), 5 | 65535u << 16);
    put32(r->ram + CLB(0) + 8, tbl);
    pw(r, 0, P_CI, 1);
    ASSERT(pr(r, 0, P_IS) & IS_HBFS);
    recover(r, 0);
    /* PRDTL 65535 of 2-byte entries inside RAM: 128 KiB - 2 bytes of room for a 128 KiB read:
     * every entry used, then overflow (OFS) and TFES. */
    tbl = 0x600000;
    memcpy(r->ram + tbl, fis, 20);
    for (uint32_t i = 0; i < 65535; i++) {
        put32(r->ram + tbl + 0x80 + 16 * i, DATA + 2 * i);
        put32(r->ram + tbl + 0x80 + 16 * i + 12, 1);
    }
    put32(r->ram + CLB(0) + 8, tbl);
    pw(r, 0, P_CI, 1);
    is = pr(r, 0, P_IS);
    ASSERT(is & IS_OFS);
    ASSERT(is & IS_TFES);
    ASSERT_EQ(prdbc(r, 0, 0), 2u * 65535);
    ASSERT_MEM_EQ(r->ram + DATA, r->disk->data, 2u * 65535);
    rig_free(r);
}

TEST(hostile_malformed_fises)
{
    struct rig *r = rig_new();
    uint8_t fis[20];
    port_start(r, 0);
    /* A D2H register FIS type where the command FIS belongs. */
    fis_cmd(fis, 0xec, 0, 0, 0);
    fis[0] = 0x34;
    struct prd p = {DATA, 512, false};
    uint32_t is = run(r, 0, fis, NULL, &p, 1, 0);
    ASSERT(is & IS_TFES);
    ASSERT_EQ(pr(r, 0, P_TFD) & 0x01, 0x01);
    ASSERT_EQ(pr(r, 0, P_CI), 1);
    recover(r, 0);
    /* CFL 0 and CFL 1: too short for a register FIS. */
    for (uint32_t cfl = 0; cfl < 2; cfl++) {
        fis_cmd(fis, 0xec, 0, 0, 0);
        slot_setup(r, 0, 0, fis, NULL, &p, 1, 0);
        put32(r->ram + CLB(0), cfl | 1u << 16);
        pw(r, 0, P_CI, 1);
        ASSERT(pr(r, 0, P_IS) & IS_TFES);
        recover(r, 0);
    }
    /* An unknown command, a data command without any PRD. */
    fis_cmd(fis, 0xfe, 0, 0, 0);
    ASSERT(run(r, 0, fis, NULL, NULL, 0, 0) & IS_TFES);
    recover(r, 0);
    fis_cmd(fis, 0x25, 0, 0, 8);
    ASSERT(run(r, 0, fis, NULL, NULL, 0, 0) & IS_TFES);
    recover(r, 0);
    /* A PACKET command to the disk, FPDMA to the CD: aborted. */
    fis_cmd(fis, 0xa0, 0, 0, 0);
    ASSERT(run(r, 0, fis, NULL, &p, 1, 1 << 5) & IS_TFES);
    port_start(r, 1);
    fis_ncq(fis, false, 0, 0, 1, false);
    pw(r, 1, P_SACT, 1);
    slot_setup(r, 1, 0, fis, NULL, &p, 1, 0);
    pw(r, 1, P_CI, 1);
    ASSERT(pr(r, 1, P_IS) & IS_TFES);
    /* Commands on a port with no device do nothing. */
    port_start(r, 4);
    fis_cmd(fis, 0xec, 0, 0, 0);
    slot_setup(r, 4, 0, fis, NULL, &p, 1, 0);
    pw(r, 4, P_CI, 1);
    ASSERT_EQ(pr(r, 4, P_IS), 0);
    rig_free(r);
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

TEST(hostile_random_register_and_table_traffic)
{
    struct rig *r = rig_new();
    uint64_t s = 0x9e3779b97f4a7c15ull;
    static const unsigned offs[] = {P_CLB, P_CLBU, P_FB, P_FBU, P_IS, P_IE, P_CMD, P_SCTL, P_SERR,
                                    P_SACT, P_CI};
    for (int round = 0; round < 20000; round++) {
        uint64_t v = rng(&s);
        int port = (int)(v % 3);
        unsigned off = offs[(v >> 8) % (sizeof offs / sizeof offs[0])];
        uint32_t val = (uint32_t)(rng(&s) >> 16);
        if (off == P_CLB || off == P_FB)
            val &= RAM_SIZE - 1 + (round & 1 ? 0x10000000 : 0);
        if (off == P_CLBU || off == P_FBU)
            val = round % 97 == 0 ? val : 0;
        if ((v >> 20) % 7 == 0) { /* scribble on the tables */
            uint32_t at = (uint32_t)(rng(&s) % 0x100000);
            r->ram[at] = (uint8_t)rng(&s);
        }
        if ((v >> 24) % 11 == 0)
            hw(r, (v >> 32) % 3 ? IS : GHC, (uint32_t)rng(&s));
        pw(r, port, off, val);
    }
    /* Still a working HBA after a reset. */
    hw(r, GHC, 1);
    port_start(r, 0);
    uint8_t fis[20];
    fis_cmd(fis, 0xec, 0, 0, 0);
    struct prd p = {DATA, 512, false};
    ASSERT_EQ(run(r, 0, fis, NULL, &p, 1, 0) & (IS_PSS | IS_TFES | IS_HBFS), IS_PSS);
    rig_free(r);
}

TEST(attach_refuses_bad_ports)
{
    struct rig *r = rig_new();
    struct error err;
    ASSERT(ahci_attach(r->ahci, 30, IDE_DISK, &r->disk->bd, &err) < 0);
    ASSERT(ahci_attach(r->ahci, -1, IDE_DISK, &r->disk->bd, &err) < 0);
    ASSERT(ahci_attach(r->ahci, 3, IDE_DISK, NULL, &err) < 0);
    /* An empty CD drive: the ATAPI signature, and TEST UNIT READY says no medium. */
    ASSERT_EQ(ahci_attach(r->ahci, 29, IDE_CDROM, NULL, &err), 0);
    ASSERT_EQ(pr(r, 29, P_SIG), 0xeb140101);
    port_start(r, 29);
    uint8_t fis[20], cdb[16] = {0};
    fis_cmd(fis, 0xa0, 0, 0, 0);
    ASSERT(run(r, 29, fis, cdb, NULL, 0, 1 << 5) & IS_TFES);
    ASSERT_EQ(pr(r, 29, P_TFD) >> 12, 2); /* NOT READY */
    /* The slot is taken on the PCI bus. */
    ASSERT(ahci_new(r->pb, DEVFN, 1) == NULL);
    rig_free(r);
}

/* SeaBIOS's ahci.c looks its ports up in the boot order as "/pci@i0cf8/ANY@SLOT/drive@PORT/disk@0"
 * (bootprio_find_ata_device with the port as the channel, a '*' glob for the device name). */
TEST(boot_order_names_ahci_ports_as_seabios_does)
{
    struct vm_disk disks[3] = {
        {.bus = VM_BUS_IDE, .ctrl = 0, .unit = 0, .type = VM_DISK_HDD},
        {.bus = VM_BUS_SATA, .ctrl = 0, .unit = 1, .type = VM_DISK_CDROM_IMAGE},
        {.bus = VM_BUS_SATA, .ctrl = 2, .unit = 29, .type = VM_DISK_HDD},
    };
    struct vm_config c = {.disks = disks, .ndisks = 3};
    char out[512];
    firmware_bootorder(&c, out, sizeof out);
    ASSERT_STR_EQ(out, "/pci@i0cf8/ide@1,1/drive@0/disk@0\n/pci@i0cf8/sata@16/drive@1d/disk@0\n"
                       "/pci@i0cf8/sata@14/drive@1/disk@0\n");
    c.boot_order = "cdrom,hdd";
    firmware_bootorder(&c, out, sizeof out);
    ASSERT_STR_EQ(out, "/pci@i0cf8/sata@14/drive@1/disk@0\n/pci@i0cf8/ide@1,1/drive@0/disk@0\n"
                       "/pci@i0cf8/sata@16/drive@1d/disk@0\n");
}
