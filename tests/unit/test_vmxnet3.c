/*
 * The vmxnet3 model driven the way Linux's vmxnet3 driver drives it, with the
 * layouts of VMware's vmxnet3_defs.h: revision negotiation (VRRS, UVRS), the
 * MAC registers and GET commands, DriverShared and the queue descriptor table
 * read at ACTIVATE_DEV, a transmit descriptor chain reaching the back end
 * byte-exact with its completion and generation bit, checksum insertion and
 * TCP segmentation checked by recomputing the checksums independently, a
 * received frame in the posted buffer with its completion descriptor (gen
 * bit, length, SOP/EOP, ring ID) and interrupt (INTx with ICR and auto-mask,
 * MSI-X with IMR), a frame split over ring 1 and ring 2 buffers, receive
 * filtering, flow control while no buffer is posted, and hostile set-ups:
 * ring sizes 0 or absurd, queue counts out of range, rings and buffers outside
 * RAM, zero and huge lengths, chains without EOP, wrapped rings.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/net.h"
#include "devices/pci.h"
#include "devices/vmxnet3.h"
#include "test.h"

#define RAM_SIZE 0x400000
#define BAR0 0xfebc0000u
#define BAR1 0xfebc2000u
#define BAR2 0xfebc4000u
#define DEVFN (3 << 3)

/* guest memory plan */
#define SHARED 0x10000u
#define QDESC 0x11000u
#define MFTAB 0x12000u
#define TXRING 0x20000u
#define TXCOMP 0x21000u
#define RXRING0 0x30000u
#define RXRING1 0x31000u
#define RXCOMP 0x32000u
#define TXBUF 0x40000u
#define RXBUF 0x100000u
#define RING 32

/* registers */
#define IMR(n) (0x000 + 8 * (n))
#define TXPROD 0x600
#define VRRS 0x00
#define UVRS 0x08
#define DSAL 0x10
#define DSAH 0x18
#define CMD 0x20
#define MACL 0x28
#define MACH 0x30
#define ICR 0x38
#define ACTIVATE 0xcafe0000u
#define UPDATE_RX_MODE 0xcafe0003u
#define GET_STATS 0xf00d0001u
#define GET_LINK 0xf00d0002u
#define GET_PERM_MAC_LO 0xf00d0003u
#define GET_PERM_MAC_HI 0xf00d0004u
#define GET_CONF_INTR 0xf00d0008u

#define MAX_FRAMES 16
struct fake_be {
    struct net_backend be; /* first */
    uint8_t f[MAX_FRAMES][2048];
    size_t len[MAX_FRAMES];
    int frames;
};

static void fake_send(struct net_backend *be, const uint8_t *f, size_t len)
{
    struct fake_be *fb = (struct fake_be *)be;
    int i = fb->frames++ % MAX_FRAMES;
    fb->len[i] = len;
    memcpy(fb->f[i], f, len < 2048 ? len : 2048);
}

static const struct net_backend_ops fake_ops = {.name = "fake", .send = fake_send};

struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct clock *clock;
    uint8_t *ram;
    struct fake_be fb;
    struct vmxnet3 *nic;
    int level;
    int nmsgs;
    uint32_t msg_data[64];
    uint32_t txnext, rxnext[2];
    bool txgen;
};

static const uint8_t mac[6] = {0x00, 0x0c, 0x29, 0x6f, 0x90, 0x12};

static void route(void *opaque, int devfn, int pin, int level)
{
    ((struct rig *)opaque)->level = level;
}

static void sink(void *opaque, uint64_t addr, uint32_t data)
{
    struct rig *r = opaque;
    if (r->nmsgs < 64)
        r->msg_data[r->nmsgs++] = data;
}

static void put32(struct rig *r, uint32_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        r->ram[at + i] = (uint8_t)(v >> 8 * i);
}

