/*
 * 64-bit mode (CS.L with EFER.LMA) for the software core: the integer set
 * (ALU, MOV/MOVSXD/MOVZX/MOVSX/LEA, MOV r64, imm64, the 64-bit stack,
 * near and far branches, INC/DEC, group 3, shifts and rotates, SHLD/SHRD,
 * BT*, BSF/BSR, XADD/CMPXCHG/CMPXCHG8B/16B, XCHG, CMOVcc/SETcc, ENTER,
 * XLAT, LAHF/SAHF, the string instructions with REP, INS/OUTS), the system
 * instructions that differ in long mode (MOV CRn/DRn with CR8 as the APIC's
 * TPR, descriptor tables with 64-bit bases, SLDT..LTR with 16-byte
 * descriptors, LAR/LSL, SWAPGS, SYSCALL/SYSRET, INT n, IRETQ, far RET, far
 * JMP/CALL with 16-byte call gates). The hot forms also run inline in
 * exec_fast.c with the same semantics.
 * Registers come with REX (R8..R15, SPL..DIL), addresses are
 * 64-bit (RIP-relative, 67 gives 32) and checked for canonical form; only FS
 * and GS add a base. Operations of 8/16/32 bits reuse the legacy helpers (lazy
 * flags); the 64-bit ALU operations and INC/DEC record lazy flags of size 8.
 * exec64() returns false for the opcodes whose legacy implementation is also
 * right in 64-bit mode (HLT, CLI, IN/OUT, RDMSR, x87, MMX, SSE, FXSAVE...);
 * the opcodes 64-bit mode removed raise #UD.
 */
#include "cpu/exec.h"
#include "cpu/sse4.h"

static uint64_t rm_get(struct soft *s, const struct insn *in, unsigned size)
{
    if (!is_mem(in))
        return gpr_get(s, in, insn_rm64(in), size);
    return mem_rd(s, in->seg, ea64(s, in), size);
}

static void rm_set(struct soft *s, const struct insn *in, uint64_t v, unsigned size)
{
    if (!is_mem(in))
        gpr_set(s, in, insn_rm64(in), v, size);
    else
        mem_wr(s, in->seg, ea64(s, in), v, size);
}

/* Read of an r/m operand that is written back: a store probe first, so no half-done update. */
static uint64_t rm_get_rmw(struct soft *s, const struct insn *in, unsigned size)
{
    if (is_mem(in))
        lin_probe_write(s, lin64(s, in->seg, ea64(s, in)), size, s->cpl == 3);
    return rm_get(s, in, size);
}

static void push64(struct soft *s, uint64_t v, unsigned size)
{
    uint64_t sp = s->r[GPR_SP] - size;
    mem_wr(s, SEG_SS, sp, v, size);
    s->r[GPR_SP] = sp;
}

static uint64_t pop64(struct soft *s, unsigned size)
{
    uint64_t v = mem_rd(s, SEG_SS, s->r[GPR_SP], size);
    s->r[GPR_SP] += size;
    return v;
}

static void jump64(struct soft *s, uint64_t target)
{
    if (!canonical64(target))
        soft_raise(s, EXC_GP, 0);
    s->next_eip = target;
}

static uint32_t szp64(uint64_t r)
{
    return (r ? 0 : FL_ZF) | ((r >> 63) ? FL_SF : 0) | (__builtin_parity(r & 0xFF) ? 0 : FL_PF);
}

/* The eight ALU operations (ADD OR ADC SBB AND SUB XOR CMP) at size, lazy flags. */
static uint64_t alu_n(struct soft *s, unsigned op, uint64_t a, uint64_t b, unsigned size)
{
    if (size < 8)
        return alu(s, op, (uint32_t)a, (uint32_t)b, size);
    return alu64(s, op, a, b);
}

/* 00..3D: r/m,reg / reg,r/m / acc,imm forms. */
static void alu_form(struct soft *s, const struct insn *in)
{
    unsigned op = (in->op >> 3) & 7, form = in->op & 7, size = (form & 1) ? osz64(in) : 1;
    if (form >= 4) {
        uint64_t b = sext64(in->imm, size == 8 ? 4 : size);
        uint64_t r = alu_n(s, op, gpr_get(s, in, GPR_AX, size), b, size);
        if (op != 7)
            gpr_set(s, in, GPR_AX, r, size);
        return;
    }
    unsigned reg = insn_reg64(in);
    if (form & 2) {
        uint64_t r = alu_n(s, op, gpr_get(s, in, reg, size), rm_get(s, in, size), size);
        if (op != 7)
            gpr_set(s, in, reg, r, size);
        return;
    }
    uint64_t a = op == 7 ? rm_get(s, in, size) : rm_get_rmw(s, in, size);
    uint64_t r = alu_n(s, op, a, gpr_get(s, in, reg, size), size);
    if (op != 7)
        rm_set(s, in, r, size);
}

/* 80/81/83: ALU r/m, imm. */
static void alu_imm(struct soft *s, const struct insn *in)
{
    unsigned op = insn_reg(in), size = in->op == 0x80 ? 1 : osz64(in);
    uint64_t b = in->op == 0x83 ? sext64(in->imm, 1) : sext64(in->imm, size == 8 ? 4 : size);
    uint64_t a = op == 7 ? rm_get(s, in, size) : rm_get_rmw(s, in, size);
    uint64_t r = alu_n(s, op, a, b, size);
    if (op != 7)
        rm_set(s, in, r, size);
}

static uint64_t inc_dec64(struct soft *s, uint64_t a, bool dec, unsigned size)
{
    bool cf = get_cf(s);
    uint64_t r = (dec ? a - 1 : a + 1) & mask_of(size);
    cc_set64(s, dec ? CC_DEC : CC_INC, size, r, a, 1);
    s->cc.cin = cf;
    return r;
}

