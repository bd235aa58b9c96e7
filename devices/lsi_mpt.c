/*
 * LSI Logic Fusion-MPT controllers: the MPI 1.x message unit of the
 * LSI53C1030 (SPI) and the SAS1068 (SAS), as Linux's mptbase/mptspi/mptsas
 * and SeaBIOS's mpt-scsi drive it.
 *
 *  - The doorbell: a function written to it (message unit reset, I/O unit
 *    reset, handshake); a handshake carries a request in dwords and, for
 *    the requests that answer there, the reply back in 16-bit halves, one
 *    per doorbell read, with the doorbell bit of the host interrupt status
 *    re-raised after each acknowledgement and once after the last half.
 *  - The request FIFO (and the high-priority one) takes the 32-bit address
 *    of a request frame (low two bits: a size hint); the frame is read from
 *    guest memory and run to completion at once.
 *  - The reply post FIFO gives context replies (the request's MsgContext)
 *    for SCSI I/O that ended GOOD with every byte moved, and address replies
 *    (bit 31 | frame address >> 1) for everything else; the frames come
 *    from the reply free FIFO, written by the host through the same
 *    register. An address reply waits while no free frame is posted.
 *  - Functions: IOC FACTS, PORT FACTS, IOC INIT, PORT ENABLE, EVENT
 *    NOTIFICATION / ACK, CONFIG (the pages mptbase, mptspi and mptsas read;
 *    others answer CONFIG_INVALID_PAGE), SCSI IO with simple and chain SGEs
 *    (32/64-bit), SCSI TASK MANAGEMENT, SAS IO UNIT CONTROL.
 *
 * Every guest address goes through pci_dma_read/write; the SGL walk is
 * bounded in chain depth, element count and segment size.
 */
#include "devices/lsi_mpt.h"

#include <stdlib.h>
#include <string.h>

/* Doorbell */
#define DB_STATE_RESET 0x00000000u
#define DB_STATE_READY 0x10000000u
#define DB_STATE_OPERATIONAL 0x20000000u
#define DB_STATE_FAULT 0x40000000u
#define DB_ACTIVE 0x08000000u
#define DB_WHO_INIT_SHIFT 24
#define DB_FUNC_SHIFT 24
#define DB_ADD_DWORDS_SHIFT 16

#define FN_IOC_MESSAGE_UNIT_RESET 0x40
#define FN_IO_UNIT_RESET 0x41
#define FN_HANDSHAKE 0x42
#define FN_REPLY_FRAME_REMOVAL 0x43

/* Host interrupt status and mask */
#define HIS_DOORBELL 0x00000001u
#define HIS_REPLY 0x00000008u
#define HIS_IOP_DOORBELL 0x80000000u
#define HIM_DIM 0x00000001u
#define HIM_RIM 0x00000008u

/* Diagnostic register */
#define DIAG_DRWE 0x00000080u /* diag read/write enable (after the key sequence) */
#define DIAG_RESET_ADAPTER 0x00000004u

/* Message functions */
#define MPI_SCSI_IO_REQUEST 0x00
#define MPI_SCSI_TASK_MGMT 0x01
#define MPI_IOC_INIT 0x02
#define MPI_IOC_FACTS 0x03
#define MPI_CONFIG 0x04
#define MPI_PORT_FACTS 0x05
#define MPI_PORT_ENABLE 0x06
#define MPI_EVENT_NOTIFICATION 0x07
#define MPI_EVENT_ACK 0x08
#define MPI_SAS_IO_UNIT_CONTROL 0x1b

/* IOC status */
#define ST_SUCCESS 0x0000
#define ST_INVALID_FUNCTION 0x0001
#define ST_INVALID_SGL 0x0003
#define ST_INTERNAL_ERROR 0x0004
#define ST_INVALID_FIELD 0x0007
#define ST_INVALID_STATE 0x0008
#define ST_CONFIG_INVALID_ACTION 0x0020
#define ST_CONFIG_INVALID_PAGE 0x0022
#define ST_SCSI_INVALID_BUS 0x0041
#define ST_SCSI_INVALID_TARGETID 0x0042
#define ST_SCSI_DEVICE_NOT_THERE 0x0043
#define ST_SCSI_DATA_UNDERRUN 0x0045

/* SCSI IO reply SCSIState */
#define SS_AUTOSENSE_VALID 0x01
#define SS_AUTOSENSE_FAILED 0x02

/* SGE flags (bits 31:24 of FlagsLength) */
#define SGE_LAST_ELEMENT 0x80
#define SGE_END_OF_LIST 0x01
#define SGE_ADDR64 0x02
#define SGE_TYPE_MASK 0x30
#define SGE_TYPE_TRANSACTION 0x00
#define SGE_TYPE_SIMPLE 0x10
#define SGE_TYPE_CHAIN 0x30

/* Sizes advertised in IOC FACTS and the bounds of the walk */
#define REQ_FRAME_DWORDS 32 /* 128-byte request frames */
#define REQ_FRAME_BYTES (REQ_FRAME_DWORDS * 4)
#define GLOBAL_CREDITS 128
#define REPLY_QUEUE_DEPTH 128
#define MAX_CHAIN_DEPTH 128
#define MAX_SGES 4096
#define POST_DEPTH 1024 /* > credits + events: the post FIFO never overflows for a sane host */
#define FREE_DEPTH 1024
#define PENDING_MAX 64
#define REPLY_MAX 128
#define HS_MAX_DWORDS 64
#define MSG_MAX (HS_MAX_DWORDS * 4) /* a request's fixed part, zero-padded */
#define NUM_TARGETS 16
#define SPI_HOST_ID 7
#define SAS_NUM_PHYS 8

struct sge {
    uint64_t addr;
    uint32_t len;
};

struct pending_reply {
    uint8_t frame[REPLY_MAX];
    unsigned len;
};

struct mpt {
    struct pci_device pci;
    enum mpt_model model;
    struct scsi_bus *targets;

    uint32_t state; /* DB_STATE_* */
    uint8_t who_init;
    uint32_t int_status, int_mask;

    /* handshake */
    enum { HS_IDLE, HS_RECV, HS_REPLY, HS_REPLY_DONE } hs;
    uint32_t hs_msg[HS_MAX_DWORDS];
    unsigned hs_expect, hs_got;
    uint16_t hs_reply[REPLY_MAX / 2];
    unsigned hs_reply_len, hs_reply_idx;

    /* diagnostic key sequence */
    unsigned diag_key;
    uint32_t diag;

    /* IOC INIT */
    uint16_t reply_frame_size;
    uint32_t mfa_high, sense_high;
    uint8_t max_devices, max_buses;
    bool events;
    uint32_t sdp1[NUM_TARGETS]; /* SCSI device page 1 RequestedParameters, per target */