static void put64(struct rig *r, uint32_t at, uint64_t v)
{
    put32(r, at, (uint32_t)v);
    put32(r, at + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(struct rig *r, uint32_t at)
{
    return (uint32_t)r->ram[at] | (uint32_t)r->ram[at + 1] << 8 | (uint32_t)r->ram[at + 2] << 16 |
           (uint32_t)r->ram[at + 3] << 24;
}

static uint32_t pt_rd(struct rig *r, unsigned off)
{
    return (uint32_t)bus_read(r->bus, BAR0 + off, 4);
}

static void pt_wr(struct rig *r, unsigned off, uint32_t v)
{
    bus_write(r->bus, BAR0 + off, v, 4);
}

static uint32_t vd_rd(struct rig *r, unsigned off)
{
    return (uint32_t)bus_read(r->bus, BAR1 + off, 4);
}

static void vd_wr(struct rig *r, unsigned off, uint32_t v)
{
    bus_write(r->bus, BAR1 + off, v, 4);
}

static uint32_t cmd(struct rig *r, uint32_t c)
{
    vd_wr(r, CMD, c);
    return vd_rd(r, CMD);
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->clock = clock_new(CLOCK_DETERMINISTIC, 4);
    r->ram = calloc(1, RAM_SIZE);
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    pci_bus_set_intx_router(r->pb, route, r);
    pci_bus_set_msi_sink(r->pb, sink, r);
    net_backend_init(&r->fb.be, &fake_ops, r->clock);
    r->nic = vmxnet3_new(r->pb, DEVFN, r->clock, mac, &r->fb.be, true);
    ASSERT(r->nic != NULL);
    pci_config_write(r->pb, DEVFN, 0x10, BAR0, 4);
    pci_config_write(r->pb, DEVFN, 0x14, BAR1, 4);
    pci_config_write(r->pb, DEVFN, 0x18, BAR2, 4);
    pci_config_write(r->pb, DEVFN, 0x04, 0x6, 4); /* memory, bus master */
    r->txgen = true;
    return r;
}

static void rig_free(struct rig *r)
{
    vmxnet3_free(r->nic);
    net_backend_free(&r->fb.be);
    pci_bus_free(r->pb);
    clock_free(r->clock);
    bus_free(r->bus);
    free(r->ram);
    free(r);
}

/* DriverShared and one queue pair as Linux's vmxnet3_setup_driver_shared fills them. */
static void fill_shared(struct rig *r, unsigned rx1_size, uint8_t tx_intr, uint8_t rx_intr)
{
    memset(r->ram + SHARED, 0, 720);
    put32(r, SHARED + 0, 0xbabefee1);
    put64(r, SHARED + 40, QDESC);
    put32(r, SHARED + 52, 512);
    put32(r, SHARED + 56, 1500);
    r->ram[SHARED + 62] = 1;
    r->ram[SHARED + 63] = 1;
    r->ram[SHARED + 80] = 1; /* autoMask */
    r->ram[SHARED + 81] = 3;
    r->ram[SHARED + 82] = 2;
    put32(r, SHARED + 120, 0x01 | 0x04); /* unicast, broadcast */
    r->ram[SHARED + 136] = 1;            /* VLAN 0 */
    memset(r->ram + QDESC, 0, 512);
    put64(r, QDESC + 16, TXRING);
    put64(r, QDESC + 32, TXCOMP);
    put32(r, QDESC + 56, RING);
    put32(r, QDESC + 64, RING);
    r->ram[QDESC + 72] = tx_intr;
    put64(r, QDESC + 256 + 16, RXRING0);
    put64(r, QDESC + 256 + 24, RXRING1);
    put64(r, QDESC + 256 + 32, RXCOMP);
    put32(r, QDESC + 256 + 56, RING);
    put32(r, QDESC + 256 + 60, rx1_size);
    put32(r, QDESC + 256 + 64, 2 * RING);
    r->ram[QDESC + 256 + 72] = rx_intr;
    memset(r->ram + TXRING, 0, 0x1000 * 2);
    memset(r->ram + RXRING0, 0, 0x1000 * 3);
}

static void post_rx(struct rig *r, int ring, uint32_t idx, uint32_t len, int btype, bool gen)
{
    uint32_t at = (ring ? RXRING1 : RXRING0) + idx * 16;
    put64(r, at, RXBUF + (uint32_t)ring * 0x80000 + idx * 0x4000);
    put32(r, at + 8, len | (uint32_t)btype << 14 | (uint32_t)gen << 31);
}

static uint32_t activate(struct rig *r)
{
    vd_wr(r, DSAL, SHARED);
    vd_wr(r, DSAH, 0);
    return cmd(r, ACTIVATE);
}

static struct rig *rig_active(void)
{
    struct rig *r = rig_new();
    ASSERT(vd_rd(r, VRRS) & 1);
    vd_wr(r, VRRS, 1);
    ASSERT(vd_rd(r, UVRS) & 1);
    vd_wr(r, UVRS, 1);
    fill_shared(r, RING, 0, 1);
    for (uint32_t i = 0; i < RING; i++) {
        post_rx(r, 0, i, 1536, 0, true);
        post_rx(r, 1, i, 4096, 1, true);
    }
    ASSERT_EQ(activate(r), 0);
    for (int i = 0; i < 3; i++)
        pt_wr(r, IMR(i), 0);
    return r;
}

/* One packet as chained descriptors (SOP gen written last, as the driver does). */
static void tx_put(struct rig *r, const uint32_t *addr, const uint32_t *len, int n, uint32_t sop_d3)
{
    uint32_t sop = r->txnext;
    for (int i = 0; i < n; i++) {
        uint32_t at = TXRING + r->txnext * 16;
        put64(r, at, addr[i]);
        uint32_t d2 = (len[i] & 0x3fff) | (i == 0 ? (uint32_t)!r->txgen : (uint32_t)r->txgen) << 14;
        uint32_t d3 = i == 0 ? sop_d3 & 0xfff : 0; /* hlen, om */
        if (i == n - 1)
            d3 |= 1u << 12 | 1u << 13; /* EOP, CQ */
        if (i == 0)
            d2 |= sop_d3 & 0xfffc0000u; /* msscof, in the SOP's dword 2 */
        put32(r, at + 8, d2);
        put32(r, at + 12, d3);
        if (++r->txnext == RING) {
            r->txnext = 0;
            r->txgen = !r->txgen;
        }
    }
    uint32_t at = TXRING + sop * 16 + 8;
    put32(r, at, get32(r, at) ^ 1u << 14);
}

/* SOP offload fields: hlen and om (dword 3 bits 0-11), msscof (dword 2 bits 18-31). */
static uint32_t offload(unsigned hlen, unsigned om, unsigned msscof)
{
    return hlen | om << 10 | (uint32_t)msscof << 18;
}

static void frame_to(uint8_t *f, const uint8_t *dst)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, "\x00\x0c\x29\xaa\xbb\xcc", 6);
}

