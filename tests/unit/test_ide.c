/*
 * PIIX3 IDE: the port sequences SeaBIOS's src/hw/ata.c performs (ata_detect,
 * ata_reset, send_cmd, ata_pio_transfer, ata_try_dma + ata_dma_transfer,
 * ata_atapi_process_op) against RAM-backed disks, with the checks SeaBIOS
 * applies to the status it reads. Oracles: ATA/ATAPI-7 (task file, status
 * and error bits, IDENTIFY words, signatures), the PIIX bus master
 * programming interface (PRD format, BMIS bits), MMC (READ(10), sense codes,
 * READ TOC MSF), and the disk image contents. The write cache: with it off,
 * for FUA writes and on a write-through disk, the disk has seen a flush after
 * the last write before the command completes.
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "tests/unit/test.h"

/* ---- a RAM disk: stored sectors below STORED, a pattern of the LBA above ---- */

#define STORED 4096

struct ramdisk {
    struct blockdev bd;
    uint8_t *data;
    int fail_write, fail_flush, flushes, writes;
    int writes_at_flush; /* writes done when the last flush came */
};

static void pattern(uint64_t lba, uint8_t *p)
{
    for (int i = 0; i < 512; i++)
        p[i] = (uint8_t)(lba * 131 + (lba >> 8) * 7 + i * 3 + (lba >> 24));
}

static int rd_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    if (sector + count > bd->sectors)
        return -EIO;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *p = (uint8_t *)buf + 512 * i;
        if (sector + i < STORED)
            memcpy(p, r->data + 512 * (sector + i), 512);
        else
            pattern(sector + i, p);
    }
    return 0;
}

static int rd_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    if (r->fail_write)
        return -EIO;
    if (sector + count > STORED)
        return -ENOSPC;
    memcpy(r->data + 512 * sector, buf, 512 * (size_t)count);
    r->writes++;
    return 0;
}

static int rd_flush(struct blockdev *bd)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    if (r->fail_flush)
        return -EIO;
    r->flushes++;
    r->writes_at_flush = r->writes;
    return 0;
}

static void rd_close(struct blockdev *bd)
{
    struct ramdisk *r = (struct ramdisk *)bd;
    free(r->data);
    free(r);
}

static const struct blockdev_ops rd_ops = {rd_read, rd_write, rd_flush, rd_close, NULL, NULL};

static struct ramdisk *ramdisk_new(uint64_t sectors)
{
    struct ramdisk *r = calloc(1, sizeof(*r));
    r->bd.ops = &rd_ops;
    r->bd.sectors = sectors;
    r->bd.format = "ram";
    r->data = malloc(512 * STORED);
    for (uint64_t s = 0; s < STORED; s++)
        pattern(s + 1000000, r->data + 512 * s);
    return r;
}

/* ---- the machine: RAM at 0, PCI config ports, IDE at 01.1 ---- */

#define BDF 0x09
#define BM 0xc000

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct ide *ide;
    uint8_t *ram;
    struct ramdisk *disk, *cd;
    int irq[16], edges[16];
    uint8_t bm_status; /* what dma_cmd saw before stopping the bus master */
};

static void irq_rec(void *opaque, int n, int level)
{
    struct rig *r = opaque;
    if (level && !r->irq[n])
        r->edges[n]++;
    r->irq[n] = level;
}

static void wcfgl(struct rig *r, unsigned off, uint32_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | BDF << 8 | off, 4);
    bus_out(r->bus, 0xcfc, v, 4);
}
static uint32_t cfgl(struct rig *r, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | BDF << 8 | off, 4);
    return bus_in(r->bus, 0xcfc, 4);
}

static struct rig *rig_new(uint64_t disk_sectors, bool cd_media)
{
    struct rig *r = calloc(1, sizeof(*r));
    struct error err;
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->ram = calloc(1, 0x100000);
    ASSERT_EQ(bus_map_ram(r->bus, 0, 0x100000, r->ram, false, "ram"), 0);
    ASSERT_EQ(pci_bus_map_conf_ports(r->pb), 0);
    r->ide = ide_new(r->bus, r->pb, BDF, irq_make(irq_rec, r, 14), irq_make(irq_rec, r, 15));
    ASSERT(r->ide != NULL);
    if (disk_sectors) {
        r->disk = ramdisk_new(disk_sectors);
        ASSERT_EQ(ide_attach(r->ide, 0, 0, IDE_DISK, &r->disk->bd, &err), 0);
    }
    r->cd = ramdisk_new(4 * 1000); /* 1000 CD blocks */
    ASSERT_EQ(ide_attach(r->ide, 1, 0, IDE_CDROM, cd_media ? &r->cd->bd : NULL, &err), 0);
    return r;
}

static void rig_free(struct rig *r)
{
    ide_free(r->ide);
    pci_bus_free(r->pb);
    bus_free(r->bus);
    if (r->disk)
        rd_close(&r->disk->bd);
    rd_close(&r->cd->bd);
    free(r->ram);
    free(r);
}

/* ---- SeaBIOS's helpers ---- */

#define ATA_CB_DATA 0
#define ATA_CB_ERR 1
#define ATA_CB_FR 1
#define ATA_CB_SC 2
#define ATA_CB_SN 3
#define ATA_CB_CL 4
#define ATA_CB_CH 5
#define ATA_CB_DH 6
#define ATA_CB_STAT 7
#define ATA_CB_CMD 7
#define ATA_CB_DC_HD15 0x08
#define ATA_CB_DC_NIEN 0x02
#define ATA_CB_DC_SRST 0x04
#define BSY 0x80
#define DRDY 0x40
#define DF 0x20
#define DRQ 0x08
#define ERR 0x01

struct cmd {
    uint8_t feature, count, lba_low, lba_mid, lba_high, device, command;
    uint8_t feature2, count2, lba_low2, lba_mid2, lba_high2;
};

/* The 48-bit commands used here: READ/WRITE (MULTIPLE/DMA) EXT and the FUA writes. */
static bool ext_cmd(uint8_t command)
{
    return (command & ~0x11) == 0x24 || command == 0x29 || command == 0x39 || command == 0x3d ||
           command == 0xce;
}

static uint8_t await_not_bsy(struct rig *r, uint16_t base)
{
    for (int i = 0; i < 100; i++) {
        uint8_t st = (uint8_t)bus_in(r->bus, base + ATA_CB_STAT, 1);
        if (!(st & BSY))
            return st;
    }
    FAIL("still busy");
}

static void send_cmd(struct rig *r, uint16_t base, int slave, const struct cmd *c)
{
    await_not_bsy(r, base);
    uint8_t newdh = (uint8_t)((c->device & ~0x10) | (slave ? 0xb0 : 0xa0));
    bus_out(r->bus, base + ATA_CB_DH, newdh, 1);
    if (ext_cmd(c->command)) {
        bus_out(r->bus, base + ATA_CB_FR, c->feature2, 1);
        bus_out(r->bus, base + ATA_CB_SC, c->count2, 1);
        bus_out(r->bus, base + ATA_CB_SN, c->lba_low2, 1);
        bus_out(r->bus, base + ATA_CB_CL, c->lba_mid2, 1);
        bus_out(r->bus, base + ATA_CB_CH, c->lba_high2, 1);
    }
    bus_out(r->bus, base + ATA_CB_FR, c->feature, 1);
    bus_out(r->bus, base + ATA_CB_SC, c->count, 1);
    bus_out(r->bus, base + ATA_CB_SN, c->lba_low, 1);
    bus_out(r->bus, base + ATA_CB_CL, c->lba_mid, 1);
    bus_out(r->bus, base + ATA_CB_CH, c->lba_high, 1);
    bus_out(r->bus, base + ATA_CB_CMD, c->command, 1);
}

/* ata_wait_data: 0, or -4 for ERR, -5 for no DRQ. */
static int wait_data(struct rig *r, uint16_t base)
{
    uint8_t st = await_not_bsy(r, base);
    if (st & ERR)
        return -4;
    if (!(st & DRQ))
        return -5;
    return 0;
}

