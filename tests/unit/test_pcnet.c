/*
 * The Am79C970A model against AMD's data sheet and the sequence Linux's
 * pcnet32 driver uses: the probe (S_RESET by reading RESET, CSR0 = STOP,
 * RAP read back, chip ID 0x2621003 in CSR88/89, MAC in CSR12-14 and the
 * APROM), dword I/O mode, BCR20 software styles, the 32- and 16-bit
 * initialisation blocks, INIT/IDON/STRT with IENA and the CSR3 masks on INTx,
 * a transmit descriptor's frame reaching the back end byte-exact (chained
 * too) with OWN cleared and TINT, a received frame in the guest's buffer
 * with its FCS, MCNT, STP/ENP and RINT, OWN handoff and flow control through
 * the back end's queue, the receive filters, and hostile setups (blocks and
 * rings outside RAM, zero and huge BCNT, ring lengths 1 and 512, frames
 * that never end, a ring too small for a frame).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/net.h"
#include "devices/pci.h"
#include "devices/pcnet.h"
#include "test.h"
#include "netfake.h"

#define RAM_SIZE 0x400000
#define IO 0xc100u
#define DEVFN (3 << 3)
#define IB 0x1000u    /* init block */
#define RXR 0x2000u   /* rings */
#define TXR 0x4000u
#define RXBUF 0x10000u
#define TXBUF 0x80000u


struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct clock *clock;
    uint8_t *ram;
    struct fake_be fb;
    struct pcnet *nic;
    int level;
};

static const uint8_t mac[6] = {0x00, 0x0c, 0x29, 0x6f, 0x90, 0x12};

static void route(void *opaque, int devfn, int pin, int level)
{
    struct rig *r = opaque;
    r->level = level;
}

/* word I/O, as pcnet32_wio_* */
static void csr_w(struct rig *r, unsigned n, uint16_t v)
{
    bus_out(r->bus, IO + 0x12, n, 2);
    bus_out(r->bus, IO + 0x10, v, 2);
}

static uint16_t csr_r(struct rig *r, unsigned n)
{
    bus_out(r->bus, IO + 0x12, n, 2);
    return (uint16_t)bus_in(r->bus, IO + 0x10, 2);
}

static void bcr_w(struct rig *r, unsigned n, uint16_t v)
{
    bus_out(r->bus, IO + 0x12, n, 2);
    bus_out(r->bus, IO + 0x16, v, 2);
}

static uint16_t bcr_r(struct rig *r, unsigned n)
{
    bus_out(r->bus, IO + 0x12, n, 2);
    return (uint16_t)bus_in(r->bus, IO + 0x16, 2);
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
    net_backend_init(&r->fb.be, &fake_ops, r->clock);
    r->nic = pcnet_new(r->pb, DEVFN, r->clock, mac, &r->fb.be, true);
    ASSERT(r->nic != NULL);
    pci_config_write(r->pb, DEVFN, 0x10, IO | 1, 4);
    pci_config_write(r->pb, DEVFN, 0x04, 0x5, 4); /* I/O, bus master */
    return r;
}