/* ---- registers ---- */

TEST(handshake_mac_link_and_activate)
{
    struct rig *r = rig_new();
    ASSERT_EQ(vd_rd(r, VRRS), 1);
    ASSERT_EQ(vd_rd(r, UVRS), 1);
    ASSERT_EQ(vd_rd(r, MACL), 0x6f290c00u);
    ASSERT_EQ(vd_rd(r, MACH), 0x1290u);
    ASSERT_EQ(cmd(r, GET_PERM_MAC_LO), 0x6f290c00u);
    ASSERT_EQ(cmd(r, GET_PERM_MAC_HI), 0x1290u);
    ASSERT_EQ(cmd(r, GET_LINK), 10000u << 16 | 1);
    ASSERT_EQ(cmd(r, GET_CONF_INTR), 0u); /* auto type, auto mask */
    vd_wr(r, MACL, 0x44332211);
    vd_wr(r, MACH, 0x6655);
    ASSERT_EQ(vd_rd(r, MACL), 0x44332211u);
    ASSERT_EQ(vd_rd(r, MACH), 0x6655u);
    ASSERT_EQ(cmd(r, GET_PERM_MAC_LO), 0x6f290c00u);
    struct pci_device *d = vmxnet3_pci(r->nic);
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0, 4), 0x07b015adu);
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 8, 4) >> 8, 0x020000u);
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0x2c, 4), 0x07b015adu);
    ASSERT(pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSIX) != 0);
    ASSERT(pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSI) != 0);
    ASSERT_EQ(d->bar[1].size, 0x2000u);
    fill_shared(r, RING, 0, 0);
    ASSERT_EQ(activate(r), 0);
    put32(r, SHARED, 0x12345678); /* wrong magic */
    ASSERT_NE(activate(r), 0);
    rig_free(r);
}

/* ---- transmit ---- */

TEST(tx_frame_reaches_backend_with_completion_and_intx)
{
    struct rig *r = rig_active();
    uint8_t *f = r->ram + TXBUF;
    frame_to(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff");
    f[12] = 0x08;
    f[13] = 0x06;
    for (int i = 14; i < 300; i++)
        f[i] = (uint8_t)i;
    /* header in one buffer (the driver's data ring copy), payload in another */
    memcpy(r->ram + TXBUF + 0x1000, f, 42);
    uint32_t addr[2] = {TXBUF + 0x1000, TXBUF + 42}, len[2] = {42, 300 - 42};
    tx_put(r, addr, len, 2, 0);
    ASSERT_EQ(r->fb.frames, 0);
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.len[0], 300u);
    ASSERT_MEM_EQ(r->fb.f[0], f, 300);
    ASSERT_EQ(get32(r, TXCOMP) & 0xfff, 1u);       /* EOP index */
    ASSERT_EQ(get32(r, TXCOMP + 12) >> 31, 1u);    /* gen */
    ASSERT_EQ(get32(r, TXCOMP + 12) >> 24 & 0x7f, 0u); /* transmit completion */
    ASSERT_EQ(r->level, 1);
    ASSERT_EQ(vd_rd(r, ICR), 1u);
    ASSERT_EQ(r->level, 0);
    ASSERT_EQ(pt_rd(r, IMR(0)), 1u); /* auto-masked */
    ASSERT_EQ(vd_rd(r, ICR), 0u);
    pt_wr(r, IMR(0), 0);
    ASSERT_EQ(r->level, 0);
    /* GET_STATS: one broadcast of 300 bytes */
    cmd(r, GET_STATS);
    ASSERT_EQ(get32(r, QDESC + 88 + 48), 1u);
    ASSERT_EQ(get32(r, QDESC + 88 + 56), 300u);
    rig_free(r);
}

