/*
 * AMD PCnet-PCI II single-chip Ethernet controller (Am79C970A, 1022:2000,
 * revision 0x10): VMware's "vlance", after AMD's Am79C970A data sheet and
 * what Linux's pcnet32 driver does with it.
 *
 * What is here: the 32-byte I/O BAR with the address PROM (MAC, checksum,
 * "WW") and RDP/RAP/RESET/BDP in word I/O mode and, after a dword write to
 * RDP, dword I/O mode; reading RESET is the software reset; CSR0 (INIT,
 * STRT, STOP, TDMD, IENA, the write-one-to-clear causes, ERR and INTR
 * computed), CSR1/2 the initialisation block address, CSR3 interrupt masks,
 * CSR4 (its interrupt bits and masks, UINTCMD), CSR5 SPND, CSR8-15 filter,
 * station address and mode, CSR58 = BCR20, CSR88/89 the chip ID, CSR112
 * missed frames; BCR2, BCR4-7 (link status on bit 15), BCR9 full duplex,
 * BCR18 (DWIO), BCR20 software style 0 (16-bit: 24-byte init block, 8-byte
 * descriptors, upper address byte from CSR2), 2 and 3 (32-bit: 28-byte
 * init block, 16-byte descriptors, 3 with the dwords permuted); receive and
 * transmit rings of 1 to 512 descriptors handed over by OWN, STP/ENP
 * chaining both ways, the FCS written after a received frame (MCNT counts
 * it), physical, broadcast, logical (multicast hash) and promiscuous
 * receive filtering; INTx. Not here: the MII (not on this chip), loopback
 * (CSR15 LOOP), the EEPROM interface, collision and carrier statistics,
 * receive and transmit polling by timer (the driver's TDMD, CSR writes and
 * the back end's retries move frames), memory-mapped I/O (BAR1).
 *
 * Every ring and buffer access goes through pci_dma_* (bus mastering,
 * checked RAM). An initialisation block outside RAM sets MERR and leaves
 * the chip stopped; a descriptor outside RAM stops that direction until
 * the next INIT. A transmit kick handles at most TX_BURST descriptors (a
 * timer takes the rest); a frame is walked over at most one ring's worth of
 * descriptors and bounded in length (TX_FRAME_MAX): a guest cannot stall
 * the machine loop or grow a buffer.
 */
#include "devices/pcnet.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* I/O BAR offsets */
#define IO_APROM_END 0x10
#define WIO_RDP 0x10
#define WIO_RAP 0x12
#define WIO_RESET 0x14
#define WIO_BDP 0x16
#define DWIO_RDP 0x10
#define DWIO_RAP 0x14
#define DWIO_RESET 0x18
#define DWIO_BDP 0x1c

/* CSR0 */
#define CSR0_INIT 0x0001
#define CSR0_STRT 0x0002
#define CSR0_STOP 0x0004
#define CSR0_TDMD 0x0008
#define CSR0_TXON 0x0010
#define CSR0_RXON 0x0020
#define CSR0_IENA 0x0040
#define CSR0_INTR 0x0080
#define CSR0_IDON 0x0100
#define CSR0_TINT 0x0200
#define CSR0_RINT 0x0400
#define CSR0_MERR 0x0800
#define CSR0_MISS 0x1000
#define CSR0_CERR 0x2000
#define CSR0_BABL 0x4000
#define CSR0_ERR 0x8000
#define CSR0_W1C (CSR0_BABL | CSR0_CERR | CSR0_MISS | CSR0_MERR | CSR0_RINT | CSR0_TINT | CSR0_IDON)
/* the causes CSR3 masks (same bit positions there) */
#define CSR0_CAUSES (CSR0_BABL | CSR0_MISS | CSR0_MERR | CSR0_RINT | CSR0_TINT | CSR0_IDON)

/* CSR4 */
#define CSR4_UINTCMD 0x0080
#define CSR4_UINT 0x0040
#define CSR4_W1C 0x026a /* MFCO, UINT, RCVCCO, TXSTRT, JAB */
#define CSR4_RESET 0x0115
/* CSR5 */
#define CSR5_SPND 0x0001
/* CSR15 (MODE) */
#define MODE_DRX 0x0001
#define MODE_DTX 0x0002
#define MODE_DRCVPA 0x2000
#define MODE_DRCVBC 0x4000
#define MODE_PROM 0x8000

