/*
 * VMware PVSCSI, as Linux's vmw_pvscsi and SeaBIOS's pvscsi driver use it.
 * PCI 15ad:07c0 (subsystem 15ad:07c0, class 010000), BAR0 a 32 KiB memory
 * BAR of register pages: COMMAND / COMMAND_DATA / COMMAND_STATUS take a
 * command number and then its descriptor one dword at a time; INTR_STATUS
 * (write 1 to clear) and INTR_MASK drive INTx; a write to KICK_RW_IO or
 * KICK_NON_RW_IO makes the device walk the request ring.
 *
 * Guest memory: the rings-state page (producer/consumer indices, ring
 * sizes as log2), the request ring (128-byte descriptors, 32 a page), the
 * completion ring (32-byte descriptors, 128 a page) and the message ring
 * (128-byte descriptors; this device never posts messages: no hot plug).
 * A request names bus 0, a target and an 8-byte LUN (byte 1), a CDB, a
 * flat buffer or a scatter/gather list (16-byte elements, chain elements
 * allowed) and a sense buffer. Each ring page is checked to be RAM when the
 * rings are set up; indices are masked by the ring size; every transfer goes
 * through pci_dma_* (bus mastering must be on). A request the device cannot
 * carry out completes with a host status: no such target BTSTAT_SELTIMEO,
 * a bad CDB length, an unreachable buffer or S/G list BTSTAT_INVPARAM, an
 * unwritable sense buffer BTSTAT_SENSFAILED.
 */
#include "devices/pvscsi.h"

#include <stdlib.h>
#include <string.h>

#define REQ_PER_PAGE (BUS_PAGE_SIZE / PVSCSI_REQ_DESC_SIZE)
#define CMP_PER_PAGE (BUS_PAGE_SIZE / PVSCSI_CMP_DESC_SIZE)
#define MSG_PER_PAGE (BUS_PAGE_SIZE / PVSCSI_MSG_DESC_SIZE)
#define CMD_DATA_MAX 132      /* dwords of the longest descriptor (SETUP_RINGS) */
#define SG_MAX_ELEMENTS 8192  /* elements (chains included) one request may walk */
#define CMD_UNSUPPORTED 0xffffffffu

/* Rings-state page offsets. */
#define RS_REQ_PROD 0
#define RS_REQ_CONS 4
#define RS_REQ_LOG2 8
#define RS_CMP_PROD 12
#define RS_CMP_CONS 16
#define RS_CMP_LOG2 20
#define RS_MSG_PROD 128
#define RS_MSG_CONS 132
#define RS_MSG_LOG2 136

struct pvscsi {
    struct pci_device pci;
    struct bus *bus;
    struct scsi_bus *sbus;
    /* the command interface */
    uint32_t cmd, cmd_need, cmd_n, cmd_status;
    uint32_t cmd_data[CMD_DATA_MAX];
    uint32_t intr_status, intr_mask;
    /* the rings */
    bool rings;
    uint64_t rs_pa;
    uint64_t req_pa[PVSCSI_MAX_RING_PAGES], cmp_pa[PVSCSI_MAX_RING_PAGES];
    uint32_t req_log2, cmp_log2, req_cons, cmp_prod;
    bool msg;
    uint64_t msg_pa[PVSCSI_MAX_MSG_RING_PAGES];
    uint32_t msg_log2;
};

