/*
 * NVMe controller (devices/nvme.c), driven as Linux's nvme driver drives it:
 * CC.EN cleared and CSTS.RDY awaited, AQA/ASQ/ACQ, CC with IOSQES 6 and
 * IOCQES 4, IDENTIFY, SET FEATURES (number of queues), I/O CQ and SQ with
 * MSI-X vectors, READ/WRITE through PRP lists. Oracle: the NVM Express base
 * specification 1.3 (register layout 3.1, queue entries 4.2/4.6, PRPs 4.3,
 * identify data 5.15, status codes 4.6.1.2) and the blockdev's own bytes.
 * The hostile cases check that nothing outside RAM is touched and that the
 * status the spec names comes back.
 */
#include <stdlib.h>

#include "devices/bus.h"
#include "devices/nvme.h"
#include "devices/pci.h"
#include "tests/unit/test.h"

#define RAM_SIZE (8u << 20)
#define DEVFN (0x18 << 3)
#define BAR0 0xfebf0000u
#define MSIX_BAR 0xfebe0000u
#define ASQ_ADDR 0x10000u
#define ACQ_ADDR 0x11000u
#define IOSQ_ADDR 0x20000u
#define IOCQ_ADDR 0x21000u
#define DATA_ADDR 0x100000u
#define LIST_ADDR 0x80000u
#define DISK_SECTORS 4096

struct memdisk {
    struct blockdev bd;
    uint8_t *data;
    int writes, flushes;
};

static int md_read(struct blockdev *bd, uint64_t sector, uint32_t count, void *buf)
{
    struct memdisk *m = (struct memdisk *)bd;
    memcpy(buf, m->data + sector * 512, count * 512u);
    return 0;
}

static int md_write(struct blockdev *bd, uint64_t sector, uint32_t count, const void *buf)
{
    struct memdisk *m = (struct memdisk *)bd;
    memcpy(m->data + sector * 512, buf, count * 512u);
    m->writes++;
    return 0;
}

static int md_flush(struct blockdev *bd)
{
    ((struct memdisk *)bd)->flushes++;
    return 0;
}

static void md_close(struct blockdev *bd)
{
    (void)bd;
}

static const struct blockdev_ops md_ops = {.read = md_read, .write = md_write, .flush = md_flush, .close = md_close};

struct msg {
    uint64_t addr;
    uint32_t data;
};

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct nvme *nvme;
    uint8_t *ram;
    struct memdisk disk[2];
    struct msg msgs[64];
    int nmsgs;
    int intx;
    uint16_t sq_tail[17], cq_head[17], sq_size[17], cq_size[17];
    bool phase[17];
    uint16_t cid;
};

static void sink(void *opaque, uint64_t addr, uint32_t data)
{
    struct rig *r = opaque;
    if (r->nmsgs < 64)
        r->msgs[r->nmsgs++] = (struct msg){addr, data};
}

static void router(void *opaque, int devfn, int pin, int level)
{
    struct rig *r = opaque;
    (void)devfn;
    (void)pin;
    r->intx = level;
}

static uint32_t cfg_rd(struct rig *r, unsigned off, unsigned size)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | (off & 0xfc), 4);
    return bus_in(r->bus, (uint16_t)(0xcfc + (off & 3)), size);
}

static void cfg_wr(struct rig *r, unsigned off, uint32_t v, unsigned size)
{
    bus_out(r->bus, 0xcf8, 0x80000000u | DEVFN << 8 | (off & 0xfc), 4);
    bus_out(r->bus, (uint16_t)(0xcfc + (off & 3)), v, size);
}

static uint32_t rd(struct rig *r, unsigned off)
{
    return (uint32_t)bus_read(r->bus, BAR0 + off, 4);
}

