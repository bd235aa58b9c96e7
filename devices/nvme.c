/*
 * NVMe controller (NVM Express base specification 1.3, PCI transport).
 *
 * Registers (BAR0, 16 KiB): CAP (MQES 1023, contiguous queues required,
 * timeout 10 s, doorbell stride 4, NVM command set, 4 KiB pages only), VS
 * 1.3, INTMS/INTMC (MSI and INTx only), CC (EN, CSS, MPS, SHN, IOSQES,
 * IOCQES), CSTS (RDY, CFS, SHST), AQA, ASQ, ACQ, the doorbells at 0x1000.
 * Admin commands: IDENTIFY (namespace, controller, active namespace list,
 * namespace descriptors), CREATE/DELETE I/O SQ and CQ, GET/SET FEATURES,
 * GET LOG PAGE (error, SMART, firmware slot), ASYNC EVENT REQUEST (held
 * until an event: an invalid doorbell write), ABORT (never aborts: every
 * command completes before the doorbell write returns). NVM commands:
 * FLUSH, WRITE (FUA or write cache off: stable), READ, WRITE ZEROES,
 * DATASET MANAGEMENT (accepted, nothing deallocated).
 *
 * Commands run synchronously in the doorbell write that submits them; a
 * full completion queue stops its submission queues until the host moves
 * the head. Data moves through PRP1/PRP2 and PRP lists, at most MDTS (128
 * KiB) per command, through the checked DMA path: an address that is not
 * RAM fails the command with Data Transfer Error; a queue entry that cannot
 * be read or written is a controller fatal status (CSTS.CFS). Interrupts:
 * MSI-X vector IV of the completion queue, else MSI, else INTA (level while
 * an interrupt-enabled completion queue holds entries and INTMS bit 0 is
 * clear).
 */
#include "devices/nvme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/trace.h"

#define NVME_BAR_SIZE 0x4000
#define NVME_QUEUES 17     /* the admin queue and 16 I/O queue pairs */
#define NVME_MQES 1023     /* queue entries - 1 */
#define NVME_PAGE 4096u    /* the only memory page size (MPSMIN = MPSMAX = 0) */
#define NVME_MDTS 5        /* 2^5 pages: 128 KiB per command */
#define NVME_MAX_XFER (NVME_PAGE << NVME_MDTS)
#define NVME_AERL 3        /* four asynchronous event requests held */
#define NVME_SQES 6
#define NVME_CQES 4

/* Registers. */
#define REG_CAP 0x00
#define REG_VS 0x08
#define REG_INTMS 0x0c
#define REG_INTMC 0x10
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_NSSR 0x20
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define REG_DBS 0x1000

#define CC_EN 0x1
#define CC_CSS(cc) (((cc) >> 4) & 7)
#define CC_MPS(cc) (((cc) >> 7) & 0xf)
#define CC_SHN(cc) (((cc) >> 14) & 3)
#define CC_IOSQES(cc) (((cc) >> 16) & 0xf)
#define CC_IOCQES(cc) (((cc) >> 20) & 0xf)
#define CSTS_RDY 0x1
#define CSTS_CFS 0x2
#define CSTS_SHST_DONE 0x8

/* Opcodes. */
enum {
    ADM_DELETE_SQ = 0x00, ADM_CREATE_SQ = 0x01, ADM_GET_LOG = 0x02, ADM_DELETE_CQ = 0x04,
    ADM_CREATE_CQ = 0x05, ADM_IDENTIFY = 0x06, ADM_ABORT = 0x08, ADM_SET_FEATURES = 0x09,
    ADM_GET_FEATURES = 0x0a, ADM_ASYNC_EVENT = 0x0c,
};
enum { NVM_FLUSH = 0x00, NVM_WRITE = 0x01, NVM_READ = 0x02, NVM_WRITE_ZEROES = 0x08, NVM_DSM = 0x09 };

/* Status field values: status code type << 8 | status code; DNR is added to every error. */
#define SC_SUCCESS 0x000
#define SC_INVALID_OPCODE 0x001
#define SC_INVALID_FIELD 0x002
#define SC_DATA_XFER_ERROR 0x004
#define SC_INTERNAL 0x006
#define SC_INVALID_NS 0x00b
#define SC_PRP_OFFSET 0x013
#define SC_NS_WRITE_PROTECTED 0x020
#define SC_LBA_RANGE 0x080
#define SC_CQ_INVALID 0x100
#define SC_QID_INVALID 0x101
#define SC_QSIZE_INVALID 0x102
#define SC_AER_LIMIT 0x105
#define SC_IV_INVALID 0x108
#define SC_LOG_INVALID 0x109
#define SC_QDEL_INVALID 0x10c
#define SC_NOT_SAVEABLE 0x10d
#define SC_WRITE_FAULT 0x280
#define SC_READ_ERROR 0x281
#define SC_HELD 0xffff /* not a status: the command completes later (AER) */
#define STATUS_DNR 0x4000