/* chip ID: part 0x2621 (Am79C970A), version 1, AMD's 0x003 */
#define CHIP_ID_LO 0x1003
#define CHIP_ID_HI 0x0262

/* BCRs */
#define NBCR 64
#define BCR18_DWIO 0x0080
#define BCR20_SSIZE32 0x0100
#define BCR20_CSRPCNET 0x0200
#define BCR4_LEDOUT 0x8000
#define BCR4_LNKSTE 0x0040

/* descriptor status (the 16-bit word both styles share in bits 15..8) */
#define DS_OWN 0x8000
#define DS_ERR 0x4000
#define DS_STP 0x0200
#define DS_ENP 0x0100
#define RS_BUFF 0x0400
#define RS_PAM 0x0040
#define RS_LAFM 0x0020
#define RS_BAM 0x0010
#define TS_BUFF_16 0x8000u     /* misc word, 16-bit style */
#define TS_BUFF_32 0x80000000u /* misc dword, 32-bit styles */

#define RING_MAX 512
#define TX_BURST 512
#define TX_FRAME_MAX 16384
#define RX_FRAME_MAX 4000 /* MCNT has 12 bits */
#define STARVED_POLL_NS 1000000
#define TX_RESUME_NS 10000

struct desc {
    uint32_t addr;
    uint16_t bcnt;   /* as the guest wrote it: two's complement in bits 11..0 */
    uint16_t status;
    uint32_t misc;   /* RX: MCNT (and counters), TX: error bits */
};

struct ring {
    uint32_t base;
    unsigned len, idx;
    bool broken; /* a descriptor was outside RAM: nothing moves until INIT */
};

struct pcnet {
    struct pci_device pci;
    uint8_t *rom; /* the PCI expansion ROM image (owned), or NULL */
    struct clock *clock;
    struct net_backend *be;
    bool link;
    uint8_t mac[6];
    uint8_t prom[16];
    uint16_t csr[128];
    uint16_t bcr[NBCR];
    unsigned rap;
    struct ring rx, tx;
    struct {
        uint8_t buf[TX_FRAME_MAX];
        size_t len;
        bool active, overflow;
    } txf;
    uint8_t rxbuf[RX_FRAME_MAX + 64];
    struct timer timer;
};

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, (uint16_t)v);
    put_le16(p + 2, (uint16_t)(v >> 16));
}

static unsigned swstyle(const struct pcnet *s)
{
    return s->bcr[20] & 0xff;
}

static bool ssize32(const struct pcnet *s)
{
    return s->bcr[20] & BCR20_SSIZE32;
}

/* ---- interrupts ---- */

static bool intr_pending(const struct pcnet *s)
{
    uint16_t c0 = s->csr[0], c4 = s->csr[4];
    if (c0 & CSR0_CAUSES & ~s->csr[3])
        return true;
    /* CSR4: each cause sits one bit above its mask; UINT has none */
    uint16_t c4causes = c4 & 0x022a & ~(uint16_t)((c4 & 0x0115) << 1);
    return c4causes || (c4 & CSR4_UINT);
}

static uint16_t csr0_value(const struct pcnet *s)
{
    uint16_t c = s->csr[0] & (uint16_t)~(CSR0_ERR | CSR0_INTR | CSR0_TDMD);
    if (c & (CSR0_BABL | CSR0_CERR | CSR0_MISS | CSR0_MERR))
        c |= CSR0_ERR;
    if (intr_pending(s))
        c |= CSR0_INTR;
    return c;
}

static void update_irq(struct pcnet *s)
{
    pci_set_irq(&s->pci, (s->csr[0] & CSR0_IENA) && intr_pending(s));
}

static void raise(struct pcnet *s, uint16_t cause)
{
    s->csr[0] |= cause;
    update_irq(s);
}

/* ---- descriptors ---- */

static unsigned desc_size(const struct pcnet *s)
{
    return ssize32(s) ? 16 : 8;
}

/* In the 16-bit style addresses are 24 bits; CSR2's high byte supplies the rest. */
static uint32_t addr24(const struct pcnet *s, uint32_t a)
{
    return (a & 0xffffff) | (uint32_t)(s->csr[2] & 0xff00) << 16;
}

static uint64_t desc_at(const struct pcnet *s, const struct ring *r, unsigned idx)
{
    return (uint64_t)r->base + (uint64_t)idx * desc_size(s);
}