/* ROL, ROR, RCL, RCR (op 0..3) of 64 bits by n (1..63): only CF and OF change (OF: n == 1). */
uint64_t rotate64(struct soft *s, unsigned op, uint64_t a, unsigned n)
{
    uint32_t fl = arith_flags(s);
    bool cf = fl & FL_CF;
    uint64_t r = a;
    if (op == 0) {
        r = a << n | a >> (64 - n);
        cf = r & 1;
    } else if (op == 1) {
        r = a >> n | a << (64 - n);
        cf = r >> 63;
    } else {
        for (unsigned i = 0; i < n; i++) { /* through the carry: one bit at a time */
            bool out = op == 2 ? r >> 63 : r & 1;
            r = op == 2 ? r << 1 | cf : r >> 1 | (uint64_t)cf << 63;
            cf = out;
        }
    }
    bool of = (op == 0 || op == 2) ? (r >> 63) ^ cf : ((r >> 63) ^ (r >> 62)) & 1;
    fl = (fl & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0);
    if (n == 1)
        fl |= of ? FL_OF : 0;
    else
        fl |= arith_flags(s) & FL_OF;
    flags_set_arith(s, fl);
    return r;
}

uint64_t shift64_plain(struct soft *s, unsigned op, uint64_t a, unsigned n)
{
    uint64_t r;
    bool cf, of;
    if (op == 4 || op == 6) {
        r = a << n;
        cf = (a >> (64 - n)) & 1;
        of = (r >> 63) ^ cf;
    } else if (op == 5) {
        r = a >> n;
        cf = (a >> (n - 1)) & 1;
        of = a >> 63;
    } else {
        r = (uint64_t)((int64_t)a >> n);
        cf = ((int64_t)a >> (n - 1)) & 1;
        of = false;
    }
    flags_set_arith(s, szp64(r) | (cf ? FL_CF : 0) | (of ? FL_OF : 0));
    return r;
}

/* SHL/SAL, SHR, SAR (C1/D1/D3 /4../7), the rotates (/0../3); below 64 bits through shift_op. */
static void shift64(struct soft *s, const struct insn *in)
{
    unsigned size = in->op & 1 ? osz64(in) : 1, op = insn_reg(in);
    unsigned n = (in->op <= 0xC1 ? in->imm : in->op <= 0xD1 ? 1 : s->r[GPR_CX]) & (size == 8 ? 63 : 31);
    uint64_t a = rm_get_rmw(s, in, size);
    if (!n) { /* nothing shifts, but a 32-bit register is written: zero-extended */
        if (size == 4 && !is_mem(in))
            rm_set(s, in, a, 4);
        return;
    }
    if (size < 8) {
        rm_set(s, in, shift_op(s, op, (uint32_t)a, n, size), size);
        return;
    }
    rm_set(s, in, op >= 4 ? shift64_plain(s, op, a, n) : rotate64(s, op, a, n), size);
}

/*
 * SHLD/SHRD (0F A4/A5/AC/AD): the count is masked to 6 bits at 64 bits, 5
 * otherwise; 16-bit counts above 16 shift through dst:src:dst as the legacy
 * form does. CF is the last bit out, OF the change of the sign bit.
 */
static void double_shift64(struct soft *s, const struct insn *in)
{
    unsigned size = osz64(in), bits = size * 8;
    unsigned n = (unsigned)((in->op & 1) ? s->r[GPR_CX] : in->imm) & (size == 8 ? 63 : 31);
    uint64_t a = rm_get_rmw(s, in, size);
    if (!n) { /* as for the shifts: a 32-bit register destination is zero-extended */
        if (size == 4 && !is_mem(in))
            rm_set(s, in, a, 4);
        return;
    }
    uint64_t b = gpr_get(s, in, insn_reg64(in), size), r;
    bool left = in->op < 0x1A8, cf;
    if (size == 8) {
        r = left ? a << n | b >> (64 - n) : a >> n | b << (64 - n);
        cf = left ? (a >> (64 - n)) & 1 : (a >> (n - 1)) & 1;
    } else {
        unsigned __int128 x = size == 4 ? (left ? (unsigned __int128)a << 32 | b
                                                : (unsigned __int128)b << 32 | a)
                                        : (unsigned __int128)a << 32 | b << 16 | a;
        unsigned span = size == 4 ? 64 : 48;
        r = (uint64_t)(left ? (x << n) >> (span - bits) : x >> n) & mask_of(size);
        cf = (uint64_t)(left ? x >> (span - n) : x >> (n - 1)) & 1;
    }
    bool of = ((r ^ a) >> (bits - 1)) & 1;
    flags_set_arith(s, (szp64(r << (64 - bits)) & ~FL_PF) | (szp64(r & 0xFF) & FL_PF) |
                           (cf ? FL_CF : 0) | (of ? FL_OF : 0));
    rm_set(s, in, r, size);
}

/* RDX:RAX = RAX * b (MUL, IMUL); CF = OF = the high half is significant. */
static void mul64(struct soft *s, bool sign, uint64_t b)
{
    uint64_t a = s->r[GPR_AX], lo, hi;
    bool ovf;
    if (sign) {
        __int128 p = (__int128)(int64_t)a * (int64_t)b;
        lo = (uint64_t)p;
        hi = (uint64_t)(p >> 64);
        ovf = p != (__int128)(int64_t)lo;
    } else {
        unsigned __int128 p = (unsigned __int128)a * b;
        lo = (uint64_t)p;
        hi = (uint64_t)(p >> 64);
        ovf = hi != 0;
    }
    s->r[GPR_AX] = lo;
    s->r[GPR_DX] = hi;
    flags_set_arith(s, szp64(lo) | (ovf ? FL_CF | FL_OF : 0));
}

/* RAX, RDX = RDX:RAX / b, % b (DIV, IDIV); #DE on zero or a quotient that does not fit. */
static void div64(struct soft *s, bool sign, uint64_t b)
{
    unsigned __int128 n = (unsigned __int128)s->r[GPR_DX] << 64 | s->r[GPR_AX];
    if (!b)
        soft_raise_noerr(s, EXC_DE);
    if (!sign) {
        unsigned __int128 q = n / b;
        if (q >> 64)
            soft_raise_noerr(s, EXC_DE);
        s->r[GPR_AX] = (uint64_t)q;
        s->r[GPR_DX] = (uint64_t)(n % b);
        return;
    }
    __int128 sn = (__int128)n, sd = (int64_t)b;
    if (sd == -1 && sn == (__int128)((unsigned __int128)1 << 127))
        soft_raise_noerr(s, EXC_DE);
    __int128 q = sn / sd;
    if (q != (__int128)(int64_t)q)
        soft_raise_noerr(s, EXC_DE);
    s->r[GPR_AX] = (uint64_t)q;
    s->r[GPR_DX] = (uint64_t)(sn % sd);
}