static void wr(struct rig *r, unsigned off, uint32_t v)
{
    bus_write(r->bus, BAR0 + off, v, 4);
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    ASSERT(r);
    r->ram = calloc(1, RAM_SIZE);
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    ASSERT(r->ram && r->bus && r->pb);
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    ASSERT_EQ(pci_bus_map_conf_ports(r->pb), 0);
    pci_bus_set_msi_sink(r->pb, sink, r);
    pci_bus_set_intx_router(r->pb, router, r);
    r->nvme = nvme_new(r->bus, r->pb, DEVFN, 0);
    ASSERT(r->nvme);
    for (int i = 0; i < 2; i++) {
        struct memdisk *m = &r->disk[i];
        m->bd.ops = &md_ops;
        m->bd.sectors = DISK_SECTORS + i * 100;
        m->bd.format = "memory";
        m->data = calloc(m->bd.sectors, 512);
        ASSERT(m->data);
        for (uint64_t b = 0; b < m->bd.sectors * 512; b++)
            m->data[b] = (uint8_t)(b * 7 + b / 512 + i);
    }
    ASSERT_EQ(nvme_attach(r->nvme, 0, &r->disk[0].bd, NULL), 0);
    ASSERT_EQ(nvme_attach(r->nvme, 2, &r->disk[1].bd, NULL), 0); /* nvme0:2: namespace 3; 2 inactive */
    /* SeaBIOS's placement: BAR0/1 64-bit, BAR4 MSI-X; memory decoding and bus mastering on. */
    cfg_wr(r, PCI_BASE_ADDRESS_0, 0xffffffffu, 4);
    ASSERT_EQ(cfg_rd(r, PCI_BASE_ADDRESS_0, 4), 0xffffc004u); /* 16 KiB, 64-bit, not prefetchable */
    cfg_wr(r, PCI_BASE_ADDRESS_0, BAR0, 4);
    cfg_wr(r, PCI_BASE_ADDRESS_0 + 4, 0, 4);
    cfg_wr(r, PCI_BASE_ADDRESS_0 + 16, MSIX_BAR, 4);
    cfg_wr(r, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    return r;
}

static void rig_free(struct rig *r)
{
    nvme_free(r->nvme);
    pci_bus_free(r->pb);
    bus_free(r->bus);
    for (int i = 0; i < 2; i++)
        free(r->disk[i].data);
    free(r->ram);
    free(r);
}

static void enable(struct rig *r, uint16_t asize, uint16_t csize)
{
    wr(r, 0x14, 0);
    ASSERT_EQ(rd(r, 0x1c) & 1, 0);
    wr(r, 0x24, (uint32_t)(csize - 1) << 16 | (asize - 1));
    wr(r, 0x28, ASQ_ADDR);
    wr(r, 0x2c, 0);
    wr(r, 0x30, ACQ_ADDR);
    wr(r, 0x34, 0);
    wr(r, 0x14, 1 | 6u << 16 | 4u << 20);
    ASSERT_EQ(rd(r, 0x1c), 1); /* RDY, no CFS */
    r->sq_size[0] = asize;
    r->cq_size[0] = csize;
    r->sq_tail[0] = r->cq_head[0] = 0;
    r->phase[0] = true;
}

struct sqe {
    uint32_t dw[16];
};

static struct sqe cmd(uint8_t opcode, uint32_t nsid)
{
    struct sqe c = {{0}};
    c.dw[0] = opcode;
    c.dw[1] = nsid;
    return c;
}

static void set_prp(struct sqe *c, uint64_t prp1, uint64_t prp2)
{
    c->dw[6] = (uint32_t)prp1;
    c->dw[7] = (uint32_t)(prp1 >> 32);
    c->dw[8] = (uint32_t)prp2;
    c->dw[9] = (uint32_t)(prp2 >> 32);
}

static uint64_t sq_base(int q)
{
    return q == 0 ? ASQ_ADDR : IOSQ_ADDR + (uint64_t)(q - 1) * 0x2000;
}

static uint64_t cq_base(int q)
{
    return q == 0 ? ACQ_ADDR : IOCQ_ADDR + (uint64_t)(q - 1) * 0x2000;
}

static void put_sqe(struct rig *r, int q, struct sqe *c)
{
    c->dw[0] = (c->dw[0] & 0xffff) | (uint32_t)++r->cid << 16;
    uint8_t *e = r->ram + sq_base(q) + r->sq_tail[q] * 64u;
    for (int i = 0; i < 16; i++)
        memcpy(e + 4 * i, &c->dw[i], 4);
    r->sq_tail[q] = (uint16_t)((r->sq_tail[q] + 1) % r->sq_size[q]);
}

struct cqe {
    uint32_t dw0;
    uint16_t sqhd, sqid, cid, status;
    bool phase;
};

/* Takes the next completion of queue q; false when its phase says none is there. */
static bool take_cqe(struct rig *r, int q, struct cqe *out)
{
    const uint8_t *e = r->ram + cq_base(q) + r->cq_head[q] * 16u;
    uint32_t dw[4];
    memcpy(dw, e, 16);
    out->phase = (dw[3] >> 16) & 1;
    if (out->phase != r->phase[q])
        return false;
    out->dw0 = dw[0];
    out->sqhd = (uint16_t)dw[2];
    out->sqid = (uint16_t)(dw[2] >> 16);
    out->cid = (uint16_t)dw[3];
    out->status = (uint16_t)(dw[3] >> 17);
    if (++r->cq_head[q] == r->cq_size[q]) {
        r->cq_head[q] = 0;
        r->phase[q] = !r->phase[q];
    }
    wr(r, 0x1000 + (2 * q + 1) * 4, r->cq_head[q]);
    return true;
}

/* Submits on queue q (its CQ has the same number) and returns the status field (SCT << 8 | SC). */
static uint16_t submit(struct rig *r, int q, struct sqe c, uint32_t *dw0)
{
    put_sqe(r, q, &c);
    wr(r, 0x1000 + 2 * q * 4, r->sq_tail[q]);
    struct cqe e;
    ASSERT(take_cqe(r, q, &e));
    ASSERT_EQ(e.cid, r->cid);
    ASSERT_EQ(e.sqid, q);
    ASSERT_EQ(e.sqhd, r->sq_tail[q]);
    if (dw0)
        *dw0 = e.dw0;
    return e.status & 0x7ff;
}

static uint16_t identify(struct rig *r, uint8_t cns, uint32_t nsid, uint64_t addr)
{
    struct sqe c = cmd(0x06, nsid);
    set_prp(&c, addr, 0);
    c.dw[10] = cns;
    return submit(r, 0, c, NULL);
}

/* Set Features (number of queues), I/O CQ qid with IEN and vector iv, SQ qid on it. */
static void make_io_queues(struct rig *r, int qid, uint16_t size, uint16_t iv)
{
    struct sqe c = cmd(0x09, 0);
    uint32_t dw0;
    c.dw[10] = 0x07;
    c.dw[11] = 3 | 3u << 16;
    ASSERT_EQ(submit(r, 0, c, &dw0), 0);
    ASSERT_EQ(dw0, 3 | 3u << 16);
    c = cmd(0x05, 0);
    set_prp(&c, cq_base(qid), 0);
    c.dw[10] = (uint32_t)qid | (uint32_t)(size - 1) << 16;
    c.dw[11] = 1 | 2 | (uint32_t)iv << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0);
    c = cmd(0x01, 0);
    set_prp(&c, sq_base(qid), 0);
    c.dw[10] = (uint32_t)qid | (uint32_t)(size - 1) << 16;
    c.dw[11] = 1 | (uint32_t)qid << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0);
    r->sq_size[qid] = r->cq_size[qid] = size;
    r->sq_tail[qid] = r->cq_head[qid] = 0;
    r->phase[qid] = true;
}