static int desc_read(struct pcnet *s, uint64_t at, struct desc *d)
{
    uint8_t b[16];
    if (pci_dma_read(&s->pci, at, b, desc_size(s)) < 0)
        return -1;
    if (!ssize32(s)) {
        d->addr = addr24(s, le16(b) | (uint32_t)b[2] << 16);
        d->status = (uint16_t)(b[3] << 8);
        d->bcnt = le16(b + 4);
        d->misc = le16(b + 6);
        return 0;
    }
    unsigned a = 0, m = 8; /* style 2: address, length/status, misc */
    if (swstyle(s) == 3) {
        a = 8;
        m = 0;
    }
    d->addr = le32(b + a);
    d->bcnt = le16(b + 4);
    d->status = le16(b + 6);
    d->misc = le32(b + m);
    return 0;
}

/* Writes back misc, then the status word (OWN last, as the chip hands it over). */
static void desc_write(struct pcnet *s, uint64_t at, const struct desc *d)
{
    uint8_t b[4];
    if (!ssize32(s)) {
        put_le16(b, (uint16_t)d->misc);
        pci_dma_write(&s->pci, at + 6, b, 2);
        b[0] = (uint8_t)(d->status >> 8);
        pci_dma_write(&s->pci, at + 3, b, 1);
        return;
    }
    put_le32(b, d->misc);
    pci_dma_write(&s->pci, at + (swstyle(s) == 3 ? 0 : 8), b, 4);
    put_le16(b, d->status);
    pci_dma_write(&s->pci, at + 6, b, 2);
}

/* A buffer's length from its BCNT field: 1..4096 bytes (0 means 4096). */
static size_t buf_len(uint16_t bcnt)
{
    return 4096 - (bcnt & 0xfffu);
}

/* ---- reset, init, start, stop ---- */

static void prom_fill(struct pcnet *s)
{
    memset(s->prom, 0, sizeof s->prom);
    memcpy(s->prom, s->mac, 6);
    s->prom[14] = s->prom[15] = 'W';
    unsigned sum = 0;
    for (int i = 0; i < 16; i++)
        if (i != 12 && i != 13)
            sum += s->prom[i];
    put_le16(s->prom + 12, (uint16_t)sum);
}

static void load_padr(struct pcnet *s)
{
    for (int i = 0; i < 3; i++)
        s->csr[12 + i] = le16(s->mac + 2 * i);
}

/* S_RESET (a read of RESET) and the common part of H_RESET. */
static void soft_reset(struct pcnet *s)
{
    timer_cancel(&s->timer);
    s->csr[0] = CSR0_STOP;
    s->csr[3] = 0;
    s->csr[4] = CSR4_RESET;
    s->csr[5] = 0;
    for (int i = 8; i < 12; i++)
        s->csr[i] = 0;
    load_padr(s);
    s->csr[15] = 0;
    s->csr[88] = CHIP_ID_LO;
    s->csr[89] = CHIP_ID_HI;
    s->csr[112] = 0;
    s->bcr[20] = BCR20_CSRPCNET; /* software style 0 */
    s->rap = 0;
    memset(&s->rx, 0, sizeof s->rx);
    memset(&s->tx, 0, sizeof s->tx);
    s->txf.len = 0;
    s->txf.active = s->txf.overflow = false;
    update_irq(s);
}

static void hard_reset(struct pcnet *s)
{
    memset(s->csr, 0, sizeof s->csr);
    memset(s->bcr, 0, sizeof s->bcr);
    s->bcr[0] = 0x0005; /* MSRDA, MSWRA */
    s->bcr[1] = 0x0005;
    s->bcr[2] = 0x0002; /* ASEL */
    s->bcr[4] = 0x00c0; /* LED0: link status */
    s->bcr[5] = 0x0084;
    s->bcr[6] = 0x0088;
    s->bcr[7] = 0x0090;
    s->bcr[18] = 0x9001; /* burst sizes; DWIO clear */
    s->bcr[19] = 0x0802;
    s->bcr[22] = 0xff06;
    soft_reset(s);
}

static unsigned ring_len32(unsigned bits)
{
    return bits >= 9 ? RING_MAX : 1u << bits;
}

