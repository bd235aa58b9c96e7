/*
 * PVSCSI driven the way Linux's vmw_pvscsi (probe: ADAPTER_RESET, CONFIG,
 * the SETUP_MSG_RING and SETUP_REQCALLTHRESHOLD probes, SETUP_RINGS with 8
 * pages, interrupt mask, requests with S/G lists, INTx status acknowledged
 * by writing it back) and SeaBIOS's pvscsi.c (one-page rings, 16-byte CDBs,
 * KICK_RW_IO and polling INTR_STATUS) drive it, over RAM and a memory disk.
 * Oracles: the register and descriptor layouts of Linux's vmw_pvscsi.h
 * (rings state offsets, request/completion descriptor fields, host status
 * codes), the disk's contents, the SCSI replies (devices/scsi.h). Hostile
 * cases: ring pages outside RAM, ring sizes the header forbids, S/G lists
 * into MMIO or chained to themselves, unreachable sense buffers, absurd
 * producer indices, bus mastering off: the request fails with its host
 * status or the command with -1, and nothing else happens.
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/pvscsi.h"
#include "tests/unit/ramdisk.h"
#include "tests/unit/test.h"

#define RAM_SIZE (4u << 20)
#define BAR 0xe0000000u
#define DEVFN (16 << 3)

/* guest memory layout */
#define RS 0x10000      /* rings state */
#define REQ 0x20000     /* request ring, up to 32 pages */
#define CMP 0x40000     /* completion ring, up to 32 pages */
#define MSG 0x60000     /* message ring */
#define SGL 0x70000     /* S/G lists */
#define SENSE 0x78000
#define CONF 0x79000
#define DATA 0x100000   /* data buffers */


struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct pvscsi *s;
    struct scsi_bus sbus;
    uint8_t *ram;
    struct ramdisk *disk;
    int irq;
};

static struct rig R;

static void route(void *opaque, int devfn, int pin, int level)
{
    R.irq = level;
}

static void wr(unsigned off, uint32_t v)
{
    bus_write(R.bus, BAR + off, v, 4);
}

static uint32_t rd(unsigned off)
{
    return (uint32_t)bus_read(R.bus, BAR + off, 4);
}

static uint32_t get32(uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, R.ram + gpa, 4);
    return v;
}

static void put32(uint64_t gpa, uint32_t v)
{
    memcpy(R.ram + gpa, &v, 4);
}

static void put64(uint64_t gpa, uint64_t v)
{
    memcpy(R.ram + gpa, &v, 8);
}

static uint64_t get64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, R.ram + gpa, 8);
    return v;
}

