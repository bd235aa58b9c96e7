/*
 * Instruction semantics of the one-byte opcode map for the software core:
 * ALU, shifts and rotates, multiply/divide, BCD, stack, control transfer,
 * string operations with REP (interruptible and restartable: registers are
 * updated per iteration), port I/O with IOPL/bitmap checks, and the flags
 * instructions. The 0F map is in exec_0f.c, system registers in exec_sys.c.
 */
#include "cpu/exec.h"

uint32_t cc_compute(const struct lazy_cc *c)
{
    unsigned size = c->size;
    uint64_t m = mask_of(size), sb = 1ull << (size * 8 - 1);
    uint64_t r = cc_full(c->res, c->res_hi, size) & m, a = cc_full(c->src1, c->src1_hi, size) & m;
    uint64_t b = cc_full(c->src2, c->src2_hi, size) & m;
    uint32_t f = (r ? 0 : FL_ZF) | ((r & sb) ? FL_SF : 0) | (__builtin_parity(r & 0xFF) ? 0 : FL_PF);
    bool cf = false, of = false, af = false;
    switch (c->op) {
    case CC_ADD64:
    case CC_ADD:
    case CC_ADC:
        cf = c->op == CC_ADC && c->cin ? r <= a : r < a;
        of = (a ^ r) & (b ^ r) & sb;
        af = (a ^ b ^ r) & 0x10;
        break;
    case CC_SUB64:
    case CC_SUB:
    case CC_SBB:
        cf = c->op == CC_SBB && c->cin ? a <= b : a < b;
        of = (a ^ b) & (a ^ r) & sb;
        af = (a ^ b ^ r) & 0x10;
        break;
    case CC_INC:
        cf = c->cin;
        of = r == sb;
        af = (a ^ r) & 0x10;
        break;
    case CC_DEC:
        cf = c->cin;
        of = a == sb;
        af = (a ^ r) & 0x10;
        break;
    case CC_MUL:
        cf = of = c->src2 != 0;
        break;
    default:
        break;
    }
    return f | (cf ? FL_CF : 0) | (of ? FL_OF : 0) | (af ? FL_AF : 0);
}

/* Condition cc (the low nibble of Jcc/SETcc/CMOVcc) for any lazy state. */
bool cond_slow(struct soft *s, unsigned cc)
{
    bool v;
    const struct lazy_cc *c = &s->cc;
    unsigned size = c->size ? c->size : 4; /* 0 before any flag-setting op (CC_NONE): unused then */
    uint64_t m = mask_of(size), sb = 1ull << (size * 8 - 1);
    uint64_t res = cc_full(c->res, c->res_hi, size);
    if ((c->op == CC_SUB || c->op == CC_SUB64) && (cc >> 1) != 0 && (cc >> 1) != 5) {
        uint64_t a = cc_full(c->src1, c->src1_hi, size) & m, b = cc_full(c->src2, c->src2_hi, size) & m;
        switch (cc >> 1) {
        case 1: v = a < b; break;
        case 2: v = a == b; break;
        case 3: v = a <= b; break;
        case 4: v = res & sb; break;
        case 6: v = (int64_t)sext64(a, size) < (int64_t)sext64(b, size); break;
        default: v = (int64_t)sext64(a, size) <= (int64_t)sext64(b, size); break;
        }
        return v ^ (cc & 1);
    }
    if (c->op == CC_LOGIC) {
        uint64_t r = res & m;
        bool zf = r == 0, sf = r & sb;
        switch (cc >> 1) {
        case 0: case 1: v = false; break;
        case 2: case 3: v = zf; break;
        case 4: case 6: v = sf; break;
        case 5: v = !__builtin_parity(r & 0xFF); break;
        default: v = zf || sf; break;
        }
        return v ^ (cc & 1);
    }
    if (c->op != CC_NONE && ((cc >> 1) == 2 || (cc >> 1) == 4)) {
        uint64_t r = res & m;
        v = (cc >> 1) == 2 ? r == 0 : (r & sb) != 0;
        return v ^ (cc & 1);
    }
    uint32_t f = arith_flags(s);
    bool sf = f & FL_SF, of = f & FL_OF;
    switch (cc >> 1) {
    case 0: v = of; break;
    case 1: v = f & FL_CF; break;
    case 2: v = f & FL_ZF; break;
    case 3: v = f & (FL_CF | FL_ZF); break;
    case 4: v = sf; break;
    case 5: v = f & FL_PF; break;
    case 6: v = sf != of; break;
    default: v = (f & FL_ZF) || sf != of; break;
    }
    return v ^ (cc & 1);
}

uint64_t alu(struct soft *s, unsigned op, uint32_t a, uint32_t b, unsigned size)
{
    uint32_t r, m = size_mask(size);
    bool cin;
    switch (op) {
    case 0: r = a + b; cc_set(s, CC_ADD, size, r, a, b); break;
    case 1: r = a | b; cc_set(s, CC_LOGIC, size, r, a, b); break;
    case 2:
        cin = get_cf(s);
        r = a + b + cin;
        cc_set(s, CC_ADC, size, r, a, b);
        s->cc.cin = cin;
        break;
    case 3:
        cin = get_cf(s);
        r = a - b - cin;
        cc_set(s, CC_SBB, size, r, a, b);
        s->cc.cin = cin;
        break;
    case 4: r = a & b; cc_set(s, CC_LOGIC, size, r, a, b); break;
    case 6: r = a ^ b; cc_set(s, CC_LOGIC, size, r, a, b); break;
    default: r = a - b; cc_set(s, CC_SUB, size, r, a, b); break;
    }
    return r & m;
}