static void rig_free(struct rig *r)
{
    pcnet_free(r->nic);
    net_backend_free(&r->fb.be);
    pci_bus_free(r->pb);
    clock_free(r->clock);
    bus_free(r->bus);
    free(r->ram);
    free(r);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* the 28-byte SSIZE32 init block, as pcnet32_init_block */
static void ib32(struct rig *r, uint16_t mode, unsigned rbits, unsigned tbits, uint32_t rdra, uint32_t tdra)
{
    uint8_t *b = r->ram + IB;
    memset(b, 0, 28);
    put16(b, mode);
    b[2] = (uint8_t)(rbits << 4);
    b[3] = (uint8_t)(tbits << 4);
    memcpy(b + 4, mac, 6);
    put32(b + 20, rdra);
    put32(b + 24, tdra);
}

/* 32-bit rx descriptor (style 2) owned by the chip */
static void rxd(struct rig *r, unsigned i, uint32_t buf, unsigned size)
{
    uint8_t *d = r->ram + RXR + 16 * i;
    memset(d, 0, 16);
    put32(d, buf);
    put16(d + 4, (uint16_t)(0xf000 | ((-size) & 0xfff)));
    put16(d + 6, 0x8000);
}

static void txd(struct rig *r, unsigned i, uint32_t buf, unsigned len, uint16_t status)
{
    uint8_t *d = r->ram + TXR + 16 * i;
    memset(d, 0, 16);
    put32(d, buf);
    put16(d + 4, (uint16_t)(0xf000 | ((-len) & 0xfff)));
    put16(d + 6, status);
}

/* pcnet32_probe1 + pcnet32_open: reset, 32-bit style, init block, INIT, wait IDON, STRT|IENA */
static void bring_up(struct rig *r, unsigned rbits, unsigned tbits)
{
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    ib32(r, 0, rbits, tbits, RXR, TXR);
    for (unsigned i = 0; i < (1u << (rbits > 9 ? 9 : rbits)); i++)
        rxd(r, i, RXBUF + 2048 * i, 1544);
    csr_w(r, 1, IB & 0xffff);
    csr_w(r, 2, IB >> 16);
    csr_w(r, 4, 0x0915);
    csr_w(r, 0, 0x0001);
    ASSERT(csr_r(r, 0) & 0x0100);
    csr_w(r, 0, 0x0042);
}

TEST(probe_as_pcnet32)
{
    struct rig *r = rig_new();
    struct pci_device *d = pcnet_pci(r->nic);
    ASSERT_EQ(get16(d->config), 0x1022);
    ASSERT_EQ(get16(d->config + 2), 0x2000);
    ASSERT_EQ(d->config[8], 0x10);
    ASSERT_EQ(d->config[0x3d], 1);
    bus_in(r->bus, IO + 0x14, 2); /* pcnet32_wio_reset */
    ASSERT_EQ(csr_r(r, 0), 0x0004);
    bus_out(r->bus, IO + 0x12, 88, 2); /* pcnet32_wio_check */
    ASSERT_EQ(bus_in(r->bus, IO + 0x12, 2), 88);
    uint32_t id = csr_r(r, 88) | (uint32_t)csr_r(r, 89) << 16;
    ASSERT_EQ(id & 0xfff, 0x003);
    ASSERT_EQ(id >> 12 & 0xffff, 0x2621); /* PCnet/PCI II 79C970A */
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(csr_r(r, 12 + i), mac[2 * i] | mac[2 * i + 1] << 8);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(bus_in(r->bus, IO + i, 1), mac[i]);
    ASSERT_EQ(bus_in(r->bus, IO + 14, 2), 0x5757); /* "WW" */
    ASSERT_EQ(bcr_r(r, 20), 0x0200);                     /* style 0, CSRPCNET */
    ASSERT(bcr_r(r, 4) & 0x8000);                        /* link LED: pcnet32_check_media sees != 0xc0 */
    rig_free(r);
}

TEST(dword_io_mode)
{
    struct rig *r = rig_new();
    bus_out(r->bus, IO + 0x10, 0, 4); /* a dword write to RDP selects DWIO */
    bus_out(r->bus, IO + 0x14, 88, 4);
    ASSERT_EQ(bus_in(r->bus, IO + 0x14, 4), 88);
    ASSERT_EQ(bus_in(r->bus, IO + 0x10, 4) & 0xffff, 0x1003);
    bus_out(r->bus, IO + 0x14, 18, 4);
    ASSERT(bus_in(r->bus, IO + 0x1c, 4) & 0x80);
    ASSERT_EQ(bus_in(r->bus, IO + 0x12, 2), 0xffff); /* word access ignored now */
    bus_in(r->bus, IO + 0x18, 4);                     /* S_RESET keeps DWIO */
    bus_out(r->bus, IO + 0x14, 0, 4);
    ASSERT_EQ(bus_in(r->bus, IO + 0x10, 4) & 0xffff, 0x0004);
    pcnet_reset(r->nic); /* H_RESET clears it */
    pci_config_write(r->pb, DEVFN, 0x10, IO | 1, 4);
    pci_config_write(r->pb, DEVFN, 0x04, 0x5, 4);
    ASSERT_EQ(csr_r(r, 0), 0x0004);
    rig_free(r);
}

TEST(init_block_32_and_interrupts)
{
    struct rig *r = rig_new();
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    ASSERT_EQ(bcr_r(r, 20), 0x0302);
    ASSERT_EQ(csr_r(r, 58), 0x0302);
    ib32(r, 0x8000, 4, 3, RXR, TXR);
    uint8_t *b = r->ram + IB;
    put16(b + 12, 0x1234);
    put16(b + 18, 0xabcd);
    csr_w(r, 1, IB & 0xffff);
    csr_w(r, 2, IB >> 16);
    csr_w(r, 0, 0x0001);
    uint16_t c0 = csr_r(r, 0);
    ASSERT_EQ(c0 & 0x0105, 0x0101); /* IDON, INIT, not STOP */
    ASSERT(c0 & 0x0080);            /* INTR */
    ASSERT_EQ(r->level, 0);         /* IENA off */
    ASSERT_EQ(csr_r(r, 15), 0x8000);
    ASSERT_EQ(csr_r(r, 8), 0x1234);
    ASSERT_EQ(csr_r(r, 11), 0xabcd);
    ASSERT_EQ(csr_r(r, 14), mac[4] | mac[5] << 8);
    ASSERT_EQ(csr_r(r, 76), (uint16_t)-16);
    ASSERT_EQ(csr_r(r, 78), (uint16_t)-8);
    ASSERT_EQ(csr_r(r, 24) | csr_r(r, 25) << 16, RXR);
    csr_w(r, 0, 0x0042); /* STRT | IENA */
    c0 = csr_r(r, 0);
    ASSERT_EQ(c0 & 0x0036, 0x0032); /* STRT, RXON, TXON */
    ASSERT_EQ(r->level, 1);         /* IDON pending */
    csr_w(r, 3, 0x0100);            /* IDONM */
    ASSERT_EQ(r->level, 0);
    csr_w(r, 3, 0);
    ASSERT_EQ(r->level, 1);
    csr_w(r, 0, c0 & ~0x004f); /* the driver's acknowledge: causes cleared, IENA off */
    ASSERT_EQ(r->level, 0);
    ASSERT_EQ(csr_r(r, 0) & 0x0100, 0);
    csr_w(r, 4, 0x0915 | 0x0080); /* UINTCMD */
    ASSERT(csr_r(r, 4) & 0x0040);
    csr_w(r, 0, 0x0040);
    ASSERT_EQ(r->level, 1);
    csr_w(r, 4, 0x0915 | 0x0040); /* UINT is write-one-to-clear */
    ASSERT_EQ(r->level, 0);
    csr_w(r, 5, 1); /* SPND, as pcnet32_suspend polls it */
    ASSERT_EQ(csr_r(r, 5) & 1, 1);
    csr_w(r, 0, 0x0004); /* STOP */
    ASSERT_EQ(csr_r(r, 0), 0x0004);
    rig_free(r);
}

TEST(transmit_one_and_chained)
{
    struct rig *r = rig_new();
    bring_up(r, 4, 3);
    csr_w(r, 0, csr_r(r, 0) & ~0x004f); /* ack IDON */
    csr_w(r, 0, 0x0040);
    uint8_t *f = r->ram + TXBUF;
    for (int i = 0; i < 200; i++)
        f[i] = (uint8_t)(i * 7 + 1);
    txd(r, 0, TXBUF, 200, 0x8300); /* OWN STP ENP, as pcnet32_start_xmit */
    csr_w(r, 0, 0x0048);           /* IENA | TDMD */
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.last_len, 200);
    ASSERT_MEM_EQ(r->fb.last, f, 200);
    ASSERT_EQ(get16(r->ram + TXR + 6) & 0x8000, 0); /* OWN handed back */
    ASSERT_EQ(get16(r->ram + TXR + 6) & 0x4000, 0);
    ASSERT(csr_r(r, 0) & 0x0200); /* TINT */
    ASSERT_EQ(r->level, 1);
    /* chained: 100 bytes STP, 30 bytes ENP -> one 130-byte frame */
    txd(r, 1, TXBUF + 1000, 100, 0x8200);
    txd(r, 2, TXBUF + 2000, 30, 0x8100);
    memset(r->ram + TXBUF + 1000, 0xaa, 100);
    memset(r->ram + TXBUF + 2000, 0x55, 30);
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.frames, 2);
    ASSERT_EQ(r->fb.last_len, 130);
    ASSERT_EQ(r->fb.last[99], 0xaa);
    ASSERT_EQ(r->fb.last[100], 0x55);
    ASSERT_EQ(get16(r->ram + TXR + 16 + 6) & 0x8000, 0);
    ASSERT_EQ(get16(r->ram + TXR + 32 + 6) & 0x8000, 0);
    /* a short frame goes out padded to 60 */
    txd(r, 3, TXBUF, 20, 0x8300);
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.last_len, 60);
    rig_free(r);
}