static uint16_t rw(struct rig *r, int q, uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
                   uint64_t prp1, uint64_t prp2, uint32_t flags)
{
    struct sqe c = cmd(opcode, nsid);
    set_prp(&c, prp1, prp2);
    c.dw[10] = (uint32_t)slba;
    c.dw[11] = (uint32_t)(slba >> 32);
    c.dw[12] = ((nlb - 1) & 0xffff) | flags;
    return submit(r, q, c, NULL);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

TEST(pci_identity_and_registers)
{
    struct rig *r = rig_new();
    ASSERT_EQ(cfg_rd(r, PCI_VENDOR_ID, 4), 0x07f015adu);
    ASSERT_EQ(cfg_rd(r, PCI_REVISION_ID, 4) >> 8, 0x010802);
    ASSERT_EQ(cfg_rd(r, PCI_SUBSYSTEM_VENDOR_ID, 4), 0x07f015adu);
    ASSERT_EQ(cfg_rd(r, PCI_INTERRUPT_PIN, 1), 1);
    ASSERT(pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSIX));
    ASSERT(pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSI));
    uint64_t cap = rd(r, 0) | (uint64_t)rd(r, 4) << 32;
    ASSERT_EQ(cap & 0xffff, 1023);      /* MQES */
    ASSERT_EQ((cap >> 16) & 1, 1);      /* CQR */
    ASSERT((cap >> 24 & 0xff) != 0);    /* TO */
    ASSERT_EQ((cap >> 32) & 0xf, 0);    /* DSTRD */
    ASSERT_EQ((cap >> 37) & 1, 1);      /* CSS: NVM command set */
    ASSERT_EQ((cap >> 48) & 0xf, 0);    /* MPSMIN: 4 KiB */
    ASSERT_EQ(rd(r, 0x08), 0x00010300); /* VS 1.3 */
    ASSERT_EQ(rd(r, 0x1c), 0);          /* not ready before enable */
    /* Bad enable (CSS 7): controller fatal status. */
    wr(r, 0x24, 0x001f001f);
    wr(r, 0x28, ASQ_ADDR);
    wr(r, 0x30, ACQ_ADDR);
    wr(r, 0x14, 1 | 7u << 4);
    ASSERT_EQ(rd(r, 0x1c) & 2, 2);
    enable(r, 32, 32);
    ASSERT_EQ(rd(r, 0x24), 0x001f001f);
    ASSERT_EQ(rd(r, 0x28), ASQ_ADDR);
    /* Shutdown: SHST = complete, flushed. */
    int f = r->disk[0].flushes;
    wr(r, 0x14, rd(r, 0x14) | 1u << 14);
    ASSERT_EQ((rd(r, 0x1c) >> 2) & 3, 2);
    ASSERT(r->disk[0].flushes > f);
    rig_free(r);
}