/* Reads the initialisation block at IADR and loads mode, address, filter and rings. */
static void chip_init(struct pcnet *s)
{
    uint8_t b[28];
    uint32_t iadr = (uint32_t)s->csr[1] | (uint32_t)s->csr[2] << 16;
    uint32_t rdra, tdra;
    const uint8_t *padr, *ladrf;
    if (ssize32(s)) {
        if (pci_dma_read(&s->pci, iadr, b, 28) < 0)
            goto fail;
        s->rx.len = ring_len32(b[2] >> 4);
        s->tx.len = ring_len32(b[3] >> 4);
        padr = b + 4;
        ladrf = b + 12;
        rdra = le32(b + 20);
        tdra = le32(b + 24);
    } else {
        iadr = addr24(s, iadr);
        if (pci_dma_read(&s->pci, iadr, b, 24) < 0)
            goto fail;
        s->rx.len = 1u << (b[19] >> 5);
        s->tx.len = 1u << (b[23] >> 5);
        padr = b + 2;
        ladrf = b + 8;
        rdra = addr24(s, le16(b + 16) | (uint32_t)b[18] << 16);
        tdra = addr24(s, le16(b + 20) | (uint32_t)b[22] << 16);
    }
    s->csr[15] = le16(b);
    for (int i = 0; i < 3; i++)
        s->csr[12 + i] = le16(padr + 2 * i);
    for (int i = 0; i < 4; i++)
        s->csr[8 + i] = le16(ladrf + 2 * i);
    s->rx.base = rdra;
    s->tx.base = tdra;
    s->rx.idx = s->tx.idx = 0;
    s->rx.broken = s->tx.broken = false;
    s->csr[24] = (uint16_t)rdra;
    s->csr[25] = (uint16_t)(rdra >> 16);
    s->csr[30] = (uint16_t)tdra;
    s->csr[31] = (uint16_t)(tdra >> 16);
    s->csr[76] = (uint16_t)-s->rx.len; /* ring lengths read back in two's complement */
    s->csr[78] = (uint16_t)-s->tx.len;
    s->txf.len = 0;
    s->txf.active = s->txf.overflow = false;
    s->csr[0] = (uint16_t)((s->csr[0] & ~CSR0_STOP) | CSR0_INIT | CSR0_IDON);
    update_irq(s);
    return;
fail:
    raise(s, CSR0_MERR);
}

static bool rx_on(const struct pcnet *s)
{
    return (s->csr[0] & CSR0_RXON) && !(s->csr[5] & CSR5_SPND) && !s->rx.broken && s->rx.len;
}

static bool tx_on(const struct pcnet *s)
{
    return (s->csr[0] & CSR0_TXON) && !(s->csr[5] & CSR5_SPND) && !s->tx.broken && s->tx.len;
}

static void tx_run(struct pcnet *s);

static void rx_kick(struct pcnet *s)
{
    if (s->be && rx_on(s))
        net_rx_ready(s->be);
}

static void chip_start(struct pcnet *s)
{
    uint16_t c = (uint16_t)((s->csr[0] & ~CSR0_STOP) | CSR0_STRT);
    if (!(s->csr[15] & MODE_DRX))
        c |= CSR0_RXON;
    if (!(s->csr[15] & MODE_DTX))
        c |= CSR0_TXON;
    s->csr[0] = c;
    update_irq(s);
}

static void chip_stop(struct pcnet *s)
{
    timer_cancel(&s->timer);
    s->csr[0] = CSR0_STOP;
    s->txf.active = false;
    update_irq(s);
}

/* ---- receive ---- */

static uint32_t ether_crc_le(const uint8_t *p, size_t len)
{
    return ~(uint32_t)crc32(0L, p, (uInt)len);
}

/* Which filter took the frame: RS_PAM, RS_BAM or RS_LAFM, 1 when only PROM did, 0: refused. */
static uint16_t rx_match(const struct pcnet *s, const uint8_t *f)
{
    uint16_t mode = s->csr[15];
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint16_t m = 0;
    if (memcmp(f, bcast, 6) == 0) {
        if (!(mode & MODE_DRCVBC))
            m = RS_BAM;
    } else if (f[0] & 1) {
        unsigned h = ether_crc_le(f, 6) >> 26;
        if (s->csr[8 + (h >> 4)] >> (h & 15) & 1)
            m = RS_LAFM;
    } else if (!(mode & MODE_DRCVPA)) {
        bool eq = true;
        for (int i = 0; i < 3; i++)
            eq = eq && le16(f + 2 * i) == s->csr[12 + i];
        if (eq)
            m = RS_PAM;
    }
    if (!m && (mode & MODE_PROM))
        m = 1;
    return m;
}

