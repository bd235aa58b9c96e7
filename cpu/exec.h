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
        s->r[r] = v;
    else if (size == 2)
        s->r[r] = (s->r[r] & 0xFFFF0000u) | (v & 0xFFFF);
    else if (r < 4)
        s->r[r] = (s->r[r] & 0xFFFFFF00u) | (v & 0xFF);
    else
        s->r[r - 4] = (s->r[r - 4] & 0xFFFF00FFu) | ((v & 0xFF) << 8);
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

bool cond(struct soft *s, unsigned cc);
uint32_t alu(struct soft *s, unsigned op, uint32_t a, uint32_t b, unsigned size);
void exec_string(struct soft *s, const struct insn *in);
void load_far_ptr(struct soft *s, const struct insn *in, int seg);
void jump_near(struct soft *s, uint32_t target, bool op32);
bool soft_io_check(struct soft *s, uint16_t port, unsigned size);

#endif
