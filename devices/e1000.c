/*
 * Intel 82545EM gigabit Ethernet controller (8086:100F, the "e1000" of a
 * .vmx; subsystem 15AD:0750 as VMware presents it), after Intel's PCI/PCI-X
 * Family of Gigabit Ethernet Controllers Software Developer's Manual (8254x).
 *
 * What is here: BAR0 registers (128 KiB MMIO) and BAR1 IOADDR/IODATA; the
 * 64-word Microwire EEPROM, bit-banged through EECD and read through EERD
 * (MAC, IDs, checksum 0xBABA); the M88E1011 PHY through MDIC (link and
 * autonegotiation complete at once); CTRL/STATUS; one receive and one transmit
 * ring of legacy receive descriptors and legacy, context and data transmit
 * descriptors, with IP/TCP/UDP checksum insertion, TCP segmentation (TSO) and
 * VLAN tag insertion and stripping; ICR/IMS/IMC/ICS with read-to-clear on the
 * INTx pin; receive filtering (RAL/RAH, broadcast, multicast table, unicast and
 * multicast promiscuous, VLAN filter table); the statistics that count frames
 * and octets, read-to-clear. Not here: interrupt moderation (ITR, RDTR, RADV,
 * TIDV, TADV are kept but every cause is raised at once), flow control frames,
 * wake-up, the flash, PCI-X, receive checksum offload (descriptors say
 * "ignore checksum indication", so the guest checks them).
 *
 * Every ring and buffer access goes through pci_dma_* (bus mastering, checked
 * RAM). A ring whose length, head or tail is out of range moves nothing. A
 * kick of the transmit ring handles at most TX_BURST descriptors; a timer
 * takes the rest, so a flooding guest cannot stall the machine loop.
 */
#include "devices/e1000_int.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- interrupts ---- */

static void update_irq(struct e1000 *s)
{
    if (s->e1000e) {
        e1000e_update_irq(s);
        return;
    }
    pci_set_irq(&s->pci, (r(s, ICR) & r(s, IMS)) != 0);
}

static void set_cause(struct e1000 *s, uint32_t cause)
{
    w(s, ICR, r(s, ICR) | cause);
    update_irq(s);
}

/* ---- EEPROM and PHY ---- */

static void eeprom_fill(struct e1000 *s)
{
    uint16_t *e = s->eeprom;
    memset(e, 0, sizeof s->eeprom);
    if (s->e1000e) {
        e1000e_nvm_fill(s);
        return;
    }
    for (int i = 0; i < 3; i++)
        e[i] = (uint16_t)(s->macaddr[2 * i] | s->macaddr[2 * i + 1] << 8);
    e[0x04] = 0xffff; /* LED settings: the driver's defaults */
    e[0x0a] = 0x644c; /* initialization control 1: load subsystem IDs, 64-bit bus */
    e[0x0b] = 0x0750; /* subsystem */
    e[0x0c] = 0x15ad;
    e[0x0d] = 0x100f; /* device */
    e[0x0e] = 0x8086;
    e[0x0f] = 0x3000; /* initialization control 2: no pause frames */
    uint16_t sum = 0;
    for (int i = 0; i < EEPROM_WORDS - 1; i++)
        sum = (uint16_t)(sum + e[i]);
    e[EEPROM_WORDS - 1] = (uint16_t)(EEPROM_SUM - sum);
}

/* A rising SK edge with CS high: shift DI in, or the addressed word's next bit out. */
static void eeprom_clock(struct e1000 *s, uint32_t v)
{
    if (s->ee.reading) {
        s->ee.out_bit++;
        return;
    }
    s->ee.shift_in = (s->ee.shift_in << 1) | ((v & EECD_DI) ? 1 : 0);
    if (++s->ee.bits_in < 9)
        return;
    /* start bit, opcode 10 (read), six address bits */
    if ((s->ee.shift_in >> 6 & 7) == 6) {
        s->ee.reading = true;
        s->ee.addr = s->ee.shift_in & 0x3f;
        s->ee.out_bit = -1;
    } else {
        s->ee.bits_in = 0;
        s->ee.shift_in = 0;
    }
}

