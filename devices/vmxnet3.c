/*
 * VMware vmxnet3 paravirtual Ethernet (PCI 15AD:07B0, class 0200, revision 1
 * of the device interface, UPT version 1), as Linux's vmxnet3 driver and
 * VMware's published vmxnet3_defs.h describe it.
 *
 * BAR0 (4 KiB, "PT"): the interrupt mask registers IMR[n] (8 bytes apart) and
 * the doorbells TXPROD[q], RXPROD[q], RXPROD2[q]. BAR1 (8 KiB, "VD"): VRRS and
 * UVRS (revision negotiation: revision 1 only), DSAL/DSAH (the guest's
 * DriverShared area), CMD (SET commands run on the write, GET commands leave
 * their answer to be read back), MACL/MACH, ICR (INTx acknowledge), ECR (event
 * acknowledge). BAR2: the MSI-X table and PBA (pci.c); there is an MSI
 * capability too, and INTA when the driver takes neither.
 *
 * ACTIVATE_DEV reads DriverShared and the queue descriptor table: up to
 * VMX_MAX_TXQ transmit and VMX_MAX_RXQ receive queues. Ownership of every
 * ring entry is decided by its generation bit, as on the real device: the
 * doorbells only say "look". A transmit packet is the chain of descriptors
 * from SOP to EOP; it goes to the back end with its offload done (checksum at
 * hlen..end stored at msscof, TCP segmentation of IPv4 and IPv6 at MSS msscof,
 * VLAN tag insertion) and one completion descriptor names its EOP. A received
 * frame fills a head buffer of ring 1, then body buffers of ring 1 or ring 2,
 * with one completion each (the last: "checksum not calculated", a stripped
 * VLAN tag when the guest asked for UPT1_F_RXVLAN). Frames are filtered by
 * rxMode, the multicast table and the VLAN filter table. Interrupts: one per
 * queue as the driver assigned them, auto-masked on delivery when the driver
 * asks for autoMask, held pending while masked. GET_STATS fills the UPT1
 * counters. Not here: RSS (everything arrives on receive queue 0), LRO,
 * receive checksum validation, interrupt moderation, wake-up patterns,
 * revisions 2 and later (data rings for receive, capability registers).
 *
 * Every descriptor and buffer moves through pci_dma_* (bus mastering, checked
 * RAM); ring sizes are checked at activation; one doorbell handles at most
 * TX_BUDGET packets and a timer takes the rest.
 */
#include "devices/vmxnet3.h"

#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

/* BAR0 */
#define PT_IMR 0x000
#define PT_TXPROD 0x600
#define PT_RXPROD 0x800
#define PT_RXPROD2 0xa00
#define PT_SIZE 0x1000
/* BAR1 */
#define VD_VRRS 0x00
#define VD_UVRS 0x08
#define VD_DSAL 0x10
#define VD_DSAH 0x18
#define VD_CMD 0x20
#define VD_MACL 0x28
#define VD_MACH 0x30
#define VD_ICR 0x38
#define VD_ECR 0x40
#define VD_SIZE 0x2000

#define CMD_ACTIVATE_DEV 0xcafe0000u
#define CMD_QUIESCE_DEV 0xcafe0001u
#define CMD_RESET_DEV 0xcafe0002u
#define CMD_UPDATE_RX_MODE 0xcafe0003u
#define CMD_UPDATE_MAC_FILTERS 0xcafe0004u
#define CMD_UPDATE_VLAN_FILTERS 0xcafe0005u
#define CMD_UPDATE_FEATURE 0xcafe0009u
#define CMD_GET_QUEUE_STATUS 0xf00d0000u
#define CMD_GET_STATS 0xf00d0001u
#define CMD_GET_LINK 0xf00d0002u
#define CMD_GET_PERM_MAC_LO 0xf00d0003u
#define CMD_GET_PERM_MAC_HI 0xf00d0004u
#define CMD_GET_CONF_INTR 0xf00d0008u

#define LINK_UP (10000u << 16 | 1) /* 10 Gb/s, up */
#define REV1_MAGIC 0xbabefee1u

/* DriverShared (byte offsets) */
#define DS_MAGIC 0
#define DS_UPT_FEATURES 24
#define DS_QDESC_PA 40
#define DS_QDESC_LEN 52
#define DS_NUM_TXQ 62
#define DS_NUM_RXQ 63
#define DS_AUTOMASK 80
#define DS_NUM_INTRS 81
#define DS_EVENT_INTR 82
#define DS_RX_MODE 120
#define DS_MF_LEN 124
#define DS_MF_PA 128
#define DS_VF_TABLE 136
#define DS_ECR 696
#define DS_SIZE 720
/* TxQueueDesc / RxQueueDesc, 256 bytes each, transmit queues first */
#define QD_SIZE 256
#define TQ_RING 16
#define TQ_COMP 32
#define TQ_RING_SIZE 56
#define TQ_COMP_SIZE 64
#define RQ_RING0 16
#define RQ_RING1 24
#define RQ_COMP 32
#define RQ_RING0_SIZE 56
#define RQ_RING1_SIZE 60
#define RQ_COMP_SIZE 64
#define Q_INTR 72
#define Q_STATS 88