uint64_t alu64(struct soft *s, unsigned op, uint64_t a, uint64_t b)
{
    uint64_t r;
    bool cin;
    switch (op) {
    case 0: r = a + b; cc_set64(s, CC_ADD64, 8, r, a, b); break;
    case 1: r = a | b; cc_set64(s, CC_LOGIC, 8, r, a, b); break;
    case 2:
        cin = get_cf(s);
        r = a + b + cin;
        cc_set64(s, CC_ADC, 8, r, a, b);
        s->cc.cin = cin;
        break;
    case 3:
        cin = get_cf(s);
        r = a - b - cin;
        cc_set64(s, CC_SBB, 8, r, a, b);
        s->cc.cin = cin;
        break;
    case 4: r = a & b; cc_set64(s, CC_LOGIC, 8, r, a, b); break;
    case 6: r = a ^ b; cc_set64(s, CC_LOGIC, 8, r, a, b); break;
    default: r = a - b; cc_set64(s, CC_SUB64, 8, r, a, b); break;
    }
    return r;
}

static uint32_t inc_dec(struct soft *s, uint32_t a, bool dec, unsigned size)
{
    bool cf = get_cf(s);
    uint32_t r = (dec ? a - 1 : a + 1) & size_mask(size);
    cc_set(s, dec ? CC_DEC : CC_INC, size, r, a, 1);
    s->cc.cin = cf;
    return r;
}

/* ---- shifts and rotates (group 2), flags computed eagerly ---- */

uint32_t shift_op(struct soft *s, unsigned op, uint32_t a, unsigned n, unsigned size)
{
    unsigned bits = size * 8;
    uint32_t m = size_mask(size), sb = sign_bit(size);
    n &= 31;
    if (op == 2 || op == 3)
        n %= bits + 1;
    if (!n)
        return a;
    if (op >= 4)
        return shift_plain(s, op, a, n, size);
    uint32_t f = arith_flags(s), r; /* rotates keep SF ZF AF PF */
    bool cf, of;
    switch (op) {
    case 0: { /* ROL */
        unsigned k = n % bits;
        r = ((a << k) | (k ? a >> (bits - k) : 0)) & m;
        cf = r & 1;
        of = ((r & sb) != 0) ^ cf;
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        flags_set_arith(s, f);
        return r;
    }
    case 1: { /* ROR */
        unsigned k = n % bits;
        r = ((a >> k) | (k ? a << (bits - k) : 0)) & m;
        cf = r & sb;
        of = ((r & sb) != 0) ^ ((r & (sb >> 1)) != 0);
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        flags_set_arith(s, f);
        return r;
    }
    case 2: { /* RCL */
        uint64_t v = ((uint64_t)((f & FL_CF) ? 1 : 0) << bits) | a;
        v = ((v << n) | (v >> (bits + 1 - n))) & ((2ull << bits) - 1);
        r = (uint32_t)v & m;
        cf = (v >> bits) & 1;
        of = ((r & sb) != 0) ^ cf;
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        flags_set_arith(s, f);
        return r;
    }
    default: { /* RCR */
        uint64_t v = ((uint64_t)((f & FL_CF) ? 1 : 0) << bits) | a;
        v = ((v >> n) | (v << (bits + 1 - n))) & ((2ull << bits) - 1);
        r = (uint32_t)v & m;
        cf = (v >> bits) & 1;
        of = ((r & sb) != 0) ^ ((r & (sb >> 1)) != 0);
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        flags_set_arith(s, f);
        return r;
    }
    }
}

/* ---- multiply and divide (group 3) ---- */

void mul_op(struct soft *s, unsigned op, uint32_t b, unsigned size)
{
    uint32_t a = reg_get(s, GPR_AX, size);
    uint64_t r;
    bool ovf;
    if (op == 4) {
        r = (uint64_t)a * b;
        ovf = (r >> (size * 8)) != 0;
    } else {
        int64_t sr = (int64_t)sext(a, size) * sext(b, size);
        r = (uint64_t)sr;
        ovf = sr != sext((uint32_t)sr, size);
    }
    if (size == 1) {
        reg_set(s, GPR_AX, (uint32_t)r, 2);
    } else {
        reg_set(s, GPR_AX, (uint32_t)r, size);
        reg_set(s, GPR_DX, (uint32_t)(r >> (size * 8)), size);
    }
    cc_set(s, CC_MUL, size, (uint32_t)r, 0, ovf);
}

void div_op(struct soft *s, unsigned op, uint32_t b, unsigned size)
{
    unsigned bits = size * 8;
    if ((b & size_mask(size)) == 0)
        soft_raise_noerr(s, EXC_DE);
    uint64_t n = size == 1 ? reg_get(s, GPR_AX, 2)
                           : ((uint64_t)reg_get(s, GPR_DX, size) << bits) | reg_get(s, GPR_AX, size);
    uint64_t q, rem;
    if (op == 6) {
        q = n / b;
        rem = n % b;
        if (q > size_mask(size))
            soft_raise_noerr(s, EXC_DE);
    } else {
        int64_t sn = size == 1 ? (int16_t)n : size == 2 ? (int32_t)n : (int64_t)n;
        int64_t sd = sext(b, size);
        if (sd == -1 && sn == INT64_MIN)
            soft_raise_noerr(s, EXC_DE);
        int64_t sq = sn / sd;
        if (sq != sext((uint32_t)sq, size))
            soft_raise_noerr(s, EXC_DE);
        q = (uint64_t)sq;
        rem = (uint64_t)(sn % sd);
    }
    if (size == 1) {
        reg_set(s, GPR_AX, ((uint32_t)rem & 0xFF) << 8 | ((uint32_t)q & 0xFF), 2);
    } else {
        reg_set(s, GPR_AX, (uint32_t)q, size);
        reg_set(s, GPR_DX, (uint32_t)rem, size);
    }
}

