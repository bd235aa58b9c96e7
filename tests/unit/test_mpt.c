/*
 * The Fusion-MPT controllers (devices/lsi_mpt.c) driven the way Linux's
 * mptbase and SeaBIOS's mpt-scsi drive them: the doorbell handshake with
 * its interrupt-status acknowledgements, the request FIFO, context and
 * address replies through the reply post and free FIFOs. Oracles: the MPI
 * 1.x message layouts (IOC FACTS, PORT FACTS, IOC INIT, SCSI IO and its
 * reply, task management, config pages) checked at their byte offsets, the
 * disk's contents after reads and writes through simple and chained SGLs,
 * and the SPC fixed sense data a CHECK CONDITION leaves in the sense buffer.
 * Hostile cases: frames and buffers outside RAM, an SGL chain that loops,
 * absurd lengths, absent targets, and random register traffic.
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/lsi_mpt.h"
#include "tests/unit/ramdisk.h"
#include "tests/unit/test.h"

#define RAM_SIZE 0x100000
#define DEVFN (3 << 3)
#define IOBASE 0xc000
#define MMBASE 0xe0000000u
#define REQ 0x10000   /* request frames, 128 bytes each */
#define CHAIN 0x18000 /* chain segments */
#define REPLY 0x20000 /* reply frames, 128 bytes each */
#define SENSE 0x30000
#define DATA 0x40000


struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct mpt *mpt;
    struct scsi_bus targets;
    struct ramdisk *disk;
    uint8_t *ram;
    int intx;
    bool mmio;
};

static void route(void *opaque, int devfn, int pin, int level)
{
    ((struct rig *)opaque)->intx = level;
}

static void cfg_write(struct rig *r, unsigned off, uint32_t v)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | off, 4);
    bus_out(r->bus, 0xcfc, v, 4);
}

static uint32_t cfg_read(struct rig *r, unsigned off)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | off, 4);
    return bus_in(r->bus, 0xcfc, 4);
}