/* ata_pio_transfer (16-bit insw/outsw) with SeaBIOS's status checks. */
static int pio_transfer(struct rig *r, uint16_t base, uint8_t *buf, int count, int blocksize, bool write)
{
    uint8_t st;
    for (;;) {
        for (int i = 0; i < blocksize; i += 2) {
            if (write) {
                bus_out(r->bus, base, buf[i] | buf[i + 1] << 8, 2);
            } else {
                uint16_t w = (uint16_t)bus_in(r->bus, base, 2);
                buf[i] = (uint8_t)w;
                buf[i + 1] = (uint8_t)(w >> 8);
            }
        }
        buf += blocksize;
        st = await_not_bsy(r, base);
        if (--count == 0)
            break;
        if ((st & (BSY | DRQ | ERR)) != DRQ)
            return -6;
    }
    st &= BSY | DF | DRQ | ERR;
    if (!write)
        st &= (uint8_t)~DF;
    return st ? -7 : 0;
}

/* ata_pio_cmd_data: nIEN, command, wait for data, transfer, interrupts back on. */
static int pio_cmd_data(struct rig *r, uint16_t base, uint16_t ctl, int slave, const struct cmd *c,
                        uint8_t *buf, int count, bool write)
{
    bus_out(r->bus, ctl, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN, 1);
    send_cmd(r, base, slave, c);
    int ret = wait_data(r, base);
    if (!ret)
        ret = pio_transfer(r, base, buf, count, 512, write);
    bus_out(r->bus, ctl, ATA_CB_DC_HD15, 1);
    return ret;
}

static void ata_reset(struct rig *r, uint16_t base, uint16_t ctl)
{
    bus_out(r->bus, ctl, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN | ATA_CB_DC_SRST, 1);
    bus_out(r->bus, ctl, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN, 1);
    await_not_bsy(r, base);
    bus_out(r->bus, base + ATA_CB_DH, 0xa0, 1);
}

static uint16_t word(const uint8_t *id, int w)
{
    return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* ata_extract_model: be16 of words 27-46, trailing spaces removed. */
static void model(const uint8_t *id, char *out)
{
    for (int i = 0; i < 20; i++) {
        out[2 * i] = (char)(word(id, 27 + i) >> 8);
        out[2 * i + 1] = (char)word(id, 27 + i);
    }
    out[40] = 0;
    for (int i = 39; i >= 0 && out[i] == ' '; i--)
        out[i] = 0;
}

static int extract_version(const uint8_t *id)
{
    int v;
    for (v = 15; v > 0; v--)
        if (word(id, 80) & (1 << v))
            break;
    return v;
}

/* The probe part of ata_detect for one position: registers look valid? */
static bool regs_valid(struct rig *r, uint16_t base, int slave)
{
    uint8_t newdh = slave ? 0xb0 : 0xa0;
    await_not_bsy(r, base);
    bus_out(r->bus, base + ATA_CB_DH, newdh, 1);
    await_not_bsy(r, base);
    bus_out(r->bus, base + ATA_CB_DH, newdh, 1);
    uint8_t dh = (uint8_t)bus_in(r->bus, base + ATA_CB_DH, 1);
    bus_out(r->bus, base + ATA_CB_SC, 0x55, 1);
    bus_out(r->bus, base + ATA_CB_SN, 0xaa, 1);
    uint8_t sc = (uint8_t)bus_in(r->bus, base + ATA_CB_SC, 1);
    uint8_t sn = (uint8_t)bus_in(r->bus, base + ATA_CB_SN, 1);
    return sc == 0x55 && sn == 0xaa && dh == newdh;
}

TEST(pci_identity)
{
    struct rig *r = rig_new(1000, false);
    ASSERT_EQ(cfgl(r, 0), 0x70108086);
    ASSERT_EQ(cfgl(r, 8) >> 8, 0x010180);
    ASSERT_EQ(cfgl(r, 0x10), 0); /* compatibility mode: no BAR0-3 */
    ASSERT_EQ(cfgl(r, 0x20), 1); /* BAR4: I/O */
    wcfgl(r, 0x20, 0xffffffff);
    ASSERT_EQ(cfgl(r, 0x20), 0xfffffff1); /* 16 bytes */
    ASSERT_EQ(cfgl(r, 0x3c) >> 8 & 0xff, 0); /* no interrupt pin */
    /* piix_ide_setup: IDETIM decode enables are writable. */
    wcfgl(r, 0x40, 0x80008000);
    ASSERT_EQ(cfgl(r, 0x40), 0x80008000);
    rig_free(r);
}

TEST(seabios_detect_and_identify_disk)
{
    struct rig *r = rig_new(20000, false);
    uint8_t id[512];
    struct cmd c;
    /* Master: registers valid, reset, IDENTIFY PACKET fails, status set, IDENTIFY works. */
    ASSERT(regs_valid(r, 0x1f0, 0));
    ata_reset(r, 0x1f0, 0x3f6);
    ASSERT_EQ(bus_in(r->bus, 0x1f2, 1), 1); /* signature: ATA */
    ASSERT_EQ(bus_in(r->bus, 0x1f3, 1), 1);
    ASSERT_EQ(bus_in(r->bus, 0x1f4, 1), 0);
    ASSERT_EQ(bus_in(r->bus, 0x1f5, 1), 0);
    memset(&c, 0, sizeof(c));
    c.command = 0xa1;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, id, 1, false), -4);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x04); /* ABRT */
    uint8_t st = (uint8_t)bus_in(r->bus, 0x1f7, 1);
    ASSERT(st != 0);
    ASSERT_EQ(st & (BSY | DRDY), DRDY); /* await_rdy */
    c.command = 0xec;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, id, 1, false), 0);
    ASSERT_EQ(word(id, 0) & 0x8000, 0); /* ATA device */
    ASSERT_EQ(word(id, 60) | word(id, 61) << 16, 20000);
    ASSERT_EQ(word(id, 83) & (1 << 10), 1 << 10);
    ASSERT_EQ(word(id, 100) | word(id, 101) << 16, 20000);
    ASSERT_EQ(word(id, 1), 20000 / (16 * 63));
    ASSERT_EQ(word(id, 3), 16);
    ASSERT_EQ(word(id, 6), 63);
    ASSERT_EQ(word(id, 49) & 0x0300, 0x0300); /* LBA and DMA */
    ASSERT_EQ(extract_version(id), 7);
    char m[41];
    model(id, m);
    ASSERT_STR_EQ(m, "VMware Virtual IDE Hard Drive");
    char serial[21];
    for (int i = 0; i < 10; i++) {
        serial[2 * i] = (char)(word(id, 10 + i) >> 8);
        serial[2 * i + 1] = (char)word(id, 10 + i);
    }
    serial[11] = 0;
    ASSERT_STR_EQ(serial, "VMPLAY-HD00");
    ASSERT_EQ(serial[12], ' ');
    /* (resetresult & 0xdf61) == 0x4041 would make SeaBIOS skip the slave; it probes it. */
    ASSERT((word(id, 93) & 0xdf61) != 0x4041);
    /* Slave absent: its registers read 0, so the probe gives up. */
    ASSERT(!regs_valid(r, 0x1f0, 1));
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1), 0);
    rig_free(r);
}

TEST(empty_channel_reads_zero)
{
    struct rig *r = rig_new(0, false);
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1), 0);
    ASSERT(!regs_valid(r, 0x1f0, 0));
    rig_free(r);
}

static void lba_cmd(struct cmd *c, uint8_t command, uint64_t lba, unsigned count)
{
    memset(c, 0, sizeof(*c));
    c->command = command;
    c->count = (uint8_t)count;
    if (ext_cmd(command)) { /* the EXT commands, as ata_readwrite fills them */
        c->count2 = (uint8_t)(count >> 8);
        c->lba_low2 = (uint8_t)(lba >> 24);
        c->lba_mid2 = (uint8_t)(lba >> 32);
        c->lba_high2 = (uint8_t)(lba >> 40);
        lba &= 0xffffff;
    }
    c->lba_low = (uint8_t)lba;
    c->lba_mid = (uint8_t)(lba >> 8);
    c->lba_high = (uint8_t)(lba >> 16);
    c->device = (uint8_t)(((lba >> 24) & 0xf) | 0x40);
}

