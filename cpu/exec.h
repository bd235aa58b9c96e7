/*
 * Helpers shared by the instruction files of the software core (exec.c,
 * exec_0f.c, exec_sys.c): register and ModRM operand access, lazy flags,
 * condition codes and the eight classic ALU operations.
 */
#ifndef VMPLAY_CPU_EXEC_H
#define VMPLAY_CPU_EXEC_H

#include "cpu/soft.h"

static inline uint32_t size_mask(unsigned size)
{
    return size == 4 ? 0xFFFFFFFFu : size == 2 ? 0xFFFFu : 0xFFu;
}

static inline uint32_t sign_bit(unsigned size)
{
    return 1u << (size * 8 - 1);
}

static inline int32_t sext(uint32_t v, unsigned size)
{
    return size == 4 ? (int32_t)v : size == 2 ? (int16_t)v : (int8_t)v;
}

static inline unsigned osize(const struct insn *in)
{
    return (in->pfx & P_OP32) ? 4 : 2;
}

static inline uint32_t reg_get(const struct soft *s, unsigned r, unsigned size)
{
    if (size == 4)
        return s->r[r];
    if (size == 2)
        return s->r[r] & 0xFFFF;
    return r < 4 ? s->r[r] & 0xFF : (s->r[r - 4] >> 8) & 0xFF;
}

static inline void reg_set(struct soft *s, unsigned r, uint32_t v, unsigned size)
{
    if (size == 4)
        s->r[r] = v; /* zero-extends */
    else if (size == 2)
        s->r[r] = reg_merge16(s->r[r], v);
    else if (r < 4)
        s->r[r] = (s->r[r] & ~(uint64_t)0xFF) | (v & 0xFF);
    else
        s->r[r - 4] = (s->r[r - 4] & ~(uint64_t)0xFF00) | ((v & 0xFF) << 8);
}

/* A write of an address-sized count or pointer (CX, SI, DI) under address mask amask:
 * a 16-bit one merges, a 32-bit one zero-extends. */
static inline uint64_t reg_write_asize(uint64_t old, uint64_t v, uint64_t amask)
{
    return amask == 0xFFFF ? reg_merge16(old, (uint32_t)v) : v & amask;
}

static inline bool is_mem(const struct insn *in)
{
    return in->props & I_MEM;
}

static inline uint32_t rm_read(struct soft *s, const struct insn *in, unsigned size)
{
    if (!is_mem(in))
        return reg_get(s, insn_rm(in), size);
    return mread(s, in->seg, insn_ea(s, in), size);
}

static inline void rm_write(struct soft *s, const struct insn *in, uint32_t v, unsigned size)
{
    if (!is_mem(in))
        reg_set(s, insn_rm(in), v, size);
    else
        mwrite(s, in->seg, insn_ea(s, in), v, size);
}

/* Read of an r/m operand that will be written back (*ea keeps the address). */
static inline uint32_t rm_read_rmw(struct soft *s, const struct insn *in, unsigned size, uint32_t *ea)
{
    if (!is_mem(in))
        return reg_get(s, insn_rm(in), size);
    *ea = insn_ea(s, in);
    return mread_rmw(s, in->seg, *ea, size);
}

static inline void rm_write_at(struct soft *s, const struct insn *in, uint32_t ea, uint32_t v,
                               unsigned size)
{
    if (!is_mem(in))
        reg_set(s, insn_rm(in), v, size);
    else
        mwrite(s, in->seg, ea, v, size);
}

static inline void cc_set(struct soft *s, enum cc_op op, unsigned size, uint32_t res, uint32_t a,
                          uint32_t b)
{
    s->cc.op = (uint8_t)op;
    s->cc.size = (uint8_t)size;
    s->cc.res = res;
    s->cc.src1 = a;
    s->cc.src2 = b;
}

/* The same record for any size up to 8 (a 64-bit ADD or SUB/CMP: CC_ADD64, CC_SUB64). */
static inline void cc_set64(struct soft *s, enum cc_op op, unsigned size, uint64_t res, uint64_t a,
                            uint64_t b)
{
    s->cc.op = (uint8_t)op;
    s->cc.size = (uint8_t)size;
    s->cc.res = (uint32_t)res;
    s->cc.src1 = (uint32_t)a;
    s->cc.src2 = (uint32_t)b;
    s->cc.res_hi = (uint32_t)(res >> 32);
    s->cc.src1_hi = (uint32_t)(a >> 32);
    s->cc.src2_hi = (uint32_t)(b >> 32);
}

/* A recorded value: the upper half counts at size 8 only. */
static inline uint64_t cc_full(uint32_t lo, uint32_t hi, unsigned size)
{
    return size == 8 ? (uint64_t)hi << 32 | lo : lo;
}