/* Feature identifiers. */
enum {
    FEAT_ARBITRATION = 0x01, FEAT_POWER = 0x02, FEAT_TEMP = 0x04, FEAT_ERROR_RECOVERY = 0x05,
    FEAT_WRITE_CACHE = 0x06, FEAT_NUM_QUEUES = 0x07, FEAT_IRQ_COALESCE = 0x08,
    FEAT_IRQ_CONFIG = 0x09, FEAT_WRITE_ATOMIC = 0x0a, FEAT_ASYNC_EVENT = 0x0b,
};

struct nvme_sq {
    bool valid;
    uint64_t base;
    uint16_t size, head, tail, cqid;
};

struct nvme_cq {
    bool valid, phase, ien, signal;
    uint64_t base;
    uint16_t size, head, tail, iv;
};

/* A submission queue entry, decoded. */
struct nvme_cmd {
    uint8_t opcode, psdt;
    uint16_t cid;
    uint32_t nsid, cdw[16];
    uint64_t prp1, prp2;
};

struct nvme {
    struct pci_device pci;
    struct bus *bus;
    int index;
    uint32_t cc, csts, aqa, intms;
    uint64_t asq, acq;
    struct nvme_sq sq[NVME_QUEUES];
    struct nvme_cq cq[NVME_QUEUES];
    struct blockdev *ns[NVME_MAX_NAMESPACES];
    uint32_t nn;
    /* Features (current values). */
    bool write_cache;
    uint16_t nsqa, ncqa; /* I/O queues allocated, 0's based */
    uint32_t feat_arb, feat_power, feat_temp, feat_err, feat_coalesce, feat_atomic, feat_aec;
    uint16_t aer_cid[NVME_AERL + 1];
    int naer;
    uint8_t event_pending; /* 0, or an error event's info + 1 (no request was held) */
    bool in_run;
    uint8_t *buf; /* NVME_MAX_XFER bytes: one command's data */
};

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

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An ASCII field padded with spaces, as the spec's identify strings are. */
static void put_str(uint8_t *p, size_t len, const char *s)
{
    memset(p, ' ', len);
    size_t n = strlen(s);
    memcpy(p, s, n < len ? n : len);
}

static uint64_t cap_value(void)
{
    return NVME_MQES | 1ull << 16 /* CQR */ | 20ull << 24 /* TO: 10 s */ | 1ull << 37 /* CSS: NVM */;
}

static bool enabled(const struct nvme *s)
{
    return (s->cc & CC_EN) && (s->csts & CSTS_RDY) && !(s->csts & CSTS_CFS);
}

/* ---- interrupts ---- */

static bool cq_has_entries(const struct nvme_cq *cq)
{
    return cq->valid && cq->head != cq->tail;
}

static void intx_update(struct nvme *s)
{
    bool level = false;
    if (!pci_msi_active(&s->pci) && !(s->intms & 1))
        for (int q = 0; q < NVME_QUEUES && !level; q++)
            level = s->cq[q].ien && cq_has_entries(&s->cq[q]);
    pci_set_irq(&s->pci, level);
}

/* Sends the messages of completion queues that got entries (MSI-X, MSI), or updates INTx. */
static void irq_signal(struct nvme *s)
{
    bool msix = pci_msix_enabled(&s->pci), msi = pci_msi_enabled(&s->pci);
    for (int q = 0; q < NVME_QUEUES; q++) {
        struct nvme_cq *cq = &s->cq[q];
        if (!cq->signal || !cq->valid || !cq->ien)
            continue;
        if (msix || (msi && !(s->intms >> (cq->iv & 31) & 1))) {
            cq->signal = false;
            pci_msi_notify(&s->pci, cq->iv);
        } else if (!msi) {
            cq->signal = false;
        }
    }
    intx_update(s);
}

/* ---- controller state ---- */

static void fatal(struct nvme *s, const char *why)
{
    if (trace_on(TRACE_PCI))
        trace_printf(TRACE_PCI, "nvme%d: controller fatal status: %s", s->index, why);
    s->csts |= CSTS_CFS;
}

static void features_reset(struct nvme *s)
{
    s->write_cache = true;
    s->nsqa = s->ncqa = NVME_QUEUES - 2;
    s->feat_arb = 0;
    s->feat_power = 0;
    s->feat_temp = 273 + 70; /* over-temperature threshold, kelvin */
    s->feat_err = 0;
    s->feat_coalesce = 0;
    s->feat_atomic = 0;
    s->feat_aec = 0;
}

/* Controller reset (CC.EN to 0, machine reset): queues gone, requests dropped. */
static void ctrl_reset(struct nvme *s)
{
    memset(s->sq, 0, sizeof s->sq);
    memset(s->cq, 0, sizeof s->cq);
    s->naer = 0;
    s->event_pending = 0;
    s->intms = 0;
    s->csts = 0;
    features_reset(s);
    intx_update(s);
}

static void ctrl_enable(struct nvme *s)
{
    uint16_t asqs = (uint16_t)((s->aqa & 0xfff) + 1), acqs = (uint16_t)(((s->aqa >> 16) & 0xfff) + 1);
    if (CC_CSS(s->cc) != 0 || CC_MPS(s->cc) != 0 || asqs < 2 || acqs < 2 || !s->asq || !s->acq) {
        fatal(s, "bad CC, AQA, ASQ or ACQ at enable");
        return;
    }
    s->sq[0] = (struct nvme_sq){.valid = true, .base = s->asq & ~0xfffull, .size = asqs, .cqid = 0};
    s->cq[0] = (struct nvme_cq){.valid = true, .base = s->acq & ~0xfffull, .size = acqs, .phase = true,
                                .ien = true, .iv = 0};
    s->csts |= CSTS_RDY;
}