TEST(identify_layout)
{
    struct rig *r = rig_new();
    enable(r, 32, 32);
    uint8_t *d = r->ram + DATA_ADDR;
    ASSERT_EQ(identify(r, 1, 0, DATA_ADDR), 0);
    ASSERT_EQ(d[0] | d[1] << 8, 0x15ad);         /* VID */
    ASSERT_EQ(d[2] | d[3] << 8, 0x15ad);         /* SSVID */
    ASSERT(memcmp(d + 4, "VMware NVME_0000    ", 20) == 0); /* SN, space padded */
    ASSERT(memcmp(d + 24, "VMware Virtual NVMe Disk", 24) == 0);
    ASSERT_EQ(d[24 + 39], ' ');                  /* MN padded to 40 */
    ASSERT_EQ(d[64], '1');                       /* FR */
    ASSERT_EQ(d[77], 5);                         /* MDTS: 128 KiB */
    ASSERT_EQ(d[80] | d[81] << 8 | d[82] << 16, 0x010300); /* VER */
    ASSERT_EQ(d[512], 0x66);                     /* SQES */
    ASSERT_EQ(d[513], 0x44);                     /* CQES */
    ASSERT_EQ(d[516], 3);                        /* NN: namespaces 1..3 */
    ASSERT_EQ(d[520] & 0x0c, 0x0c);              /* ONCS: DSM, write zeroes */
    ASSERT_EQ(d[525] & 1, 1);                    /* VWC */
    ASSERT(d[768] == 'n');                       /* SUBNQN */
    /* Namespace 1: size in blocks, one LBA format of 2^9 bytes. */
    memset(d, 0xaa, 4096);
    ASSERT_EQ(identify(r, 0, 1, DATA_ADDR), 0);
    ASSERT_EQ(get64(d), DISK_SECTORS);            /* NSZE */
    ASSERT_EQ(get64(d + 8), DISK_SECTORS);        /* NCAP */
    ASSERT_EQ(d[25], 0);                          /* NLBAF */
    ASSERT_EQ(d[26] & 0xf, 0);                    /* FLBAS */
    ASSERT_EQ((d[128 + 2]), 9);                   /* LBAF0.LBADS */
    /* Namespace 2 is inactive: zeros; 3 is the second disk; 4 is invalid. */
    ASSERT_EQ(identify(r, 0, 2, DATA_ADDR), 0);
    ASSERT_EQ(get64(d), 0);
    ASSERT_EQ(identify(r, 0, 3, DATA_ADDR), 0);
    ASSERT_EQ(get64(d), DISK_SECTORS + 100);
    ASSERT_EQ(identify(r, 0, 4, DATA_ADDR), 0x0b);
    /* Active namespace list: 1 and 3; above 1: only 3. */
    ASSERT_EQ(identify(r, 2, 0, DATA_ADDR), 0);
    ASSERT_EQ(d[0], 1);
    ASSERT_EQ(d[4], 3);
    ASSERT_EQ(d[8], 0);
    ASSERT_EQ(identify(r, 2, 1, DATA_ADDR), 0);
    ASSERT_EQ(d[0], 3);
    /* Descriptor list: an EUI-64. Unknown CNS: invalid field. */
    ASSERT_EQ(identify(r, 3, 1, DATA_ADDR), 0);
    ASSERT_EQ(d[0], 1);
    ASSERT_EQ(d[1], 8);
    ASSERT_EQ(identify(r, 0x55, 0, DATA_ADDR), 0x02);
    /* Logs: SMART (512 bytes, spare 100%), unknown log page. */
    struct sqe c = cmd(0x02, 0xffffffffu);
    set_prp(&c, DATA_ADDR, 0);
    c.dw[10] = 0x02 | 127u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0);
    ASSERT_EQ(d[3], 100);
    c.dw[10] = 0x70 | 127u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x109);
    /* Features: write cache, coalescing accepted; unknown feature; saveable refused. */
    uint32_t dw0;
    c = cmd(0x09, 0);
    c.dw[10] = 0x08;
    c.dw[11] = 0x0a05;
    ASSERT_EQ(submit(r, 0, c, NULL), 0);
    c = cmd(0x0a, 0);
    c.dw[10] = 0x08;
    ASSERT_EQ(submit(r, 0, c, &dw0), 0);
    ASSERT_EQ(dw0, 0x0a05);
    c.dw[10] = 0x06;
    ASSERT_EQ(submit(r, 0, c, &dw0), 0);
    ASSERT_EQ(dw0, 1);
    c.dw[10] = 0x7f;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x02);
    c = cmd(0x09, 0);
    c.dw[10] = 0x80000006u;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x10d);
    /* Unknown admin opcode; abort reports "not aborted". */
    ASSERT_EQ(submit(r, 0, cmd(0x7e, 0), NULL), 0x01);
    ASSERT_EQ(submit(r, 0, cmd(0x08, 0), &dw0), 0);
    ASSERT_EQ(dw0 & 1, 1);
    rig_free(r);
}

