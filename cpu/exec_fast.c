/*
 * The interpreter's inner loop: runs the instructions of one block, with
 * the hottest 32-bit forms (register ALU, MOV, INC/DEC, PUSH/POP, Jcc, LEA,
 * flat memory loads and stores) executed inline and everything else handed
 * to soft_exec(). insn.xop, chosen once when the block is built, names the
 * fast form; the semantics are the same as the general path's.
 */
#include "cpu/exec.h"

enum xop {
    X_NONE, X_ALU_RR, X_ALU_RM, X_ALU_RI, X_MOV_RR, X_MOV_RI, X_LOAD, X_STORE, X_INC, X_DEC,
    X_PUSH, X_POP, X_JCC, X_LEA, X_TEST_RR, X_JMP, X_MOVZX8, X_MOVZX16, X_CMP_MI8, X_STORE_I,
    X_SHIFT_RI, X_ALU_MR, X_ALU_MI8,
};

uint8_t fast_form(const struct insn *in)
{
    unsigned op = in->op;
    bool op32 = in->pfx & P_OP32, mem = in->props & I_MEM;
    if (!op32 || (in->pfx & (P_LOCK | P_REP | P_REPNE)))
        return (op >= 0x70 && op <= 0x7F) ? X_JCC : X_NONE;
    if (op < 0x40 && (op & 7) == 1)
        return mem ? X_ALU_MR : X_ALU_RR;
    if (op < 0x40 && (op & 7) == 3)
        return mem ? X_ALU_RM : X_ALU_RR;
    if (op == 0x83 && !mem)
        return X_ALU_RI;
    if ((op == 0x89 || op == 0x8B) && !mem)
        return X_MOV_RR;
    if (op == 0x8B)
        return X_LOAD;
    if (op == 0x89)
        return X_STORE;
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
    if ((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F))
        return X_JCC;
    if (op == 0xEB || op == 0xE9)
        return X_JMP;
    if (op == 0x8D)
        return X_LEA;
    if (op == 0x85 && !mem)
        return X_TEST_RR;
    if (op == 0x1B6)
        return X_MOVZX8;
    if (op == 0x1B7)
        return X_MOVZX16;
    if (op == 0x83 && mem)
        return insn_reg(in) == 7 ? X_CMP_MI8 : X_ALU_MI8;
    if (op == 0xC7 && mem)
        return X_STORE_I;
    if (op == 0xC1 && !mem && insn_reg(in) >= 4 && insn_reg(in) != 6)
        return X_SHIFT_RI;
    return X_NONE;
}