static struct rig *rig_new(enum mpt_model model)
{
    struct rig *r = calloc(1, sizeof(*r));
    struct error err;
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->ram = calloc(1, RAM_SIZE);
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    ASSERT_EQ(pci_bus_map_conf_ports(r->pb), 0);
    pci_bus_set_intx_router(r->pb, route, r);
    r->disk = ramdisk_new(2048);
    for (unsigned i = 0; i < 2048 * 512; i++)
        r->disk->data[i] = (uint8_t)(i * 13 + (i >> 9));
    struct scsi_dev *d = scsi_dev_new(SCSI_DISK, &r->disk->bd, NULL);
    ASSERT(d != NULL);
    ASSERT_EQ(scsi_bus_attach(&r->targets, 0, 0, d, &err), 0);
    r->mpt = mpt_new(r->pb, DEVFN, model, &r->targets, &err);
    ASSERT(r->mpt != NULL);
    cfg_write(r, 0x10, IOBASE);
    cfg_write(r, 0x14, MMBASE);
    cfg_write(r, 0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    return r;
}

static void rig_free(struct rig *r)
{
    mpt_free(r->mpt);
    scsi_bus_free(&r->targets);
    pci_bus_free(r->pb);
    bus_free(r->bus);
    ramdisk_close(&r->disk->bd);
    free(r->ram);
    free(r);
}

static uint32_t rd(struct rig *r, unsigned reg)
{
    return r->mmio ? (uint32_t)bus_read(r->bus, MMBASE + reg, 4) : bus_in(r->bus, IOBASE + reg, 4);
}

static void wr(struct rig *r, unsigned reg, uint32_t v)
{
    if (r->mmio)
        bus_write(r->bus, MMBASE + reg, v, 4);
    else
        bus_out(r->bus, IOBASE + reg, v, 4);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

#define HIS_DB 0x1u
#define HIS_REPLY 0x8u
#define HIS_IOP 0x80000000u
#define DB_ACTIVE 0x08000000u
#define STATE(v) ((v) & 0xF0000000u)

/* mptbase's mpt_handshake_req_reply_wait, step by step; returns the reply length in bytes. */
static unsigned handshake(struct rig *r, const uint8_t *req, unsigned dwords, uint8_t *reply)
{
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    wr(r, MPT_REG_DOORBELL, 0x42u << 24 | dwords << 16);
    ASSERT(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_DB);
    ASSERT(rd(r, MPT_REG_DOORBELL) & DB_ACTIVE);
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    ASSERT(!(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_IOP));
    for (unsigned i = 0; i < dwords; i++) {
        wr(r, MPT_REG_DOORBELL, get32(req + 4 * i));
        ASSERT(!(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_IOP));
    }
    unsigned words = 2;
    for (unsigned i = 0; i < words; i++) {
        ASSERT(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_DB);
        uint16_t w = (uint16_t)rd(r, MPT_REG_DOORBELL);
        reply[2 * i] = (uint8_t)w;
        reply[2 * i + 1] = (uint8_t)(w >> 8);
        wr(r, MPT_REG_HOST_INT_STATUS, 0);
        if (i == 1)
            words = reply[2] * 2u;
        ASSERT(words <= 64);
    }
    ASSERT(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_DB); /* the end of the reply */
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    ASSERT(!(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_DB));
    ASSERT(!(rd(r, MPT_REG_DOORBELL) & DB_ACTIVE));
    return words * 2;
}

static void ioc_init(struct rig *r)
{
    uint8_t req[44] = {0}, rep[128];
    req[0] = 4; /* WhoInit: host driver */
    req[3] = 0x02;
    req[5] = 16;
    req[6] = 1;
    req[12] = 128; /* ReplyFrameSize */
    put32(req + 8, 0x1234);
    ASSERT_EQ(handshake(r, req, 11, rep), 20);
    ASSERT_EQ(rep[3], 0x02);
    ASSERT_EQ(get32(rep + 8), 0x1234);
    ASSERT_EQ(get16(rep + 14), 0);
    ASSERT_EQ(STATE(rd(r, MPT_REG_DOORBELL)), 0x20000000u);
    for (unsigned i = 0; i < 8; i++)
        wr(r, MPT_REG_REPLY_QUEUE, REPLY + 128 * i);
}

/* A SCSI IO request frame at REQ + 128 * slot. */
static uint8_t *scsi_io(struct rig *r, unsigned slot, unsigned target, const uint8_t *cdb, unsigned cdb_len,
                        unsigned dir, uint32_t len, uint32_t ctx)
{
    uint8_t *f = r->ram + REQ + 128 * slot;
    memset(f, 0, 128);
    f[0] = (uint8_t)target;
    f[3] = 0x00;
    f[4] = (uint8_t)cdb_len;
    f[5] = 18;
    put32(f + 8, ctx);
    put32(f + 20, dir << 24);
    memcpy(f + 24, cdb, cdb_len);
    put32(f + 40, len);
    put32(f + 44, SENSE);
    return f;
}

static void simple32(uint8_t *e, uint8_t flags, uint32_t len, uint32_t addr)
{
    put32(e, (uint32_t)flags << 24 | len);
    put32(e + 4, addr);
}

static void simple64(uint8_t *e, uint8_t flags, uint32_t len, uint64_t addr)
{
    put32(e, (uint32_t)(flags | 0x02) << 24 | len);
    put32(e + 4, (uint32_t)addr);
    put32(e + 8, (uint32_t)(addr >> 32));
}

static uint32_t pop(struct rig *r)
{
    return rd(r, MPT_REG_REPLY_QUEUE);
}

/* An address reply's frame. */
static uint8_t *frame_of(struct rig *r, uint32_t v)
{
    ASSERT(v & 0x80000000u);
    uint32_t a = v << 1;
    ASSERT(a >= REPLY && a < REPLY + 8 * 128);
    return r->ram + a;
}

static void give_back(struct rig *r, uint32_t v)
{
    wr(r, MPT_REG_REPLY_QUEUE, v << 1);
}

static const uint8_t tur[6] = {0x00};

/* The disk's first command after power-on is a UNIT ATTENTION; clear it. */
static void clear_ua(struct rig *r)
{
    scsi_io(r, 0, 0, tur, 6, 0, 0, 0x77);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    uint32_t v = pop(r);
    if (v != 0xFFFFFFFFu && (v & 0x80000000u))
        give_back(r, v);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu);
}

static struct rig *ready_rig(enum mpt_model model)
{
    struct rig *r = rig_new(model);
    ioc_init(r);
    clear_ua(r);
    return r;
}

TEST(pci_identity)
{
    struct rig *r = rig_new(MPT_LSI53C1030);
    ASSERT_EQ(cfg_read(r, 0x00), 0x00301000u);
    ASSERT_EQ(cfg_read(r, 0x2c), 0x197615adu);
    ASSERT_EQ(cfg_read(r, 0x08) >> 8, 0x010000u);
    ASSERT_EQ(cfg_read(r, 0x10) & 1, 1); /* BAR0 I/O */
    ASSERT_EQ(cfg_read(r, 0x14) & 1, 0); /* BAR1 memory */
    rig_free(r);
    r = rig_new(MPT_SAS1068);
    ASSERT_EQ(cfg_read(r, 0x00), 0x00541000u);
    ASSERT_EQ(cfg_read(r, 0x2c), 0x197615adu);
    rig_free(r);
}

TEST(ioc_facts_layout)
{
    struct rig *r = rig_new(MPT_LSI53C1030);
    ASSERT_EQ(STATE(rd(r, MPT_REG_DOORBELL)), 0x10000000u); /* READY */
    uint8_t req[12] = {0}, rep[128];
    req[3] = 0x03;
    put32(req + 8, 0xabcd);
    ASSERT_EQ(handshake(r, req, 3, rep), 80);
    ASSERT_EQ(get16(rep + 0), 0x0102); /* MsgVersion */
    ASSERT_EQ(rep[2], 20);             /* MsgLength */
    ASSERT_EQ(rep[3], 0x03);
    ASSERT_EQ(get32(rep + 8), 0xabcd); /* MsgContext */
    ASSERT_EQ(get16(rep + 14), 0);     /* IOCStatus */
    ASSERT(rep[20] > 0);               /* MaxChainDepth */
    ASSERT(rep[22] > 0);               /* BlockSize */
    ASSERT(get16(rep + 24) > 0);       /* ReplyQueueDepth */
    ASSERT_EQ(get16(rep + 26), 32);    /* RequestFrameSize (dwords) */
    ASSERT(get16(rep + 36) > 0);       /* GlobalCredits */
    ASSERT_EQ(rep[38], 1);             /* NumberOfPorts */
    /* PORT FACTS: an SPI initiator at ID 7 */
    uint8_t pf[12] = {0};
    pf[3] = 0x05;
    ASSERT_EQ(handshake(r, pf, 3, rep), 40);
    ASSERT_EQ(rep[21], 0x01);          /* PortType SCSI */
    ASSERT_EQ(get16(rep + 22), 16);    /* MaxDevices */
    ASSERT_EQ(get16(rep + 24), 7);     /* PortSCSIID */
    ASSERT(get16(rep + 26) & 0x08);    /* ProtocolFlags INITIATOR */
    rig_free(r);
    r = rig_new(MPT_SAS1068);
    r->mmio = true;
    ASSERT_EQ(handshake(r, req, 3, rep), 80);
    ASSERT_EQ(get16(rep + 0), 0x0105);
    ASSERT_EQ(handshake(r, pf, 3, rep), 40);
    ASSERT_EQ(rep[21], 0x30); /* PortType SAS */
    rig_free(r);
}

TEST(ioc_init_port_enable_events)
{
    struct rig *r = rig_new(MPT_LSI53C1030);
    ioc_init(r);
    uint8_t req[16] = {0}, rep[128];
    req[3] = 0x06;
    put32(req + 8, 7);
    ASSERT_EQ(handshake(r, req, 3, rep), 20);
    ASSERT_EQ(rep[3], 0x06);
    ASSERT_EQ(get16(rep + 14), 0);
    memset(req, 0, sizeof(req));
    req[0] = 1; /* Switch on */
    req[3] = 0x07;
    ASSERT(handshake(r, req, 4, rep) >= 28);
    ASSERT_EQ(rep[3], 0x07);
    ASSERT_EQ(get32(rep + 20), 0x0a); /* EVENT_CHANGE */
    /* a message unit reset brings the IOC back to READY with empty FIFOs */
    wr(r, MPT_REG_DOORBELL, 0x40u << 24);
    ASSERT_EQ(STATE(rd(r, MPT_REG_DOORBELL)), 0x10000000u);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu);
    rig_free(r);
}

