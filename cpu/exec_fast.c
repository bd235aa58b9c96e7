/*
 * The interpreter's inner loop: runs the instructions of one block. insn.xop,
 * chosen once when the block is built (fast_form), names an inline form for
 * the hottest 32-bit instructions (register and memory ALU, MOV, IMUL, CMOVcc,
 * SETcc, shifts, PUSH/POP, CALL/RET, Jcc, LEA, INC/DEC of memory...) and the
 * 16-bit moves and plain shifts; everything else goes to
 * soft_exec(). Dispatch is direct threading: every form ends by jumping
 * straight to the next instruction's form, so each has its own indirect
 * branch for the host to predict. The semantics are the general path's: the
 * forms call the same helpers (alu, shift_op, cond...) or do exactly what
 * they do for the one operand size they accept.
 *
 * The X_ forms are the legacy/compatibility-mode semantics: there the upper
 * halves of the GPRs are not architectural (every 32-bit write zero-extends
 * them), so a register-to-register MOV copies all 64 bits. The X64_ forms are
 * 64-bit mode's (fast_form64), exactly what exec64.c does for 32- and 64-bit
 * operands (and the byte ALU/MOV/TEST with REX byte registers): REX-extended
 * registers, 32-bit writes zero-extending, flat 64-bit addresses (FS/GS bases,
 * the canonical check: #GP(0), #SS(0) for SS) through the TLB, 64-bit RIP
 * targets, and lazy flags of size 8 (CC_ADD64, CC_SUB64...).
 *
 * Bookkeeping: s->eip and s->next_eip are exact before every form runs (a
 * fault reports them); the instruction count is added up when the block
 * is left or before soft_exec (which may read the clock). Forms that may
 * reach memory outside the TLB check block_end afterwards: a store into
 * cached code invalidates blocks (soft_invalidate_phys sets it).
 */
#include "cpu/exec.h"
#include "cpu/xop.h"

#include <string.h>


static bool imm8_form(unsigned op)
{
    return op == 0x83 || op == 0x6A;
}

/* The form of a 64-bit mode instruction (no LOCK/REP): 32- and 64-bit operands only. */
static uint8_t fast_form64(const struct insn *in)
{
    unsigned op = in->op, reg = insn_reg(in);
    bool mem = in->props & I_MEM;
    if ((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F))
        return X64_JCC;
    if (op >= 0x190 && op <= 0x19F)
        return X64_SETCC;
    if (op == 0xE8)
        return X64_CALL;
    if (op == 0xC3)
        return X64_RET;
    if (op == 0xE9 || op == 0xEB)
        return X64_JMP;
    if (op >= 0x50 && op <= 0x5F && (in->pfx & P_OP64))
        return op < 0x58 ? X64_PUSH : X64_POP;
    if ((op == 0x68 || op == 0x6A) && (in->pfx & P_OP64))
        return X64_PUSH_I;
    if (op == 0xFF && (reg == 2 || reg == 4))
        return reg == 2 ? X64_CALL_RM : X64_JMP_RM;
    /* byte forms: the operand size does not matter */
    if ((op < 0x40 && ((op & 7) == 0 || (op & 7) == 2 || (op & 7) == 4)) || op == 0x80)
        return X64_ALU8;
    if (op == 0x88 || op == 0x8A || op == 0xC6)
        return X64_MOV8;
    if (op == 0x84 || op == 0xA8 || (op == 0xF6 && reg == 0))
        return X64_TEST8;
    if ((op >= 0x118 && op <= 0x11F) || (op == 0x90 && !(in->rex & REX_B)))
        return X64_NOP;
    if (!(in->pfx & P_OP32))
        return op == 0x89 || op == 0x8B ? X64_MOV16 : X_NONE;
    if (op < 0x40 && ((op & 7) == 1 || (op & 7) == 3))
        return !mem ? X64_ALU_RR : (op & 2) ? X64_ALU_RM : X64_ALU_MR;
    if (op < 0x40 && (op & 7) == 5)
        return X64_ALU_AI;
    if (op == 0x81 || op == 0x83)
        return mem ? X64_ALU_MI : X64_ALU_RI;
    if (op == 0x89 || op == 0x8B)
        return !mem ? X64_MOV_RR : op == 0x8B ? X64_LOAD : X64_STORE;
    if (op == 0xC7 && mem)
        return X64_STORE_I;
    if (op >= 0xB8 && op <= 0xBF)
        return X64_MOV_RI;
    if (op == 0x8D && mem)
        return X64_LEA;
    if (op == 0x85)
        return X64_TEST;
    if (op == 0xF7 && reg == 0)
        return X64_TEST_I;
    if (op == 0xFF && reg <= 1)
        return X64_INCDEC;
    if (op == 0x1B6 || op == 0x1B7 || op == 0x1BE || op == 0x1BF)
        return X64_MOVX;
    if (op == 0x63)
        return X64_MOVSXD;
    if (op >= 0x140 && op <= 0x14F)
        return X64_CMOV;
    if ((op == 0xC1 || op == 0xD1 || op == 0xD3) && reg != 6)
        return X64_SHIFT;
    if (op == 0xA9)
        return X64_TEST_AI;
    if (op == 0x1AF)
        return X64_IMUL;
    return X_NONE;
}