#define UPT1_F_RXVLAN 0x4
#define RXM_UCAST 0x01
#define RXM_MCAST 0x02
#define RXM_BCAST 0x04
#define RXM_ALL_MULTI 0x08
#define RXM_PROMISC 0x10

#define OM_CSUM 2
#define OM_TSO 3

#define VMX_MAX_TXQ 8
#define VMX_MAX_RXQ 8
#define VMX_INTRS 25
#define RING_MAX 4096
#define COMP_RING_MAX 8192
#define MF_MAX 64
#define TX_MAX NET_FRAME_MAX
#define TX_BUF_MAX 16384
#define HDR_MAX 256
#define TX_BUDGET 128
#define RX_PIECES 32

struct txq {
    uint64_t ring, comp;
    uint32_t size, comp_size;
    uint32_t next, comp_next;
    bool gen, comp_gen;
    uint8_t intr;
    uint64_t stats[10];
};

struct rxq {
    uint64_t ring[2], comp;
    uint32_t size[2], comp_size;
    uint32_t next[2], comp_next;
    bool gen[2], comp_gen;
    uint8_t intr;
    uint64_t stats[10];
};

/* UPT1 counter slots (the same order for both directions after the first pair) */
enum { ST_TSO_PKTS, ST_TSO_BYTES, ST_UCAST, ST_UCAST_BYTES, ST_MCAST, ST_MCAST_BYTES, ST_BCAST,
       ST_BCAST_BYTES, ST_ERROR_OR_NOBUF, ST_DISCARD_OR_ERROR };

struct vmxnet3 {
    struct pci_device pci;
    uint8_t *rom; /* the PCI expansion ROM image (owned), or NULL */
    struct clock *clock;
    struct net_backend *be;
    bool link;
    uint8_t perm_mac[6], mac[6];
    uint32_t vrrs, uvrs;
    uint32_t dsal, dsah;
    uint32_t cmd_result;
    bool active;
    uint64_t shared;
    uint64_t features;
    bool automask;
    unsigned nintrs;
    uint8_t event_intr;
    uint32_t ecr;
    bool imr[VMX_INTRS], pending[VMX_INTRS];
    uint32_t rx_mode;
    unsigned nmf;
    uint8_t mf[MF_MAX][6];
    uint8_t vf[512];
    unsigned ntxq, nrxq;
    struct txq txq[VMX_MAX_TXQ];
    struct rxq rxq[VMX_MAX_RXQ];
    struct timer tx_timer, rx_timer;
    /* for --trace=pci: what the guest made the card do */
    uint64_t n_sent, n_tso, n_tso_segs, n_csum, n_received, n_msix, n_msi, n_intx;
    uint8_t txbuf[TX_MAX + 4];
    uint8_t seg[HDR_MAX + TX_BUF_MAX + 4];
    uint8_t rxbuf[NET_FRAME_MAX];
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- interrupts ---- */

static bool msi_mode(struct vmxnet3 *s)
{
    return pci_msi_active(&s->pci);
}

static void update_intx(struct vmxnet3 *s)
{
    int level = 0;
    if (!msi_mode(s))
        for (unsigned i = 0; i < VMX_INTRS; i++)
            level |= s->pending[i] && !s->imr[i];
    pci_set_irq(&s->pci, level);
}

static void raise_intr(struct vmxnet3 *s, unsigned idx)
{
    if (idx >= VMX_INTRS)
        idx = 0;
    s->pending[idx] = true;
    if (msi_mode(s) && !s->imr[idx]) {
        s->pending[idx] = false;
        if (pci_msix_enabled(&s->pci))
            s->n_msix++;
        else
            s->n_msi++;
        pci_msi_notify(&s->pci, idx);
        if (s->automask)
            s->imr[idx] = true;
    }
    update_intx(s);
}

static void set_imr(struct vmxnet3 *s, unsigned idx, bool masked)
{
    s->imr[idx] = masked;
    if (!masked && s->pending[idx] && msi_mode(s))
        raise_intr(s, idx);
    update_intx(s);
}

/* ICR read (INTx): any cause pending; acknowledges them all (auto-masking them). */
static uint32_t icr_read(struct vmxnet3 *s)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < VMX_INTRS; i++) {
        if (s->pending[i] && !s->imr[i]) {
            v = 1;
            s->n_intx++;
            s->pending[i] = false;
            if (s->automask)
                s->imr[i] = true;
        }
    }
    update_intx(s);
    return v;
}