static inline bool get_cf(struct soft *s)
{
    const struct lazy_cc *c = &s->cc;
    uint32_t m = size_mask(c->size);
    switch (c->op) {
    case CC_NONE: return s->flags & FL_CF;
    case CC_ADD: return (c->res & m) < (c->src1 & m);
    case CC_SUB: return (c->src1 & m) < (c->src2 & m);
    case CC_LOGIC: return false;
    case CC_INC: case CC_DEC: return c->cin;
    case CC_ADD64: return cc_full(c->res, c->res_hi, 8) < cc_full(c->src1, c->src1_hi, 8);
    case CC_SUB64: return cc_full(c->src1, c->src1_hi, 8) < cc_full(c->src2, c->src2_hi, 8);
    default: return cc_compute(c) & FL_CF;
    }
}

/* Sets the arithmetic flags to f (eager form). */
static inline void flags_set_arith(struct soft *s, uint32_t f)
{
    s->cc.op = CC_NONE;
    s->flags = (s->flags & ~FL_ARITH) | (f & FL_ARITH);
}

static inline uint32_t arith_flags(struct soft *s)
{
    return s->cc.op == CC_NONE ? s->flags & FL_ARITH : cc_compute(&s->cc);
}

static inline uint32_t szp_flags(uint32_t r, unsigned size)
{
    uint32_t f = 0;
    r &= size_mask(size);
    if (!r)
        f |= FL_ZF;
    if (r & sign_bit(size))
        f |= FL_SF;
    if (!__builtin_parity(r & 0xFF))
        f |= FL_PF;
    return f;
}

/* IMUL reg, r/m (0F AF) and the immediate forms: reg = reg * b, truncated to size. */
static inline void imul_reg(struct soft *s, unsigned reg, uint32_t b, unsigned size)
{
    int64_t r = (int64_t)sext(reg_get(s, reg, size), size) * sext(b, size);
    reg_set(s, reg, (uint32_t)r, size);
    cc_set(s, CC_MUL, size, (uint32_t)r, 0, r != sext((uint32_t)r, size));
}

bool cond_slow(struct soft *s, unsigned cc);

/* Condition cc (the low nibble of Jcc/SETcc/CMOVcc): the 32-bit CMP/SUB and
 * logic results inline, everything else through cond_slow. */
static inline __attribute__((always_inline)) bool cond(struct soft *s, unsigned cc)
{
    const struct lazy_cc *c = &s->cc;
    uint32_t r = c->res, a = c->src1, b = c->src2;
    bool v;
    if (c->size == 4 && c->op == CC_SUB) {
        switch (cc >> 1) {
        case 0: v = ((a ^ b) & (a ^ r)) >> 31; break;
        case 1: v = a < b; break;
        case 2: v = a == b; break;
        case 3: v = a <= b; break;
        case 4: v = r >> 31; break;
        case 5: v = !__builtin_parity(r & 0xFF); break;
        case 6: v = (int32_t)a < (int32_t)b; break;
        default: v = (int32_t)a <= (int32_t)b; break;
        }
        return v ^ (cc & 1);
    }
    if (c->size == 4 && c->op == CC_LOGIC) {
        switch (cc >> 1) {
        case 0: case 1: v = false; break;
        case 2: case 3: v = r == 0; break;
        case 4: case 6: v = r >> 31; break;
        case 5: v = !__builtin_parity(r & 0xFF); break;
        default: v = r == 0 || (r >> 31); break;
        }
        return v ^ (cc & 1);
    }
    if (c->size == 4 && c->op != CC_NONE) { /* ZF and SF come from the result for every op */
        if ((cc >> 1) == 2)
            return (r == 0) ^ (cc & 1);
        if ((cc >> 1) == 4)
            return (r >> 31) ^ (cc & 1);
    }
    return cond_slow(s, cc);
}

/* SHL/SAL (op 4, 6), SHR (5) and SAR (7) of a by n (1..31, already masked) on size bytes. */
static inline uint32_t shift_plain(struct soft *s, unsigned op, uint32_t a, unsigned n, unsigned size)
{
    unsigned bits = size * 8;
    uint32_t m = size_mask(size), sb = sign_bit(size), r;
    bool cf, of;
    switch (op) {
    case 4:
    case 6: { /* SHL/SAL */
        uint64_t v = (uint64_t)a << n;
        r = (uint32_t)v & m;
        cf = (v >> bits) & 1;
        of = ((r & sb) != 0) ^ cf;
        break;
    }
    case 5: /* SHR */
        r = (a >> n) & m;
        cf = (a >> (n - 1)) & 1;
        of = a & sb;
        break;
    default: { /* SAR */
        int32_t sa = sext(a, size);
        r = (uint32_t)(sa >> (n > 31 ? 31 : n)) & m;
        cf = (sa >> (n - 1 > 31 ? 31 : n - 1)) & 1;
        of = false;
        break;
    }
    }
    flags_set_arith(s, szp_flags(r, size) | (cf ? FL_CF : 0) | (of ? FL_OF : 0));
    return r;
}