static void frame_for(uint8_t *f, size_t len, const uint8_t *da)
{
    memcpy(f, da, 6);
    memcpy(f + 6, "\x52\x54\x00\x12\x34\x56", 6);
    f[12] = 0x08;
    f[13] = 0x00;
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)(i ^ 0x5a);
}

TEST(receive_into_ring)
{
    struct rig *r = rig_new();
    bring_up(r, 2, 2); /* 4 rx descriptors */
    csr_w(r, 0, csr_r(r, 0) & ~0x004f);
    csr_w(r, 0, 0x0040);
    uint8_t f[300];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f);
    uint8_t *d = r->ram + RXR;
    ASSERT_EQ(get16(d + 6) & 0x8000, 0);           /* OWN cleared */
    ASSERT_EQ(get16(d + 6) >> 8, 0x03);            /* STP | ENP, no error: what pcnet32_rx_entry wants */
    ASSERT(get16(d + 6) & 0x0040);                 /* PAM */
    ASSERT_EQ(get32(d + 8) & 0xfff, sizeof f + 4); /* MCNT counts the FCS */
    ASSERT_MEM_EQ(r->ram + RXBUF, f, sizeof f);
    ASSERT_EQ(get32(r->ram + RXBUF + sizeof f), (uint32_t)crc32(0L, f, sizeof f));
    ASSERT(csr_r(r, 0) & 0x0400); /* RINT */
    ASSERT_EQ(r->level, 1);
    /* the next frame lands in the next descriptor */
    net_deliver(&r->fb.be, f, 100);
    ASSERT_EQ(get16(r->ram + RXR + 16 + 6) >> 8, 0x03);
    ASSERT_EQ(get32(r->ram + RXR + 16 + 8) & 0xfff, 104);
    /* two more fill the ring; the fifth waits in the back end's queue */
    net_deliver(&r->fb.be, f, 100);
    net_deliver(&r->fb.be, f, 100);
    net_deliver(&r->fb.be, f, 120);
    ASSERT_EQ(net_queued(&r->fb.be), 1);
    rxd(r, 0, RXBUF, 1544); /* handed back in memory, then a CSR write (NAPI's CSR3/CSR0) */
    csr_w(r, 3, 0);
    ASSERT_EQ(net_queued(&r->fb.be), 0);
    ASSERT_EQ(get32(r->ram + RXR + 8) & 0xfff, 124);
    /* handed back with no register write at all: the chip looks again by itself */
    for (int i = 0; i < 3; i++)
        net_deliver(&r->fb.be, f, 130);
    ASSERT_EQ(net_queued(&r->fb.be), 3);
    rxd(r, 1, RXBUF + 2048, 1544);
    clock_warp(r->clock, clock_now_ns(r->clock) + 5000000);
    clock_run_timers(r->clock);
    ASSERT_EQ(net_queued(&r->fb.be), 2);
    ASSERT_EQ(get32(r->ram + RXR + 16 + 8) & 0xfff, 134);
    rig_free(r);
}