/* ---- checksums and offloads ---- */

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

static void count_tx(struct txq *q, const uint8_t *f, size_t len)
{
    int k = f[0] == 0xff && f[1] == 0xff ? ST_BCAST : (f[0] & 1) ? ST_MCAST : ST_UCAST;
    q->stats[k]++;
    q->stats[k + 1] += len;
}

/* To the back end, VLAN tag inserted (ti), padded to the Ethernet minimum. */
static void tx_emit(struct vmxnet3 *s, struct txq *q, uint8_t *p, size_t len, bool ti, uint16_t tci)
{
    if (ti && len >= 12) {
        memmove(p + 16, p + 12, len - 12);
        put_be16(p + 12, 0x8100);
        put_be16(p + 14, tci);
        len += 4;
    }
    if (len < 60) {
        memset(p + len, 0, 60 - len);
        len = 60;
    }
    count_tx(q, p, len);
    s->n_sent++;
    if (s->be)
        net_send(s->be, p, len);
}

/* L3 and L4 offsets of an IPv4 or IPv6 TCP frame; false when it is neither. */
static bool tcp_offsets(const uint8_t *p, size_t len, unsigned *l3, unsigned *l4, bool *v6)
{
    unsigned o = 14;
    if (len < 18)
        return false;
    uint16_t type = be16(p + 12);
    if (type == 0x8100) {
        o = 18;
        type = be16(p + 16);
    }
    if (type == 0x0800 && len >= o + 20u) {
        *v6 = false;
        *l4 = o + (p[o] & 15) * 4u;
        if (p[o + 9] != 6 || *l4 < o + 20)
            return false;
    } else if (type == 0x86dd && len >= o + 40u) {
        *v6 = true;
        *l4 = o + 40;
        if (p[o + 6] != 6)
            return false;
    } else {
        return false;
    }
    *l3 = o;
    return *l4 + 20u <= len;
}

/* One TSO segment in s->seg: lengths, IP id and checksum, sequence, flags, TCP checksum. */
static void tso_fix(uint8_t *g, size_t glen, unsigned l3, unsigned l4, bool v6, unsigned i, uint32_t seq,
                    bool last)
{
    size_t tcplen = glen - l4;
    uint32_t sum;
    if (v6) {
        put_be16(g + l3 + 4, (uint16_t)(glen - l3 - 40));
        sum = csum_add(0, g + l3 + 8, 32);
    } else {
        put_be16(g + l3 + 2, (uint16_t)(glen - l3));
        put_be16(g + l3 + 4, (uint16_t)(be16(g + l3 + 4) + i));
        put_be16(g + l3 + 10, 0);
        put_be16(g + l3 + 10, (uint16_t)~csum_fold(csum_add(0, g + l3, l4 - l3)));
        sum = csum_add(0, g + l3 + 12, 8);
    }
    put_be32(g + l4 + 4, seq);
    if (!last)
        g[l4 + 13] &= (uint8_t)~0x09; /* FIN, PSH only on the last */
    if (i)
        g[l4 + 13] &= (uint8_t)~0x80; /* CWR only on the first */
    sum += 6 + (uint32_t)tcplen;
    put_be16(g + l4 + 16, 0);
    put_be16(g + l4 + 16, (uint16_t)~csum_fold(csum_add(sum, g + l4, tcplen)));
}

static bool tx_tso(struct vmxnet3 *s, struct txq *q, size_t len, unsigned mss, bool ti, uint16_t tci)
{
    uint8_t *p = s->txbuf;
    unsigned l3, l4;
    bool v6;
    if (mss == 0 || !tcp_offsets(p, len, &l3, &l4, &v6))
        return false;
    size_t hdr = l4 + (p[l4 + 12] >> 4) * 4u;
    if (hdr > HDR_MAX || hdr > len || hdr < l4 + 20)
        return false;
    uint32_t seq = be32(p + l4 + 4);
    size_t payload = len - hdr;
    unsigned i = 0;
    for (size_t off = 0; off < payload || (payload == 0 && i == 0); off += mss, i++) {
        size_t n = payload - off < mss ? payload - off : mss;
        memcpy(s->seg, p, hdr);
        memcpy(s->seg + hdr, p + hdr + off, n);
        tso_fix(s->seg, hdr + n, l3, l4, v6, i, seq + (uint32_t)off, off + n >= payload);
        tx_emit(s, q, s->seg, hdr + n, ti, tci);
        if (payload == 0)
            break;
    }
    s->n_tso++;
    s->n_tso_segs += i;
    q->stats[ST_TSO_PKTS] += i;
    q->stats[ST_TSO_BYTES] += len;
    return true;
}