/* Group 2 (ROL ROR RCL RCR SHL SHR SAL SAR) of a by n on size bytes; sets the flags. */
uint32_t shift_op(struct soft *s, unsigned op, uint32_t a, unsigned n, unsigned size);
/* The result truncated to size, zero-extended. */
uint64_t alu(struct soft *s, unsigned op, uint32_t a, uint32_t b, unsigned size);
/* The same for 64 bits: lazy flags of size 8. */
uint64_t alu64(struct soft *s, unsigned op, uint64_t a, uint64_t b);
/* SHL/SAL (op 4, 6), SHR (5) and SAR (7) of 64 bits by n (1..63); sets the flags. */
uint64_t shift64_plain(struct soft *s, unsigned op, uint64_t a, unsigned n);
/* ROL, ROR, RCL, RCR (op 0..3) of 64 bits by n (1..63); only CF and OF change. */
uint64_t rotate64(struct soft *s, unsigned op, uint64_t a, unsigned n);
void exec_string(struct soft *s, const struct insn *in);
/* Group 3 MUL/IMUL (op 4, 5) and DIV/IDIV (6, 7) of AL/AX/EAX (with DX/EDX) by b, size 1..4. */
void mul_op(struct soft *s, unsigned op, uint32_t b, unsigned size);
void div_op(struct soft *s, unsigned op, uint32_t b, unsigned size);
void load_far_ptr(struct soft *s, const struct insn *in, int seg);
void jump_near(struct soft *s, uint32_t target, bool op32);
bool soft_io_check(struct soft *s, uint16_t port, unsigned size);

/* ---- 64-bit mode (exec64.c and its inline forms in exec_fast.c) ---- */

static inline unsigned osz64(const struct insn *in)
{
    return (in->pfx & P_OP64) ? 8 : (in->pfx & P_OP32) ? 4 : 2;
}

static inline uint64_t mask_of(unsigned size)
{
    return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t sext64(uint64_t v, unsigned size)
{
    return size == 8 ? v : size == 4 ? (uint64_t)(int64_t)(int32_t)v
           : size == 2 ? (uint64_t)(int64_t)(int16_t)v : (uint64_t)(int64_t)(int8_t)v;
}

/* Register r at size; byte registers 4..7 are AH..BH without REX and SPL..DIL with it. */
static inline uint64_t gpr_get(const struct soft *s, const struct insn *in, unsigned r, unsigned size)
{
    if (size == 1 && r >= 4 && r < 8 && !in->rex)
        return (s->r[r - 4] >> 8) & 0xFF;
    return s->r[r] & mask_of(size);
}

static inline void gpr_set(struct soft *s, const struct insn *in, unsigned r, uint64_t v, unsigned size)
{
    if (size == 8)
        s->r[r] = v;
    else if (size == 4)
        s->r[r] = (uint32_t)v;
    else if (size == 2)
        s->r[r] = reg_merge16(s->r[r], (uint32_t)v);
    else if (r >= 4 && r < 8 && !in->rex)
        s->r[r - 4] = (s->r[r - 4] & ~0xFF00ull) | (v & 0xFF) << 8;
    else
        s->r[r] = (s->r[r] & ~0xFFull) | (v & 0xFF);
}

/* Offset of the memory operand: 64-bit (32 with 67), RIP-relative from the next instruction. */
static inline uint64_t ea64(const struct soft *s, const struct insn *in)
{
    uint64_t ea = (uint64_t)(int64_t)(int32_t)in->disp + s->r[in->base] +
                  (s->r[in->index] << in->scale);
    if (in->props & I_RIPREL)
        ea += s->next_eip;
    return (in->props & I_ADDR64) ? ea : (uint32_t)ea;
}

/* Linear address of seg:off in 64-bit mode: #GP(0), or #SS(0) for the stack, if not canonical. */
static inline uint64_t lin64(struct soft *s, int seg, uint64_t off)
{
    uint64_t lin = off;
    if (seg == SEG_FS || seg == SEG_GS)
        lin += s->seg[seg].base;
    if (__builtin_expect(!canonical64(lin), 0))
        soft_raise(s, seg == SEG_SS ? EXC_SS : EXC_GP, 0);
    return lin;
}

/* The linear address of the memory operand in 64-bit mode. */
static inline uint64_t insn_lin64(struct soft *s, const struct insn *in)
{
    return lin64(s, in->seg, ea64(s, in));
}

static inline uint64_t mem_rd(struct soft *s, int seg, uint64_t off, unsigned size)
{
    uint64_t lin = lin64(s, seg, off);
    return size == 8 ? vread64(s, lin) : vread(s, lin, size);
}

static inline void mem_wr(struct soft *s, int seg, uint64_t off, uint64_t v, unsigned size)
{
    uint64_t lin = lin64(s, seg, off);
    if (size == 8)
        vwrite64(s, lin, v);
    else
        vwrite(s, lin, (uint32_t)v, size);
}

#endif