static void flush_all(struct nvme *s)
{
    for (int i = 0; i < NVME_MAX_NAMESPACES; i++)
        if (s->ns[i])
            blockdev_flush(s->ns[i]);
}

static void write_cc(struct nvme *s, uint32_t v)
{
    uint32_t old = s->cc;
    s->cc = v;
    if ((old & CC_EN) && !(v & CC_EN)) {
        ctrl_reset(s);
    } else if (!(old & CC_EN) && (v & CC_EN)) {
        ctrl_enable(s);
    }
    if (CC_SHN(v) && !CC_SHN(old)) {
        flush_all(s);
        s->csts |= CSTS_SHST_DONE;
    } else if (!CC_SHN(v)) {
        s->csts &= ~(uint32_t)0xc;
    }
}

/* ---- completions ---- */

static void post(struct nvme *s, uint16_t cqid, uint16_t sqid, uint16_t cid, uint32_t dw0, uint16_t status)
{
    struct nvme_cq *cq = &s->cq[cqid];
    uint8_t e[16];
    if (status != SC_SUCCESS)
        status |= STATUS_DNR;
    put32(e, dw0);
    put32(e + 4, 0);
    put16(e + 8, s->sq[sqid].head);
    put16(e + 10, sqid);
    put32(e + 12, (uint32_t)cid | (uint32_t)cq->phase << 16 | (uint32_t)status << 17);
    if (pci_dma_write(&s->pci, cq->base + (uint64_t)cq->tail * 16, e, sizeof e) < 0) {
        fatal(s, "completion queue entry not in RAM");
        return;
    }
    if (++cq->tail == cq->size) {
        cq->tail = 0;
        cq->phase = !cq->phase;
    }
    cq->signal = true;
}

static bool cq_full(const struct nvme_cq *cq)
{
    return (uint16_t)((cq->tail + 1) % cq->size) == cq->head;
}

/* An asynchronous event of type error (0): completes a held request, else waits for one. */
static void async_error_event(struct nvme *s, uint8_t info)
{
    if (s->naer == 0 || cq_full(&s->cq[0])) {
        if (!s->event_pending)
            s->event_pending = (uint8_t)(info + 1);
        return;
    }
    uint16_t cid = s->aer_cid[--s->naer];
    post(s, 0, 0, cid, (uint32_t)info << 8 | 0x01u << 16 /* error information log */, SC_SUCCESS);
    irq_signal(s);
}

/* ---- PRPs ---- */

struct seg {
    uint64_t addr;
    uint32_t len;
};
#define MAX_SEGS ((int)(NVME_MAX_XFER / NVME_PAGE + 1))

/* The data pages of a command of len bytes (len <= NVME_MAX_XFER); a status. */
static uint16_t prp_map(struct nvme *s, uint64_t prp1, uint64_t prp2, uint32_t len, struct seg *seg,
                        int *nseg)
{
    uint32_t first = NVME_PAGE - (uint32_t)(prp1 & (NVME_PAGE - 1));
    int n = 0;
    if (prp1 & 3)
        return SC_PRP_OFFSET;
    seg[n++] = (struct seg){prp1, len < first ? len : first};
    len -= seg[0].len;
    if (len && len <= NVME_PAGE) {
        if (prp2 & (NVME_PAGE - 1))
            return SC_PRP_OFFSET;
        seg[n++] = (struct seg){prp2, len};
        len = 0;
    }
    uint64_t list = prp2;
    if (len && (list & 7))
        return SC_PRP_OFFSET;
    for (int hops = 0; len; hops++) {
        /* Entries left in this list page; the last one chains when more than one page remains. */
        uint32_t left = (NVME_PAGE - (uint32_t)(list & (NVME_PAGE - 1))) / 8;
        uint8_t e[8];
        if (n >= MAX_SEGS || hops > 2 * MAX_SEGS)
            return SC_INVALID_FIELD; /* more pages than MDTS allows, or a chain going round */
        if (pci_dma_read(&s->pci, list, e, 8) < 0)
            return SC_DATA_XFER_ERROR;
        uint64_t entry = (uint64_t)get32(e + 4) << 32 | get32(e);
        if (left == 1 && len > NVME_PAGE) {
            if (entry & 7)
                return SC_PRP_OFFSET;
            list = entry;
            continue;
        }
        if (entry & (NVME_PAGE - 1))
            return SC_PRP_OFFSET;
        uint32_t l = len < NVME_PAGE ? len : NVME_PAGE;
        seg[n++] = (struct seg){entry, l};
        len -= l;
        list += 8;
    }
    *nseg = n;
    return SC_SUCCESS;
}

