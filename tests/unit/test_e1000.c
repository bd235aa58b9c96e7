/*
 * The 82545EM model against the programming interface Intel's 8254x manual
 * gives and Linux's e1000 driver uses: the Microwire EEPROM bit-banged
 * through EECD (checksum 0xBABA, MAC words), EERD, the reset through the I/O
 * BAR, PHY access through MDIC, link and interrupt causes, a transmit
 * descriptor's frame reaching the back end byte-exact, checksum offload and
 * TCP segmentation, a received frame in the guest's buffer with its
 * descriptor status and ICR.RXT0, filtering, flow control through the back
 * end's queue, and hostile rings (outside RAM, zero and huge lengths, tails
 * beyond the ring, a flooded ring).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/e1000.h"
#include "devices/net.h"
#include "devices/pci.h"
#include "test.h"
#include "netfake.h"

#define RAM_SIZE 0x400000
#define BAR0 0xfebc0000u
#define BAR1 0xc000u
#define DEVFN (3 << 3)


struct rig {
    struct bus *bus;
    struct pci_bus *pb;
    struct clock *clock;
    uint8_t *ram;
    struct fake_be fb;
    struct e1000 *nic;
    int level;
};

static const uint8_t mac[6] = {0x00, 0x0c, 0x29, 0x6f, 0x90, 0x12};

static void route(void *opaque, int devfn, int pin, int level)
{
    struct rig *r = opaque;
    r->level = level;
}

static void cfg_w(struct rig *r, unsigned off, uint32_t v)
{
    pci_config_write(r->pb, DEVFN, off, v, 4);
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
    r->bus = bus_new();
    r->pb = pci_bus_new(r->bus);
    r->clock = clock_new(CLOCK_DETERMINISTIC, 4);
    r->ram = calloc(1, RAM_SIZE);
    ASSERT_EQ(bus_map_ram(r->bus, 0, RAM_SIZE, r->ram, false, "ram"), 0);
    pci_bus_set_intx_router(r->pb, route, r);
    net_backend_init(&r->fb.be, &fake_ops, r->clock);
    r->nic = e1000_new(r->pb, DEVFN, r->clock, mac, &r->fb.be, true);
    ASSERT(r->nic != NULL);
    cfg_w(r, 0x10, BAR0);
    cfg_w(r, 0x14, BAR1);
    cfg_w(r, 0x04, 0x7); /* I/O, memory, bus master */
    return r;
}

static void rig_free(struct rig *r)
{
    e1000_free(r->nic);
    net_backend_free(&r->fb.be);
    pci_bus_free(r->pb);
    clock_free(r->clock);
    bus_free(r->bus);
    free(r->ram);
    free(r);
}

/* ---- the EEPROM, as Linux's e1000 reads it ---- */

#define EECD 0x10
static void ee_out(struct rig *r, uint32_t *eecd, unsigned data, int count)
{
    for (int i = count - 1; i >= 0; i--) {
        *eecd = (*eecd & ~4u) | ((data >> i & 1) ? 4u : 0);
        wr(r, EECD, *eecd);
        wr(r, EECD, *eecd | 1);
        wr(r, EECD, *eecd);
    }
}

static uint16_t ee_read_word(struct rig *r, unsigned addr)
{
    wr(r, EECD, 0x40); /* request */
    ASSERT(rd(r, EECD) & 0x80);
    uint32_t eecd = 0x40 | 0x2; /* CS */
    wr(r, EECD, eecd);
    ee_out(r, &eecd, 6, 3);
    ee_out(r, &eecd, addr, 6);
    uint16_t v = 0;
    for (int i = 0; i < 16; i++) {
        wr(r, EECD, eecd | 1);
        v = (uint16_t)(v << 1 | ((rd(r, EECD) & 8) ? 1 : 0));
        wr(r, EECD, eecd);
    }
    wr(r, EECD, 0); /* CS low, release */
    return v;
}

