/*
 * The 64-bit differential CPU test: generates cases for the integer groups
 * in 64-bit mode (the ALU group at every size with REX-extended registers
 * and the byte registers SPL..DIL, r/m and immediate forms, INC/DEC, NOT,
 * NEG, MUL/IMUL/DIV/IDIV, SHL/SHR/SAR, IMUL reg forms, MOVSXD, MOVZX/MOVSX,
 * LEA, CMP + CMOVcc/SETcc/Jcc, PUSH/POP, XCHG, BSWAP, CQO/CDQE, the
 * rotates, BT/BTS/BTR/BTC, BSF/BSR, XADD, CMPXCHG, the string instructions
 * with REP/REPE/REPNE) and for SSE..SSSE3 on XMM0..15 (every template of
 * sse_ops.c with REX.R/X/B/W, the REX.W GPR forms, RIP-relative and SIB
 * memory operands, unmasked exceptions, FXSAVE/FXRSTOR in 64-bit form), runs
 * each on the host CPU (runner64, CPL 3) and on the software core (CPL 3 in a
 * 64-bit code segment, identity-mapped 4-level paging, 16-byte IDT gates
 * to one HLT per vector, RSP0 from a 64-bit TSS), and compares the GPRs,
 * the defined flags, the fault and the memory window. Flags the SDM leaves
 * undefined are not compared here: they differ between vendors and between
 * Intel generations (cpudiff.c reports them for the 32-bit forms), so no
 * host is an oracle for them.
 *
 *   cpudiff64 RUNNER [--seed N] [--scale PERCENT] [--group NAME]
 * R14 always points into the window (the base of every memory operand, never
 * written); RSP points at the window's stack half.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "cpudiff64.h"
#include "runner_pipe.h"
#include "sse_ops.h"

#define K_CTL 0x30200000u /* the core's tables: GDT, IDT, TSS, HLT stubs, ring-0 stack */
#define K_PT 0x30400000u  /* PML4, PDPT, PD */
#define BASE_REG 14
#define FL_DEFINED 0x8D5u /* CF PF AF ZF SF OF */

struct gen {
    uint64_t x;
    uint8_t *p;
    unsigned n;
    uint32_t fmask; /* flags this case defines */
    uint32_t avoid; /* GPRs an instruction of the case writes or indexes with */
    struct {
        uint16_t off, len;
    } ign[3]; /* window bytes not compared */
    struct cd64_in *in;
};

static uint64_t rnd(struct gen *g)
{
    g->x ^= g->x << 13;
    g->x ^= g->x >> 7;
    g->x ^= g->x << 17;
    return g->x;
}

