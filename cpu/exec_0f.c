/*
 * Instruction semantics of the 0F opcode map for the software core: bit
 * operations, double shifts, CMPXCHG/CMPXCHG8B/XADD, BSWAP, MOVZX/MOVSX,
 * CMOVcc/SETcc/Jcc, segment loads, the descriptor-table group (0F 00, 0F 01),
 * the glue to the x87/MMX unit (cpu/fpu.h) and the routing of the SSE
 * opcode space (0F with mandatory prefixes, 0F 38, 0F 3A) to exec_sse.c.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/sse4.h"

static void bit_op(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in), op;
    uint32_t off, ea = 0;
    if (in->op == 0x1BA) {
        op = insn_reg(in) - 4;
        off = in->imm & (size * 8 - 1);
    } else {
        op = (in->op >> 3) & 3;
        off = reg_get(s, insn_reg(in), size);
    }
    uint32_t v;
    if (is_mem(in)) {
        ea = insn_ea(s, in);
        if (in->op != 0x1BA) {
            int32_t soff = sext(off, size);
            ea += (uint32_t)((soff >> (size == 4 ? 5 : 4)) * (int32_t)size);
            if (!(in->pfx & P_ADDR32))
                ea &= 0xFFFF;
        }
        off &= size * 8 - 1;
        v = op == 0 ? mread(s, in->seg, ea, size) : mread_rmw(s, in->seg, ea, size);
    } else {
        off &= size * 8 - 1;
        v = reg_get(s, insn_rm(in), size);
    }
    uint32_t bit = 1u << off;
    uint32_t f = arith_flags(s) & ~FL_CF;
    flags_set_arith(s, f | ((v & bit) ? FL_CF : 0));
    if (op == 0)
        return;
    v = op == 1 ? v | bit : op == 2 ? v & ~bit : v ^ bit;
    rm_write_at(s, in, ea, v, size);
}

static void double_shift(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in);
    unsigned n = ((in->op & 1) ? s->r[GPR_CX] : in->imm) & 31;
    uint32_t ea = 0;
    uint32_t a = rm_read_rmw(s, in, size, &ea);
    if (!n)
        return;
    uint32_t b = reg_get(s, insn_reg(in), size), r;
    bool cf, left = in->op < 0x1A8;
    uint64_t x;
    if (size == 4)
        x = left ? ((uint64_t)a << 32) | b : ((uint64_t)b << 32) | a;
    else
        x = ((uint64_t)a << 32) | ((uint64_t)b << 16) | a;
    if (left) {
        r = (uint32_t)((x << n) >> 32) & size_mask(size);
        cf = (x >> ((size == 4 ? 64 : 48) - n)) & 1;
    } else {
        r = (uint32_t)(x >> n) & size_mask(size);
        cf = (x >> (n - 1)) & 1;
    }
    bool of = ((r ^ a) & sign_bit(size)) != 0;
    flags_set_arith(s, szp_flags(r, size) | (cf ? FL_CF : 0) | (of ? FL_OF : 0));
    rm_write_at(s, in, ea, r, size);
}

static void bit_scan(struct soft *s, const struct insn *in)
{
    unsigned size = osize(in);
    uint32_t v = rm_read(s, in, size) & size_mask(size);
    uint32_t f = arith_flags(s) & ~FL_ZF;
    if (!v) {
        flags_set_arith(s, f | FL_ZF);
        return;
    }
    unsigned r = in->op == 0x1BC ? (unsigned)__builtin_ctz(v) : 31u - (unsigned)__builtin_clz(v);
    flags_set_arith(s, f);
    reg_set(s, insn_reg(in), r, size);
}

static void cmpxchg(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    uint32_t ea = 0;
    uint32_t d = rm_read_rmw(s, in, size, &ea);
    uint32_t a = reg_get(s, GPR_AX, size);
    alu(s, 7, a, d, size);
    if (a == d) {
        rm_write_at(s, in, ea, reg_get(s, insn_reg(in), size), size);
    } else {
        rm_write_at(s, in, ea, d, size);
        reg_set(s, GPR_AX, d, size);
    }
}

static void cmpxchg8b(struct soft *s, const struct insn *in)
{
    uint32_t ea = insn_ea(s, in);
    uint32_t lin = seg_lin(s, in->seg, ea, 8, SEG_W);
    uint64_t v = lin_read64(s, lin, s->cpl == 3);
    uint64_t cmp = ((uint64_t)s->r[GPR_DX] << 32) | s->r[GPR_AX];
    uint32_t f = arith_flags(s) & ~FL_ZF;
    if (v == cmp) {
        lin_write64(s, lin, ((uint64_t)s->r[GPR_CX] << 32) | s->r[GPR_BX], s->cpl == 3);
        f |= FL_ZF;
    } else {
        lin_write64(s, lin, v, s->cpl == 3);
        s->r[GPR_AX] = (uint32_t)v;
        s->r[GPR_DX] = (uint32_t)(v >> 32);
    }
    flags_set_arith(s, f);
}

static void xadd(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osize(in) : 1;
    uint32_t ea = 0;
    uint32_t d = rm_read_rmw(s, in, size, &ea);
    uint32_t r = alu(s, 0, d, reg_get(s, insn_reg(in), size), size);
    reg_set(s, insn_reg(in), d, size); /* SRC = DEST, then DEST = sum (cannot fault now) */
    rm_write_at(s, in, ea, r, size);
}