/* SeaBIOS: a 6-dword IOC INIT written without acks, the reply read without clearing. */
TEST(seabios_handshake)
{
    struct rig *r = rig_new(MPT_LSI53C1030);
    wr(r, MPT_REG_DOORBELL, 0x40u << 24);
    wr(r, MPT_REG_HOST_INT_MASK, 0x9);
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    uint8_t req[24] = {0};
    req[0] = 2;
    req[3] = 0x02;
    req[5] = 8;
    req[6] = 1;
    req[12] = 4; /* a 4-byte reply frame */
    wr(r, MPT_REG_DOORBELL, 0x42u << 24 | 6 << 16);
    for (int i = 0; i < 6; i++)
        wr(r, MPT_REG_DOORBELL, get32(req + 4 * i));
    uint16_t w[10];
    for (int i = 0; i < 10; i++)
        w[i] = (uint16_t)rd(r, MPT_REG_DOORBELL);
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    ASSERT_EQ(w[1] & 0xFF, 5);   /* MsgLength */
    ASSERT_EQ(w[1] >> 8, 0x02);  /* Function */
    ASSERT_EQ(STATE(rd(r, MPT_REG_DOORBELL)), 0x20000000u);
    ASSERT_EQ(r->intx, 0); /* everything masked */
    wr(r, MPT_REG_REPLY_QUEUE, REPLY);
    /* INQUIRY on target 0 the SeaBIOS way: context reply, a second read empties the FIFO */
    uint8_t inq[16] = {0x12, 0, 0, 0, 36};
    uint8_t *f = scsi_io(r, 0, 0, inq, 16, 2, 36, 0x1234567);
    simple32(f + 48, 0xD1, 36, DATA);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    ASSERT(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_REPLY);
    ASSERT_EQ(pop(r), 0x1234567);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu);
    ASSERT_MEM_EQ(r->ram + DATA + 8, "VMware  ", 8);
    /* an absent target: an address reply truncated to the 4-byte frame */
    memset(r->ram + REPLY, 0xEE, 16);
    scsi_io(r, 0, 3, inq, 16, 2, 36, 0x55);
    simple32(f + 48, 0xD1, 36, DATA);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    uint32_t v = pop(r);
    ASSERT_EQ(v, 0x80000000u | REPLY >> 1);
    ASSERT_EQ(r->ram[REPLY + 3], 0x00); /* Function */
    ASSERT_EQ(r->ram[REPLY + 4], 0xEE); /* nothing past ReplyFrameSize */
    rig_free(r);
}