/* Moves len bytes between s->buf and the command's PRPs (to_host: controller to memory). */
static uint16_t prp_xfer(struct nvme *s, const struct nvme_cmd *c, uint32_t len, bool to_host)
{
    struct seg seg[MAX_SEGS];
    int n = 0;
    if (len > NVME_MAX_XFER || c->psdt)
        return SC_INVALID_FIELD;
    uint16_t st = prp_map(s, c->prp1, c->prp2, len, seg, &n);
    if (st)
        return st;
    uint32_t at = 0;
    for (int i = 0; i < n; i++) {
        int r = to_host ? pci_dma_write(&s->pci, seg[i].addr, s->buf + at, seg[i].len)
                        : pci_dma_read(&s->pci, seg[i].addr, s->buf + at, seg[i].len);
        if (r < 0)
            return SC_DATA_XFER_ERROR;
        at += seg[i].len;
    }
    return SC_SUCCESS;
}

/* ---- admin: identify ---- */

static void identify_ctrl(struct nvme *s, uint8_t *d)
{
    char sn[24];
    snprintf(sn, sizeof sn, "VMware NVME_%04d", s->index);
    put16(d + 0, 0x15ad);                 /* VID */
    put16(d + 2, 0x15ad);                 /* SSVID */
    put_str(d + 4, 20, sn);               /* SN */
    put_str(d + 24, 40, "VMware Virtual NVMe Disk"); /* MN */
    put_str(d + 64, 8, "1.3");            /* FR */
    d[73] = 0x56, d[74] = 0x50, d[75] = 0x00; /* IEEE OUI 00-50-56, least significant byte first */
    d[77] = NVME_MDTS;
    put16(d + 78, 0);                     /* CNTLID */
    put32(d + 80, 0x00010300);            /* VER */
    d[111] = 1;                           /* CNTRLTYPE: I/O controller */
    put16(d + 256, 0);                    /* OACS: no optional admin commands */
    d[258] = 3;                           /* ACL: 4 aborts */
    d[259] = NVME_AERL;                   /* AERL */
    d[260] = 0x03;                        /* FRMW: 1 slot, slot 1 read-only */
    d[261] = 0;                           /* LPA */
    d[262] = 0;                           /* ELPE: 1 error log entry */
    d[263] = 0;                           /* NPSS: power state 0 only */
    put16(d + 266, 273 + 70);             /* WCTEMP */
    put16(d + 268, 273 + 85);             /* CCTEMP */
    d[512] = NVME_SQES << 4 | NVME_SQES;  /* SQES */
    d[513] = NVME_CQES << 4 | NVME_CQES;  /* CQES */
    put32(d + 516, s->nn);                /* NN */
    put16(d + 520, 0x000c);               /* ONCS: dataset management, write zeroes */
    d[525] = 1;                           /* VWC present */
    d[530] = 1;                           /* NVSCC */
    snprintf((char *)d + 768, 256, "nqn.2014-08.com.vmware:nvme:vmplay:%d", s->index); /* SUBNQN */
    put16(d + 2048, 900);                 /* PSD0: 9 W */
}

static void eui64(const struct nvme *s, uint32_t nsid, uint8_t *p)
{
    static const uint8_t oui[3] = {0x00, 0x50, 0x56};
    memcpy(p, oui, 3);
    p[3] = 0x76, p[4] = 0x70; /* "vp" */
    p[5] = (uint8_t)s->index;
    p[6] = (uint8_t)(nsid >> 8);
    p[7] = (uint8_t)nsid;
}

static void identify_ns(struct nvme *s, uint32_t nsid, uint8_t *d)
{
    struct blockdev *bd = s->ns[nsid - 1];
    if (!bd)
        return; /* an inactive namespace: all zeros */
    put64(d + 0, bd->sectors);  /* NSZE */
    put64(d + 8, bd->sectors);  /* NCAP */
    put64(d + 16, bd->sectors); /* NUSE */
    d[25] = 0;                  /* NLBAF: one format */
    d[26] = 0;                  /* FLBAS: format 0 */
    eui64(s, nsid, d + 120);    /* EUI64 */
    put32(d + 128, 9u << 16);   /* LBAF0: 512-byte blocks, no metadata */
}

static bool ns_active(const struct nvme *s, uint32_t nsid)
{
    return nsid >= 1 && nsid <= NVME_MAX_NAMESPACES && s->ns[nsid - 1];
}

static uint16_t adm_identify(struct nvme *s, const struct nvme_cmd *c)
{
    uint8_t cns = (uint8_t)c->cdw[10];
    memset(s->buf, 0, 4096);
    switch (cns) {
    case 0x00:
        if (c->nsid == 0 || c->nsid > s->nn)
            return SC_INVALID_NS;
        identify_ns(s, c->nsid, s->buf);
        break;
    case 0x01:
        identify_ctrl(s, s->buf);
        break;
    case 0x02: {
        if (c->nsid >= 0xfffffffeu)
            return SC_INVALID_NS;
        int n = 0;
        for (uint32_t id = c->nsid + 1; id <= s->nn; id++)
            if (ns_active(s, id))
                put32(s->buf + 4 * n++, id);
        break;
    }
    case 0x03:
        if (!ns_active(s, c->nsid))
            return SC_INVALID_NS;
        s->buf[0] = 1; /* NIDT: EUI-64 */
        s->buf[1] = 8; /* NIDL */
        eui64(s, c->nsid, s->buf + 4);
        break;
    default:
        return SC_INVALID_FIELD;
    }
    return prp_xfer(s, c, 4096, true);
}