/* The packet in s->txbuf, per the SOP descriptor's offload fields. */
static void tx_packet(struct vmxnet3 *s, struct txq *q, size_t len, const uint8_t *sop)
{
    uint32_t d2 = le32(sop + 8), d3 = le32(sop + 12);
    unsigned msscof = d2 >> 18, hlen = d3 & 0x3ff, om = d3 >> 10 & 3;
    bool ti = d3 >> 15 & 1;
    uint16_t tci = (uint16_t)(d3 >> 16);
    if (om == OM_TSO) {
        if (!tx_tso(s, q, len, msscof, ti, tci))
            q->stats[ST_DISCARD_OR_ERROR]++;
        return;
    }
    if (om == OM_CSUM) {
        if (hlen >= len || msscof + 2u > len || msscof < hlen) {
            q->stats[ST_DISCARD_OR_ERROR]++;
            return;
        }
        uint16_t c = (uint16_t)~csum_fold(csum_add(0, s->txbuf + hlen, len - hlen));
        put_be16(s->txbuf + msscof, c);
        s->n_csum++;
    }
    tx_emit(s, q, s->txbuf, len, ti, tci);
}

/* ---- transmit ---- */

static void ring_step(uint32_t *idx, bool *gen, uint32_t size)
{
    if (++*idx >= size) {
        *idx = 0;
        *gen = !*gen;
    }
}

static void tx_complete(struct vmxnet3 *s, struct txq *q, uint32_t eop)
{
    uint8_t c[16] = {0};
    uint64_t at = q->comp + (uint64_t)q->comp_next * 16;
    put_le32(c, eop & 0xfff);
    put_le32(c + 12, (uint32_t)q->comp_gen << 31); /* type 0: transmit completion */
    pci_dma_write(&s->pci, at, c, 12);
    pci_dma_write(&s->pci, at + 12, c + 12, 4); /* the gen bit last */
    ring_step(&q->comp_next, &q->comp_gen, q->comp_size);
}

/* One packet from q->next; false when the ring holds no complete packet. */
static bool tx_one(struct vmxnet3 *s, struct txq *q)
{
    uint32_t idx = q->next;
    bool gen = q->gen, bad = false;
    uint8_t sop[16], d[16];
    size_t len = 0;
    for (uint32_t n = 0;; n++) {
        if (n == q->size) { /* a ring full of descriptors without EOP: drop them all */
            bad = true;
            break;
        }
        if (pci_dma_read(&s->pci, q->ring + (uint64_t)idx * 16, d, 16) < 0)
            return false;
        uint32_t d2 = le32(d + 8), d3 = le32(d + 12);
        if ((bool)(d2 >> 14 & 1) != gen)
            return false; /* not the guest's yet: the packet is incomplete */
        if (n == 0)
            memcpy(sop, d, 16);
        size_t blen = d2 & 0x3fff ? d2 & 0x3fff : TX_BUF_MAX;
        if (len + blen > TX_MAX)
            bad = true;
        else if (pci_dma_read(&s->pci, le64(d), s->txbuf + len, blen) < 0)
            bad = true;
        else
            len += blen;
        uint32_t here = idx;
        ring_step(&idx, &gen, q->size);
        if (d3 >> 12 & 1) { /* EOP */
            q->next = idx;
            q->gen = gen;
            if (bad)
                q->stats[ST_ERROR_OR_NOBUF]++;
            else
                tx_packet(s, q, len, sop);
            tx_complete(s, q, here);
            return true;
        }
    }
    q->next = idx;
    q->gen = gen;
    q->stats[ST_ERROR_OR_NOBUF]++;
    return true;
}

static void tx_run(struct vmxnet3 *s)
{
    if (!s->active || !s->link)
        return;
    for (unsigned i = 0; i < s->ntxq; i++) {
        struct txq *q = &s->txq[i];
        int n = 0;
        while (n < TX_BUDGET && tx_one(s, q))
            n++;
        if (n == TX_BUDGET)
            timer_arm(&s->tx_timer, clock_now_ns(s->clock) + 10000);
        if (n)
            raise_intr(s, q->intr);
    }
}

static void tx_timer_fire(void *opaque)
{
    tx_run(opaque);
}

/* ---- receive ---- */

struct rx_piece {
    int ring;
    uint32_t idx;
    uint32_t len;
};

/* The next descriptor of ring r if the guest has given it to the device (its buffer address and length). */
static bool rx_desc(struct vmxnet3 *s, struct rxq *q, int r, uint32_t idx, bool gen, uint64_t *addr,
                    uint32_t *len, int *btype)
{
    uint8_t d[16];
    if (q->size[r] == 0 || pci_dma_read(&s->pci, q->ring[r] + (uint64_t)idx * 16, d, 16) < 0)
        return false;
    uint32_t d2 = le32(d + 8);
    if ((bool)(d2 >> 31) != gen)
        return false;
    *addr = le64(d);
    *len = d2 & 0x3fff;
    *btype = d2 >> 14 & 1;
    return true;
}