TEST(read_write_through_sgls)
{
    struct rig *r = ready_rig(MPT_LSI53C1030);
    wr(r, MPT_REG_HOST_INT_MASK, 0x1); /* Linux: doorbell masked, replies unmasked */
    /* READ(10) of 8 sectors at LBA 100: 64-bit simple elements, the last ones in a chain */
    uint8_t rd10[10] = {0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0};
    uint8_t *f = scsi_io(r, 1, 0, rd10, 10, 2, 4096, 0x42);
    simple64(f + 48, 0x10, 1000, DATA);
    simple64(f + 60, 0x10, 24, DATA + 0x2000);
    simple64(f + 72, 0x90, 1024, DATA + 0x3000); /* last in this segment */
    uint8_t *ch = f + 84;                        /* chain: 64-bit, 36 bytes */
    put32(ch, 0x32u << 24 | 36);
    put32(ch + 4, CHAIN);
    put32(ch + 8, 0);
    f[2] = 84 / 4; /* ChainOffset */
    simple64(r->ram + CHAIN, 0x10, 48, DATA + 0x4000);
    simple64(r->ram + CHAIN + 12, 0x10, 1000, DATA + 0x5000);
    simple64(r->ram + CHAIN + 24, 0xD1, 2000, DATA + 0x6000);
    wr(r, MPT_REG_REQUEST_QUEUE, (REQ + 128) | 1);
    ASSERT_EQ(r->intx, 1);
    ASSERT_EQ(pop(r), 0x42);
    ASSERT_EQ(r->intx, 0);
    const uint8_t *src = r->disk->data + 100 * 512;
    ASSERT_MEM_EQ(r->ram + DATA, src, 1000);
    ASSERT_MEM_EQ(r->ram + DATA + 0x2000, src + 1000, 24);
    ASSERT_MEM_EQ(r->ram + DATA + 0x3000, src + 1024, 1024);
    ASSERT_MEM_EQ(r->ram + DATA + 0x4000, src + 2048, 48);
    ASSERT_MEM_EQ(r->ram + DATA + 0x5000, src + 2096, 1000);
    ASSERT_MEM_EQ(r->ram + DATA + 0x6000, src + 3096, 1000);
    /* WRITE(10) of 2 sectors at LBA 7 from three 32-bit elements */
    for (int i = 0; i < 1024; i++)
        r->ram[DATA + 0x8000 + i] = (uint8_t)(i ^ 0x5a);
    uint8_t wr10[10] = {0x2a, 0, 0, 0, 0, 7, 0, 0, 2, 0};
    f = scsi_io(r, 2, 0, wr10, 10, 1, 1024, 0x43);
    simple32(f + 48, 0x14, 100, DATA + 0x8000);
    simple32(f + 56, 0x14, 900, DATA + 0x8000 + 100);
    simple32(f + 64, 0xD5, 24, DATA + 0x8000 + 1000);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ + 256);
    ASSERT_EQ(pop(r), 0x43);
    ASSERT_MEM_EQ(r->disk->data + 7 * 512, r->ram + DATA + 0x8000, 1024);
    rig_free(r);
}