/* F6/F7: TEST, NOT, NEG, MUL, IMUL, DIV, IDIV. */
static void group3(struct soft *s, const struct insn *in)
{
    unsigned size = in->op == 0xF6 ? 1 : osz64(in), reg = insn_reg(in);
    uint64_t a;
    if (reg >= 4) {
        a = rm_get(s, in, size);
        if (size < 8)
            (reg < 6 ? mul_op : div_op)(s, reg, (uint32_t)a, size);
        else if (reg < 6)
            mul64(s, reg == 5, a);
        else
            div64(s, reg == 7, a);
        return;
    }
    switch (reg) {
    case 0: case 1:
        alu_n(s, 4, rm_get(s, in, size), sext64(in->imm, size == 8 ? 4 : size), size);
        return;
    case 2:
        a = rm_get_rmw(s, in, size);
        rm_set(s, in, ~a, size);
        return;
    default:
        a = rm_get_rmw(s, in, size);
        rm_set(s, in, alu_n(s, 5, 0, a, size), size);
        return;
    }
}

/* IMUL reg, r/m (0F AF) and IMUL reg, r/m, imm (69, 6B): the product truncated, CF = OF = it was. */
static void imul2(struct soft *s, const struct insn *in)
{
    unsigned size = osz64(in), reg = insn_reg64(in);
    uint64_t b = rm_get(s, in, size);
    uint64_t a = in->op == 0x1AF ? gpr_get(s, in, reg, size) : sext64(in->imm, in->op == 0x6B ? 1 : 4);
    if (size < 8) {
        int64_t p = (int64_t)sext64(a, size) * (int64_t)sext64(b, size);
        gpr_set(s, in, reg, (uint64_t)p, size);
        bool ovf = (uint64_t)p != sext64((uint64_t)p & mask_of(size), size);
        flags_set_arith(s, szp_flags((uint32_t)p, size) | (ovf ? FL_CF | FL_OF : 0));
        return;
    }
    __int128 p = (__int128)(int64_t)a * (int64_t)b;
    gpr_set(s, in, reg, (uint64_t)p, 8);
    flags_set_arith(s, szp64((uint64_t)p) | (p != (__int128)(int64_t)p ? FL_CF | FL_OF : 0));
}

/* CMPXCHG16B m128 (REX.W 0F C7 /1; 16-byte aligned) and CMPXCHG8B m64. */
static void cmpxchg_wide(struct soft *s, const struct insn *in)
{
    uint64_t ea = ea64(s, in), lin = lin64(s, in->seg, ea);
    bool user = s->cpl == 3, z;
    if (in->pfx & P_OP64) {
        if (lin & 15)
            soft_raise(s, EXC_GP, 0);
        lin_probe_write(s, lin, 16, user);
        uint64_t lo = lin_read64(s, lin, user), hi = lin_read64(s, lin + 8, user);
        z = lo == s->r[GPR_AX] && hi == s->r[GPR_DX];
        lin_write64(s, lin, z ? s->r[GPR_BX] : lo, user);
        lin_write64(s, lin + 8, z ? s->r[GPR_CX] : hi, user);
        if (!z) {
            s->r[GPR_AX] = lo;
            s->r[GPR_DX] = hi;
        }
    } else {
        uint64_t v = lin_read64(s, lin, user), cmp = (uint64_t)(uint32_t)s->r[GPR_DX] << 32 |
                                                   (uint32_t)s->r[GPR_AX];
        z = v == cmp;
        lin_write64(s, lin, z ? (uint64_t)(uint32_t)s->r[GPR_CX] << 32 | (uint32_t)s->r[GPR_BX] : v,
                    user);
        if (!z) {
            s->r[GPR_AX] = (uint32_t)v;
            s->r[GPR_DX] = v >> 32;
        }
    }
    flags_set_arith(s, (arith_flags(s) & ~FL_ZF) | (z ? FL_ZF : 0));
}

/* One element of MOVS, CMPS, STOS, LODS or SCAS; false when it compared and found equal. */
static bool string_elem(struct soft *s, const struct insn *in, unsigned size, uint64_t amask,
                        uint64_t step)
{
    unsigned kind = (in->op & 0xFF) >> 1; /* 52 MOVS, 53 CMPS, 55 STOS, 56 LODS, 57 SCAS */
    if (kind == 0x36) { /* INS: the store is checked before the port is read */
        uint64_t lin = lin64(s, SEG_ES, s->r[GPR_DI] & amask);
        lin_probe_write(s, lin, size, s->cpl == 3);
        vwrite(s, lin, bus_in(s->bus, (uint16_t)s->r[GPR_DX], size), size);
        s->r[GPR_DI] = (s->r[GPR_DI] + step) & amask;
        return true;
    }
    if (kind == 0x37) { /* OUTS */
        uint64_t v = mem_rd(s, in->seg, s->r[GPR_SI] & amask, size);
        bus_out(s->bus, (uint16_t)s->r[GPR_DX], (uint32_t)v, size);
        s->r[GPR_SI] = (s->r[GPR_SI] + step) & amask;
        return true;
    }
    bool src = kind == 0x52 || kind == 0x53 || kind == 0x56, dst = kind != 0x56;
    uint64_t a = src ? mem_rd(s, in->seg, s->r[GPR_SI] & amask, size) : gpr_get(s, in, GPR_AX, size);
    bool eq = true;
    if (kind == 0x52 || kind == 0x55)
        mem_wr(s, SEG_ES, s->r[GPR_DI] & amask, a, size);
    else if (kind == 0x56)
        gpr_set(s, in, GPR_AX, a, size);
    else {
        uint64_t b = mem_rd(s, SEG_ES, s->r[GPR_DI] & amask, size);
        eq = a == b;
        alu_n(s, 7, kind == 0x57 ? gpr_get(s, in, GPR_AX, size) : a, b, size);
    }
    if (src)
        s->r[GPR_SI] = (s->r[GPR_SI] + step) & amask;
    if (dst)
        s->r[GPR_DI] = (s->r[GPR_DI] + step) & amask;
    return !(kind == 0x53 || kind == 0x57) || eq;
}