static void group3(struct soft *s, const struct insn *in, unsigned size)
{
    unsigned op = insn_reg(in);
    uint32_t ea = 0, v;
    switch (op) {
    case 0:
    case 1:
        v = rm_read(s, in, size);
        alu(s, 4, v, in->imm, size);
        return;
    case 2:
        v = rm_read_rmw(s, in, size, &ea);
        rm_write_at(s, in, ea, ~v & size_mask(size), size);
        return;
    case 3:
        v = rm_read_rmw(s, in, size, &ea);
        rm_write_at(s, in, ea, alu(s, 5, 0, v, size), size);
        return;
    case 4:
    case 5:
        mul_op(s, op, rm_read(s, in, size), size);
        return;
    default:
        div_op(s, op, rm_read(s, in, size), size);
        return;
    }
}

/* ---- BCD ---- */

static void bcd_adjust(struct soft *s, uint8_t op, uint8_t imm)
{
    uint32_t f = arith_flags(s);
    uint8_t al = (uint8_t)s->r[GPR_AX], old = al;
    bool cf = f & FL_CF, af = f & FL_AF;
    switch (op) {
    case 0x27: /* DAA */
    case 0x2F: /* DAS */ {
        bool sub = op == 0x2F, ncf = false, naf = false;
        if ((al & 0xF) > 9 || af) {
            al = sub ? (uint8_t)(al - 6) : (uint8_t)(al + 6);
            ncf = cf || (sub ? old < 6 : old > 0xF9);
            naf = true;
        }
        if (old > 0x99 || cf) {
            al = sub ? (uint8_t)(al - 0x60) : (uint8_t)(al + 0x60);
            ncf = true;
        }
        reg_set(s, GPR_AX, al, 1);
        f = szp_flags(al, 1) | (ncf ? FL_CF : 0) | (naf ? FL_AF : 0);
        uint32_t of = sub ? ((old ^ al) & old & 0x80) : ((old ^ al) & al & 0x80);
        flags_set_arith(s, f | (of ? FL_OF : 0));
        return;
    }
    case 0x37: /* AAA */
    case 0x3F: /* AAS */ {
        uint32_t ax = s->r[GPR_AX] & 0xFFFF;
        bool adj = (al & 0xF) > 9 || af;
        if (adj)
            ax = op == 0x37 ? ax + 0x106 : ax - 0x106;
        ax = (ax & 0xFF0F);
        reg_set(s, GPR_AX, ax, 2);
        flags_set_arith(s, (adj ? FL_CF | FL_AF : 0) | szp_flags(ax & 0xFF, 1));
        return;
    }
    case 0xD4: /* AAM */
        if (!imm)
            soft_raise_noerr(s, EXC_DE);
        reg_set(s, GPR_AX, ((uint32_t)(al / imm) << 8) | (al % imm), 2);
        flags_set_arith(s, szp_flags(al % imm, 1));
        return;
    default: { /* AAD */
        uint8_t ah = (uint8_t)(s->r[GPR_AX] >> 8);
        uint8_t r = (uint8_t)(al + ah * imm);
        reg_set(s, GPR_AX, r, 2);
        alu(s, 0, al, (uint8_t)(ah * imm), 1);
        return;
    }
    }
}

/* ---- control transfer ---- */

void jump_near(struct soft *s, uint32_t target, bool op32)
{
    if (!op32)
        target &= 0xFFFF;
    if (target > s->seg[SEG_CS].limit)
        soft_raise(s, EXC_GP, 0);
    s->next_eip = target;
}

static void jump_rel(struct soft *s, const struct insn *in, uint32_t rel)
{
    jump_near(s, s->next_eip + rel, in->pfx & P_OP32);
}

static uint32_t rel_imm(const struct insn *in, bool byte)
{
    if (byte)
        return (uint32_t)(int32_t)(int8_t)in->imm;
    return (in->pfx & P_OP32) ? in->imm : (uint32_t)(int32_t)(int16_t)in->imm;
}

static void loop_op(struct soft *s, const struct insn *in)
{
    bool a32 = in->pfx & P_ADDR32;
    uint32_t m = a32 ? 0xFFFFFFFFu : 0xFFFF;
    uint32_t cx = s->r[GPR_CX] & m;
    bool take;
    if (in->op == 0xE3) {
        take = cx == 0;
    } else {
        cx = (cx - 1) & m;
        take = cx != 0;
        if (in->op == 0xE0)
            take = take && !cond(s, 4);
        else if (in->op == 0xE1)
            take = take && cond(s, 4);
    }
    uint32_t target = s->next_eip + rel_imm(in, true);
    if (take)
        jump_near(s, target, in->pfx & P_OP32);
    if (in->op != 0xE3)
        s->r[GPR_CX] = reg_write_asize(s->r[GPR_CX], cx, m);
}