TEST(check_condition_sense)
{
    struct rig *r = ready_rig(MPT_LSI53C1030);
    memset(r->ram + SENSE, 0, 32);
    uint8_t rd10[10] = {0x28, 0, 0, 0, 0x10, 0, 0, 0, 1, 0}; /* LBA 4096 > capacity */
    uint8_t *f = scsi_io(r, 0, 0, rd10, 10, 2, 512, 0x99);
    simple32(f + 48, 0xD1, 512, DATA);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    uint32_t v = pop(r);
    uint8_t *rep = frame_of(r, v);
    ASSERT_EQ(rep[2], 9);            /* MsgLength */
    ASSERT_EQ(rep[3], 0x00);         /* SCSI IO reply */
    ASSERT_EQ(get32(rep + 8), 0x99); /* MsgContext */
    ASSERT_EQ(rep[12], 0x02);        /* SCSIStatus CHECK CONDITION */
    ASSERT(rep[13] & 0x01);          /* AUTOSENSE_VALID */
    ASSERT_EQ(get32(rep + 24), 18);  /* SenseCount */
    ASSERT_EQ(r->ram[SENSE] & 0x7f, 0x70);
    ASSERT_EQ(r->ram[SENSE + 2] & 0xf, SENSE_ILLEGAL_REQUEST);
    ASSERT_EQ(r->ram[SENSE + 12], 0x21); /* LBA OUT OF RANGE */
    give_back(r, v);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu);
    rig_free(r);
}

static uint8_t *tm_frame(struct rig *r, unsigned slot, unsigned target, unsigned type, uint32_t ctx)
{
    uint8_t *f = r->ram + REQ + 128 * slot;
    memset(f, 0, 128);
    f[0] = (uint8_t)target;
    f[3] = 0x01;
    f[5] = (uint8_t)type;
    put32(f + 8, ctx);
    return f;
}