/* ---- admin: queues ---- */

static uint16_t adm_create_cq(struct nvme *s, const struct nvme_cmd *c)
{
    uint16_t qid = (uint16_t)c->cdw[10], size = (uint16_t)((c->cdw[10] >> 16) + 1);
    uint32_t flags = c->cdw[11];
    uint16_t iv = (uint16_t)(flags >> 16);
    if (qid == 0 || qid >= NVME_QUEUES || qid > s->ncqa + 1u || s->cq[qid].valid)
        return SC_QID_INVALID;
    if (size < 2 || size > NVME_MQES + 1)
        return SC_QSIZE_INVALID;
    if (!(flags & 1) || CC_IOCQES(s->cc) != NVME_CQES)
        return SC_INVALID_FIELD;
    if (c->prp1 & (NVME_PAGE - 1))
        return SC_PRP_OFFSET;
    if (iv >= NVME_QUEUES || (!pci_msix_enabled(&s->pci) && iv >= 32))
        return SC_IV_INVALID;
    s->cq[qid] = (struct nvme_cq){.valid = true, .base = c->prp1, .size = size, .phase = true,
                                  .ien = (flags >> 1) & 1, .iv = iv};
    return SC_SUCCESS;
}

static uint16_t adm_create_sq(struct nvme *s, const struct nvme_cmd *c)
{
    uint16_t qid = (uint16_t)c->cdw[10], size = (uint16_t)((c->cdw[10] >> 16) + 1);
    uint16_t cqid = (uint16_t)(c->cdw[11] >> 16);
    if (qid == 0 || qid >= NVME_QUEUES || qid > s->nsqa + 1u || s->sq[qid].valid)
        return SC_QID_INVALID;
    if (cqid == 0 || cqid >= NVME_QUEUES || !s->cq[cqid].valid)
        return SC_CQ_INVALID;
    if (size < 2 || size > NVME_MQES + 1)
        return SC_QSIZE_INVALID;
    if (!(c->cdw[11] & 1) || CC_IOSQES(s->cc) != NVME_SQES)
        return SC_INVALID_FIELD;
    if (c->prp1 & (NVME_PAGE - 1))
        return SC_PRP_OFFSET;
    s->sq[qid] = (struct nvme_sq){.valid = true, .base = c->prp1, .size = size, .cqid = cqid};
    return SC_SUCCESS;
}

static uint16_t adm_delete_sq(struct nvme *s, const struct nvme_cmd *c)
{
    uint16_t qid = (uint16_t)c->cdw[10];
    if (qid == 0 || qid >= NVME_QUEUES || !s->sq[qid].valid)
        return SC_QID_INVALID;
    s->sq[qid].valid = false;
    return SC_SUCCESS;
}

static uint16_t adm_delete_cq(struct nvme *s, const struct nvme_cmd *c)
{
    uint16_t qid = (uint16_t)c->cdw[10];
    if (qid == 0 || qid >= NVME_QUEUES || !s->cq[qid].valid)
        return SC_QID_INVALID;
    for (int q = 1; q < NVME_QUEUES; q++)
        if (s->sq[q].valid && s->sq[q].cqid == qid)
            return SC_QDEL_INVALID;
    s->cq[qid].valid = false;
    intx_update(s);
    return SC_SUCCESS;
}

/* ---- admin: features and logs ---- */

static uint32_t *feature_slot(struct nvme *s, uint8_t fid)
{
    switch (fid) {
    case FEAT_ARBITRATION:
        return &s->feat_arb;
    case FEAT_POWER:
        return &s->feat_power;
    case FEAT_TEMP:
        return &s->feat_temp;
    case FEAT_ERROR_RECOVERY:
        return &s->feat_err;
    case FEAT_IRQ_COALESCE:
        return &s->feat_coalesce;
    case FEAT_WRITE_ATOMIC:
        return &s->feat_atomic;
    case FEAT_ASYNC_EVENT:
        return &s->feat_aec;
    default:
        return NULL;
    }
}

static uint16_t adm_set_features(struct nvme *s, const struct nvme_cmd *c, uint32_t *dw0)
{
    uint8_t fid = (uint8_t)c->cdw[10];
    uint32_t v = c->cdw[11];
    if (c->cdw[10] & 0x80000000u)
        return SC_NOT_SAVEABLE;
    if (fid == FEAT_NUM_QUEUES) {
        if ((v & 0xffff) == 0xffff || (v >> 16) == 0xffff)
            return SC_INVALID_FIELD;
        uint16_t max = NVME_QUEUES - 2;
        s->nsqa = (uint16_t)((v & 0xffff) < max ? (v & 0xffff) : max);
        s->ncqa = (uint16_t)((v >> 16) < max ? (v >> 16) : max);
        *dw0 = s->nsqa | (uint32_t)s->ncqa << 16;
        return SC_SUCCESS;
    }
    if (fid == FEAT_WRITE_CACHE) {
        bool was = s->write_cache;
        s->write_cache = v & 1;
        if (was && !s->write_cache)
            flush_all(s);
        return SC_SUCCESS;
    }
    if (fid == FEAT_IRQ_CONFIG)
        return (v & 0xffff) < NVME_QUEUES ? SC_SUCCESS : SC_INVALID_FIELD;
    if (fid == FEAT_POWER && (v & 0x1f) != 0)
        return SC_INVALID_FIELD; /* power state 0 is the only one */
    uint32_t *slot = feature_slot(s, fid);
    if (!slot)
        return SC_INVALID_FIELD;
    *slot = v;
    return SC_SUCCESS;
}