TEST(eeprom_checksum_and_mac)
{
    struct rig *r = rig_new();
    uint16_t sum = 0, w[64];
    for (unsigned i = 0; i < 64; i++) {
        w[i] = ee_read_word(r, i);
        sum = (uint16_t)(sum + w[i]);
    }
    ASSERT_EQ(sum, 0xbaba);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(w[i] & 0xff, mac[2 * i]);
        ASSERT_EQ(w[i] >> 8, mac[2 * i + 1]);
    }
    ASSERT_EQ(w[0x0d], 0x100f);
    wr(r, 0x14, 0x0d << 8 | 1); /* EERD */
    uint32_t v = rd(r, 0x14);
    ASSERT(v & 0x10);
    ASSERT_EQ(v >> 16, 0x100f);
    rig_free(r);
}

TEST(pci_identity)
{
    struct rig *r = rig_new();
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0, 4), 0x100f8086);
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0x2c, 4), 0x075015ad);
    ASSERT_EQ(pci_config_read(r->pb, DEVFN, 0x08, 4) >> 8, 0x020000);
    rig_free(r);
}

/* ---- bring-up: reset through the I/O BAR, PHY, link, interrupts ---- */

static uint16_t mdic_read(struct rig *r, unsigned reg)
{
    wr(r, 0x20, 2u << 26 | 1u << 21 | reg << 16);
    uint32_t v = rd(r, 0x20);
    ASSERT(v & (1u << 28));
    ASSERT(!(v & (1u << 30)));
    return (uint16_t)v;
}

TEST(reset_phy_link_and_interrupts)
{
    struct rig *r = rig_new();
    wr(r, 0xd0, 0x9d);           /* IMS */
    wr(r, 0x100, 0x2);           /* RCTL.EN */
    bus_out(r->bus, BAR1, 0, 4); /* IOADDR = CTRL */
    bus_out(r->bus, BAR1 + 4, 1u << 26, 4);
    ASSERT_EQ(rd(r, 0xd0), 0);   /* reset cleared IMS and RCTL */
    ASSERT_EQ(rd(r, 0x100), 0);
    ASSERT_EQ(rd(r, 0x5400), 0x6f290c00u); /* RAL/RAH from the EEPROM, AV */
    ASSERT_EQ(rd(r, 0x5404), 0x80001290u);
    ASSERT_EQ(mdic_read(r, 2), 0x0141);
    ASSERT_EQ(mdic_read(r, 3) & 0xfff0, 0x0c20);
    wr(r, 0x20, 1u << 26 | 1u << 21 | 0u << 16 | 0x1340); /* autoneg restart */
    ASSERT_EQ(mdic_read(r, 0) & 0x0200, 0);
    ASSERT_EQ(mdic_read(r, 1) & 0x24, 0x24); /* link, autonegotiation complete */
    wr(r, 0x20, 2u << 26 | 2u << 21); /* another PHY address */
    ASSERT(rd(r, 0x20) & (1u << 30));
    wr(r, 0, 0x40); /* SLU */
    ASSERT_EQ(rd(r, 8) & 0x83, 0x83); /* FD, LU, 1000 */
    wr(r, 0xd0, 0x4);  /* IMS = LSC */
    ASSERT_EQ(r->level, 0);
    wr(r, 0xc8, 0x4);  /* ICS = LSC: the driver's first watchdog kick */
    ASSERT_EQ(r->level, 1);
    ASSERT_EQ(rd(r, 0xc0), 0x4); /* read-to-clear */
    ASSERT_EQ(r->level, 0);
    ASSERT_EQ(rd(r, 0xc0), 0);
    wr(r, 0xc8, 0x80);
    ASSERT_EQ(r->level, 0); /* masked */
    wr(r, 0xd8, 0x4);
    wr(r, 0xd0, 0x80);
    ASSERT_EQ(r->level, 1);
    rig_free(r);
}

/* ---- transmit ---- */

#define TXRING 0x10000
#define TXBUF 0x20000
static void put_txd(struct rig *r, unsigned i, uint64_t addr, uint32_t cmd_len, uint8_t popts)
{
    uint8_t *d = r->ram + TXRING + i * 16;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &cmd_len, 4);
    d[12] = 0;
    d[13] = popts;
    d[14] = d[15] = 0;
}

static void tx_setup(struct rig *r, unsigned ndesc)
{
    wr(r, 0x3800, TXRING);
    wr(r, 0x3804, 0);
    wr(r, 0x3808, ndesc * 16);
    wr(r, 0x3810, 0);
    wr(r, 0x3818, 0);
    wr(r, 0x400, 0x2 | 0x8); /* EN, PSP */
    wr(r, 0xd0, 0x3);
}