TEST(pio_read_sector0_and_several)
{
    struct rig *r = rig_new(20000, false);
    uint8_t buf[512 * 3];
    struct cmd c;
    lba_cmd(&c, 0x20, 0, 1);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 1, false), 0);
    ASSERT_MEM_EQ(buf, r->disk->data, 512);
    lba_cmd(&c, 0x20, 7, 3);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 3, false), 0);
    ASSERT_MEM_EQ(buf, r->disk->data + 7 * 512, 3 * 512);
    /* The task file holds the last sector read. */
    ASSERT_EQ(bus_in(r->bus, 0x1f3, 1), 9);
    /* Interrupts were disabled (nIEN): the line never rose. */
    ASSERT_EQ(r->edges[14], 0);
    rig_free(r);
}

TEST(pio_read_with_interrupts_and_32bit_data)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    lba_cmd(&c, 0x20, 5, 2);
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(r->irq[14], 1); /* one interrupt per DRQ block */
    ASSERT_EQ(bus_in(r->bus, 0x3f6, 1) & DRQ, DRQ); /* alternate status keeps the interrupt */
    ASSERT_EQ(r->irq[14], 1);
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1) & DRQ, DRQ);
    ASSERT_EQ(r->irq[14], 0); /* reading status acknowledges */
    uint8_t buf[1024];
    for (int i = 0; i < 1024; i += 4) {
        uint32_t v = bus_in(r->bus, 0x1f0, 4);
        memcpy(buf + i, &v, 4);
        if (i == 508)
            ASSERT_EQ(r->irq[14], 1); /* second block ready */
    }
    ASSERT_MEM_EQ(buf, r->disk->data + 5 * 512, 1024);
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1) & (BSY | DRQ | ERR), 0);
    rig_free(r);
}

TEST(pio_write_and_flush)
{
    struct rig *r = rig_new(20000, false);
    uint8_t buf[1024], back[1024];
    struct cmd c;
    for (int i = 0; i < 1024; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    lba_cmd(&c, 0x30, 100, 2);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 2, true), 0);
    ASSERT_MEM_EQ(r->disk->data + 100 * 512, buf, 1024);
    lba_cmd(&c, 0x20, 100, 2);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, back, 2, false), 0);
    ASSERT_MEM_EQ(back, buf, 1024);
    memset(&c, 0, sizeof(c));
    c.command = 0xe7;
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(await_not_bsy(r, 0x1f0) & (ERR | DRQ), 0);
    ASSERT_EQ(r->disk->flushes, 1);
    rig_free(r);
}

TEST(write_error_reported_to_guest)
{
    struct rig *r = rig_new(20000, false);
    uint8_t buf[512] = {1, 2, 3};
    struct cmd c;
    r->disk->fail_write = 1;
    lba_cmd(&c, 0x30, 42, 1);
    bus_out(r->bus, 0x3f6, ATA_CB_DC_HD15, 1);
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(wait_data(r, 0x1f0), 0);
    for (int i = 0; i < 512; i += 2)
        bus_out(r->bus, 0x1f0, buf[i] | buf[i + 1] << 8, 2);
    uint8_t st = (uint8_t)bus_in(r->bus, 0x3f6, 1);
    ASSERT_EQ(st & (ERR | DRQ | BSY), ERR);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x04);
    ASSERT_EQ(bus_in(r->bus, 0x1f3, 1), 42); /* the failing sector */
    ASSERT_EQ(r->irq[14], 1);
    ASSERT_EQ(r->disk->writes, 0);
    rig_free(r);
}

TEST(errors_unsupported_and_out_of_range)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    uint8_t buf[512];
    memset(&c, 0, sizeof(c));
    c.command = 0xf8; /* READ NATIVE MAX ADDRESS: HPA not advertised */
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(await_not_bsy(r, 0x1f0) & (ERR | DRDY | DRQ), ERR | DRDY);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x04);
    lba_cmd(&c, 0x20, 19999, 2);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 2, false), -4);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x10); /* IDNF */
    /* READ MULTIPLE before SET MULTIPLE aborts. */
    lba_cmd(&c, 0xc4, 0, 1);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 1, false), -4);
    rig_free(r);
}

TEST(read_multiple_blocks)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.command = 0xc6;
    c.count = 4;
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(await_not_bsy(r, 0x1f0) & ERR, 0);
    lba_cmd(&c, 0xc4, 10, 6);
    bus_out(r->bus, 0x3f6, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN, 1);
    send_cmd(r, 0x1f0, 0, &c);
    uint8_t buf[6 * 512];
    /* First DRQ block: 4 sectors without DRQ dropping, then a block of 2. */
    ASSERT_EQ(wait_data(r, 0x1f0), 0);
    for (int i = 0; i < 4 * 512; i += 2) {
        ASSERT_EQ(bus_in(r->bus, 0x3f6, 1) & DRQ, DRQ);
        uint16_t w = (uint16_t)bus_in(r->bus, 0x1f0, 2);
        buf[i] = (uint8_t)w;
        buf[i + 1] = (uint8_t)(w >> 8);
    }
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1) & DRQ, DRQ);
    ASSERT_EQ(pio_transfer(r, 0x1f0, buf + 4 * 512, 1, 2 * 512, false), 0);
    ASSERT_MEM_EQ(buf, r->disk->data + 10 * 512, 6 * 512);
    /* SET MULTIPLE with a count that is not a power of two is refused. */
    c.command = 0xc6;
    c.count = 3;
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(await_not_bsy(r, 0x1f0) & ERR, ERR);
    rig_free(r);
}

TEST(chs_addressing_and_init_params)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    uint8_t buf[512];
    /* Cylinder 3, head 5, sector 7 with the default 16/63 translation. */
    memset(&c, 0, sizeof(c));
    c.command = 0x20;
    c.count = 1;
    c.lba_low = 7;
    c.lba_mid = 3;
    c.device = 0xa5;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 1, false), 0);
    ASSERT_MEM_EQ(buf, r->disk->data + ((3 * 16 + 5) * 63 + 6) * 512, 512);
    /* INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors. */
    memset(&c, 0, sizeof(c));
    c.command = 0x91;
    c.count = 17;
    c.device = 0xa3;
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(await_not_bsy(r, 0x1f0) & ERR, 0);
    memset(&c, 0, sizeof(c));
    c.command = 0x20;
    c.count = 1;
    c.lba_low = 2;
    c.lba_mid = 1;
    c.device = 0xa2;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 1, false), 0);
    ASSERT_MEM_EQ(buf, r->disk->data + ((1 * 4 + 2) * 17 + 1) * 512, 512);
    /* Sector 0 does not exist in CHS. */
    c.lba_low = 0;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 1, false), -4);
    rig_free(r);
}

TEST(lba48_beyond_28_bits)
{
    uint64_t big = (1ull << 29) + 100;
    struct rig *r = rig_new(big, false);
    uint8_t id[512], buf[1024], expect[1024];
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.command = 0xec;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, id, 1, false), 0);
    ASSERT_EQ(word(id, 60) | word(id, 61) << 16, 0x0fffffff);
    ASSERT_EQ(word(id, 100) | (uint64_t)word(id, 101) << 16 | (uint64_t)word(id, 102) << 32, big);
    uint64_t lba = (1ull << 28) + 12345;
    lba_cmd(&c, 0x24, lba, 2);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 2, false), 0);
    pattern(lba, expect);
    pattern(lba + 1, expect + 512);
    ASSERT_MEM_EQ(buf, expect, 1024);
    /* HOB reads back the high bytes of the last sector. */
    bus_out(r->bus, 0x3f6, 0x80, 1);
    ASSERT_EQ(bus_in(r->bus, 0x1f3, 1), (lba + 1) >> 24 & 0xff);
    bus_out(r->bus, 0x3f6, 0x00, 1);
    ASSERT_EQ(bus_in(r->bus, 0x1f3, 1), (lba + 1) & 0xff);
    rig_free(r);
}