static uint16_t adm_get_features(struct nvme *s, const struct nvme_cmd *c, uint32_t *dw0)
{
    uint8_t fid = (uint8_t)c->cdw[10], sel = (uint8_t)((c->cdw[10] >> 8) & 7);
    uint32_t *slot = feature_slot(s, fid);
    if (!slot && fid != FEAT_NUM_QUEUES && fid != FEAT_WRITE_CACHE && fid != FEAT_IRQ_CONFIG)
        return SC_INVALID_FIELD;
    if (sel == 3) { /* supported capabilities: changeable, not saveable, not per namespace */
        *dw0 = 0x4;
        return SC_SUCCESS;
    }
    if (sel > 3)
        return SC_INVALID_FIELD;
    if (fid == FEAT_NUM_QUEUES)
        *dw0 = s->nsqa | (uint32_t)s->ncqa << 16;
    else if (fid == FEAT_WRITE_CACHE)
        *dw0 = s->write_cache;
    else if (fid == FEAT_IRQ_CONFIG)
        *dw0 = c->cdw[11] & 0xffff;
    else
        *dw0 = *slot;
    return SC_SUCCESS;
}

static uint16_t adm_get_log(struct nvme *s, const struct nvme_cmd *c)
{
    uint8_t lid = (uint8_t)c->cdw[10];
    uint64_t ndw = ((uint64_t)(c->cdw[11] & 0xffff) << 16 | c->cdw[10] >> 16) + 1;
    uint64_t off = (uint64_t)c->cdw[13] << 32 | c->cdw[12];
    uint32_t size;
    if (ndw * 4 > NVME_MAX_XFER)
        return SC_INVALID_FIELD;
    uint32_t len = (uint32_t)ndw * 4;
    uint8_t log[512] = {0};
    switch (lid) {
    case 0x01: /* error information: one entry, no error recorded */
        size = 64;
        break;
    case 0x02: /* SMART / health */
        size = 512;
        put16(log + 1, 273 + 30); /* composite temperature, kelvin */
        log[3] = 100;             /* available spare */
        log[4] = 10;              /* available spare threshold */
        break;
    case 0x03: /* firmware slots */
        size = 512;
        log[0] = 1; /* AFI: slot 1 active */
        put_str(log + 8, 8, "1.3");
        break;
    default:
        return SC_LOG_INVALID;
    }
    if (off & 3 || off > size)
        return SC_INVALID_FIELD;
    memset(s->buf, 0, len);
    memcpy(s->buf, log + off, len < size - off ? len : size - off);
    return prp_xfer(s, c, len, true);
}

static uint16_t adm_async_event(struct nvme *s, const struct nvme_cmd *c)
{
    if (s->naer > NVME_AERL)
        return SC_AER_LIMIT;
    s->aer_cid[s->naer++] = c->cid;
    if (s->event_pending) {
        uint8_t info = (uint8_t)(s->event_pending - 1);
        s->event_pending = 0;
        s->naer--;
        post(s, 0, 0, c->cid, (uint32_t)info << 8 | 0x01u << 16, SC_SUCCESS);
    }
    return SC_HELD;
}

static uint16_t admin(struct nvme *s, const struct nvme_cmd *c, uint32_t *dw0)
{
    switch (c->opcode) {
    case ADM_IDENTIFY:
        return adm_identify(s, c);
    case ADM_CREATE_CQ:
        return adm_create_cq(s, c);
    case ADM_CREATE_SQ:
        return adm_create_sq(s, c);
    case ADM_DELETE_SQ:
        return adm_delete_sq(s, c);
    case ADM_DELETE_CQ:
        return adm_delete_cq(s, c);
    case ADM_SET_FEATURES:
        return adm_set_features(s, c, dw0);
    case ADM_GET_FEATURES:
        return adm_get_features(s, c, dw0);
    case ADM_GET_LOG:
        return adm_get_log(s, c);
    case ADM_ASYNC_EVENT:
        return adm_async_event(s, c);
    case ADM_ABORT:
        *dw0 = 1; /* not aborted: nothing is ever outstanding */
        return SC_SUCCESS;
    default:
        return SC_INVALID_OPCODE;
    }
}

/* ---- NVM commands ---- */