static bool pcnet_can_receive(void *opaque)
{
    struct pcnet *s = opaque;
    if (!s->link || !rx_on(s))
        return false;
    struct desc d;
    if (desc_read(s, desc_at(s, &s->rx, s->rx.idx), &d) < 0) {
        s->rx.broken = true;
        raise(s, CSR0_MERR);
        return false;
    }
    if (d.status & DS_OWN)
        return true;
    /* the driver hands buffers back in memory only: look again later */
    if (!timer_armed(&s->timer))
        timer_arm(&s->timer, clock_now_ns(s->clock) + STARVED_POLL_NS);
    return false;
}

static void rx_missed(struct pcnet *s)
{
    s->csr[112]++;
    raise(s, CSR0_MISS);
}

static void pcnet_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct pcnet *s = opaque;
    if (!rx_on(s) || len < 14 || len > RX_FRAME_MAX)
        return;
    uint16_t match = rx_match(s, frame);
    if (!match)
        return;
    uint8_t *b = s->rxbuf;
    memcpy(b, frame, len);
    if (len < 60) {
        memset(b + len, 0, 60 - len);
        len = 60;
    }
    uint32_t fcs = (uint32_t)crc32(0L, b, (uInt)len);
    put_le32(b + len, fcs);
    len += 4;
    /* enough buffers, at most one ring's worth, all owned by the chip? */
    size_t room = 0;
    unsigned need = 0;
    struct desc d;
    while (room < len) {
        if (need == s->rx.len) {
            rx_missed(s);
            return;
        }
        unsigned idx = (s->rx.idx + need) % s->rx.len;
        if (desc_read(s, desc_at(s, &s->rx, idx), &d) < 0) {
            s->rx.broken = true;
            raise(s, CSR0_MERR);
            return;
        }
        if (!(d.status & DS_OWN)) {
            rx_missed(s);
            return;
        }
        room += buf_len(d.bcnt);
        need++;
    }
    size_t done = 0;
    for (unsigned i = 0; i < need; i++) {
        uint64_t at = desc_at(s, &s->rx, s->rx.idx);
        if (desc_read(s, at, &d) < 0)
            break;
        size_t chunk = len - done < buf_len(d.bcnt) ? len - done : buf_len(d.bcnt);
        bool last = i + 1 == need;
        uint16_t st = (uint16_t)((i == 0 ? DS_STP : 0) | (last ? DS_ENP | (match & 0xf0) : 0));
        if (pci_dma_write(&s->pci, d.addr, b + done, chunk) < 0)
            st |= DS_ERR | RS_BUFF;
        d.status = st;
        d.misc = last ? (uint32_t)(len & 0xfff) : 0;
        desc_write(s, at, &d);
        done += chunk;
        s->rx.idx = (s->rx.idx + 1) % s->rx.len;
    }
    raise(s, CSR0_RINT);
}

/* ---- transmit ---- */

static void tx_frame_done(struct pcnet *s)
{
    size_t len = s->txf.len;
    if (len >= 14 && s->be && s->link) {
        if (len < 60) {
            memset(s->txf.buf + len, 0, 60 - len);
            len = 60;
        }
        net_send(s->be, s->txf.buf, len);
    }
    s->txf.active = false;
    s->txf.len = 0;
}