/* ---- bus master DMA ---- */

static void pci_enable_bm(struct rig *r)
{
    wcfgl(r, 0x20, BM);
    wcfgl(r, 0x04, 0x0005); /* I/O decode, bus master */
}

static void put_prd(struct rig *r, uint32_t at, uint32_t addr, uint32_t count, bool eot)
{
    uint8_t *p = r->ram + at;
    memcpy(p, &addr, 4);
    uint32_t c = (count & 0xffff) | (eot ? 0x80000000u : 0);
    memcpy(p + 4, &c, 4);
}

/* ata_try_dma + send_cmd + ata_dma_transfer; returns 0 on SeaBIOS's success condition. */
static int dma_cmd(struct rig *r, const struct cmd *c, bool write)
{
    bus_out(r->bus, BM + 4, 0x1000, 4);
    uint8_t oldcmd = (uint8_t)(bus_in(r->bus, BM, 1) & ~0x09);
    bus_out(r->bus, BM, oldcmd | (write ? 0 : 0x08), 1);
    bus_out(r->bus, BM + 2, 0x06, 1);
    send_cmd(r, 0x1f0, 0, c);
    oldcmd = (uint8_t)bus_in(r->bus, BM, 1);
    bus_out(r->bus, BM, oldcmd | 0x01, 1);
    uint8_t status = 0;
    for (int i = 0; i < 100; i++) {
        status = (uint8_t)bus_in(r->bus, BM + 2, 1);
        if (status & 0x04)
            break;
    }
    r->bm_status = status;
    bus_out(r->bus, BM, oldcmd & ~0x01, 1);
    uint8_t idestatus = await_not_bsy(r, 0x1f0);
    if ((status & 0x05) == 0x04 && !(idestatus & (BSY | DF | DRQ | ERR)))
        return 0;
    return -1;
}

TEST(dma_read_sector0_as_seabios)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    pci_enable_bm(r);
    ASSERT_EQ(bus_in(r->bus, BM + 2, 1) & 0x20, 0x20); /* drive 0 DMA capable */
    put_prd(r, 0x1000, 0x2000, 512, true);
    lba_cmd(&c, 0xc8, 0, 1);
    ASSERT_EQ(dma_cmd(r, &c, false), 0);
    ASSERT_MEM_EQ(r->ram + 0x2000, r->disk->data, 512);
    ASSERT_EQ(r->edges[14], 1);
    /* Two PRD entries across a 64 KiB boundary, 130 sectors (READ DMA EXT). */
    put_prd(r, 0x1000, 0x3000, 0x10000 - 0x3000, false);
    put_prd(r, 0x1008, 0x10000, 130 * 512 - (0x10000 - 0x3000), true);
    lba_cmd(&c, 0x25, 200, 130);
    ASSERT_EQ(dma_cmd(r, &c, false), 0);
    ASSERT_MEM_EQ(r->ram + 0x3000, r->disk->data + 200 * 512, 130 * 512);
    rig_free(r);
}

/* 300 sectors: more than the model's 128 KiB buffer, with PRD entries of 0xFE00 bytes that
 * straddle its refills (the PRD walk must resume inside an entry). */
TEST(dma_read_larger_than_buffer)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    pci_enable_bm(r);
    uint32_t total = 300 * 512, at = 0x1000, addr = 0x20000;
    for (uint32_t left = total; left; at += 8) {
        uint32_t n = left < 0xfe00 ? left : 0xfe00;
        put_prd(r, at, addr, n, n == left);
        addr += n;
        left -= n;
    }
    lba_cmd(&c, 0x25, 1000, 300);
    ASSERT_EQ(dma_cmd(r, &c, false), 0);
    ASSERT_MEM_EQ(r->ram + 0x20000, r->disk->data + 1000 * 512, total);
    rig_free(r);
}

TEST(dma_write_and_prd_larger_than_transfer)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    pci_enable_bm(r);
    for (int i = 0; i < 1024; i++)
        r->ram[0x4000 + i] = (uint8_t)(i * 5);
    put_prd(r, 0x1000, 0x4000, 1024, true);
    lba_cmd(&c, 0xca, 300, 2);
    ASSERT_EQ(dma_cmd(r, &c, true), 0);
    ASSERT_MEM_EQ(r->disk->data + 300 * 512, r->ram + 0x4000, 1024);
    /* A PRD table bigger than the data: ACTIVE stays set with INT (PIIX BMIS). */
    put_prd(r, 0x1000, 0x4000, 4096, true);
    lba_cmd(&c, 0xc8, 300, 1);
    ASSERT_EQ(dma_cmd(r, &c, false), -1);
    ASSERT_EQ(r->bm_status & 0x05, 0x05);
    ASSERT_EQ(bus_in(r->bus, BM + 2, 1) & 0x01, 0); /* clearing START stops it */
    ASSERT_MEM_EQ(r->ram + 0x4000, r->disk->data + 300 * 512, 512);
    rig_free(r);
}

TEST(dma_errors)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    wcfgl(r, 0x20, BM);
    wcfgl(r, 0x04, 0x0001); /* I/O decode but no bus mastering */
    put_prd(r, 0x1000, 0x2000, 512, true);
    lba_cmd(&c, 0xc8, 0, 1);
    ASSERT_EQ(dma_cmd(r, &c, false), -1);
    ASSERT_EQ(bus_in(r->bus, BM + 2, 1) & 0x03, 0x02); /* ERROR, not ACTIVE */
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1) & ERR, ERR);
    /* A PRD pointing outside RAM. */
    wcfgl(r, 0x04, 0x0005);
    put_prd(r, 0x1000, 0xfff00000, 512, true);
    ASSERT_EQ(dma_cmd(r, &c, false), -1);
    ASSERT_EQ(bus_in(r->bus, BM + 2, 1) & 0x02, 0x02);
    rig_free(r);
}

TEST(soft_reset_signature_and_nien)
{
    struct rig *r = rig_new(20000, true);
    /* Pending interrupt masked by nIEN, then delivered when nIEN clears. */
    bus_out(r->bus, 0x3f6, ATA_CB_DC_NIEN, 1);
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.command = 0xe5; /* CHECK POWER MODE */
    send_cmd(r, 0x1f0, 0, &c);
    ASSERT_EQ(r->irq[14], 0);
    ASSERT_EQ(bus_in(r->bus, 0x1f2, 1), 0xff);
    bus_out(r->bus, 0x3f6, 0, 1);
    ASSERT_EQ(r->irq[14], 1);
    /* SRST: BSY while asserted, signatures after. */
    bus_out(r->bus, 0x376, ATA_CB_DC_SRST, 1);
    ASSERT_EQ(bus_in(r->bus, 0x177, 1) & BSY, BSY);
    bus_out(r->bus, 0x376, 0, 1);
    ASSERT_EQ(bus_in(r->bus, 0x172, 1), 1);
    ASSERT_EQ(bus_in(r->bus, 0x173, 1), 1);
    ASSERT_EQ(bus_in(r->bus, 0x174, 1), 0x14);
    ASSERT_EQ(bus_in(r->bus, 0x175, 1), 0xeb);
    ASSERT_EQ(bus_in(r->bus, 0x171, 1), 0x01);
    rig_free(r);
}

/* ---- ATAPI ---- */