static uint16_t nvm_rw(struct nvme *s, struct blockdev *bd, const struct nvme_cmd *c)
{
    uint64_t slba = (uint64_t)c->cdw[11] << 32 | c->cdw[10];
    uint32_t nlb = (c->cdw[12] & 0xffff) + 1, len = nlb * BLOCKDEV_SECTOR;
    bool fua = (c->cdw[12] >> 30) & 1;
    if (len > NVME_MAX_XFER)
        return SC_INVALID_FIELD;
    if (slba > bd->sectors || nlb > bd->sectors - slba)
        return SC_LBA_RANGE;
    if (c->opcode == NVM_READ) {
        if (blockdev_read(bd, slba, nlb, s->buf) < 0)
            return SC_READ_ERROR;
        return prp_xfer(s, c, len, true);
    }
    if (bd->read_only)
        return SC_NS_WRITE_PROTECTED;
    uint16_t st = prp_xfer(s, c, len, false);
    if (st)
        return st;
    int r = fua || !s->write_cache ? blockdev_write_stable(bd, slba, nlb, s->buf)
                                   : blockdev_write(bd, slba, nlb, s->buf);
    return r < 0 ? SC_WRITE_FAULT : SC_SUCCESS;
}

static uint16_t nvm_write_zeroes(struct nvme *s, struct blockdev *bd, const struct nvme_cmd *c)
{
    uint64_t slba = (uint64_t)c->cdw[11] << 32 | c->cdw[10];
    uint32_t nlb = (c->cdw[12] & 0xffff) + 1;
    bool stable = ((c->cdw[12] >> 30) & 1) || !s->write_cache;
    if (slba > bd->sectors || nlb > bd->sectors - slba)
        return SC_LBA_RANGE;
    if (bd->read_only)
        return SC_NS_WRITE_PROTECTED;
    memset(s->buf, 0, NVME_MAX_XFER);
    for (uint32_t done = 0; done < nlb;) {
        uint32_t n = nlb - done < NVME_MAX_XFER / BLOCKDEV_SECTOR ? nlb - done : NVME_MAX_XFER / BLOCKDEV_SECTOR;
        int r = stable ? blockdev_write_stable(bd, slba + done, n, s->buf)
                       : blockdev_write(bd, slba + done, n, s->buf);
        if (r < 0)
            return SC_WRITE_FAULT;
        done += n;
    }
    return SC_SUCCESS;
}

static uint16_t nvm(struct nvme *s, const struct nvme_cmd *c)
{
    if (c->opcode == NVM_FLUSH && c->nsid == 0xffffffffu) {
        flush_all(s);
        return SC_SUCCESS;
    }
    if (!ns_active(s, c->nsid))
        return SC_INVALID_NS;
    struct blockdev *bd = s->ns[c->nsid - 1];
    switch (c->opcode) {
    case NVM_FLUSH:
        return blockdev_flush(bd) < 0 ? SC_WRITE_FAULT : SC_SUCCESS;
    case NVM_READ:
    case NVM_WRITE:
        return nvm_rw(s, bd, c);
    case NVM_WRITE_ZEROES:
        return nvm_write_zeroes(s, bd, c);
    case NVM_DSM:
        return SC_SUCCESS; /* a hint; deallocated blocks keep their data (DLFEAT 0) */
    default:
        return SC_INVALID_OPCODE;
    }
}

/* ---- queue processing ---- */

static void decode(const uint8_t *e, struct nvme_cmd *c)
{
    for (int i = 0; i < 16; i++)
        c->cdw[i] = get32(e + 4 * i);
    c->opcode = (uint8_t)c->cdw[0];
    c->psdt = (uint8_t)((c->cdw[0] >> 14) & 3);
    c->cid = (uint16_t)(c->cdw[0] >> 16);
    c->nsid = c->cdw[1];
    c->prp1 = (uint64_t)c->cdw[7] << 32 | c->cdw[6];
    c->prp2 = (uint64_t)c->cdw[9] << 32 | c->cdw[8];
}

/* Runs queue qid's commands until it is empty or its completion queue is full. */
static void sq_run(struct nvme *s, uint16_t qid)
{
    struct nvme_sq *sq = &s->sq[qid];
    while (sq->valid && sq->head != sq->tail && enabled(s)) {
        struct nvme_cq *cq = &s->cq[sq->cqid];
        if (!cq->valid || cq_full(cq))
            return;
        uint8_t e[64];
        struct nvme_cmd c;
        if (pci_dma_read(&s->pci, sq->base + (uint64_t)sq->head * 64, e, sizeof e) < 0) {
            fatal(s, "submission queue entry not in RAM");
            return;
        }
        sq->head = (uint16_t)((sq->head + 1) % sq->size);
        decode(e, &c);
        uint32_t dw0 = 0;
        uint16_t st = qid == 0 ? admin(s, &c, &dw0) : nvm(s, &c);
        if (st != SC_HELD)
            post(s, sq->cqid, qid, c.cid, dw0, st);
        if (trace_on(TRACE_PCI))
            trace_printf(TRACE_PCI, "nvme%d: sq %u cid %u opcode 0x%02x nsid %u: status 0x%x", s->index, qid,
                         c.cid, c.opcode, c.nsid, st);
    }
}

/* Every submission queue with work whose completion queue has room; reentry-safe. */
static void run_all(struct nvme *s)
{
    if (s->in_run)
        return;
    s->in_run = true;
    for (uint16_t q = 0; q < NVME_QUEUES; q++)
        sq_run(s, q);
    s->in_run = false;
    irq_signal(s);
}