uint8_t fast_form(const struct insn *in)
{
    unsigned op = in->op;
    bool op32 = in->pfx & P_OP32, mem = in->props & I_MEM;
    if (in->pfx & (P_LOCK | P_REP | P_REPNE))
        return X_NONE;
    if (in->props & I_LONG)
        return fast_form64(in);
    if ((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F))
        return X_JCC;
    /* byte forms: the operand size prefix does not matter */
    if (op < 0x40 && (op & 7) <= 2 && !(op & 1))
        return X_ALU8;
    if (op < 0x40 && (op & 7) == 4)
        return X_ALU8;
    if (op == 0x8A && mem)
        return X_MOV8_RM;
    if (op == 0x88 && mem)
        return X_MOV8_MR;
    if (op == 0xC6 && mem)
        return X_MOV8_MI;
    if (op == 0x84 && !mem)
        return X_TEST8_RR;
    if (op >= 0x190 && op <= 0x19F)
        return X_SETCC;
    if (op == 0x1B6)
        return X_MOVZX8;
    if (op == 0x1BE)
        return X_MOVSX8;
    if (!op32) { /* 16-bit data: the moves and plain shifts LZMA-style decoders live on */
        if (op == 0x8B || op == 0x89)
            return mem ? (op == 0x8B ? X_LOAD16 : X_STORE16) : X_MOV16_RR;
        if ((op == 0xC1 || op == 0xD1 || op == 0xD3) && !mem && insn_reg(in) >= 4)
            return X_SHIFT16;
        return X_NONE;
    }
    if (op == 0xFF && mem && insn_reg(in) <= 1)
        return X_INCDEC_M;
    if (op < 0x40 && (op & 7) == 1)
        return mem ? X_ALU_MR : X_ALU_RR;
    if (op < 0x40 && (op & 7) == 3)
        return mem ? X_ALU_RM : X_ALU_RR;
    if (op < 0x40 && (op & 7) == 5)
        return X_ALU_AI;
    if (op == 0x81 || op == 0x83)
        return mem ? X_ALU_MI : X_ALU_RI;
    if ((op == 0x89 || op == 0x8B) && !mem)
        return X_MOV_RR;
    if (op == 0x8B)
        return X_LOAD;
    if (op == 0x89)
        return X_STORE;
    if (op == 0xC7 && mem)
        return X_STORE_I;
    if (op >= 0xB8 && op <= 0xBF)
        return X_MOV_RI;
    if (op >= 0x40 && op <= 0x47)
        return X_INC;
    if (op >= 0x48 && op <= 0x4F)
        return X_DEC;
    if (op >= 0x50 && op <= 0x57)
        return X_PUSH;
    if (op >= 0x58 && op <= 0x5F)
        return X_POP;
    if (op == 0x68 || op == 0x6A)
        return X_PUSH_I;
    if (op == 0xEB || op == 0xE9)
        return X_JMP;
    if (op == 0xE8)
        return X_CALL;
    if (op == 0xC3)
        return X_RET;
    if (op == 0x8D && mem)
        return X_LEA;
    if (op == 0x85 && !mem)
        return X_TEST_RR;
    if (op == 0xF7 && insn_reg(in) == 0)
        return X_TEST_RI;
    if (op == 0x1B7)
        return X_MOVZX16;
    if (op == 0x1BF)
        return X_MOVSX16;
    if ((op == 0xC1 || op == 0xD1 || op == 0xD3) && insn_reg(in) != 2 && insn_reg(in) != 3)
        return X_SHIFT;
    if (op == 0x1AF)
        return X_IMUL;
    if (op >= 0x140 && op <= 0x14F)
        return X_CMOV;
    return X_NONE;
}

static inline __attribute__((always_inline)) void alu32(struct soft *s, unsigned op, unsigned dst, uint32_t b)
{
    uint32_t a = (uint32_t)s->r[dst];
    uint64_t r; /* zero-extended: the store needs no extension */
    switch (op) {
    case 0: r = a + b; cc_set(s, CC_ADD, 4, r, a, b); break;
    case 1: r = a | b; cc_set(s, CC_LOGIC, 4, r, a, b); break;
    case 4: r = a & b; cc_set(s, CC_LOGIC, 4, r, a, b); break;
    case 5: r = a - b; cc_set(s, CC_SUB, 4, r, a, b); break;
    case 6: r = a ^ b; cc_set(s, CC_LOGIC, 4, r, a, b); break;
    case 7: cc_set(s, CC_SUB, 4, a - b, a, b); return;
    default: r = alu(s, op, a, b, 4); break;
    }
    s->r[dst] = r;
}

/* ALU op on a memory destination (CMP only reads). */
static inline void alu32_mem(struct soft *s, const struct insn *in, unsigned op, uint32_t b)
{
    uint32_t ea = insn_ea(s, in);
    if (op == 7) {
        uint32_t a = mread(s, in->seg, ea, 4);
        cc_set(s, CC_SUB, 4, a - b, a, b);
        return;
    }
    uint32_t a = mread_rmw(s, in->seg, ea, 4), r;
    switch (op) {
    case 0: r = a + b; cc_set(s, CC_ADD, 4, r, a, b); break;
    case 1: r = a | b; cc_set(s, CC_LOGIC, 4, r, a, b); break;
    case 4: r = a & b; cc_set(s, CC_LOGIC, 4, r, a, b); break;
    case 5: r = a - b; cc_set(s, CC_SUB, 4, r, a, b); break;
    case 6: r = a ^ b; cc_set(s, CC_LOGIC, 4, r, a, b); break;
    default: r = alu(s, op, a, b, 4); break;
    }
    mwrite(s, in->seg, ea, r, 4);
}

/* Immediate operand of 81/83/6A/68 as the instruction uses it. */
static inline uint32_t imm_op(const struct insn *in)
{
    return imm8_form(in->op) ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm;
}

static inline uint32_t jcc_rel(const struct insn *in)
{
    if (in->op < 0x100)
        return (uint32_t)(int32_t)(int8_t)in->imm;
    return (in->pfx & P_OP32) ? in->imm : (uint32_t)(int32_t)(int16_t)in->imm;
}