static unsigned below(struct gen *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

static void emit(struct gen *g, uint8_t b)
{
    g->p[g->n++] = b;
}

static void emit32(struct gen *g, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        emit(g, (uint8_t)(v >> (8 * i)));
}

/* A destination register: any but RSP and the window base. */
static unsigned dst_reg(struct gen *g)
{
    for (;;) {
        unsigned r = below(g, 16);
        if (r != 4 && r != BASE_REG)
            return r;
    }
}

/* Size prefix and REX for width w (1, 2, 4, 8), reg field r and r/m register m (or the base). */
static void prefix(struct gen *g, unsigned w, unsigned r, unsigned m, bool force_rex)
{
    if (w == 2)
        emit(g, 0x66);
    uint8_t rex = (uint8_t)(0x40 | (w == 8 ? 8 : 0) | (r >> 3) << 2 | (m >> 3));
    if (rex != 0x40 || force_rex)
        emit(g, rex);
}

/* ModRM for register m, or [R14 + disp8] inside the window's data half. */
static void modrm(struct gen *g, unsigned r, unsigned m, bool mem)
{
    if (!mem) {
        emit(g, (uint8_t)(0xC0 | (r & 7) << 3 | (m & 7)));
        return;
    }
    emit(g, (uint8_t)(0x40 | (r & 7) << 3 | (BASE_REG & 7)));
    emit(g, (uint8_t)(below(g, 0x70) & ~7u));
}

static unsigned rand_width(struct gen *g)
{
    static const unsigned w[] = {1, 2, 4, 8, 8, 8};
    return w[below(g, 6)];
}

/* Byte registers 4..7 mean AH..BH without REX: keep them legal (no R8B.. with AH). */
static bool byte_rex(struct gen *g, unsigned w)
{
    return w == 1 && below(g, 2);
}

static void gen_alu(struct gen *g)
{
    unsigned w = rand_width(g), op = below(g, 8), form = below(g, 3), r = dst_reg(g);
    bool mem = below(g, 3) == 0, rex = byte_rex(g, w);
    unsigned m = mem ? BASE_REG : (w == 1 && !rex ? below(g, 8) : below(g, 16));
    if (w == 1 && !rex)
        r &= 7;
    if (!mem && m == 4 && form == 0)
        m = 0;
    g->fmask = (op == 1 || op == 4 || op == 6) ? FL_DEFINED & ~0x10u : FL_DEFINED;
    if (form == 2) { /* 80/81/83 */
        prefix(g, w, 0, m, rex);
        unsigned opc = w == 1 ? 0x80 : below(g, 2) ? 0x83 : 0x81;
        emit(g, (uint8_t)opc);
        modrm(g, op, mem ? BASE_REG : r, mem);
        if (opc == 0x81)
            emit32(g, (uint32_t)rnd(g));
        else
            emit(g, (uint8_t)rnd(g));
        if (opc == 0x81 && w == 2)
            g->n -= 2;
        return;
    }
    prefix(g, w, r, m, rex);
    emit(g, (uint8_t)(op << 3 | (form ? 2 : 0) | (w == 1 ? 0 : 1)));
    modrm(g, r, m, mem);
}

static void gen_unary(struct gen *g)
{
    unsigned w = rand_width(g), sub = 2 + below(g, 6), r = dst_reg(g);
    bool mem = below(g, 3) == 0, rex = byte_rex(g, w);
    if (w == 1 && !rex)
        r &= 7;
    g->fmask = sub == 2 ? 0 : sub == 3 ? FL_DEFINED : sub <= 5 ? 0x801u : 0;
    prefix(g, w, 0, mem ? BASE_REG : r, rex);
    emit(g, w == 1 ? 0xF6 : 0xF7);
    modrm(g, sub, r, mem);
}

static void gen_incdec_shift(struct gen *g)
{
    unsigned w = rand_width(g), r = dst_reg(g);
    bool mem = below(g, 3) == 0, rex = byte_rex(g, w);
    if (w == 1 && !rex)
        r &= 7;
    prefix(g, w, 0, mem ? BASE_REG : r, rex);
    if (below(g, 2)) {
        g->fmask = FL_DEFINED;
        emit(g, w == 1 ? 0xFE : 0xFF);
        modrm(g, below(g, 2), r, mem);
        return;
    }
    static const unsigned subs[] = {0, 1, 2, 3, 4, 5, 7};
    unsigned sub = subs[below(g, 7)], form = below(g, 3);
    uint8_t count = (uint8_t)(1 + below(g, w * 8 - 1));
    if (form == 1)
        count = 1; /* D0/D1: by one */
    if (form == 2) { /* D2/D3: by CL, now and then 0 after the mask */
        if (below(g, 4) == 0)
            count = 0;
        g->in->gpr[1] = (rnd(g) & ~63ull) | count;
    }
    emit(g, (uint8_t)((form == 0 ? 0xC0 : form == 1 ? 0xD0 : 0xD2) | (w == 1 ? 0 : 1)));
    modrm(g, sub, r, mem);
    if (form == 0)
        emit(g, count);
    /* AF undefined, OF only for a count of 1; the rotates define CF (and that OF) alone */
    g->fmask = count == 0 ? FL_DEFINED : (sub < 4 ? 0x1u : 0xC5u) | (count == 1 ? 0x800u : 0);
}

/* MOVS, CMPS, STOS, LODS, SCAS, with REP/REPE/REPNE and a small count inside the window. */
static void gen_string(struct gen *g)
{
    static const uint8_t ops[] = {0xA4, 0xA6, 0xAA, 0xAC, 0xAE};
    unsigned w = 1 << below(g, 4), rep = below(g, 3);
    g->in->gpr[6] = CD64_WIN + 0x100 + below(g, 0x100);
    g->in->gpr[7] = CD64_WIN + 0x300 + below(g, 0x100);
    g->in->gpr[1] = below(g, 24);
    g->fmask = FL_DEFINED;
    if (rep)
        emit(g, rep == 1 ? 0xF3 : 0xF2);
    if (w == 2)
        emit(g, 0x66);
    if (w == 8)
        emit(g, 0x48);
    emit(g, (uint8_t)(ops[below(g, 5)] | (w > 1)));
}

/* BT/BTS/BTR/BTC (register and imm8 offsets), BSF/BSR, XADD, CMPXCHG. */
static void gen_bits(struct gen *g)
{
    unsigned w = 2 << below(g, 3), r = dst_reg(g), m = dst_reg(g), kind = below(g, 4);
    bool mem = below(g, 3) == 0;
    if (below(g, 6) == 0)
        m = r; /* one register as both operands (xadd %eax,%eax doubles it) */
    prefix(g, w, r, mem ? BASE_REG : m, false);
    emit(g, 0x0F);
    switch (below(g, 4)) {
    case 0: /* BTx r/m, r with a small offset (stays in the window) */
        g->in->gpr[r] = (uint64_t)(int64_t)(int)(below(g, 1024) - 512);
        emit(g, (uint8_t)(0xA3 + 8 * kind));
        g->fmask = 1;
        break;
    case 1:
        emit(g, 0xBA);
        modrm(g, 4 + kind, m, mem);
        emit(g, (uint8_t)rnd(g));
        g->fmask = 1;
        return;
    case 2:
        emit(g, (uint8_t)(0xBC + below(g, 2)));
        if (!mem && below(g, 4) == 0)
            g->in->gpr[m] = 0; /* a zero source: ZF, the destination kept */
        g->fmask = 0x40;
        break;
    default:
        emit(g, (uint8_t)(below(g, 2) ? 0xC1 : 0xB1));
        if (below(g, 2))
            g->in->gpr[0] = g->in->gpr[m];
        g->fmask = FL_DEFINED;
        break;
    }
    modrm(g, r, m, mem);
}

static void gen_moves(struct gen *g)
{
    unsigned r = dst_reg(g), m = below(g, 16), w = below(g, 2) ? 8 : 4;
    bool mem = below(g, 3) == 0;
    g->fmask = 0;
    switch (below(g, 6)) {
    case 0: prefix(g, 8, r, mem ? BASE_REG : m, false); emit(g, 0x63); break; /* MOVSXD */
    case 1:
        prefix(g, w, r, mem ? BASE_REG : m, true);
        emit(g, 0x0F);
        emit(g, (uint8_t)(0xB6 + below(g, 2))); /* MOVZX/MOVSX, byte or word source */
        g->p[g->n - 1] += (uint8_t)(8 * below(g, 2));
        break;
    case 2: { /* LEA r, [base + index*scale + disp32] */
        unsigned x = below(g, 16);
        emit(g, (uint8_t)(0x40 | (w == 8 ? 8 : 0) | (r >> 3) << 2 | (x >> 3) << 1 | (m >> 3)));
        emit(g, 0x8D);
        emit(g, (uint8_t)(0x84 | (r & 7) << 3));
        emit(g, (uint8_t)(below(g, 4) << 6 | (x & 7) << 3 | (m & 7)));
        emit32(g, (uint32_t)rnd(g));
        return;
    }
    case 3: prefix(g, w, r, mem ? BASE_REG : m, false); emit(g, 0x87); break; /* XCHG */
    case 4: prefix(g, w, r, mem ? BASE_REG : m, false); emit(g, 0x0F); emit(g, 0xAF); /* IMUL */
        g->fmask = 0x801u; break;
    default: /* BSWAP / CQO / CDQE */
        if (below(g, 2)) {
            prefix(g, w, 0, r, false);
            emit(g, 0x0F);
            emit(g, (uint8_t)(0xC8 | (r & 7)));
        } else {
            emit(g, 0x48);
            emit(g, below(g, 2) ? 0x99 : 0x98);
        }
        return;
    }
    if (!mem && m == 4 && (g->p[g->n - 1] == 0x87))
        m = 0;
    modrm(g, r, mem ? BASE_REG : m, mem);
}

static void gen_cond_stack(struct gen *g)
{
    unsigned a = below(g, 16), b = below(g, 16), r = dst_reg(g), cc = below(g, 16);
    g->fmask = FL_DEFINED;
    prefix(g, 8, b, a, false); /* CMP a, b */
    emit(g, 0x39);
    modrm(g, b, a, false);
    switch (below(g, 4)) {
    case 0: {
        unsigned m = below(g, 16); /* CMOVcc: a 32-bit destination is zero-extended either way */
        prefix(g, below(g, 2) ? 8 : below(g, 2) ? 4 : 2, r, m, false);
        emit(g, 0x0F);
        emit(g, (uint8_t)(0x40 | cc));
        modrm(g, r, m, false);
        break;
    }
    case 1: emit(g, (uint8_t)(0x40 | (r >> 3))); emit(g, 0x0F); emit(g, (uint8_t)(0x90 | cc));
        emit(g, (uint8_t)(0xC0 | (r & 7))); break;
    case 2: emit(g, (uint8_t)(0x70 | cc)); emit(g, 3); /* skip a 3-byte NOT */
        emit(g, 0x49); emit(g, 0xF7); emit(g, 0xD0 | 3); break;
    default: /* PUSH a; POP r */
        if (a >= 8) emit(g, 0x41);
        emit(g, (uint8_t)(0x50 | (a & 7)));
        if (r >= 8) emit(g, 0x41);
        emit(g, (uint8_t)(0x58 | (r & 7)));
        break;
    }
}

static uint64_t rand_value(struct gen *g)
{
    static const uint64_t special[] = {0, 1, ~0ull, 0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull,
                                       0xFFFFFFFFull, 0x80000000ull, 0x100000000ull};
    if (below(g, 4) == 0)
        return special[below(g, 8)];
    uint64_t v = rnd(g);
    unsigned shift = below(g, 2) ? below(g, 64) : 0;
    return v >> shift;
}

/* ---- SSE..SSSE3 in 64-bit mode ----
 * A case loads MXCSR and three registers picked among XMM0..XMM15 from the
 * case data, runs one or two instructions drawn from the shared templates
 * (sse_ops.c) with REX.R/X/B/W at random and memory operands through
 * [R14+disp8], RIP-relative or [R14+index*scale+disp8], then stores the three
 * registers and MXCSR into the window; GPR results are compared directly. */
#define D_REGS 0x00  /* the three registers' initial values */
#define D_SLOT 0x30  /* four 16-byte memory operands */
#define D_MXCSR 0x70 /* loaded first */
#define D_OUT (-0x80) /* the registers' final values, then MXCSR at -0x50 */
#define D_STORE (-0x40) /* four 16-byte store targets */
#define D_FXSAVE 0x300  /* a 512-byte FXSAVE image (window 0x400) */

static uint32_t fp32v(struct gen *g)
{
    static const uint32_t edge[] = {
        0, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7FA00000u,
        0x00000001u, 0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu, 0x3F800000u, 0xBF800000u,
        0x3F000000u, 0x4F000000u, 0xCF000000u, 0x5F000000u, 0xDF000000u, 0x3FC00000u,
        0x40200000u, 0xC0200000u, 0x4EFFFFFFu, 0x0D800000u};
    unsigned k = below(g, 8);
    uint32_t r = (uint32_t)rnd(g);
    if (k < 3)
        return edge[below(g, sizeof edge / sizeof edge[0])];
    if (k == 3) {
        float f = (float)(int32_t)r / (float)(1 + below(g, 1000));
        memcpy(&r, &f, 4);
        return r;
    }
    if (k == 4) /* denormal or tiny */
        return (r & 0x807FFFFFu) | below(g, 3) << 23;
    if (k == 5) /* around the integer limits */
        return (r & 0x807FFFFFu) | (0x9C + below(g, 0x24)) << 23;
    return r;
}

static uint64_t fp64v(struct gen *g)
{
    static const uint64_t edge[] = {
        0, 0x8000000000000000ull, 0x7FF0000000000000ull, 0xFFF0000000000000ull,
        0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF4000000000000ull, 1,
        0x800FFFFFFFFFFFFFull, 0x0010000000000000ull, 0x7FEFFFFFFFFFFFFFull, 0x3FF0000000000000ull,
        0xBFF0000000000000ull, 0x3FE0000000000000ull, 0x41E0000000000000ull, 0xC1E0000000000000ull,
        0x43E0000000000000ull, 0xC3E0000000000000ull, 0x3FF8000000000000ull, 0x4004000000000000ull,
        0xC004000000000000ull, 0x41DFFFFFFFE00000ull, 0x3800000000000000ull, 0x47EFFFFFF0000000ull};
    unsigned k = below(g, 8);
    uint64_t r = rnd(g);
    if (k < 3)
        return edge[below(g, sizeof edge / sizeof edge[0])];
    if (k == 3) {
        double d = (double)(int64_t)r / (double)(1 + below(g, 100000));
        memcpy(&r, &d, 8);
        return r;
    }
    if (k == 4)
        return (r & 0x800FFFFFFFFFFFFFull) | (uint64_t)below(g, 3) << 52;
    if (k == 5) /* around the integer limits and the float range */
        return (r & 0x800FFFFFFFFFFFFFull) |
               (uint64_t)(below(g, 2) ? 0x41C + below(g, 0x24) : 0x368 + below(g, 0x120)) << 52;
    return r;
}

/* 16 bytes of operand: floats, doubles or integers. */
static void value16(struct gen *g, uint8_t *p)
{
    unsigned kind = below(g, 3);
    for (unsigned i = 0; i < 16; i += kind == 0 ? 4 : 8) {
        uint64_t v = kind == 0 ? fp32v(g) : kind == 1 ? fp64v(g) : rand_value(g);
        memcpy(p + i, &v, kind == 0 ? 4 : 8);
    }
}

/* A GPR no earlier instruction of the case writes or indexes with. */
static unsigned free_gpr(struct gen *g)
{
    for (;;) {
        unsigned r = dst_reg(g);
        if (!(g->avoid >> r & 1)) {
            g->avoid |= 1u << r;
            return r;
        }
    }
}

/*
 * [pfx] [REX] [0F [map]] op ModRM [SIB] [disp] [imm]: reg and rm are register
 * numbers (XMM, MMX or GPR, as the form has them); rm < 0 takes the memory
 * operand at data offset off from R14. esc: the 0F escape (and map) first.
 */
static void insn64(struct gen *g, uint8_t pfx, bool esc, uint8_t map, uint8_t op, unsigned reg,
                   int rm, int off, bool w, int imm)
{
    unsigned form = below(g, 3), idx = 0, scale = 0;
    int disp = off;
    if (off < -96 || off > 127)
        form = 1;
    uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | (reg >> 3) << 2);
    if (rm >= 0)
        rex |= (uint8_t)((unsigned)rm >> 3);
    else if (form == 0)
        rex |= 1;
    else if (form == 2) {
        idx = free_gpr(g);
        scale = below(g, 4);
        uint64_t v = below(g, 5);
        g->in->gpr[idx] = v;
        disp = off - (int)(v << scale);
        rex |= (uint8_t)(1 | (idx >> 3) << 1);
    }
    if (pfx)
        emit(g, pfx);
    if (rex != 0x40 || below(g, 4) == 0)
        emit(g, rex);
    if (esc)
        emit(g, 0x0F);
    if (esc && map)
        emit(g, map);
    emit(g, op);
    if (rm >= 0)
        emit(g, (uint8_t)(0xC0 | (reg & 7) << 3 | ((unsigned)rm & 7)));
    else if (form == 0) {
        emit(g, (uint8_t)(0x46 | (reg & 7) << 3));
        emit(g, (uint8_t)disp);
    } else if (form == 1) {
        emit(g, (uint8_t)(0x05 | (reg & 7) << 3));
        uint64_t end = CD64_CODE + g->n + 4 + (imm >= 0);
        emit32(g, (uint32_t)(CD64_WIN + CD64_DATA_AT + (int64_t)off - (int64_t)end));
    } else {
        emit(g, (uint8_t)(0x44 | (reg & 7) << 3));
        emit(g, (uint8_t)(scale << 6 | (idx & 7) << 3 | (BASE_REG & 7)));
        emit(g, (uint8_t)disp);
    }
    if (imm >= 0)
        emit(g, (uint8_t)imm);
}