static void tx_run(struct pcnet *s)
{
    bool done_any = false, babble = false;
    for (int budget = TX_BURST; tx_on(s); budget--) {
        if (budget == 0) {
            timer_arm(&s->timer, clock_now_ns(s->clock) + TX_RESUME_NS);
            break;
        }
        uint64_t at = desc_at(s, &s->tx, s->tx.idx);
        struct desc d;
        if (desc_read(s, at, &d) < 0) {
            s->tx.broken = true;
            s->csr[0] |= CSR0_MERR;
            break;
        }
        if (!(d.status & DS_OWN))
            break; /* the ring is empty; a partly read frame waits for its next buffer */
        if (d.status & DS_STP) {
            s->txf.active = true; /* a frame without ENP before it is dropped */
            s->txf.len = 0;
            s->txf.overflow = false;
        }
        uint16_t st = d.status & (uint16_t)~(DS_OWN | DS_ERR);
        uint32_t misc = 0;
        if (s->txf.active) {
            size_t n = buf_len(d.bcnt);
            if (n > TX_FRAME_MAX - s->txf.len || pci_dma_read(&s->pci, d.addr, s->txf.buf + s->txf.len, n) < 0)
                s->txf.overflow = true;
            else
                s->txf.len += n;
            if (d.status & DS_ENP) {
                if (s->txf.overflow) {
                    st |= DS_ERR;
                    misc = ssize32(s) ? TS_BUFF_32 : TS_BUFF_16;
                    babble = true;
                    s->txf.active = false;
                } else {
                    tx_frame_done(s);
                }
                done_any = true;
            }
        }
        d.status = st;
        d.misc = misc;
        desc_write(s, at, &d);
        s->tx.idx = (s->tx.idx + 1) % s->tx.len;
    }
    if (done_any)
        s->csr[0] |= CSR0_TINT;
    if (babble)
        s->csr[0] |= CSR0_BABL;
    update_irq(s);
}

static void timer_fire(void *opaque)
{
    struct pcnet *s = opaque;
    tx_run(s);
    rx_kick(s);
}

/* ---- registers ---- */

static void csr0_write(struct pcnet *s, uint16_t v)
{
    uint16_t c = s->csr[0] & (uint16_t)~(v & CSR0_W1C);
    s->csr[0] = (uint16_t)((c & ~CSR0_IENA) | (v & CSR0_IENA));
    if (v & CSR0_STOP) {
        chip_stop(s);
        return;
    }
    if ((v & CSR0_INIT) && !(c & CSR0_INIT))
        chip_init(s);
    if ((v & CSR0_STRT) && !(s->csr[0] & CSR0_STRT))
        chip_start(s);
    update_irq(s);
    if (v & CSR0_TDMD)
        tx_run(s);
    rx_kick(s);
}

static uint16_t csr_read(struct pcnet *s, unsigned n)
{
    switch (n) {
    case 0: return csr0_value(s);
    case 58: return s->bcr[20];
    case 88: return CHIP_ID_LO;
    case 89: return CHIP_ID_HI;
    }
    return s->csr[n];
}

static void bcr20_write(struct pcnet *s, uint16_t v)
{
    unsigned style = v & 0xff;
    uint16_t size_bits = style == 0 ? BCR20_CSRPCNET : style == 1 ? BCR20_SSIZE32 : BCR20_SSIZE32 | BCR20_CSRPCNET;
    if (style > 3) {
        style = 0;
        size_bits = BCR20_CSRPCNET;
    }
    s->bcr[20] = (uint16_t)((v & 0xfc00) | size_bits | style);
}

static void csr_write(struct pcnet *s, unsigned n, uint16_t v)
{
    switch (n) {
    case 0: csr0_write(s, v); return;
    case 3:
        s->csr[3] = v & 0x5f7f;
        update_irq(s);
        rx_kick(s);
        return;
    case 4: {
        uint16_t c = s->csr[4] & (uint16_t)~(v & CSR4_W1C);
        c = (uint16_t)((c & CSR4_W1C) | (v & ~CSR4_W1C & ~CSR4_UINTCMD));
        if (v & CSR4_UINTCMD)
            c |= CSR4_UINT;
        s->csr[4] = c;
        update_irq(s);
        return;
    }
    case 5: {
        bool resumed = (s->csr[5] & CSR5_SPND) && !(v & CSR5_SPND);
        s->csr[5] = v;
        if (resumed) {
            tx_run(s);
            rx_kick(s);
        }
        return;
    }
    case 58: bcr20_write(s, v); return;
    case 88:
    case 89: return;
    case 112: s->csr[112] = v; return;
    }
    s->csr[n] = v;
}

static uint16_t bcr_read(struct pcnet *s, unsigned n)
{
    if (n >= NBCR)
        return 0;
    uint16_t v = s->bcr[n];
    if (n >= 4 && n <= 7) { /* LED outputs: on when an enabled status is true (link only) */
        v &= (uint16_t)~BCR4_LEDOUT;
        if (s->link && (v & BCR4_LNKSTE))
            v |= BCR4_LEDOUT;
    }
    return v;
}