static void eecd_write(struct e1000 *s, uint32_t v)
{
    uint32_t old = s->ee.last_eecd;
    s->ee.last_eecd = v;
    if (!(v & EECD_CS)) {
        s->ee.bits_in = s->ee.shift_in = 0;
        s->ee.reading = false;
        return;
    }
    if ((v & EECD_SK) && !(old & EECD_SK))
        eeprom_clock(s, v);
}

static uint32_t eecd_read(struct e1000 *s)
{
    uint32_t v = (s->ee.last_eecd & (EECD_SK | EECD_CS | EECD_DI | EECD_REQ)) | EECD_PRES;
    if (v & EECD_REQ)
        v |= EECD_GNT;
    if (s->e1000e)
        v |= EECD_AUTO_RD;
    if (s->ee.reading && s->ee.out_bit >= 0) {
        unsigned word = (s->ee.addr + (unsigned)s->ee.out_bit / 16) % EEPROM_WORDS;
        unsigned bit = 15 - (unsigned)s->ee.out_bit % 16;
        if (s->eeprom[word] >> bit & 1)
            v |= EECD_DO;
    }
    return v;
}

static void eerd_write(struct e1000 *s, uint32_t v)
{
    if (s->e1000e) {
        e1000e_eerd_write(s, v);
        return;
    }
    if (!(v & EERD_START)) {
        w(s, EERD, v & ~EERD_DONE);
        return;
    }
    unsigned a = v >> 8 & 0xff;
    uint16_t data = a < EEPROM_WORDS ? s->eeprom[a] : 0;
    w(s, EERD, (v & 0xff00) | EERD_DONE | (uint32_t)data << 16);
}

static void phy_link(struct e1000 *s)
{
    uint16_t *p = s->phy;
    if (s->link) {
        p[PHY_STATUS] |= PHY_STATUS_LINK | PHY_STATUS_AN_DONE;
        p[PHY_LP_ABILITY] = 0x45e1;
        p[PHY_1000T_STATUS] = 0x3c00;
        p[M88_PHY_SPEC_STATUS] = 0xac00;
    } else {
        p[PHY_STATUS] &= (uint16_t)~(PHY_STATUS_LINK | PHY_STATUS_AN_DONE);
        p[PHY_LP_ABILITY] = 0;
        p[PHY_1000T_STATUS] = 0;
        p[M88_PHY_SPEC_STATUS] = 0;
    }
}

static void phy_reset(struct e1000 *s)
{
    uint16_t *p = s->phy;
    memset(s->phy, 0, sizeof s->phy);
    p[PHY_CTRL] = 0x1140;   /* autonegotiation on, full duplex, 1000 Mb/s */
    p[PHY_STATUS] = 0x7949; /* what it can do; link and autonegotiation below */
    p[2] = 0x0141;          /* Marvell */
    p[3] = s->e1000e ? 0x0cb1 : 0x0c20; /* BME1000 rev 1 (82574L), 88E1011 (82545EM) */
    p[4] = 0x01e1;
    p[6] = 0x0001;
    p[9] = 0x0e00;
    p[15] = 0x3000;
    p[16] = 0x0068;
    phy_link(s);
}