static bool vmxnet3_can_receive(void *opaque)
{
    struct vmxnet3 *s = opaque;
    if (!s->active || !s->link)
        return false;
    struct rxq *q = &s->rxq[0];
    uint64_t addr;
    uint32_t len;
    int btype;
    if (rx_desc(s, q, 0, q->next[0], q->gen[0], &addr, &len, &btype) && len)
        return true;
    /* The driver refills without a doorbell: look again soon. */
    if (!timer_armed(&s->rx_timer))
        timer_arm(&s->rx_timer, clock_now_ns(s->clock) + 1000000);
    return false;
}

static void rx_timer_fire(void *opaque)
{
    struct vmxnet3 *s = opaque;
    if (s->be)
        net_rx_ready(s->be);
}

static bool rx_accept(struct vmxnet3 *s, const uint8_t *f, size_t len)
{
    if (len < 14)
        return false;
    if (s->rx_mode & RXM_PROMISC)
        return true;
    if (be16(f + 12) == 0x8100 && len >= 18) {
        unsigned vid = be16(f + 14) & 0xfff;
        if (!(s->vf[vid >> 3] >> (vid & 7) & 1))
            return false;
    }
    if (f[0] == 0xff && f[1] == 0xff && f[2] == 0xff && f[3] == 0xff && f[4] == 0xff && f[5] == 0xff)
        return s->rx_mode & RXM_BCAST;
    if (f[0] & 1) {
        if (s->rx_mode & RXM_ALL_MULTI)
            return true;
        if (!(s->rx_mode & RXM_MCAST))
            return false;
        for (unsigned i = 0; i < s->nmf; i++)
            if (!memcmp(s->mf[i], f, 6))
                return true;
        return false;
    }
    return (s->rx_mode & RXM_UCAST) && !memcmp(f, s->mac, 6);
}

/* Buffers for len bytes: a head buffer of ring 1, then body buffers of ring 1 or 2. */
static int rx_plan(struct vmxnet3 *s, struct rxq *q, size_t len, struct rx_piece *pc, uint64_t *addr)
{
    uint32_t next[2] = {q->next[0], q->next[1]};
    bool gen[2] = {q->gen[0], q->gen[1]};
    size_t got = 0;
    int n = 0;
    while (got < len) {
        if (n == RX_PIECES)
            return -1;
        uint32_t blen;
        int bt, r = 0;
        bool ok = rx_desc(s, q, 0, next[0], gen[0], &addr[n], &blen, &bt);
        if (n > 0 && (!ok || bt != 1)) {
            r = 1;
            ok = rx_desc(s, q, 1, next[1], gen[1], &addr[n], &blen, &bt);
        }
        if (!ok || blen == 0 || (n == 0 && bt != 0))
            return -1;
        pc[n].ring = r;
        pc[n].idx = next[r];
        pc[n].len = (uint32_t)(len - got < blen ? len - got : blen);
        got += pc[n].len;
        ring_step(&next[r], &gen[r], q->size[r]);
        n++;
    }
    return n;
}

static void rx_complete(struct vmxnet3 *s, struct rxq *q, const struct rx_piece *p, bool sop, bool eop,
                        bool ts, uint16_t tci)
{
    uint8_t c[16] = {0};
    unsigned rqid = p->ring ? s->nrxq : 0;
    put_le32(c, (p->idx & 0xfff) | (uint32_t)eop << 14 | (uint32_t)sop << 15 | (rqid & 0x3ff) << 16 |
                    1u << 30 /* checksum not calculated */);
    put_le32(c + 8, p->len | (uint32_t)ts << 15 | (uint32_t)tci << 16);
    put_le32(c + 12, 3u << 24 | (uint32_t)q->comp_gen << 31);
    uint64_t at = q->comp + (uint64_t)q->comp_next * 16;
    pci_dma_write(&s->pci, at, c, 12);
    pci_dma_write(&s->pci, at + 12, c + 12, 4);
    ring_step(&q->comp_next, &q->comp_gen, q->comp_size);
}

static void vmxnet3_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct vmxnet3 *s = opaque;
    struct rxq *q = &s->rxq[0];
    if (!s->active || !s->link || !rx_accept(s, frame, len))
        return;
    bool ts = false;
    uint16_t tci = 0;
    if ((s->features & UPT1_F_RXVLAN) && len >= 18 && be16(frame + 12) == 0x8100) {
        ts = true;
        tci = be16(frame + 14);
        memcpy(s->rxbuf, frame, 12);
        memcpy(s->rxbuf + 12, frame + 16, len - 16);
        frame = s->rxbuf;
        len -= 4;
    }
    struct rx_piece pc[RX_PIECES];
    uint64_t addr[RX_PIECES];
    int n = rx_plan(s, q, len, pc, addr);
    if (n <= 0) {
        q->stats[ST_ERROR_OR_NOBUF]++;
        return;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        pci_dma_write(&s->pci, addr[i], frame + off, pc[i].len);
        off += pc[i].len;
        ring_step(&q->next[pc[i].ring], &q->gen[pc[i].ring], q->size[pc[i].ring]);
        rx_complete(s, q, &pc[i], i == 0, i == n - 1, ts, tci);
    }
    int k = frame[0] == 0xff && frame[1] == 0xff ? ST_BCAST : (frame[0] & 1) ? ST_MCAST : ST_UCAST;
    q->stats[k]++;
    q->stats[k + 1] += len;
    s->n_received++;
    raise_intr(s, q->intr);
}