static void enter_op(struct soft *s, const struct insn *in)
{
    bool op32 = in->pfx & P_OP32, s32 = stack32(s);
    unsigned size = op32 ? 4 : 2, level = in->imm2 & 31;
    uint32_t smask = s32 ? 0xFFFFFFFFu : 0xFFFF;
    uint32_t sp = s->r[GPR_SP], bp = s->r[GPR_BP];
    uint32_t nsp = sp - size;
    /* a write at the final stack pointer must be possible before anything changes (SDM, ENTER) */
    uint32_t top = (nsp - level * size - (in->imm & 0xFFFF)) & smask;
    lin_probe_write(s, seg_lin(s, SEG_SS, top, size, SEG_W), size, s->cpl == 3);
    mwrite(s, SEG_SS, nsp & smask, bp, size);
    uint32_t frame = nsp;
    for (unsigned i = 1; i < level; i++) {
        bp -= size;
        uint32_t v = mread(s, SEG_SS, bp & smask, size);
        nsp -= size;
        mwrite(s, SEG_SS, nsp & smask, v, size);
    }
    if (level) {
        nsp -= size;
        mwrite(s, SEG_SS, nsp & smask, frame, size);
    }
    nsp -= in->imm & 0xFFFF;
    /* EBP only with both operand and stack size 32: a 16-bit operand (host CPUs,
     * tests/cpu/recorded) or a 16-bit stack (Bochs, issue 25) writes BP alone */
    reg_set(s, GPR_BP, frame, op32 && s32 ? 4 : 2);
    s->r[GPR_SP] = s32 ? nsp : reg_merge16(s->r[GPR_SP], nsp);
}

static void leave_op(struct soft *s, const struct insn *in)
{
    bool op32 = in->pfx & P_OP32;
    uint32_t bp = stack32(s) ? s->r[GPR_BP] : s->r[GPR_BP] & 0xFFFF;
    uint32_t v = mread(s, SEG_SS, bp, op32 ? 4 : 2);
    uint32_t nsp = bp + (op32 ? 4 : 2);
    s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
    reg_set(s, GPR_BP, v, op32 ? 4 : 2);
}

static void pusha(struct soft *s, bool op32)
{
    uint32_t sp = s->r[GPR_SP];
    unsigned size = op32 ? 4 : 2;
    uint32_t smask = stack32(s) ? 0xFFFFFFFFu : 0xFFFF;
    for (int i = 0; i < 8; i++) {
        uint32_t v = i == GPR_SP ? sp : s->r[i];
        mwrite(s, SEG_SS, (sp - (i + 1) * size) & smask, v, size);
    }
    uint32_t nsp = sp - 8 * size;
    s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
}

static void popa(struct soft *s, bool op32)
{
    uint32_t sp = s->r[GPR_SP], v[8];
    unsigned size = op32 ? 4 : 2;
    uint32_t smask = stack32(s) ? 0xFFFFFFFFu : 0xFFFF;
    for (int i = 0; i < 8; i++)
        v[7 - i] = mread(s, SEG_SS, (sp + i * size) & smask, size);
    for (int i = 0; i < 8; i++)
        if (i != GPR_SP)
            reg_set(s, (unsigned)i, v[i], size);
    uint32_t nsp = sp + 8 * size;
    s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
}

/* POP to r/m: the address is computed with ESP already incremented. */
static void pop_rm(struct soft *s, const struct insn *in)
{
    bool op32 = in->pfx & P_OP32;
    uint32_t old = s->r[GPR_SP];
    uint32_t v = pop_v(s, op32);
    if (is_mem(in)) {
        uint32_t ea = insn_ea(s, in);
        uint32_t nsp = s->r[GPR_SP];
        s->r[GPR_SP] = old;
        mwrite(s, in->seg, ea, v, op32 ? 4 : 2);
        s->r[GPR_SP] = nsp;
    } else {
        reg_set(s, insn_rm(in), v, op32 ? 4 : 2);
    }
}

static void push_seg(struct soft *s, int seg, bool op32)
{
    uint32_t sp = s->r[GPR_SP];
    unsigned size = op32 ? 4 : 2;
    uint32_t nsp = stack32(s) ? sp - size : (sp & 0xFFFF0000u) | ((sp - size) & 0xFFFF);
    mwrite(s, SEG_SS, stack32(s) ? nsp : nsp & 0xFFFF, s->seg[seg].sel, 2);
    s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
}

static void pop_seg(struct soft *s, int seg, bool op32)
{
    uint32_t sp = s->r[GPR_SP];
    bool s32 = stack32(s); /* of the stack popped from, before POP SS changes it */
    uint32_t v = mread(s, SEG_SS, s32 ? sp : sp & 0xFFFF, 2);
    seg_load(s, seg, (uint16_t)v);
    unsigned size = op32 ? 4 : 2;
    s->r[GPR_SP] = s32 ? sp + size : reg_merge16(s->r[GPR_SP], sp + size);
    if (seg == SEG_SS)
        s->shadow = s->ss_shadow = true;
}

/* LES/LDS (and the 0F forms): offset then selector. */
void load_far_ptr(struct soft *s, const struct insn *in, int seg)
{
    unsigned size = osize(in);
    uint32_t ea = insn_ea(s, in);
    uint32_t off = mread(s, in->seg, ea, size);
    uint32_t sel = mread(s, in->seg, (ea + size) & ((in->pfx & P_ADDR32) ? ~0u : 0xFFFFu), 2);
    seg_load(s, seg, (uint16_t)sel);
    reg_set(s, insn_reg(in), off, size);
}