/* A PRP list for len bytes at data (PRP1 at data + off), entries at LIST_ADDR. */
static void build_prps(struct rig *r, uint64_t data, uint32_t off, uint32_t len, uint64_t *prp1, uint64_t *prp2)
{
    *prp1 = data + off;
    uint32_t first = 4096 - off;
    if (len <= first) {
        *prp2 = 0;
        return;
    }
    uint32_t rest = len - first, pages = (rest + 4095) / 4096;
    if (pages == 1) {
        *prp2 = data + 4096;
        return;
    }
    for (uint32_t i = 0; i < pages; i++) {
        uint64_t a = data + 4096 * (i + 1);
        memcpy(r->ram + LIST_ADDR + 8 * i, &a, 8);
    }
    *prp2 = LIST_ADDR;
}

TEST(io_through_prp_lists_equal_the_disk)
{
    struct rig *r = rig_new();
    enable(r, 32, 32);
    /* MSI-X on, vectors 0 and 1 unmasked (Linux's order). */
    uint8_t cap = pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSIX);
    cfg_wr(r, cap + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    for (unsigned v = 0; v < 2; v++) {
        bus_write(r->bus, MSIX_BAR + v * 16, 0xfee00000u, 4);
        bus_write(r->bus, MSIX_BAR + v * 16 + 8, 0x40 + v, 4);
        bus_write(r->bus, MSIX_BAR + v * 16 + 12, 0, 4);
    }
    make_io_queues(r, 1, 64, 1);
    ASSERT(r->nmsgs >= 3);
    ASSERT_EQ(r->msgs[r->nmsgs - 1].data, 0x40); /* admin completions on vector 0 */
    /* Read 100 blocks (50 KiB, 14 pages) with PRP1 at an offset of 0x200 and a list. */
    uint64_t p1, p2;
    build_prps(r, DATA_ADDR, 0x200, 100 * 512, &p1, &p2);
    r->nmsgs = 0;
    ASSERT_EQ(rw(r, 1, 0x02, 1, 7, 100, p1, p2, 0), 0);
    ASSERT_EQ(r->nmsgs, 1);
    ASSERT_EQ(r->msgs[0].data, 0x41); /* I/O completion on vector 1 */
    ASSERT(memcmp(r->ram + DATA_ADDR + 0x200, r->disk[0].data + 7 * 512, 100 * 512) == 0);
    /* Two pages exactly: PRP2 is the second page. */
    build_prps(r, DATA_ADDR + 0x40000, 0, 8192, &p1, &p2);
    ASSERT_EQ(rw(r, 1, 0x02, 3, 50, 16, p1, p2, 0), 0);
    ASSERT(memcmp(r->ram + DATA_ADDR + 0x40000, r->disk[1].data + 50 * 512, 8192) == 0);
    /* Write 256 blocks (the whole 128 KiB MDTS) from a pattern; FUA makes it stable (a flush). */
    for (uint32_t i = 0; i < 256 * 512; i++)
        r->ram[0x200000 + i] = (uint8_t)(i * 13 + 5);
    build_prps(r, 0x200000, 0, 256 * 512, &p1, &p2);
    int flushes = r->disk[0].flushes;
    ASSERT_EQ(rw(r, 1, 0x01, 1, 1000, 256, p1, p2, 1u << 30), 0);
    ASSERT(memcmp(r->disk[0].data + 1000 * 512, r->ram + 0x200000, 256 * 512) == 0);
    ASSERT_EQ(r->disk[0].flushes, flushes + 1);
    /* Without FUA and with the write cache on: no flush until FLUSH. */
    ASSERT_EQ(rw(r, 1, 0x01, 1, 2000, 8, 0x200000, 0, 0), 0);
    ASSERT_EQ(r->disk[0].flushes, flushes + 1);
    ASSERT_EQ(submit(r, 1, cmd(0x00, 1), NULL), 0);
    ASSERT_EQ(r->disk[0].flushes, flushes + 2);
    /* Write zeroes and DSM. */
    ASSERT_EQ(rw(r, 1, 0x08, 1, 1000, 300, 0, 0, 0), 0);
    for (int i = 0; i < 300 * 512; i++)
        ASSERT_EQ(r->disk[0].data[1000 * 512 + i], 0);
    ASSERT_EQ(r->disk[0].data[1300 * 512], (uint8_t)(1300 * 512 * 7 + 1300));
    struct sqe c = cmd(0x09, 1);
    c.dw[11] = 4;
    ASSERT_EQ(submit(r, 1, c, NULL), 0);
    /* A chained PRP list: the list's last entry points to the next list page. */
    uint64_t list1 = 0x90ff0; /* two entries in this list page: one data page, then the chain */
    uint64_t e0 = 0x300000 + 4096, chain = 0x91000, e1 = 0x300000 + 8192, e2 = 0x300000 + 12288;
    memcpy(r->ram + list1, &e0, 8);
    memcpy(r->ram + list1 + 8, &chain, 8);
    memcpy(r->ram + chain, &e1, 8);
    memcpy(r->ram + chain + 8, &e2, 8);
    ASSERT_EQ(rw(r, 1, 0x02, 1, 20, 32, 0x300000, list1, 0), 0);
    ASSERT(memcmp(r->ram + 0x300000, r->disk[0].data + 20 * 512, 16384) == 0);
    rig_free(r);
}