TEST(tx_legacy_frame_byte_exact)
{
    struct rig *r = rig_new();
    tx_setup(r, 8);
    uint8_t *f = r->ram + TXBUF;
    for (int i = 0; i < 200; i++)
        f[i] = (uint8_t)(i * 7 + 1);
    put_txd(r, 0, TXBUF, 120u | 1u << 27, 0);                /* RS, no EOP */
    put_txd(r, 1, TXBUF + 120, 80u | 1u << 24 | 1u << 27, 0); /* EOP, RS */
    wr(r, 0x3818, 2);
    ASSERT_EQ(r->fb.frames, 1);
    ASSERT_EQ(r->fb.last_len, 200);
    ASSERT_MEM_EQ(r->fb.last, f, 200);
    ASSERT_EQ(rd(r, 0x3810), 2);
    ASSERT_EQ(r->ram[TXRING + 12] & 1, 1);
    ASSERT_EQ(r->ram[TXRING + 16 + 12] & 1, 1);
    ASSERT_EQ(r->level, 1);
    ASSERT_EQ(rd(r, 0xc0) & 3, 3); /* TXDW, TXQE */
    ASSERT_EQ(rd(r, 0x4080), 1);    /* GPTC, then cleared by the read */
    ASSERT_EQ(rd(r, 0x4080), 0);
    rig_free(r);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += be16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* An Ethernet + IPv4 + TCP packet at p with payload bytes; tcp check holds the pseudo sum
 * without the length (what Linux writes for TSO). */
static size_t build_tcp(uint8_t *p, size_t payload)
{
    memset(p, 0, 54);
    memcpy(p, mac, 6);
    p[12] = 0x08;
    uint8_t *ip = p + 14, *tcp = p + 34;
    ip[0] = 0x45;
    ip[8] = 64;
    ip[9] = 6;
    ip[4] = 0x12, ip[5] = 0x34;
    ip[12] = 10, ip[13] = 0, ip[14] = 2, ip[15] = 15;
    ip[16] = 10, ip[17] = 0, ip[18] = 2, ip[19] = 2;
    tcp[1] = 80;
    tcp[3] = 99;
    tcp[4] = 0, tcp[5] = 0, tcp[6] = 0x10, tcp[7] = 0;
    tcp[12] = 0x50;
    tcp[13] = 0x18; /* ACK PSH */
    uint16_t ph = sum16(ip + 12, 8, 6);
    tcp[16] = (uint8_t)(ph >> 8);
    tcp[17] = (uint8_t)ph;
    for (size_t i = 0; i < payload; i++)
        p[54 + i] = (uint8_t)(i * 13);
    return 54 + payload;
}

TEST(tx_tso_segments_with_valid_checksums)
{
    struct rig *r = rig_new();
    tx_setup(r, 8);
    size_t len = build_tcp(r->ram + TXBUF, 3000);
    /* context: IPCSS 14, IPCSO 24, IPCSE 33, TUCSS 34, TUCSO 50, TUCMD TCP|IP|TSE|DEXT, HDRLEN 54, MSS 1000 */
    uint8_t *c = r->ram + TXRING;
    memset(c, 0, 16);
    c[0] = 14, c[1] = 24, c[2] = 33;
    c[4] = 34, c[5] = 50;
    uint32_t cl = (uint32_t)(len - 54) | 1u << 29 | 1u << 24 | 1u << 25 | 1u << 26;
    memcpy(c + 8, &cl, 4);
    c[13] = 54;
    c[14] = 1000 & 0xff, c[15] = 1000 >> 8;
    put_txd(r, 1, TXBUF, (uint32_t)len | 1u << 20 | 1u << 29 | 1u << 26 | 1u << 24 | 1u << 27, 3);
    wr(r, 0x3818, 2);
    ASSERT_EQ(r->fb.frames, 3);
    uint8_t *s = r->fb.last; /* the last segment */
    ASSERT_EQ(r->fb.last_len, 54 + 1000);
    ASSERT_EQ(be16(s + 16), 1040);                 /* IP total length */
    ASSERT_EQ(be16(s + 18), 0x1236);               /* IP id + 2 */
    ASSERT_EQ(sum16(s + 14, 20, 0), 0xffff);       /* IP header checksum */
    ASSERT_EQ(be16(s + 34 + 6), 0x1000 + 2000);    /* sequence advanced */
    ASSERT_EQ(s[34 + 13], 0x18);                   /* PSH kept on the last */
    uint32_t pseudo = sum16(s + 26, 8, 6 + 1020);
    ASSERT_EQ(sum16(s + 34, 1020, pseudo), 0xffff); /* TCP checksum */
    ASSERT_MEM_EQ(s + 54, r->ram + TXBUF + 54 + 2000, 1000);
    rig_free(r);
}

/* ---- receive ---- */

#define RXRING 0x30000
#define RXBUF 0x40000
static void rx_setup(struct rig *r, unsigned ndesc, unsigned given)
{
    for (unsigned i = 0; i < ndesc; i++) {
        uint64_t a = RXBUF + i * 2048;
        memcpy(r->ram + RXRING + i * 16, &a, 8);
        memset(r->ram + RXRING + i * 16 + 8, 0, 8);
    }
    wr(r, 0x2800, RXRING);
    wr(r, 0x2808, ndesc * 16);
    wr(r, 0x2810, 0);
    wr(r, 0x2818, given);
    wr(r, 0xd0, 0x80);
    wr(r, 0x100, 0x2 | 1u << 15); /* EN, BAM, 2048-byte buffers */
}

static size_t frame_to_us(uint8_t *f, size_t len)
{
    memcpy(f, mac, 6);
    memset(f + 6, 0x52, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)(i ^ 0x5a);
    return len;
}

TEST(rx_frame_lands_with_status_and_rxt0)
{
    struct rig *r = rig_new();
    rx_setup(r, 8, 7);
    uint8_t f[1514];
    frame_to_us(f, sizeof f);
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_MEM_EQ(r->ram + RXBUF, f, sizeof f);
    uint8_t *d = r->ram + RXRING;
    ASSERT_EQ(d[8] | d[9] << 8, 1514 + 4); /* the FCS is kept (RCTL.SECRC clear) */
    ASSERT_EQ(d[12] & 3, 3);               /* DD, EOP */
    ASSERT_EQ(rd(r, 0x2810), 1);
    ASSERT_EQ(r->level, 1);
    ASSERT(rd(r, 0xc0) & 0x80);
    ASSERT_EQ(r->level, 0);
    /* someone else's unicast is filtered; broadcast passes (BAM) */
    f[5] ^= 1;
    net_deliver(&r->fb.be, f, 100);
    ASSERT_EQ(rd(r, 0x2810), 1);
    memset(f, 0xff, 6);
    net_deliver(&r->fb.be, f, 100);
    ASSERT_EQ(rd(r, 0x2810), 2);
    ASSERT_EQ(r->ram[RXRING + 16 + 8], 100 + 4);
    ASSERT_EQ(rd(r, 0x4074), 2); /* GPRC */
    rig_free(r);
}

TEST(rx_flow_control_waits_in_backend)
{
    struct rig *r = rig_new();
    rx_setup(r, 8, 2); /* room for two */
    uint8_t f[200];
    frame_to_us(f, sizeof f);
    for (int i = 0; i < 5; i++) {
        f[20] = (uint8_t)i;
        net_deliver(&r->fb.be, f, sizeof f);
    }
    ASSERT_EQ(rd(r, 0x2810), 2);
    ASSERT_EQ(net_queued(&r->fb.be), 3);
    wr(r, 0x2818, 4); /* two more descriptors */
    ASSERT_EQ(rd(r, 0x2810), 4);
    ASSERT_EQ(net_queued(&r->fb.be), 1);
    ASSERT_EQ(r->ram[RXBUF + 3 * 2048 + 20], 3); /* in order */
    ASSERT_EQ(r->fb.be.dropped, 0);
    for (int i = 0; i < NET_QUEUE_MAX_FRAMES + 10; i++)
        net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(net_queued(&r->fb.be), NET_QUEUE_MAX_FRAMES); /* bounded */
    ASSERT(r->fb.be.dropped > 0);
    rig_free(r);
}

/* ---- hostile rings ---- */

TEST(hostile_rings)
{
    struct rig *r = rig_new();
    uint8_t f[600];
    frame_to_us(f, sizeof f);
    /* receive ring outside RAM, zero length, huge length, tail beyond the ring */
    wr(r, 0x2800, 0xf0000000u);
    wr(r, 0x2808, 8 * 16);
    wr(r, 0x2818, 5);
    wr(r, 0x100, 0x2);
    net_deliver(&r->fb.be, f, sizeof f);
    wr(r, 0x2808, 0);
    net_deliver(&r->fb.be, f, sizeof f);
    wr(r, 0x2800, RAM_SIZE - 64);
    wr(r, 0x2808, 0xfffff);
    wr(r, 0x2818, 0xffff);
    net_deliver(&r->fb.be, f, sizeof f);
    wr(r, 0x2800, RXRING);
    wr(r, 0x2808, 4 * 16); /* not a multiple of 128 bytes: no ring */
    ASSERT_EQ(rd(r, 0x2808), 0);
    wr(r, 0x2808, 8 * 16);
    wr(r, 0x2810, 0);
    wr(r, 0x2818, 9); /* beyond the ring */
    net_deliver(&r->fb.be, f, sizeof f);
    ASSERT_EQ(rd(r, 0x2810), 0);
    /* a buffer outside RAM: the descriptor still completes, nothing else is touched */
    uint64_t bad = 0xfff00000u;
    memcpy(r->ram + RXRING, &bad, 8);
    wr(r, 0x2818, 1);
    ASSERT_EQ(rd(r, 0x2810), 1); /* one of the three queued frames taken */
    ASSERT_EQ(net_queued(&r->fb.be), 2); /* (the first frame went to the ring outside RAM) */

    /* transmit: ring outside RAM, tail beyond the ring, descriptors outside RAM */
    tx_setup(r, 8);
    wr(r, 0x3800, 0xf0000000u);
    wr(r, 0x3818, 3);
    ASSERT_EQ(rd(r, 0x3810), 3);
    wr(r, 0x3800, TXRING);
    wr(r, 0x3810, 0);
    wr(r, 0x3818, 200);
    ASSERT_EQ(rd(r, 0x3810), 0);
    put_txd(r, 0, 0xfff00000u, 100u | 1u << 24 | 1u << 27, 0);
    put_txd(r, 1, TXBUF, 0xffffu | 1u << 24, 0);
    wr(r, 0x3818, 2);
    ASSERT_EQ(r->fb.frames, 0);
    /* a flood: a 4096-entry ring of frames is taken TX_BURST at a time per kick */
    wr(r, 0x3800, 0x100000);
    wr(r, 0x3808, 4096 * 16);
    wr(r, 0x3810, 0);
    for (unsigned i = 0; i < 4096; i++) {
        uint8_t *d = r->ram + 0x100000 + i * 16;
        uint64_t a = TXBUF;
        uint32_t cl = 60u | 1u << 24 | 1u << 27;
        memcpy(d, &a, 8);
        memcpy(d + 8, &cl, 4);
    }
    wr(r, 0x3818, 4095);
    ASSERT_EQ(r->fb.frames, 256);
    int fired = 0;
    while (rd(r, 0x3810) != 4095 && fired < 100) {
        clock_warp(r->clock, clock_next_deadline(r->clock));
        fired += clock_run_timers(r->clock);
    }
    ASSERT_EQ(rd(r, 0x3810), 4095);
    ASSERT_EQ(r->fb.frames, 4095);
    rig_free(r);
}

TEST(forward_syntax)
{
    struct net_forward f;
    struct error e;
    ASSERT_EQ(net_parse_forward("tcp:8080:80", &f, &e), 0);
    ASSERT(!f.udp);
    ASSERT_EQ(f.host_port, 8080);
    ASSERT_EQ(f.guest_port, 80);
    ASSERT_EQ(ntohl(f.host_addr.s_addr), 0x7f000001);
    ASSERT_EQ(net_parse_forward("udp:0.0.0.0:5353:53", &f, &e), 0);
    ASSERT(f.udp);
    ASSERT_EQ(f.host_addr.s_addr, 0);
    ASSERT_EQ(net_parse_forward("tcp:80", &f, &e), -1);
    ASSERT_EQ(e.code, 64);
    ASSERT_EQ(net_parse_forward("tcp:1:70000", &f, &e), -1);
    ASSERT_EQ(net_parse_forward("sctp:1:2", &f, &e), -1);
    ASSERT_EQ(net_parse_forward("tcp:host:1:2", &f, &e), -1);
}