/* ---- flags instructions ---- */

static bool iopl_ok(const struct soft *s)
{
    return s->cpl <= (int)((s->flags & FL_IOPL) >> 12);
}

static void pushf(struct soft *s, bool op32)
{
    if (soft_v86(s) && (s->flags & FL_IOPL) != FL_IOPL)
        soft_raise(s, EXC_GP, 0);
    push_v(s, soft_get_eflags(s) & ~(FL_VM | FL_RF), op32);
}

static void popf(struct soft *s, bool op32)
{
    if (soft_v86(s) && (s->flags & FL_IOPL) != FL_IOPL)
        soft_raise(s, EXC_GP, 0);
    uint32_t v = pop_v(s, op32);
    uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
    if (!soft_pmode(s) || s->cpl == 0)
        mask |= FL_IOPL;
    if (!soft_pmode(s) || iopl_ok(s))
        mask |= FL_IF;
    if (soft_v86(s))
        mask &= ~FL_IOPL;
    if (!op32)
        mask &= 0xFFFF;
    soft_set_eflags(s, v, mask);
    s->flags &= ~FL_RF;
}

/* ---- port I/O ---- */

bool soft_io_check(struct soft *s, uint16_t port, unsigned size)
{
    if (!soft_io_allowed(s, port, size))
        soft_raise(s, EXC_GP, 0);
    return true;
}

/* The VMware backdoor hook (cpu.h): true when it took the access. */
static bool io_backdoor(struct soft *s, uint16_t port, bool in, unsigned size)
{
    if (!s->hooks.backdoor || !cpu_backdoor_port(port))
        return false;
    uint32_t regs[8];
    for (int i = 0; i < 8; i++)
        regs[i] = (uint32_t)s->r[i];
    if (!s->hooks.backdoor(s->hooks.opaque, port, in, size, regs))
        return false;
    for (int i = 0; i < 8; i++)
        if (regs[i] != (uint32_t)s->r[i])
            s->r[i] = regs[i];
    s->block_end = true;
    return true;
}

static void io_in(struct soft *s, uint16_t port, unsigned size)
{
    soft_io_check(s, port, size);
    soft_sync_clock(s);
    if (io_backdoor(s, port, true, size))
        return;
    reg_set(s, GPR_AX, bus_in(s->bus, port, size), size);
}

static void io_out(struct soft *s, uint16_t port, unsigned size)
{
    soft_io_check(s, port, size);
    soft_sync_clock(s);
    if (io_backdoor(s, port, false, size))
        return;
    bus_out(s->bus, port, reg_get(s, GPR_AX, size), size);
    s->block_end = true;
}

/* ---- the one-byte map ---- */

static void exec_alu(struct soft *s, const struct insn *in)
{
    unsigned op = (in->op >> 3) & 7, form = in->op & 7;
    unsigned size = (form & 1) ? osize(in) : 1;
    uint32_t ea = 0, a, b, r;
    switch (form) {
    case 0:
    case 1:
        a = op == 7 ? rm_read(s, in, size) : rm_read_rmw(s, in, size, &ea);
        b = reg_get(s, insn_reg(in), size);
        r = alu(s, op, a, b, size);
        if (op != 7)
            rm_write_at(s, in, ea, r, size);
        return;
    case 2:
    case 3:
        a = reg_get(s, insn_reg(in), size);
        b = rm_read(s, in, size);
        r = alu(s, op, a, b, size);
        if (op != 7)
            reg_set(s, insn_reg(in), r, size);
        return;
    default:
        a = reg_get(s, GPR_AX, size);
        r = alu(s, op, a, in->imm, size);
        if (op != 7)
            reg_set(s, GPR_AX, r, size);
        return;
    }
}

static void exec_grp1(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    unsigned op = insn_reg(in);
    uint32_t b = in->op == 0x83 ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm;
    uint32_t ea = 0;
    uint32_t a = op == 7 ? rm_read(s, in, size) : rm_read_rmw(s, in, size, &ea);
    uint32_t r = alu(s, op, a, b & size_mask(size), size);
    if (op != 7)
        rm_write_at(s, in, ea, r, size);
}

static void exec_grp2(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    unsigned n = in->op <= 0xC1 ? in->imm : in->op <= 0xD1 ? 1 : s->r[GPR_CX] & 0xFF;
    uint32_t ea = 0;
    uint32_t a = rm_read_rmw(s, in, size, &ea);
    uint32_t r = shift_op(s, insn_reg(in), a, n, size);
    rm_write_at(s, in, ea, r, size);
}

static void exec_grp5(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in);
    bool op32 = in->pfx & P_OP32;
    uint32_t ea = 0, v;
    switch (insn_reg(in)) {
    case 0:
    case 1:
        v = rm_read_rmw(s, in, size, &ea);
        rm_write_at(s, in, ea, inc_dec(s, v, insn_reg(in) == 1, size), size);
        return;
    case 2:
        v = rm_read(s, in, size);
        if (!op32)
            v &= 0xFFFF;
        if (v > s->seg[SEG_CS].limit)
            soft_raise(s, EXC_GP, 0);
        push_v(s, s->next_eip, op32);
        s->next_eip = v;
        return;
    case 4:
        jump_near(s, rm_read(s, in, size), op32);
        return;
    case 3:
    case 5: {
        ea = insn_ea(s, in);
        uint32_t off = mread(s, in->seg, ea, size);
        uint16_t sel = (uint16_t)mread(s, in->seg, (ea + size) & ((in->pfx & P_ADDR32) ? ~0u : 0xFFFFu), 2);
        if (insn_reg(in) == 3)
            far_call(s, sel, off, op32);
        else
            far_jmp(s, sel, off, op32);
        return;
    }
    default:
        v = rm_read(s, in, size);
        push_v(s, v, op32);
        return;
    }
}