static void rig_up(void)
{
    memset(&R, 0, sizeof R);
    R.bus = bus_new();
    R.ram = calloc(1, RAM_SIZE);
    ASSERT_EQ(bus_map_ram(R.bus, 0, RAM_SIZE, R.ram, false, "ram"), 0);
    R.pb = pci_bus_new(R.bus);
    pci_bus_set_intx_router(R.pb, route, NULL);
    R.disk = ramdisk_new(2048); /* 1 MiB */
    for (unsigned i = 0; i < 2048 * 512; i++)
        R.disk->data[i] = (uint8_t)(i ^ (i >> 9));
    struct scsi_dev *d0 = scsi_dev_new(SCSI_DISK, &R.disk->bd, NULL);
    ASSERT_EQ(scsi_bus_attach(&R.sbus, 0, 0, d0, NULL), 0);
    struct scsi_dev *d2 = scsi_dev_new(SCSI_DISK, &R.disk->bd, NULL);
    ASSERT_EQ(scsi_bus_attach(&R.sbus, 2, 0, d2, NULL), 0);
    R.s = pvscsi_new(R.bus, R.pb, DEVFN, &R.sbus);
    ASSERT(R.s);
    pvscsi_reset(R.s);
    pci_config_write(R.pb, DEVFN, PCI_BASE_ADDRESS_0, BAR, 4);
    pci_config_write(R.pb, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

static void rig_down(void)
{
    pvscsi_free(R.s);
    scsi_bus_free(&R.sbus);
    pci_bus_free(R.pb);
    bus_free(R.bus);
    free(R.ram);
    ramdisk_close(&R.disk->bd);
}

static void command(uint32_t cmd, const void *desc, size_t len)
{
    const uint8_t *p = desc;
    wr(PVSCSI_REG_COMMAND, cmd);
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint32_t v;
        memcpy(&v, p + i, 4);
        wr(PVSCSI_REG_COMMAND_DATA, v);
    }
}

/* SETUP_RINGS with nreq/ncmp consecutive pages at REQ/CMP (or the given state PPN). */
static uint32_t setup_rings(uint32_t nreq, uint32_t ncmp, uint64_t rs_ppn)
{
    uint8_t d[528];
    memset(d, 0, sizeof d);
    memcpy(d, &nreq, 4);
    memcpy(d + 4, &ncmp, 4);
    memcpy(d + 8, &rs_ppn, 8);
    for (uint32_t i = 0; i < 32; i++) {
        uint64_t rp = (REQ >> 12) + i, cp = (CMP >> 12) + i;
        memcpy(d + 16 + 8 * i, &rp, 8);
        memcpy(d + 272 + 8 * i, &cp, 8);
    }
    memset(R.ram + RS, 0, 4096);
    command(PVSCSI_CMD_SETUP_RINGS, d, sizeof d);
    return rd(PVSCSI_REG_COMMAND_STATUS);
}

struct req {
    uint64_t context, data_addr, data_len, sense_addr;
    uint32_t sense_len, flags;
    uint8_t cdb[16], cdb_len, lun, target, bus;
};

/* Puts r at the producer index and advances it. */
static void queue(const struct req *r)
{
    uint32_t prod = get32(RS + 0), log2 = get32(RS + 8);
    uint64_t at = REQ + (uint64_t)(prod & ((1u << log2) - 1)) * 128;
    uint8_t *e = R.ram + at;
    memset(e, 0, 128);
    memcpy(e, &r->context, 8);
    memcpy(e + 8, &r->data_addr, 8);
    memcpy(e + 16, &r->data_len, 8);
    memcpy(e + 24, &r->sense_addr, 8);
    memcpy(e + 32, &r->sense_len, 4);
    memcpy(e + 36, &r->flags, 4);
    memcpy(e + 40, r->cdb, 16);
    e[56] = r->cdb_len;
    e[58] = r->lun; /* lun[1] */
    e[65] = 0x20;   /* simple tag */
    e[66] = r->bus;
    e[67] = r->target;
    put32(RS + 0, prod + 1);
}

struct cmp {
    uint64_t context, data_len;
    uint32_t sense_len;
    uint16_t host, scsi;
};

/* The completion at the consumer index; advances it. */
static struct cmp take(void)
{
    uint32_t cons = get32(RS + 16), log2 = get32(RS + 20);
    ASSERT(get32(RS + 12) != cons); /* something to take */
    uint64_t at = CMP + (uint64_t)(cons & ((1u << log2) - 1)) * 32;
    struct cmp c;
    c.context = get64(at);
    c.data_len = get64(at + 8);
    c.sense_len = get32(at + 16);
    uint32_t st = get32(at + 20);
    c.host = (uint16_t)st;
    c.scsi = (uint16_t)(st >> 16);
    put32(RS + 16, cons + 1);
    return c;
}

static struct cmp run1(const struct req *r, unsigned kick)
{
    queue(r);
    wr(kick, 0);
    return take();
}

static struct req inquiry(uint8_t target, uint8_t lun)
{
    struct req r = {.context = 7, .data_addr = DATA, .data_len = 96, .sense_addr = SENSE, .sense_len = 96,
                    .flags = PVSCSI_FLAG_CMD_DIR_TOHOST, .cdb = {0x12, 0, 0, 0, 96, 0}, .cdb_len = 6,
                    .lun = lun, .target = target};
    return r;
}

TEST(pci_identity)
{
    rig_up();
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_VENDOR_ID, 2), 0x15ad);
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_DEVICE_ID, 2), 0x07c0);
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x15ad);
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_SUBSYSTEM_ID, 2), 0x07c0);
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_REVISION_ID, 4) >> 8, 0x010000);
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_INTERRUPT_PIN, 1), 1);
    /* BAR0: a 32 KiB memory BAR (Linux wants one of at least PVSCSI_MEM_SPACE_SIZE) */
    pci_config_write(R.pb, DEVFN, PCI_BASE_ADDRESS_0, 0xffffffffu, 4);
    ASSERT_EQ(pci_config_read(R.pb, DEVFN, PCI_BASE_ADDRESS_0, 4), 0xffff8000u);
    rig_down();
}