/* MOVBE (0F 38 F0 load, F1 store): a memory operand only, its bytes reversed. With F2 the
 * opcodes are CRC32 (exec_sse4.c), which exec_0f sends there; with F3, #UD. */
static void movbe(struct soft *s, const struct insn *in)
{
    if (!is_mem(in) || (in->pfx & (P_REP | P_REPNE)))
        soft_raise_noerr(s, EXC_UD);
    unsigned size = osize(in);
    uint32_t ea = insn_ea(s, in);
    uint32_t v = (in->op & 1) ? reg_get(s, insn_reg(in), size) : (uint32_t)mread(s, in->seg, ea, size);
    v = size == 4 ? __builtin_bswap32(v) : __builtin_bswap16((uint16_t)v);
    if (in->op & 1)
        mwrite(s, in->seg, ea, v, size);
    else
        reg_set(s, insn_reg(in), v, size);
}

static void push_pop_fsgs(struct soft *s, const struct insn *in)
{
    int seg = in->op < 0x1A8 ? SEG_FS : SEG_GS;
    bool op32 = in->pfx & P_OP32;
    uint32_t sp = s->r[GPR_SP];
    unsigned size = op32 ? 4 : 2;
    if (!(in->op & 1)) {
        uint32_t nsp = stack32(s) ? sp - size : (sp & 0xFFFF0000u) | ((sp - size) & 0xFFFF);
        mwrite(s, SEG_SS, stack32(s) ? nsp : nsp & 0xFFFF, s->seg[seg].sel, 2);
        s->r[GPR_SP] = stack32(s) ? nsp : reg_merge16(s->r[GPR_SP], nsp);
        return;
    }
    uint32_t v = mread(s, SEG_SS, stack32(s) ? sp : sp & 0xFFFF, 2);
    seg_load(s, seg, (uint16_t)v);
    s->r[GPR_SP] = stack32(s) ? sp + size : reg_merge16(s->r[GPR_SP], sp + size);
}

static void movx(struct soft *s, const struct insn *in)
{
    unsigned from = (in->op & 1) ? 2 : 1;
    uint32_t v = rm_read(s, in, from);
    if (in->op >= 0x1BE)
        v = (uint32_t)sext(v, from);
    reg_set(s, insn_reg(in), v, osize(in));
}

/* ---- x87 and MMX glue ---- */

static void fpu_mem(struct soft *s, uint32_t ea, const struct insn *in, uint8_t *buf, unsigned n,
                    bool store)
{
    uint32_t amask = (in->pfx & P_ADDR32) ? 0xFFFFFFFFu : 0xFFFF;
    unsigned i = 0;
    if (in->props & I_LONG) { /* 64-bit mode: a flat 64-bit address, checked once */
        uint64_t lin = insn_lin64(s, in);
        if (store)
            lin_probe_write(s, lin, n, s->cpl == 3);
        for (; i < n; i++)
            if (store)
                vwrite(s, lin + i, buf[i], 1);
            else
                buf[i] = (uint8_t)vread(s, lin + i, 1);
        return;
    }
    if (store)
        for (unsigned k = 0; k < n; k += 4)
            seg_lin(s, in->seg, (ea + k) & amask, n - k >= 4 ? 4 : n - k, SEG_W);
    while (i < n) {
        unsigned c = n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint32_t off = (ea + i) & amask;
        if (store) {
            uint32_t v = 0;
            for (unsigned k = 0; k < c; k++)
                v |= (uint32_t)buf[i + k] << (8 * k);
            mwrite(s, in->seg, off, v, c);
        } else {
            uint32_t v = mread(s, in->seg, off, c);
            for (unsigned k = 0; k < c; k++)
                buf[i + k] = (uint8_t)(v >> (8 * k));
        }
        i += c;
    }
}