TEST(task_management)
{
    struct rig *r = ready_rig(MPT_LSI53C1030);
    /* TARGET RESET through the high-priority FIFO */
    tm_frame(r, 0, 0, 0x03, 0x301);
    wr(r, MPT_REG_HI_PRI_QUEUE, REQ);
    uint32_t v = pop(r);
    uint8_t *rep = frame_of(r, v);
    ASSERT_EQ(rep[3], 0x01);
    ASSERT_EQ(rep[5], 0x03);
    ASSERT_EQ(get32(rep + 8), 0x301);
    ASSERT_EQ(get16(rep + 14), 0);
    give_back(r, v);
    /* the reset target reports it: UNIT ATTENTION 29h */
    scsi_io(r, 1, 0, tur, 6, 0, 0, 0x302);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ + 128);
    v = pop(r);
    rep = frame_of(r, v);
    ASSERT_EQ(rep[12], 0x02);
    ASSERT_EQ(r->ram[SENSE + 2] & 0xf, SENSE_UNIT_ATTENTION);
    ASSERT_EQ(r->ram[SENSE + 12], 0x29);
    give_back(r, v);
    /* ABORT TASK through the doorbell (mpt_send_handshake_request): the reply comes in the FIFO */
    uint8_t *f = tm_frame(r, 2, 0, 0x01, 0x303);
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    wr(r, MPT_REG_DOORBELL, 0x42u << 24 | 13 << 16);
    ASSERT(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_DB);
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    for (int i = 0; i < 13; i++)
        wr(r, MPT_REG_DOORBELL, get32(f + 4 * i));
    ASSERT(rd(r, MPT_REG_HOST_INT_STATUS) & HIS_DB);
    wr(r, MPT_REG_HOST_INT_STATUS, 0);
    ASSERT(!(rd(r, MPT_REG_DOORBELL) & DB_ACTIVE));
    v = pop(r);
    rep = frame_of(r, v);
    ASSERT_EQ(get32(rep + 8), 0x303);
    ASSERT_EQ(get16(rep + 14), 0);
    give_back(r, v);
    rig_free(r);
}

/* A CONFIG request in slot 0; returns the reply frame (given back). */
static uint8_t cfg_reply[128];
static uint16_t config(struct rig *r, unsigned action, unsigned type, unsigned number, unsigned ext,
                       uint32_t addr, uint32_t buf, uint32_t len)
{
    uint8_t *f = r->ram + REQ;
    memset(f, 0, 128);
    f[0] = (uint8_t)action;
    f[3] = 0x04;
    f[6] = (uint8_t)ext;
    put32(f + 8, 0x4000 + action);
    f[22] = (uint8_t)number;
    f[23] = (uint8_t)type;
    put32(f + 24, addr);
    simple32(f + 28, 0xD1, len, buf);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    uint32_t v = pop(r);
    memcpy(cfg_reply, frame_of(r, v), 128);
    give_back(r, v);
    ASSERT_EQ(cfg_reply[3], 0x04);
    return get16(cfg_reply + 14);
}

TEST(config_pages_spi)
{
    struct rig *r = ready_rig(MPT_LSI53C1030);
    ASSERT_EQ(config(r, 0, 0x03, 0, 0, 0, 0, 0), 0); /* SCSI port page 0 header */
    ASSERT_EQ(cfg_reply[21], 3);                      /* PageLength in dwords */
    ASSERT_EQ(cfg_reply[23] & 0xf, 0x03);
    ASSERT_EQ(config(r, 1, 0x03, 2, 0, 0, DATA, 76), 0);
    ASSERT_EQ(r->ram[DATA + 1], 19);
    ASSERT_EQ(get32(r->ram + DATA + 8) & 0xf, 7); /* host ID */
    ASSERT_EQ(config(r, 0, 0x04, 1, 0, 0, 0, 0), 0); /* SCSI device page 1 header */
    ASSERT_EQ(config(r, 1, 0x09, 0, 0, 0, DATA, 76), 0); /* manufacturing page 0 */
    ASSERT_MEM_EQ(r->ram + DATA + 4, "LSI53C1030", 10);
    ASSERT_EQ(config(r, 0, 0x08, 0, 0, 0, 0, 0), 0x22); /* RAID volume: invalid page */
    ASSERT_EQ(config(r, 0, 0x0f, 0, 0x12, 0, 0, 0), 0x22); /* no SAS pages on SPI */
    ASSERT_EQ(config(r, 9, 0x03, 0, 0, 0, 0, 0), 0x20);   /* invalid action */
    rig_free(r);
}