static void mdic_write(struct e1000 *s, uint32_t v)
{
    unsigned phy = v >> 21 & 0x1f, reg = v >> 16 & 0x1f;
    uint32_t op = v & (3u << 26);
    v &= ~(MDIC_READY | MDIC_ERROR);
    if (phy != PHY_ADDR) {
        v |= MDIC_ERROR;
    } else if (op == MDIC_OP_READ) {
        v = (v & 0xffff0000u) | s->phy[reg];
    } else if (op == MDIC_OP_WRITE) {
        uint16_t d = (uint16_t)v;
        if (reg == PHY_CTRL) {
            if (d & PHY_CTRL_RESET) {
                phy_reset(s);
                d = s->phy[PHY_CTRL];
            }
            d &= (uint16_t)~(PHY_CTRL_RESET | PHY_CTRL_RESTART_AN);
            phy_link(s); /* autonegotiation completes at once */
        }
        if (reg != PHY_STATUS && reg != 2 && reg != 3 && reg != M88_PHY_SPEC_STATUS)
            s->phy[reg] = d;
    }
    w(s, MDIC, v | MDIC_READY);
}

static uint32_t status_read(struct e1000 *s)
{
    uint32_t v = STATUS_FD | STATUS_SPEED_1000;
    if (s->link && (r(s, CTRL) & 0x40)) /* CTRL.SLU */
        v |= STATUS_LU;
    if (s->e1000e && !(r(s, CTRL) & CTRL_GIO_MASTER_DISABLE))
        v |= STATUS_GIO_MASTER_ENABLE;
    return v;
}

/* ---- reset ---- */

static void regs_reset(struct e1000 *s)
{
    memset(s->reg, 0, sizeof s->reg);
    memset(&s->ee, 0, sizeof s->ee);
    memset(&s->ctx, 0, sizeof s->ctx);
    s->tx.len = 0;
    s->tx.started = s->tx.overflow = false;
    w(s, VET, 0x8100);
    w(s, 0x1000, 0x30); /* PBA: 48 KiB for receive */
    w(s, RA, le32(s->macaddr));
    w(s, RA + 4, (uint32_t)le16(s->macaddr + 4) | 0x80000000u); /* AV */
    timer_cancel(&s->tx_timer);
    phy_reset(s);
    s->msi_sent = 0;
    if (s->e1000e)
        e1000e_regs_reset(s);
    update_irq(s);
}

/* ---- receive ---- */

static uint64_t ring_base(struct e1000 *s, unsigned lo)
{
    return (uint64_t)r(s, lo + 4) << 32 | (r(s, lo) & ~0xfu);
}

static unsigned ring_size(struct e1000 *s, unsigned len_reg)
{
    return r(s, len_reg) / 16;
}

static size_t rx_bufsize(struct e1000 *s)
{
    uint32_t rc = r(s, RCTL);
    unsigned sz = rc >> 16 & 3;
    if (rc & RCTL_BSEX)
        return sz == 1 ? 16384 : sz == 2 ? 8192 : sz == 3 ? 4096 : 2048;
    return sz == 0 ? 2048 : sz == 1 ? 1024 : sz == 2 ? 512 : 256;
}

/* Descriptors the guest has given the card, or 0 when the ring is unusable. */
static unsigned rx_free(struct e1000 *s)
{
    unsigned n = ring_size(s, RDLEN), h = r(s, RDH), t = r(s, RDT);
    if (n == 0 || h >= n || t >= n)
        return 0;
    return (t + n - h) % n;
}

static unsigned rx_need(struct e1000 *s, size_t len)
{
    size_t b = rx_bufsize(s);
    return (unsigned)((len + b - 1) / b);
}

static bool e1000_can_receive(void *opaque)
{
    struct e1000 *s = opaque;
    if (!s->link || !(r(s, RCTL) & RCTL_EN))
        return false;
    return rx_free(s) >= rx_need(s, 1522 + 4);
}

static bool mta_match(struct e1000 *s, const uint8_t *da)
{
    unsigned mo = r(s, RCTL) >> 12 & 3;
    static const unsigned shift[4] = {4, 3, 2, 0};
    unsigned h = ((unsigned)da[4] >> shift[mo] | (unsigned)da[5] << (8 - shift[mo])) & 0xfff;
    return r(s, MTA + (h >> 5) * 4) >> (h & 31) & 1;
}