/*
 * Every byte an x87 store will write is checked (segment and page, with the
 * #PF it takes) before the instruction changes the x87 state: a store that
 * faults restarts after the handler, so it must find the state as it was
 * (FSTP pops, FNSAVE reinitialises, FNSTENV masks the exceptions).
 */
static void fpu_mem_probe(struct soft *s, uint32_t ea, const struct insn *in, unsigned n)
{
    bool user = s->cpl == 3;
    if (in->props & I_LONG) {
        lin_probe_write(s, insn_lin64(s, in), n, user);
        return;
    }
    uint32_t amask = (in->pfx & P_ADDR32) ? 0xFFFFFFFFu : 0xFFFF;
    for (unsigned k = 0; k < n; k += 4) {
        unsigned c = n - k >= 4 ? 4 : n - k;
        lin_probe_write(s, seg_lin(s, in->seg, (ea + k) & amask, c, SEG_W), c, user);
    }
}

void exec_fpu(struct soft *s, const struct insn *in)
{
    uint8_t op = (uint8_t)in->op;
    if (s->cr0 & (CR0_EM | CR0_TS))
        soft_raise_noerr(s, EXC_NM);
    if (!fpu_is_nowait(op, in->modrm) && fpu_pending(s->fpu) && (s->cr0 & CR0_NE))
        soft_raise_noerr(s, EXC_MF);
    uint8_t buf[128] = {0};
    uint32_t fl = soft_get_eflags(s);
    uint16_t ax = (uint16_t)s->r[GPR_AX];
    uint32_t ea = is_mem(in) ? insn_ea(s, in) : 0;
    struct fpu_insn fi = {
        .op = op, .modrm = in->modrm, .op32 = in->pfx & P_OP32,
        .pmode = soft_pmode(s) && !soft_v86(s), .cs = s->seg[SEG_CS].sel,
        .ds = s->seg[in->seg].sel, .ip = s->eip, .dp = ea, .eflags = &fl, .ax = &ax,
    };
    unsigned n = 0;
    enum fpu_access acc = FPU_NONE;
    if (is_mem(in)) {
        n = fpu_mem_size(op, in->modrm, in->pfx & P_OP32);
        acc = fpu_mem_access(op, in->modrm);
        if (n > sizeof buf)
            n = sizeof buf;
        if (acc == FPU_LOAD || acc == FPU_LOAD_STORE)
            fpu_mem(s, ea, in, buf, n, false);
        if (acc == FPU_STORE || acc == FPU_LOAD_STORE)
            fpu_mem_probe(s, ea, in, n);
    }
    if (fpu_exec(s->fpu, &fi, buf) == FPU_UD)
        soft_raise_noerr(s, EXC_UD);
    /* an unmasked numeric exception (IE, DE, ZE, OE, UE) leaves the destination as it was */
    if (n && (acc == FPU_STORE || acc == FPU_LOAD_STORE) && fpu_mem_written(s->fpu))
        fpu_mem(s, ea, in, buf, n, true);
    reg_set(s, GPR_AX, ax, 2);
    flags_set_arith(s, fl);
}

/*
 * The P6 MMX set. In 64-bit mode REX does not extend an MMX register, the
 * GPR of MOVD (0F 6E/7E) is REX-extended and with REX.W is MOVQ r/m64, and
 * memory operands take the 64-bit address (fpu_mem).
 */