TEST(receive_chained_small_buffers)
{
    struct rig *r = rig_new();
    bring_up(r, 3, 2);
    for (int i = 0; i < 8; i++)
        rxd(r, (unsigned)i, RXBUF + 256 * (unsigned)i, 128);
    uint8_t f[300];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f); /* 304 bytes: 128 + 128 + 48 */
    ASSERT_EQ(get16(r->ram + RXR + 6) >> 8, 0x02);      /* STP */
    ASSERT_EQ(get16(r->ram + RXR + 16 + 6) >> 8, 0x00); /* middle */
    ASSERT_EQ(get16(r->ram + RXR + 32 + 6) >> 8, 0x01); /* ENP */
    ASSERT_EQ(get32(r->ram + RXR + 32 + 8) & 0xfff, 304);
    ASSERT_MEM_EQ(r->ram + RXBUF, f, 128);
    ASSERT_MEM_EQ(r->ram + RXBUF + 256, f + 128, 128);
    ASSERT_MEM_EQ(r->ram + RXBUF + 512, f + 256, 44);
    ASSERT(get16(r->ram + RXR + 48 + 6) & 0x8000); /* untouched */
    rig_free(r);
}

TEST(receive_filters)
{
    struct rig *r = rig_new();
    bring_up(r, 3, 2);
    uint8_t f[64];
    static const uint8_t other[6] = {0x00, 0x0c, 0x29, 0x00, 0x00, 0x01};
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
    frame_for(f, sizeof f, other);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT(get16(r->ram + RXR + 6) & 0x8000); /* not for us */
    frame_for(f, sizeof f, bcast);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get16(r->ram + RXR + 6) & 0x80f0, 0x0010); /* BAM */
    frame_for(f, sizeof f, mcast);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT(get16(r->ram + RXR + 16 + 6) & 0x8000); /* hash bit not set */
    /* pcnet32_load_multicast: ether_crc_le >> 26, 16 bits per CSR8..11 */
    unsigned h = (~(uint32_t)crc32(0L, mcast, 6)) >> 26;
    csr_w(r, 8 + (h >> 4), (uint16_t)(1u << (h & 15)));
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get16(r->ram + RXR + 16 + 6) & 0x80f0, 0x0020); /* LAFM */
    csr_w(r, 15, 0x4000);                                     /* DRCVBC */
    frame_for(f, sizeof f, bcast);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT(get16(r->ram + RXR + 32 + 6) & 0x8000);
    csr_w(r, 15, 0x8000); /* PROM */
    frame_for(f, sizeof f, other);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get16(r->ram + RXR + 32 + 6) >> 8, 0x03);
    rig_free(r);
}