    /* FIFOs */
    uint32_t post[POST_DEPTH];
    unsigned post_head, post_count;
    uint32_t free_frames[FREE_DEPTH];
    unsigned free_head, free_count;
    struct pending_reply pending[PENDING_MAX];
    unsigned pending_head, pending_count;
    uint64_t dropped;

    /* the SGL of the request in progress */
    struct sge sgl[MAX_SGES];
    unsigned nsge;
    uint64_t sgl_total;
    unsigned cur_idx;
    uint64_t cur_start;
};

/* ---- little-endian fields ---- */

static void put16(uint8_t *p, unsigned off, uint16_t v)
{
    p[off] = (uint8_t)v;
    p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, unsigned off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p, unsigned off)
{
    return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 3] << 24;
}

static void put64(uint8_t *p, unsigned off, uint64_t v)
{
    put32(p, off, (uint32_t)v);
    put32(p, off + 4, (uint32_t)(v >> 32));
}

/* ---- interrupts and FIFOs ---- */

static void update_irq(struct mpt *s)
{
    bool db = (s->int_status & HIS_DOORBELL) && !(s->int_mask & HIM_DIM);
    bool rp = s->post_count && !(s->int_mask & HIM_RIM);
    pci_set_irq(&s->pci, db || rp);
}

static void post_reply(struct mpt *s, uint32_t v)
{
    if (s->post_count == POST_DEPTH) {
        s->dropped++;
        return;
    }
    s->post[(s->post_head + s->post_count) % POST_DEPTH] = v;
    s->post_count++;
    update_irq(s);
}

static bool deliver_frame(struct mpt *s, const uint8_t *frame, unsigned len)
{
    if (!s->free_count)
        return false;
    uint32_t low = s->free_frames[s->free_head];
    s->free_head = (s->free_head + 1) % FREE_DEPTH;
    s->free_count--;
    unsigned n = len < s->reply_frame_size ? len : s->reply_frame_size;
    uint64_t addr = (uint64_t)s->mfa_high << 32 | low;
    if (n && pci_dma_write(&s->pci, addr, frame, n) < 0) {
        s->dropped++; /* the host gave a frame outside RAM: the reply is lost */
        return true;
    }
    post_reply(s, 0x80000000u | low >> 1);
    return true;
}

static void reply_address(struct mpt *s, const uint8_t *frame, unsigned len)
{
    if (s->pending_count == 0 && deliver_frame(s, frame, len))
        return;
    if (s->pending_count == PENDING_MAX) {
        s->dropped++;
        return;
    }
    struct pending_reply *p = &s->pending[(s->pending_head + s->pending_count) % PENDING_MAX];
    memcpy(p->frame, frame, len);
    p->len = len;
    s->pending_count++;
}

static void flush_pending(struct mpt *s)
{
    while (s->pending_count) {
        struct pending_reply *p = &s->pending[s->pending_head];
        if (!deliver_frame(s, p->frame, p->len))
            return;
        s->pending_head = (s->pending_head + 1) % PENDING_MAX;
        s->pending_count--;
    }
}

static void reply_doorbell(struct mpt *s, const uint8_t *frame, unsigned len)
{
    s->hs_reply_len = len / 2;
    for (unsigned i = 0; i < s->hs_reply_len; i++)
        s->hs_reply[i] = get16(frame, 2 * i);
    s->hs_reply_idx = 0;
    s->hs = HS_REPLY;
    s->int_status |= HIS_DOORBELL;
    update_irq(s);
}

enum origin { VIA_DOORBELL, VIA_FIFO };

/* A reply header echoing the request's first eight bytes and its context. */
static void reply_header(uint8_t *r, const uint8_t *req, unsigned len)
{
    memset(r, 0, REPLY_MAX);
    memcpy(r, req, 12);
    r[2] = (uint8_t)(len / 4);
}

static void send_reply(struct mpt *s, enum origin o, const uint8_t *r, unsigned len)
{
    if (o == VIA_DOORBELL)
        reply_doorbell(s, r, len);
    else
        reply_address(s, r, len);
}

/* A default reply (20 bytes) with a status. */
static void reply_status(struct mpt *s, enum origin o, const uint8_t *req, uint16_t status)
{
    uint8_t r[REPLY_MAX];
    reply_header(r, req, 20);
    put16(r, 14, status);
    send_reply(s, o, r, 20);
}

/* ---- reset ---- */

static void ioc_reset(struct mpt *s, uint32_t state)
{
    s->state = state;
    s->hs = HS_IDLE;
    s->hs_got = s->hs_expect = 0;
    s->int_status = 0;
    s->post_head = s->post_count = 0;
    s->free_head = s->free_count = 0;
    s->pending_head = s->pending_count = 0;
    s->reply_frame_size = 0;
    s->mfa_high = s->sense_high = 0;
    s->max_devices = NUM_TARGETS;
    s->max_buses = 1;
    s->events = false;
    s->who_init = 0;
    for (int i = 0; i < NUM_TARGETS; i++)
        s->sdp1[i] = 0;
    update_irq(s);
}

void mpt_reset(struct mpt *s)
{
    if (!s)
        return;
    pci_device_reset(&s->pci);
    s->int_mask = HIM_DIM | HIM_RIM;
    s->diag_key = 0;
    s->diag = 0;
    ioc_reset(s, DB_STATE_READY);
}

/* ---- IOC FACTS, PORT FACTS, IOC INIT, PORT ENABLE, events ---- */

static void do_ioc_facts(struct mpt *s, enum origin o, const uint8_t *req)
{
    uint8_t r[REPLY_MAX];
    bool sas = s->model == MPT_SAS1068;
    reply_header(r, req, 80);
    put16(r, 0, sas ? 0x0105 : 0x0102);  /* MsgVersion */
    put16(r, 4, sas ? 0x0a00 : 0x0c00);  /* HeaderVersion */
    r[6] = 0;                            /* IOCNumber */
    r[20] = MAX_CHAIN_DEPTH;             /* MaxChainDepth */
    r[21] = s->who_init;                 /* WhoInit */
    r[22] = REQ_FRAME_DWORDS;            /* BlockSize */
    r[23] = 0;                           /* Flags */
    put16(r, 24, REPLY_QUEUE_DEPTH);     /* ReplyQueueDepth */
    put16(r, 26, REQ_FRAME_DWORDS);      /* RequestFrameSize, dwords */
    put16(r, 30, sas ? 0x2103 : 0x0105); /* ProductID: SAS/SCSI initiator firmware */
    put32(r, 32, s->mfa_high);           /* CurrentHostMfaHighAddr */
    put16(r, 36, GLOBAL_CREDITS);        /* GlobalCredits */
    r[38] = 1;                           /* NumberOfPorts */
    r[39] = s->events;                   /* EventState */
    put32(r, 40, s->sense_high);         /* CurrentSenseBufferHighAddr */
    put16(r, 44, s->reply_frame_size);   /* CurReplyFrameSize */
    r[46] = s->max_devices;              /* MaxDevices */
    r[47] = s->max_buses;                /* MaxBuses */
    put32(r, 48, 0);                     /* FWImageSize */
    put32(r, 52, 0);                     /* IOCCapabilities */
    put32(r, 56, 0x01032920);            /* FWVersion 1.3.41.32 */
    send_reply(s, o, r, 80);
}