TEST(config_pages_sas_discovery)
{
    struct rig *r = ready_rig(MPT_SAS1068);
    /* SAS IO unit page 0: phy 0 has the disk attached */
    ASSERT_EQ(config(r, 0, 0x0f, 0, 0x10, 0, 0, 0), 0);
    unsigned len = get16(cfg_reply + 4) * 4u;
    ASSERT(len >= 32 && len <= 256);
    ASSERT_EQ(config(r, 1, 0x0f, 0, 0x10, 0, DATA, len), 0);
    unsigned phys = r->ram[DATA + 12];
    ASSERT(phys >= 1);
    uint16_t dev = get16(r->ram + DATA + 16 + 8);  /* PhyData[0].AttachedDeviceHandle */
    uint16_t ioc = get16(r->ram + DATA + 16 + 10); /* ControllerDevHandle */
    ASSERT(dev != 0);
    ASSERT_EQ(get16(r->ram + DATA + 16 + 16 + 8), 0); /* phy 1: nothing */
    /* SAS phy page 0 of phy 0 names the same device */
    ASSERT_EQ(config(r, 1, 0x0f, 0, 0x13, 0, DATA, 36), 0);
    ASSERT_EQ(get16(r->ram + DATA + 20), dev);
    /* SAS device page 0 by handle: target 0, bus 0, an SSP end device, present */
    ASSERT_EQ(config(r, 1, 0x0f, 0, 0x12, 0x20000000u | dev, DATA, 36), 0);
    ASSERT_EQ(get16(r->ram + DATA + 24), dev);
    ASSERT_EQ(r->ram[DATA + 26], 0);
    ASSERT_EQ(r->ram[DATA + 27], 0);
    ASSERT_EQ(get32(r->ram + DATA + 28) & 7, 1);
    ASSERT(get32(r->ram + DATA + 28) & 0x400);
    ASSERT(get16(r->ram + DATA + 32) & 1);
    /* GET_NEXT_HANDLE from 0xFFFF (mptsas_probe_devices) walks the controller and the disk */
    uint32_t h = 0xFFFF, seen = 0;
    while (config(r, 1, 0x0f, 0, 0x12, h, DATA, 36) == 0 && seen < 10) {
        h = get16(r->ram + DATA + 24);
        seen++;
    }
    ASSERT_EQ(seen, 2);
    ASSERT_EQ(cfg_reply[15] << 8 | cfg_reply[14], 0x22);
    ASSERT_EQ(config(r, 0, 0x0f, 0, 0x12, 0x20000000u | ioc, 0, 0), 0);
    ASSERT_EQ(config(r, 0, 0x0f, 0, 0x11, 0, 0, 0), 0x22); /* no expanders */
    rig_free(r);
}

TEST(hostile_frames)
{
    struct rig *r = ready_rig(MPT_LSI53C1030);
    /* request frames outside RAM: nothing to answer */
    wr(r, MPT_REG_REQUEST_QUEUE, 0xFFFFFFF0u);
    wr(r, MPT_REG_REQUEST_QUEUE, RAM_SIZE - 8);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu);
    /* a data buffer outside RAM: HARDWARE ERROR, not a crash */
    uint8_t rd10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    uint8_t *f = scsi_io(r, 0, 0, rd10, 10, 2, 512, 0x10);
    simple32(f + 48, 0xD1, 512, 0xF0000000u);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    uint32_t v = pop(r);
    ASSERT_EQ(frame_of(r, v)[12], 0x02);
    ASSERT_EQ(r->ram[SENSE + 2] & 0xf, SENSE_HARDWARE_ERROR);
    give_back(r, v);
    /* a chain that points at itself: INVALID_SGL */
    f = scsi_io(r, 0, 0, rd10, 10, 2, 512, 0x11);
    put32(r->ram + CHAIN, 0x30u << 24 | 8);
    put32(r->ram + CHAIN + 4, CHAIN);
    put32(f + 48, 0x30u << 24 | 8);
    put32(f + 52, CHAIN);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    v = pop(r);
    ASSERT_EQ(get16(frame_of(r, v) + 14), 0x0003);
    give_back(r, v);
    /* an absurd DataLength with a one-sector SGL: moves one sector, reports the underrun */
    f = scsi_io(r, 0, 0, rd10, 10, 2, 0xFFFFFFFFu, 0x12);
    simple32(f + 48, 0xD1, 512, DATA);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    v = pop(r);
    ASSERT_EQ(get16(frame_of(r, v) + 14), 0x0045);
    ASSERT(get32(frame_of(r, v) + 20) <= 512);
    give_back(r, v);
    /* absent target, the initiator's ID, a bad bus, a bad CDB length */
    scsi_io(r, 0, 5, tur, 6, 0, 0, 0x13);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    v = pop(r);
    ASSERT_EQ(get16(frame_of(r, v) + 14), 0x0043);
    give_back(r, v);
    scsi_io(r, 0, 7, tur, 6, 0, 0, 0x14);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    v = pop(r);
    ASSERT_EQ(get16(frame_of(r, v) + 14), 0x0043);
    give_back(r, v);
    f = scsi_io(r, 0, 0, tur, 6, 0, 0, 0x15);
    f[1] = 3;
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    v = pop(r);
    ASSERT_EQ(get16(frame_of(r, v) + 14), 0x0041);
    give_back(r, v);
    f = scsi_io(r, 0, 0, tur, 6, 0, 0, 0x16);
    f[4] = 200;
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    v = pop(r);
    ASSERT_EQ(get16(frame_of(r, v) + 14), 0x0007);
    give_back(r, v);
    /* a reply frame outside RAM is lost, nothing else */
    wr(r, MPT_REG_REPLY_QUEUE, 0xFFFFFF00u);
    rig_free(r);
}