/* Linux's probe, then an INQUIRY through the ring with INTx. */
TEST(linux_probe_and_inquiry)
{
    rig_up();
    command(PVSCSI_CMD_ADAPTER_RESET, NULL, 0);
    /* CONFIG: the controller page, header marked with errors first as Linux does */
    memset(R.ram + CONF, 0, 4096);
    put32(CONF + 8, 0x0002001a); /* hostStatus INVPARAM, scsiStatus CHECK */
    uint32_t conf[6] = {CONF, 0, 0, PVSCSI_CONFIG_CONTROLLER_ADDRESS, PVSCSI_CONFIG_PAGE_CONTROLLER, 0};
    command(PVSCSI_CMD_CONFIG, conf, sizeof conf);
    ASSERT_EQ(get32(CONF + 8), 0); /* host and SCSI status good */
    ASSERT_EQ(get32(CONF + 472), 16); /* numPhys: 16 targets */
    /* the message ring is supported (status not -1), the request threshold is not */
    wr(PVSCSI_REG_COMMAND, PVSCSI_CMD_SETUP_MSG_RING);
    ASSERT_NE(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    wr(PVSCSI_REG_COMMAND, PVSCSI_CMD_SETUP_REQCALLTHRESHOLD);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    /* rings: 8 pages each, then the message ring */
    ASSERT_EQ(setup_rings(8, 8, RS >> 12), 0);
    ASSERT_EQ(get32(RS + 8), 8);   /* 256 request entries */
    ASSERT_EQ(get32(RS + 20), 10); /* 1024 completion entries */
    uint32_t msg[34] = {1, 0, MSG >> 12, 0};
    command(PVSCSI_CMD_SETUP_MSG_RING, msg, sizeof msg);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0);
    ASSERT_EQ(get32(RS + 136), 5); /* 32 message entries */
    ASSERT_EQ(get32(RS + 128), 0);
    wr(PVSCSI_REG_INTR_MASK, PVSCSI_INTR_CMPL_MASK | PVSCSI_INTR_MSG_MASK);
    ASSERT_EQ(R.irq, 0);
    /* INQUIRY for target 0 */
    struct req r = inquiry(0, 0);
    queue(&r);
    ASSERT_EQ(R.irq, 0);
    wr(PVSCSI_REG_KICK_NON_RW_IO, 0);
    ASSERT_EQ(get32(RS + 4), 1); /* request consumed */
    ASSERT_EQ(get32(RS + 12), 1); /* one completion */
    ASSERT_EQ(rd(PVSCSI_REG_INTR_STATUS) & PVSCSI_INTR_CMPL_MASK, 1);
    ASSERT_EQ(R.irq, 1);
    struct cmp c = take();
    ASSERT_EQ(c.context, 7);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_EQ(c.scsi, SCSI_GOOD);
    ASSERT_EQ(c.data_len, 36);
    ASSERT_EQ(c.sense_len, 0);
    ASSERT_EQ(R.ram[DATA], 0x00);
    ASSERT_MEM_EQ(R.ram + DATA + 8, "VMware  ", 8);
    /* the ISR writes the status back: the line drops */
    wr(PVSCSI_REG_INTR_STATUS, rd(PVSCSI_REG_INTR_STATUS));
    ASSERT_EQ(rd(PVSCSI_REG_INTR_STATUS), 0);
    ASSERT_EQ(R.irq, 0);
    /* masked, the status still shows completions (SeaBIOS polls) but the line stays low */
    wr(PVSCSI_REG_INTR_MASK, 0);
    c = run1(&r, PVSCSI_REG_KICK_NON_RW_IO);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_STATUS) & 1, 1);
    ASSERT_EQ(R.irq, 0);
    rig_down();
}