/* ata_atapi_process_op: PACKET with the byte count limit = blocksize, then the CDB by PIO. */
static int atapi_cmd(struct rig *r, const uint8_t cdb[12], uint8_t *buf, int count, int blocksize)
{
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.lba_mid = (uint8_t)blocksize;
    c.lba_high = (uint8_t)(blocksize >> 8);
    c.command = 0xa0;
    bus_out(r->bus, 0x376, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN, 1);
    send_cmd(r, 0x170, 0, &c);
    int ret = wait_data(r, 0x170);
    if (ret)
        goto out;
    ASSERT_EQ(bus_in(r->bus, 0x172, 1) & 3, 1); /* CoD: waiting for the packet */
    for (int i = 0; i < 12; i += 2)
        bus_out(r->bus, 0x170, cdb[i] | cdb[i + 1] << 8, 2);
    uint8_t st = await_not_bsy(r, 0x170);
    if (st & ERR) {
        ret = -2;
        goto out;
    }
    if (blocksize) {
        if (!(st & DRQ)) {
            ret = -3;
            goto out;
        }
        ASSERT_EQ(bus_in(r->bus, 0x174, 1) | bus_in(r->bus, 0x175, 1) << 8, (unsigned)blocksize);
        ASSERT_EQ(bus_in(r->bus, 0x172, 1) & 3, 2); /* IO: data to the host */
        ret = pio_transfer(r, 0x170, buf, count, blocksize, false);
    }
out:
    bus_out(r->bus, 0x376, ATA_CB_DC_HD15, 1);
    return ret;
}

static uint8_t cd_block_byte(struct rig *r, uint32_t block, unsigned off)
{
    uint8_t s[512];
    uint64_t sector = block * 4ull + off / 512;
    if (sector < STORED)
        return r->cd->data[sector * 512 + off % 512];
    pattern(sector, s);
    return s[off % 512];
}

TEST(atapi_detect_identify_packet)
{
    struct rig *r = rig_new(0, true);
    uint8_t id[512];
    struct cmd c;
    ASSERT(regs_valid(r, 0x170, 0));
    ata_reset(r, 0x170, 0x376);
    ASSERT_EQ(bus_in(r->bus, 0x174, 1), 0x14);
    ASSERT_EQ(bus_in(r->bus, 0x175, 1), 0xeb);
    memset(&c, 0, sizeof(c));
    c.command = 0xa1;
    ASSERT_EQ(pio_cmd_data(r, 0x170, 0x376, 0, &c, id, 1, false), 0);
    ASSERT_EQ((word(id, 0) >> 8) & 0x1f, 0x05); /* iscd */
    ASSERT_EQ(word(id, 0) & 0x80, 0x80);        /* removable */
    char m[41];
    model(id, m);
    ASSERT_STR_EQ(m, "VMware Virtual IDE CDROM Drive");
    /* IDENTIFY DEVICE aborts with the ATAPI signature (how Linux tells them apart). */
    c.command = 0xec;
    ASSERT_EQ(pio_cmd_data(r, 0x170, 0x376, 0, &c, id, 1, false), -4);
    ASSERT_EQ(bus_in(r->bus, 0x174, 1), 0x14);
    ASSERT_EQ(bus_in(r->bus, 0x175, 1), 0xeb);
    rig_free(r);
}

TEST(atapi_unit_attention_then_read10)
{
    struct rig *r = rig_new(0, true);
    uint8_t cdb[12] = {0}, sense[18], buf[3 * 2048];
    /* scsi_is_ready: TEST UNIT READY fails once with UNIT ATTENTION... */
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), -2);
    ASSERT_EQ(bus_in(r->bus, 0x171, 1), 0x60);
    cdb[0] = 0x03;
    cdb[4] = 18;
    ASSERT_EQ(atapi_cmd(r, cdb, sense, 1, 18), 0);
    ASSERT_EQ(sense[0], 0x70);
    ASSERT_EQ(sense[2] & 0x0f, 0x06);
    ASSERT_EQ(sense[12], 0x28);
    /* ...then succeeds. */
    memset(cdb, 0, 12);
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), 0);
    /* READ CAPACITY */
    cdb[0] = 0x25;
    ASSERT_EQ(atapi_cmd(r, cdb, buf, 1, 8), 0);
    ASSERT_EQ(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3], 999);
    ASSERT_EQ(buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7], 2048);
    /* READ(10) of block 17 (the El Torito boot record volume descriptor's place). */
    memset(cdb, 0, 12);
    cdb[0] = 0x28;
    cdb[5] = 17;
    cdb[8] = 1;
    ASSERT_EQ(atapi_cmd(r, cdb, buf, 1, 2048), 0);
    for (unsigned i = 0; i < 2048; i += 97)
        ASSERT_EQ(buf[i], cd_block_byte(r, 17, i));
    /* Three blocks: one DRQ chunk of 2048 bytes each. */
    cdb[5] = 0xe0;
    cdb[4] = 0x03; /* blocks 992-994, the last ones before 999 */
    cdb[8] = 3;
    ASSERT_EQ(atapi_cmd(r, cdb, buf, 3, 2048), 0);
    for (unsigned i = 0; i < 3 * 2048; i += 101)
        ASSERT_EQ(buf[i], cd_block_byte(r, 0x3e0 + i / 2048, i % 2048));
    ASSERT_EQ(bus_in(r->bus, 0x172, 1) & 3, 3); /* completion: IO | CoD */
    rig_free(r);
}

TEST(atapi_read_dma)
{
    struct rig *r = rig_new(0, true);
    uint8_t cdb[12] = {0};
    wcfgl(r, 0x20, BM);
    wcfgl(r, 0x04, 0x0005);
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), -2); /* consume the unit attention */
    /* Linux's order: PRD, direction, PACKET with features DMA, CDB, start. */
    put_prd(r, 0x1000, 0x8000, 2 * 2048, true);
    bus_out(r->bus, BM + 8 + 4, 0x1000, 4);
    bus_out(r->bus, BM + 8, 0x08, 1);
    bus_out(r->bus, BM + 8 + 2, 0x06, 1);
    bus_out(r->bus, 0x171, 0x01, 1);
    bus_out(r->bus, 0x174, 0, 1);
    bus_out(r->bus, 0x175, 0, 1);
    bus_out(r->bus, 0x177, 0xa0, 1);
    cdb[0] = 0x28;
    cdb[5] = 20;
    cdb[8] = 2;
    for (int i = 0; i < 12; i += 2)
        bus_out(r->bus, 0x170, cdb[i] | cdb[i + 1] << 8, 2);
    ASSERT_EQ(bus_in(r->bus, 0x177, 1) & DRQ, DRQ); /* waiting for the bus master */
    bus_out(r->bus, BM + 8, 0x09, 1);
    ASSERT_EQ(bus_in(r->bus, BM + 8 + 2, 1) & 0x07, 0x04);
    ASSERT_EQ(r->irq[15], 1);
    ASSERT_EQ(bus_in(r->bus, 0x177, 1) & (BSY | DRQ | ERR), 0);
    for (unsigned i = 0; i < 2 * 2048; i += 89)
        ASSERT_EQ(r->ram[0x8000 + i], cd_block_byte(r, 20 + i / 2048, i % 2048));
    rig_free(r);
}

TEST(atapi_toc_inquiry_and_errors)
{
    struct rig *r = rig_new(0, true);
    uint8_t cdb[12] = {0}, buf[64], sense[18];
    /* INQUIRY does not consume the unit attention. */
    cdb[0] = 0x12;
    cdb[4] = 36;
    ASSERT_EQ(atapi_cmd(r, cdb, buf, 1, 36), 0);
    ASSERT_EQ(buf[0], 0x05);
    ASSERT_MEM_EQ(buf + 8, "NECVMWar", 8);
    memset(cdb, 0, 12);
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), -2);
    /* READ TOC, format 0, MSF: track 1 at 00:02:00, lead-out at 1000 + 150 frames = 00:15:25. */
    cdb[0] = 0x43;
    cdb[1] = 0x02;
    cdb[8] = 20;
    ASSERT_EQ(atapi_cmd(r, cdb, buf, 1, 20), 0);
    ASSERT_EQ(buf[1], 18);
    ASSERT_EQ(buf[2], 1);
    ASSERT_EQ(buf[3], 1);
    ASSERT_EQ(buf[6], 1);
    ASSERT_EQ(buf[9] << 16 | buf[10] << 8 | buf[11], 0x000200);
    ASSERT_EQ(buf[14], 0xaa);
    ASSERT_EQ(buf[17], 0);
    ASSERT_EQ(buf[18], 15);
    ASSERT_EQ(buf[19], 25);
    /* An unknown opcode: ILLEGAL REQUEST / invalid command operation code. */
    memset(cdb, 0, 12);
    cdb[0] = 0xff;
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), -2);
    ASSERT_EQ(bus_in(r->bus, 0x171, 1), 0x50);
    memset(cdb, 0, 12);
    cdb[0] = 0x03;
    cdb[4] = 18;
    ASSERT_EQ(atapi_cmd(r, cdb, sense, 1, 18), 0);
    ASSERT_EQ(sense[2], 0x05);
    ASSERT_EQ(sense[12], 0x20);
    /* READ(10) beyond the disc: LBA out of range. */
    memset(cdb, 0, 12);
    cdb[0] = 0x28;
    cdb[4] = 0x03;
    cdb[5] = 0xe8;
    cdb[8] = 1;
    ASSERT_EQ(atapi_cmd(r, cdb, buf, 1, 2048), -2);
    rig_free(r);
}