TEST(style0_16bit_structures)
{
    struct rig *r = rig_new();
    bus_in(r->bus, IO + 0x14, 2);
    ASSERT_EQ(bcr_r(r, 20) & 0xff, 0);
    uint8_t *b = r->ram + IB;
    memset(b, 0, 24);
    memcpy(b + 2, mac, 6);
    put16(b + 16, RXR & 0xffff);
    b[18] = (uint8_t)(RXR >> 16);
    b[19] = 2 << 5; /* 4 entries */
    put16(b + 20, TXR & 0xffff);
    b[22] = (uint8_t)(TXR >> 16);
    b[23] = 1 << 5;
    csr_w(r, 1, IB);
    csr_w(r, 2, 0);
    /* rx descriptor: 8 bytes, address 24 bits, status in word 1's high byte */
    uint8_t *d = r->ram + RXR;
    put16(d, RXBUF & 0xffff);
    d[2] = (uint8_t)(RXBUF >> 16);
    d[3] = 0x80;
    put16(d + 4, (uint16_t)-1544);
    uint8_t *t = r->ram + TXR;
    put16(t, TXBUF & 0xffff);
    t[2] = (uint8_t)(TXBUF >> 16);
    t[3] = 0x83;
    put16(t + 4, (uint16_t)-64);
    memset(r->ram + TXBUF, 0x77, 64);
    csr_w(r, 0, 0x0001);
    ASSERT(csr_r(r, 0) & 0x0100);
    csr_w(r, 0, 0x004a); /* STRT | IENA | TDMD */
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.last_len, 64);
    ASSERT_EQ(t[3], 0x03);
    uint8_t f[80];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(d[3], 0x03);
    ASSERT_EQ(get16(d + 6), 84);
    ASSERT_MEM_EQ(r->ram + RXBUF, f, sizeof f);
    rig_free(r);
}