/*
 * The string instructions with RSI/RDI (or ESI/EDI with 67) and, with REP,
 * RCX/ECX: registers advance after every element, so a fault restarts exactly;
 * REPE/REPNE stop CMPS/SCAS on ZF; after a budget of elements the
 * instruction runs again (interrupts get in).
 */
static void string64(struct soft *s, const struct insn *in)
{
    unsigned size = in->op & 1 ? osz64(in) : 1;
    if (in->op < 0x70) { /* INS/OUTS: at most 32 bits, the I/O permission checked once */
        size = size == 8 ? 4 : size;
        soft_io_check(s, (uint16_t)s->r[GPR_DX], size);
        soft_sync_clock(s);
    }
    uint64_t amask = (in->props & I_ADDR64) ? ~0ull : 0xFFFFFFFFull;
    uint64_t step = (s->flags & FL_DF) ? (uint64_t)-(int64_t)size : size;
    bool rep = in->pfx & (P_REP | P_REPNE), cmp = in->op == 0xA6 || in->op == 0xA7 ||
                                                 in->op == 0xAE || in->op == 0xAF;
    for (unsigned budget = 4096; !rep || (s->r[GPR_CX] & amask); budget--) {
        if (!budget) {
            s->next_eip = s->eip;
            s->block_end = true;
            return;
        }
        bool eq = string_elem(s, in, size, amask, step);
        if (!rep)
            return;
        s->r[GPR_CX] = (s->r[GPR_CX] - 1) & amask;
        if (cmp && eq != !!(in->pfx & P_REP))
            return;
    }
}

/* FE/FF: INC, DEC, CALL, JMP (near and far), PUSH. */
static void group5(struct soft *s, const struct insn *in)
{
    unsigned size = in->op == 0xFE ? 1 : osz64(in), reg = insn_reg(in);
    uint64_t v;
    switch (reg) {
    case 0: case 1:
        v = rm_get_rmw(s, in, size);
        rm_set(s, in, inc_dec64(s, v, reg == 1, size), size);
        return;
    case 2: { /* the target is checked before anything is pushed */
        uint64_t ret = s->next_eip;
        jump64(s, rm_get(s, in, 8));
        push64(s, ret, 8);
        return;
    }
    case 4:
        jump64(s, rm_get(s, in, 8));
        return;
    case 6:
        push64(s, rm_get(s, in, size), size);
        return;
    case 3: case 5: { /* far CALL/JMP m16:16/32/64: the offset, then the selector */
        if (!is_mem(in) || in->op == 0xFE)
            soft_raise_noerr(s, EXC_UD);
        uint64_t ea = ea64(s, in);
        uint64_t off = mem_rd(s, in->seg, ea, size);
        uint16_t sel = (uint16_t)mem_rd(s, in->seg, ea + size, 2);
        if (reg == 3)
            far_call64(s, sel, off, size);
        else
            far_jmp64(s, sel, off);
        return;
    }
    default:
        soft_raise_noerr(s, EXC_UD);
    }
}

static void mov_imm(struct soft *s, const struct insn *in)
{
    unsigned r = (in->op & 7) | ((in->rex & REX_B) << 3);
    if (in->op < 0xB8)
        gpr_set(s, in, r, in->imm, 1);
    else if (in->pfx & P_OP64)
        gpr_set(s, in, r, (uint64_t)in->disp << 32 | in->imm, 8);
    else
        gpr_set(s, in, r, in->imm, osz64(in));
}

/* 88..8B MOV, 8D LEA, 63 MOVSXD, C6/C7 MOV r/m, imm, 86/87 XCHG. */
static void moves(struct soft *s, const struct insn *in)
{
    unsigned op = in->op, size = (op & 1) ? osz64(in) : 1, reg = insn_reg64(in);
    uint64_t v;
    switch (op) {
    case 0x88: case 0x89: rm_set(s, in, gpr_get(s, in, reg, size), size); return;
    case 0x8A: case 0x8B: gpr_set(s, in, reg, rm_get(s, in, size), size); return;
    case 0x8D: gpr_set(s, in, reg, ea64(s, in), osz64(in)); return;
    case 0x63:
        size = osz64(in);
        v = rm_get(s, in, size == 2 ? 2 : 4);
        gpr_set(s, in, reg, size == 8 ? sext64(v, 4) : v, size);
        return;
    case 0xC6: case 0xC7: rm_set(s, in, sext64(in->imm, size == 8 ? 4 : size), size); return;
    default: /* 86/87 */
        v = rm_get_rmw(s, in, size);
        rm_set(s, in, gpr_get(s, in, reg, size), size);
        gpr_set(s, in, reg, v, size);
        return;
    }
}

static void stack_ops(struct soft *s, const struct insn *in)
{
    unsigned op = in->op, size = osz64(in), r = (op & 7) | ((in->rex & REX_B) << 3);
    switch (op) {
    case 0x68: push64(s, sext64(in->imm, size == 8 ? 4 : size), size); return;
    case 0x6A: push64(s, sext64(in->imm, 1), size); return;
    case 0x8F: {
        uint64_t v = pop64(s, size);
        rm_set(s, in, v, size);
        return;
    }
    case 0x9C: push64(s, soft_get_eflags(s) & ~(FL_VM | FL_RF), size); return;
    case 0x9D: {
        uint32_t fl = (uint32_t)pop64(s, size);
        uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
        if (s->cpl == 0)
            mask |= FL_IOPL | FL_IF;
        else if ((unsigned)s->cpl <= ((s->flags & FL_IOPL) >> 12))
            mask |= FL_IF;
        soft_set_eflags(s, fl, size == 2 ? mask & 0xFFFF : mask);
        return;
    }
    default:
        if (op < 0x58)
            push64(s, gpr_get(s, in, r, size), size);
        else
            gpr_set(s, in, r, pop64(s, size), size);
        return;
    }
}