static void sse64(struct gen *g, uint8_t pfx, uint8_t map, uint8_t op, unsigned reg, int rm,
                  int off, bool w, int imm)
{
    insn64(g, pfx, true, map, op, reg, rm, off, w, imm);
}

struct sse_case {
    unsigned x[3]; /* the XMM registers of the case */
};

static unsigned xr(struct gen *g, const struct sse_case *sc)
{
    return sc->x[below(g, 3)];
}

/* A memory operand slot: aligned, now and then misaligned where alignment matters. */
static int slot(struct gen *g, unsigned msize)
{
    int off = D_SLOT + 16 * (int)below(g, 4);
    if (msize == 16 && below(g, 16) == 0)
        off += 1 + (int)below(g, 15);
    else if (msize && msize < 16)
        off += (int)(msize * below(g, 16 / msize));
    return off;
}

static int imm8(struct gen *g, bool has)
{
    return has ? (int)(below(g, 4) ? rnd(g) & 0xFF : below(g, 8)) : -1;
}

static void sse_fp_one(struct gen *g, const struct sse_case *sc)
{
    const struct sse_tpl *t = &sse_fp_ops[below(g, sse_fp_nops)];
    bool w = below(g, 2), mem = t->msize && below(g, 3) == 0;
    unsigned msize = t->msize;
    if (t->shape == T_XR && w)
        msize = 8;
    unsigned reg = t->shape == T_RX ? free_gpr(g) : xr(g, sc);
    int rm = t->shape == T_XR ? (int)below(g, 16) : (int)xr(g, sc);
    sse64(g, t->pfx, t->map, t->op, reg, mem ? -1 : rm, slot(g, msize), w, imm8(g, t->imm));
}