TEST(style3_permuted_descriptors)
{
    struct rig *r = rig_new();
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 3);
    ASSERT_EQ(bcr_r(r, 20), 0x0303);
    ib32(r, 0, 0, 0, RXR, TXR); /* one descriptor each */
    csr_w(r, 1, IB);
    csr_w(r, 2, 0);
    uint8_t *t = r->ram + TXR;
    memset(t, 0, 16);
    put16(t + 4, (uint16_t)-70);
    put16(t + 6, 0x8300);
    put32(t + 8, TXBUF); /* TBADR in dword 2 */
    memset(r->ram + TXBUF, 0x42, 70);
    csr_w(r, 0, 0x0001);
    csr_w(r, 0, 0x004a);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.last_len, 70);
    ASSERT_EQ(r->fb.last[69], 0x42);
    uint8_t *d = r->ram + RXR;
    memset(d, 0, 16);
    put16(d + 4, (uint16_t)-1544);
    put16(d + 6, 0x8000);
    put32(d + 8, RXBUF);
    uint8_t f[90];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get32(d) & 0xfff, 94); /* MCNT in dword 0 */
    ASSERT_MEM_EQ(r->ram + RXBUF, f, sizeof f);
    rig_free(r);
}

/* ---- hostile ---- */

TEST(init_block_outside_ram)
{
    struct rig *r = rig_new();
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    csr_w(r, 1, 0xfff0);
    csr_w(r, 2, 0xfebf);
    csr_w(r, 0, 0x0041);
    uint16_t c0 = csr_r(r, 0);
    ASSERT_EQ(c0 & 0x0100, 0);      /* no IDON */
    ASSERT_EQ(c0 & 0x8800, 0x8800); /* MERR, ERR */
    ASSERT_EQ(r->level, 1);
    csr_w(r, 0, 0x004a); /* started anyway: nothing to move */
    ASSERT_EQ(r->fb.frames, 0);
    rig_free(r);
}

TEST(rings_outside_ram)
{
    struct rig *r = rig_new();
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    ib32(r, 0, 9, 9, 0xfe000000u, 0xfe000000u);
    csr_w(r, 1, IB);
    csr_w(r, 2, 0);
    csr_w(r, 0, 0x0001);
    csr_w(r, 0, 0x004a);
    ASSERT(csr_r(r, 0) & 0x0800); /* MERR */
    uint8_t f[64];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(net_queued(&r->fb.be), 1); /* held, bounded by the seam */
    ASSERT_EQ(r->fb.frames, 0);
    /* a ring that starts in RAM and runs off its end */
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    ib32(r, 0, 9, 9, RAM_SIZE - 32, RAM_SIZE - 32);
    for (int i = 0; i < 2; i++) {
        uint8_t *t = r->ram + RAM_SIZE - 32 + 16 * i;
        put32(t, TXBUF);
        put16(t + 4, (uint16_t)-60);
        put16(t + 6, 0x8300);
    }
    csr_w(r, 0, 0x0001);
    csr_w(r, 0, 0x004a);
    ASSERT_EQ(r->fb.frames, 2);
    ASSERT(csr_r(r, 0) & 0x0800);
    rig_free(r);
}