static void do_port_facts(struct mpt *s, enum origin o, const uint8_t *req)
{
    uint8_t r[REPLY_MAX];
    bool sas = s->model == MPT_SAS1068;
    reply_header(r, req, 40);
    if (req[6] != 0) { /* PortNumber */
        put16(r, 14, ST_INVALID_FIELD);
        send_reply(s, o, r, 40);
        return;
    }
    r[21] = sas ? 0x30 : 0x01;                       /* PortType SAS / SCSI */
    put16(r, 22, NUM_TARGETS);                       /* MaxDevices */
    put16(r, 24, sas ? NUM_TARGETS : SPI_HOST_ID);   /* PortSCSIID */
    put16(r, 26, 0x0008 | 0x0001);                   /* ProtocolFlags: initiator, logical bus addr */
    put16(r, 28, 0);                                 /* MaxPostedCmdBuffers */
    put16(r, 30, 0);                                 /* MaxPersistentIDs */
    send_reply(s, o, r, 40);
}

static void do_ioc_init(struct mpt *s, enum origin o, const uint8_t *req)
{
    uint8_t r[REPLY_MAX];
    reply_header(r, req, 20);
    uint16_t rfs = get16(req, 12);
    if (s->state != DB_STATE_READY && s->state != DB_STATE_OPERATIONAL) {
        put16(r, 14, ST_INVALID_STATE);
    } else {
        s->who_init = req[0];
        s->max_devices = req[5] ? req[5] : NUM_TARGETS;
        s->max_buses = req[6] ? req[6] : 1;
        s->reply_frame_size = rfs > REPLY_MAX ? REPLY_MAX : rfs;
        s->mfa_high = get32(req, 16);
        s->sense_high = get32(req, 20);
        s->state = DB_STATE_OPERATIONAL;
    }
    send_reply(s, o, r, 20);
}

static void do_event_notification(struct mpt *s, enum origin o, const uint8_t *req)
{
    uint8_t r[REPLY_MAX];
    s->events = req[0] & 1; /* Switch */
    reply_header(r, req, 32);
    put16(r, 0, 1);            /* EventDataLength, dwords */
    r[6] = 0;                  /* AckRequired */
    put32(r, 20, 0x0a);        /* Event: EVENT_CHANGE */
    put32(r, 28, s->events);   /* the new switch state */
    send_reply(s, o, r, 32);
}

/* ---- the SGL ---- */

static int dma_get32(struct mpt *s, uint64_t addr, uint32_t *v)
{
    uint8_t b[4];
    if (pci_dma_read(&s->pci, addr, b, 4) < 0)
        return -1;
    *v = get32(b, 0);
    return 0;
}

static int read_sge_addr(struct mpt *s, uint64_t at, bool a64, uint64_t *addr)
{
    uint32_t lo, hi = 0;
    if (dma_get32(s, at, &lo) < 0 || (a64 && dma_get32(s, at + 4, &hi) < 0))
        return -1;
    *addr = (uint64_t)hi << 32 | lo;
    return 0;
}

/*
 * Walks the SGL that starts at byte off of the frame at frame (frame_len bytes),
 * following chain elements. Returns 0 with s->sgl filled, or -1 for a list that
 * cannot be walked (unreadable, malformed, too deep or too long).
 */
static int sgl_walk(struct mpt *s, uint64_t frame, uint32_t off, uint32_t frame_len)
{
    uint64_t seg = frame;
    uint32_t end = frame_len;
    unsigned depth = 0;
    s->nsge = 0;
    s->sgl_total = 0;
    s->cur_idx = 0;
    s->cur_start = 0;
    for (;;) {
        uint32_t fl;
        if (off + 4 > end)
            return 0; /* the segment ended without END_OF_LIST: what it held is the list */
        if (dma_get32(s, seg + off, &fl) < 0)
            return -1;
        uint8_t flags = fl >> 24;
        bool a64 = flags & SGE_ADDR64;
        uint32_t esz = a64 ? 12 : 8;
        uint64_t addr;
        switch (flags & SGE_TYPE_MASK) {
        case SGE_TYPE_SIMPLE:
            if (off + esz > end || read_sge_addr(s, seg + off + 4, a64, &addr) < 0)
                return -1;
            if (fl & 0xFFFFFF) {
                if (s->nsge == MAX_SGES)
                    return -1;
                s->sgl[s->nsge].addr = addr;
                s->sgl[s->nsge].len = fl & 0xFFFFFF;
                s->sgl_total += fl & 0xFFFFFF;
                s->nsge++;
            }
            if (flags & SGE_END_OF_LIST)
                return 0;
            off += esz;
            break;
        case SGE_TYPE_CHAIN:
            if (off + esz > end || read_sge_addr(s, seg + off + 4, a64, &addr) < 0)
                return -1;
            if (++depth > MAX_CHAIN_DEPTH || (fl & 0xFFFF) < 4)
                return -1;
            seg = addr;
            off = 0;
            end = fl & 0xFFFF;
            break;
        case SGE_TYPE_TRANSACTION:
            /* a transaction context element: skip its context and details */
            off += 4 + ((fl >> 8) & 0xFF) + ((fl >> 16) & 0xFF);
            break;
        default:
            return -1;
        }
    }
}