TEST(tx_waits_for_sop_gen_and_wraps_the_ring)
{
    struct rig *r = rig_active();
    uint8_t *f = r->ram + TXBUF;
    frame_to(f, mac);
    uint32_t addr[1] = {TXBUF}, len[1] = {64};
    tx_put(r, addr, len, 1, 0);
    /* undo the SOP flip: the packet is not handed over yet */
    put32(r, TXRING + 8, get32(r, TXRING + 8) ^ 1u << 14);
    pt_wr(r, TXPROD, 1);
    ASSERT_EQ(r->fb.frames, 0);
    put32(r, TXRING + 8, get32(r, TXRING + 8) ^ 1u << 14);
    pt_wr(r, TXPROD, 1);
    ASSERT_EQ(r->fb.frames, 1);
    /* 40 more one at a time: the ring and the completion ring wrap, gens flip */
    for (int i = 0; i < 40; i++) {
        f[14] = (uint8_t)i;
        tx_put(r, addr, len, 1, 0);
        pt_wr(r, TXPROD, r->txnext);
        ASSERT_EQ(r->fb.frames, 2 + i);
    }
    /* the 41st completion sits at index 40 - 32 = 8 with gen 0 */
    ASSERT_EQ(get32(r, TXCOMP + 8 * 16) & 0xfff, 8u);
    ASSERT_EQ(get32(r, TXCOMP + 8 * 16 + 12) >> 31, 0u);
    ASSERT_EQ(get32(r, TXCOMP + 9 * 16 + 12) >> 31, 1u); /* not yet rewritten */
    rig_free(r);
}

static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i < len; i++)
        sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static uint32_t pseudo4(const uint8_t *ip, unsigned proto, size_t l4len)
{
    uint32_t s = 0;
    for (int i = 12; i < 20; i += 2)
        s += (uint32_t)ip[i] << 8 | ip[i + 1];
    return s + proto + (uint32_t)l4len;
}

static void ipv4_header(uint8_t *f, size_t total, uint8_t proto)
{
    uint8_t *ip = f + 14;
    f[12] = 0x08;
    f[13] = 0x00;
    ip[0] = 0x45;
    ip[2] = (uint8_t)(total >> 8);
    ip[3] = (uint8_t)total;
    ip[4] = 0x12;
    ip[5] = 0x34;
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
}

TEST(tx_checksum_offload)
{
    struct rig *r = rig_active();
    uint8_t *f = r->ram + TXBUF;
    size_t udplen = 8 + 101;
    frame_to(f, mac);
    ipv4_header(f, 20 + udplen, 17);
    uint8_t *u = f + 34;
    u[0] = 0x30, u[1] = 0x39, u[2] = 0x00, u[3] = 0x35;
    u[4] = 0, u[5] = (uint8_t)udplen;
    for (size_t i = 8; i < udplen; i++)
        u[i] = (uint8_t)(i * 7);
    /* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum */
    uint16_t seed = ref_csum(NULL, 0, pseudo4(f + 14, 17, udplen));
    u[6] = (uint8_t)(seed >> 8);
    u[7] = (uint8_t)seed;
    uint32_t addr[1] = {TXBUF}, len[1] = {(uint32_t)(34 + udplen)};
    tx_put(r, addr, len, 1, offload(34, 2, 34 + 6));
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 1);
    const uint8_t *g = r->fb.f[0];
    ASSERT_EQ(ref_csum(g + 34, udplen, pseudo4(g + 14, 17, udplen)), 0xffff);
    ASSERT_MEM_EQ(g + 42, u + 8, udplen - 8);
    /* an offset beyond the packet: dropped, still completed */
    tx_put(r, addr, len, 1, offload(34, 2, 4000));
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(get32(r, TXCOMP + 16 + 12) >> 31, 1u);
    rig_free(r);
}