static void doorbell(struct nvme *s, unsigned idx, uint32_t v)
{
    unsigned qid = idx / 2;
    bool is_cq = idx & 1;
    if (!enabled(s))
        return;
    if (qid >= NVME_QUEUES || (is_cq ? !s->cq[qid].valid : !s->sq[qid].valid)) {
        async_error_event(s, 0); /* write to an invalid doorbell register */
        return;
    }
    uint16_t size = is_cq ? s->cq[qid].size : s->sq[qid].size;
    if (v >= size) {
        async_error_event(s, 1); /* invalid doorbell write value */
        return;
    }
    if (is_cq) {
        s->cq[qid].head = (uint16_t)v;
        intx_update(s);
    } else {
        s->sq[qid].tail = (uint16_t)v;
    }
    run_all(s);
}

/* ---- MMIO ---- */

static uint64_t mmio_read(void *opaque, uint64_t off, unsigned size)
{
    struct nvme *s = opaque;
    uint64_t cap = cap_value();
    if (size != 4)
        return 0xffffffffu;
    switch (off) {
    case REG_CAP:
        return (uint32_t)cap;
    case REG_CAP + 4:
        return (uint32_t)(cap >> 32);
    case REG_VS:
        return 0x00010300;
    case REG_INTMS:
    case REG_INTMC:
        return s->intms;
    case REG_CC:
        return s->cc;
    case REG_CSTS:
        return s->csts;
    case REG_AQA:
        return s->aqa;
    case REG_ASQ:
        return (uint32_t)s->asq;
    case REG_ASQ + 4:
        return (uint32_t)(s->asq >> 32);
    case REG_ACQ:
        return (uint32_t)s->acq;
    case REG_ACQ + 4:
        return (uint32_t)(s->acq >> 32);
    default:
        return 0; /* reserved registers, CMB and doorbells read 0 */
    }
}

static void set_half(uint64_t *r, uint64_t off, uint64_t base, uint32_t v)
{
    if (off == base)
        *r = (*r & ~0xffffffffull) | v;
    else
        *r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

static void mmio_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct nvme *s = opaque;
    uint32_t v = (uint32_t)value;
    if (size != 4)
        return;
    if (off >= REG_DBS) {
        if (!(off & 3))
            doorbell(s, (unsigned)((off - REG_DBS) / 4), v);
        return;
    }
    switch (off) {
    case REG_INTMS:
        if (!pci_msix_enabled(&s->pci))
            s->intms |= v;
        intx_update(s);
        break;
    case REG_INTMC:
        if (!pci_msix_enabled(&s->pci)) {
            s->intms &= ~v;
            for (int q = 0; q < NVME_QUEUES; q++)
                if (cq_has_entries(&s->cq[q]) && (v >> (s->cq[q].iv & 31) & 1))
                    s->cq[q].signal = true;
        }
        irq_signal(s);
        break;
    case REG_CC:
        write_cc(s, v);
        break;
    case REG_AQA:
        s->aqa = v & 0x0fff0fff;
        break;
    case REG_ASQ:
    case REG_ASQ + 4:
        set_half(&s->asq, off, REG_ASQ, v);
        break;
    case REG_ACQ:
    case REG_ACQ + 4:
        set_half(&s->acq, off, REG_ACQ, v);
        break;
    default: /* CAP, VS, CSTS read-only; NSSR not supported */
        break;
    }
}

static const struct bus_ops mmio_ops = {.read = mmio_read, .write = mmio_write, .min_size = 4, .max_size = 4};

/* ---- object ---- */

struct nvme *nvme_new(struct bus *bus, struct pci_bus *pci, int devfn, int index)
{
    struct nvme *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->buf = malloc(NVME_MAX_XFER);
    s->bus = bus;
    s->index = index;
    pci_device_init(&s->pci, "nvme", 0x15ad, 0x07f0, 0x010802, 0, 1);
    pci_set_subsystem(&s->pci, 0x15ad, 0x07f0);
    s->pci.opaque = s;
    pci_device_set_bar(&s->pci, 0, PCI_BAR_MEM64, NVME_BAR_SIZE, &mmio_ops, s, NULL);
    if (!s->buf || !pci_msix_init(&s->pci, NVME_QUEUES, 4) || !pci_msi_init(&s->pci, 1, true, true) ||
        pci_register(pci, &s->pci, devfn) < 0) {
        free(s->buf);
        free(s);
        return NULL;
    }
    nvme_reset(s);
    return s;
}

void nvme_free(struct nvme *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s);
}

void nvme_reset(struct nvme *s)
{
    s->cc = 0;
    s->aqa = 0;
    s->asq = s->acq = 0;
    ctrl_reset(s);
    pci_device_reset(&s->pci);
}

int nvme_attach(struct nvme *s, int unit, struct blockdev *bd, struct error *err)
{
    if (unit < 0 || unit >= NVME_MAX_NAMESPACES)
        return error_set(err, EX_DATAERR, "NVMe namespace %d out of range (0..%d)", unit,
                         NVME_MAX_NAMESPACES - 1);
    if (s->ns[unit])
        return error_set(err, EX_DATAERR, "NVMe namespace %d already attached", unit);
    s->ns[unit] = bd;
    if ((uint32_t)unit + 1 > s->nn)
        s->nn = (uint32_t)unit + 1;
    return 0;
}