static void sse_int_one(struct gen *g, const struct sse_case *sc, bool ssse3)
{
    bool w = below(g, 2), mem = below(g, 3) == 0;
    unsigned k = below(g, 10), a = xr(g, sc), b = xr(g, sc);
    if (ssse3) {
        if (k == 0)
            sse64(g, 0x66, 0x3A, 0x0F, a, mem ? -1 : (int)b, slot(g, 16), w, imm8(g, true));
        else
            sse64(g, 0x66, 0x38, sse_ssse3_ops[below(g, sse_ssse3_nops)], a, mem ? -1 : (int)b,
                  slot(g, 16), w, -1);
        return;
    }
    if (k < 6) {
        sse64(g, 0x66, 0, sse_int66_ops[below(g, sse_int66_nops)], a, mem ? -1 : (int)b,
              slot(g, 16), w, -1);
    } else if (k == 6) { /* PSHUFD / PSHUFHW / PSHUFLW */
        static const uint8_t p[] = {0x66, 0xF3, 0xF2};
        sse64(g, p[below(g, 3)], 0, 0x70, a, mem ? -1 : (int)b, slot(g, 16), w, imm8(g, true));
    } else if (k == 7) { /* shifts by an immediate */
        static const uint8_t sub[][2] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
                                         {0x72, 6}, {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
        unsigned j = below(g, 10);
        sse64(g, 0x66, 0, sub[j][0], sub[j][1], (int)a, 0, w,
              below(g, 2) ? (int)below(g, 20) : (int)(rnd(g) & 0xFF));
    } else if (k == 8) { /* PEXTRW r, xmm, imm / PMOVMSKB r, xmm */
        bool x = below(g, 2);
        sse64(g, 0x66, 0, x ? 0xC5 : 0xD7, free_gpr(g), (int)a, 0, w, imm8(g, x));
    } else { /* PINSRW xmm, r32/m16, imm */
        sse64(g, 0x66, 0, 0xC4, a, mem ? -1 : (int)below(g, 16), slot(g, 2), w, imm8(g, true));
    }
}

static void sse_mov_one(struct gen *g, const struct sse_case *sc, bool *fx)
{
    bool w = below(g, 2);
    unsigned k = below(g, 12), a = xr(g, sc), b = xr(g, sc);
    int out = D_STORE + 16 * (int)below(g, 4);
    if (k < 4) { /* loads and register moves (not the MMX ones) */
        const struct sse_tpl *t;
        do
            t = &sse_load_ops[below(g, sse_load_nops)];
        while (t->shape == T_XM || t->shape == T_MX);
        if (t->op == 0x7E && t->pfx == 0x66) { /* MOVD/MOVQ r/m, xmm: the GPR is written */
            bool mem = below(g, 2);
            int off = out + (w ? 8 : 4) * (int)below(g, 2);
            sse64(g, 0x66, 0, 0x7E, a, mem ? -1 : (int)free_gpr(g), off, w, -1);
            return;
        }
        bool mem = t->msize && below(g, 2);
        unsigned msize = t->shape == T_XR && w ? 8 : t->msize;
        int rm = t->shape == T_XR ? (int)below(g, 16) : (int)b;
        int off = slot(g, t->noalign ? 4 : msize);
        sse64(g, t->pfx, 0, t->op, a, mem ? -1 : rm, off, w, -1);
    } else if (k < 7) { /* stores */
        unsigned j = below(g, sse_store_nops);
        sse64(g, sse_store_ops[j][0], 0, sse_store_ops[j][1], a, -1,
              below(g, 16) == 0 ? out + 1 + (int)below(g, 7) : out, w, -1);
    } else if (k == 7) { /* MOVNTI m32/m64 */
        sse64(g, 0, 0, 0xC3, below(g, 16), -1, out + 8 * (int)below(g, 2), w, -1);
    } else if (k == 8) { /* MASKMOVDQU to [RDI] */
        if (g->avoid >> 7 & 1)
            return;
        g->avoid |= 1u << 7;
        g->in->gpr[7] = CD64_WIN + CD64_DATA_AT + (uint64_t)(int64_t)out;
        sse64(g, 0x66, 0, 0xF7, a, (int)b, 0, w, -1);
    } else if (k == 9) { /* LDDQU, STMXCSR */
        if (below(g, 2))
            sse64(g, 0xF2, 0, 0xF0, a, -1, D_SLOT + (int)below(g, 60), w, -1);
        else
            sse64(g, 0, 0, 0xAE, 3, -1, out + 4 * (int)below(g, 4), w, -1);
    } else if (!*fx) { /* FXSAVE(64), a change, FXRSTOR(64): the XMM part through memory */
        *fx = true;
        sse64(g, 0, 0, 0xAE, 0, -1, D_FXSAVE, w, -1);
        sse64(g, 0, 0, 0x57, a, (int)a, 0, below(g, 2), -1);
        sse64(g, 0, 0, 0xAE, 1, -1, D_FXSAVE, below(g, 2), -1);
    }
}

/*
 * The MMX-register forms in 64-bit mode, where REX.R/B do not extend an MMX
 * register: the MMX set and SSE's additions to it, SSSE3 on mm, PSHUFW, the
 * shifts by an immediate, PEXTRW/PINSRW/PMOVMSKB, MOVD/MOVQ with REX.W, the
 * MMX<->XMM conversions and moves, MASKMOVQ and MOVNTQ.
 */
static void sse_mm_one(struct gen *g, const struct sse_case *sc, const unsigned *mm)
{
    bool w = below(g, 2), mem = below(g, 3) == 0;
    unsigned k = below(g, 12), a = mm[below(g, 3)] | below(g, 2) << 3,
             b = mm[below(g, 3)] | below(g, 2) << 3, x = xr(g, sc);
    int out = D_STORE + 16 * (int)below(g, 4);
    if (k < 4) {
        sse64(g, 0, 0, sse_int66_ops[below(g, sse_int66_nops)], a, mem ? -1 : (int)b,
              slot(g, 8), w, -1);
    } else if (k == 4) {
        if (below(g, 4) == 0)
            sse64(g, 0, 0x3A, 0x0F, a, mem ? -1 : (int)b, slot(g, 8), w, imm8(g, true));
        else
            sse64(g, 0, 0x38, sse_ssse3_ops[below(g, sse_ssse3_nops)], a, mem ? -1 : (int)b,
                  slot(g, 8), w, -1);
    } else if (k == 5) { /* PSHUFW, shifts by an immediate (73 /3 and /7 do not exist on mm) */
        static const uint8_t sub[][2] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
                                         {0x72, 6}, {0x73, 2}, {0x73, 6}, {0x73, 3}};
        unsigned j = below(g, 10);
        if (j == 9)
            sse64(g, 0, 0, 0x70, a, mem ? -1 : (int)b, slot(g, 8), w, imm8(g, true));
        else
            sse64(g, 0, 0, sub[j][0], sub[j][1], (int)a, 0, w,
                  below(g, 2) ? (int)below(g, 20) : (int)(rnd(g) & 0xFF));
    } else if (k == 6) { /* PEXTRW, PMOVMSKB, PINSRW */
        unsigned j = below(g, 3);
        if (j < 2)
            sse64(g, 0, 0, j ? 0xD7 : 0xC5, free_gpr(g), (int)a, 0, w, imm8(g, j == 0));
        else
            sse64(g, 0, 0, 0xC4, a, mem ? -1 : (int)below(g, 16), slot(g, 2), w, imm8(g, true));
    } else if (k == 7) { /* MOVD/MOVQ mm, r/m; MOVD/MOVQ r/m, mm */
        if (below(g, 2))
            sse64(g, 0, 0, 0x6E, a, mem ? -1 : (int)below(g, 16), slot(g, w ? 8 : 4), w, -1);
        else
            sse64(g, 0, 0, 0x7E, a, mem ? -1 : (int)free_gpr(g), out, w, -1);
    } else if (k == 8) { /* CVTPI2PS/PD xmm, mm/m64; CVT(T)PS2PI, CVT(T)PD2PI mm, xmm/m */
        bool pd = below(g, 2);
        if (below(g, 2))
            sse64(g, pd ? 0x66 : 0, 0, 0x2A, x, mem ? -1 : (int)b, slot(g, 8), w, -1);
        else
            sse64(g, pd ? 0x66 : 0, 0, (uint8_t)(0x2C + below(g, 2)), a, mem ? -1 : (int)x,
                  slot(g, pd ? 16 : 8), w, -1);
    } else if (k == 9) { /* MOVQ2DQ xmm, mm; MOVDQ2Q mm, xmm */
        if (below(g, 2))
            sse64(g, 0xF3, 0, 0xD6, x, (int)a, 0, w, -1);
        else
            sse64(g, 0xF2, 0, 0xD6, a, (int)x, 0, w, -1);
    } else if (k == 10) { /* MASKMOVQ to [RDI] */
        if (g->avoid >> 7 & 1)
            return;
        g->avoid |= 1u << 7;
        g->in->gpr[7] = CD64_WIN + CD64_DATA_AT + (uint64_t)(int64_t)out;
        sse64(g, 0, 0, 0xF7, a, (int)b, 0, w, -1);
    } else { /* MOVNTQ, MOVQ m64, mm */
        sse64(g, 0, 0, below(g, 2) ? 0xE7 : 0x7F, a, -1, out + 8 * (int)below(g, 2), w, -1);
    }
}

/*
 * SSE4.1 and SSE4.2 (x86-64-v2): the 66 0F 38 forms (PMOVSX/ZX with their
 * narrow memory operands, the blends on XMM0, PTEST, MOVNTDQA), the 66 0F
 * 3A forms with random immediates (ROUNDxx, blends, DPPS/DPPD, MPSADBW, the
 * extracts to GPRs and memory, the inserts from them, INSERTPS) and the four
 * string compares with explicit lengths in RAX/RDX, now and then huge.
 */