static bool rx_accept(struct e1000 *s, const uint8_t *f, size_t len)
{
    uint32_t rc = r(s, RCTL);
    if (len > RX_FRAME_MAX || (len > 1522 && !(rc & RCTL_LPE)))
        return false;
    if ((rc & RCTL_VFE) && be16(f + 12) == (uint16_t)r(s, VET) && len >= 18) {
        unsigned vid = be16(f + 14) & 0xfff;
        if (!(r(s, VFTA + (vid >> 5) * 4) >> (vid & 31) & 1))
            return false;
    }
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (memcmp(f, bcast, 6) == 0)
        return (rc & RCTL_BAM) || (rc & RCTL_MPE);
    if (f[0] & 1)
        return (rc & RCTL_MPE) || mta_match(s, f);
    if (rc & RCTL_UPE)
        return true;
    for (int i = 0; i < 16; i++) {
        uint32_t lo = r(s, RA + 8 * i), hi = r(s, RA + 8 * i + 4);
        if ((hi & 0x80000000u) && le32(f) == lo && le16(f + 4) == (uint16_t)hi)
            return true;
    }
    return false;
}

static void stat_add(struct e1000 *s, unsigned off, uint64_t n)
{
    uint64_t v = (uint64_t)r(s, off) + n;
    w(s, off, (uint32_t)v);
    if (off == GORCL || off == GOTCL || off == TORL || off == TOTL)
        w(s, off + 4, r(s, off + 4) + (uint32_t)(v >> 32));
}

static void e1000_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct e1000 *s = opaque;
    if (!rx_accept(s, frame, len))
        return;
    uint8_t *b = s->rxbuf;
    uint16_t special = 0;
    uint8_t vp = 0;
    if ((r(s, CTRL) & CTRL_VME) && len >= 18 && be16(frame + 12) == (uint16_t)r(s, VET)) {
        special = be16(frame + 14);
        vp = RXD_VP;
        memcpy(b, frame, 12);
        memcpy(b + 12, frame + 16, len - 16);
        len -= 4;
    } else {
        memcpy(b, frame, len);
    }
    if (len < 60) {
        memset(b + len, 0, 60 - len);
        len = 60;
    }
    if (!(r(s, RCTL) & RCTL_SECRC)) {
        uint32_t fcs = (uint32_t)crc32(0L, b, (uInt)len);
        for (int i = 0; i < 4; i++)
            b[len++] = (uint8_t)(fcs >> (8 * i));
    }
    unsigned n = ring_size(s, RDLEN);
    if (rx_free(s) < rx_need(s, len)) {
        stat_add(s, MPC, 1);
        stat_add(s, RNBC, 1);
        return;
    }
    uint64_t base = ring_base(s, RDBAL);
    size_t bs = rx_bufsize(s), done = 0;
    bool ext = s->e1000e && e1000e_rx_extended(s);
    while (done < len) {
        unsigned h = r(s, RDH);
        uint8_t d[16];
        uint64_t at = base + (uint64_t)h * 16;
        size_t chunk = len - done < bs ? len - done : bs;
        if (pci_dma_read(&s->pci, at, d, 16) == 0) {
            uint64_t buf = (uint64_t)le32(d + 4) << 32 | le32(d);
            uint8_t status = RXD_DD | RXD_IXSM | vp | (done + chunk == len ? RXD_EOP : 0);
            if (buf)
                pci_dma_write(&s->pci, buf, b + done, chunk);
            if (ext) {
                e1000e_rx_writeback(d, chunk, status, special);
            } else {
                put_le16(d + 8, (uint16_t)chunk);
                put_le16(d + 10, 0);
                d[12] = status;
                d[13] = 0;
                put_le16(d + 14, special);
            }
            pci_dma_write(&s->pci, at, d, 16);
        }
        done += chunk;
        w(s, RDH, (h + 1) % n);
    }
    stat_add(s, GPRC, 1);
    stat_add(s, TPR, 1);
    stat_add(s, GORCL, len);
    stat_add(s, TORL, len);
    if (frame[0] == 0xff && frame[1] == 0xff)
        stat_add(s, BPRC, 1);
    else if (frame[0] & 1)
        stat_add(s, MPRC, 1);
    uint32_t cause = ICR_RXT0 | (s->e1000e ? ICR_RXQ0 : 0);
    unsigned rdmts = r(s, RCTL) >> 8 & 3;
    if (rx_free(s) <= n >> (rdmts + 1))
        cause |= ICR_RXDMT0;
    set_cause(s, cause);
}