/* The 8-bit ALU forms: r/m8,r8 (00), r8,r/m8 (02) and AL,imm8 (04). */
static inline void alu8(struct soft *s, const struct insn *in)
{
    unsigned op = (in->op >> 3) & 7, form = in->op & 7;
    uint32_t ea = 0, a, r;
    if (form == 4) {
        r = alu(s, op, s->r[GPR_AX] & 0xFF, in->imm & 0xFF, 1);
        if (op != 7)
            reg_set(s, GPR_AX, r, 1);
    } else if (form == 2) {
        r = alu(s, op, reg_get(s, insn_reg(in), 1), rm_read(s, in, 1), 1);
        if (op != 7)
            reg_set(s, insn_reg(in), r, 1);
    } else {
        a = op == 7 ? rm_read(s, in, 1) : rm_read_rmw(s, in, 1, &ea);
        r = alu(s, op, a, reg_get(s, insn_reg(in), 1), 1);
        if (op != 7)
            rm_write_at(s, in, ea, r, 1);
    }
}

/* The count of a C1 (imm8), D1 (1) or D3 (CL) shift, masked to 5 bits. */
static inline unsigned shift_count(const struct soft *s, const struct insn *in)
{
    return (unsigned)(in->op == 0xC1 ? in->imm : in->op == 0xD1 ? 1 : s->r[GPR_CX]) & 31;
}

static inline void shift_rm(struct soft *s, const struct insn *in)
{
    unsigned n = shift_count(s, in);
    uint32_t ea = 0;
    if (!is_mem(in) && insn_reg(in) >= 4) {
        if (n)
            s->r[insn_rm(in)] = shift_plain(s, insn_reg(in), s->r[insn_rm(in)], n, 4);
        return;
    }
    uint32_t a = rm_read_rmw(s, in, 4, &ea);
    rm_write_at(s, in, ea, shift_op(s, insn_reg(in), a, n, 4), 4);
}

/* ---- 64-bit mode: what exec64.c does, for 32-bit (zero-extending) and 64-bit operands ---- */

static inline unsigned size64(const struct insn *in)
{
    return (in->pfx & P_OP64) ? 8 : 4;
}

/* The ALU operation at size 4 or 8, lazy flags; the result zero-extended. */
static inline __attribute__((always_inline)) uint64_t alu_val(struct soft *s, unsigned op, uint64_t a,
                                                              uint64_t b, unsigned size)
{
    if (size == 4) {
        uint32_t x = (uint32_t)a, y = (uint32_t)b, r;
        switch (op) {
        case 0: r = x + y; cc_set(s, CC_ADD, 4, r, x, y); return r;
        case 1: r = x | y; cc_set(s, CC_LOGIC, 4, r, x, y); return r;
        case 4: r = x & y; cc_set(s, CC_LOGIC, 4, r, x, y); return r;
        case 5: case 7: r = x - y; cc_set(s, CC_SUB, 4, r, x, y); return r;
        case 6: r = x ^ y; cc_set(s, CC_LOGIC, 4, r, x, y); return r;
        default: return alu(s, op, x, y, 4);
        }
    }
    uint64_t r;
    switch (op) {
    case 0: r = a + b; cc_set64(s, CC_ADD64, 8, r, a, b); return r;
    case 1: r = a | b; cc_set64(s, CC_LOGIC, 8, r, a, b); return r;
    case 4: r = a & b; cc_set64(s, CC_LOGIC, 8, r, a, b); return r;
    case 5: case 7: r = a - b; cc_set64(s, CC_SUB64, 8, r, a, b); return r;
    case 6: r = a ^ b; cc_set64(s, CC_LOGIC, 8, r, a, b); return r;
    default: return alu64(s, op, a, b);
    }
}

/* reg = reg op b (CMP only sets the flags). */
static inline __attribute__((always_inline)) void alu64_reg(struct soft *s, const struct insn *in,
                                                            unsigned op, unsigned dst, uint64_t b)
{
    if (in->pfx & P_OP64) {
        uint64_t r = alu_val(s, op, s->r[dst], b, 8);
        if (op != 7)
            s->r[dst] = r;
    } else {
        uint64_t r = alu_val(s, op, s->r[dst], b, 4);
        if (op != 7)
            s->r[dst] = r;
    }
}

static inline uint64_t rd_lin(struct soft *s, uint64_t lin, unsigned size)
{
    return size == 8 ? vread64(s, lin) : vread(s, lin, size);
}

static inline void wr_lin(struct soft *s, uint64_t lin, uint64_t v, unsigned size)
{
    if (size == 8)
        vwrite64(s, lin, v);
    else
        vwrite(s, lin, (uint32_t)v, size);
}

/* Read for a read-modify-write at lin: the store is probed first, as exec64 does. */
static inline uint64_t rd_lin_rmw(struct soft *s, uint64_t lin, unsigned size)
{
    struct tlb_entry *e = &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)];
    if (e->tag_w == tlb_tag(lin, size)) {
        uint64_t v;
        if (size != 8)
            return load_le(e->host + (lin & 0xFFF), size);
        __builtin_memcpy(&v, e->host + (lin & 0xFFF), 8);
        return v;
    }
    lin_probe_write(s, lin, size, s->cpl == 3);
    return size == 8 ? lin_read64(s, lin, s->cpl == 3) : lin_read(s, lin, size, s->cpl == 3);
}

/* The r/m operand (REX.B register, or memory) at size 1, 2, 4 or 8. */
static inline uint64_t rm64_read(struct soft *s, const struct insn *in, unsigned size)
{
    if (!is_mem(in))
        return gpr_get(s, in, insn_rm64(in), size);
    return mem_rd(s, in->seg, ea64(s, in), size);
}

/* ALU op on a memory destination at size 4 or 8 (CMP only reads). */
static inline __attribute__((always_inline)) void alu64_mem(struct soft *s, const struct insn *in,
                                                            unsigned op, uint64_t b, unsigned size)
{
    uint64_t lin = lin64(s, in->seg, ea64(s, in));
    if (op == 7) {
        alu_val(s, 7, rd_lin(s, lin, size), b, size);
        return;
    }
    uint64_t a = rd_lin_rmw(s, lin, size);
    wr_lin(s, lin, alu_val(s, op, a, b, size), size);
}