/* ---- commands ---- */

static uint32_t ds_le32(const uint8_t *ds, unsigned off)
{
    return le32(ds + off);
}

static bool ring_ok(uint32_t size, uint32_t max)
{
    return size > 0 && size <= max;
}

static bool read_txq(struct vmxnet3 *s, struct txq *q, uint64_t at)
{
    uint8_t b[QD_SIZE];
    if (pci_dma_read(&s->pci, at, b, 80) < 0)
        return false;
    memset(q, 0, sizeof *q);
    q->ring = le64(b + TQ_RING);
    q->comp = le64(b + TQ_COMP);
    q->size = le32(b + TQ_RING_SIZE);
    q->comp_size = le32(b + TQ_COMP_SIZE);
    q->intr = b[Q_INTR];
    q->gen = q->comp_gen = true;
    return ring_ok(q->size, RING_MAX) && ring_ok(q->comp_size, RING_MAX);
}

static bool read_rxq(struct vmxnet3 *s, struct rxq *q, uint64_t at)
{
    uint8_t b[QD_SIZE];
    if (pci_dma_read(&s->pci, at, b, 80) < 0)
        return false;
    memset(q, 0, sizeof *q);
    q->ring[0] = le64(b + RQ_RING0);
    q->ring[1] = le64(b + RQ_RING1);
    q->comp = le64(b + RQ_COMP);
    q->size[0] = le32(b + RQ_RING0_SIZE);
    q->size[1] = le32(b + RQ_RING1_SIZE);
    q->comp_size = le32(b + RQ_COMP_SIZE);
    q->intr = b[Q_INTR];
    q->gen[0] = q->gen[1] = q->comp_gen = true;
    return ring_ok(q->size[0], RING_MAX) && q->size[1] <= RING_MAX && ring_ok(q->comp_size, COMP_RING_MAX);
}

static void read_rx_filters(struct vmxnet3 *s, const uint8_t *ds)
{
    s->rx_mode = ds_le32(ds, DS_RX_MODE);
    unsigned n = (ds[DS_MF_LEN] | ds[DS_MF_LEN + 1] << 8) / 6;
    s->nmf = 0;
    if (n > MF_MAX)
        s->rx_mode |= RXM_ALL_MULTI; /* more groups than the table holds */
    else if (n && pci_dma_read(&s->pci, le64(ds + DS_MF_PA), s->mf, n * 6) == 0)
        s->nmf = n;
    memcpy(s->vf, ds + DS_VF_TABLE, sizeof s->vf);
}

static int read_shared(struct vmxnet3 *s, uint8_t *ds)
{
    return pci_dma_read(&s->pci, s->shared, ds, DS_SIZE);
}

static void deactivate(struct vmxnet3 *s)
{
    s->active = false;
    timer_cancel(&s->tx_timer);
    timer_cancel(&s->rx_timer);
}

static uint32_t activate(struct vmxnet3 *s)
{
    uint8_t ds[DS_SIZE];
    deactivate(s);
    s->shared = (uint64_t)s->dsah << 32 | s->dsal;
    if (read_shared(s, ds) < 0 || ds_le32(ds, DS_MAGIC) != REV1_MAGIC)
        return 1;
    s->ntxq = ds[DS_NUM_TXQ];
    s->nrxq = ds[DS_NUM_RXQ];
    uint64_t qd = le64(ds + DS_QDESC_PA);
    if (s->ntxq < 1 || s->ntxq > VMX_MAX_TXQ || s->nrxq < 1 || s->nrxq > VMX_MAX_RXQ ||
        ds_le32(ds, DS_QDESC_LEN) < (s->ntxq + s->nrxq) * QD_SIZE)
        return 1;
    for (unsigned i = 0; i < s->ntxq; i++)
        if (!read_txq(s, &s->txq[i], qd + i * QD_SIZE))
            return 1;
    for (unsigned i = 0; i < s->nrxq; i++)
        if (!read_rxq(s, &s->rxq[i], qd + (s->ntxq + i) * QD_SIZE))
            return 1;
    s->features = le64(ds + DS_UPT_FEATURES);
    s->automask = ds[DS_AUTOMASK] != 0;
    s->nintrs = ds[DS_NUM_INTRS] ? ds[DS_NUM_INTRS] : 1;
    s->event_intr = ds[DS_EVENT_INTR];
    read_rx_filters(s, ds);
    s->ecr = 0;
    s->active = true;
    if (trace_on(TRACE_PCI))
        trace_printf(TRACE_PCI, "vmxnet3 %02x.%x: activated: %u tx and %u rx queues, %s, %u interrupts%s, "
                     "features 0x%llx", s->pci.devfn >> 3, s->pci.devfn & 7, s->ntxq, s->nrxq,
                     pci_msix_enabled(&s->pci) ? "MSI-X" : pci_msi_enabled(&s->pci) ? "MSI" : "INTx",
                     s->nintrs, s->automask ? " auto-masked" : "", (unsigned long long)s->features);
    if (s->be)
        net_rx_ready(s->be);
    return 0;
}