TEST(tx_tso_ipv4)
{
    struct rig *r = rig_active();
    uint8_t *f = r->ram + TXBUF;
    size_t payload = 3000, mss = 1000, hdr = 14 + 20 + 20;
    frame_to(f, mac);
    ipv4_header(f, 20 + 20 + payload, 6);
    uint8_t *t = f + 34;
    t[0] = 0x30, t[1] = 0x39, t[2] = 0x00, t[3] = 0x50;
    t[4] = 0x10, t[5] = 0x20, t[6] = 0x30, t[7] = 0x40; /* seq */
    t[12] = 5 << 4;
    t[13] = 0x18 | 0x01; /* PSH ACK FIN */
    for (size_t i = 0; i < payload; i++)
        f[hdr + i] = (uint8_t)(i * 13 + 1);
    uint32_t addr[2] = {TXBUF, TXBUF + 1000}, len[2] = {1000, (uint32_t)(hdr + payload - 1000)};
    tx_put(r, addr, len, 2, offload((unsigned)hdr, 3, (unsigned)mss));
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 3);
    for (int i = 0; i < 3; i++) {
        const uint8_t *g = r->fb.f[i];
        ASSERT_EQ(r->fb.len[i], hdr + mss);
        ASSERT_EQ((size_t)(g[16] << 8 | g[17]), 20 + 20 + mss);
        ASSERT_EQ(ref_csum(g + 14, 20, 0), 0xffff);
        ASSERT_EQ(g[18] << 8 | g[19], 0x1234 + i);
        uint32_t seq = (uint32_t)g[38] << 24 | (uint32_t)g[39] << 16 | (uint32_t)g[40] << 8 | g[41];
        ASSERT_EQ(seq, 0x10203040u + (uint32_t)(i * mss));
        ASSERT_EQ(g[47], i == 2 ? 0x19 : 0x10);
        ASSERT_EQ(ref_csum(g + 34, 20 + mss, pseudo4(g + 14, 6, 20 + mss)), 0xffff);
        ASSERT_MEM_EQ(g + hdr, f + hdr + i * mss, mss);
    }
    /* MSS 0: nothing goes out */
    tx_put(r, addr, len, 2, offload((unsigned)hdr, 3, 0));
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 3);
    rig_free(r);
}

TEST(tx_hostile_descriptors)
{
    struct rig *r = rig_active();
    /* buffer outside RAM: completed, not sent */
    uint32_t addr[5] = {0xf0000000u}, len[5] = {64};
    tx_put(r, addr, len, 1, 0);
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 0);
    ASSERT_EQ(get32(r, TXCOMP + 12) >> 31, 1u);
    /* five 16 KiB buffers (length 0 means 16384): more than a frame, dropped */
    for (int i = 0; i < 5; i++)
        addr[i] = TXBUF, len[i] = 0;
    tx_put(r, addr, len, 5, 0);
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 0);
    ASSERT_EQ(get32(r, TXCOMP + 16) & 0xfff, 5u);
    /* the whole ring owned by the device and no EOP: dropped, the loop ends */
    for (uint32_t i = 0; i < RING; i++) {
        put64(r, TXRING + i * 16, TXBUF);
        put32(r, TXRING + i * 16 + 8, 64 | (uint32_t)r->txgen << 14);
        put32(r, TXRING + i * 16 + 12, 0);
    }
    pt_wr(r, TXPROD, 0);
    ASSERT_EQ(r->fb.frames, 0);
    rig_free(r);
    /* ring outside RAM: nothing moves */
    r = rig_new();
    fill_shared(r, RING, 0, 0);
    put64(r, QDESC + 16, 0xf0000000u);
    ASSERT_EQ(activate(r), 0);
    pt_wr(r, TXPROD, 1);
    ASSERT_EQ(r->fb.frames, 0);
    rig_free(r);
}

TEST(activate_refuses_bad_rings_and_queue_counts)
{
    struct rig *r = rig_new();
    static const struct {
        uint32_t off, value;
    } bad[] = {
        {QDESC + 56, 0}, {QDESC + 56, 100000}, {QDESC + 64, 0}, {QDESC + 256 + 56, 0},
        {QDESC + 256 + 60, 0xffffffff}, {QDESC + 256 + 64, 1u << 20}, {SHARED + 52, 100},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fill_shared(r, RING, 0, 0);
        put32(r, bad[i].off, bad[i].value);
        ASSERT_NE(activate(r), 0);
    }
    fill_shared(r, RING, 0, 0);
    r->ram[SHARED + 62] = 0;
    ASSERT_NE(activate(r), 0);
    fill_shared(r, RING, 0, 0);
    r->ram[SHARED + 63] = 200;
    ASSERT_NE(activate(r), 0);
    vd_wr(r, DSAL, 0xf0000000u); /* DriverShared outside RAM */
    ASSERT_NE(cmd(r, ACTIVATE), 0);
    /* inactive: frames are not taken */
    ASSERT_EQ(r->fb.be.client.can_receive(r->fb.be.client.opaque), false);
    rig_free(r);
}