void exec_mmx(struct soft *s, const struct insn *in)
{
    uint8_t opc = (uint8_t)in->op;
    if ((s->cr0 & CR0_EM) || (in->pfx & (P_66 | P_REP | P_REPNE)))
        soft_raise_noerr(s, EXC_UD);
    if (s->cr0 & CR0_TS)
        soft_raise_noerr(s, EXC_NM);
    if (fpu_pending(s->fpu) && (s->cr0 & CR0_NE))
        soft_raise_noerr(s, EXC_MF);
    bool lm = in->props & I_LONG, w64 = lm && (in->pfx & P_OP64) && (opc == 0x6E || opc == 0x7E);
    unsigned gpr = lm ? insn_rm64(in) : insn_rm(in);
    struct mmx_insn mi = {.opcode = opc, .reg = (uint8_t)insn_reg(in), .rm = (uint8_t)insn_rm(in),
                          .rm_is_reg = !is_mem(in), .imm = (uint8_t)in->imm};
    unsigned n = w64 ? 8 : mmx_mem_size(opc);
    bool store = opc == 0x7E || opc == 0x7F;
    uint32_t ea = 0;
    if (is_mem(in)) {
        ea = lm ? 0 : insn_ea(s, in);
        if (!store) {
            uint8_t buf[8] = {0};
            fpu_mem(s, ea, in, buf, n, false);
            for (unsigned k = 0; k < 8; k++)
                mi.src |= (uint64_t)buf[k] << (8 * k);
        } else {
            fpu_mem_probe(s, ea, in, n); /* before the x87 side effects (TOP 0, tags valid) */
        }
    } else if (opc == 0x6E) {
        mi.src = s->r[gpr];
    }
    uint64_t out = 0;
    bool out_valid = false;
    if (w64 && opc == 0x6E) { /* MOVQ mm, r/m64 */
        mmx_enter(s->fpu);
        mmx_set_reg(s->fpu, insn_reg(in), mi.src);
        return;
    }
    if (w64) { /* MOVQ r/m64, mm */
        mmx_enter(s->fpu);
        out = mmx_reg(s->fpu, insn_reg(in));
        out_valid = true;
    } else if (mmx_exec(s->fpu, &mi, &out, &out_valid) == FPU_UD) {
        soft_raise_noerr(s, EXC_UD);
    }
    if (!out_valid)
        return;
    if (is_mem(in)) {
        uint8_t buf[8];
        for (unsigned k = 0; k < 8; k++)
            buf[k] = (uint8_t)(out >> (8 * k));
        fpu_mem(s, ea, in, buf, n, true);
    } else if (opc == 0x7E) {
        s->r[gpr] = w64 ? out : (uint32_t)out;
    }
}

/*
 * 0F AE: FXSAVE/FXRSTOR (/0 /1) here, the x87/MMX image from fpu.c and the
 * MXCSR/XMM part from exec_sse.c; LDMXCSR, STMXCSR, the fences and CLFLUSH
 * in exec_sse.c. FXRSTOR reads and checks the whole image before loading.
 */
static void fxsave_group(struct soft *s, const struct insn *in)
{
    unsigned sub = (in->modrm >> 3) & 7;
    if (sub > 1 || !is_mem(in)) {
        exec_sse_group(s, in);
        return;
    }
    if (s->cr0 & CR0_EM)
        soft_raise_noerr(s, EXC_UD);
    if (s->cr0 & CR0_TS)
        soft_raise_noerr(s, EXC_NM);
    /* 64-bit mode: XMM0..15, and with REX.W (FXSAVE64) 64-bit FPU IP/DP without selectors */
    bool lm = in->props & I_LONG, w64 = lm && (in->pfx & P_OP64);
    uint32_t ea = lm ? 0 : insn_ea(s, in);
    if ((lm ? insn_lin64(s, in) : s->seg[in->seg].base + ea) & 15)
        soft_raise(s, EXC_GP, 0);
    unsigned nxmm = lm ? 16 : 8;
    uint8_t buf[512];
    if (sub == 1) {
        fpu_mem(s, ea, in, buf, sizeof buf, false);
        if (w64) { /* the low halves of the 64-bit pointers; no selectors */
            memcpy(buf + 12, "\0\0", 2);
            memcpy(buf + 20, "\0\0", 2);
        }
        sse_fxrstor(s, buf, nxmm);
        fpu_fxrstor(s->fpu, buf);
        return;
    }
    unsigned n = (s->cr4 & CR4_OSFXSR) ? 160 + 16 * nxmm : 160; /* XMM only with OSFXSR */
    memset(buf, 0, n);
    fpu_fxsave(s->fpu, buf);
    if (w64) {
        memset(buf + 12, 0, 4);
        memset(buf + 20, 0, 4);
    }
    sse_fxsave(s, buf, nxmm);
    fpu_mem(s, ea, in, buf, n, true);
}