TEST(atapi_empty_tray_not_ready)
{
    struct rig *r = rig_new(0, false);
    uint8_t cdb[12] = {0}, sense[18];
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), -2);
    ASSERT_EQ(bus_in(r->bus, 0x171, 1), 0x20); /* NOT READY: SeaBIOS's "skip Not Ready" case */
    cdb[0] = 0x03;
    cdb[4] = 18;
    ASSERT_EQ(atapi_cmd(r, cdb, sense, 1, 18), 0);
    ASSERT_EQ(sense[2], 0x02);
    ASSERT_EQ(sense[12], 0x3a);
    rig_free(r);
}

/* Random guest traffic on every IDE port (a disk, a CD, DMA enabled, PRDs anywhere): the
 * model must neither crash (run under `make SAN=1`) nor report BSY and DRQ at once. */
TEST(random_port_traffic)
{
    struct rig *r = rig_new(20000, true);
    static const uint16_t ports[] = {0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7, 0x3f6,
                                     0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376,
                                     BM, BM + 2, BM + 4, BM + 8, BM + 10, BM + 12};
    static const uint8_t cmds[] = {0x20, 0x24, 0x30, 0x34, 0xc4, 0xc5, 0xc6, 0xc8, 0xca, 0x25, 0x35,
                                   0xec, 0xa1, 0xa0, 0x91, 0x40, 0xef, 0xe7, 0x90, 0x08, 0x00};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    pci_enable_bm(r);
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint16_t port = ports[x % (sizeof(ports) / sizeof(ports[0]))];
        uint32_t v = (uint32_t)(x >> 32);
        unsigned size = 1u << ((x >> 20) % 3);
        if ((port & 7) == 7 && port < 0x400 && (x >> 24) % 2)
            v = cmds[(x >> 40) % sizeof(cmds)];
        if (port == BM + 4 || port == BM + 12)
            v &= 0xffff0; /* PRD tables somewhere in the first MiB */
        if ((x >> 28) % 2)
            bus_out(r->bus, port, v, size);
        else
            bus_in(r->bus, port, size);
        if ((x >> 50) % 64 == 0) /* random PRD contents */
            memcpy(r->ram + ((x >> 8) & 0xfff8), &x, 8);
        uint8_t st0 = (uint8_t)bus_in(r->bus, 0x3f6, 1), st1 = (uint8_t)bus_in(r->bus, 0x376, 1);
        ASSERT((st0 & (BSY | DRQ)) != (BSY | DRQ));
        ASSERT((st1 & (BSY | DRQ)) != (BSY | DRQ));
    }
    ASSERT(r->disk->writes > 0 && r->disk->flushes > 0); /* the traffic did reach the command set */
    rig_free(r);
}

static uint64_t other_read(void *opaque, uint64_t off, unsigned size)
{
    return 0x42;
}
static const struct bus_ops other_ops = {.read = other_read};

TEST(port_conflict_fails_cleanly)
{
    struct bus *bus = bus_new();
    struct pci_bus *pb = pci_bus_new(bus);
    ASSERT_EQ(bus_map_pio(bus, 0x376, 1, &other_ops, NULL, "other"), 0);
    ASSERT(ide_new(bus, pb, BDF, (struct irq){0}, (struct irq){0}) == NULL);
    ASSERT_EQ(bus_in(bus, 0x376, 1), 0x42); /* the other owner keeps its port */
    ASSERT_EQ(bus_in(bus, 0x1f7, 1), 0xff); /* and nothing of ours is left behind */
    ASSERT_EQ(bus_in(bus, 0x3f6, 1), 0xff);
    ASSERT_EQ(bus_in(bus, 0x177, 1), 0xff);
    ASSERT(pci_find(pb, BDF) == NULL);
    pci_bus_free(pb);
    bus_free(bus);
}

/* Linux's libata PIO: one PACKET READ(10) of 100 blocks with a byte count limit of 63 KiB
 * (atapi_xlat); the device's chunks must not exceed the limit, must carry the byte count in
 * the cylinder registers, and must deliver the blocks in order across the model's buffer refills. */
TEST(atapi_pio_large_byte_limit)
{
    struct rig *r = rig_new(0, true);
    uint8_t cdb[12] = {0};
    ASSERT_EQ(atapi_cmd(r, cdb, NULL, 0, 0), -2); /* the unit attention */
    static uint8_t buf[100 * 2048];
    unsigned limit = 63 * 1024, got = 0, chunks = 0;
    bus_out(r->bus, 0x376, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN, 1);
    bus_out(r->bus, 0x171, 0, 1);
    bus_out(r->bus, 0x174, limit & 0xff, 1);
    bus_out(r->bus, 0x175, limit >> 8, 1);
    bus_out(r->bus, 0x177, 0xa0, 1);
    cdb[0] = 0x28;
    cdb[5] = 100; /* blocks 100..199 */
    cdb[8] = 100;
    for (int i = 0; i < 12; i += 2)
        bus_out(r->bus, 0x170, cdb[i] | cdb[i + 1] << 8, 2);
    for (;;) {
        uint8_t st = await_not_bsy(r, 0x170);
        ASSERT_EQ(st & ERR, 0);
        if (!(st & DRQ))
            break;
        ASSERT_EQ(bus_in(r->bus, 0x172, 1) & 3, 2);
        unsigned n = bus_in(r->bus, 0x174, 1) | bus_in(r->bus, 0x175, 1) << 8;
        ASSERT(n > 0 && n <= limit && got + n <= sizeof(buf));
        for (unsigned i = 0; i < n; i += 4) {
            uint32_t v = bus_in(r->bus, 0x170, 4);
            memcpy(buf + got + i, &v, 4);
        }
        got += n;
        chunks++;
    }
    ASSERT_EQ(got, sizeof(buf));
    ASSERT(chunks >= 4);
    for (unsigned i = 0; i < sizeof(buf); i += 211)
        ASSERT_EQ(buf[i], cd_block_byte(r, 100 + i / 2048, i % 2048));
    ASSERT_EQ(bus_in(r->bus, 0x172, 1) & 3, 3);
    rig_free(r);
}

/* PACKET by PIO with byte count limit `limit`, every DRQ chunk read into buf (at most max bytes):
 * the bytes moved, or -1 when the command ends with ERR. Chunks must respect the limit. */