static void branches(struct soft *s, const struct insn *in)
{
    unsigned op = in->op;
    uint64_t rel = op == 0xEB || op < 0x80 ? sext64(in->imm, 1) : sext64(in->imm, 4);
    switch (op) {
    case 0xE8: { /* a non-canonical target faults before the push, RSP unchanged */
        uint64_t ret = s->next_eip;
        jump64(s, ret + rel);
        push64(s, ret, 8);
        return;
    }
    case 0xC3: case 0xC2: { /* and RET's before RSP moves */
        jump64(s, mem_rd(s, SEG_SS, s->r[GPR_SP], 8));
        s->r[GPR_SP] += 8 + (op == 0xC2 ? (in->imm & 0xFFFF) : 0);
        return;
    }
    case 0xE9: case 0xEB:
        jump64(s, s->next_eip + rel);
        return;
    default: /* Jcc */
        if (cond(s, op & 15))
            jump64(s, s->next_eip + rel);
        return;
    }
}

/* BT, BTS, BTR, BTC (0F A3/AB/B3/BB with a register offset, 0F BA /4../7 with imm8): CF = the bit. */
static void bit_test(struct soft *s, const struct insn *in)
{
    unsigned size = osz64(in), bits = size * 8, kind;
    uint64_t off;
    if (in->op == 0x1BA) {
        kind = insn_reg(in) - 4;
        off = in->imm & (bits - 1);
    } else {
        kind = (in->op >> 3) & 3;
        off = gpr_get(s, in, insn_reg64(in), size);
    }
    uint64_t v, m, ea = 0;
    if (is_mem(in)) {
        int64_t soff = in->op == 0x1BA ? (int64_t)off : (int64_t)sext64(off, size);
        ea = ea64(s, in) + (uint64_t)((soff >> (size == 8 ? 6 : size == 4 ? 5 : 4)) * (int64_t)size);
        if (!(in->props & I_ADDR64))
            ea = (uint32_t)ea;
        if (kind)
            lin_probe_write(s, lin64(s, in->seg, ea), size, s->cpl == 3);
        v = mem_rd(s, in->seg, ea, size);
    } else {
        v = gpr_get(s, in, insn_rm64(in), size);
    }
    m = 1ull << (off & (bits - 1));
    flags_set_arith(s, (arith_flags(s) & ~FL_CF) | ((v & m) ? FL_CF : 0));
    if (!kind)
        return;
    v = kind == 1 ? v | m : kind == 2 ? v & ~m : v ^ m;
    if (is_mem(in))
        mem_wr(s, in->seg, ea, v, size);
    else
        gpr_set(s, in, insn_rm64(in), v, size);
}

/* BSF, BSR: ZF = the source is zero (the destination then keeps its value). */
static void bit_scan(struct soft *s, const struct insn *in)
{
    unsigned size = osz64(in);
    uint64_t v = rm_get(s, in, size);
    uint32_t fl = arith_flags(s) & ~FL_ZF;
    if (!v) {
        flags_set_arith(s, fl | FL_ZF);
        return;
    }
    unsigned i = in->op == 0x1BC ? (unsigned)__builtin_ctzll(v) : 63u - (unsigned)__builtin_clzll(v);
    gpr_set(s, in, insn_reg64(in), i, size);
    flags_set_arith(s, fl);
}

/* XADD (0F C0/C1) and CMPXCHG (0F B0/B1). */
static void xadd_cmpxchg(struct soft *s, const struct insn *in)
{
    unsigned size = (in->op & 1) ? osz64(in) : 1, reg = insn_reg64(in);
    uint64_t d = rm_get_rmw(s, in, size), src = gpr_get(s, in, reg, size);
    if (in->op >= 0x1C0) {
        uint64_t sum = alu_n(s, 0, d, src, size);
        gpr_set(s, in, reg, d, size);
        rm_set(s, in, sum, size);
        return;
    }
    uint64_t acc = gpr_get(s, in, GPR_AX, size);
    alu_n(s, 7, acc, d, size);
    if (acc == d) {
        rm_set(s, in, src, size);
    } else {
        if (is_mem(in))
            rm_set(s, in, d, size); /* the locked cycle writes the old value back */
        gpr_set(s, in, GPR_AX, d, size);
    }
}

/* LOOP, LOOPE, LOOPNE (E0..E2) and JRCXZ (E3) on RCX, or ECX with 67. */
static void loop64(struct soft *s, const struct insn *in)
{
    uint64_t m = (in->props & I_ADDR64) ? ~0ull : 0xFFFFFFFFull, c = s->r[GPR_CX] & m;
    bool take;
    if (in->op == 0xE3) {
        take = c == 0;
    } else {
        c = (c - 1) & m;
        s->r[GPR_CX] = c;
        take = c != 0 && (in->op == 0xE2 || cond(s, 4) == (in->op == 0xE1));
    }
    if (take)
        jump64(s, s->next_eip + sext64(in->imm, 1));
}

/* MOV to/from CR0, CR2, CR3, CR4, CR8: always 64-bit operands in 64-bit mode. */
static void mov_cr64(struct soft *s, const struct insn *in)
{
    if (s->cpl)
        soft_raise(s, EXC_GP, 0);
    unsigned n = insn_reg64(in), r = insn_rm64(in);
    if (n != 0 && n != 2 && n != 3 && n != 4 && n != 8)
        soft_raise_noerr(s, EXC_UD);
    if (in->op == 0x120) {
        if (n == 8 && (s->msr.apic_base & 0x800)) /* CR8 is the local APIC's TPR[7:4] */
            s->cr8 = (uint32_t)(bus_read(s->bus, (s->msr.apic_base & ~0xFFFull) + 0x80, 4) >> 4) & 15;
        s->r[r] = n == 0 ? s->cr0 : n == 2 ? s->cr2 : n == 3 ? s->cr3 : n == 4 ? s->cr4 : s->cr8;
        return;
    }
    uint64_t v = s->r[r];
    if (n == 8) {
        if (v >> 4)
            soft_raise(s, EXC_GP, 0);
        s->cr8 = (uint32_t)v;
        if (s->msr.apic_base & 0x800)
            bus_write(s->bus, (s->msr.apic_base & ~0xFFFull) + 0x80, v << 4, 4);
    } else if (n == 3) {
        if (v >> 52)
            soft_raise(s, EXC_GP, 0);
        s->cr3 = v;
        tlb_flush(s, true);
    } else if (n == 2) {
        s->cr2 = v;
    } else {
        if (v >> 32)
            soft_raise(s, EXC_GP, 0);
        soft_write_cr(s, (int)n, (uint32_t)v);
    }
}