/* ---- receive ---- */

TEST(rx_frame_into_posted_buffer_with_completion)
{
    struct rig *r = rig_active();
    uint8_t f[200];
    for (size_t i = 0; i < sizeof f; i++)
        f[i] = (uint8_t)(i ^ 0x5a);
    frame_to(f, mac);
    f[12] = 0x08, f[13] = 0x00;
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_MEM_EQ(r->ram + RXBUF, f, sizeof f);
    uint32_t c0 = get32(r, RXCOMP), c2 = get32(r, RXCOMP + 8), c3 = get32(r, RXCOMP + 12);
    ASSERT_EQ(c0 & 0xfff, 0u);          /* rxdIdx */
    ASSERT_EQ(c0 >> 14 & 3, 3u);        /* EOP, SOP */
    ASSERT_EQ(c0 >> 16 & 0x3ff, 0u);    /* rqID: ring 1 of queue 0 */
    ASSERT_EQ(c2 & 0x3fff, 200u);       /* len */
    ASSERT_EQ(c2 >> 14 & 1, 0u);        /* no error */
    ASSERT_EQ(c3 >> 24 & 0x7f, 3u);     /* receive completion */
    ASSERT_EQ(c3 >> 31, 1u);            /* gen */
    ASSERT_EQ(r->level, 1);
    ASSERT_EQ(vd_rd(r, ICR), 1u);
    ASSERT_EQ(pt_rd(r, IMR(1)), 1u);
    /* another unicast to someone else: filtered; a broadcast: taken */
    uint8_t other[6] = {0x00, 0x0c, 0x29, 0x00, 0x00, 0x01};
    frame_to(f, other);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get32(r, RXCOMP + 16 + 12) >> 31, 0u);
    memset(f, 0xff, 6);
    net_deliver(&r->fb.be, f, 60);
    ASSERT_EQ(get32(r, RXCOMP + 16 + 12) >> 31, 1u);
    ASSERT_EQ(get32(r, RXCOMP + 16) & 0xfff, 1u);
    ASSERT_MEM_EQ(r->ram + RXBUF + 0x4000, f, 60);
    /* multicast only once the filter says so */
    f[0] = 0x01, f[1] = 0x00, f[2] = 0x5e, f[3] = 0x00, f[4] = 0x00, f[5] = 0xfb;
    net_deliver(&r->fb.be, f, 60);
    ASSERT_EQ(get32(r, RXCOMP + 32 + 12) >> 31, 0u);
    memcpy(r->ram + MFTAB, f, 6);
    put32(r, SHARED + 120, 0x01 | 0x02 | 0x04);
    put32(r, SHARED + 124, 6);
    put64(r, SHARED + 128, MFTAB);
    ASSERT_EQ(cmd(r, UPDATE_RX_MODE), 0u);
    net_deliver(&r->fb.be, f, 60);
    ASSERT_EQ(get32(r, RXCOMP + 32 + 12) >> 31, 1u);
    rig_free(r);
}

TEST(rx_msix_vector_automask_and_unmask)
{
    struct rig *r = rig_active();
    struct pci_device *d = vmxnet3_pci(r->nic);
    uint8_t cap = pci_find_capability(r->pb, DEVFN, PCI_CAP_ID_MSIX);
    for (int v = 0; v < 3; v++) {
        bus_write(r->bus, BAR2 + v * 16, 0xfee00000u, 4);
        bus_write(r->bus, BAR2 + v * 16 + 4, 0, 4);
        bus_write(r->bus, BAR2 + v * 16 + 8, 0x40u + (uint32_t)v, 4);
        bus_write(r->bus, BAR2 + v * 16 + 12, 0, 4);
    }
    pci_config_write(r->pb, DEVFN, cap + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    ASSERT(pci_msix_enabled(d));
    uint8_t f[64] = {0};
    memset(f, 0xff, 6);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(r->nmsgs, 1);
    ASSERT_EQ(r->msg_data[0], 0x41u); /* the receive queue's vector */
    ASSERT_EQ(r->level, 0);
    ASSERT_EQ(pt_rd(r, IMR(1)), 1u); /* auto-masked */
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(r->nmsgs, 1); /* pending while masked */
    pt_wr(r, IMR(1), 0);
    ASSERT_EQ(r->nmsgs, 2);
    ASSERT_EQ(r->msg_data[1], 0x41u);
    /* transmit completions on vector 0 */
    frame_to(r->ram + TXBUF, mac);
    uint32_t addr[1] = {TXBUF}, len[1] = {60};
    tx_put(r, addr, len, 1, 0);
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->nmsgs, 3);
    ASSERT_EQ(r->msg_data[2], 0x40u);
    rig_free(r);
}