/* Condition cc with the 64-bit CMP/SUB and logic results inline. */
static inline __attribute__((always_inline)) bool cond64(struct soft *s, unsigned cc)
{
    const struct lazy_cc *c = &s->cc;
    uint64_t r = cc_full(c->res, c->res_hi, 8), a = cc_full(c->src1, c->src1_hi, 8);
    uint64_t b = cc_full(c->src2, c->src2_hi, 8);
    bool v;
    if (c->op == CC_SUB64) {
        switch (cc >> 1) {
        case 0: v = ((a ^ b) & (a ^ r)) >> 63; break;
        case 1: v = a < b; break;
        case 2: v = a == b; break;
        case 3: v = a <= b; break;
        case 4: v = r >> 63; break;
        case 5: v = !__builtin_parity(r & 0xFF); break;
        case 6: v = (int64_t)a < (int64_t)b; break;
        default: v = (int64_t)a <= (int64_t)b; break;
        }
        return v ^ (cc & 1);
    }
    if (c->size == 8 && c->op == CC_LOGIC) {
        switch (cc >> 1) {
        case 0: case 1: v = false; break;
        case 2: case 3: v = r == 0; break;
        case 4: case 6: v = r >> 63; break;
        case 5: v = !__builtin_parity(r & 0xFF); break;
        default: v = r == 0 || (r >> 63); break;
        }
        return v ^ (cc & 1);
    }
    return cond(s, cc);
}

/* A near branch target: #GP(0) unless canonical. */
static inline void jump64_to(struct soft *s, uint64_t target)
{
    if (__builtin_expect(!canonical64(target), 0))
        soft_raise(s, EXC_GP, 0);
    s->next_eip = target;
}

/* The group 2 operation op (not /6) of a by n (1..31 or 1..63, masked) at size 4 or 8. */
static inline uint64_t shift64_val(struct soft *s, unsigned op, uint64_t a, unsigned n, unsigned size)
{
    if (size == 4)
        return op >= 4 ? shift_plain(s, op, (uint32_t)a, n, 4) : shift_op(s, op, (uint32_t)a, n, 4);
    return op >= 4 ? shift64_plain(s, op, a, n) : rotate64(s, op, a, n);
}

/* Rotates and shifts (C1/D1/D3 but /6) of a register or memory at size 4 or 8. */
static inline void shift64_rm(struct soft *s, const struct insn *in)
{
    unsigned size = size64(in), op = insn_reg(in);
    unsigned n = (unsigned)(in->op == 0xC1 ? in->imm : in->op == 0xD1 ? 1 : s->r[GPR_CX]) &
                 (size == 8 ? 63 : 31);
    if (!is_mem(in)) {
        unsigned r = insn_rm64(in);
        if (size == 4)
            s->r[r] = n ? shift64_val(s, op, s->r[r], n, 4) : (uint32_t)s->r[r];
        else if (n)
            s->r[r] = shift64_val(s, op, s->r[r], n, 8);
        return;
    }
    uint64_t lin = lin64(s, in->seg, ea64(s, in)), a = rd_lin_rmw(s, lin, size);
    if (!n)
        return;
    wr_lin(s, lin, shift64_val(s, op, a, n, size), size);
}

/* INC/DEC r/m (FF /0, /1) at size 4 or 8: CF is kept. */
static inline void incdec64(struct soft *s, const struct insn *in)
{
    unsigned size = size64(in);
    bool dec = insn_reg(in), mem = is_mem(in);
    uint64_t lin = 0, a;
    if (mem) {
        lin = lin64(s, in->seg, ea64(s, in));
        a = rd_lin_rmw(s, lin, size);
    } else {
        a = s->r[insn_rm64(in)] & mask_of(size);
    }
    bool cf = get_cf(s);
    uint64_t r = (dec ? a - 1 : a + 1) & mask_of(size);
    cc_set64(s, dec ? CC_DEC : CC_INC, size, r, a, 1);
    s->cc.cin = cf;
    if (mem)
        wr_lin(s, lin, r, size);
    else
        s->r[insn_rm64(in)] = r;
}

/* IMUL reg, r/m (0F AF) at size 4 or 8: the product truncated, CF = OF = it was. */
static inline void imul64(struct soft *s, const struct insn *in)
{
    unsigned reg = insn_reg64(in);
    if (!(in->pfx & P_OP64)) {
        imul_reg(s, reg, (uint32_t)rm64_read(s, in, 4), 4);
        return;
    }
    __int128 p = (__int128)(int64_t)s->r[reg] * (int64_t)rm64_read(s, in, 8);
    s->r[reg] = (uint64_t)p;
    cc_set64(s, CC_MUL, 8, (uint64_t)p, 0, p != (__int128)(int64_t)p);
}

/* The byte ALU forms 00/02/04 (op r/m8, r8 / r8, r/m8 / AL, imm8) and 80 (r/m8, imm8), as exec64 does them. */
static inline void alu8_64(struct soft *s, const struct insn *in)
{
    unsigned op = in->op == 0x80 ? insn_reg(in) : (in->op >> 3) & 7, form = in->op & 7;
    uint32_t b = (uint32_t)sext64(in->imm, 1);
    uint64_t r;
    if (in->op != 0x80 && form == 4) {
        r = alu(s, op, s->r[GPR_AX] & 0xFF, b, 1);
        if (op != 7)
            gpr_set(s, in, GPR_AX, r, 1);
        return;
    }
    if (in->op != 0x80 && form == 2) {
        unsigned reg = insn_reg64(in);
        r = alu(s, op, (uint32_t)gpr_get(s, in, reg, 1), (uint32_t)rm64_read(s, in, 1), 1);
        if (op != 7)
            gpr_set(s, in, reg, r, 1);
        return;
    }
    if (in->op != 0x80)
        b = (uint32_t)gpr_get(s, in, insn_reg64(in), 1);
    if (!is_mem(in)) {
        unsigned rm = insn_rm64(in);
        r = alu(s, op, (uint32_t)gpr_get(s, in, rm, 1), b, 1);
        if (op != 7)
            gpr_set(s, in, rm, r, 1);
        return;
    }
    uint64_t lin = lin64(s, in->seg, ea64(s, in));
    if (op == 7) {
        alu(s, 7, (uint32_t)vread(s, lin, 1), b, 1);
        return;
    }
    r = alu(s, op, (uint32_t)rd_lin_rmw(s, lin, 1), b, 1);
    vwrite(s, lin, (uint32_t)r, 1);
}