static void sse4_one(struct gen *g, const struct sse_case *sc)
{
    static const uint8_t m38[] = {0x10, 0x14, 0x15, 0x17, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
                                  0x28, 0x29, 0x2B, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37,
                                  0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x41};
    static const uint8_t m3a[] = {0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x40, 0x41, 0x42};
    bool w = below(g, 2), mem = below(g, 3) == 0;
    unsigned k = below(g, 8), a = xr(g, sc), b = xr(g, sc);
    int out = D_STORE + 16 * (int)below(g, 4);
    if (k < 3) {
        uint8_t op = m38[below(g, sizeof m38)];
        unsigned ms = (op & 0xF7) == 0x20 || (op & 0xF7) == 0x21 || op == 0x25 || op == 0x35 ? 8 : 16;
        if (op == 0x21 || op == 0x24 || op == 0x31 || op == 0x34)
            ms = 4;
        else if (op == 0x22 || op == 0x32)
            ms = 2;
        sse64(g, 0x66, 0x38, op, a, mem ? -1 : (int)b, slot(g, ms), w, -1);
    } else if (k < 5) {
        uint8_t op = m3a[below(g, sizeof m3a)];
        unsigned ms = op == 0x0A ? 4 : op == 0x0B ? 8 : 16;
        sse64(g, 0x66, 0x3A, op, a, mem ? -1 : (int)b, slot(g, ms), w, imm8(g, true));
    } else if (k == 5) { /* PEXTRB/W/D/Q, EXTRACTPS r/m, xmm, imm; MOVNTDQA */
        uint8_t op = (uint8_t)(0x14 + below(g, 4));
        if (below(g, 6) == 0)
            sse64(g, 0x66, 0x38, 0x2A, a, -1, slot(g, 16), w, -1);
        else
            sse64(g, 0x66, 0x3A, op, a, mem ? -1 : (int)free_gpr(g), out + 8 * (int)below(g, 2), w,
                  imm8(g, true));
    } else if (k == 6) { /* PINSRB, INSERTPS, PINSRD/Q */
        unsigned j = below(g, 3), ms = j == 0 ? 1 : j == 1 ? 4 : w ? 8 : 4;
        int rm = j == 1 ? (int)b : (int)below(g, 16);
        sse64(g, 0x66, 0x3A, (uint8_t)(0x20 + j), a, mem ? -1 : rm, slot(g, ms), w, imm8(g, true));
    } else { /* PCMPESTRM/I, PCMPISTRM/I: lengths in RAX/RDX, the index to ECX, the mask to XMM0 */
        if (g->avoid & 0x7)
            return;
        g->avoid |= 0x7;
        for (unsigned r = 0; r <= 2; r += 2)
            g->in->gpr[r] = below(g, 5) == 0 ? rand_value(g)
                                              : (uint64_t)(int64_t)((int)below(g, 40) - 20);
        sse64(g, 0x66, 0x3A, (uint8_t)(0x60 + below(g, 4)), a, mem ? -1 : (int)b, slot(g, 4), w,
              (int)(rnd(g) & 0x7F));
    }
}

/* POPCNT r, r/m (16/32/64) and CRC32 r32/r64, r/m8/16/32/64 (flags kept). */
static void gen_v2int(struct gen *g)
{
    unsigned r = dst_reg(g), m = dst_reg(g);
    bool mem = below(g, 3) == 0, crc = below(g, 2);
    unsigned w = 2 << below(g, 3);
    g->fmask = FL_DEFINED;
    emit(g, crc ? 0xF2 : 0xF3);
    if (crc && below(g, 2)) { /* F0: a byte source, r32 or (REX.W) r64 destination */
        prefix(g, below(g, 2) ? 8 : 4, r, mem ? BASE_REG : m, below(g, 2));
        emit(g, 0x0F), emit(g, 0x38), emit(g, 0xF0);
    } else {
        prefix(g, w, r, mem ? BASE_REG : m, false);
        emit(g, 0x0F);
        if (crc)
            emit(g, 0x38), emit(g, 0xF1);
        else
            emit(g, 0xB8);
    }
    if (!mem && below(g, 6) == 0)
        g->in->gpr[m] = 0; /* POPCNT of zero: ZF */
    modrm(g, r, m, mem);
}

/* kind 0: FP masked; 1: FP with exceptions unmasked (#XM); 2: SSE2 integer; 3: SSSE3; 4: moves;
 * 5: the MMX-register forms; 6: SSE4.1/SSE4.2 */
static void gen_sse(struct gen *g, unsigned kind)
{
    struct cd64_in *in = g->in;
    in->data_len = CD64_DATA_MAX;
    for (unsigned i = 0; i < CD64_DATA_MAX; i += 16)
        value16(g, in->data + i);
    if (kind == 2 && below(g, 3) == 0) { /* a shift count in range */
        uint8_t *p = in->data + (below(g, 2) ? D_REGS : D_SLOT) + 16 * below(g, 3);
        memset(p, 0, 16);
        p[0] = (uint8_t)below(g, 70);
    }
    if (kind == 6 && below(g, 2)) /* strings with few letters, so that the compares match */
        for (unsigned i = 0; i < 0x70; i++)
            in->data[i] = (uint8_t)(below(g, 8) == 0 ? 0 : 'a' + below(g, 3));
    unsigned masks = kind == 1 ? (unsigned)(rnd(g) & 0x3F) | (below(g, 2) ? 0x20u : 0) : 0x3F;
    uint32_t mx = masks << 7 | below(g, 4) << 13 | (below(g, 2) ? 0x40u : 0) |
                  (below(g, 2) ? 0x8000u : 0) | (below(g, 4) == 0 ? rnd(g) & 0x3F : 0);
    memcpy(in->data + D_MXCSR, &mx, 4);
    struct sse_case sc;
    sc.x[0] = below(g, 16);
    do
        sc.x[1] = below(g, 16);
    while (sc.x[1] == sc.x[0]);
    do
        sc.x[2] = below(g, 16);
    while (sc.x[2] == sc.x[0] || sc.x[2] == sc.x[1]);
    if (kind == 6 && below(g, 2) && sc.x[1] && sc.x[2])
        sc.x[0] = 0; /* XMM0: the blend mask and PCMPxSTRM's result, compared too */
    g->fmask = FL_DEFINED;
    g->avoid = 0;
    const uint8_t ldmxcsr[] = {0x41, 0x0F, 0xAE, 0x56, D_MXCSR};
    for (unsigned i = 0; i < sizeof ldmxcsr; i++)
        emit(g, ldmxcsr[i]);
    for (unsigned i = 0; i < 3; i++) { /* MOVUPS xN, [R14 + 16i] */
        emit(g, (uint8_t)(0x41 | (sc.x[i] >> 3) << 2)), emit(g, 0x0F), emit(g, 0x10);
        emit(g, (uint8_t)(0x46 | (sc.x[i] & 7) << 3)), emit(g, (uint8_t)(D_REGS + 16 * i));
    }
    unsigned mm[3] = {below(g, 8), below(g, 8), below(g, 8)};
    for (unsigned i = 0; kind == 5 && i < 3; i++) /* MOVQ mmN, [R14 + 0x80 + 8i] */
        sse64(g, 0, 0, 0x6F, mm[i] | below(g, 2) << 3, -1, 0x80 + 8 * (int)i, below(g, 2), -1);
    bool fx = false;
    unsigned n = 1 + below(g, 2);
    for (unsigned i = 0; i < n; i++) {
        if (kind == 5)
            sse_mm_one(g, &sc, mm);
        else if (kind <= 1)
            sse_fp_one(g, &sc);
        else if (kind <= 3)
            sse_int_one(g, &sc, kind == 3);
        else if (kind == 6)
            sse4_one(g, &sc);
        else
            sse_mov_one(g, &sc, &fx);
    }
    for (unsigned i = 0; i < 3; i++) { /* MOVUPS [R14 - 0x80 + 16i], xN */
        emit(g, (uint8_t)(0x41 | (sc.x[i] >> 3) << 2)), emit(g, 0x0F), emit(g, 0x11);
        emit(g, (uint8_t)(0x46 | (sc.x[i] & 7) << 3)), emit(g, (uint8_t)(D_OUT + 16 * (int)i));
    }
    const uint8_t stmxcsr[] = {0x41, 0x0F, 0xAE, 0x5E, (uint8_t)(D_OUT + 0x30)};
    for (unsigned i = 0; i < sizeof stmxcsr; i++)
        emit(g, stmxcsr[i]);
    for (unsigned i = 0; kind == 5 && i < 3; i++) /* MOVQ [window 0x40 + 8i], mmN */
        sse64(g, 0, 0, 0x7F, mm[i], -1, -0xC0 + 8 * (int)i, false, -1);
    if (kind == 5)
        emit(g, 0x0F), emit(g, 0x77); /* EMMS */
    if (fx) { /* the x87 part and FOP/FIP/FDP are the host process's own; MXCSR_MASK the host's;
               * bytes 416..511 are reserved or for software */
        g->ign[0].off = CD64_DATA_AT + D_FXSAVE, g->ign[0].len = 24;
        g->ign[1].off = CD64_DATA_AT + D_FXSAVE + 28, g->ign[1].len = 160 - 28;
        g->ign[2].off = CD64_DATA_AT + D_FXSAVE + 416, g->ign[2].len = 96;
    }
}