/* ---- transmit ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += be16(p + i);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The ones' complement sum of [start, end] (end 0: to the end), plus extra, stored at at. */
static void put_csum(uint8_t *p, size_t len, unsigned start, unsigned end, unsigned at, uint32_t extra)
{
    size_t stop = end && end < len ? (size_t)end + 1 : len;
    if (start >= stop || at + 2 > len)
        return;
    uint16_t c = (uint16_t)~csum_fold(csum_add(extra, p + start, stop - start));
    put_be16(p + at, c);
}

static void tx_emit(struct e1000 *s, uint8_t *p, size_t len)
{
    uint8_t *out = p;
    if (s->tx.vle && len >= 12) {
        memmove(s->seg + 16, p + 12, len - 12);
        if (p != s->seg)
            memcpy(s->seg, p, 12);
        put_be16(s->seg + 12, (uint16_t)r(s, VET));
        put_be16(s->seg + 14, s->tx.vlan);
        out = s->seg;
        len += 4;
    }
    if (len < 60) {
        memset(out + len, 0, 60 - len);
        len = 60;
    }
    stat_add(s, GPTC, 1);
    stat_add(s, TPT, 1);
    stat_add(s, GOTCL, len);
    stat_add(s, TOTL, len);
    if (out[0] == 0xff && out[1] == 0xff)
        stat_add(s, BPTC, 1);
    else if (out[0] & 1)
        stat_add(s, MPTC, 1);
    if (s->be)
        net_send(s->be, out, len);
}

static void tx_offload(struct e1000 *s, uint8_t *p, size_t len)
{
    if (s->tx.popts & POPTS_IXSM) {
        if (s->ctx.ipcso + 2u <= len)
            memset(p + s->ctx.ipcso, 0, 2);
        put_csum(p, len, s->ctx.ipcss, s->ctx.ipcse, s->ctx.ipcso, 0);
    }
    if (s->tx.popts & POPTS_TXSM)
        put_csum(p, len, s->ctx.tucss, s->ctx.tucse, s->ctx.tucso, 0);
}

/* TCP segmentation: each segment the header plus at most MSS of payload, lengths,
 * IP id, sequence number, flags and checksums fixed up. */