static void exec_xchg(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    uint32_t ea = 0;
    uint32_t a = rm_read_rmw(s, in, size, &ea);
    uint32_t b = reg_get(s, insn_reg(in), size);
    rm_write_at(s, in, ea, b, size);
    reg_set(s, insn_reg(in), a, size);
}

static void exec_moffs(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    uint32_t off = (in->pfx & P_ADDR32) ? in->disp : in->disp & 0xFFFF;
    if (in->op < 0xA2)
        reg_set(s, GPR_AX, mread(s, in->seg, off, size), size);
    else
        mwrite(s, in->seg, off, reg_get(s, GPR_AX, size), size);
}

static void exec_bound(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in);
    uint32_t ea = insn_ea(s, in);
    int32_t lo = sext(mread(s, in->seg, ea, size), size);
    int32_t hi = sext(mread(s, in->seg, (ea + size) & ((in->pfx & P_ADDR32) ? ~0u : 0xFFFFu), size), size);
    int32_t v = sext(reg_get(s, insn_reg(in), size), size);
    if (v < lo || v > hi)
        soft_raise_noerr(s, EXC_BR);
}

/* ARPL: a read-modify-write whether or not RPL changes, so a memory destination in a
 * segment that cannot be written is #GP(0) even when ZF ends clear (the SDM's
 * protected-mode exceptions list it unconditionally; Bochs does the same). */
static void exec_arpl(struct soft *s, const struct insn *in)
{
    if (!soft_pmode(s) || soft_v86(s))
        soft_raise_noerr(s, EXC_UD);
    uint32_t ea = 0;
    uint32_t d = rm_read_rmw(s, in, 2, &ea);
    uint32_t r = reg_get(s, insn_reg(in), 2);
    uint32_t f = arith_flags(s) & ~FL_ZF;
    if ((d & 3) < (r & 3)) {
        rm_write_at(s, in, ea, (d & ~3u) | (r & 3), 2);
        f |= FL_ZF;
    }
    flags_set_arith(s, f);
}

static void exec_int(struct soft *s, const struct insn *in)
{
    switch (in->op) {
    case 0xCC: soft_interrupt(s, EXC_BP, true, false, 0, s->next_eip); break;
    case 0xCD: /* INT n is IOPL-sensitive in V86 mode; INT3 and INTO are not */
        if (soft_v86(s) && (s->flags & FL_IOPL) != FL_IOPL)
            soft_raise(s, EXC_GP, 0);
        soft_interrupt(s, in->imm & 0xFF, true, false, 0, s->next_eip);
        break;
    case 0xCE:
        if (cond(s, 0))
            soft_interrupt(s, EXC_OF, true, false, 0, s->next_eip);
        break;
    default: soft_interrupt(s, EXC_DB, false, false, 0, s->next_eip); break;
    }
}

static void exec_cli_sti(struct soft *s, bool set)
{
    if (soft_pmode(s) && !iopl_ok(s))
        soft_raise(s, EXC_GP, 0);
    if (set) {
        if (!(s->flags & FL_IF))
            s->shadow = true;
        s->flags |= FL_IF;
    } else {
        s->flags &= ~FL_IF;
    }
}