/* MOV r/m8, r8 (88), MOV r8, r/m8 (8A), MOV r/m8, imm8 (C6). */
static inline void mov8_64(struct soft *s, const struct insn *in)
{
    uint64_t v;
    if (in->op == 0x8A) {
        v = rm64_read(s, in, 1);
        gpr_set(s, in, insn_reg64(in), v, 1);
        return;
    }
    v = in->op == 0x88 ? gpr_get(s, in, insn_reg64(in), 1) : in->imm & 0xFF;
    if (is_mem(in))
        mem_wr(s, in->seg, ea64(s, in), v, 1);
    else
        gpr_set(s, in, insn_rm64(in), v, 1);
}

/* TEST r/m8, r8 (84), TEST AL, imm8 (A8), TEST r/m8, imm8 (F6 /0). */
static inline void test8_64(struct soft *s, const struct insn *in)
{
    uint32_t a, b = (uint32_t)sext64(in->imm, 1);
    if (in->op == 0xA8) {
        a = s->r[GPR_AX] & 0xFF;
    } else {
        a = (uint32_t)rm64_read(s, in, 1);
        if (in->op == 0x84)
            b = (uint32_t)gpr_get(s, in, insn_reg64(in), 1);
    }
    alu(s, 4, a, b, 1);
}

void block_seal(struct block *b)
{
    memset(&b->insn[b->n], 0, sizeof b->insn[0]);
    b->insn[b->n].xop = X_END;
}

/* One instruction through the general path (single-stepping). */
static void run_one(struct soft *s, const struct insn *in)
{
    s->block_end = false;
    s->next_eip = s->eip + in->len;
    soft_exec(s, in);
    s->eip = s->next_eip;
    s->icount++;
    s->block_end = false;
}

/* The block linked after b that may run next without going back to the run loop, or NULL. */
static inline __attribute__((always_inline)) struct block *chain_next(struct soft *s, const struct block *b, uint64_t limit)
{
    if (s->icount >= limit || !soft_quiet(s) || s->trace_blocks || (s->flags & FL_RF))
        return NULL;
    uint8_t mode = block_mode(s);
    uint64_t lin = (mode & BLOCK_LONG) && (s->msr.efer & EFER_LMA) ? s->eip
                                                                  : (uint32_t)(s->seg[SEG_CS].base + s->eip);
    return block_linked(b, lin, mode, &s->tlb_cur[(lin >> 12) & (TLB_SIZE - 1)]);
}

struct block *block_run(struct soft *s, struct block *b, unsigned max, uint64_t limit)
{
    static const void *const form[X_COUNT] = {
        [X_NONE] = &&x_none, [X_ALU_RR] = &&x_alu_rr, [X_ALU_RM] = &&x_alu_rm,
        [X_ALU_MR] = &&x_alu_mr, [X_ALU_RI] = &&x_alu_ri, [X_ALU_MI] = &&x_alu_mi,
        [X_ALU_AI] = &&x_alu_ai, [X_ALU8] = &&x_alu8, [X_MOV_RR] = &&x_mov_rr,
        [X_MOV_RI] = &&x_mov_ri, [X_LOAD] = &&x_load, [X_STORE] = &&x_store,
        [X_STORE_I] = &&x_store_i, [X_MOV8_RM] = &&x_mov8_rm, [X_MOV8_MR] = &&x_mov8_mr,
        [X_MOV8_MI] = &&x_mov8_mi, [X_INC] = &&x_inc, [X_DEC] = &&x_dec, [X_PUSH] = &&x_push,
        [X_POP] = &&x_pop, [X_PUSH_I] = &&x_push_i, [X_JCC] = &&x_jcc, [X_JMP] = &&x_jmp,
        [X_CALL] = &&x_call, [X_RET] = &&x_ret, [X_LEA] = &&x_lea, [X_TEST_RR] = &&x_test_rr,
        [X_TEST_RI] = &&x_test_ri, [X_TEST8_RR] = &&x_test8_rr, [X_MOVZX8] = &&x_movzx8,
        [X_MOVZX16] = &&x_movzx16, [X_MOVSX8] = &&x_movsx8, [X_MOVSX16] = &&x_movsx16,
        [X_SHIFT] = &&x_shift, [X_IMUL] = &&x_imul, [X_CMOV] = &&x_cmov, [X_SETCC] = &&x_setcc,
        [X_LOAD16] = &&x_load16, [X_STORE16] = &&x_store16, [X_MOV16_RR] = &&x_mov16_rr,
        [X_SHIFT16] = &&x_shift16, [X_INCDEC_M] = &&x_incdec_m,
        [X64_ALU_RR] = &&x64_alu_rr, [X64_ALU_RM] = &&x64_alu_rm, [X64_ALU_MR] = &&x64_alu_mr,
        [X64_ALU_RI] = &&x64_alu_ri, [X64_ALU_MI] = &&x64_alu_mi, [X64_ALU_AI] = &&x64_alu_ai,
        [X64_MOV_RR] = &&x64_mov_rr, [X64_MOV_RI] = &&x64_mov_ri, [X64_LOAD] = &&x64_load,
        [X64_STORE] = &&x64_store, [X64_STORE_I] = &&x64_store_i, [X64_LEA] = &&x64_lea,
        [X64_PUSH] = &&x64_push, [X64_POP] = &&x64_pop, [X64_CALL] = &&x64_call,
        [X64_RET] = &&x64_ret, [X64_JMP] = &&x64_jmp, [X64_JCC] = &&x64_jcc,
        [X64_TEST] = &&x64_test, [X64_TEST_I] = &&x64_test_i, [X64_INCDEC] = &&x64_incdec,
        [X64_MOVX] = &&x64_movx, [X64_MOVSXD] = &&x64_movsxd, [X64_CMOV] = &&x64_cmov,
        [X64_SETCC] = &&x64_setcc, [X64_SHIFT] = &&x64_shift, [X64_IMUL] = &&x64_imul,
        [X64_ALU8] = &&x64_alu8, [X64_MOV8] = &&x64_mov8, [X64_TEST8] = &&x64_test8,
        [X64_PUSH_I] = &&x64_push_i, [X64_CALL_RM] = &&x64_call_rm, [X64_JMP_RM] = &&x64_jmp_rm,
        [X64_MOV16] = &&x64_mov16, [X64_TEST_AI] = &&x64_test_ai, [X64_NOP] = &&x64_nop,
        [X_END] = &&block_done,
    };
    if (max < b->n) {
        run_one(s, b->insn); /* single-stepping: max is 1 */
        return b;
    }
    const struct insn *in = b->insn, *counted = in;
    unsigned op;
    uint32_t v, sp;
    uint64_t q;
    s->block_end = false;

/* To the next instruction's form; NEXT_CHECKED after anything that may have left the TLB. */
#define DISPATCH()                                                                                 \
    do {                                                                                           \
        s->next_eip = s->eip + in->len;                                                            \
        op = in->op;                                                                               \
        goto *form[in->xop];                                                                       \
    } while (0)
#define NEXT()                                                                                     \
    do {                                                                                           \
        s->eip = s->next_eip;                                                                      \
        in++;                                                                                      \
        DISPATCH();                                                                                \
    } while (0)
#define NEXT_CHECKED()                                                                             \
    do {                                                                                           \
        s->eip = s->next_eip;                                                                      \
        in++;                                                                                      \
        if (__builtin_expect(s->block_end, 0))                                                     \
            goto out;                                                                              \
        DISPATCH();                                                                                \
    } while (0)