TEST(write_sg_read_flat)
{
    rig_up();
    ASSERT_EQ(setup_rings(8, 8, RS >> 12), 0);
    /* WRITE(10) of 8 blocks at LBA 100 from three S/G pieces: 1000 + 3000 + 96 bytes */
    for (unsigned i = 0; i < 4096; i++)
        R.ram[DATA + 0x10000 + i] = (uint8_t)(i * 31 + 1);
    memcpy(R.ram + DATA + 0x20000, R.ram + DATA + 0x10000, 1000);
    memcpy(R.ram + DATA + 0x30100, R.ram + DATA + 0x10000 + 1000, 3000);
    memcpy(R.ram + DATA + 0x40ff0, R.ram + DATA + 0x10000 + 4000, 96);
    put64(SGL, DATA + 0x20000), put32(SGL + 8, 1000), put32(SGL + 12, 0);
    put64(SGL + 16, DATA + 0x30100), put32(SGL + 24, 3000), put32(SGL + 28, 0);
    /* the third element through a chain element */
    put64(SGL + 32, SGL + 0x200), put32(SGL + 40, 0), put32(SGL + 44, PVSCSI_SGE_FLAG_CHAIN_ELEMENT);
    put64(SGL + 0x200, DATA + 0x40ff0), put32(SGL + 0x208, 96), put32(SGL + 0x20c, 0);
    struct req w = {.context = 1, .data_addr = SGL, .data_len = 4096, .sense_addr = SENSE, .sense_len = 96,
                    .flags = PVSCSI_FLAG_CMD_DIR_TODEVICE | PVSCSI_FLAG_CMD_WITH_SG_LIST,
                    .cdb = {0x2a, 0, 0, 0, 0, 100, 0, 0, 8, 0}, .cdb_len = 10};
    struct cmp c = run1(&w, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_EQ(c.scsi, SCSI_GOOD);
    ASSERT_EQ(c.data_len, 4096);
    ASSERT_MEM_EQ(R.disk->data + 100 * 512, R.ram + DATA + 0x10000, 4096);
    /* READ(10) back into a flat buffer */
    memset(R.ram + DATA, 0, 4096);
    struct req rq = {.context = 2, .data_addr = DATA, .data_len = 4096, .sense_addr = SENSE, .sense_len = 96,
                     .flags = PVSCSI_FLAG_CMD_DIR_TOHOST, .cdb = {0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0},
                     .cdb_len = 10};
    c = run1(&rq, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.context, 2);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_EQ(c.data_len, 4096);
    ASSERT_MEM_EQ(R.ram + DATA, R.ram + DATA + 0x10000, 4096);
    /* READ(10) into the same S/G list: the pieces get the data */
    memset(R.ram + DATA + 0x20000, 0, 1000);
    memset(R.ram + DATA + 0x40ff0, 0, 96);
    rq.data_addr = SGL;
    rq.flags |= PVSCSI_FLAG_CMD_WITH_SG_LIST;
    c = run1(&rq, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_MEM_EQ(R.ram + DATA + 0x20000, R.ram + DATA + 0x10000, 1000);
    ASSERT_MEM_EQ(R.ram + DATA + 0x40ff0, R.ram + DATA + 0x10000 + 4000, 96);
    rig_down();
}

TEST(check_condition_sense_and_absent)
{
    rig_up();
    ASSERT_EQ(setup_rings(1, 1, RS >> 12), 0);
    /* READ(10) past the end: CHECK CONDITION, sense in the sense buffer */
    memset(R.ram + SENSE, 0xcc, 96);
    struct req r = {.context = 3, .data_addr = DATA, .data_len = 512, .sense_addr = SENSE, .sense_len = 96,
                    .flags = PVSCSI_FLAG_CMD_DIR_TOHOST, .cdb = {0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 1, 0},
                    .cdb_len = 10};
    struct cmp c = run1(&r, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_EQ(c.scsi, SCSI_CHECK_CONDITION);
    ASSERT_EQ(c.data_len, 0);
    ASSERT_EQ(c.sense_len, 18);
    ASSERT_EQ(R.ram[SENSE], 0x70);
    ASSERT_EQ(R.ram[SENSE + 2], SENSE_ILLEGAL_REQUEST);
    ASSERT_EQ(R.ram[SENSE + 12], 0x21);
    ASSERT_EQ(R.ram[SENSE + 18], 0xcc); /* nothing past the sense data */
    /* a sense buffer shorter than the sense data gets what fits */
    r.sense_len = 8;
    c = run1(&r, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.sense_len, 8);
    /* no target 1: selection timeout; target 2 answers */
    r = inquiry(1, 0);
    c = run1(&r, PVSCSI_REG_KICK_NON_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SELTIMEO);
    ASSERT_EQ(c.data_len, 0);
    r = inquiry(2, 0);
    c = run1(&r, PVSCSI_REG_KICK_NON_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    /* targets past 15 and buses other than 0 do not exist */
    r = inquiry(200, 0);
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_NON_RW_IO).host, BTSTAT_SELTIMEO);
    r = inquiry(0, 0);
    r.bus = 1;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_NON_RW_IO).host, BTSTAT_SELTIMEO);
    /* an absent LUN of a present target: peripheral qualifier 3 */
    r = inquiry(0, 5);
    c = run1(&r, PVSCSI_REG_KICK_NON_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_EQ(c.scsi, SCSI_GOOD);
    ASSERT_EQ(R.ram[DATA], 0x7f);
    /* RESET_BUS: the next TEST UNIT READY reports the reset */
    command(PVSCSI_CMD_RESET_BUS, NULL, 0);
    struct req t = {.context = 9, .sense_addr = SENSE, .sense_len = 96, .flags = PVSCSI_FLAG_CMD_DIR_NONE,
                    .cdb_len = 6};
    c = run1(&t, PVSCSI_REG_KICK_NON_RW_IO);
    ASSERT_EQ(c.scsi, SCSI_CHECK_CONDITION);
    ASSERT_EQ(R.ram[SENSE + 2], SENSE_UNIT_ATTENTION);
    ASSERT_EQ(R.ram[SENSE + 12], 0x29);
    ASSERT_EQ(run1(&t, PVSCSI_REG_KICK_NON_RW_IO).scsi, SCSI_GOOD);
    /* RESET_DEVICE on target 2 leaves target 0 alone */
    uint32_t rdv[3] = {2, 0, 0};
    command(PVSCSI_CMD_RESET_DEVICE, rdv, sizeof rdv);
    ASSERT_EQ(run1(&t, PVSCSI_REG_KICK_NON_RW_IO).scsi, SCSI_GOOD);
    t.target = 2;
    ASSERT_EQ(run1(&t, PVSCSI_REG_KICK_NON_RW_IO).scsi, SCSI_CHECK_CONDITION);
    rig_down();
}

/* SeaBIOS: one-page rings, 16-byte CDBs, TODEVICE with no data for TEST UNIT READY, polling. */
TEST(seabios_flow)
{
    rig_up();
    command(PVSCSI_CMD_ADAPTER_RESET, NULL, 0);
    ASSERT_EQ(setup_rings(1, 1, RS >> 12), 0);
    ASSERT_EQ(get32(RS + 8), 5);
    ASSERT_EQ(get32(RS + 20), 7);
    struct req t = {.context = 0, .flags = PVSCSI_FLAG_CMD_DIR_TODEVICE, .cdb_len = 16};
    queue(&t);
    wr(PVSCSI_REG_KICK_RW_IO, 0);
    ASSERT(rd(PVSCSI_REG_INTR_STATUS) & PVSCSI_INTR_CMPL_MASK);
    wr(PVSCSI_REG_INTR_STATUS, PVSCSI_INTR_CMPL_MASK);
    ASSERT_EQ(take().host, 0);
    struct req cap = {.data_addr = DATA, .data_len = 8, .flags = PVSCSI_FLAG_CMD_DIR_TOHOST,
                      .cdb = {0x25}, .cdb_len = 16};
    struct cmp c = run1(&cap, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, 0);
    ASSERT_EQ(c.data_len, 8);
    ASSERT_MEM_EQ(R.ram + DATA, ((uint8_t[]){0, 0, 0x07, 0xff, 0, 0, 0x02, 0}), 8);
    /* 40 commands wrap the 32-entry request ring */
    for (int i = 0; i < 40; i++)
        ASSERT_EQ(run1(&cap, PVSCSI_REG_KICK_RW_IO).host, 0);
    ASSERT_EQ(get32(RS + 4), 42);
    rig_down();
}

/* A full completion ring stops the device; consuming completions and kicking again resumes it. */
TEST(completion_ring_full)
{
    rig_up();
    ASSERT_EQ(setup_rings(8, 1, RS >> 12), 0); /* 256 requests, 128 completions */
    struct req t = {.flags = PVSCSI_FLAG_CMD_DIR_NONE, .cdb_len = 6};
    for (int i = 0; i < 200; i++) {
        t.context = (uint64_t)i + 1;
        queue(&t);
    }
    wr(PVSCSI_REG_KICK_NON_RW_IO, 0);
    ASSERT_EQ(get32(RS + 4), 128);
    ASSERT_EQ(get32(RS + 12), 128);
    for (int i = 0; i < 128; i++)
        ASSERT_EQ(take().context, (uint64_t)i + 1);
    wr(PVSCSI_REG_KICK_NON_RW_IO, 0);
    ASSERT_EQ(get32(RS + 4), 200);
    ASSERT_EQ(get32(RS + 12), 200);
    ASSERT_EQ(take().context, 129);
    rig_down();
}

TEST(hostile_setup)
{
    rig_up();
    /* ring pages outside RAM, in the MMIO BAR, past any physical address */
    ASSERT_EQ(setup_rings(1, 1, RAM_SIZE >> 12), 0xffffffffu);
    ASSERT_EQ(setup_rings(1, 1, BAR >> 12), 0xffffffffu);
    ASSERT_EQ(setup_rings(1, 1, 0xffffffffffffffffull), 0xffffffffu);
    /* ring sizes: 0, not a power of two, more than 32 pages, absurd */
    ASSERT_EQ(setup_rings(0, 1, RS >> 12), 0xffffffffu);
    ASSERT_EQ(setup_rings(3, 1, RS >> 12), 0xffffffffu);
    ASSERT_EQ(setup_rings(64, 1, RS >> 12), 0xffffffffu);
    ASSERT_EQ(setup_rings(1, 0x80000000u, RS >> 12), 0xffffffffu);
    /* a request page outside RAM */
    uint8_t d[528] = {0};
    uint32_t one = 1;
    uint64_t rs = RS >> 12, bad = 0x7fffffffffull, cp = CMP >> 12;
    memcpy(d, &one, 4), memcpy(d + 4, &one, 4), memcpy(d + 8, &rs, 8);
    memcpy(d + 16, &bad, 8), memcpy(d + 272, &cp, 8);
    command(PVSCSI_CMD_SETUP_RINGS, d, sizeof d);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    /* no rings: a kick touches nothing */
    memset(R.ram + RS, 0, 64);
    put32(RS, 5);
    wr(PVSCSI_REG_KICK_RW_IO, 0);
    ASSERT_EQ(get32(RS + 4), 0);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_STATUS), 0);
    /* unknown commands fail; stray data words are ignored; ISSUE_SCSI without rings fails */
    wr(PVSCSI_REG_COMMAND, 77);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    for (int i = 0; i < 1000; i++)
        wr(PVSCSI_REG_COMMAND_DATA, 0xdeadbeef);
    uint8_t issue[128] = {0};
    command(PVSCSI_CMD_ISSUE_SCSI, issue, sizeof issue);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    /* the message ring before the rings: nothing */
    uint32_t msg[34] = {1, 0, MSG >> 12, 0};
    command(PVSCSI_CMD_SETUP_MSG_RING, msg, sizeof msg);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    /* CONFIG to an address outside RAM fails; an unknown page says so in its header */
    uint32_t conf[6] = {0, 0x10, 0, PVSCSI_CONFIG_CONTROLLER_ADDRESS, PVSCSI_CONFIG_PAGE_CONTROLLER, 0};
    command(PVSCSI_CMD_CONFIG, conf, sizeof conf);
    ASSERT_EQ(rd(PVSCSI_REG_COMMAND_STATUS), 0xffffffffu);
    uint32_t conf2[6] = {CONF, 0, 0, PVSCSI_CONFIG_CONTROLLER_ADDRESS, 0x1959, 0};
    command(PVSCSI_CMD_CONFIG, conf2, sizeof conf2);
    ASSERT_EQ(get32(CONF + 8) & 0xffff, BTSTAT_INVPARAM);
    rig_down();
}