static void update_from_shared(struct vmxnet3 *s, uint32_t cmd)
{
    uint8_t ds[DS_SIZE];
    if (!s->active || read_shared(s, ds) < 0)
        return;
    if (cmd == CMD_UPDATE_FEATURE)
        s->features = le64(ds + DS_UPT_FEATURES);
    else
        read_rx_filters(s, ds);
    if (s->be)
        net_rx_ready(s->be);
}

static void write_stats(struct vmxnet3 *s)
{
    uint8_t b[80];
    uint64_t qd = 0;
    uint8_t ds[DS_SIZE];
    if (!s->active || read_shared(s, ds) < 0)
        return;
    qd = le64(ds + DS_QDESC_PA);
    for (unsigned i = 0; i < s->ntxq + s->nrxq; i++) {
        const uint64_t *st = i < s->ntxq ? s->txq[i].stats : s->rxq[i - s->ntxq].stats;
        for (int k = 0; k < 10; k++)
            put_le64(b + 8 * k, st[k]);
        pci_dma_write(&s->pci, qd + i * QD_SIZE + Q_STATS, b, sizeof b);
    }
}

static void state_reset(struct vmxnet3 *s)
{
    deactivate(s);
    memcpy(s->mac, s->perm_mac, 6);
    s->vrrs = s->uvrs = 0;
    s->dsal = s->dsah = 0;
    s->cmd_result = 0;
    s->shared = 0;
    s->features = 0;
    s->automask = false;
    s->ecr = 0;
    s->rx_mode = 0;
    s->nmf = 0;
    s->ntxq = s->nrxq = 0;
    for (unsigned i = 0; i < VMX_INTRS; i++) {
        s->imr[i] = true;
        s->pending[i] = false;
    }
    update_intx(s);
}

static void command(struct vmxnet3 *s, uint32_t cmd)
{
    s->cmd_result = 0;
    switch (cmd) {
    case CMD_ACTIVATE_DEV: s->cmd_result = activate(s); break;
    case CMD_QUIESCE_DEV: deactivate(s); break;
    case CMD_RESET_DEV: state_reset(s); break;
    case CMD_UPDATE_RX_MODE:
    case CMD_UPDATE_MAC_FILTERS:
    case CMD_UPDATE_VLAN_FILTERS:
    case CMD_UPDATE_FEATURE: update_from_shared(s, cmd); break;
    case CMD_GET_STATS: write_stats(s); break;
    case CMD_GET_LINK: s->cmd_result = s->link ? LINK_UP : 0; break;
    case CMD_GET_PERM_MAC_LO: s->cmd_result = le32(s->perm_mac); break;
    case CMD_GET_PERM_MAC_HI: s->cmd_result = (uint32_t)(s->perm_mac[4] | s->perm_mac[5] << 8); break;
    case CMD_GET_CONF_INTR: s->cmd_result = 0; break; /* type auto (MSI-X first), mask mode auto */
    default: break; /* UPDATE_IML, _PMCFG, _RSSIDT, GET_QUEUE_STATUS...: nothing to do or report */
    }
}

/* ---- registers ---- */

static uint64_t pt_read(void *opaque, uint64_t off, unsigned size)
{
    struct vmxnet3 *s = opaque;
    if (off < VMX_INTRS * 8 && !(off & 7))
        return s->imr[off / 8];
    return 0;
}

static void pt_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct vmxnet3 *s = opaque;
    if (off & 7)
        return;
    if (off < VMX_INTRS * 8) {
        set_imr(s, (unsigned)(off / 8), v & 1);
        if (!(v & 1) && s->be)
            net_rx_ready(s->be); /* the driver polled and refilled */
    } else if (off >= PT_TXPROD && off < PT_TXPROD + VMX_MAX_TXQ * 8) {
        tx_run(s);
    } else if (off >= PT_RXPROD && off < PT_RXPROD2 + VMX_MAX_RXQ * 8) {
        if (s->be)
            net_rx_ready(s->be);
    }
}