static void exec_wait(struct soft *s)
{
    if ((s->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
        soft_raise_noerr(s, EXC_NM);
    if (fpu_pending(s->fpu) && (s->cr0 & CR0_NE))
        soft_raise_noerr(s, EXC_MF);
}

static void exec_misc(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in);
    bool op32 = in->pfx & P_OP32;
    uint32_t f;
    switch (in->op) {
    case 0x98:
        if (op32)
            s->r[GPR_AX] = (uint32_t)(int32_t)(int16_t)s->r[GPR_AX];
        else
            reg_set(s, GPR_AX, (uint32_t)(int32_t)(int8_t)s->r[GPR_AX], 2);
        return;
    case 0x99:
        reg_set(s, GPR_DX, (reg_get(s, GPR_AX, size) & sign_bit(size)) ? 0xFFFFFFFFu : 0, size);
        return;
    case 0x9E:
        f = arith_flags(s) & FL_OF;
        flags_set_arith(s, f | ((s->r[GPR_AX] >> 8) & (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF)));
        return;
    case 0x9F:
        f = (arith_flags(s) & (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF)) | 2;
        reg_set(s, GPR_AX + 4, f, 1);
        return;
    case 0xD6:
        reg_set(s, GPR_AX, get_cf(s) ? 0xFF : 0, 1);
        return;
    case 0xD7: {
        uint32_t off = s->r[GPR_BX] + (s->r[GPR_AX] & 0xFF);
        if (!(in->pfx & P_ADDR32))
            off &= 0xFFFF;
        reg_set(s, GPR_AX, mread(s, in->seg, off, 1), 1);
        return;
    }
    case 0xF5: flags_set_arith(s, arith_flags(s) ^ FL_CF); return;
    case 0xF8: flags_set_arith(s, arith_flags(s) & ~FL_CF); return;
    case 0xF9: flags_set_arith(s, arith_flags(s) | FL_CF); return;
    case 0xFC: s->flags &= ~FL_DF; return;
    case 0xFD: s->flags |= FL_DF; return;
    default: soft_raise_noerr(s, EXC_UD);
    }
}

static void exec_stack_misc(struct soft *s, const struct insn *in)
{
    bool op32 = in->pfx & P_OP32;
    switch (in->op) {
    case 0x06: push_seg(s, SEG_ES, op32); return;
    case 0x07: pop_seg(s, SEG_ES, op32); return;
    case 0x0E: push_seg(s, SEG_CS, op32); return;
    case 0x16: push_seg(s, SEG_SS, op32); return;
    case 0x17: pop_seg(s, SEG_SS, op32); return;
    case 0x1E: push_seg(s, SEG_DS, op32); return;
    case 0x1F: pop_seg(s, SEG_DS, op32); return;
    case 0x60: pusha(s, op32); return;
    case 0x61: popa(s, op32); return;
    case 0x68: push_v(s, in->imm, op32); return;
    case 0x6A: push_v(s, (uint32_t)(int32_t)(int8_t)in->imm, op32); return;
    case 0x8F: pop_rm(s, in); return;
    case 0x9C: pushf(s, op32); return;
    case 0x9D: popf(s, op32); return;
    case 0xC8: enter_op(s, in); return;
    case 0xC9: leave_op(s, in); return;
    default: soft_raise_noerr(s, EXC_UD);
    }
}

static void exec_imul3(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in);
    uint32_t b = in->op == 0x6B ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm;
    int64_t r = (int64_t)sext(rm_read(s, in, size), size) * sext(b, size);
    reg_set(s, insn_reg(in), (uint32_t)r, size);
    cc_set(s, CC_MUL, size, (uint32_t)r, 0, r != sext((uint32_t)r, size));
}

static void exec_ret(struct soft *s, const struct insn *in)
{
    bool op32 = in->pfx & P_OP32;
    uint32_t sp = s->r[GPR_SP];
    uint32_t v = pop_v(s, op32);
    if (!op32)
        v &= 0xFFFF;
    if (v > s->seg[SEG_CS].limit) {
        s->r[GPR_SP] = sp;
        soft_raise(s, EXC_GP, 0);
    }
    if (in->op == 0xC2) {
        uint32_t nsp = s->r[GPR_SP] + (in->imm & 0xFFFF);
        s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
    }
    s->next_eip = v;
}

static void exec_io(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    uint16_t port = (in->op & 8) ? (uint16_t)s->r[GPR_DX] : (uint16_t)(in->imm & 0xFF);
    if (in->op & 2)
        io_out(s, port, size);
    else
        io_in(s, port, size);
}

static void exec_mov_seg(struct soft *s, const struct insn *in)
{
    if (in->op == 0x8C) {
        uint32_t v = s->seg[insn_reg(in)].sel;
        if (is_mem(in))
            rm_write(s, in, v, 2);
        else
            reg_set(s, insn_rm(in), v, osize(in));
        return;
    }
    seg_load(s, (int)insn_reg(in), (uint16_t)rm_read(s, in, 2));
    if (insn_reg(in) == SEG_SS)
        s->shadow = s->ss_shadow = true;
}

static void exec_fe(struct soft *s, const struct insn *in)
{
    uint32_t ea = 0;
    uint32_t v = rm_read_rmw(s, in, 1, &ea);
    rm_write_at(s, in, ea, inc_dec(s, v, insn_reg(in) == 1, 1), 1);
}

static void exec_hlt(struct soft *s)
{
    if (soft_pmode(s) && s->cpl != 0)
        soft_raise(s, EXC_GP, 0);
    s->halted = true;
}