TEST(bcnt_zero_and_buffers_outside_ram)
{
    struct rig *r = rig_new();
    bring_up(r, 3, 3);
    /* BCNT 0 is a 4096-byte buffer */
    txd(r, 0, TXBUF, 0, 0x8300);
    put16(r->ram + TXR + 4, 0xf000);
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.last_len, 4096);
    /* a buffer that runs off RAM: the frame is dropped, the descriptor says so */
    txd(r, 1, RAM_SIZE - 100, 1000, 0x8300);
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.frames, 1);
    uint16_t st = get16(r->ram + TXR + 16 + 6);
    ASSERT_EQ(st & 0xc000, 0x4000); /* handed back, ERR */
    ASSERT(get32(r->ram + TXR + 16 + 8) & 0x80000000u);
    /* an rx buffer outside RAM: ERR|BUFF, the chip goes on */
    rxd(r, 0, 0xfe000000u, 1544);
    uint8_t f[64];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get16(r->ram + RXR + 6) & 0xc400, 0x4400);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(get16(r->ram + RXR + 16 + 6) >> 8, 0x03);
    rig_free(r);
}

TEST(frames_that_never_end)
{
    struct rig *r = rig_new();
    bring_up(r, 9, 15); /* 512 descriptors each: RLEN/TLEN above 9 mean 512 */
    ASSERT_EQ(csr_r(r, 78), (uint16_t)-512);
    for (unsigned i = 0; i < 512; i++)
        txd(r, i, TXBUF, 0, (uint16_t)(i == 0 ? 0x8200 : 0x8000)); /* 4096 bytes each, no ENP */
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.frames, 0);
    /* the kick is bounded; set OWN again and again: still bounded, nothing sent */
    for (int round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 512; i++)
            put16(r->ram + TXR + 16 * i + 6, 0x8000);
        csr_w(r, 0, 0x0048);
    }
    txd(r, 0, TXBUF, 60, 0x8100); /* the end of the runaway frame: dropped with ERR */
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.frames, 0);
    ASSERT_EQ(get16(r->ram + TXR + 6) & 0xc000, 0x4000);
    ASSERT(csr_r(r, 0) & 0x4000); /* BABL */
    txd(r, 1, TXBUF, 60, 0x8300);
    csr_w(r, 0, 0x0048);
    ASSERT_EQ(r->fb.frames, 1);
    /* a one-entry ring with a descriptor the guest keeps owned */
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    ib32(r, 0, 0, 0, RXR, TXR);
    txd(r, 0, TXBUF, 60, 0x8200);
    csr_w(r, 0, 0x0001);
    csr_w(r, 0, 0x004a);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(get16(r->ram + TXR + 6) & 0x8000, 0);
    rig_free(r);
}

TEST(ring_too_small_for_frame)
{
    struct rig *r = rig_new();
    bring_up(r, 1, 1); /* 2 rx descriptors */
    rxd(r, 0, RXBUF, 16);
    rxd(r, 1, RXBUF + 64, 16);
    uint8_t f[200];
    frame_for(f, sizeof f, mac);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT(csr_r(r, 0) & 0x1000); /* MISS */
    ASSERT_EQ(csr_r(r, 112), 1);
    ASSERT(get16(r->ram + RXR + 6) & 0x8000); /* nothing touched */
    ASSERT(get16(r->ram + RXR + 16 + 6) & 0x8000);
    /* oversized frames from the network are refused */
    static uint8_t big[9000];
    frame_for(big, sizeof big, mac);
    net_deliver(&r->fb.be, big, sizeof big);
    ASSERT(get16(r->ram + RXR + 6) & 0x8000);
    rig_free(r);
}

TEST(no_bus_master_no_dma)
{
    struct rig *r = rig_new();
    pci_config_write(r->pb, DEVFN, 0x04, 0x1, 4); /* I/O only */
    bus_in(r->bus, IO + 0x14, 2);
    bcr_w(r, 20, 2);
    ib32(r, 0, 2, 2, RXR, TXR);
    csr_w(r, 1, IB);
    csr_w(r, 2, 0);
    csr_w(r, 0, 0x0001);
    ASSERT_EQ(csr_r(r, 0) & 0x0900, 0x0800); /* MERR, no IDON */
    rig_free(r);
}