static void tx_segment(struct e1000 *s)
{
    size_t hdr = s->ctx.hdrlen, mss = s->ctx.mss, total = s->tx.len;
    unsigned ip = s->ctx.ipcss, l4 = s->ctx.tucss;
    bool v4 = s->ctx.tucmd & TUCMD_IP, tcp = s->ctx.tucmd & TUCMD_TCP;
    if (mss == 0 || hdr > total || hdr < l4 + (tcp ? 20u : 8u) || ip + 20 > l4 || hdr + mss > TX_MAX)
        return; /* nonsense context: nothing sane to send */
    uint8_t *src = s->tx.buf, *seg = s->seg;
    uint16_t ip_id = be16(src + ip + 4);
    uint32_t seq = (uint32_t)be16(src + l4 + 4) << 16 | be16(src + l4 + 6);
    for (size_t off = hdr, i = 0; off < total || i == 0; off += mss, i++) {
        size_t n = total - off < mss ? total - off : mss;
        bool last = off + n >= total;
        memcpy(seg, src, hdr);
        memcpy(seg + hdr, src + off, n);
        size_t len = hdr + n;
        if (v4) {
            put_be16(seg + ip + 2, (uint16_t)(len - ip));
            put_be16(seg + ip + 4, (uint16_t)(ip_id + i));
        } else {
            put_be16(seg + ip + 4, (uint16_t)(len - ip - 40));
        }
        if (tcp) {
            uint32_t sq = seq + (uint32_t)(off - hdr);
            put_be16(seg + l4 + 4, (uint16_t)(sq >> 16));
            put_be16(seg + l4 + 6, (uint16_t)sq);
            if (!last)
                seg[l4 + 13] &= (uint8_t)~0x09; /* FIN, PSH on the last segment only */
        } else {
            put_be16(seg + l4 + 4, (uint16_t)(len - l4));
        }
        if (s->tx.popts & POPTS_IXSM && v4) {
            memset(seg + s->ctx.ipcso, 0, 2);
            put_csum(seg, len, ip, s->ctx.ipcse ? s->ctx.ipcse : l4 - 1, s->ctx.ipcso, 0);
        }
        if (s->tx.popts & POPTS_TXSM) /* the field holds the pseudo-header sum without the length */
            put_csum(seg, len, l4, 0, s->ctx.tucso, (uint32_t)(len - l4));
        tx_emit(s, seg, len);
        if (last)
            break;
    }
}

static void tx_packet_done(struct e1000 *s)
{
    uint8_t *p = s->tx.buf;
    size_t len = s->tx.len;
    if (!s->tx.overflow && len >= 14) {
        if (s->tx.tse) {
            tx_segment(s);
        } else {
            if (s->tx.legacy_ic)
                put_csum(p, len, s->tx.css, 0, s->tx.cso, 0);
            else
                tx_offload(s, p, len);
            tx_emit(s, p, len);
        }
    }
    s->tx.len = 0;
    s->tx.started = s->tx.overflow = false;
}

static void tx_append(struct e1000 *s, uint64_t addr, size_t len)
{
    if (len > TX_MAX - s->tx.len) {
        s->tx.overflow = true;
        return;
    }
    if (pci_dma_read(&s->pci, addr, s->tx.buf + s->tx.len, len) < 0) {
        s->tx.overflow = true; /* outside RAM: the packet is dropped */
        return;
    }
    s->tx.len += len;
}

/* One descriptor; returns whether its status was written back (RS). */
static bool tx_descriptor(struct e1000 *s, uint8_t *d)
{
    uint64_t addr = (uint64_t)le32(d + 4) << 32 | le32(d);
    uint32_t cl = le32(d + 8);
    if (!(cl & TXD_DEXT)) {
        if (!s->tx.started) {
            s->tx.started = true;
            s->tx.tse = false;
            s->tx.vle = cl & TXD_VLE;
            s->tx.vlan = le16(d + 14);
        }
        s->tx.legacy_ic = cl & TXD_IC;
        s->tx.cso = d[10];
        s->tx.css = d[13];
        tx_append(s, addr, cl & 0xffff);
    } else if ((cl >> 20 & 0xf) == 0) { /* context */
        s->ctx.ipcss = d[0];
        s->ctx.ipcso = d[1];
        s->ctx.ipcse = le16(d + 2);
        s->ctx.tucss = d[4];
        s->ctx.tucso = d[5];
        s->ctx.tucse = le16(d + 6);
        s->ctx.tucmd = cl & 0xff000000u;
        s->ctx.hdrlen = d[13];
        s->ctx.mss = le16(d + 14);
    } else if ((cl >> 20 & 0xf) == 1) { /* data */
        if (!s->tx.started) {
            s->tx.started = true;
            s->tx.tse = cl & TXD_TSE;
            s->tx.popts = d[13];
            s->tx.legacy_ic = false;
            s->tx.vle = cl & TXD_VLE;
            s->tx.vlan = le16(d + 14);
        }
        tx_append(s, addr, cl & 0xfffff);
    } else {
        return false;
    }
    bool eop = (cl & TXD_EOP) && (!(cl & TXD_DEXT) || (cl >> 20 & 0xf) == 1);
    if (eop)
        tx_packet_done(s);
    return cl & (TXD_RS | TXD_RPS);
}