void soft_exec(struct soft *s, const struct insn *in)
{
    unsigned op = in->op, size;
    uint32_t v;
    if ((in->props & I_LONG) && exec64(s, in))
        return;
    if (op >= 0x100) {
        exec_0f(s, in);
        return;
    }
    switch (op) {
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05:
    case 0x08: case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
    case 0x18: case 0x19: case 0x1A: case 0x1B: case 0x1C: case 0x1D:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25:
    case 0x28: case 0x29: case 0x2A: case 0x2B: case 0x2C: case 0x2D:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35:
    case 0x38: case 0x39: case 0x3A: case 0x3B: case 0x3C: case 0x3D:
        exec_alu(s, in);
        return;
    case 0x27: case 0x2F: case 0x37: case 0x3F:
        bcd_adjust(s, (uint8_t)op, 0);
        return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4A: case 0x4B: case 0x4C: case 0x4D: case 0x4E: case 0x4F:
        size = osize(in);
        reg_set(s, op & 7, inc_dec(s, reg_get(s, op & 7, size), op >= 0x48, size), size);
        return;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
        push_v(s, s->r[op & 7], in->pfx & P_OP32);
        return;
    case 0x58: case 0x59: case 0x5A: case 0x5B: case 0x5C: case 0x5D: case 0x5E: case 0x5F:
        v = pop_v(s, in->pfx & P_OP32);
        reg_set(s, op & 7, v, osize(in));
        return;
    case 0x62: exec_bound(s, in); return;
    case 0x63: exec_arpl(s, in); return;
    case 0x69: case 0x6B: exec_imul3(s, in); return;
    case 0x6C: case 0x6D: case 0x6E: case 0x6F:
    case 0xA4: case 0xA5: case 0xA6: case 0xA7:
    case 0xAA: case 0xAB: case 0xAC: case 0xAD: case 0xAE: case 0xAF:
        exec_string(s, in);
        return;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7A: case 0x7B: case 0x7C: case 0x7D: case 0x7E: case 0x7F:
        if (cond(s, op & 15))
            jump_rel(s, in, rel_imm(in, true));
        return;
    case 0x80: case 0x81: case 0x82: case 0x83: exec_grp1(s, in); return;
    case 0x84: case 0x85:
        size = (op & 1) ? osize(in) : 1;
        alu(s, 4, rm_read(s, in, size), reg_get(s, insn_reg(in), size), size);
        return;
    case 0x86: case 0x87: exec_xchg(s, in); return;
    case 0x88: case 0x89:
        size = (op & 1) ? osize(in) : 1;
        rm_write(s, in, reg_get(s, insn_reg(in), size), size);
        return;
    case 0x8A: case 0x8B:
        size = (op & 1) ? osize(in) : 1;
        reg_set(s, insn_reg(in), rm_read(s, in, size), size);
        return;
    case 0x8C: case 0x8E: exec_mov_seg(s, in); return;
    case 0x8D: reg_set(s, insn_reg(in), insn_ea(s, in), osize(in)); return;
    case 0x90: /* NOP, PAUSE */
        return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
        size = osize(in);
        v = reg_get(s, op & 7, size);
        reg_set(s, op & 7, reg_get(s, GPR_AX, size), size);
        reg_set(s, GPR_AX, v, size);
        return;
    case 0x98: case 0x99: case 0x9E: case 0x9F: case 0xD6: case 0xD7:
    case 0xF5: case 0xF8: case 0xF9: case 0xFC: case 0xFD:
        exec_misc(s, in);
        return;
    case 0x9A: far_call(s, in->imm2, in->imm, in->pfx & P_OP32); return;
    case 0x9B: exec_wait(s); return;
    case 0x06: case 0x07: case 0x0E: case 0x16: case 0x17: case 0x1E: case 0x1F:
    case 0x60: case 0x61: case 0x68: case 0x6A: case 0x8F: case 0x9C: case 0x9D:
    case 0xC8: case 0xC9:
        exec_stack_misc(s, in);
        return;
    case 0xA0: case 0xA1: case 0xA2: case 0xA3: exec_moffs(s, in); return;
    case 0xA8: case 0xA9:
        size = (op & 1) ? osize(in) : 1;
        alu(s, 4, reg_get(s, GPR_AX, size), in->imm, size);
        return;
    case 0xB0: case 0xB1: case 0xB2: case 0xB3: case 0xB4: case 0xB5: case 0xB6: case 0xB7:
        reg_set(s, op & 7, in->imm, 1);
        return;
    case 0xB8: case 0xB9: case 0xBA: case 0xBB: case 0xBC: case 0xBD: case 0xBE: case 0xBF:
        reg_set(s, op & 7, in->imm, osize(in));
        return;
    case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3: exec_grp2(s, in); return;
    case 0xC2: case 0xC3: exec_ret(s, in); return;
    case 0xC4: load_far_ptr(s, in, SEG_ES); return;
    case 0xC5: load_far_ptr(s, in, SEG_DS); return;
    case 0xC6: case 0xC7:
        size = (op & 1) ? osize(in) : 1;
        rm_write(s, in, in->imm, size);
        return;
    case 0xCA: case 0xCB: far_ret(s, in->pfx & P_OP32, op == 0xCA ? (uint16_t)in->imm : 0); return;
    case 0xCC: case 0xCD: case 0xCE: case 0xF1: exec_int(s, in); return;
    case 0xCF: soft_iret(s, in->pfx & P_OP32); return;
    case 0xD4: case 0xD5: bcd_adjust(s, (uint8_t)op, (uint8_t)in->imm); return;
    case 0xD8: case 0xD9: case 0xDA: case 0xDB: case 0xDC: case 0xDD: case 0xDE: case 0xDF:
        exec_fpu(s, in);
        return;
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: loop_op(s, in); return;
    case 0xE4: case 0xE5: case 0xE6: case 0xE7: case 0xEC: case 0xED: case 0xEE: case 0xEF:
        exec_io(s, in);
        return;
    case 0xE8:
        v = s->next_eip + rel_imm(in, false);
        if (!(in->pfx & P_OP32))
            v &= 0xFFFF;
        if (v > s->seg[SEG_CS].limit)
            soft_raise(s, EXC_GP, 0);
        push_v(s, s->next_eip, in->pfx & P_OP32);
        s->next_eip = v;
        return;
    case 0xE9: jump_rel(s, in, rel_imm(in, false)); return;
    case 0xEA: far_jmp(s, in->imm2, in->imm, in->pfx & P_OP32); return;
    case 0xEB: jump_rel(s, in, rel_imm(in, true)); return;
    case 0xF4: exec_hlt(s); return;
    case 0xF6: group3(s, in, 1); return;
    case 0xF7: group3(s, in, osize(in)); return;
    case 0xFA: exec_cli_sti(s, false); return;
    case 0xFB: exec_cli_sti(s, true); return;
    case 0xFE: exec_fe(s, in); return;
    case 0xFF: exec_grp5(s, in); return;
    default: soft_raise_noerr(s, EXC_UD);
    }
}