static const struct bus_ops pt_ops = {.read = pt_read, .write = pt_write, .min_size = 4, .max_size = 4};

static uint64_t vd_read(void *opaque, uint64_t off, unsigned size)
{
    struct vmxnet3 *s = opaque;
    switch (off) {
    case VD_VRRS: return s->vrrs ? s->vrrs : 1; /* revision 1 offered */
    case VD_UVRS: return s->uvrs ? s->uvrs : 1;
    case VD_DSAL: return s->dsal;
    case VD_DSAH: return s->dsah;
    case VD_CMD: return s->cmd_result;
    case VD_MACL: return le32(s->mac);
    case VD_MACH: return (uint32_t)(s->mac[4] | s->mac[5] << 8);
    case VD_ICR: return icr_read(s);
    case VD_ECR: return s->ecr;
    }
    return 0;
}

static void vd_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct vmxnet3 *s = opaque;
    uint32_t v = (uint32_t)value;
    switch (off) {
    case VD_VRRS: s->vrrs = v & 1; return;
    case VD_UVRS: s->uvrs = v & 1; return;
    case VD_DSAL: s->dsal = v; return;
    case VD_DSAH: s->dsah = v; return;
    case VD_CMD: command(s, v); return;
    case VD_MACL: put_le32(s->mac, v); return;
    case VD_MACH:
        s->mac[4] = (uint8_t)v;
        s->mac[5] = (uint8_t)(v >> 8);
        return;
    case VD_ECR:
        s->ecr &= ~v;
        if (s->active) {
            uint8_t b[4];
            put_le32(b, s->ecr);
            pci_dma_write(&s->pci, s->shared + DS_ECR, b, 4);
        }
        return;
    }
}

static const struct bus_ops vd_ops = {.read = vd_read, .write = vd_write, .min_size = 4, .max_size = 4};

/* ---- the device ---- */

void vmxnet3_reset(struct vmxnet3 *s)
{
    pci_device_reset(&s->pci);
    state_reset(s);
}

struct pci_device *vmxnet3_pci(struct vmxnet3 *s)
{
    return &s->pci;
}

struct vmxnet3 *vmxnet3_new(struct pci_bus *pci, int devfn, struct clock *clock, const uint8_t mac[6],
                            struct net_backend *be, bool link)
{
    struct vmxnet3 *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->clock = clock;
    s->be = be;
    s->link = link;
    memcpy(s->perm_mac, mac, 6);
    timer_init(&s->tx_timer, clock, tx_timer_fire, s);
    timer_init(&s->rx_timer, clock, rx_timer_fire, s);
    pci_device_init(&s->pci, "vmxnet3", 0x15ad, 0x07b0, 0x020000, 0x01, 1);
    pci_set_subsystem(&s->pci, 0x15ad, 0x07b0);
    pci_device_set_bar(&s->pci, 0, PCI_BAR_MEM32, PT_SIZE, &pt_ops, s, NULL);
    pci_device_set_bar(&s->pci, 1, PCI_BAR_MEM32, VD_SIZE, &vd_ops, s, NULL);
    if (!pci_msix_init(&s->pci, VMX_INTRS, 2) || !pci_msi_init(&s->pci, 1, true, false)) {
        free(s);
        return NULL;
    }
    s->pci.opaque = s;
    if (pci && pci_register(pci, &s->pci, devfn) < 0) {
        free(s);
        return NULL;
    }
    if (be) {
        struct net_client c = {.can_receive = vmxnet3_can_receive, .receive = vmxnet3_receive, .opaque = s};
        net_attach(be, &c);
        net_set_link(be, link);
    }
    state_reset(s);
    return s;
}

void vmxnet3_free(struct vmxnet3 *s)
{
    if (!s)
        return;
    if (trace_on(TRACE_PCI))
        trace_printf(TRACE_PCI, "vmxnet3 %02x.%x: %llu frames sent (%llu TSO packets cut into %llu, %llu "
                     "checksums inserted), %llu received; interrupts: %llu MSI-X, %llu MSI, %llu INTx",
                     s->pci.devfn >> 3, s->pci.devfn & 7, (unsigned long long)s->n_sent,
                     (unsigned long long)s->n_tso, (unsigned long long)s->n_tso_segs,
                     (unsigned long long)s->n_csum, (unsigned long long)s->n_received,
                     (unsigned long long)s->n_msix, (unsigned long long)s->n_msi, (unsigned long long)s->n_intx);
    timer_cancel(&s->tx_timer);
    timer_cancel(&s->rx_timer);
    free(s->rom);
    free(s);
}

void vmxnet3_set_rom(struct vmxnet3 *s, uint8_t *image, uint64_t size)
{
    free(s->rom);
    s->rom = image;
    pci_device_set_rom(&s->pci, image, size);
}