static void tx_run(struct e1000 *s)
{
    if (!(r(s, TCTL) & TCTL_EN) || !s->link)
        return;
    unsigned n = ring_size(s, TDLEN);
    uint64_t base = ring_base(s, TDBAL);
    uint32_t cause = 0;
    int budget = TX_BURST;
    while (n && r(s, TDH) < n && r(s, TDT) < n && r(s, TDH) != r(s, TDT)) {
        if (budget-- == 0) {
            timer_arm(&s->tx_timer, clock_now_ns(s->clock) + 10000);
            break;
        }
        unsigned h = r(s, TDH);
        uint8_t d[16];
        uint64_t at = base + (uint64_t)h * 16;
        if (pci_dma_read(&s->pci, at, d, 16) < 0) {
            w(s, TDH, (h + 1) % n); /* a ring outside RAM: step over it */
            continue;
        }
        if (tx_descriptor(s, d)) {
            d[12] |= 1; /* DD */
            pci_dma_write(&s->pci, at + 12, d + 12, 1);
            cause |= ICR_TXDW | (s->e1000e ? ICR_TXQ0 : 0);
        }
        w(s, TDH, (h + 1) % n);
    }
    if (r(s, TDH) == r(s, TDT))
        cause |= ICR_TXQE;
    if (cause)
        set_cause(s, cause);
}

static void tx_timer_fire(void *opaque)
{
    tx_run(opaque);
}

/* ---- registers ---- */

static uint32_t reg_read(struct e1000 *s, unsigned off)
{
    off &= REG_SPACE - 4;
    uint32_t v = r(s, off);
    if (s->e1000e && e1000e_reg_read(s, off, &v))
        return v;
    switch (off) {
    case STATUS: return status_read(s);
    case EECD: return eecd_read(s);
    case ICR:
        w(s, ICR, 0);
        update_irq(s);
        return v;
    case ICS:
    case IMC: return 0;
    }
    if (off >= STATS_FIRST && off <= STATS_LAST) {
        bool low64 = off == GORCL || off == GOTCL || off == TORL || off == TOTL;
        bool high64 = off == GORCL + 4 || off == GOTCL + 4 || off == TORL + 4 || off == TOTL + 4;
        if (high64) /* the high half clears both */
            w(s, off - 4, 0);
        if (!low64)
            w(s, off, 0);
    }
    return v;
}

static void reg_write(struct e1000 *s, unsigned off, uint32_t v)
{
    off &= REG_SPACE - 4;
    if (s->e1000e && e1000e_reg_write(s, off, v))
        return;
    switch (off) {
    case CTRL:
        if (v & CTRL_RST) {
            regs_reset(s);
            return;
        }
        w(s, CTRL, v & ~(CTRL_RST | CTRL_PHY_RST));
        return;
    case STATUS: return;
    case EECD: eecd_write(s, v); return;
    case EERD: eerd_write(s, v); return;
    case MDIC: mdic_write(s, v); return;
    case ICR: w(s, ICR, r(s, ICR) & ~v); update_irq(s); return;
    case ICS: set_cause(s, v); return;
    case IMS: w(s, IMS, r(s, IMS) | v); update_irq(s); return;
    case IMC: w(s, IMS, r(s, IMS) & ~v); update_irq(s); return;
    case RCTL:
        w(s, RCTL, v);
        if (s->be)
            net_rx_ready(s->be);
        return;
    case RDLEN:
    case TDLEN: w(s, off, v & 0xfff80); return;
    case RDH:
    case TDH: w(s, off, v & 0xffff); return;
    case RDT:
        w(s, RDT, v & 0xffff);
        if (s->be)
            net_rx_ready(s->be);
        return;
    case TDT: w(s, TDT, v & 0xffff); tx_run(s); return;
    case TCTL: w(s, TCTL, v); tx_run(s); return;
    }
    if (off >= STATS_FIRST && off <= STATS_LAST)
        return;
    w(s, off, v);
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    return reg_read(opaque, (unsigned)offset);
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    reg_write(opaque, (unsigned)offset, (uint32_t)value);
}