static void bcr_write(struct pcnet *s, unsigned n, uint16_t v)
{
    switch (n) {
    case 18: s->bcr[18] = (uint16_t)((v & ~BCR18_DWIO) | (s->bcr[18] & BCR18_DWIO)); return;
    case 20: bcr20_write(s, v); return;
    }
    if (n < NBCR)
        s->bcr[n] = v;
}

static bool dwio(const struct pcnet *s)
{
    return s->bcr[18] & BCR18_DWIO;
}

static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pcnet *s = opaque;
    if (offset < IO_APROM_END) {
        uint64_t v = 0;
        for (unsigned i = 0; i < size && offset + i < IO_APROM_END; i++)
            v |= (uint64_t)s->prom[offset + i] << (8 * i);
        return v;
    }
    unsigned want = dwio(s) ? 4 : 2;
    if (size != want)
        return size == 4 ? 0xffffffffu : size == 2 ? 0xffff : 0xff;
    unsigned rdp = WIO_RDP, rap = dwio(s) ? DWIO_RAP : WIO_RAP, rst = dwio(s) ? DWIO_RESET : WIO_RESET,
             bdp = dwio(s) ? DWIO_BDP : WIO_BDP;
    if (offset == rdp)
        return csr_read(s, s->rap);
    if (offset == rap)
        return s->rap;
    if (offset == rst) {
        soft_reset(s);
        return 0;
    }
    if (offset == bdp)
        return bcr_read(s, s->rap);
    return 0;
}

static void io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pcnet *s = opaque;
    if (offset < IO_APROM_END)
        return;
    if (size == 4 && offset == DWIO_RDP && !dwio(s))
        s->bcr[18] |= BCR18_DWIO; /* a dword write to RDP selects dword I/O */
    if (size != (dwio(s) ? 4u : 2u))
        return;
    uint16_t v = (uint16_t)value;
    unsigned rap = dwio(s) ? DWIO_RAP : WIO_RAP, rst = dwio(s) ? DWIO_RESET : WIO_RESET,
             bdp = dwio(s) ? DWIO_BDP : WIO_BDP;
    if (offset == WIO_RDP)
        csr_write(s, s->rap, v);
    else if (offset == rap)
        s->rap = v & 0x7f;
    else if (offset == rst)
        soft_reset(s);
    else if (offset == bdp)
        bcr_write(s, s->rap, v);
}

static const struct bus_ops io_ops = {
    .read = io_read,
    .write = io_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- the device ---- */

void pcnet_reset(struct pcnet *s)
{
    pci_device_reset(&s->pci);
    hard_reset(s);
}

struct pci_device *pcnet_pci(struct pcnet *s)
{
    return &s->pci;
}

struct pcnet *pcnet_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                        struct net_backend *be, bool link)
{
    struct pcnet *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->clock = clock;
    s->be = be;
    s->link = link;
    memcpy(s->mac, mac, 6);
    prom_fill(s);
    timer_init(&s->timer, clock, timer_fire, s);
    pci_device_init(&s->pci, "pcnet", 0x1022, 0x2000, 0x020000, 0x10, 1);
    s->pci.config[PCI_STATUS] = 0x80; /* fast back-to-back, medium DEVSEL */
    s->pci.config[PCI_STATUS + 1] = 0x02;
    s->pci.config[0x3e] = 0x06; /* MIN_GNT, MAX_LAT */
    s->pci.config[0x3f] = 0xff;
    pci_device_set_bar(&s->pci, 0, PCI_BAR_IO, PCNET_IO_SIZE, &io_ops, s, NULL);
    s->pci.opaque = s;
    if (pci && pci_register(pci, &s->pci, devfn) < 0) {
        free(s);
        return NULL;
    }
    if (be) {
        struct net_client c = {.can_receive = pcnet_can_receive, .receive = pcnet_receive, .opaque = s};
        net_attach(be, &c);
        net_set_link(be, link);
    }
    hard_reset(s);
    return s;
}

void pcnet_free(struct pcnet *s)
{
    if (!s)
        return;
    timer_cancel(&s->timer);
    free(s->rom);
    free(s);
}

void pcnet_set_rom(struct pcnet *s, uint8_t *image, uint64_t size)
{
    free(s->rom);
    s->rom = image;
    pci_device_set_rom(&s->pci, image, size);
}