TEST(phase_bit_wraps_and_sq_head_reported)
{
    struct rig *r = rig_new();
    enable(r, 32, 32);
    make_io_queues(r, 2, 4, 0);
    for (int i = 0; i < 13; i++) {
        bool phase = r->phase[2];
        uint16_t head = r->cq_head[2];
        ASSERT_EQ(rw(r, 2, 0x02, 1, (uint64_t)i, 1, DATA_ADDR, 0, 0), 0);
        ASSERT_EQ(phase, head == 3 ? !r->phase[2] : r->phase[2]);
    }
    ASSERT_EQ(r->phase[2], false); /* 13 entries in a queue of 4: three wraps */
    /* A full CQ holds the SQ back until the host frees an entry. */
    for (int i = 0; i < 3; i++) {
        struct sqe c = cmd(0x02, 1);
        set_prp(&c, DATA_ADDR, 0);
        put_sqe(r, 2, &c);
    }
    wr(r, 0x1000 + 4 * 4, r->sq_tail[2]);
    struct cqe e;
    int got = 0;
    while (take_cqe(r, 2, &e))
        got++;
    ASSERT_EQ(got, 3);
    rig_free(r);
}

TEST(intx_fallback_and_intms)
{
    struct rig *r = rig_new();
    enable(r, 32, 32);
    struct sqe c = cmd(0x06, 0);
    set_prp(&c, DATA_ADDR, 0);
    c.dw[10] = 1;
    put_sqe(r, 0, &c);
    wr(r, 0x1000, r->sq_tail[0]);
    ASSERT_EQ(r->intx, 1); /* admin CQ has an entry */
    ASSERT_EQ(r->nmsgs, 0);
    wr(r, 0x0c, 1); /* INTMS */
    ASSERT_EQ(r->intx, 0);
    wr(r, 0x10, 1); /* INTMC */
    ASSERT_EQ(r->intx, 1);
    struct cqe e;
    ASSERT(take_cqe(r, 0, &e));
    ASSERT_EQ(r->intx, 0); /* head caught up */
    rig_free(r);
}