static long atapi_stream(struct rig *r, const uint8_t cdb[12], unsigned limit, uint8_t *buf, unsigned long max,
                         unsigned *chunks)
{
    unsigned long got = 0;
    *chunks = 0;
    bus_out(r->bus, 0x376, ATA_CB_DC_HD15 | ATA_CB_DC_NIEN, 1);
    bus_out(r->bus, 0x171, 0, 1);
    bus_out(r->bus, 0x174, limit & 0xff, 1);
    bus_out(r->bus, 0x175, limit >> 8, 1);
    bus_out(r->bus, 0x177, 0xa0, 1);
    for (int i = 0; i < 12; i += 2)
        bus_out(r->bus, 0x170, cdb[i] | cdb[i + 1] << 8, 2);
    for (;;) {
        uint8_t st = await_not_bsy(r, 0x170);
        if (st & ERR) {
            bus_out(r->bus, 0x376, ATA_CB_DC_HD15, 1);
            return -1;
        }
        if (!(st & DRQ))
            break;
        unsigned n = bus_in(r->bus, 0x174, 1) | bus_in(r->bus, 0x175, 1) << 8;
        ASSERT(n > 0 && n <= (limit ? limit : 0xfffe) && got + n <= max);
        for (unsigned i = 0; i < n; i += 2) {
            uint32_t v = bus_in(r->bus, 0x170, 2);
            buf[got + i] = (uint8_t)v;
            if (i + 1 < n)
                buf[got + i + 1] = (uint8_t)(v >> 8);
        }
        got += n;
        (*chunks)++;
    }
    bus_out(r->bus, 0x376, ATA_CB_DC_HD15, 1);
    return (long)got;
}

/* The answers the ATAPI drive gives through the SCSI layer, field by field as atapi.c gave them
 * before it was folded into scsi_disk.c (SFF-8020 INQUIRY, MMC-6 pages and features), and what
 * the SCSI layer adds (VPD pages, the removable-medium feature). */
TEST(atapi_answers_field_by_field_through_the_scsi_layer)
{
    struct rig *r = rig_new(0, true);
    static uint8_t buf[1000 * 2048];
    uint8_t cdb[12] = {0x12, 0, 0, 0, 96};
    unsigned chunks;
    /* INQUIRY: CD/DVD, removable, ATAPI version 2 / format 1, no CMDQUE, VMware's strings. */
    ASSERT_EQ(atapi_stream(r, cdb, 0xfffe, buf, 96, &chunks), 36);
    static const uint8_t head[8] = {0x05, 0x80, 0x00, 0x21, 31, 0, 0, 0};
    ASSERT_MEM_EQ(buf, head, 8);
    ASSERT_MEM_EQ(buf + 8, "NECVMWarVMware IDE CDR101.00", 28);
    /* INQUIRY VPD 00h: the supported pages (the old ATAPI code answered standard data here). */
    cdb[1] = 0x01;
    ASSERT_EQ(atapi_stream(r, cdb, 0xfffe, buf, 96, &chunks), 7);
    ASSERT_EQ(buf[0], 0x05);
    ASSERT_EQ(buf[1], 0x00);
    ASSERT_EQ(buf[3], 3);
    /* GET EVENT STATUS NOTIFICATION, polled, media class: new media, media present, once. */
    uint8_t gesn[12] = {0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8};
    ASSERT_EQ(atapi_stream(r, gesn, 0xfffe, buf, 8, &chunks), 8);
    ASSERT_EQ(buf[2], 0x04);
    ASSERT_EQ(buf[3], 0x10);
    ASSERT_EQ(buf[4], 0x02);
    ASSERT_EQ(buf[5], 0x02);
    ASSERT_EQ(atapi_stream(r, gesn, 0xfffe, buf, 8, &chunks), 8);
    ASSERT_EQ(buf[4], 0x00);
    /* The unit attention of the disc in the tray at power-on, then ready. */
    memset(cdb, 0, 12);
    ASSERT_EQ(atapi_stream(r, cdb, 0, buf, 0, &chunks), -1);
    ASSERT_EQ(bus_in(r->bus, 0x171, 1), 0x60);
    ASSERT_EQ(atapi_stream(r, cdb, 0, buf, 0, &chunks), 0);
    /* MODE SENSE(10) page 2Ah: door closed, the capabilities and 706 KB/s. */
    uint8_t ms[12] = {0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64};
    ASSERT_EQ(atapi_stream(r, ms, 0xfffe, buf, 64, &chunks), 28);
    ASSERT_EQ(buf[0] << 8 | buf[1], 26);
    ASSERT_EQ(buf[2], 0x70);
    ASSERT_EQ(buf[8], 0x2a);
    ASSERT_EQ(buf[9], 18);
    ASSERT_EQ(buf[12], 0x71);
    ASSERT_EQ(buf[13], 0x60);
    ASSERT_EQ(buf[14], 0x29);
    ASSERT_EQ(buf[16] << 8 | buf[17], 706);
    /* MODE SENSE(10) saved values: SAVING PARAMETERS NOT SUPPORTED. */
    ms[2] = 0xea;
    ASSERT_EQ(atapi_stream(r, ms, 0xfffe, buf, 64, &chunks), -1);
    ASSERT_EQ(bus_in(r->bus, 0x171, 1), 0x50);
    /* GET CONFIGURATION: current profile CD-ROM, profile list, core feature over ATAPI (2). */
    uint8_t gc[12] = {0x46, 0, 0, 0, 0, 0, 0, 0, 64};
    long n = atapi_stream(r, gc, 0xfffe, buf, 64, &chunks);
    ASSERT(n >= 28);
    ASSERT_EQ(buf[6] << 8 | buf[7], 0x0008);
    ASSERT_EQ(buf[8] << 8 | buf[9], 0x0000);
    ASSERT_EQ(buf[12] << 8 | buf[13], 0x0008);
    ASSERT_EQ(buf[16] << 8 | buf[17], 0x0001);
    ASSERT_EQ(buf[20] << 24 | buf[21] << 16 | buf[22] << 8 | buf[23], 2);
    /* MECHANISM STATUS: 8 bytes of zeros. */
    uint8_t mech[12] = {0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8};
    memset(buf, 0xee, 8);
    ASSERT_EQ(atapi_stream(r, mech, 0xfffe, buf, 8, &chunks), 8);
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(buf[i], 0);
    /* READ(12) of the whole disc (1000 blocks, 2000 KB): streamed through the drive's buffer in
     * chunks of the byte count limit, the blocks in order across every refill. */
    uint8_t rd[12] = {0xa8, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8};
    ASSERT_EQ(atapi_stream(r, rd, 0xfffe, buf, sizeof(buf), &chunks), 1000 * 2048);
    ASSERT(chunks >= 1000 * 2048 / 0xfffe);
    for (unsigned long i = 0; i < sizeof(buf); i += 1009)
        ASSERT_EQ(buf[i], cd_block_byte(r, (uint32_t)(i / 2048), i % 2048));
    /* Hostile counts and addresses: LBA OUT OF RANGE, no data phase. */
    uint8_t bad[12] = {0xa8, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    ASSERT_EQ(atapi_stream(r, bad, 0xfffe, buf, sizeof(buf), &chunks), -1);
    uint8_t bad2[12] = {0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1};
    ASSERT_EQ(atapi_stream(r, bad2, 0xfffe, buf, sizeof(buf), &chunks), -1);
    uint8_t rs[12] = {0x03, 0, 0, 0, 18};
    ASSERT_EQ(atapi_stream(r, rs, 0xfffe, buf, 18, &chunks), 18);
    ASSERT_EQ(buf[2], 0x05);
    ASSERT_EQ(buf[12], 0x21);
    /* A disk-only opcode (WRITE(10)) on the CD: invalid command operation code. */
    uint8_t wr[12] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1};
    ASSERT_EQ(atapi_stream(r, wr, 0xfffe, buf, sizeof(buf), &chunks), -1);
    ASSERT_EQ(atapi_stream(r, rs, 0xfffe, buf, 18, &chunks), 18);
    ASSERT_EQ(buf[12], 0x20);
    rig_free(r);
}

/* ---- the write cache: SET FEATURES 02h/82h, FUA, write-through disks ---- */

static void identify(struct rig *r, uint8_t *id)
{
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.command = 0xec;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, id, 1, false), 0);
}

static uint8_t simple_cmd(struct rig *r, uint8_t command, uint8_t feature, uint8_t count)
{
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.command = command;
    c.feature = feature;
    c.count = count;
    send_cmd(r, 0x1f0, 0, &c);
    return await_not_bsy(r, 0x1f0);
}