/* MOV to/from DR0..DR7 (DR4/DR5 alias DR6/DR7 unless CR4.DE): 64-bit registers. */
static void mov_dr64(struct soft *s, const struct insn *in)
{
    if (s->cpl)
        soft_raise(s, EXC_GP, 0);
    unsigned n = insn_reg64(in), r = insn_rm64(in);
    if (n > 7 || ((n == 4 || n == 5) && (s->cr4 & CR4_DE)))
        soft_raise_noerr(s, EXC_UD);
    if (n == 4 || n == 5)
        n += 2;
    if (in->op == 0x121) {
        s->r[r] = s->dr[n];
        return;
    }
    uint64_t v = s->r[r];
    if (n >= 6 && (v >> 32))
        soft_raise(s, EXC_GP, 0);
    soft_set_dr(s, n, v);
}

/* 0F 00: SLDT/STR (a register takes the operand size), LLDT/LTR (16-byte descriptors), VERR/VERW. */
static void group6_64(struct soft *s, const struct insn *in)
{
    unsigned reg = insn_reg(in);
    if (reg > 5)
        soft_raise_noerr(s, EXC_UD);
    if (reg <= 1) {
        rm_set(s, in, reg ? s->tr.sel : s->ldtr.sel, is_mem(in) ? 2 : osz64(in));
        return;
    }
    if (reg <= 3 && s->cpl)
        soft_raise(s, EXC_GP, 0);
    uint16_t sel = (uint16_t)rm_get(s, in, 2);
    if (reg == 2) {
        soft_lldt(s, sel);
    } else if (reg == 3) {
        soft_ltr(s, sel);
    } else {
        bool ok;
        soft_lar_lsl(s, sel, reg == 4 ? 2 : 3, &ok);
        flags_set_arith(s, (arith_flags(s) & ~FL_ZF) | (ok ? FL_ZF : 0));
    }
}

/* LAR/LSL: the destination is written only when ZF is set. */
static void lar_lsl64(struct soft *s, const struct insn *in)
{
    bool ok;
    uint32_t v = soft_lar_lsl(s, (uint16_t)rm_get(s, in, 2), in->op == 0x102 ? 0 : 1, &ok);
    flags_set_arith(s, (arith_flags(s) & ~FL_ZF) | (ok ? FL_ZF : 0));
    if (ok)
        gpr_set(s, in, insn_reg64(in), v, osz64(in) == 2 ? 2 : osz64(in));
}

/*
 * 0F 01: SGDT/SIDT/LGDT/LIDT with 8-byte bases, SMSW, LMSW, INVLPG, SWAPGS;
 * the register forms of the features not advertised (MONITOR, RDTSCP,
 * XGETBV, VMX/SVM) are #UD.
 */
static void group7_64(struct soft *s, const struct insn *in)
{
    unsigned reg = insn_reg(in);
    struct cpu_dtable *t = (reg & 1) ? &s->idt : &s->gdt;
    if (in->modrm == 0xF8) {
        if (s->cpl)
            soft_raise(s, EXC_GP, 0);
        uint64_t gs = s->seg[SEG_GS].base;
        s->seg[SEG_GS].base = s->msr.kernel_gs_base;
        s->msr.kernel_gs_base = gs;
        return;
    }
    if (reg == 4) {
        rm_set(s, in, s->cr0, is_mem(in) ? 2 : osz64(in));
        return;
    }
    if (reg == 6) {
        if (s->cpl)
            soft_raise(s, EXC_GP, 0);
        uint32_t v = (uint32_t)rm_get(s, in, 2);
        soft_write_cr(s, 0, (uint32_t)((s->cr0 & ~0xEull) | (v & 0xF) | (s->cr0 & CR0_PE)));
        return;
    }
    if (!is_mem(in) || reg == 5)
        soft_raise_noerr(s, EXC_UD);
    if (reg == 7) {
        if (s->cpl)
            soft_raise(s, EXC_GP, 0);
        uint64_t lin = ea64(s, in);
        if (in->seg == SEG_FS || in->seg == SEG_GS)
            lin += s->seg[in->seg].base;
        if (canonical64(lin)) /* a non-canonical address names no page: a no-op (SDM, INVLPG) */
            tlb_flush_page(s, lin);
        return;
    }
    uint64_t ea = ea64(s, in);
    if (reg <= 1) {
        mem_wr(s, in->seg, ea, t->limit, 2);
        mem_wr(s, in->seg, ea + 2, t->base, 8);
        return;
    }
    if (s->cpl)
        soft_raise(s, EXC_GP, 0);
    uint16_t limit = (uint16_t)mem_rd(s, in->seg, ea, 2);
    uint64_t base = mem_rd(s, in->seg, ea + 2, 8);
    if (!canonical64(base))
        soft_raise(s, EXC_GP, 0);
    t->limit = limit;
    t->base = base;
}

/* MOVBE in 64-bit mode: 16, 32 or 64 bits (REX.W), a memory operand only. */
static void movbe64(struct soft *s, const struct insn *in)
{
    if (!is_mem(in) || (in->pfx & (P_REP | P_REPNE)))
        soft_raise_noerr(s, EXC_UD);
    unsigned size = osz64(in);
    uint64_t v = (in->op & 1) ? gpr_get(s, in, insn_reg64(in), size) : rm_get(s, in, size);
    v = size == 8 ? __builtin_bswap64(v) : size == 4 ? __builtin_bswap32((uint32_t)v)
                                                      : __builtin_bswap16((uint16_t)v);
    if (in->op & 1)
        rm_set(s, in, v, size);
    else
        gpr_set(s, in, insn_reg64(in), v, size);
}