/* One request's data buffer: flat, or walked through its S/G list. */
struct data_path {
    struct pvscsi *s;
    bool sg, bad;
    uint64_t addr, len;
    /* S/G cursor: logical position, next element's address, the current element's rest */
    uint64_t pos, next_elem, cur_addr;
    uint32_t cur_left;
    unsigned walked;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    put_le16(p, v);
    put_le16(p + 2, v >> 16);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static void update_irq(struct pvscsi *s)
{
    pci_set_irq(&s->pci, (s->intr_status & s->intr_mask) != 0);
}

/* ---- rings state ---- */

static int rs_read(struct pvscsi *s, unsigned off, uint32_t *v)
{
    uint8_t b[4];
    if (pci_dma_read(&s->pci, s->rs_pa + off, b, 4) < 0)
        return -1;
    *v = le32(b);
    return 0;
}

static int rs_write(struct pvscsi *s, unsigned off, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    return pci_dma_write(&s->pci, s->rs_pa + off, b, 4);
}

/* A page number the guest gave: its page must be RAM. */
static bool page_ok(struct pvscsi *s, uint64_t ppn, uint64_t *pa)
{
    if (ppn >= (1ull << (64 - BUS_PAGE_SHIFT)))
        return false;
    *pa = ppn << BUS_PAGE_SHIFT;
    return bus_ram_page(s->bus, *pa, true) != NULL;
}

static bool pages_valid(uint32_t n, uint32_t max)
{
    return n >= 1 && n <= max && (n & (n - 1)) == 0;
}

static unsigned log2u(uint32_t v)
{
    unsigned l = 0;
    while (v > 1) {
        v >>= 1;
        l++;
    }
    return l;
}

/* ---- the data path ---- */

/* The next non-empty S/G element into the cursor; false when the list cannot be walked. */
static bool sg_next(struct data_path *p)
{
    while (p->walked++ < SG_MAX_ELEMENTS) {
        uint8_t e[16];
        if (pci_dma_read(&p->s->pci, p->next_elem, e, sizeof e) < 0)
            return false;
        uint64_t addr = le64(e);
        uint32_t len = le32(e + 8), flags = le32(e + 12);
        if (flags & PVSCSI_SGE_FLAG_CHAIN_ELEMENT) {
            p->next_elem = addr;
            continue;
        }
        p->next_elem += sizeof e;
        if (!len)
            continue;
        p->cur_addr = addr;
        p->cur_left = len;
        return true;
    }
    return false;
}

static void sg_rewind(struct data_path *p)
{
    p->pos = 0;
    p->next_elem = p->addr;
    p->cur_left = 0;
    p->walked = 0;
}

static int dma(struct data_path *p, uint64_t addr, void *buf, size_t len, bool to_guest)
{
    return to_guest ? pci_dma_write(&p->s->pci, addr, buf, len) : pci_dma_read(&p->s->pci, addr, buf, len);
}

static int path_xfer(void *opaque, uint64_t off, void *buf, size_t len, bool to_guest)
{
    struct data_path *p = opaque;
    uint8_t *b = buf;
    if (off > p->len || len > p->len - off)
        goto bad;
    if (!p->sg) {
        if (p->addr + off < p->addr || dma(p, p->addr + off, buf, len, to_guest) < 0)
            goto bad;
        return 0;
    }
    if (off < p->pos)
        sg_rewind(p);
    while (p->pos < off || len) {
        if (!p->cur_left && !sg_next(p))
            goto bad;
        uint64_t n = p->cur_left;
        if (p->pos < off) { /* skipping forward */
            if (n > off - p->pos)
                n = off - p->pos;
        } else {
            if (n > len)
                n = len;
            if (dma(p, p->cur_addr, b, (size_t)n, to_guest) < 0)
                goto bad;
            b += n;
            len -= n;
        }
        p->cur_addr += n;
        p->cur_left -= (uint32_t)n;
        p->pos += n;
    }
    return 0;
bad:
    p->bad = true;
    return -1;
}

/* ---- requests ---- */

/* Runs the request descriptor d (128 bytes) and fills the completion c (32 bytes). */
static void run_request(struct pvscsi *s, const uint8_t *d, uint8_t *c)
{
    uint64_t data_addr = le64(d + 8), data_len = le64(d + 16), sense_addr = le64(d + 24);
    uint32_t sense_len = le32(d + 32), flags = le32(d + 36);
    const uint8_t *cdb = d + 40, *lun = d + 57;
    uint8_t cdb_len = d[56], bus = d[66], target = d[67];
    uint32_t host = BTSTAT_SUCCESS, status = SCSI_GOOD, got_sense = 0;
    uint64_t moved = 0;
    memset(c, 0, PVSCSI_CMP_DESC_SIZE);
    memcpy(c, d, 8); /* context */
    if (bus != 0 || !scsi_bus_target_present(s->sbus, target)) {
        host = BTSTAT_SELTIMEO;
    } else if (cdb_len == 0 || cdb_len > SCSI_MAX_CDB || (flags & PVSCSI_FLAG_CMD_OUT_OF_BAND_CDB)) {
        host = BTSTAT_INVPARAM;
    } else {
        struct data_path p = {.s = s, .sg = flags & PVSCSI_FLAG_CMD_WITH_SG_LIST, .addr = data_addr,
                              .len = data_len};
        sg_rewind(&p);
        struct scsi_req r = {.cdb_len = cdb_len, .xfer = path_xfer, .opaque = &p};
        memcpy(r.cdb, cdb, cdb_len);
        if ((flags & PVSCSI_FLAG_CMD_DIR_NONE) || !data_len)
            r.dir = SCSI_DIR_NONE;
        else if (flags & PVSCSI_FLAG_CMD_DIR_TOHOST)
            r.dir = SCSI_DIR_IN;
        else if (flags & PVSCSI_FLAG_CMD_DIR_TODEVICE)
            r.dir = SCSI_DIR_OUT;
        r.xfer_len = r.dir == SCSI_DIR_NONE ? 0 : data_len;
        bool lun_ok = lun[0] == 0 && !memcmp(lun + 2, "\0\0\0\0\0\0", 6);
        struct scsi_dev *dev = lun_ok ? scsi_bus_find(s->sbus, target, lun[1]) : NULL;
        if (dev)
            scsi_execute(dev, &r);
        else
            scsi_execute_absent(s->sbus, target, lun_ok ? lun[1] : SCSI_MAX_LUNS, &r);
        status = r.status;
        moved = r.transferred;
        if (p.bad)
            host = BTSTAT_INVPARAM;
        if (r.status == SCSI_CHECK_CONDITION && r.sense_len && sense_addr && sense_len) {
            got_sense = sense_len < r.sense_len ? sense_len : r.sense_len;
            if (pci_dma_write(&s->pci, sense_addr, r.sense, got_sense) < 0) {
                host = BTSTAT_SENSFAILED;
                got_sense = 0;
            }
        }
    }
    put_le64(c + 8, moved);
    put_le32(c + 16, got_sense);
    put_le16(c + 20, host);
    put_le16(c + 22, status);
}

static uint64_t ring_addr(const uint64_t *pages, uint32_t idx, uint32_t per_page, uint32_t size)
{
    return pages[idx / per_page] + (uint64_t)(idx % per_page) * size;
}

/* Puts a completion on the ring; false when the ring is full or unreachable. */
static bool post_completion(struct pvscsi *s, const uint8_t *c)
{
    uint32_t cons, entries = 1u << s->cmp_log2;
    if (rs_read(s, RS_CMP_CONS, &cons) < 0 || s->cmp_prod - cons >= entries)
        return false;
    uint64_t at = ring_addr(s->cmp_pa, s->cmp_prod & (entries - 1), CMP_PER_PAGE, PVSCSI_CMP_DESC_SIZE);
    if (pci_dma_write(&s->pci, at, c, PVSCSI_CMP_DESC_SIZE) < 0)
        return false;
    s->cmp_prod++;
    rs_write(s, RS_CMP_PROD, s->cmp_prod);
    s->intr_status |= 1; /* PVSCSI_INTR_CMPL_0 */
    return true;
}

/* A kick: every request between our consumer index and the guest's producer index. */
static void process_ring(struct pvscsi *s)
{
    if (!s->rings)
        return;
    uint32_t entries = 1u << s->req_log2;
    for (uint32_t n = 0; n < entries; n++) {
        uint32_t prod, cons;
        if (rs_read(s, RS_REQ_PROD, &prod) < 0 || prod == s->req_cons)
            break;
        if (rs_read(s, RS_CMP_CONS, &cons) < 0 || s->cmp_prod - cons >= (1u << s->cmp_log2))
            break; /* no room for the completion: the guest kicks again when there is */
        uint8_t d[PVSCSI_REQ_DESC_SIZE], c[PVSCSI_CMP_DESC_SIZE];
        uint64_t at = ring_addr(s->req_pa, s->req_cons & (entries - 1), REQ_PER_PAGE, PVSCSI_REQ_DESC_SIZE);
        if (pci_dma_read(&s->pci, at, d, sizeof d) < 0)
            break;
        s->req_cons++;
        rs_write(s, RS_REQ_CONS, s->req_cons);
        run_request(s, d, c);
        if (!post_completion(s, c))
            break;
    }
    update_irq(s);
}

/* ---- commands ---- */

static void adapter_reset(struct pvscsi *s)
{
    s->rings = s->msg = false;
    s->req_cons = s->cmp_prod = 0;
    s->intr_status = 0;
    s->intr_mask = 0;
    s->cmd = s->cmd_need = s->cmd_n = 0;
    s->cmd_status = 0;
    update_irq(s);
}

static uint32_t cmd_setup_rings(struct pvscsi *s)
{
    const uint32_t *w = s->cmd_data;
    uint32_t nreq = w[0], ncmp = w[1];
    uint64_t rs, req[PVSCSI_MAX_RING_PAGES], cmp[PVSCSI_MAX_RING_PAGES];
    s->rings = s->msg = false;
    if (!pages_valid(nreq, PVSCSI_MAX_RING_PAGES) || !pages_valid(ncmp, PVSCSI_MAX_RING_PAGES) ||
        !page_ok(s, w[2] | (uint64_t)w[3] << 32, &rs))
        return CMD_UNSUPPORTED;
    for (uint32_t i = 0; i < nreq; i++)
        if (!page_ok(s, w[4 + 2 * i] | (uint64_t)w[5 + 2 * i] << 32, &req[i]))
            return CMD_UNSUPPORTED;
    for (uint32_t i = 0; i < ncmp; i++)
        if (!page_ok(s, w[68 + 2 * i] | (uint64_t)w[69 + 2 * i] << 32, &cmp[i]))
            return CMD_UNSUPPORTED;
    s->rs_pa = rs;
    memcpy(s->req_pa, req, nreq * sizeof req[0]);
    memcpy(s->cmp_pa, cmp, ncmp * sizeof cmp[0]);
    s->req_log2 = log2u(nreq * REQ_PER_PAGE);
    s->cmp_log2 = log2u(ncmp * CMP_PER_PAGE);
    s->req_cons = s->cmp_prod = 0;
    if (rs_write(s, RS_REQ_CONS, 0) < 0 || rs_write(s, RS_REQ_LOG2, s->req_log2) < 0 ||
        rs_write(s, RS_CMP_PROD, 0) < 0 || rs_write(s, RS_CMP_LOG2, s->cmp_log2) < 0)
        return CMD_UNSUPPORTED;
    s->rings = true;
    return 0;
}

static uint32_t cmd_setup_msg_ring(struct pvscsi *s)
{
    const uint32_t *w = s->cmd_data;
    uint32_t n = w[0];
    uint64_t pa[PVSCSI_MAX_MSG_RING_PAGES];
    if (!s->rings || !pages_valid(n, PVSCSI_MAX_MSG_RING_PAGES))
        return CMD_UNSUPPORTED;
    for (uint32_t i = 0; i < n; i++)
        if (!page_ok(s, w[2 + 2 * i] | (uint64_t)w[3 + 2 * i] << 32, &pa[i]))
            return CMD_UNSUPPORTED;
    memcpy(s->msg_pa, pa, n * sizeof pa[0]);
    s->msg_log2 = log2u(n * MSG_PER_PAGE);
    if (rs_write(s, RS_MSG_PROD, 0) < 0 || rs_write(s, RS_MSG_LOG2, s->msg_log2) < 0)
        return CMD_UNSUPPORTED;
    s->msg = true;
    return 0;
}

/* PVSCSI_CMD_CONFIG: the controller page (its number of targets); others fail in their header. */
static uint32_t cmd_config(struct pvscsi *s)
{
    const uint32_t *w = s->cmd_data;
    uint64_t to = w[0] | (uint64_t)w[1] << 32;
    uint32_t addr_type = w[3], page = w[4];
    uint8_t p[480];
    memset(p, 0, sizeof p);
    put_le32(p, page);
    if (page == PVSCSI_CONFIG_PAGE_CONTROLLER && addr_type == PVSCSI_CONFIG_CONTROLLER_ADDRESS) {
        put_le16(p + 4, sizeof p / 4);
        put_le64(p + 16, 0x5000c29000000000ull); /* node WWN */
        const char *maker = "VMware";
        for (unsigned i = 0; maker[i]; i++)
            put_le16(p + 24 + 2 * i, (uint8_t)maker[i]);
        put_le32(p + 472, SCSI_MAX_TARGETS); /* numPhys */
    } else {
        put_le16(p + 8, BTSTAT_INVPARAM);
        put_le16(p + 10, SCSI_CHECK_CONDITION);
    }
    return pci_dma_write(&s->pci, to, p, page == PVSCSI_CONFIG_PAGE_CONTROLLER ? sizeof p : 16) < 0
               ? CMD_UNSUPPORTED
               : 0;
}

static uint32_t cmd_reset_device(struct pvscsi *s)
{
    uint32_t target = s->cmd_data[0];
    for (unsigned l = 0; l < SCSI_MAX_LUNS; l++) {
        struct scsi_dev *d = scsi_bus_find(s->sbus, target, l);
        if (d)
            scsi_dev_reset(d);
    }
    return 0;
}

static uint32_t cmd_issue_scsi(struct pvscsi *s)
{
    uint8_t d[PVSCSI_REQ_DESC_SIZE], c[PVSCSI_CMP_DESC_SIZE];
    for (unsigned i = 0; i < PVSCSI_REQ_DESC_SIZE / 4; i++)
        put_le32(d + 4 * i, s->cmd_data[i]);
    if (!s->rings)
        return CMD_UNSUPPORTED;
    run_request(s, d, c);
    uint32_t r = post_completion(s, c) ? 0 : CMD_UNSUPPORTED;
    update_irq(s);
    return r;
}

/* Dwords of descriptor each command takes; -1: not a command of this device. */
static int cmd_dwords(uint32_t cmd)
{
    switch (cmd) {
    case PVSCSI_CMD_ADAPTER_RESET: return 0;
    case PVSCSI_CMD_ISSUE_SCSI: return PVSCSI_REQ_DESC_SIZE / 4;
    case PVSCSI_CMD_SETUP_RINGS: return CMD_DATA_MAX;
    case PVSCSI_CMD_RESET_BUS: return 0;
    case PVSCSI_CMD_RESET_DEVICE: return 3;
    case PVSCSI_CMD_ABORT_CMD: return 4;
    case PVSCSI_CMD_CONFIG: return 6;
    case PVSCSI_CMD_SETUP_MSG_RING: return 2 + 2 * PVSCSI_MAX_MSG_RING_PAGES;
    default: return -1; /* DEVICE_UNPLUG, SETUP_REQCALLTHRESHOLD, ... */
    }
}

static uint32_t run_command(struct pvscsi *s)
{
    switch (s->cmd) {
    case PVSCSI_CMD_ADAPTER_RESET: adapter_reset(s); return 0;
    case PVSCSI_CMD_ISSUE_SCSI: return cmd_issue_scsi(s);
    case PVSCSI_CMD_SETUP_RINGS: return cmd_setup_rings(s);
    case PVSCSI_CMD_RESET_BUS: scsi_bus_reset(s->sbus); return 0;
    case PVSCSI_CMD_RESET_DEVICE: return cmd_reset_device(s);
    case PVSCSI_CMD_ABORT_CMD: return 0; /* every command completed on its kick */
    case PVSCSI_CMD_CONFIG: return cmd_config(s);
    case PVSCSI_CMD_SETUP_MSG_RING: return cmd_setup_msg_ring(s);
    default: return CMD_UNSUPPORTED;
    }
}

static void write_command(struct pvscsi *s, uint32_t v)
{
    int n = cmd_dwords(v);
    s->cmd_n = 0;
    if (n < 0) {
        s->cmd = 0;
        s->cmd_need = 0;
        s->cmd_status = CMD_UNSUPPORTED;
        return;
    }
    s->cmd = v;
    s->cmd_need = (uint32_t)n;
    /* Still waiting: the dwords it takes (never -1, so a driver probing for the command sees it). */
    s->cmd_status = (uint32_t)n;
    if (!n) {
        s->cmd_status = run_command(s);
        s->cmd = 0;
    }
}

static void write_command_data(struct pvscsi *s, uint32_t v)
{
    if (!s->cmd || s->cmd_n >= s->cmd_need)
        return;
    s->cmd_data[s->cmd_n++] = v;
    if (s->cmd_n == s->cmd_need) {
        s->cmd_status = run_command(s);
        s->cmd = 0;
    }
}

/* ---- registers ---- */

static uint64_t reg_read(void *opaque, uint64_t off, unsigned size)
{
    struct pvscsi *s = opaque;
    switch (off) {
    case PVSCSI_REG_COMMAND_STATUS: return s->cmd_status;
    case PVSCSI_REG_INTR_STATUS: return s->intr_status;
    case PVSCSI_REG_INTR_MASK: return s->intr_mask;
    default: return 0;
    }
}

static void reg_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
    struct pvscsi *s = opaque;
    uint32_t v = (uint32_t)value;
    switch (off) {
    case PVSCSI_REG_COMMAND: write_command(s, v); break;
    case PVSCSI_REG_COMMAND_DATA: write_command_data(s, v); break;
    case PVSCSI_REG_INTR_STATUS:
        s->intr_status &= ~v;
        update_irq(s);
        break;
    case PVSCSI_REG_INTR_MASK:
        s->intr_mask = v & (PVSCSI_INTR_CMPL_MASK | PVSCSI_INTR_MSG_MASK);
        update_irq(s);
        break;
    case PVSCSI_REG_KICK_RW_IO:
    case PVSCSI_REG_KICK_NON_RW_IO: process_ring(s); break;
    default: break;
    }
}

static const struct bus_ops reg_ops = {reg_read, reg_write, 4, 4};

struct pvscsi *pvscsi_new(struct bus *bus, struct pci_bus *pci, int devfn, struct scsi_bus *sbus)
{
    struct pvscsi *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->bus = bus;
    s->sbus = sbus;
    pci_device_init(&s->pci, "pvscsi", 0x15ad, 0x07c0, 0x010000, 0x02, 1);
    pci_set_subsystem(&s->pci, 0x15ad, 0x07c0);
    s->pci.opaque = s;
    pci_device_set_bar(&s->pci, 0, PCI_BAR_MEM32, PVSCSI_MEM_SIZE, &reg_ops, s, NULL);
    if (pci_register(pci, &s->pci, devfn) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void pvscsi_reset(struct pvscsi *s)
{
    adapter_reset(s);
    pci_device_reset(&s->pci);
}

void pvscsi_free(struct pvscsi *s)
{
    free(s);
}