TEST(rx_frame_over_head_and_body_buffers)
{
    struct rig *r = rig_new();
    fill_shared(r, RING, 0, 0);
    for (uint32_t i = 0; i < RING; i++) {
        post_rx(r, 0, i, 256, 0, true);
        post_rx(r, 1, i, 256, 1, true);
    }
    ASSERT_EQ(activate(r), 0);
    uint8_t f[600];
    for (size_t i = 0; i < sizeof f; i++)
        f[i] = (uint8_t)(i * 3);
    memset(f, 0xff, 6);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_MEM_EQ(r->ram + RXBUF, f, 256);
    ASSERT_MEM_EQ(r->ram + RXBUF + 0x80000, f + 256, 256);
    ASSERT_MEM_EQ(r->ram + RXBUF + 0x80000 + 0x4000, f + 512, 88);
    uint32_t want[3][3] = {{0, 1 << 15, 256}, {0, 0, 256}, {1, 1 << 14, 88}};
    for (int i = 0; i < 3; i++) {
        uint32_t c0 = get32(r, RXCOMP + i * 16);
        ASSERT_EQ(c0 & 0xfff, want[i][0]);
        ASSERT_EQ(c0 & 3u << 14, want[i][1]);
        ASSERT_EQ(c0 >> 16 & 0x3ff, i ? 1u : 0u); /* ring 2 is rqID numRxQueues */
        ASSERT_EQ(get32(r, RXCOMP + i * 16 + 8) & 0x3fff, want[i][2]);
        ASSERT_EQ(get32(r, RXCOMP + i * 16 + 12) >> 31, 1u);
    }
    /* a frame larger than every buffer posted: dropped, nothing consumed */
    static uint8_t big[20000];
    memset(big, 0xff, 6);
    net_deliver(&r->fb.be, big, sizeof big);
    ASSERT_EQ(get32(r, RXCOMP + 3 * 16 + 12) >> 31, 0u);
    net_deliver(&r->fb.be, f, 100);
    ASSERT_EQ(get32(r, RXCOMP + 3 * 16) & 0xfff, 1u);
    rig_free(r);
}

TEST(rx_waits_for_buffers_and_wraps)
{
    struct rig *r = rig_new();
    fill_shared(r, 0, 0, 0);
    ASSERT_EQ(activate(r), 0); /* nothing posted */
    uint8_t f[60] = {0};
    memset(f, 0xff, 6);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(net_queued(&r->fb.be), 1u);
    for (uint32_t i = 0; i < RING; i++)
        post_rx(r, 0, i, 1536, 0, true);
    /* no doorbell: the device looks again on its own */
    clock_warp(r->clock, clock_now_ns(r->clock) + 2000000);
    clock_run_timers(r->clock);
    ASSERT_EQ(net_queued(&r->fb.be), 0u);
    ASSERT_EQ(get32(r, RXCOMP + 12) >> 31, 1u);
    /* 31 more: ring 1 is used up (its gen is still 1 where the device now wants 0) */
    for (int i = 0; i < 31; i++)
        net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(net_queued(&r->fb.be), 0u);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(net_queued(&r->fb.be), 1u);
    /* the driver reposts descriptor 0 with gen 0 and rings RXPROD */
    post_rx(r, 0, 0, 1536, 0, false);
    pt_wr(r, 0x800, 1);
    ASSERT_EQ(net_queued(&r->fb.be), 0u);
    ASSERT_EQ(get32(r, RXCOMP + 32 * 16 + 12) >> 31, 1u);
    ASSERT_EQ(get32(r, RXCOMP + 32 * 16) & 0xfff, 0u);
    rig_free(r);
}

TEST(rx_ring_outside_ram_and_zero_length_buffers)
{
    struct rig *r = rig_new();
    fill_shared(r, RING, 0, 0);
    put64(r, QDESC + 256 + 16, 0xf0000000u);
    ASSERT_EQ(activate(r), 0);
    uint8_t f[60] = {0};
    memset(f, 0xff, 6);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(net_queued(&r->fb.be), 1u);
    fill_shared(r, RING, 0, 0);
    for (uint32_t i = 0; i < RING; i++)
        post_rx(r, 0, i, 0, 0, true);
    ASSERT_EQ(activate(r), 0);
    net_rx_ready(&r->fb.be);
    ASSERT_EQ(net_queued(&r->fb.be), 1u);
    ASSERT_EQ(get32(r, RXCOMP + 12), 0u);
    /* a buffer outside RAM: the write fails, the player does not */
    for (uint32_t i = 0; i < RING; i++) {
        post_rx(r, 0, i, 1536, 0, true);
        put64(r, RXRING0 + i * 16, 0xf0000000u);
    }
    net_rx_ready(&r->fb.be);
    ASSERT_EQ(net_queued(&r->fb.be), 0u);
    rig_free(r);
}