/* LSS/LFS/LGS m16:16, m16:32, m16:64 (REX.W): the offset, then the selector after it. */
static void load_far64(struct soft *s, const struct insn *in, int seg)
{
    if (!is_mem(in))
        soft_raise_noerr(s, EXC_UD);
    unsigned size = osz64(in);
    uint64_t ea = ea64(s, in), amask = (in->props & I_ADDR64) ? ~0ull : 0xFFFFFFFFull;
    uint64_t off = mem_rd(s, in->seg, ea, size);
    uint16_t sel = (uint16_t)mem_rd(s, in->seg, (ea + size) & amask, 2);
    seg_load(s, seg, sel);
    gpr_set(s, in, insn_reg64(in), off, size);
}

static bool exec64_0f(struct soft *s, const struct insn *in)
{
    unsigned op = in->op, size = osz64(in), reg = insn_reg64(in);
    uint64_t v;
    if (op >= 0x180 && op <= 0x18F) {
        branches(s, in);
    } else if (op >= 0x140 && op <= 0x14F) {
        v = rm_get(s, in, size);
        gpr_set(s, in, reg, cond(s, op & 15) ? v : gpr_get(s, in, reg, size), size);
    } else if (op >= 0x190 && op <= 0x19F) {
        rm_set(s, in, cond(s, op & 15), 1);
    } else if (op == 0x1B6 || op == 0x1B7) {
        gpr_set(s, in, reg, rm_get(s, in, op == 0x1B6 ? 1 : 2), size);
    } else if (op == 0x1BE || op == 0x1BF) {
        unsigned from = op == 0x1BE ? 1 : 2;
        gpr_set(s, in, reg, sext64(rm_get(s, in, from), from), size);
    } else if (op >= 0x1C8 && op <= 0x1CF) {
        unsigned r = (op & 7) | ((in->rex & REX_B) << 3);
        s->r[r] = size == 8 ? __builtin_bswap64(s->r[r]) : __builtin_bswap32((uint32_t)s->r[r]);
    } else if (op == 0x1AF) {
        imul2(s, in);
    } else if (op == 0x1A3 || op == 0x1AB || op == 0x1B3 || op == 0x1BB || op == 0x1BA) {
        bit_test(s, in);
    } else if (op == 0x1BC || op == 0x1BD) {
        bit_scan(s, in);
    } else if (op == 0x1A4 || op == 0x1A5 || op == 0x1AC || op == 0x1AD) {
        double_shift64(s, in);
    } else if (op >= 0x118 && op <= 0x11F) {
        /* PREFETCHh and the reserved NOPs (hints: the memory operand is not accessed) */
    } else if (op == 0x1B0 || op == 0x1B1 || op == 0x1C0 || op == 0x1C1) {
        xadd_cmpxchg(s, in);
    } else if (op == 0x1C7) {
        cmpxchg_wide(s, in);
    } else if (op == 0x1B8) {
        exec_popcnt(s, in);
    } else if (op == 0x105) {
        soft_syscall(s);
    } else if (op == 0x107) {
        soft_sysret(s, in->pfx & P_OP64);
    } else if ((op == (OP_MAP38 | 0xF0) || op == (OP_MAP38 | 0xF1)) && !(in->pfx & P_REPNE)) {
        movbe64(s, in); /* with F2 the opcodes are CRC32: the SSE path below */
    } else if (op >= OP_MAP38 || sse_claims(in) || op == 0x1AE) {
        return false; /* SSE..SSSE3 (XMM8..15 through REX), FXSAVE/FXRSTOR(64), LDMXCSR, fences... */
    } else if (op == 0x120 || op == 0x122) {
        mov_cr64(s, in);
    } else if (op == 0x121 || op == 0x123) {
        mov_dr64(s, in);
    } else if (op == 0x100) {
        group6_64(s, in);
    } else if (op == 0x102 || op == 0x103) {
        lar_lsl64(s, in);
    } else if (op == 0x1A0 || op == 0x1A8) {
        push64(s, s->seg[op == 0x1A0 ? SEG_FS : SEG_GS].sel, osz64(in) == 2 ? 2 : 8);
    } else if (op == 0x1A1 || op == 0x1A9) {
        unsigned size = osz64(in) == 2 ? 2 : 8; /* RSP moves only once the load succeeded */
        seg_load(s, op == 0x1A1 ? SEG_FS : SEG_GS, (uint16_t)mem_rd(s, SEG_SS, s->r[GPR_SP], size));
        s->r[GPR_SP] += size;
    } else if (op == 0x101) {
        group7_64(s, in);
    } else if (op == 0x1B2 || op == 0x1B4 || op == 0x1B5) {
        load_far64(s, in, op == 0x1B2 ? SEG_SS : op == 0x1B4 ? SEG_FS : SEG_GS);
    } else if (op == 0x130 || op == 0x131 || op == 0x132 || op == 0x133 || op == 0x1A2 ||
               op == 0x106 || op == 0x108 || op == 0x109 || op == 0x10B || op == 0x134 ||
               op == 0x135) {
        return false; /* WRMSR RDTSC RDMSR RDPMC CPUID CLTS INVD WBINVD UD2 SYSENTER SYSEXIT: legacy code */
    } else if (op < 0x200 && is_mmx_op(op)) {
        return false; /* MMX and EMMS: exec_mmx knows 64-bit mode */
    } else {
        soft_raise_noerr(s, EXC_UD);
    }
    return true;
}