/* ---- the rest of the integer set in 64-bit mode ----
 * SHLD/SHRD, XLAT, ENTER/LEAVE, LAHF/SAHF and the flag instructions,
 * CMPXCHG8B/16B, PUSHF/POPF, the one-byte opcodes 64-bit mode removed (#UD),
 * MOV between rAX and a 64-bit absolute offset (A0..A3), MOVBE,
 * the sign extensions, XCHG with rAX and the NOP forms. */
static void gen_misc(struct gen *g)
{
    struct cd64_in *in = g->in;
    g->fmask = FL_DEFINED;
    switch (below(g, 10)) {
    case 8: { /* MOVBE r, m and m, r at 16, 32, 64 bits (the model has it; so does the host) */
        unsigned w = 2 << below(g, 3), r = dst_reg(g);
        prefix(g, w, r, BASE_REG, false);
        emit(g, 0x0F), emit(g, 0x38), emit(g, (uint8_t)(0xF0 + below(g, 2)));
        modrm(g, r, BASE_REG, true);
        break;
    }
    case 7: { /* MOV AL/rAX <-> moffs64 (movabs), or a 4-byte offset with 67, into the window */
        static const uint8_t w[] = {0x00, 0x66, 0x48};
        uint8_t op = (uint8_t)(0xA0 + below(g, 4)), x = w[below(g, 3)];
        bool a32 = below(g, 3) == 0;
        if (a32)
            emit(g, 0x67);
        if ((op & 1) && x)
            emit(g, x);
        emit(g, op);
        uint64_t off = CD64_WIN + below(g, 0x400);
        emit32(g, (uint32_t)off);
        if (!a32)
            emit32(g, (uint32_t)(off >> 32));
        break;
    }
    case 0: { /* SHLD/SHRD by imm8 or CL; 16-bit counts past 16 leave the result undefined */
        unsigned w = 2 << below(g, 3), r = dst_reg(g), m = dst_reg(g), bits = 8 * w;
        unsigned count = below(g, 4) == 0 ? below(g, 2) : below(g, w == 2 ? 17 : bits);
        bool cl = below(g, 2), mem = below(g, 3) == 0;
        if (cl)
            in->gpr[1] = (rnd(g) & ~63ull) | count;
        prefix(g, w, r, mem ? BASE_REG : m, false);
        emit(g, 0x0F);
        emit(g, (uint8_t)((below(g, 2) ? 0xA4 : 0xAC) + cl));
        modrm(g, r, m, mem);
        if (!cl)
            emit(g, (uint8_t)(count | (rnd(g) & (w == 8 ? 0xC0 : 0xE0))));
        g->fmask = count == 0 ? FL_DEFINED : count == 1 ? FL_DEFINED & ~0x10u : 0xC5u;
        break;
    }
    case 1: /* XLAT */
        in->gpr[3] = CD64_WIN + below(g, 0xF00);
        if (below(g, 2))
            emit(g, 0x48);
        emit(g, 0xD7);
        break;
    case 2: { /* ENTER size, level (the frame pointer chain inside the window), LEAVE */
        in->gpr[5] = CD64_WIN + 0xD00 + 8 * below(g, 0x20);
        if (below(g, 4) == 0)
            emit(g, 0x66);
        emit(g, 0xC8);
        emit(g, (uint8_t)below(g, 0x80)), emit(g, 0);
        emit(g, (uint8_t)(below(g, 4) == 0 ? rnd(g) : below(g, 4)));
        if (below(g, 2))
            emit(g, 0xC9);
        break;
    }
    case 3: { /* LAHF SAHF CMC CLC STC CLD STD */
        static const uint8_t ops[] = {0x9F, 0x9E, 0xF5, 0xF8, 0xF9, 0xFC, 0xFD};
        for (unsigned i = 0, n = 1 + below(g, 4); i < n; i++)
            emit(g, ops[below(g, sizeof ops)]);
        emit(g, 0xFC);
        break;
    }
    case 4: { /* CMPXCHG8B / CMPXCHG16B m (16B needs 16-byte alignment) */
        bool q = below(g, 2);
        unsigned off = 16 * below(g, 6) + (below(g, 8) == 0 ? 8 : 0);
        in->data_len = CD64_DATA_MAX;
        for (unsigned i = 0; i < CD64_DATA_MAX; i++)
            in->data[i] = (uint8_t)rnd(g);
        if (below(g, 2)) { /* the compare succeeds */
            memcpy(&in->gpr[0], in->data + off, 8);
            memcpy(&in->gpr[2], in->data + off + (q ? 8 : 4), 8);
            if (!q)
                in->gpr[0] = (uint32_t)in->gpr[0], in->gpr[2] = (uint32_t)in->gpr[2];
        }
        emit(g, q ? 0x49 : 0x41), emit(g, 0x0F), emit(g, 0xC7);
        emit(g, 0x4E), emit(g, (uint8_t)off); /* /1, [R14 + off] */
        break;
    }
    case 5: /* PUSH imm; POPF; PUSHF; POP r (arithmetic flags and DF only) */
        if (below(g, 4) == 0)
            emit(g, 0x66), emit(g, 0x68), emit(g, (uint8_t)(rnd(g) & 0xD5)),
                emit(g, (uint8_t)(rnd(g) & 0x0C)), emit(g, 0x66), emit(g, 0x9D);
        else
            emit(g, 0x68), emit32(g, (uint32_t)(rnd(g) & 0xCD5)), emit(g, 0x9D);
        emit(g, 0x9C);
        {
            unsigned r = dst_reg(g);
            if (r >= 8)
                emit(g, 0x41);
            emit(g, (uint8_t)(0x58 | (r & 7)));
        }
        break;
    case 6: { /* gone in 64-bit mode: #UD (62 is EVEX and C4/C5 VEX on hosts with them) */
        static const uint8_t ops[] = {0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F,
                                      0x37, 0x3F, 0x60, 0x61, 0x82, 0x9A, 0xCE, 0xD4, 0xD5,
                                      0xD6, 0xEA};
        emit(g, ops[below(g, sizeof ops)]);
        for (unsigned i = 0; i < 6; i++)
            emit(g, (uint8_t)rnd(g));
        break;
    }
    default: { /* CBW..CQO, XCHG r, rAX (90+r with REX.B is not NOP), NOP forms, PAUSE */
        unsigned k = below(g, 5);
        if (k == 0) {
            static const uint8_t p[] = {0x66, 0x00, 0x48};
            uint8_t x = p[below(g, 3)];
            if (x)
                emit(g, x);
            emit(g, below(g, 2) ? 0x98 : 0x99);
        } else if (k == 1) {
            unsigned r = below(g, 16);
            if (r == 4)
                r = 12;
            prefix(g, below(g, 3) ? 8 : below(g, 2) ? 4 : 2, 0, r, false);
            emit(g, (uint8_t)(0x90 | (r & 7)));
        } else if (k == 2) {
            emit(g, 0x66), emit(g, 0x90);
        } else if (k == 3) {
            emit(g, 0xF3), emit(g, 0x90);
        } else {
            prefix(g, below(g, 2) ? 8 : 4, 0, BASE_REG, false);
            emit(g, 0x0F), emit(g, 0x1F);
            modrm(g, 0, BASE_REG, true);
        }
        break;
    }
    }
}

/* ---- x87 in 64-bit mode ----
 * FNINIT, loads of every width through the 64-bit addressing forms, some
 * arithmetic, stores of every width, FNSTSW AX, FNSTCW and FNSTENV (its
 * instruction and data pointers are the host process's own: not compared). */
