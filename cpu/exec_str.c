/*
 * String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with REP,
 * REPE and REPNE for the software core. Each iteration commits its register
 * updates before the next one starts, so a fault in the middle leaves ECX,
 * ESI and EDI describing the work done and the instruction restarts there;
 * a long REP yields after a bounded number of iterations (EIP stays on the
 * instruction) so that interrupts and deadlines are honoured.
 */
#include "cpu/exec.h"

#define REP_BUDGET 4096

static void adv(struct soft *s, int r, int32_t step, uint32_t amask)
{
    s->r[r] = reg_write_asize(s->r[r], s->r[r] + (uint64_t)(int64_t)step, amask);
}

/* One iteration; returns the flags-relevant comparison done (for CMPS/SCAS). */
static void string_once(struct soft *s, const struct insn *in, unsigned size, uint32_t amask,
                        int32_t step)
{
    uint32_t si = s->r[GPR_SI] & amask, di = s->r[GPR_DI] & amask, a, b;
    switch (in->op) {
    case 0xA4: case 0xA5:
        a = mread(s, in->seg, si, size);
        mwrite(s, SEG_ES, di, a, size);
        adv(s, GPR_SI, step, amask);
        adv(s, GPR_DI, step, amask);
        return;
    case 0xA6: case 0xA7:
        a = mread(s, in->seg, si, size);
        b = mread(s, SEG_ES, di, size);
        alu(s, 7, a, b, size);
        adv(s, GPR_SI, step, amask);
        adv(s, GPR_DI, step, amask);
        return;
    case 0xAA: case 0xAB:
        mwrite(s, SEG_ES, di, reg_get(s, GPR_AX, size), size);
        adv(s, GPR_DI, step, amask);
        return;
    case 0xAC: case 0xAD:
        reg_set(s, GPR_AX, mread(s, in->seg, si, size), size);
        adv(s, GPR_SI, step, amask);
        return;
    case 0xAE: case 0xAF:
        b = mread(s, SEG_ES, di, size);
        alu(s, 7, reg_get(s, GPR_AX, size), b, size);
        adv(s, GPR_DI, step, amask);
        return;
    case 0x6C: case 0x6D: {
        uint32_t lin = seg_lin(s, SEG_ES, di, size, SEG_W);
        lin_probe_write(s, lin, size, s->cpl == 3);
        a = bus_in(s->bus, (uint16_t)s->r[GPR_DX], size);
        vwrite(s, lin, a, size);
        adv(s, GPR_DI, step, amask);
        return;
    }
    default:
        a = mread(s, in->seg, si, size);
        bus_out(s->bus, (uint16_t)s->r[GPR_DX], a, size);
        adv(s, GPR_SI, step, amask);
        return;
    }
}

/* REP STOSB/STOSD and MOVSB/MOVSD forward within one page on both sides: plain copies. */
static bool string_fast(struct soft *s, const struct insn *in, unsigned size, uint32_t amask,
                        uint32_t *count)
{
    if ((s->flags & FL_DF) || (in->op != 0xAA && in->op != 0xAB && in->op != 0xA4 && in->op != 0xA5))
        return false;
    uint32_t di = s->r[GPR_DI] & amask;
    uint32_t n = *count;
    uint32_t room = (0x1000 - ((s->seg[SEG_ES].base + di) & 0xFFF)) / size;
    if (n > room)
        n = room;
    if (di + n * size - 1 > amask || n == 0)
        return false;
    uint32_t dlin = seg_lin(s, SEG_ES, di, n * size, SEG_W);
    struct tlb_entry *de = &s->tlb_cur[(dlin >> 12) & (TLB_SIZE - 1)];
    if (de->tag_w != (dlin & ~0xFFFu))
        return false;
    uint8_t *dst = de->host + (dlin & 0xFFF);
    if (in->op >= 0xAA) {
        uint32_t v = reg_get(s, GPR_AX, size);
        for (uint32_t i = 0; i < n; i++)
            store_le(dst + i * size, v, size);
    } else {
        uint32_t si = s->r[GPR_SI] & amask;
        uint32_t sroom = (0x1000 - ((s->seg[in->seg].base + si) & 0xFFF)) / size;
        if (n > sroom)
            n = sroom;
        if (n == 0 || si + n * size - 1 > amask)
            return false;
        uint32_t slin = seg_lin(s, in->seg, si, n * size, SEG_R);
        struct tlb_entry *se = &s->tlb_cur[(slin >> 12) & (TLB_SIZE - 1)];
        if (se->tag_r != (slin & ~0xFFFu))
            return false;
        const uint8_t *src = se->host + (slin & 0xFFF);
        for (uint32_t i = 0; i < n; i++)
            store_le(dst + i * size, load_le(src + i * size, size), size);
        adv(s, GPR_SI, (int32_t)(n * size), amask);
    }
    adv(s, GPR_DI, (int32_t)(n * size), amask);
    *count -= n;
    return true;
}

void exec_string(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? ((in->pfx & P_OP32) ? 4 : 2) : 1;
    uint32_t amask = (in->pfx & P_ADDR32) ? 0xFFFFFFFFu : 0xFFFF;
    int32_t step = (s->flags & FL_DF) ? -(int32_t)size : (int32_t)size;
    bool io = in->op < 0x70;
    if (io) {
        soft_io_check(s, (uint16_t)s->r[GPR_DX], size);
        soft_sync_clock(s);
    }
    if (!(in->pfx & (P_REP | P_REPNE))) {
        string_once(s, in, size, amask, step);
        return;
    }
    bool cmp = in->op == 0xA6 || in->op == 0xA7 || in->op == 0xAE || in->op == 0xAF;
    uint32_t count = s->r[GPR_CX] & amask;
    for (int budget = REP_BUDGET; count; budget--) {
        if (budget == 0) {
            s->next_eip = s->eip;
            s->block_end = true;
            return;
        }
        if (!cmp && !io && string_fast(s, in, size, amask, &count)) {
            s->r[GPR_CX] = reg_write_asize(s->r[GPR_CX], count, amask);
            continue;
        }
        string_once(s, in, size, amask, step);
        count--;
        s->r[GPR_CX] = reg_write_asize(s->r[GPR_CX], count, amask);
        if (cmp && cond(s, 4) != !!(in->pfx & P_REP))
            return;
    }
}