TEST(address_reply_waits_for_a_free_frame)
{
    struct rig *r = rig_new(MPT_LSI53C1030);
    uint8_t req[44] = {0}, rep[128];
    req[3] = 0x02;
    req[12] = 128;
    handshake(r, req, 11, rep);
    scsi_io(r, 0, 4, tur, 6, 0, 0, 0x20); /* absent targets: address replies */
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    scsi_io(r, 0, 5, tur, 6, 0, 0, 0x21);
    wr(r, MPT_REG_REQUEST_QUEUE, REQ);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu); /* no free frame yet: they wait */
    wr(r, MPT_REG_REPLY_QUEUE, REPLY);
    wr(r, MPT_REG_REPLY_QUEUE, REPLY + 128);
    uint32_t a = pop(r), b = pop(r);
    ASSERT_EQ(get32(frame_of(r, a) + 8), 0x20); /* in order */
    ASSERT_EQ(get32(frame_of(r, b) + 8), 0x21);
    ASSERT_EQ(pop(r), 0xFFFFFFFFu);
    rig_free(r);
}

TEST(random_register_traffic)
{
    struct rig *r = ready_rig(MPT_SAS1068);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    static const unsigned regs[] = {0x00, 0x04, 0x08, 0x30, 0x34, 0x40, 0x44, 0x48, 0x10, 0x14};
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned reg = regs[(x >> 8) % 10];
        uint32_t v = (uint32_t)(x >> 24);
        if ((x & 3) == 0) {
            rd(r, reg);
        } else {
            if (reg == 0x40 || reg == 0x48 || reg == 0x44)
                v = (x & 4) ? (uint32_t)(REQ + ((x >> 40) % 0x60000)) : v;
            if ((x & 0x70) == 0) /* a random frame in RAM */
                for (int k = 0; k < 128; k++)
                    r->ram[REQ + k] = (uint8_t)(x >> (k % 56));
            wr(r, reg, v);
        }
    }
    rig_free(r);
}

/* mptbase's hard reset: the diagnostic key, then RESET_ADAPTER; the IOC comes back READY. */
TEST(diag_reset)
{
    struct rig *r = ready_rig(MPT_LSI53C1030);
    ASSERT_EQ(rd(r, MPT_REG_HOST_DIAGNOSTIC) & 0x80, 0);
    wr(r, MPT_REG_HOST_DIAGNOSTIC, 0x4); /* ignored without the key */
    ASSERT_EQ(STATE(rd(r, MPT_REG_DOORBELL)), 0x20000000u);
    static const uint32_t key[] = {0xFF, 0x4, 0xB, 0x2, 0x7, 0xD};
    for (int i = 0; i < 6; i++)
        wr(r, MPT_REG_WRITE_SEQUENCE, key[i]);
    ASSERT(rd(r, MPT_REG_HOST_DIAGNOSTIC) & 0x80); /* DRWE */
    wr(r, MPT_REG_HOST_DIAGNOSTIC, 0x80 | 0x4);
    ASSERT_EQ(STATE(rd(r, MPT_REG_DOORBELL)), 0x10000000u);
    ASSERT_EQ(rd(r, MPT_REG_HOST_DIAGNOSTIC) & 0x4, 0);
    rig_free(r);
}