    DISPATCH();
x_none:
    s->icount += (uint64_t)(in - counted);
    counted = in;
    soft_exec(s, in);
    NEXT_CHECKED();
x_alu_rr:
    if (op & 2)
        alu32(s, (op >> 3) & 7, insn_reg(in), s->r[insn_rm(in)]);
    else
        alu32(s, (op >> 3) & 7, insn_rm(in), s->r[insn_reg(in)]);
    NEXT();
x_alu_rm:
    alu32(s, (op >> 3) & 7, insn_reg(in), mread(s, in->seg, insn_ea(s, in), 4));
    NEXT_CHECKED();
x_alu_mr:
    alu32_mem(s, in, (op >> 3) & 7, s->r[insn_reg(in)]);
    NEXT_CHECKED();
x_alu_ri:
    alu32(s, insn_reg(in), insn_rm(in), imm_op(in));
    NEXT();
x_alu_mi:
    alu32_mem(s, in, insn_reg(in), imm_op(in));
    NEXT_CHECKED();
x_alu_ai:
    alu32(s, (op >> 3) & 7, GPR_AX, in->imm);
    NEXT();
x_alu8:
    alu8(s, in);
    NEXT_CHECKED();
x_mov_rr:
    if (op & 2)
        s->r[insn_reg(in)] = s->r[insn_rm(in)];
    else
        s->r[insn_rm(in)] = s->r[insn_reg(in)];
    NEXT();
x_mov_ri:
    s->r[op & 7] = in->imm;
    NEXT();
x_load:
    s->r[insn_reg(in)] = mread(s, in->seg, insn_ea(s, in), 4);
    NEXT_CHECKED();
x_store:
    mwrite(s, in->seg, insn_ea(s, in), s->r[insn_reg(in)], 4);
    NEXT_CHECKED();
x_store_i:
    mwrite(s, in->seg, insn_ea(s, in), in->imm, 4);
    NEXT_CHECKED();
x_mov8_rm:
    reg_set(s, insn_reg(in), mread(s, in->seg, insn_ea(s, in), 1), 1);
    NEXT_CHECKED();
x_mov8_mr:
    mwrite(s, in->seg, insn_ea(s, in), reg_get(s, insn_reg(in), 1), 1);
    NEXT_CHECKED();
x_mov8_mi:
    mwrite(s, in->seg, insn_ea(s, in), in->imm & 0xFF, 1);
    NEXT_CHECKED();
x_inc:
x_dec: {
    bool cf = get_cf(s);
    uint32_t a = s->r[op & 7];
    uint32_t r = op < 0x48 ? a + 1 : a - 1;
    cc_set(s, op < 0x48 ? CC_INC : CC_DEC, 4, r, a, 1);
    s->cc.cin = cf;
    s->r[op & 7] = r;
    NEXT();
}
x_push:
    v = s->r[op & 7];
    goto push;
x_push_i:
    v = imm_op(in);
push:
    if (!stack32(s))
        goto x_none;
    sp = s->r[GPR_SP] - 4;
    mwrite(s, SEG_SS, sp, v, 4);
    s->r[GPR_SP] = sp;
    NEXT_CHECKED();
x_pop:
    if (!stack32(s))
        goto x_none;
    sp = s->r[GPR_SP];
    v = mread(s, SEG_SS, sp, 4);
    s->r[GPR_SP] = sp + 4;
    s->r[op & 7] = v;
    NEXT_CHECKED();
x_jcc:
    if (cond(s, op & 15))
        jump_near(s, s->next_eip + jcc_rel(in), in->pfx & P_OP32);
    NEXT();
x_jmp:
    jump_near(s, s->next_eip + (op == 0xEB ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm), true);
    NEXT();
x_call:
    if (!stack32(s))
        goto x_none;
    v = s->next_eip + in->imm;
    if (v > s->seg[SEG_CS].limit)
        soft_raise(s, EXC_GP, 0);
    sp = s->r[GPR_SP] - 4;
    mwrite(s, SEG_SS, sp, s->next_eip, 4);
    s->r[GPR_SP] = sp;
    s->next_eip = v;
    NEXT_CHECKED();
x_ret:
    if (!stack32(s))
        goto x_none;
    sp = s->r[GPR_SP];
    v = mread(s, SEG_SS, sp, 4);
    if (v > s->seg[SEG_CS].limit)
        soft_raise(s, EXC_GP, 0);
    s->r[GPR_SP] = sp + 4;
    s->next_eip = v;
    NEXT_CHECKED();
x_lea:
    s->r[insn_reg(in)] = insn_ea(s, in);
    NEXT();
x_test_rr:
    v = s->r[insn_rm(in)] & s->r[insn_reg(in)];
    cc_set(s, CC_LOGIC, 4, v, v, 0);
    NEXT();
x_test_ri:
    v = rm_read(s, in, 4) & in->imm;
    cc_set(s, CC_LOGIC, 4, v, v, 0);
    NEXT_CHECKED();
x_test8_rr:
    v = reg_get(s, insn_rm(in), 1) & reg_get(s, insn_reg(in), 1);
    cc_set(s, CC_LOGIC, 1, v, v, 0);
    NEXT();
x_movzx8:
    reg_set(s, insn_reg(in), rm_read(s, in, 1), (in->pfx & P_OP32) ? 4 : 2);
    NEXT_CHECKED();
x_movzx16:
    s->r[insn_reg(in)] = rm_read(s, in, 2);
    NEXT_CHECKED();
x_movsx8:
    reg_set(s, insn_reg(in), (uint32_t)(int32_t)(int8_t)rm_read(s, in, 1),
            (in->pfx & P_OP32) ? 4 : 2);
    NEXT_CHECKED();
x_movsx16:
    s->r[insn_reg(in)] = (uint32_t)(int32_t)(int16_t)rm_read(s, in, 2);
    NEXT_CHECKED();
x_shift:
    shift_rm(s, in);
    NEXT_CHECKED();
x_imul:
    imul_reg(s, insn_reg(in), rm_read(s, in, 4), 4);
    NEXT_CHECKED();
x_cmov:
    v = rm_read(s, in, 4);
    if (cond(s, op & 15))
        s->r[insn_reg(in)] = v;
    NEXT_CHECKED();
x_setcc:
    rm_write(s, in, cond(s, op & 15), 1);
    NEXT_CHECKED();
x_load16:
    reg_set(s, insn_reg(in), mread(s, in->seg, insn_ea(s, in), 2), 2);
    NEXT_CHECKED();
x_store16:
    mwrite(s, in->seg, insn_ea(s, in), s->r[insn_reg(in)] & 0xFFFF, 2);
    NEXT_CHECKED();
x_mov16_rr:
    if (op & 2)
        reg_set(s, insn_reg(in), s->r[insn_rm(in)], 2);
    else
        reg_set(s, insn_rm(in), s->r[insn_reg(in)], 2);
    NEXT();
x_shift16:
    v = shift_count(s, in);
    if (v)
        reg_set(s, insn_rm(in), shift_plain(s, insn_reg(in), s->r[insn_rm(in)] & 0xFFFF, v, 2), 2);
    NEXT();
x_incdec_m: {
    uint32_t ea = insn_ea(s, in), a = mread_rmw(s, in->seg, ea, 4);
    bool cf = get_cf(s), dec = insn_reg(in);
    uint32_t r = dec ? a - 1 : a + 1;
    cc_set(s, dec ? CC_DEC : CC_INC, 4, r, a, 1);
    s->cc.cin = cf;
    mwrite(s, in->seg, ea, r, 4);
    NEXT_CHECKED();
}
x64_alu_rr:
    if (op & 2)
        alu64_reg(s, in, (op >> 3) & 7, insn_reg64(in), s->r[insn_rm64(in)]);
    else
        alu64_reg(s, in, (op >> 3) & 7, insn_rm64(in), s->r[insn_reg64(in)]);
    NEXT();
x64_alu_rm:
    alu64_reg(s, in, (op >> 3) & 7, insn_reg64(in), mem_rd(s, in->seg, ea64(s, in), size64(in)));
    NEXT_CHECKED();
x64_alu_mr:
    if (in->pfx & P_OP64)
        alu64_mem(s, in, (op >> 3) & 7, s->r[insn_reg64(in)], 8);
    else
        alu64_mem(s, in, (op >> 3) & 7, s->r[insn_reg64(in)], 4);
    NEXT_CHECKED();
x64_alu_ri:
    alu64_reg(s, in, insn_reg(in), insn_rm64(in), (uint64_t)(int64_t)(int32_t)imm_op(in));
    NEXT();
x64_alu_mi:
    if (in->pfx & P_OP64)
        alu64_mem(s, in, insn_reg(in), (uint64_t)(int64_t)(int32_t)imm_op(in), 8);
    else
        alu64_mem(s, in, insn_reg(in), imm_op(in), 4);
    NEXT_CHECKED();
x64_alu_ai:
    alu64_reg(s, in, (op >> 3) & 7, GPR_AX, sext64(in->imm, 4));
    NEXT();
x64_mov_rr:
    q = (op & 2) ? s->r[insn_rm64(in)] : s->r[insn_reg64(in)];
    s->r[(op & 2) ? insn_reg64(in) : insn_rm64(in)] = (in->pfx & P_OP64) ? q : (uint32_t)q;
    NEXT();
x64_mov_ri:
    s->r[(op & 7) | ((in->rex & REX_B) << 3)] =
        (in->pfx & P_OP64) ? (uint64_t)in->disp << 32 | in->imm : in->imm;
    NEXT();
x64_load:
    s->r[insn_reg64(in)] = mem_rd(s, in->seg, ea64(s, in), size64(in));
    NEXT_CHECKED();
x64_store:
    mem_wr(s, in->seg, ea64(s, in), s->r[insn_reg64(in)], size64(in));
    NEXT_CHECKED();
x64_store_i:
    mem_wr(s, in->seg, ea64(s, in), sext64(in->imm, 4), size64(in));
    NEXT_CHECKED();
x64_lea:
    q = ea64(s, in);
    s->r[insn_reg64(in)] = (in->pfx & P_OP64) ? q : (uint32_t)q;
    NEXT();
x64_push:
    q = s->r[GPR_SP] - 8;
    mem_wr(s, SEG_SS, q, s->r[(op & 7) | ((in->rex & REX_B) << 3)], 8);
    s->r[GPR_SP] = q;
    NEXT_CHECKED();
x64_pop:
    q = mem_rd(s, SEG_SS, s->r[GPR_SP], 8);
    s->r[GPR_SP] += 8;
    s->r[(op & 7) | ((in->rex & REX_B) << 3)] = q;
    NEXT_CHECKED();
x64_call: { /* as exec64: the target is checked before the push */
    uint64_t ret = s->next_eip;
    jump64_to(s, ret + sext64(in->imm, 4));
    q = s->r[GPR_SP] - 8;
    mem_wr(s, SEG_SS, q, ret, 8);
    s->r[GPR_SP] = q;
    NEXT_CHECKED();
}
x64_ret: /* and RET's before RSP moves */
    jump64_to(s, mem_rd(s, SEG_SS, s->r[GPR_SP], 8));
    s->r[GPR_SP] += 8;
    NEXT_CHECKED();
x64_jmp:
    jump64_to(s, s->next_eip + sext64(in->imm, op == 0xEB ? 1 : 4));
    NEXT();
x64_jcc:
    if (cond64(s, op & 15))
        jump64_to(s, s->next_eip + sext64(in->imm, op < 0x80 ? 1 : 4));
    NEXT();
x64_test:
    q = rm64_read(s, in, size64(in));
    alu_val(s, 4, q, s->r[insn_reg64(in)], size64(in));
    NEXT_CHECKED();
x64_test_i:
    q = rm64_read(s, in, size64(in));
    alu_val(s, 4, q, sext64(in->imm, 4), size64(in));
    NEXT_CHECKED();
x64_incdec:
    incdec64(s, in);
    NEXT_CHECKED();
x64_movx: { /* MOVZX/MOVSX r32/64, r/m8 or r/m16 */
    unsigned from = (op & 1) ? 2 : 1;
    q = rm64_read(s, in, from);
    if (op >= 0x1BE)
        q = sext64(q, from);
    s->r[insn_reg64(in)] = (in->pfx & P_OP64) ? q : (uint32_t)q;
    NEXT_CHECKED();
}
x64_movsxd:
    q = rm64_read(s, in, 4);
    s->r[insn_reg64(in)] = (in->pfx & P_OP64) ? sext64(q, 4) : q;
    NEXT_CHECKED();
x64_cmov: /* the source is read either way; a 32-bit destination is zero-extended either way */
    q = rm64_read(s, in, size64(in));
    if (!cond64(s, op & 15))
        q = s->r[insn_reg64(in)];
    s->r[insn_reg64(in)] = (in->pfx & P_OP64) ? q : (uint32_t)q;
    NEXT_CHECKED();
x64_setcc:
    if (is_mem(in))
        mem_wr(s, in->seg, ea64(s, in), cond64(s, op & 15), 1);
    else
        gpr_set(s, in, insn_rm64(in), cond64(s, op & 15), 1);
    NEXT_CHECKED();
x64_shift:
    shift64_rm(s, in);
    NEXT_CHECKED();
x64_imul:
    imul64(s, in);
    NEXT_CHECKED();
x64_alu8:
    alu8_64(s, in);
    NEXT_CHECKED();
x64_mov8:
    mov8_64(s, in);
    NEXT_CHECKED();
x64_test8:
    test8_64(s, in);
    NEXT_CHECKED();
x64_push_i:
    q = s->r[GPR_SP] - 8;
    mem_wr(s, SEG_SS, q, (uint64_t)(int64_t)(int32_t)imm_op(in), 8);
    s->r[GPR_SP] = q;
    NEXT_CHECKED();
x64_call_rm: { /* as exec64: the target read and checked, then the return address pushed */
    uint64_t ret = s->next_eip;
    jump64_to(s, rm64_read(s, in, 8));
    q = s->r[GPR_SP] - 8;
    mem_wr(s, SEG_SS, q, ret, 8);
    s->r[GPR_SP] = q;
    NEXT_CHECKED();
}
x64_jmp_rm:
    jump64_to(s, rm64_read(s, in, 8));
    NEXT_CHECKED();
x64_mov16: /* 89/8B with 16-bit operands: the upper 48 bits stay */
    if (op == 0x8B) {
        gpr_set(s, in, insn_reg64(in), rm64_read(s, in, 2), 2);
    } else if (is_mem(in)) {
        mem_wr(s, in->seg, ea64(s, in), s->r[insn_reg64(in)] & 0xFFFF, 2);
    } else {
        gpr_set(s, in, insn_rm64(in), s->r[insn_reg64(in)], 2);
    }
    NEXT_CHECKED();
x64_test_ai:
    alu_val(s, 4, s->r[GPR_AX], sext64(in->imm, 4), size64(in));
    NEXT();
x64_nop: /* NOP, and the hint NOPs 0F 18..1F (their memory operand is not accessed) */
    NEXT();
block_done: {
    s->icount += (uint64_t)(in - counted);
    struct block *next = chain_next(s, b, limit);
    if (next) {
        b = next;
        in = counted = b->insn;
        DISPATCH();
    }
    return b;
}
out:
    s->icount += (uint64_t)(in - counted);
    s->block_end = false;
    return b;
#undef DISPATCH
#undef NEXT
#undef NEXT_CHECKED
}