/* Writes 2 sectors at lba with command (DMA or PIO); returns the flushes it caused. */
static int write_cmd(struct rig *r, uint8_t command, uint64_t lba, uint8_t fill)
{
    struct cmd c;
    int before = r->disk->flushes;
    bool dma = command == 0xca || command == 0x35 || command == 0x3d;
    memset(r->ram + 0x4000, fill, 1024);
    lba_cmd(&c, command, lba, 2);
    if (dma) {
        put_prd(r, 0x1000, 0x4000, 1024, true);
        ASSERT_EQ(dma_cmd(r, &c, true), 0);
    } else {
        ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, r->ram + 0x4000, 2, true), 0);
    }
    ASSERT_MEM_EQ(r->disk->data + lba * 512, r->ram + 0x4000, 1024);
    return r->disk->flushes - before;
}

/* Power-on: the cache is on and the guest flushes; with it off every write command is
 * flushed before it completes (DMA, PIO, MULTIPLE, 28- and 48-bit), and turning it off
 * flushes what it held. Soft reset keeps the setting, a machine reset turns it on again. */
TEST(write_cache_off_makes_every_write_stable)
{
    struct rig *r = rig_new(20000, false);
    uint8_t id[512];
    pci_enable_bm(r);
    identify(r, id);
    ASSERT_EQ(word(id, 82) & 1 << 5, 1 << 5); /* write cache supported */
    ASSERT_EQ(word(id, 85) & 1 << 5, 1 << 5); /* and on */
    ASSERT_EQ(word(id, 84) & 0xc040, 0x4040); /* WRITE DMA/MULTIPLE FUA EXT */
    ASSERT_EQ(word(id, 87) & 0xc040, 0x4040);
    ASSERT_EQ(write_cmd(r, 0xca, 10, 1), 0);
    ASSERT_EQ(write_cmd(r, 0x30, 12, 2), 0);
    ASSERT_EQ(simple_cmd(r, 0xef, 0x82, 0) & (ERR | DRQ), 0);
    ASSERT_EQ(r->disk->flushes, 1);
    ASSERT_EQ(r->disk->writes_at_flush, r->disk->writes);
    identify(r, id);
    ASSERT_EQ(word(id, 85) & 1 << 5, 0);
    ASSERT_EQ(simple_cmd(r, 0xc6, 0, 2) & ERR, 0); /* SET MULTIPLE 2 */
    static const uint8_t writes[] = {0xca, 0x35, 0x30, 0x34, 0xc5, 0x39};
    for (size_t i = 0; i < sizeof writes; i++) {
        ASSERT_EQ(write_cmd(r, writes[i], 100 + 2 * i, (uint8_t)(0x10 + i)), 1);
        ASSERT_EQ(r->disk->writes_at_flush, r->disk->writes);
    }
    ata_reset(r, 0x1f0, 0x3f6); /* SRST */
    identify(r, id);
    ASSERT_EQ(word(id, 85) & 1 << 5, 0);
    ASSERT_EQ(write_cmd(r, 0xca, 30, 3), 1);
    ASSERT_EQ(simple_cmd(r, 0xef, 0x02, 0) & (ERR | DRQ), 0);
    identify(r, id);
    ASSERT_EQ(word(id, 85) & 1 << 5, 1 << 5);
    ASSERT_EQ(write_cmd(r, 0xca, 32, 4), 0);
    ASSERT_EQ(simple_cmd(r, 0xef, 0x82, 0) & (ERR | DRQ), 0);
    ide_reset(r->ide); /* power-on state */
    pci_enable_bm(r);
    identify(r, id);
    ASSERT_EQ(word(id, 85) & 1 << 5, 1 << 5);
    ASSERT_EQ(write_cmd(r, 0xca, 34, 5), 0);
    rig_free(r);
}

/* WRITE DMA FUA EXT and WRITE MULTIPLE FUA EXT are stable with the cache on; the other
 * writes are not. WRITE MULTIPLE FUA EXT needs SET MULTIPLE like the others. */
TEST(fua_writes_are_flushed_before_they_complete)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    uint8_t buf[1024];
    pci_enable_bm(r);
    lba_cmd(&c, 0xce, 50, 2);
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, buf, 2, true), -4);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x04);
    ASSERT_EQ(write_cmd(r, 0x3d, 60, 7), 1);
    ASSERT_EQ(r->disk->writes_at_flush, r->disk->writes);
    ASSERT_EQ(write_cmd(r, 0x35, 62, 8), 0);
    ASSERT_EQ(simple_cmd(r, 0xc6, 0, 2) & ERR, 0);
    ASSERT_EQ(write_cmd(r, 0xce, 64, 9), 1);
    ASSERT_EQ(r->disk->writes_at_flush, r->disk->writes);
    ASSERT_EQ(write_cmd(r, 0x39, 66, 10), 0);
    ASSERT_EQ(bus_in(r->bus, 0x1f3, 1), 67); /* the task file holds the last sector */
    rig_free(r);
}

/* A flush that fails fails the command the guest waits on: the stable write ends with ERR
 * and ABRT, and turning the cache off is refused (it stays on). */
TEST(stable_write_flush_failure_reaches_guest)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    uint8_t id[512];
    pci_enable_bm(r);
    r->disk->fail_flush = 1;
    uint8_t st = simple_cmd(r, 0xef, 0x82, 0);
    ASSERT_EQ(st & ERR, ERR);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x04);
    identify(r, id);
    ASSERT_EQ(word(id, 85) & 1 << 5, 1 << 5);
    put_prd(r, 0x1000, 0x4000, 1024, true);
    lba_cmd(&c, 0x3d, 70, 2);
    ASSERT_EQ(dma_cmd(r, &c, true), -1);
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1) & ERR, ERR);
    ASSERT_EQ(bus_in(r->bus, 0x1f1, 1), 0x04);
    lba_cmd(&c, 0x30, 72, 1);
    r->disk->fail_flush = 0;
    ASSERT_EQ(simple_cmd(r, 0xef, 0x82, 0) & ERR, 0);
    r->disk->fail_flush = 1;
    ASSERT_EQ(pio_cmd_data(r, 0x1f0, 0x3f6, 0, &c, id, 1, true), -7);
    ASSERT_EQ(bus_in(r->bus, 0x1f7, 1) & ERR, ERR);
    rig_free(r);
}

/* A write-through disk (.vmx writeThrough) powers on with its cache off, and every write
 * is flushed even if the guest turns the cache on. */
TEST(write_through_disk_has_its_cache_off)
{
    struct rig *r = rig_new(0, false);
    struct error err;
    uint8_t id[512];
    r->disk = ramdisk_new(20000);
    r->disk->bd.write_through = true;
    ASSERT_EQ(ide_attach(r->ide, 0, 0, IDE_DISK, &r->disk->bd, &err), 0);
    pci_enable_bm(r);
    identify(r, id);
    ASSERT_EQ(word(id, 82) & 1 << 5, 1 << 5);
    ASSERT_EQ(word(id, 85) & 1 << 5, 0);
    ASSERT(write_cmd(r, 0xca, 10, 1) >= 1);
    ASSERT_EQ(r->disk->writes_at_flush, r->disk->writes);
    ASSERT_EQ(simple_cmd(r, 0xef, 0x02, 0) & ERR, 0);
    ASSERT(write_cmd(r, 0x30, 20, 2) >= 1); /* each DRQ block is a stable write */
    ASSERT_EQ(r->disk->writes_at_flush, r->disk->writes);
    rig_free(r);
}

/* SET FEATURES write cache on an ATAPI drive with an empty tray (no blockdev) is harmless. */
TEST(write_cache_features_on_an_empty_cdrom)
{
    struct rig *r = rig_new(20000, false);
    struct cmd c;
    memset(&c, 0, sizeof(c));
    c.command = 0xef;
    for (int i = 0; i < 2; i++) {
        c.feature = i ? 0x02 : 0x82;
        send_cmd(r, 0x170, 0, &c);
        ASSERT_EQ(await_not_bsy(r, 0x170) & ERR, 0);
    }
    ASSERT_EQ(r->disk->flushes, 0);
    rig_free(r);
}