bool exec64(struct soft *s, const struct insn *in)
{
    unsigned op = in->op;
    if (op == OP_UD)
        soft_raise_noerr(s, EXC_UD);
    if (op == OP_GP)
        soft_raise(s, EXC_GP, 0);
    if (op >= 0x100)
        return exec64_0f(s, in);
    if (op < 0x40 && (op & 7) < 6) {
        alu_form(s, in);
        return true;
    }
    switch (op) {
    case 0x50 ... 0x5F: case 0x68: case 0x6A: case 0x8F: case 0x9C: case 0x9D:
        stack_ops(s, in);
        return true;
    case 0x63: case 0x86: case 0x87: case 0x88: case 0x89: case 0x8A: case 0x8B: case 0x8D:
    case 0xC6: case 0xC7:
        moves(s, in);
        return true;
    case 0x70 ... 0x7F: case 0xC2: case 0xC3: case 0xE8: case 0xE9: case 0xEB:
        branches(s, in);
        return true;
    case 0xE0 ... 0xE3: loop64(s, in); return true;
    case 0xC8: { /* ENTER: 64-bit frames (16-bit with 66); the stack is RSP either way */
        unsigned size = osz64(in) == 2 ? 2 : 8, level = in->imm2 & 31;
        uint64_t bp = s->r[GPR_BP], nsp = s->r[GPR_SP] - size;
        /* a write at the final RSP must be possible before anything changes (SDM, ENTER) */
        uint64_t top = nsp - level * size - (in->imm & 0xFFFF);
        lin_probe_write(s, lin64(s, SEG_SS, top), size, s->cpl == 3);
        mem_wr(s, SEG_SS, nsp, bp, size);
        uint64_t frame = nsp;
        for (unsigned i = 1; i < level; i++) {
            bp -= size;
            uint64_t v = mem_rd(s, SEG_SS, bp, size);
            nsp -= size;
            mem_wr(s, SEG_SS, nsp, v, size);
        }
        if (level) {
            nsp -= size;
            mem_wr(s, SEG_SS, nsp, frame, size);
        }
        nsp -= in->imm & 0xFFFF;
        gpr_set(s, in, GPR_BP, frame, size);
        s->r[GPR_SP] = nsp;
        return true;
    }
    case 0xA0 ... 0xA3: { /* MOV AL/rAX <-> moffs: a 64-bit offset (32-bit with 67) */
        unsigned size = op & 1 ? osz64(in) : 1;
        uint64_t off = (in->props & I_ADDR64) ? (uint64_t)in->imm << 32 | in->disp : in->disp;
        if (op < 0xA2)
            gpr_set(s, in, GPR_AX, mem_rd(s, in->seg, off, size), size);
        else
            mem_wr(s, in->seg, off, gpr_get(s, in, GPR_AX, size), size);
        return true;
    }
    case 0xD7: { /* XLAT: AL = [RBX + AL] (EBX with 67) */
        uint64_t amask = (in->props & I_ADDR64) ? ~0ull : 0xFFFFFFFFull;
        uint64_t v = mem_rd(s, in->seg, (s->r[GPR_BX] + (s->r[GPR_AX] & 0xFF)) & amask, 1);
        s->r[GPR_AX] = (s->r[GPR_AX] & ~0xFFull) | v;
        return true;
    }
    case 0xC9: { /* LEAVE */
        unsigned size = osz64(in);
        s->r[GPR_SP] = s->r[GPR_BP];
        gpr_set(s, in, GPR_BP, pop64(s, size), size);
        return true;
    }
    case 0x80: case 0x81: case 0x83: alu_imm(s, in); return true;
    case 0x8C:
        if (insn_reg(in) > 5)
            soft_raise_noerr(s, EXC_UD);
        rm_set(s, in, s->seg[insn_reg(in)].sel, is_mem(in) ? 2 : osz64(in));
        return true;
    case 0x8E:
        seg_load(s, (int)insn_reg(in), (uint16_t)rm_get(s, in, 2));
        return true;
    case 0x84: case 0x85:
        alu_n(s, 4, rm_get(s, in, op & 1 ? osz64(in) : 1),
              gpr_get(s, in, insn_reg64(in), op & 1 ? osz64(in) : 1), op & 1 ? osz64(in) : 1);
        return true;
    case 0xA8: case 0xA9: {
        unsigned size = op & 1 ? osz64(in) : 1;
        alu_n(s, 4, gpr_get(s, in, GPR_AX, size), sext64(in->imm, size == 8 ? 4 : size), size);
        return true;
    }
    case 0x90 ... 0x97: { /* XCHG rAX, r (90 without REX.B is NOP: EAX keeps its upper half) */
        unsigned r = (op & 7) | ((in->rex & REX_B) << 3);
        if (r) {
            uint64_t t = s->r[r];
            gpr_set(s, in, r, s->r[GPR_AX], osz64(in));
            gpr_set(s, in, GPR_AX, t, osz64(in));
        }
        return true;
    }
    case 0x98:
        s->r[GPR_AX] = osz64(in) == 8 ? sext64(s->r[GPR_AX], 4)
                       : osz64(in) == 4 ? (uint32_t)sext64(s->r[GPR_AX], 2)
                                        : reg_merge16(s->r[GPR_AX], (uint32_t)sext64(s->r[GPR_AX], 1));
        return true;
    case 0x99: {
        unsigned size = osz64(in);
        uint64_t sign = (s->r[GPR_AX] >> (size * 8 - 1)) & 1 ? ~0ull : 0;
        gpr_set(s, in, GPR_DX, sign, size);
        return true;
    }
    case 0xB0 ... 0xBF: mov_imm(s, in); return true;
    case 0x69: case 0x6B: imul2(s, in); return true;
    case 0xA4 ... 0xA7: case 0xAA ... 0xAF: case 0x6C ... 0x6F: string64(s, in); return true;
    case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3: shift64(s, in); return true;
    case 0xCB: case 0xCA: far_ret64(s, osz64(in), op == 0xCA ? (uint16_t)in->imm : 0); return true;
    case 0xCC: soft_interrupt(s, EXC_BP, true, false, 0, s->next_eip); return true;
    case 0xCD: soft_interrupt(s, in->imm & 0xFF, true, false, 0, s->next_eip); return true;
    case 0xCF: soft_iret64(s, osz64(in)); return true;
    case 0xF6: case 0xF7: group3(s, in); return true;
    case 0xFE: case 0xFF: group5(s, in); return true;
    case 0xE4 ... 0xE7: case 0xEC ... 0xEF: case 0xF4: case 0xF5: case 0xF8 ... 0xFD:
    case 0x9B: case 0x9E: case 0x9F: case 0xD8 ... 0xDF: /* LAHF/SAHF: CPUID LAHF_LM */
    case 0xF1: /* INT1 (ICEBP) */
        return false; /* the legacy implementation is right here (x87: fpu_mem's 64-bit path) */
    default:
        soft_raise_noerr(s, EXC_UD);
    }
}