static void gen_x87(struct gen *g)
{
    static const uint8_t loads[][3] = {{0xD9, 0, 4}, {0xDD, 0, 8}, {0xDB, 5, 10},
                                       {0xDF, 0, 2}, {0xDB, 0, 4}, {0xDF, 5, 8}};
    static const uint8_t stores[][3] = {{0xD9, 3, 4}, {0xDD, 3, 8}, {0xDB, 7, 10}, {0xDF, 3, 2},
                                        {0xDB, 3, 4}, {0xDF, 7, 8}, {0xDF, 1, 2}, {0xDB, 1, 4},
                                        {0xDD, 1, 8}, {0xD9, 2, 4}, {0xDD, 2, 8}};
    static const uint8_t ops1[] = {0xE0, 0xE1, 0xE4, 0xE5, 0xE8, 0xE9, 0xEA, 0xEB,
                                   0xEC, 0xED, 0xEE, 0xFA, 0xFC, 0xF8, 0xF5, 0xFD};
    struct cd64_in *in = g->in;
    in->data_len = CD64_DATA_MAX;
    for (unsigned i = 0; i < CD64_DATA_MAX; i += 16)
        value16(g, in->data + i);
    g->fmask = FL_DEFINED;
    emit(g, 0xDB), emit(g, 0xE3); /* FNINIT */
    unsigned nl = 1 + below(g, 2);
    for (unsigned i = 0; i < nl; i++) {
        unsigned j = below(g, 6);
        insn64(g, 0, false, 0, loads[j][0], loads[j][1], -1, 16 * (int)below(g, 8), below(g, 2),
               -1);
    }
    for (unsigned i = 0, n = below(g, 3); i < n; i++) {
        unsigned k = below(g, 4);
        if (k == 0) /* D8/DC /0-7 m32/m64 */
            insn64(g, 0, false, 0, below(g, 2) ? 0xD8 : 0xDC, below(g, 8), -1,
                   16 * (int)below(g, 8), false, -1);
        else if (k == 1) /* DE C1+8i, register pops; D8 st, st(i) */
            emit(g, below(g, 2) ? 0xDE : 0xD8), emit(g, (uint8_t)(0xC0 + 8 * below(g, 8) + 1));
        else if (k == 2)
            emit(g, 0xD9), emit(g, ops1[below(g, sizeof ops1)]);
        else /* FCOMI / FUCOMI: flags */
            emit(g, 0xDB), emit(g, (uint8_t)((below(g, 2) ? 0xE8 : 0xF0) + below(g, 2)));
    }
    for (unsigned i = 0, n = 1 + below(g, 2); i < n; i++) {
        unsigned j = below(g, sizeof stores / sizeof stores[0]);
        insn64(g, 0, false, 0, stores[j][0], stores[j][1], -1, D_STORE + 16 * (int)i, below(g, 2),
               -1);
    }
    if (below(g, 3) == 0) {
        insn64(g, 0, false, 0, 0xD9, 6, -1, D_OUT, false, -1); /* FNSTENV m28 */
        g->ign[0].off = (uint16_t)(CD64_DATA_AT + D_OUT + 12), g->ign[0].len = 16;
    } else {
        insn64(g, 0, false, 0, 0xD9, 7, -1, D_OUT, false, -1); /* FNSTCW */
    }
    emit(g, 0xDF), emit(g, 0xE0); /* FNSTSW AX */
}

/* The integer mix: ALU, unary, INC/DEC and shifts, moves, conditions and the stack, bits,
 * strings, any of them with LOCK now and then. */
static void gen_int(struct gen *g)
{
    if (below(g, 6) == 0)
        emit(g, 0xF0); /* LOCK: legal on a memory destination of the lockable ones, else #UD */
    switch (below(g, 7)) {
    case 6: gen_string(g); break;
    case 5: gen_bits(g); break;
    case 0: gen_alu(g); break;
    case 1: gen_unary(g); break;
    case 2: gen_incdec_shift(g); break;
    case 3: gen_moves(g); break;
    default: gen_cond_stack(g); break;
    }
}

static const struct {
    const char *name;
    int kind; /* -1: the integer mix, -2 gen_misc, -3 gen_x87, -4 gen_v2int; else gen_sse's kind */
    unsigned cases;
} groups[] = {{"int", -1, 20000},   {"misc", -2, 8000},  {"x87", -3, 6000},
              {"ssefp", 0, 10000},  {"ssefpx", 1, 5000},
              {"sseint", 2, 8000}, {"ssse3", 3, 4000}, {"ssemov", 4, 8000},
              {"ssemmx", 5, 6000}, {"sse4", 6, 10000}, {"v2int", -4, 6000}};

static void gen_case(struct gen *g, struct cd64_in *in, int kind)
{
    memset(in, 0, sizeof *in);
    g->p = in->code;
    g->n = 0;
    g->avoid = 0;
    memset(g->ign, 0, sizeof g->ign);
    for (int i = 0; i < 16; i++)
        in->gpr[i] = rand_value(g);
    in->gpr[4] = CD64_WIN + 0xC00;
    in->gpr[BASE_REG] = CD64_WIN + CD64_DATA_AT;
    in->rflags = 0x202 | (rnd(g) & FL_DEFINED);
    in->seed = (uint32_t)rnd(g);
    g->in = in;
    if (kind == -1)
        gen_int(g);
    else if (kind == -2)
        gen_misc(g);
    else if (kind == -3)
        gen_x87(g);
    else if (kind == -4)
        for (unsigned i = 0, n = 1 + below(g, 3); i < n; i++)
            gen_v2int(g);
    else
        gen_sse(g, (unsigned)kind);
    in->code_len = g->n;
}

/* ---- the native side ---- */

static int host_run(struct runner *r, const struct cd64_in *in, struct cd64_out *out)
{
    if (fwrite(in, sizeof *in, 1, r->to) != 1 || fflush(r->to) != 0)
        return -1;
    return fread(out, sizeof *out, 1, r->from) == 1 ? 0 : -1;
}

/* ---- the core ---- */

struct core {
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    uint8_t *win, *code, *ctl, *pt;
    struct cpu_state base;
};

#define CTL_GDT 0x000
#define CTL_IDT 0x100 /* 32 gates of 16 bytes */
#define CTL_TSS 0x300
#define CTL_HLT 0x380
#define CTL_STACK 0x1000
#define NVEC 32

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void core_tables(struct core *k)
{
    put64(k->ctl + CTL_GDT + 0x08, 0x00AF9B000000FFFFull); /* ring-0 64-bit code */
    put64(k->ctl + CTL_GDT + 0x10, 0x00CF93000000FFFFull);
    put64(k->ctl + CTL_GDT + 0x28, 0x00CFF3000000FFFFull); /* 0x2B: user data */
    put64(k->ctl + CTL_GDT + 0x30, 0x00AFFB000000FFFFull); /* 0x33: user 64-bit code */
    put64(k->ctl + CTL_TSS + 4, K_CTL + CTL_STACK);        /* RSP0 */
    for (unsigned v = 0; v < NVEC; v++) {
        uint64_t off = K_CTL + CTL_HLT + v;
        uint8_t *gt = k->ctl + CTL_IDT + 16 * v;
        put64(gt, (off & 0xFFFF) | 0x08ull << 16 | 0x8E00ull << 32 | (off >> 16 & 0xFFFF) << 48);
        put64(gt + 8, off >> 32);
        k->ctl[CTL_HLT + v] = 0xF4;
    }
    put64(k->pt, K_PT + 0x1000 + 7);                         /* PML4[0] */
    put64(k->pt + 0x1000, K_PT + 0x2000 + 7);                /* PDPT[0] */
    put64(k->pt + 0x2000 + 8 * (CD64_WIN >> 21), CD64_WIN | 0x87); /* window and code */
    put64(k->pt + 0x2000 + 8 * (K_CTL >> 21), K_CTL | 0x87);       /* tables */
    put64(k->pt + 0x2000 + 8 * (K_PT >> 21), K_PT | 0x87);
}