/* 0F xx opcodes that are MMX instructions on a P6 (bit xx of this map). */
static const uint32_t mmx_map[8] = {
    0, 0, 0, 0xC0FECFFFu, /* 60-6B, 6E-6F, 71-77, 7E-7F */
    0, 0, 0xBB2E0000u,    /* D1-D3, D5, D8, D9, DB-DD, DF */
    0x772EBB26u,          /* E1, E2, E5, E8, E9, EB-ED, EF, F1-F3, F5, F8-FA, FC-FE */
};

bool is_mmx_op(unsigned op)
{
    op &= 0xFF;
    return (mmx_map[op >> 5] >> (op & 31)) & 1;
}

void exec_0f(struct soft *s, const struct insn *in)
{
    unsigned op = in->op, size = osize(in);
    uint32_t v;
    if (op == OP_GP)
        soft_raise(s, EXC_GP, 0);
    if ((op == (OP_MAP38 | 0xF0) || op == (OP_MAP38 | 0xF1)) && !(in->pfx & P_REPNE)) {
        movbe(s, in);
        return;
    }
    if (op >= OP_MAP38 || sse_claims(in)) {
        exec_sse(s, in);
        return;
    }
    if (op >= 0x200)
        soft_raise_noerr(s, EXC_UD);
    if (is_mmx_op(op)) {
        exec_mmx(s, in);
        return;
    }
    switch (op) {
    case 0x140: case 0x141: case 0x142: case 0x143: case 0x144: case 0x145: case 0x146: case 0x147:
    case 0x148: case 0x149: case 0x14A: case 0x14B: case 0x14C: case 0x14D: case 0x14E: case 0x14F:
        v = rm_read(s, in, size);
        if (cond(s, op & 15))
            reg_set(s, insn_reg(in), v, size);
        return;
    case 0x180: case 0x181: case 0x182: case 0x183: case 0x184: case 0x185: case 0x186: case 0x187:
    case 0x188: case 0x189: case 0x18A: case 0x18B: case 0x18C: case 0x18D: case 0x18E: case 0x18F:
        if (cond(s, op & 15)) {
            uint32_t rel = (in->pfx & P_OP32) ? in->imm : (uint32_t)(int32_t)(int16_t)in->imm;
            jump_near(s, s->next_eip + rel, in->pfx & P_OP32);
        }
        return;
    case 0x190: case 0x191: case 0x192: case 0x193: case 0x194: case 0x195: case 0x196: case 0x197:
    case 0x198: case 0x199: case 0x19A: case 0x19B: case 0x19C: case 0x19D: case 0x19E: case 0x19F:
        rm_write(s, in, cond(s, op & 15), 1);
        return;
    case 0x118: case 0x119: case 0x11A: case 0x11B: case 0x11C: case 0x11D: case 0x11E: case 0x11F:
        return; /* hint NOPs: no memory access */
    case 0x1A0: case 0x1A1: case 0x1A8: case 0x1A9: push_pop_fsgs(s, in); return;
    case 0x1A3: case 0x1AB: case 0x1B3: case 0x1BB: case 0x1BA: bit_op(s, in); return;
    case 0x1A4: case 0x1A5: case 0x1AC: case 0x1AD: double_shift(s, in); return;
    case 0x1AF:
        imul_reg(s, insn_reg(in), rm_read(s, in, size), size);
        return;
    case 0x1B0: case 0x1B1: cmpxchg(s, in); return;
    case 0x1B2: load_far_ptr(s, in, SEG_SS); return;
    case 0x1B4: load_far_ptr(s, in, SEG_FS); return;
    case 0x1B5: load_far_ptr(s, in, SEG_GS); return;
    case 0x1B6: case 0x1B7: case 0x1BE: case 0x1BF: movx(s, in); return;
    case 0x1BC: case 0x1BD: bit_scan(s, in); return;
    case 0x1C0: case 0x1C1: xadd(s, in); return;
    case 0x1C7: cmpxchg8b(s, in); return;
    case 0x1B8: exec_popcnt(s, in); return;
    case 0x1AE: fxsave_group(s, in); return;
    case 0x1C8: case 0x1C9: case 0x1CA: case 0x1CB: case 0x1CC: case 0x1CD: case 0x1CE: case 0x1CF:
        v = s->r[op & 7];
        s->r[op & 7] = (in->pfx & P_OP32) ? __builtin_bswap32(v) : s->r[op & 7] & ~(uint64_t)0xFFFF;
        return;
    default:
        exec_sys(s, in);
        return;
    }
}