TEST(tx_tso_ipv6)
{
    struct rig *r = rig_active();
    uint8_t *f = r->ram + TXBUF;
    size_t payload = 2500, mss = 1200, hdr = 14 + 40 + 20;
    frame_to(f, mac);
    f[12] = 0x86, f[13] = 0xdd;
    uint8_t *ip = f + 14;
    ip[0] = 0x60;
    ip[4] = (uint8_t)((20 + payload) >> 8), ip[5] = (uint8_t)(20 + payload);
    ip[6] = 6, ip[7] = 64;
    for (int i = 0; i < 32; i++)
        ip[8 + i] = (uint8_t)(0xfe + i * 5);
    uint8_t *t = f + 54;
    t[3] = 80, t[7] = 1, t[12] = 5 << 4, t[13] = 0x10;
    for (size_t i = 0; i < payload; i++)
        f[hdr + i] = (uint8_t)(i * 11);
    uint32_t addr[1] = {TXBUF}, len[1] = {(uint32_t)(hdr + payload)};
    tx_put(r, addr, len, 1, offload((unsigned)hdr, 3, (unsigned)mss));
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 3);
    size_t sizes[3] = {1200, 1200, 100};
    for (int i = 0; i < 3; i++) {
        const uint8_t *g = r->fb.f[i];
        ASSERT_EQ(r->fb.len[i], hdr + sizes[i]);
        ASSERT_EQ((size_t)(g[18] << 8 | g[19]), 20 + sizes[i]);
        uint32_t sum = 6 + (uint32_t)(20 + sizes[i]);
        for (int k = 0; k < 32; k += 2)
            sum += (uint32_t)g[22 + k] << 8 | g[23 + k];
        ASSERT_EQ(ref_csum(g + 54, 20 + sizes[i], sum), 0xffff);
        ASSERT_EQ(g[61], 1 + i * 1200 % 256); /* low byte of the sequence number */
        ASSERT_MEM_EQ(g + hdr, f + hdr + i * mss, sizes[i]);
    }
    rig_free(r);
}

TEST(vlan_insertion_stripping_and_filter)
{
    struct rig *r = rig_active();
    uint8_t *f = r->ram + TXBUF;
    frame_to(f, mac);
    f[12] = 0x08, f[13] = 0x00;
    uint32_t addr[1] = {TXBUF}, len[1] = {100};
    tx_put(r, addr, len, 1, 0);
    put32(r, TXRING + 12, get32(r, TXRING + 12) | 1u << 15 | 0x2005u << 16); /* ti, tci */
    pt_wr(r, TXPROD, r->txnext);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.len[0], 104u);
    ASSERT_MEM_EQ(r->fb.f[0] + 12, "\x81\x00\x20\x05\x08\x00", 6);
    ASSERT_MEM_EQ(r->fb.f[0] + 16, f + 12, 88);
    /* receive a frame tagged VID 5: filtered until the table has it, then stripped */
    uint8_t g[104];
    memcpy(g, r->fb.f[0], sizeof g);
    memcpy(g, mac, 6);
    net_deliver(&r->fb.be, g, sizeof g);
    ASSERT_EQ(get32(r, RXCOMP + 12) >> 31, 0u);
    r->ram[SHARED + 136] |= 1 << 5;
    put64(r, SHARED + 24, 0x4); /* UPT1_F_RXVLAN */
    ASSERT_EQ(cmd(r, 0xcafe0005u), 0u);
    ASSERT_EQ(cmd(r, 0xcafe0009u), 0u);
    net_deliver(&r->fb.be, g, sizeof g);
    uint32_t c2 = get32(r, RXCOMP + 8);
    ASSERT_EQ(get32(r, RXCOMP + 12) >> 31, 1u);
    ASSERT_EQ(c2 & 0x3fff, 100u);
    ASSERT_EQ(c2 >> 15 & 1, 1u);        /* tag stripped */
    ASSERT_EQ(c2 >> 16, 0x2005u);       /* its TCI */
    ASSERT_MEM_EQ(r->ram + RXBUF + 12, "\x08\x00", 2);
    ASSERT_MEM_EQ(r->ram + RXBUF + 14, g + 18, 86);
    rig_free(r);
}