static const struct bus_ops mmio_ops = {
    .read = mmio_read,
    .write = mmio_write,
    .min_size = 4,
    .max_size = 4,
};

/* BAR1: IOADDR at 0 selects a register, IODATA at 4 reads or writes it. */
static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct e1000 *s = opaque;
    if (offset == 0)
        return s->ioaddr;
    if (offset == 4)
        return reg_read(s, s->ioaddr);
    return 0;
}

static void io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct e1000 *s = opaque;
    if (offset == 0)
        s->ioaddr = (uint32_t)value & (REG_SPACE - 4);
    else if (offset == 4)
        reg_write(s, s->ioaddr, (uint32_t)value);
}

static const struct bus_ops io_ops = {
    .read = io_read,
    .write = io_write,
    .min_size = 4,
    .max_size = 4,
};

/* ---- the device ---- */

void e1000_reset(struct e1000 *s)
{
    pci_device_reset(&s->pci);
    regs_reset(s);
}

struct pci_device *e1000_pci(struct e1000 *s)
{
    return &s->pci;
}

struct e1000 *e1000_alloc(struct clock *clock, const uint8_t mac[6], struct net_backend *be, bool link,
                          bool e1000e)
{
    struct e1000 *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->e1000e = e1000e;
    s->clock = clock;
    s->be = be;
    s->link = link;
    memcpy(s->macaddr, mac, 6);
    eeprom_fill(s);
    timer_init(&s->tx_timer, clock, tx_timer_fire, s);
    return s;
}

struct e1000 *e1000_register(struct e1000 *s, struct pci_bus *pci, int devfn)
{
    s->pci.opaque = s;
    if (pci && pci_register(pci, &s->pci, devfn) < 0) {
        free(s);
        return NULL;
    }
    if (s->be) {
        struct net_client c = {.can_receive = e1000_can_receive, .receive = e1000_receive, .opaque = s};
        net_attach(s->be, &c);
        net_set_link(s->be, s->link);
    }
    regs_reset(s);
    return s;
}

/* BAR0 the registers, BAR1 IOADDR/IODATA */
void e1000_setup_bars(struct e1000 *s, int io_bar, uint64_t io_size)
{
    pci_device_set_bar(&s->pci, 0, PCI_BAR_MEM32, REG_SPACE, &mmio_ops, s, NULL);
    pci_device_set_bar(&s->pci, io_bar, PCI_BAR_IO, io_size, &io_ops, s, NULL);
}

struct e1000 *e1000_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                        struct net_backend *be, bool link)
{
    struct e1000 *s = e1000_alloc(clock, mac, be, link, false);
    if (!s)
        return NULL;
    pci_device_init(&s->pci, "e1000", 0x8086, 0x100f, 0x020000, 0x01, 1);
    pci_set_subsystem(&s->pci, 0x15ad, 0x0750);
    e1000_setup_bars(s, 1, 0x40);
    return e1000_register(s, pci, devfn);
}

void e1000_set_rom(struct e1000 *s, uint8_t *image, uint64_t size)
{
    free(s->rom);
    s->rom = image;
    pci_device_set_rom(&s->pci, image, size);
}

void e1000_free(struct e1000 *s)
{
    if (!s)
        return;
    timer_cancel(&s->tx_timer);
    free(s->rom);
    free(s);
}