TEST(hostile_requests)
{
    rig_up();
    ASSERT_EQ(setup_rings(1, 1, RS >> 12), 0);
    wr(PVSCSI_REG_INTR_MASK, PVSCSI_INTR_CMPL_MASK);
    /* an S/G list in the MMIO BAR */
    struct req r = {.context = 1, .data_addr = BAR, .data_len = 512, .sense_addr = SENSE, .sense_len = 96,
                    .flags = PVSCSI_FLAG_CMD_DIR_TOHOST | PVSCSI_FLAG_CMD_WITH_SG_LIST,
                    .cdb = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, .cdb_len = 10};
    struct cmp c = run1(&r, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_INVPARAM);
    ASSERT_EQ(c.data_len, 0);
    /* an S/G element pointing into the MMIO BAR (a write would reach the registers) */
    put64(SGL, BAR), put32(SGL + 8, 512), put32(SGL + 12, 0);
    r.data_addr = SGL;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    r.flags = PVSCSI_FLAG_CMD_DIR_TODEVICE | PVSCSI_FLAG_CMD_WITH_SG_LIST;
    r.cdb[0] = 0x2a;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_MASK), PVSCSI_INTR_CMPL_MASK); /* the registers untouched */
    /* a chain element pointing at itself: the walk ends */
    put64(SGL, SGL), put32(SGL + 8, 0), put32(SGL + 12, PVSCSI_SGE_FLAG_CHAIN_ELEMENT);
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    /* an S/G list shorter than dataLen: the command fails, no more is moved */
    put64(SGL, DATA), put32(SGL + 8, 256), put32(SGL + 12, 0);
    put64(SGL + 16, 0), put32(SGL + 24, 0), put32(SGL + 28, 0);
    r.flags = PVSCSI_FLAG_CMD_DIR_TOHOST | PVSCSI_FLAG_CMD_WITH_SG_LIST;
    r.cdb[0] = 0x28;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    /* a flat buffer past RAM, and one that wraps the address space */
    r.flags = PVSCSI_FLAG_CMD_DIR_TOHOST;
    r.data_addr = RAM_SIZE - 100;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    r.data_addr = 0xffffffffffffff00ull;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    /* a huge dataLen with a small command moves only what the command says */
    r.data_addr = DATA;
    r.data_len = 0xffffffffffffull;
    c = run1(&r, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SUCCESS);
    ASSERT_EQ(c.data_len, 512);
    /* CDB lengths 0 and 17; out-of-band CDB */
    r.data_len = 512;
    r.cdb_len = 0;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    r.cdb_len = 17;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    r.cdb_len = 10;
    r.flags |= PVSCSI_FLAG_CMD_OUT_OF_BAND_CDB;
    ASSERT_EQ(run1(&r, PVSCSI_REG_KICK_RW_IO).host, BTSTAT_INVPARAM);
    /* a sense buffer outside RAM */
    r.flags = PVSCSI_FLAG_CMD_DIR_TOHOST;
    r.cdb[5] = 0xff, r.cdb[4] = 0xff; /* past the end */
    r.sense_addr = BAR;
    c = run1(&r, PVSCSI_REG_KICK_RW_IO);
    ASSERT_EQ(c.host, BTSTAT_SENSFAILED);
    ASSERT_EQ(c.sense_len, 0);
    /* a producer index far ahead of the consumer: one ring's worth per kick, no more */
    uint32_t cons = get32(RS + 4);
    put32(RS, cons + 1000000);
    wr(PVSCSI_REG_KICK_RW_IO, 0);
    ASSERT(get32(RS + 4) - cons <= 32);
    /* bus mastering off: a kick reads nothing */
    command(PVSCSI_CMD_ADAPTER_RESET, NULL, 0);
    ASSERT_EQ(setup_rings(1, 1, RS >> 12), 0);
    pci_config_write(R.pb, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    put32(RS, 1);
    wr(PVSCSI_REG_KICK_RW_IO, 0);
    ASSERT_EQ(get32(RS + 4), 0);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_STATUS), 0);
    rig_down();
}

TEST(reset_drops_rings)
{
    rig_up();
    ASSERT_EQ(setup_rings(1, 1, RS >> 12), 0);
    wr(PVSCSI_REG_INTR_MASK, 3);
    struct req r = inquiry(0, 0);
    run1(&r, PVSCSI_REG_KICK_NON_RW_IO);
    ASSERT_EQ(R.irq, 1);
    pvscsi_reset(R.s);
    ASSERT_EQ(R.irq, 0);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_MASK), 0xffffffffu); /* BAR unmapped by the reset */
    pci_config_write(R.pb, DEVFN, PCI_BASE_ADDRESS_0, BAR, 4);
    pci_config_write(R.pb, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_MASK), 0);
    uint32_t before = get32(RS + 4);
    queue(&r);
    wr(PVSCSI_REG_KICK_NON_RW_IO, 0);
    ASSERT_EQ(get32(RS + 4), before);
    ASSERT_EQ(rd(PVSCSI_REG_INTR_STATUS), 0);
    rig_down();
}