static int core_new(struct core *k)
{
    memset(k, 0, sizeof *k);
    k->bus = bus_new();
    k->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    k->win = calloc(1, 4096);
    k->code = calloc(1, 4096);
    k->ctl = calloc(1, 4096);
    k->pt = calloc(1, 3 * 4096);
    if (!k->bus || !k->clock || !k->win || !k->code || !k->ctl || !k->pt ||
        bus_map_ram(k->bus, CD64_WIN, 4096, k->win, false, "window") < 0 ||
        bus_map_ram(k->bus, CD64_CODE, 4096, k->code, false, "code") < 0 ||
        bus_map_ram(k->bus, K_CTL, 4096, k->ctl, false, "tables") < 0 ||
        bus_map_ram(k->bus, K_PT, 3 * 4096, k->pt, false, "paging") < 0)
        return -1;
    struct error err = {0};
    struct cpu_hooks hooks = {0};
    k->cpu = cpu_create(CPU_SOFT, k->bus, k->clock, &hooks, &err);
    if (!k->cpu)
        return -1;
    core_tables(k);
    struct cpu_state *s = &k->base;
    cpu_get_state(k->cpu, s);
    s->cr0 = 0x80000033;
    s->cr4 = 0x620;
    s->cr3 = K_PT;
    s->msr.efer = 0x500;
    s->seg[SEG_CS] = (struct cpu_segment){0x33, 0xA0FB, 0xFFFFFFFFu, 0};
    s->seg[SEG_SS] = (struct cpu_segment){0x2B, 0xC0F3, 0xFFFFFFFFu, 0};
    s->seg[SEG_DS] = s->seg[SEG_ES] = s->seg[SEG_SS];
    s->seg[SEG_FS] = s->seg[SEG_GS] = (struct cpu_segment){0, 0, 0, 0};
    s->gdt = (struct cpu_dtable){K_CTL + CTL_GDT, 0x3F};
    s->idt = (struct cpu_dtable){K_CTL + CTL_IDT, 16 * NVEC - 1};
    s->tr = (struct cpu_segment){0x40, 0x8B, 0x67, K_CTL + CTL_TSS};
    s->ldt = (struct cpu_segment){0, 0, 0, 0};
    return 0;
}

static void core_free(struct core *k)
{
    cpu_free(k->cpu);
    bus_free(k->bus);
    clock_free(k->clock);
    free(k->win);
    free(k->code);
    free(k->ctl);
    free(k->pt);
}

static bool has_err_code(int v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

static void core_run(struct core *k, const struct cd64_in *in, struct cd64_out *out)
{
    memset(out, 0, sizeof *out);
    cd64_fill(in, k->win);
    memset(k->code, 0, 4096);
    memcpy(k->code, in->code, in->code_len);
    k->code[in->code_len] = 0x0F, k->code[in->code_len + 1] = 0x0B; /* UD2: the end */
    bus_notify_written(k->bus, CD64_CODE, 4096);
    struct cpu_state st = k->base;
    memcpy(st.gpr, in->gpr, sizeof st.gpr);
    st.rflags = in->rflags;
    st.rip = CD64_CODE;
    st.halted = false;
    cpu_set_state(k->cpu, &st);
    enum cpu_exit e = cpu_run(k->cpu, clock_now_ns(k->clock) + 2000000);
    cpu_get_state(k->cpu, &st);
    memcpy(out->gpr, st.gpr, sizeof out->gpr);
    uint64_t hlt_at = K_CTL + CTL_HLT + 1, rsp = st.gpr[4];
    out->vector = -2;
    out->rip = st.rip;
    int v = (int)(st.rip - hlt_at), h = v >= 0 && v < NVEC && has_err_code(v);
    if (e == CPU_EXIT_HALT && st.rip >= hlt_at && st.rip < hlt_at + NVEC && rsp >= K_CTL + 0x800 &&
        rsp <= K_CTL + CTL_STACK - 8 * (5 + h)) {
        uint64_t f[6] = {0};
        memcpy(f, k->ctl + (rsp - K_CTL), 8 * (5 + (size_t)h)); /* [err] RIP CS RFLAGS RSP SS */
        out->vector = v;
        out->err = h ? (uint32_t)f[0] : 0;
        out->rip = f[h];
        out->rflags = f[h + 2] & ~0x10000ull;
        out->gpr[4] = f[h + 3];
        if (v == 6 && out->rip == CD64_CODE + in->code_len)
            out->vector = -1;
    }
    memcpy(out->mem, k->win, CD64_WIN_SIZE);
}

/* ---- comparison ---- */

static bool ignored(const struct gen *g, unsigned off)
{
    for (unsigned i = 0; i < sizeof g->ign / sizeof g->ign[0]; i++)
        if (off >= g->ign[i].off && off < (unsigned)g->ign[i].off + g->ign[i].len)
            return true;
    return false;
}

static int compare(const struct gen *g, const struct cd64_out *h, const struct cd64_out *c,
                   char *why, size_t n)
{
    if (h->vector != c->vector)
        return snprintf(why, n, "vector host %d core %d (core rip %llx)", h->vector, c->vector,
                        (unsigned long long)c->rip), 1;
    if (h->vector >= 0 && (h->rip != c->rip || (h->vector != 14 && h->err != c->err)))
        return snprintf(why, n, "fault rip/err host %llx/%x core %llx/%x",
                        (unsigned long long)h->rip, h->err, (unsigned long long)c->rip, c->err), 1;
    for (int i = 0; i < 16; i++)
        if (h->gpr[i] != c->gpr[i])
            return snprintf(why, n, "r%d host %016llx core %016llx", i,
                            (unsigned long long)h->gpr[i], (unsigned long long)c->gpr[i]), 1;
    uint64_t m = 0x600 | g->fmask; /* IF DF and the flags the case defines */
    if ((h->rflags ^ c->rflags) & m)
        return snprintf(why, n, "rflags host %llx core %llx (compared %llx)",
                        (unsigned long long)h->rflags, (unsigned long long)c->rflags,
                        (unsigned long long)m), 1;
    for (unsigned i = 0; i < CD64_WIN_SIZE; i++)
        if (h->mem[i] != c->mem[i] && !ignored(g, i))
            return snprintf(why, n, "memory at %x: host %02x core %02x", CD64_WIN + i, h->mem[i],
                            c->mem[i]), 1;
    return 0;
}

static void describe(const struct cd64_in *in, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "code");
    for (unsigned i = 0; i < in->code_len && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, " %02x", in->code[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cpudiff64 RUNNER [--seed N] [--scale PERCENT] [--group NAME]\n");
        return 64;
    }
    uint64_t seed = 1;
    unsigned scale = 100;
    const char *only = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--scale"))
            scale = (unsigned)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--group"))
            only = argv[i + 1];
    }
    if (access(argv[1], X_OK) != 0) {
        printf("SKIP cpu/diff64: runner %s not built\n", argv[1]);
        return 0;
    }
    struct runner r;
    struct core k;
    if (runner_start(&r, argv[1]) < 0 || core_new(&k) < 0) {
        printf("FAIL cpu/diff64: cannot start the runner or the core\n");
        return 1;
    }
    static struct cd64_in in;
    static struct cd64_out h, c;
    char why[256], what[600];
    for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++) {
        if (only && strcmp(only, groups[gi].name) != 0)
            continue;
        struct gen g = {.x = (seed + 0x1000 * gi) * 0x9E3779B97F4A7C15ull | 1};
        unsigned bad = 0, faults = 0, cases = groups[gi].cases * scale / 100;
        for (unsigned i = 0; i < cases; i++) {
            gen_case(&g, &in, groups[gi].kind);
            if (host_run(&r, &in, &h) < 0) {
                printf("FAIL cpu/diff64/%s: the runner died at case %u\n", groups[gi].name, i);
                return 1;
            }
            core_run(&k, &in, &c);
            faults += h.vector >= 0;
            if (compare(&g, &h, &c, why, sizeof why) && bad++ < 5) {
                describe(&in, what, sizeof what);
                fprintf(stderr, "%s case %u [%s]: %s\n", groups[gi].name, i, what, why);
            }
        }
        if (bad)
            printf("FAIL cpu/diff64/%s: %u of %u cases differ (seed %llu; first ones on stderr)\n",
                   groups[gi].name, bad, cases, (unsigned long long)seed);
        else
            printf("PASS cpu/diff64/%s: %u cases in 64-bit mode (%u raise an exception), "
                   "0 mismatches\n", groups[gi].name, cases, faults);
    }
    runner_stop(&r);
    core_free(&k);
    return 0;
}