TEST(hostile_queues_and_commands)
{
    struct rig *r = rig_new();
    enable(r, 32, 32);
    make_io_queues(r, 1, 16, 0);
    /* Huge NLB (beyond MDTS), LBA out of range, bad namespace, unknown opcode. */
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 65536, DATA_ADDR, 0, 0), 0x02);
    ASSERT_EQ(rw(r, 1, 0x02, 1, DISK_SECTORS - 1, 2, DATA_ADDR, 0, 0), 0x80);
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0xffffffffffffff00ull, 200, DATA_ADDR, DATA_ADDR + 4096, 0), 0x80);
    ASSERT_EQ(rw(r, 1, 0x08, 1, DISK_SECTORS, 1, 0, 0, 0), 0x80);
    ASSERT_EQ(rw(r, 1, 0x02, 2, 0, 1, DATA_ADDR, 0, 0), 0x0b);
    ASSERT_EQ(rw(r, 1, 0x02, 0xffffffffu, 0, 1, DATA_ADDR, 0, 0), 0x0b);
    ASSERT_EQ(rw(r, 1, 0x7f, 1, 0, 1, DATA_ADDR, 0, 0), 0x01);
    /* PRPs into MMIO (the controller's own BAR) and beyond RAM: data transfer error, nothing written. */
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 1, BAR0, 0, 0), 0x04);
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 16, DATA_ADDR, 0xf0000000u, 0), 0x04);
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 24, DATA_ADDR, 0xfffff000u, 0), 0x04); /* the list itself */
    ASSERT_EQ(rw(r, 1, 0x01, 1, 0, 1, RAM_SIZE - 256, RAM_SIZE, 0), 0x04);
    ASSERT_EQ(rd(r, 0x14) & 1, 1); /* a register write never happened through DMA */
    /* Misaligned PRPs: PRP offset invalid. */
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 16, DATA_ADDR, DATA_ADDR + 0x1010, 0), 0x13);
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 1, DATA_ADDR + 2, 0, 0), 0x13);
    /* A PRP list chaining to itself: bounded, invalid field. */
    uint64_t self = 0x90ff8;
    memcpy(r->ram + self, &self, 8);
    ASSERT_EQ(rw(r, 1, 0x02, 1, 0, 64, DATA_ADDR, self, 0), 0x02);
    /* Bad queue ids and sizes. */
    struct sqe c = cmd(0x05, 0);
    set_prp(&c, cq_base(3), 0);
    c.dw[10] = 0 | 15u << 16;
    c.dw[11] = 1;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x101); /* qid 0 */
    c.dw[10] = 100 | 15u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x101);
    c.dw[10] = 1 | 15u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x101); /* exists */
    c.dw[10] = 3 | 0xffffu << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x102); /* beyond MQES */
    c.dw[10] = 3 | 15u << 16;
    c.dw[11] = 1 | 2 | 40u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x108); /* vector */
    c = cmd(0x01, 0);
    set_prp(&c, sq_base(3), 0);
    c.dw[10] = 3 | 15u << 16;
    c.dw[11] = 1 | 9u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x100); /* no CQ 9 */
    c = cmd(0x04, 0);
    c.dw[10] = 1;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x10c); /* CQ 1 still has SQ 1 */
    c = cmd(0x00, 0);
    c.dw[10] = 0;
    ASSERT_EQ(submit(r, 0, c, NULL), 0x101); /* the admin SQ */
    /* Doorbells: beyond the queue size and of an absent queue complete a held AER. */
    struct sqe aer = cmd(0x0c, 0);
    put_sqe(r, 0, &aer);
    uint16_t aer_cid = r->cid;
    wr(r, 0x1000, r->sq_tail[0]);
    struct cqe e;
    ASSERT(!take_cqe(r, 0, &e)); /* held */
    wr(r, 0x1000 + 2 * 1 * 4, 16); /* SQ 1 has 16 entries: 16 is beyond */
    ASSERT(take_cqe(r, 0, &e));
    ASSERT_EQ(e.cid, aer_cid);
    ASSERT_EQ(e.status, 0);
    ASSERT_EQ(e.dw0 & 7, 0);           /* error event */
    ASSERT_EQ((e.dw0 >> 8) & 0xff, 1); /* invalid doorbell write value */
    wr(r, 0x1000 + 2 * 9 * 4, 1);      /* no SQ 9: the event waits for a request */
    put_sqe(r, 0, &aer);
    wr(r, 0x1000, r->sq_tail[0]);
    ASSERT(take_cqe(r, 0, &e));
    ASSERT_EQ((e.dw0 >> 8) & 0xff, 0);
    wr(r, 0x1000 + 0x3000, 5);         /* far beyond every queue: nothing */
    /* AER limit: four held, the fifth refused. */
    for (int i = 0; i < 4; i++) {
        aer = cmd(0x0c, 0);
        put_sqe(r, 0, &aer);
    }
    wr(r, 0x1000, r->sq_tail[0]);
    ASSERT(!take_cqe(r, 0, &e));
    ASSERT_EQ(submit(r, 0, cmd(0x0c, 0), NULL), 0x105);
    /* An I/O CQ outside RAM: the completion cannot be posted, controller fatal status. */
    c = cmd(0x05, 0);
    set_prp(&c, 0xf0000000u, 0);
    c.dw[10] = 3 | 15u << 16;
    c.dw[11] = 1;
    ASSERT_EQ(submit(r, 0, c, NULL), 0);
    c = cmd(0x01, 0);
    set_prp(&c, sq_base(3), 0);
    c.dw[10] = 3 | 15u << 16;
    c.dw[11] = 1 | 3u << 16;
    ASSERT_EQ(submit(r, 0, c, NULL), 0);
    r->sq_size[3] = 16;
    c = cmd(0x00, 1);
    put_sqe(r, 3, &c);
    wr(r, 0x1000 + 2 * 3 * 4, r->sq_tail[3]);
    ASSERT_EQ(rd(r, 0x1c) & 2, 2);
    /* Reset clears it. */
    enable(r, 32, 32);
    /* An admin SQ outside RAM: fatal too. */
    wr(r, 0x14, 0);
    wr(r, 0x28, 0xf0000000u);
    wr(r, 0x14, 1 | 6u << 16 | 4u << 20);
    wr(r, 0x1000, 1);
    ASSERT_EQ(rd(r, 0x1c) & 2, 2);
    rig_free(r);
}