static inline void alu32(struct soft *s, unsigned op, unsigned dst, uint32_t b)
{
    uint32_t a = s->r[dst], r;
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

static inline uint32_t jcc_rel(const struct insn *in)
{
    if (in->op < 0x100)
        return (uint32_t)(int32_t)(int8_t)in->imm;
    return (in->pfx & P_OP32) ? in->imm : (uint32_t)(int32_t)(int16_t)in->imm;
}

static inline bool fast_exec(struct soft *s, const struct insn *in)
{
    unsigned op = in->op;
    uint32_t v, sp;
    switch (in->xop) {
    case X_ALU_RR:
        if (op & 2)
            alu32(s, (op >> 3) & 7, insn_reg(in), s->r[insn_rm(in)]);
        else
            alu32(s, (op >> 3) & 7, insn_rm(in), s->r[insn_reg(in)]);
        return true;
    case X_ALU_RM:
        alu32(s, (op >> 3) & 7, insn_reg(in), mread(s, in->seg, insn_ea(s, in), 4));
        return true;
    case X_ALU_MR:
        alu32_mem(s, in, (op >> 3) & 7, s->r[insn_reg(in)]);
        return true;
    case X_ALU_MI8:
        alu32_mem(s, in, insn_reg(in), (uint32_t)(int32_t)(int8_t)in->imm);
        return true;
    case X_ALU_RI:
        alu32(s, insn_reg(in), insn_rm(in), (uint32_t)(int32_t)(int8_t)in->imm);
        return true;
    case X_MOV_RR:
        if (op & 2)
            s->r[insn_reg(in)] = s->r[insn_rm(in)];
        else
            s->r[insn_rm(in)] = s->r[insn_reg(in)];
        return true;
    case X_MOV_RI:
        s->r[op & 7] = in->imm;
        return true;
    case X_LOAD:
        s->r[insn_reg(in)] = mread(s, in->seg, insn_ea(s, in), 4);
        return true;
    case X_STORE:
        mwrite(s, in->seg, insn_ea(s, in), s->r[insn_reg(in)], 4);
        return true;
    case X_INC:
    case X_DEC: {
        bool cf = get_cf(s);
        uint32_t a = s->r[op & 7];
        uint32_t r = in->xop == X_INC ? a + 1 : a - 1;
        cc_set(s, in->xop == X_INC ? CC_INC : CC_DEC, 4, r, a, 1);
        s->cc.cin = cf;
        s->r[op & 7] = r;
        return true;
    }
    case X_PUSH:
        if (!stack32(s))
            return false;
        v = s->r[op & 7];
        sp = s->r[GPR_SP] - 4;
        mwrite(s, SEG_SS, sp, v, 4);
        s->r[GPR_SP] = sp;
        return true;
    case X_POP:
        if (!stack32(s))
            return false;
        sp = s->r[GPR_SP];
        v = mread(s, SEG_SS, sp, 4);
        s->r[GPR_SP] = sp + 4;
        s->r[op & 7] = v;
        return true;
    case X_JCC:
        if (cond(s, op & 15))
            jump_near(s, s->next_eip + jcc_rel(in), in->pfx & P_OP32);
        return true;
    case X_JMP:
        jump_near(s, s->next_eip + (op == 0xEB ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm), true);
        return true;
    case X_LEA:
        s->r[insn_reg(in)] = insn_ea(s, in);
        return true;
    case X_MOVZX8:
        s->r[insn_reg(in)] = rm_read(s, in, 1);
        return true;
    case X_MOVZX16:
        s->r[insn_reg(in)] = rm_read(s, in, 2);
        return true;
    case X_CMP_MI8:
        v = mread(s, in->seg, insn_ea(s, in), 4);
        sp = (uint32_t)(int32_t)(int8_t)in->imm;
        cc_set(s, CC_SUB, 4, v - sp, v, sp);
        return true;
    case X_STORE_I:
        mwrite(s, in->seg, insn_ea(s, in), in->imm, 4);
        return true;
    case X_SHIFT_RI: {
        unsigned n = in->imm & 31, r = insn_rm(in);
        if (!n)
            return true;
        uint32_t a = s->r[r];
        bool cf, of;
        if (insn_reg(in) == 4) {
            v = a << n;
            cf = (a >> (32 - n)) & 1;
            of = (v >> 31) ^ cf;
        } else if (insn_reg(in) == 5) {
            v = a >> n;
            cf = (a >> (n - 1)) & 1;
            of = a >> 31;
        } else {
            v = (uint32_t)((int32_t)a >> n);
            cf = ((int32_t)a >> (n - 1)) & 1;
            of = false;
        }
        s->r[r] = v;
        flags_set_arith(s, szp_flags(v, 4) | (cf ? FL_CF : 0) | (of ? FL_OF : 0));
        return true;
    }
    case X_TEST_RR:
        v = s->r[insn_rm(in)] & s->r[insn_reg(in)];
        cc_set(s, CC_LOGIC, 4, v, v, 0);
        return true;
    default:
        return false;
    }
}

void block_run(struct soft *s, const struct block *b, unsigned max)
{
    uint32_t gen = s->code_gen;
    unsigned n = b->n < max ? b->n : max;
    for (unsigned i = 0; i < n; i++) {
        const struct insn *in = &b->insn[i];
        s->next_eip = s->eip + in->len;
        if (!fast_exec(s, in))
            soft_exec(s, in);
        s->eip = s->next_eip;
        s->icount++;
        if (__builtin_expect(s->block_end || s->code_gen != gen, 0)) {
            s->block_end = false;
            return;
        }
    }
}