static int sgl_xfer(void *opaque, uint64_t off, void *buf, size_t len, bool to_guest)
{
    struct mpt *s = opaque;
    uint8_t *p = buf;
    if (off + len < off || off + len > s->sgl_total)
        return -1;
    if (off < s->cur_start) {
        s->cur_idx = 0;
        s->cur_start = 0;
    }
    while (len) {
        if (s->cur_idx >= s->nsge)
            return -1;
        struct sge *e = &s->sgl[s->cur_idx];
        if (off >= s->cur_start + e->len) {
            s->cur_start += e->len;
            s->cur_idx++;
            continue;
        }
        uint64_t in = off - s->cur_start;
        size_t n = e->len - in < len ? (size_t)(e->len - in) : len;
        int rc = to_guest ? pci_dma_write(&s->pci, e->addr + in, p, n)
                          : pci_dma_read(&s->pci, e->addr + in, p, n);
        if (rc < 0)
            return -1;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* ---- SCSI IO ---- */

static bool target_usable(struct mpt *s, unsigned target)
{
    if (s->model == MPT_LSI53C1030 && target == SPI_HOST_ID)
        return false;
    return s->targets && scsi_bus_target_present(s->targets, target);
}

static void scsi_io_error(struct mpt *s, const uint8_t *req, uint16_t status)
{
    uint8_t r[REPLY_MAX];
    reply_header(r, req, 36);
    memset(r + 12, 0, 4);
    put16(r, 14, status);
    reply_address(s, r, 36);
}

static void do_scsi_io(struct mpt *s, uint64_t frame, const uint8_t *req)
{
    unsigned target = req[0], bus = req[1], cdb_len = req[4], sense_len = req[5];
    unsigned lun = req[13];
    uint32_t control = get32(req, 20), data_len = get32(req, 40);
    if (bus != 0)
        return scsi_io_error(s, req, ST_SCSI_INVALID_BUS);
    if (target >= NUM_TARGETS)
        return scsi_io_error(s, req, ST_SCSI_INVALID_TARGETID);
    if (cdb_len == 0 || cdb_len > SCSI_MAX_CDB || ((control >> 24) & 3) == 3)
        return scsi_io_error(s, req, ST_INVALID_FIELD);
    if (!target_usable(s, target))
        return scsi_io_error(s, req, ST_SCSI_DEVICE_NOT_THERE);
    if (sgl_walk(s, frame, 48, REQ_FRAME_BYTES) < 0)
        return scsi_io_error(s, req, ST_INVALID_SGL);

    struct scsi_req sr;
    memset(&sr, 0, sizeof(sr));
    memcpy(sr.cdb, req + 24, cdb_len);
    sr.cdb_len = cdb_len;
    switch ((control >> 24) & 3) {
    case 1: sr.dir = SCSI_DIR_OUT; break;
    case 2: sr.dir = SCSI_DIR_IN; break;
    default: sr.dir = SCSI_DIR_NONE; break;
    }
    sr.xfer_len = sr.dir == SCSI_DIR_NONE ? 0 : (data_len < s->sgl_total ? data_len : s->sgl_total);
    sr.xfer = sgl_xfer;
    sr.opaque = s;
    bool lun_ok = req[12] == 0 && lun < SCSI_MAX_LUNS && !memcmp(req + 14, "\0\0\0\0\0\0", 6);
    struct scsi_dev *d = lun_ok ? scsi_bus_find(s->targets, target, lun) : NULL;
    if (d)
        scsi_execute(d, &sr);
    else
        scsi_execute_absent(s->targets, target, lun_ok ? lun : SCSI_MAX_LUNS - 1, &sr);

    uint32_t moved = sr.transferred > data_len ? data_len : (uint32_t)sr.transferred;
    if (sr.status == SCSI_GOOD && moved == data_len) {
        post_reply(s, get32(req, 8));
        return;
    }
    uint8_t r[REPLY_MAX];
    reply_header(r, req, 36);
    r[12] = sr.status;
    r[13] = 0;
    put16(r, 14, sr.status == SCSI_GOOD ? ST_SCSI_DATA_UNDERRUN : ST_SUCCESS);
    put32(r, 20, moved);
    if (sr.status == SCSI_CHECK_CONDITION && sr.sense_len && sense_len) {
        unsigned n = sr.sense_len < sense_len ? sr.sense_len : sense_len;
        uint64_t sa = (req[7] & 1 ? (uint64_t)s->sense_high << 32 : 0) | get32(req, 44);
        if (pci_dma_write(&s->pci, sa, sr.sense, n) == 0) {
            r[13] |= SS_AUTOSENSE_VALID;
            put32(r, 24, n);
        } else {
            r[13] |= SS_AUTOSENSE_FAILED;
        }
    }
    reply_address(s, r, 36);
}

/* ---- SCSI TASK MANAGEMENT ---- */

#define TM_ABORT_TASK 0x01
#define TM_ABORT_TASK_SET 0x02
#define TM_TARGET_RESET 0x03
#define TM_RESET_BUS 0x04
#define TM_LOGICAL_UNIT_RESET 0x05
#define TM_CLEAR_TASK_SET 0x06
#define TM_QUERY_TASK 0x07
#define TM_RSP_COMPLETE 0x00
#define TM_RSP_NOT_SUPPORTED 0x04

static void reset_target(struct mpt *s, unsigned target, int lun)
{
    for (unsigned l = 0; l < SCSI_MAX_LUNS; l++) {
        struct scsi_dev *d = scsi_bus_find(s->targets, target, l);
        if (d && (lun < 0 || (unsigned)lun == l))
            scsi_dev_reset(d);
    }
}

static void do_task_mgmt(struct mpt *s, const uint8_t *req)
{
    uint8_t r[REPLY_MAX];
    unsigned target = req[0], type = req[5], lun = req[13];
    reply_header(r, req, 28);
    r[4] = TM_RSP_COMPLETE;
    if (req[1] != 0 && type != TM_RESET_BUS) {
        put16(r, 14, ST_SCSI_INVALID_BUS);
    } else if (target >= NUM_TARGETS && type != TM_RESET_BUS) {
        put16(r, 14, ST_SCSI_INVALID_TARGETID);
    } else {
        switch (type) {
        case TM_ABORT_TASK: /* every command ran to completion when it was posted */
        case TM_ABORT_TASK_SET:
        case TM_CLEAR_TASK_SET:
        case TM_QUERY_TASK:
            break;
        case TM_TARGET_RESET:
            if (s->targets)
                reset_target(s, target, -1);
            break;
        case TM_LOGICAL_UNIT_RESET:
            if (s->targets)
                reset_target(s, target, (int)lun);
            break;
        case TM_RESET_BUS:
            if (s->targets)
                scsi_bus_reset(s->targets);
            break;
        default:
            r[4] = TM_RSP_NOT_SUPPORTED;
            put16(r, 14, ST_INVALID_FIELD);
            break;
        }
    }
    put32(r, 20, 0); /* TerminationCount */
    reply_address(s, r, 28);
}

/* ---- CONFIG ---- */

#define CFG_ACTION_PAGE_HEADER 0x00
#define CFG_ACTION_READ_CURRENT 0x01
#define CFG_ACTION_WRITE_CURRENT 0x02
#define CFG_ACTION_PAGE_DEFAULT 0x03
#define CFG_ACTION_WRITE_NVRAM 0x04
#define CFG_ACTION_READ_DEFAULT 0x05
#define CFG_ACTION_READ_NVRAM 0x06

#define PT_IO_UNIT 0x00
#define PT_IOC 0x01
#define PT_BIOS 0x02
#define PT_SCSI_PORT 0x03
#define PT_SCSI_DEVICE 0x04
#define PT_MANUFACTURING 0x09
#define PT_EXTENDED 0x0f
#define EPT_SAS_IO_UNIT 0x10
#define EPT_SAS_EXPANDER 0x11
#define EPT_SAS_DEVICE 0x12
#define EPT_SAS_PHY 0x13

#define PAGE_MAX 256

struct page {
    uint8_t type, number, ext_type, version;
    uint32_t addr;
    uint8_t data[PAGE_MAX]; /* header included */
    unsigned len;           /* bytes, a multiple of 4 */
};

static void page_begin(struct page *p, unsigned len)
{
    memset(p->data, 0, sizeof(p->data));
    p->len = len;
}

static void set_string(uint8_t *dst, const char *src, unsigned width)
{
    size_t n = strlen(src);
    memcpy(dst, src, n < width ? n : width);
}

static int page_manufacturing(struct mpt *s, struct page *p)
{
    bool sas = s->model == MPT_SAS1068;
    switch (p->number) {
    case 0:
        page_begin(p, 76);
        set_string(p->data + 4, sas ? "LSISAS1068" : "LSI53C1030", 16);
        set_string(p->data + 20, sas ? "B0" : "C0", 8);
        set_string(p->data + 28, "VMware", 16);
        set_string(p->data + 44, "vmplay", 16);
        set_string(p->data + 60, "0000000000000000", 16);
        return 0;
    default:
        return -1;
    }
}

static int page_io_unit(struct mpt *s, struct page *p)
{
    switch (p->number) {
    case 0: /* UniqueValue */
        page_begin(p, 12);
        put64(p->data, 4, 0x5000c29000000000ull | (unsigned)s->pci.devfn);
        return 0;
    case 1: /* Flags */
        page_begin(p, 8);
        return 0;
    case 2: /* Flags, BiosVersion, AdapterOrder[4] */
        page_begin(p, 28);
        put32(p->data, 8, 0x01000000);
        return 0;
    default:
        return -1;
    }
}

static int page_ioc(struct mpt *s, struct page *p)
{
    switch (p->number) {
    case 0: /* TotalNVStore, FreeNVStore, ids, class, revision, subsystem */
        page_begin(p, 28);
        put16(p->data, 12, MPT_VENDOR);
        put16(p->data, 14, s->model == MPT_SAS1068 ? MPT_DEVICE_SAS1068 : MPT_DEVICE_53C1030);
        put32(p->data, 16, MPT_CLASS);
        put16(p->data, 20, MPT_SUBSYS_VENDOR);
        put16(p->data, 22, MPT_SUBSYS_ID);
        return 0;
    case 1: /* Flags (reply coalescing off), CoalescingTimeout, CoalescingDepth */
        page_begin(p, 16);
        return 0;
    default:
        return -1; /* no IOC page 2-6: no integrated RAID */
    }
}

/* ---- SPI pages ---- */

/* Async, narrow: there is no bus to negotiate; domain validation checks INQUIRY alone. */
static int page_scsi_port(struct mpt *s, struct page *p)
{
    switch (p->number) {
    case 0: /* Capabilities, PhysicalInterface */
        page_begin(p, 12);
        put32(p->data, 4, 0);
        put32(p->data, 8, 0x3); /* LVD */
        return 0;
    case 1: /* Configuration: port ID and response mask, OnBusTimerValue */
        page_begin(p, 12);
        put32(p->data, 4, SPI_HOST_ID | (1u << (16 + SPI_HOST_ID)));
        return 0;
    case 2: /* PortFlags, PortSettings, DeviceSettings[16] */
        page_begin(p, 76);
        put32(p->data, 4, 0);
        put32(p->data, 8, SPI_HOST_ID);
        for (int i = 0; i < NUM_TARGETS; i++) {
            p->data[12 + 4 * i] = 10;   /* Timeout */
            p->data[13 + 4 * i] = 0x08; /* SyncFactor */
            put16(p->data, 14 + 4 * i, 0);
        }
        return 0;
    default:
        return -1;
    }
}

static int page_scsi_device(struct mpt *s, struct page *p)
{
    unsigned target = p->addr & 0xFF, bus = (p->addr >> 8) & 0xFF;
    if (bus != 0 || target >= NUM_TARGETS)
        return -1;
    switch (p->number) {
    case 0: /* NegotiatedParameters, Information */
        page_begin(p, 12);
        return 0;
    case 1: /* RequestedParameters, Reserved, Configuration */
        page_begin(p, 16);
        put32(p->data, 4, s->sdp1[target]);
        return 0;
    default:
        return -1;
    }
}

/* ---- SAS pages ---- */

/*
 * Each phy N carries target N as a directly attached SAS end device. Device
 * handles: the controller 1, the end device on phy N is 0x10 + N.
 */
#define SAS_HANDLE_IOC 1
#define SAS_HANDLE_DEV(t) (0x10 + (t))
#define SAS_ADDR_IOC 0x500c290000000000ull
#define SAS_ADDR_DEV(t) (0x500c290000001000ull + (t))
#define SAS_DEVINFO_END_DEVICE 0x00000001u
#define SAS_DEVINFO_SSP_INITIATOR 0x00000040u
#define SAS_DEVINFO_SSP_TARGET 0x00000400u
#define SAS_DEVINFO_DIRECT_ATTACH 0x00000800u
#define SAS_DEV0_FLAGS_PRESENT_MAPPED 0x0003
#define SAS_LINK_RATE_3_0 0x09

static bool sas_phy_has_target(struct mpt *s, unsigned phy)
{
    return phy < SAS_NUM_PHYS && target_usable(s, phy);
}

static int page_sas_io_unit(struct mpt *s, struct page *p)
{
    switch (p->number) {
    case 0: { /* header 8, Reserved1 4, NumPhys, Reserved2[3], PhyData[] 16 each */
        page_begin(p, 16 + 16 * SAS_NUM_PHYS);
        p->data[12] = SAS_NUM_PHYS;
        for (unsigned i = 0; i < SAS_NUM_PHYS; i++) {
            uint8_t *e = p->data + 16 + 16 * i;
            bool t = sas_phy_has_target(s, i);
            e[0] = (uint8_t)i;                                   /* Port */
            e[1] = 0;                                            /* PortFlags */
            e[2] = 0;                                            /* PhyFlags */
            e[3] = t ? SAS_LINK_RATE_3_0 : 0;                    /* NegotiatedLinkRate */
            put32(e, 4, SAS_DEVINFO_SSP_INITIATOR);              /* ControllerPhyDeviceInfo */
            put16(e, 8, t ? SAS_HANDLE_DEV(i) : 0);              /* AttachedDeviceHandle */
            put16(e, 10, SAS_HANDLE_IOC);                        /* ControllerDevHandle */
            put32(e, 12, 0);                                     /* DiscoveryStatus */
        }
        return 0;
    }
    case 1: { /* header 8, ControlFlags 2, MaxSATATargets 2, ..., NumPhys at 12, PhyData[] 12 each */
        page_begin(p, 16 + 12 * SAS_NUM_PHYS);
        p->data[12] = SAS_NUM_PHYS;
        for (unsigned i = 0; i < SAS_NUM_PHYS; i++) {
            uint8_t *e = p->data + 16 + 12 * i;
            e[0] = (uint8_t)i; /* Port */
            e[3] = 0x99;       /* MaxMinLinkRate 3.0/1.5 */
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int page_sas_phy(struct mpt *s, struct page *p)
{
    unsigned form = p->addr >> 28, phy = p->addr & 0xFF;
    if (form != 0 || phy >= SAS_NUM_PHYS)
        return -1;
    bool t = sas_phy_has_target(s, phy);
    switch (p->number) {
    case 0: /* header 8, OwnerDevHandle, Reserved, SASAddress, AttachedDevHandle, AttachedPhyIdentifier, ... */
        page_begin(p, 36);
        put16(p->data, 8, SAS_HANDLE_IOC);             /* OwnerDevHandle */
        put64(p->data, 12, SAS_ADDR_IOC);              /* SASAddress */
        put16(p->data, 20, t ? SAS_HANDLE_DEV(phy) : 0); /* AttachedDevHandle */
        p->data[22] = 0;                                /* AttachedPhyIdentifier */
        put32(p->data, 24, t ? SAS_DEVINFO_END_DEVICE | SAS_DEVINFO_SSP_TARGET | SAS_DEVINFO_DIRECT_ATTACH
                          : 0); /* AttachedDeviceInfo */
        p->data[28] = 0x99;                             /* ProgrammedLinkRate */
        p->data[29] = 0x98;                             /* HwLinkRate 3.0 max, 1.5 min */
        p->data[30] = 0;                                /* ChangeCount */
        p->data[31] = 0;                                /* Flags */
        put32(p->data, 32, 0);                          /* PhyInfo */
        p->data[32] = t ? SAS_LINK_RATE_3_0 : 0;        /* PhyInfo.NegotiatedLinkRate (bits 3:0) */
        return 0;
    case 1: /* error counters */
        page_begin(p, 28);
        return 0;
    default:
        return -1;
    }
}

/* Handles in GET_NEXT order: the controller, then each attached end device; 0xFFFF
 * (as mptsas starts its walk) asks for the first. */
static int sas_next_handle(struct mpt *s, unsigned after)
{
    if (after == 0xFFFF || after < SAS_HANDLE_IOC)
        return SAS_HANDLE_IOC;
    for (unsigned t = 0; t < SAS_NUM_PHYS; t++)
        if (SAS_HANDLE_DEV(t) > after && sas_phy_has_target(s, t))
            return SAS_HANDLE_DEV(t);
    return -1;
}

static int page_sas_device(struct mpt *s, struct page *p)
{
    unsigned form = p->addr >> 28;
    int handle;
    if (form == 0) /* GET_NEXT_HANDLE */
        handle = sas_next_handle(s, p->addr & 0xFFFF);
    else if (form == 1) /* BUS_TARGET_ID */
        handle = ((p->addr >> 8) & 0xFF) == 0 && sas_phy_has_target(s, p->addr & 0xFF)
                     ? (int)SAS_HANDLE_DEV(p->addr & 0xFF) : -1;
    else if (form == 2) /* HANDLE */
        handle = (int)(p->addr & 0xFFFF);
    else
        return -1;
    bool ioc = handle == SAS_HANDLE_IOC;
    unsigned t = (unsigned)handle - SAS_HANDLE_DEV(0);
    if (!ioc && (handle < SAS_HANDLE_DEV(0) || !sas_phy_has_target(s, t)))
        return -1;
    switch (p->number) {
    case 0: /* header 8, Slot, EnclosureHandle, SASAddress, ParentDevHandle, PhyNum, AccessStatus,
               DevHandle, TargetID, Bus, DeviceInfo, Flags, PhysicalPort, ... */
        page_begin(p, 36);
        put16(p->data, 8, ioc ? 0 : (uint16_t)t);      /* Slot */
        put16(p->data, 10, 0);                          /* EnclosureHandle */
        put64(p->data, 12, ioc ? SAS_ADDR_IOC : SAS_ADDR_DEV(t)); /* SASAddress */
        put16(p->data, 20, ioc ? 0 : SAS_HANDLE_IOC);   /* ParentDevHandle */
        p->data[22] = ioc ? 0 : (uint8_t)t;             /* PhyNum */
        p->data[23] = 0;                                /* AccessStatus */
        put16(p->data, 24, (uint16_t)handle);           /* DevHandle */
        p->data[26] = ioc ? 0 : (uint8_t)t;             /* TargetID */
        p->data[27] = 0;                                /* Bus */
        put32(p->data, 28, ioc ? SAS_DEVINFO_SSP_INITIATOR
                               : SAS_DEVINFO_END_DEVICE | SAS_DEVINFO_SSP_TARGET |
                                     SAS_DEVINFO_DIRECT_ATTACH); /* DeviceInfo */
        put16(p->data, 32, SAS_DEV0_FLAGS_PRESENT_MAPPED);  /* Flags */
        p->data[34] = ioc ? 0 : (uint8_t)t;             /* PhysicalPort */
        return 0;
    case 1:
        page_begin(p, 48);
        put64(p->data, 12, ioc ? SAS_ADDR_IOC : SAS_ADDR_DEV(t));
        put16(p->data, 20, (uint16_t)handle);
        p->data[22] = ioc ? 0 : (uint8_t)t;
        return 0;
    default:
        return -1;
    }
}

static int build_page(struct mpt *s, struct page *p)
{
    bool sas = s->model == MPT_SAS1068;
    switch (p->type) {
    case PT_MANUFACTURING: return page_manufacturing(s, p);
    case PT_IO_UNIT: return page_io_unit(s, p);
    case PT_IOC: return page_ioc(s, p);
    case PT_SCSI_PORT: return sas ? -1 : page_scsi_port(s, p);
    case PT_SCSI_DEVICE: return sas ? -1 : page_scsi_device(s, p);
    case PT_EXTENDED:
        if (!sas)
            return -1;
        switch (p->ext_type) {
        case EPT_SAS_IO_UNIT: return page_sas_io_unit(s, p);
        case EPT_SAS_PHY: return page_sas_phy(s, p);
        case EPT_SAS_DEVICE: return page_sas_device(s, p);
        default: return -1; /* no expanders, enclosures or logs */
        }
    default:
        return -1;
    }
}

static void page_header(struct page *p)
{
    uint8_t *h = p->data;
    h[0] = p->version;
    h[2] = p->number;
    if (p->type == PT_EXTENDED) {
        h[1] = 0;
        h[3] = PT_EXTENDED;
        put16(h, 4, (uint16_t)(p->len / 4));
        h[6] = p->ext_type;
        h[7] = 0;
    } else {
        h[1] = (uint8_t)(p->len / 4);
        h[3] = p->type;
    }
}

static void page_write(struct mpt *s, struct page *p, const uint8_t *data, unsigned len)
{
    if (p->type == PT_SCSI_DEVICE && p->number == 1 && len >= 8) {
        unsigned target = p->addr & 0xFF;
        if (target < NUM_TARGETS)
            s->sdp1[target] = get32(data, 4);
    }
}

static void do_config(struct mpt *s, enum origin o, const uint8_t *req)
{
    uint8_t r[REPLY_MAX];
    reply_header(r, req, 24);
    memcpy(r + 20, req + 20, 4);
    struct page pg;
    pg.type = req[23] & 0x0F;
    pg.number = req[22];
    pg.ext_type = req[6];
    pg.version = 1;
    pg.addr = get32(req, 24);
    unsigned action = req[0];
    uint16_t status = ST_SUCCESS;
    if (action > CFG_ACTION_READ_NVRAM) {
        status = ST_CONFIG_INVALID_ACTION;
    } else if (build_page(s, &pg) < 0) {
        status = ST_CONFIG_INVALID_PAGE;
    } else {
        page_header(&pg);
        memcpy(r + 20, pg.data, 4);
        if (pg.type == PT_EXTENDED) {
            memcpy(r + 4, pg.data + 4, 3);
            r[23] = PT_EXTENDED;
        }
        if (action != CFG_ACTION_PAGE_HEADER) {
            /* the page buffer: one simple element */
            uint32_t fl = get32(req, 28);
            bool a64 = (fl >> 24) & SGE_ADDR64;
            uint64_t addr = get32(req, 32) | (a64 ? (uint64_t)get32(req, 36) << 32 : 0);
            unsigned n = (fl & 0xFFFFFF) < pg.len ? (fl & 0xFFFFFF) : pg.len;
            if ((fl >> 24 & SGE_TYPE_MASK) != SGE_TYPE_SIMPLE) {
                status = ST_INVALID_SGL;
            } else if (action == CFG_ACTION_WRITE_CURRENT || action == CFG_ACTION_WRITE_NVRAM) {
                uint8_t in[PAGE_MAX];
                if (pci_dma_read(&s->pci, addr, in, n) < 0)
                    status = ST_INVALID_SGL;
                else
                    page_write(s, &pg, in, n);
            } else if (action != CFG_ACTION_PAGE_DEFAULT) {
                if (pci_dma_write(&s->pci, addr, pg.data, n) < 0)
                    status = ST_INVALID_SGL;
            }
        }
    }
    put16(r, 14, status);
    send_reply(s, o, r, 24);
}

/* ---- dispatch ---- */

static void do_message(struct mpt *s, enum origin o, uint64_t frame, const uint8_t *msg)
{
    switch (msg[3]) {
    case MPI_IOC_FACTS: return do_ioc_facts(s, o, msg);
    case MPI_PORT_FACTS: return do_port_facts(s, o, msg);
    case MPI_IOC_INIT: return do_ioc_init(s, o, msg);
    case MPI_PORT_ENABLE: return reply_status(s, o, msg, ST_SUCCESS);
    case MPI_EVENT_NOTIFICATION: return do_event_notification(s, o, msg);
    case MPI_EVENT_ACK: return reply_status(s, o, msg, ST_SUCCESS);
    case MPI_CONFIG: return do_config(s, o, msg);
    case MPI_SAS_IO_UNIT_CONTROL:
        return reply_status(s, o, msg, s->model == MPT_SAS1068 ? ST_SUCCESS : ST_INVALID_FUNCTION);
    case MPI_SCSI_TASK_MGMT: return do_task_mgmt(s, msg);
    case MPI_SCSI_IO_REQUEST:
        if (o == VIA_FIFO)
            return do_scsi_io(s, frame, msg);
        return reply_status(s, o, msg, ST_INVALID_FUNCTION);
    default:
        return reply_status(s, o, msg, ST_INVALID_FUNCTION);
    }
}

/* Bytes of a request's fixed part (the SGL of a SCSI IO is walked in place). */
static unsigned fixed_len(uint8_t fn)
{
    switch (fn) {
    case MPI_SCSI_IO_REQUEST: return 48;
    case MPI_SCSI_TASK_MGMT: return 52;
    case MPI_IOC_INIT: return 44;
    case MPI_CONFIG: return 40;
    default: return 12;
    }
}

static void post_request(struct mpt *s, uint32_t mfa)
{
    uint8_t msg[MSG_MAX];
    uint64_t frame = (uint64_t)s->mfa_high << 32 | (mfa & ~3u);
    memset(msg, 0, sizeof(msg));
    if (pci_dma_read(&s->pci, frame, msg, 12) < 0) {
        s->dropped++; /* no context to answer with */
        return;
    }
    if (s->state != DB_STATE_OPERATIONAL)
        return; /* frames posted before IOC INIT: nothing would collect the reply */
    if (pci_dma_read(&s->pci, frame, msg, fixed_len(msg[3])) < 0) {
        reply_status(s, VIA_FIFO, msg, ST_INVALID_FIELD);
        return;
    }
    do_message(s, VIA_FIFO, frame, msg);
}

/* ---- the doorbell ---- */

static void handshake_done(struct mpt *s)
{
    uint8_t msg[MSG_MAX];
    for (unsigned i = 0; i < HS_MAX_DWORDS; i++)
        put32(msg, 4 * i, i < s->hs_got ? s->hs_msg[i] : 0);
    s->hs = HS_IDLE;
    /* The message is in: the doorbell bit says so. A task management request
     * answers in the reply FIFO, everything else here. */
    s->int_status |= HIS_DOORBELL;
    do_message(s, VIA_DOORBELL, 0, msg);
    update_irq(s);
}

static void doorbell_write(struct mpt *s, uint32_t v)
{
    if (s->hs == HS_RECV) {
        if (s->hs_got < HS_MAX_DWORDS)
            s->hs_msg[s->hs_got] = v;
        s->hs_got++;
        if (s->hs_got >= s->hs_expect)
            handshake_done(s);
        return;
    }
    switch (v >> DB_FUNC_SHIFT) {
    case FN_IOC_MESSAGE_UNIT_RESET:
        ioc_reset(s, DB_STATE_READY);
        break;
    case FN_IO_UNIT_RESET:
        ioc_reset(s, DB_STATE_READY);
        if (s->targets)
            scsi_bus_reset(s->targets);
        break;
    case FN_HANDSHAKE:
        s->hs_expect = (v >> DB_ADD_DWORDS_SHIFT) & 0xFF;
        s->hs_got = 0;
        s->hs = HS_RECV;
        s->int_status |= HIS_DOORBELL;
        if (s->hs_expect == 0)
            handshake_done(s);
        update_irq(s);
        break;
    default:
        break;
    }
}

static uint32_t doorbell_read(struct mpt *s)
{
    switch (s->hs) {
    case HS_REPLY: {
        uint16_t w = s->hs_reply_idx < s->hs_reply_len ? s->hs_reply[s->hs_reply_idx] : 0;
        if (++s->hs_reply_idx >= s->hs_reply_len)
            s->hs = HS_REPLY_DONE;
        return s->state | DB_ACTIVE | w;
    }
    case HS_RECV:
    case HS_REPLY_DONE:
        return s->state | DB_ACTIVE;
    default:
        return s->state | (uint32_t)(s->who_init & 7) << DB_WHO_INIT_SHIFT;
    }
}

/* Writing the status acknowledges the doorbell interrupt; the next reply half (or the end
 * of the reply) raises it again. */
static void int_status_write(struct mpt *s)
{
    s->int_status &= ~HIS_DOORBELL;
    if (s->hs == HS_REPLY) {
        s->int_status |= HIS_DOORBELL;
    } else if (s->hs == HS_REPLY_DONE) {
        s->int_status |= HIS_DOORBELL;
        s->hs = HS_IDLE;
    }
    update_irq(s);
}

/* The diagnostic key (mptbase writes 0xFF, then 4, B, 2, 7, D): the low nibbles in order
 * enable the diagnostic register; any other value starts over. */
static const uint8_t diag_key_seq[] = {0x4, 0xB, 0x2, 0x7, 0xD};

static void write_sequence(struct mpt *s, uint32_t v)
{
    uint8_t k = v & 0xF;
    if (s->diag_key < sizeof(diag_key_seq) && k == diag_key_seq[s->diag_key])
        s->diag_key++;
    else
        s->diag_key = k == diag_key_seq[0] ? 1 : 0;
    if (s->diag_key == sizeof(diag_key_seq))
        s->diag |= DIAG_DRWE;
}

static void diag_write(struct mpt *s, uint32_t v)
{
    if (!(s->diag & DIAG_DRWE))
        return;
    if (v & DIAG_RESET_ADAPTER) {
        ioc_reset(s, DB_STATE_READY);
        if (s->targets)
            scsi_bus_reset(s->targets);
        s->diag = 0;
        s->diag_key = 0;
        return;
    }
    s->diag = (v & ~DIAG_RESET_ADAPTER) | DIAG_DRWE;
}

static uint64_t mpt_reg_read(void *opaque, uint64_t off, unsigned size)
{
    struct mpt *s = opaque;
    switch (off & ~3ull) {
    case MPT_REG_DOORBELL:
        return doorbell_read(s);
    case MPT_REG_HOST_DIAGNOSTIC:
        return s->diag;
    case MPT_REG_HOST_INT_STATUS:
        return (s->int_status & HIS_DOORBELL) | (s->post_count ? HIS_REPLY : 0);
    case MPT_REG_HOST_INT_MASK:
        return s->int_mask;
    case MPT_REG_REPLY_QUEUE: {
        if (!s->post_count)
            return 0xFFFFFFFFu;
        uint32_t v = s->post[s->post_head];
        s->post_head = (s->post_head + 1) % POST_DEPTH;
        s->post_count--;
        update_irq(s);
        return v;
    }
    default:
        return 0;
    }
}

static void mpt_reg_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct mpt *s = opaque;
    uint32_t v = (uint32_t)value;
    switch (off & ~3ull) {
    case MPT_REG_DOORBELL:
        doorbell_write(s, v);
        break;
    case MPT_REG_WRITE_SEQUENCE:
        write_sequence(s, v);
        break;
    case MPT_REG_HOST_DIAGNOSTIC:
        diag_write(s, v);
        break;
    case MPT_REG_HOST_INT_STATUS:
        int_status_write(s);
        break;
    case MPT_REG_HOST_INT_MASK:
        s->int_mask = v & (HIM_DIM | HIM_RIM);
        update_irq(s);
        break;
    case MPT_REG_REQUEST_QUEUE:
    case MPT_REG_HI_PRI_QUEUE:
        post_request(s, v);
        break;
    case MPT_REG_REPLY_QUEUE:
        if (s->free_count < FREE_DEPTH) {
            s->free_frames[(s->free_head + s->free_count) % FREE_DEPTH] = v;
            s->free_count++;
        } else {
            s->dropped++;
        }
        flush_pending(s);
        break;
    default:
        break;
    }
}

static const struct bus_ops mpt_ops = {
    .read = mpt_reg_read,
    .write = mpt_reg_write,
    .min_size = 4,
    .max_size = 4,
};

/* ---- lifecycle ---- */

struct mpt *mpt_new(struct pci_bus *pb, int devfn, enum mpt_model model, struct scsi_bus *targets,
                    struct error *err)
{
    struct mpt *s = calloc(1, sizeof(*s));
    if (!s) {
        error_set(err, EX_OSERR, "lsilogic: out of memory");
        return NULL;
    }
    s->model = model;
    s->targets = targets;
    struct pci_device *d = &s->pci;
    bool sas = model == MPT_SAS1068;
    pci_device_init(d, sas ? "lsisas1068" : "lsilogic", MPT_VENDOR,
                    sas ? MPT_DEVICE_SAS1068 : MPT_DEVICE_53C1030, MPT_CLASS, sas ? 0x01 : 0x01, 1);
    pci_set_subsystem(d, MPT_SUBSYS_VENDOR, MPT_SUBSYS_ID);
    d->opaque = s;
    pci_device_set_bar(d, 0, PCI_BAR_IO, MPT_IO_SIZE, &mpt_ops, s, NULL);
    pci_device_set_bar(d, 1, PCI_BAR_MEM32, MPT_MMIO_SIZE, &mpt_ops, s, NULL);
    if (pci_register(pb, d, devfn) < 0) {
        error_set(err, EX_SOFTWARE, "%s: PCI slot %d.%d is taken", d->name, devfn >> 3, devfn & 7);
        free(s);
        return NULL;
    }
    mpt_reset(s);
    return s;
}

void mpt_free(struct mpt *s)
{
    free(s);
}

struct pci_device *mpt_pci(struct mpt *s)
{
    return &s->pci;
}

/* ---- the board's SCSI controller table (devices/scsi_hba.c) ---- */

void *mpt_create_lsilogic(struct bus *bus, struct pci_bus *pb, int devfn, struct scsi_bus *targets)
{
    return mpt_new(pb, devfn, MPT_LSI53C1030, targets, NULL);
}

void *mpt_create_lsisas1068(struct bus *bus, struct pci_bus *pb, int devfn, struct scsi_bus *targets)
{
    return mpt_new(pb, devfn, MPT_SAS1068, targets, NULL);
}

void mpt_reset_hw(void *hw)
{
    mpt_reset(hw);
}

void mpt_free_hw(void *hw)
{
    mpt_free(hw);
}