/* Random commands on every queue: nothing may crash (run under make SAN=1). */
TEST(random_commands)
{
    struct rig *r = rig_new();
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 4; round++) {
        enable(r, 8, 8);
        make_io_queues(r, 1, 8, 0);
        for (int i = 0; i < 400; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            int q = (seed & 1) ? 1 : 0;
            struct sqe c;
            for (int w = 0; w < 16; w++) {
                seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
                c.dw[w] = (uint32_t)seed;
            }
            c.dw[0] &= 0xff3f;
            if (q == 0 && (c.dw[0] & 0xff) <= 0x05)
                continue; /* keep the queues this loop relies on */
            c.dw[1] &= 3;
            if (seed & 2) { /* plausible data pointers half of the time */
                c.dw[6] = DATA_ADDR + (uint32_t)(seed >> 40 & 0xff000);
                c.dw[7] = 0;
                c.dw[8] = LIST_ADDR;
                c.dw[9] = 0;
                c.dw[12] &= 0x400000ff;
                c.dw[11] = 0;
                c.dw[10] &= 0xfff;
            }
            put_sqe(r, q, &c);
            wr(r, 0x1000 + 2 * q * 4, r->sq_tail[q]);
            struct cqe e;
            while (take_cqe(r, q, &e))
                ;
            if (rd(r, 0x1c) & 2)
                break;
        }
    }
    rig_free(r);
}
