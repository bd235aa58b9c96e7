/*
 * SSE, SSE2, SSE3 and SSSE3 instructions of the software core (32-bit
 * modes; the register numbering is ready for XMM8..15). One table per
 * opcode map gives each (opcode, mandatory prefix none/66/F3/F2) its form:
 * which handler runs it, the kinds of its destination and source (xmm, mm,
 * r32, EFLAGS), the size of its memory operand and whether that must be
 * 16-byte aligned, whether it is floating point (MXCSR exceptions) and
 * whether only the register or only the memory form exists. Every
 * instruction that computes runs on the host (cpu/sse.c); moves, shuffles
 * with an immediate, PINSRW/PEXTRW, PALIGNR, the byte shifts and the masked
 * stores are done here in C. Faults, in the order the hardware checks
 * them: #UD (CR0.EM, CR4.OSFXSR for xmm forms, missing form), #NM
 * (CR0.TS), #MF (pending x87 exception, mm forms), #GP(0) for a misaligned
 * 16-byte operand, then the segment and page faults of the access, then
 * an unmasked SIMD floating-point exception: #XM with CR4.OSXMMEXCPT, else
 * #UD, with MXCSR flagged and the destination left as it was. Also
 * LDMXCSR/STMXCSR, the fences, CLFLUSH and the MXCSR/XMM part of
 * FXSAVE/FXRSTOR.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/sse4.h"

/* Operand kinds. */
enum { O_NONE, O_X, O_M, O_R, O_F };

/* Form flags. */
#define F_A 0x01u  /* a 16-byte memory operand must be aligned */
#define F_FP 0x02u /* SIMD floating point: runs under MXCSR, may raise #XM */
#define F_MO 0x04u /* memory form only */
#define F_RO 0x08u /* register form only */

enum {
    H_UD, H_HOST, H_LOAD, H_STORE, H_MOVS_LOAD, H_MOVS_STORE, H_MOVLH, H_MOVQ2DQ, H_MOVDQ2Q,
    H_MOVNTQ, H_MOVNTI, H_PSHUF, H_SHIFT_IMM, H_PINSRW, H_PEXTRW, H_SHUFP, H_MASKMOV, H_PALIGNR,
    H_COUNT
};

struct form {
    uint8_t h;        /* H_* */
    uint8_t dst, src; /* O_*: reg field and r/m field (stores: r/m is dst) */
    uint8_t msize;    /* bytes of the memory operand */
    uint8_t fl;       /* F_* */
};

#define UD {H_UD, 0, 0, 0, 0}
#define HX(sz, fl) {H_HOST, O_X, O_X, sz, fl}
#define HM {H_HOST, O_M, O_M, 8, 0}
#define PS4 HX(16, F_A | F_FP), HX(16, F_A | F_FP), HX(4, F_FP), HX(8, F_FP) /* xxPS xxPD xxSS xxSD */
#define INT66 UD, HX(16, F_A), UD, UD     /* SSE2 integer: 66 only (none is MMX) */
#define INTMM HM, HX(16, F_A), UD, UD     /* SSE/SSE2 integer with an mm form too */
#define LOGIC HX(16, F_A), HX(16, F_A), UD, UD

/* The 0F map, columns none / 66 / F3 / F2. */
static const struct form tab_0f[256][4] = {
    /* 10 MOVUPS MOVUPD MOVSS MOVSD V,W */
    [0x10] = {{H_LOAD, O_X, O_X, 16, 0}, {H_LOAD, O_X, O_X, 16, 0},
              {H_MOVS_LOAD, O_X, O_X, 4, 0}, {H_MOVS_LOAD, O_X, O_X, 8, 0}},
    /* 11 MOVUPS MOVUPD MOVSS MOVSD W,V */
    [0x11] = {{H_STORE, O_X, O_X, 16, 0}, {H_STORE, O_X, O_X, 16, 0},
              {H_MOVS_STORE, O_X, O_X, 4, 0}, {H_MOVS_STORE, O_X, O_X, 8, 0}},
    /* 12 MOVLPS/MOVHLPS MOVLPD MOVSLDUP MOVDDUP */
    [0x12] = {{H_MOVLH, O_X, O_X, 8, 0}, {H_MOVLH, O_X, O_X, 8, F_MO}, HX(16, F_A), HX(8, 0)},
    /* 13 MOVLPS MOVLPD Mq,V */
    [0x13] = {{H_MOVLH, O_X, O_X, 8, F_MO}, {H_MOVLH, O_X, O_X, 8, F_MO}, UD, UD},
    /* 14 UNPCKLPS UNPCKLPD */
    [0x14] = {LOGIC},
    /* 15 UNPCKHPS UNPCKHPD */
    [0x15] = {LOGIC},
    /* 16 MOVHPS/MOVLHPS MOVHPD MOVSHDUP */
    [0x16] = {{H_MOVLH, O_X, O_X, 8, 0}, {H_MOVLH, O_X, O_X, 8, F_MO}, HX(16, F_A), UD},
    /* 17 MOVHPS MOVHPD Mq,V */
    [0x17] = {{H_MOVLH, O_X, O_X, 8, F_MO}, {H_MOVLH, O_X, O_X, 8, F_MO}, UD, UD},
    /* 28 MOVAPS MOVAPD V,W */
    [0x28] = {{H_LOAD, O_X, O_X, 16, F_A}, {H_LOAD, O_X, O_X, 16, F_A}, UD, UD},
    /* 29 MOVAPS MOVAPD W,V */
    [0x29] = {{H_STORE, O_X, O_X, 16, F_A}, {H_STORE, O_X, O_X, 16, F_A}, UD, UD},
    /* 2A CVTPI2PS CVTPI2PD CVTSI2SS CVTSI2SD */
    [0x2A] = {{H_HOST, O_X, O_M, 8, F_FP}, {H_HOST, O_X, O_M, 8, F_FP},
              {H_HOST, O_X, O_R, 4, F_FP}, {H_HOST, O_X, O_R, 4, F_FP}},
    /* 2B MOVNTPS MOVNTPD M,V */
    [0x2B] = {{H_STORE, O_X, O_X, 16, F_A | F_MO}, {H_STORE, O_X, O_X, 16, F_A | F_MO}, UD, UD},
    /* 2C CVTTPS2PI CVTTPD2PI CVTTSS2SI CVTTSD2SI */
    [0x2C] = {{H_HOST, O_M, O_X, 8, F_FP}, {H_HOST, O_M, O_X, 16, F_A | F_FP},
              {H_HOST, O_R, O_X, 4, F_FP}, {H_HOST, O_R, O_X, 8, F_FP}},
    /* 2D CVTPS2PI CVTPD2PI CVTSS2SI CVTSD2SI */
    [0x2D] = {{H_HOST, O_M, O_X, 8, F_FP}, {H_HOST, O_M, O_X, 16, F_A | F_FP},
              {H_HOST, O_R, O_X, 4, F_FP}, {H_HOST, O_R, O_X, 8, F_FP}},
    /* 2E UCOMISS UCOMISD */
    [0x2E] = {{H_HOST, O_F, O_X, 4, F_FP}, {H_HOST, O_F, O_X, 8, F_FP}, UD, UD},
    /* 2F COMISS COMISD */
    [0x2F] = {{H_HOST, O_F, O_X, 4, F_FP}, {H_HOST, O_F, O_X, 8, F_FP}, UD, UD},
    /* 50 MOVMSKPS MOVMSKPD Gd,U */
    [0x50] = {{H_HOST, O_R, O_X, 0, F_RO}, {H_HOST, O_R, O_X, 0, F_RO}, UD, UD},
    /* 51 SQRTPS SQRTPD SQRTSS SQRTSD */
    [0x51] = {PS4},
    /* 52 RSQRTPS RSQRTSS */
    [0x52] = {HX(16, F_A | F_FP), UD, HX(4, F_FP), UD},
    /* 53 RCPPS RCPSS */
    [0x53] = {HX(16, F_A | F_FP), UD, HX(4, F_FP), UD},
    /* 54 ANDPS ANDPD */
    [0x54] = {LOGIC},
    /* 55 ANDNPS ANDNPD */
    [0x55] = {LOGIC},
    /* 56 ORPS ORPD */
    [0x56] = {LOGIC},
    /* 57 XORPS XORPD */
    [0x57] = {LOGIC},
    /* 58 ADDPS ADDPD ADDSS ADDSD */
    [0x58] = {PS4},
    /* 59 MULPS MULPD MULSS MULSD */
    [0x59] = {PS4},
    /* 5A CVTPS2PD CVTPD2PS CVTSS2SD CVTSD2SS */
    [0x5A] = {HX(8, F_FP), HX(16, F_A | F_FP), HX(4, F_FP), HX(8, F_FP)},
    /* 5B CVTDQ2PS CVTPS2DQ CVTTPS2DQ */
    [0x5B] = {HX(16, F_A | F_FP), HX(16, F_A | F_FP), HX(16, F_A | F_FP), UD},
    /* 5C SUBPS SUBPD SUBSS SUBSD */
    [0x5C] = {PS4},
    /* 5D MINPS MINPD MINSS MINSD */
    [0x5D] = {PS4},
    /* 5E DIVPS DIVPD DIVSS DIVSD */
    [0x5E] = {PS4},
    /* 5F MAXPS MAXPD MAXSS MAXSD */
    [0x5F] = {PS4},
    /* 60 PUNPCKLBW */ [0x60] = {INT66},
    /* 61 PUNPCKLWD */ [0x61] = {INT66},
    /* 62 PUNPCKLDQ */ [0x62] = {INT66},
    /* 63 PACKSSWB */ [0x63] = {INT66},
    /* 64 PCMPGTB */ [0x64] = {INT66},
    /* 65 PCMPGTW */ [0x65] = {INT66},
    /* 66 PCMPGTD */ [0x66] = {INT66},
    /* 67 PACKUSWB */ [0x67] = {INT66},
    /* 68 PUNPCKHBW */ [0x68] = {INT66},
    /* 69 PUNPCKHWD */ [0x69] = {INT66},
    /* 6A PUNPCKHDQ */ [0x6A] = {INT66},
    /* 6B PACKSSDW */ [0x6B] = {INT66},
    /* 6C PUNPCKLQDQ */ [0x6C] = {INT66},
    /* 6D PUNPCKHQDQ */ [0x6D] = {INT66},
    /* 6E MOVD V,Ed (66) */
    [0x6E] = {UD, {H_LOAD, O_X, O_R, 4, 0}, UD, UD},
    /* 6F MOVDQA MOVDQU V,W */
    [0x6F] = {UD, {H_LOAD, O_X, O_X, 16, F_A}, {H_LOAD, O_X, O_X, 16, 0}, UD},
    /* 70 PSHUFW PSHUFD PSHUFHW PSHUFLW Ib */
    [0x70] = {{H_PSHUF, O_M, O_M, 8, 0}, {H_PSHUF, O_X, O_X, 16, F_A},
              {H_PSHUF, O_X, O_X, 16, F_A}, {H_PSHUF, O_X, O_X, 16, F_A}},
    /* 71 Grp12 PSRLW PSRAW PSLLW U,Ib (66) */
    [0x71] = {UD, {H_SHIFT_IMM, O_X, O_X, 0, F_RO}, UD, UD},
    /* 72 Grp13 PSRLD PSRAD PSLLD U,Ib (66) */
    [0x72] = {UD, {H_SHIFT_IMM, O_X, O_X, 0, F_RO}, UD, UD},
    /* 73 Grp14 PSRLQ PSRLDQ PSLLQ PSLLDQ U,Ib (66) */
    [0x73] = {UD, {H_SHIFT_IMM, O_X, O_X, 0, F_RO}, UD, UD},
    /* 74 PCMPEQB */ [0x74] = {INT66},
    /* 75 PCMPEQW */ [0x75] = {INT66},
    /* 76 PCMPEQD */ [0x76] = {INT66},
    /* 7C HADDPD HADDPS */
    [0x7C] = {UD, HX(16, F_A | F_FP), UD, HX(16, F_A | F_FP)},
    /* 7D HSUBPD HSUBPS */
    [0x7D] = {UD, HX(16, F_A | F_FP), UD, HX(16, F_A | F_FP)},
    /* 7E MOVD Ed,V (66) MOVQ V,Wq (F3) */
    [0x7E] = {UD, {H_STORE, O_R, O_X, 4, 0}, {H_LOAD, O_X, O_X, 8, 0}, UD},
    /* 7F MOVDQA MOVDQU W,V */
    [0x7F] = {UD, {H_STORE, O_X, O_X, 16, F_A}, {H_STORE, O_X, O_X, 16, 0}, UD},
    /* C2 CMPPS CMPPD CMPSS CMPSD Ib */
    [0xC2] = {PS4},
    /* C3 MOVNTI Md,Gd */
    [0xC3] = {{H_MOVNTI, O_R, O_R, 4, F_MO}, UD, UD, UD},
    /* C4 PINSRW P/V,Ew,Ib */
    [0xC4] = {{H_PINSRW, O_M, O_R, 2, 0}, {H_PINSRW, O_X, O_R, 2, 0}, UD, UD},
    /* C5 PEXTRW Gd,N/U,Ib */
    [0xC5] = {{H_PEXTRW, O_R, O_M, 0, F_RO}, {H_PEXTRW, O_R, O_X, 0, F_RO}, UD, UD},
    /* C6 SHUFPS SHUFPD Ib */
    [0xC6] = {{H_SHUFP, O_X, O_X, 16, F_A}, {H_SHUFP, O_X, O_X, 16, F_A}, UD, UD},
    /* D0 ADDSUBPD ADDSUBPS */
    [0xD0] = {UD, HX(16, F_A | F_FP), UD, HX(16, F_A | F_FP)},
    /* D1 PSRLW */ [0xD1] = {INT66},
    /* D2 PSRLD */ [0xD2] = {INT66},
    /* D3 PSRLQ */ [0xD3] = {INT66},
    /* D4 PADDQ */ [0xD4] = {INTMM},
    /* D5 PMULLW */ [0xD5] = {INT66},
    /* D6 MOVQ Wq,V (66) MOVQ2DQ V,N (F3) MOVDQ2Q P,U (F2) */
    [0xD6] = {UD, {H_STORE, O_X, O_X, 8, 0}, {H_MOVQ2DQ, O_X, O_M, 0, F_RO},
              {H_MOVDQ2Q, O_M, O_X, 0, F_RO}},
    /* D7 PMOVMSKB Gd,N/U */
    [0xD7] = {{H_HOST, O_R, O_M, 0, F_RO}, {H_HOST, O_R, O_X, 0, F_RO}, UD, UD},
    /* D8 PSUBUSB */ [0xD8] = {INT66},
    /* D9 PSUBUSW */ [0xD9] = {INT66},
    /* DA PMINUB */ [0xDA] = {INTMM},
    /* DB PAND */ [0xDB] = {INT66},
    /* DC PADDUSB */ [0xDC] = {INT66},
    /* DD PADDUSW */ [0xDD] = {INT66},
    /* DE PMAXUB */ [0xDE] = {INTMM},
    /* DF PANDN */ [0xDF] = {INT66},
    /* E0 PAVGB */ [0xE0] = {INTMM},
    /* E1 PSRAW */ [0xE1] = {INT66},
    /* E2 PSRAD */ [0xE2] = {INT66},
    /* E3 PAVGW */ [0xE3] = {INTMM},
    /* E4 PMULHUW */ [0xE4] = {INTMM},
    /* E5 PMULHW */ [0xE5] = {INT66},
    /* E6 CVTTPD2DQ (66) CVTDQ2PD (F3) CVTPD2DQ (F2) */
    [0xE6] = {UD, HX(16, F_A | F_FP), HX(8, F_FP), HX(16, F_A | F_FP)},
    /* E7 MOVNTQ MOVNTDQ M,P/V */
    [0xE7] = {{H_MOVNTQ, O_M, O_M, 8, F_MO}, {H_STORE, O_X, O_X, 16, F_A | F_MO}, UD, UD},
    /* E8 PSUBSB */ [0xE8] = {INT66},
    /* E9 PSUBSW */ [0xE9] = {INT66},
    /* EA PMINSW */ [0xEA] = {INTMM},
    /* EB POR */ [0xEB] = {INT66},
    /* EC PADDSB */ [0xEC] = {INT66},
    /* ED PADDSW */ [0xED] = {INT66},
    /* EE PMAXSW */ [0xEE] = {INTMM},
    /* EF PXOR */ [0xEF] = {INT66},
    /* F0 LDDQU V,M (F2) */
    [0xF0] = {UD, UD, UD, {H_LOAD, O_X, O_X, 16, F_MO}},
    /* F1 PSLLW */ [0xF1] = {INT66},
    /* F2 PSLLD */ [0xF2] = {INT66},
    /* F3 PSLLQ */ [0xF3] = {INT66},
    /* F4 PMULUDQ */ [0xF4] = {INTMM},
    /* F5 PMADDWD */ [0xF5] = {INT66},
    /* F6 PSADBW */ [0xF6] = {INTMM},
    /* F7 MASKMOVQ MASKMOVDQU */
    [0xF7] = {{H_MASKMOV, O_M, O_M, 0, F_RO}, {H_MASKMOV, O_X, O_X, 0, F_RO}, UD, UD},
    /* F8 PSUBB */ [0xF8] = {INT66},
    /* F9 PSUBW */ [0xF9] = {INT66},
    /* FA PSUBD */ [0xFA] = {INT66},
    /* FB PSUBQ */ [0xFB] = {INTMM},
    /* FC PADDB */ [0xFC] = {INT66},
    /* FD PADDW */ [0xFD] = {INT66},
    /* FE PADDD */ [0xFE] = {INT66},
};

/* The 0F 38 map (SSSE3), 00..1F; the rest is invalid. */
static const struct form tab_38[32][4] = {
    /* 00 PSHUFB */ [0x00] = {INTMM},
    /* 01 PHADDW */ [0x01] = {INTMM},
    /* 02 PHADDD */ [0x02] = {INTMM},
    /* 03 PHADDSW */ [0x03] = {INTMM},
    /* 04 PMADDUBSW */ [0x04] = {INTMM},
    /* 05 PHSUBW */ [0x05] = {INTMM},
    /* 06 PHSUBD */ [0x06] = {INTMM},
    /* 07 PHSUBSW */ [0x07] = {INTMM},
    /* 08 PSIGNB */ [0x08] = {INTMM},
    /* 09 PSIGNW */ [0x09] = {INTMM},
    /* 0A PSIGND */ [0x0A] = {INTMM},
    /* 0B PMULHRSW */ [0x0B] = {INTMM},
    /* 1C PABSB */ [0x1C] = {INTMM},
    /* 1D PABSW */ [0x1D] = {INTMM},
    /* 1E PABSD */ [0x1E] = {INTMM},
};

/* 0F 3A 0F PALIGNR, the one 0F 3A instruction before SSE4.1. */
static const struct form tab_palignr[4] = {
    {H_PALIGNR, O_M, O_M, 8, 0}, {H_PALIGNR, O_X, O_X, 16, F_A}, UD, UD,
};

/* 0F opcodes in the SSE space (bit per opcode): 10-17 28-2F 50-7F C2-C6 D0-FF. */
static const uint32_t sse_space[8] = {
    0x00FF0000u, 0x0000FF00u, 0xFFFF0000u, 0xFFFFFFFFu, 0, 0, 0xFFFF007Cu, 0xFFFFFFFFu,
};

static unsigned pfx_col(const struct insn *in)
{
    if (in->pfx & P_REP)
        return SSE_PFX_F3;
    if (in->pfx & P_REPNE)
        return SSE_PFX_F2;
    return (in->pfx & P_66) ? SSE_PFX_66 : SSE_PFX_NONE;
}

static const struct form *form_of(const struct insn *in)
{
    unsigned op = in->op, col = pfx_col(in);
    if ((op & 0xF00) == OP_MAP38)
        return (op & 0xFF) < 32 ? &tab_38[op & 0x1F][col] : NULL;
    if ((op & 0xF00) == OP_MAP3A)
        return (op & 0xFF) == 0x0F ? &tab_palignr[col] : NULL;
    return &tab_0f[op & 0xFF][col];
}

/* The 0F-map opcodes this file runs; plain MMX forms (no prefix) stay with exec_mmx. */
bool sse_claims(const struct insn *in)
{
    unsigned op = in->op;
    if (op >= OP_MAP38)
        return true;
    if (op < 0x100 || op > 0x1FF)
        return false;
    op &= 0xFF;
    if (!((sse_space[op >> 5] >> (op & 31)) & 1))
        return false;
    return (in->pfx & (P_66 | P_REP | P_REPNE)) || tab_0f[op][SSE_PFX_NONE].h != H_UD ||
           op < 0x60;
}

/* ---- operands ---- */

static bool has_kind(const struct form *f, unsigned k)
{
    return f->dst == k || f->src == k;
}

static void simd_fault(struct soft *s)
{
    soft_raise_noerr(s, (s->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD);
}

/* #UD, #NM, #MF before anything is read. */
static void sse_check(struct soft *s, const struct form *f)
{
    bool xmm = has_kind(f, O_X), mm = has_kind(f, O_M);
    if ((s->cr0 & CR0_EM) || (xmm && !(s->cr4 & CR4_OSFXSR)))
        soft_raise_noerr(s, EXC_UD);
    if (s->cr0 & CR0_TS)
        soft_raise_noerr(s, EXC_NM);
    if (mm && fpu_pending(s->fpu) && (s->cr0 & CR0_NE))
        soft_raise_noerr(s, EXC_MF);
}

/* Linear address of the memory operand, alignment and segment checked (64-bit mode: canonical). */
uint64_t sse_mem_lin(struct soft *s, const struct insn *in, unsigned n, bool align, unsigned need)
{
    if (in->props & I_LONG) {
        uint64_t lin = insn_lin64(s, in);
        if (align && n == 16 && (lin & 15))
            soft_raise(s, EXC_GP, 0);
        return lin;
    }
    uint32_t ea = insn_ea(s, in);
    if (align && n == 16 && ((s->seg[in->seg].base + ea) & 15))
        soft_raise(s, EXC_GP, 0);
    return seg_lin(s, in->seg, ea, n, need);
}

void sse_lin_load(struct soft *s, uint64_t lin, uint8_t *buf, unsigned n)
{
    for (unsigned i = 0; i < n;) {
        unsigned c = n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint32_t v = vread(s, lin + i, c);
        memcpy(buf + i, &v, c);
        i += c;
    }
}

void sse_lin_store(struct soft *s, uint64_t lin, const uint8_t *buf, unsigned n)
{
    lin_probe_write(s, lin, n, s->cpl == 3);
    for (unsigned i = 0; i < n;) {
        unsigned c = n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
        uint32_t v = 0;
        memcpy(&v, buf + i, c);
        vwrite(s, lin + i, v, c);
        i += c;
    }
}

static void mem_load(struct soft *s, const struct insn *in, const struct form *f, uint8_t *buf)
{
    sse_lin_load(s, sse_mem_lin(s, in, f->msize, f->fl & F_A, SEG_R), buf, f->msize);
}

static void mem_store(struct soft *s, const struct insn *in, const struct form *f,
                      const uint8_t *buf, unsigned n)
{
    sse_lin_store(s, sse_mem_lin(s, in, n, f->fl & F_A, SEG_W), buf, n);
}

/* The r/m operand as 16 bytes (memory: msize bytes, zero-extended). */
static void load_rm(struct soft *s, const struct insn *in, const struct form *f, uint8_t out[16])
{
    memset(out, 0, 16);
    if (is_mem(in)) {
        mem_load(s, in, f, out);
        return;
    }
    uint64_t v;
    uint32_t r32;
    switch (f->src) {
    case O_X: memcpy(out, s->sse.xmm[insn_rm64(in)], 16); break;
    case O_M: v = mmx_reg(s->fpu, insn_rm(in)); memcpy(out, &v, 8); break;
    case O_R: /* REX.W: the whole register (CVTSI2SS/SD r64) */
        if (in->pfx & P_OP64) {
            memcpy(out, &s->r[insn_rm64(in)], 8);
            break;
        }
        r32 = (uint32_t)s->r[insn_rm64(in)];
        memcpy(out, &r32, 4);
        break;
    default: break;
    }
}

/* Accounts the exceptions an FP form raised; faults when one is unmasked (nothing written). */
void sse_fp_commit(struct soft *s, uint32_t raised)
{
    uint32_t unmasked = ~(s->sse.mxcsr >> 7) & MXCSR_FLAGS;
    uint32_t pre = raised & (MXCSR_IE | MXCSR_DE | MXCSR_ZE);
    if (pre & unmasked) {
        s->sse.mxcsr |= pre;
        simd_fault(s);
    }
    s->sse.mxcsr |= raised;
    if (raised & unmasked)
        simd_fault(s);
}

static uint8_t *xreg(struct soft *s, unsigned i)
{
    return s->sse.xmm[i & 15];
}

/* ---- handlers ---- */

static void h_host_at(struct soft *s, const struct insn *in, const struct form *f, uint8_t op)
{
    struct sse_io io;
    uint8_t src[16];
    unsigned reg = insn_reg64(in);
    unsigned map = (in->op & 0xF00) == OP_MAP38 ? SSE_MAP_38 : SSE_MAP_0F;
    bool w64 = (in->pfx & P_OP64) && sse_host_has_w64(map, pfx_col(in), op);
    struct form f64 = *f; /* CVTSI2SS/SD m64 */
    if (w64 && op == 0x2A)
        f64.msize = 8;
    memset(&io, 0, sizeof io);
    load_rm(s, in, &f64, src);
    memcpy(io.x1, src, 16);
    memcpy(&io.m1, src, 8);
    memcpy(&io.r_in, src, w64 ? 8 : 4);
    if (f->dst == O_X || f->dst == O_F) /* COMISS: reg names the first xmm operand */
        memcpy(io.x0, xreg(s, reg), 16);
    else if (f->dst == O_M)
        io.m0 = mmx_reg(s->fpu, reg & 7); /* REX does not extend MMX registers */
    bool mm_regs = f->dst == O_M || (f->src == O_M && !is_mem(in));
    unsigned how = ((f->fl & F_FP) ? SSE_FP : 0) | (has_kind(f, O_M) ? SSE_MM : 0) |
                   (w64 ? SSE_W64 : 0);
    struct sse_io orig = io;
    uint32_t raised = sse_host(map, pfx_col(in), op, (uint8_t)in->imm, &io, s->sse.mxcsr, how);
    if ((f->fl & F_FP) && map == SSE_MAP_0F && f->dst == O_X)
        raised = sse_fp_flags(op, pfx_col(in), &orig, &io, raised, s->sse.mxcsr);
    if (f->fl & F_FP)
        sse_fp_commit(s, raised);
    if (mm_regs)
        mmx_enter(s->fpu);
    switch (f->dst) {
    case O_X: memcpy(xreg(s, reg), io.x0, 16); break;
    case O_M: mmx_set_reg(s->fpu, reg & 7, io.m0); break;
    case O_R: s->r[reg] = io.r_out; break;
    case O_F: flags_set_arith(s, io.eflags & (FL_ZF | FL_PF | FL_CF)); break;
    default: break;
    }
}

static void h_host(struct soft *s, const struct insn *in, const struct form *f)
{
    h_host_at(s, in, f, (uint8_t)in->op);
}

/* MOVUPS MOVAPS MOVDQA MOVDQU LDDQU MOVD MOVQ loads: the source zero-extended from msize. */
static void h_load(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16];
    load_rm(s, in, f, v);
    memset(v + f->msize, 0, 16u - f->msize);
    memcpy(xreg(s, insn_reg64(in)), v, 16);
}

/* The stores: msize bytes of the register to memory, or to the r/m register zero-extended. */
static void h_store(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16] = {0};
    uint32_t r32;
    memcpy(v, xreg(s, insn_reg64(in)), f->msize);
    if (is_mem(in)) {
        mem_store(s, in, f, v, f->msize);
    } else if (f->dst == O_R) {
        memcpy(&r32, v, 4);
        s->r[insn_rm64(in)] = r32; /* zero-extends */
    } else {
        memcpy(xreg(s, insn_rm64(in)), v, 16);
    }
}

/* MOVSS/MOVSD loads: memory zero-extends, a register merges the low element. */
static void h_movs_load(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16];
    load_rm(s, in, f, v);
    uint8_t *d = xreg(s, insn_reg64(in));
    if (is_mem(in))
        memcpy(d, v, 16);
    else
        memcpy(d, v, f->msize);
}

static void h_movs_store(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16];
    memcpy(v, xreg(s, insn_reg64(in)), 16);
    if (is_mem(in))
        mem_store(s, in, f, v, f->msize);
    else
        memcpy(xreg(s, insn_rm64(in)), v, f->msize);
}

/* 0F 12/13/16/17: MOVLPS MOVHLPS MOVLPD, MOVHPS MOVLHPS MOVHPD and their stores. */
static void h_movlh(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t *d = xreg(s, insn_reg64(in));
    bool high = in->op & 4, store = in->op & 1;
    if (store) {
        mem_store(s, in, f, d + (high ? 8 : 0), 8);
        return;
    }
    uint8_t v[16];
    if (is_mem(in)) {
        load_rm(s, in, f, v);
        memcpy(d + (high ? 8 : 0), v, 8);
    } else {
        memcpy(v, xreg(s, insn_rm64(in)), 16);
        memcpy(d + (high ? 8 : 0), v + (high ? 0 : 8), 8); /* MOVLHPS : MOVHLPS */
    }
}

static void h_movq2dq(struct soft *s, const struct insn *in, const struct form *f)
{
    uint64_t v = mmx_reg(s->fpu, insn_rm(in));
    uint8_t *d = xreg(s, insn_reg64(in));
    (void)f;
    mmx_enter(s->fpu);
    memset(d, 0, 16);
    memcpy(d, &v, 8);
}

static void h_movdq2q(struct soft *s, const struct insn *in, const struct form *f)
{
    uint64_t v;
    (void)f;
    memcpy(&v, xreg(s, insn_rm64(in)), 8);
    mmx_enter(s->fpu);
    mmx_set_reg(s->fpu, insn_reg(in), v);
}

static void h_movntq(struct soft *s, const struct insn *in, const struct form *f)
{
    uint64_t v = mmx_reg(s->fpu, insn_reg(in));
    mem_store(s, in, f, (const uint8_t *)&v, 8);
    mmx_enter(s->fpu);
}

static void h_movnti(struct soft *s, const struct insn *in, const struct form *f)
{
    (void)f;
    unsigned n = (in->pfx & P_OP64) ? 8 : 4; /* REX.W: MOVNTI m64, r64 */
    uint64_t v = s->r[insn_reg64(in)];
    sse_lin_store(s, sse_mem_lin(s, in, n, false, SEG_W), (const uint8_t *)&v, n);
}

static uint16_t w16(const uint8_t *p, unsigned i)
{
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
}

/* PSHUFW PSHUFD PSHUFHW PSHUFLW. */
static void h_pshuf(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16], r[16];
    unsigned imm = in->imm & 0xFF, col = pfx_col(in);
    load_rm(s, in, f, v);
    memcpy(r, v, 16);
    for (unsigned i = 0; i < 4; i++) {
        unsigned k = (imm >> (2 * i)) & 3;
        if (col == SSE_PFX_66)
            memcpy(r + 4 * i, v + 4 * k, 4);
        else if (col == SSE_PFX_F3)
            memcpy(r + 8 + 2 * i, v + 8 + 2 * k, 2);
        else
            memcpy(r + 2 * i, v + 2 * k, 2);
    }
    if (col == SSE_PFX_NONE) {
        uint64_t q;
        memcpy(&q, r, 8);
        mmx_enter(s->fpu);
        mmx_set_reg(s->fpu, insn_reg(in), q);
        return;
    }
    memcpy(xreg(s, insn_reg64(in)), r, 16);
}

/* 66 0F 71/72/73 by an immediate: the shift-by-xmm opcode with the count, or the byte shifts. */
static void h_shift_imm(struct soft *s, const struct insn *in, const struct form *f)
{
    static const uint8_t by_xmm[3][8] = {
        {0, 0, 0xD1, 0, 0xE1, 0, 0xF1, 0}, /* 71: PSRLW PSRAW PSLLW */
        {0, 0, 0xD2, 0, 0xE2, 0, 0xF2, 0}, /* 72: PSRLD PSRAD PSLLD */
        {0, 0, 0xD3, 0, 0, 0, 0xF3, 0},    /* 73: PSRLQ PSLLQ (3, 7: PSRLDQ PSLLDQ) */
    };
    unsigned sub = insn_reg(in), n = in->imm & 0xFF;
    uint8_t *d = xreg(s, insn_rm64(in));
    uint8_t op = by_xmm[(in->op & 0xFF) - 0x71][sub];
    if (op) {
        struct sse_io io;
        memset(&io, 0, sizeof io);
        memcpy(io.x0, d, 16);
        io.x1[0] = (uint8_t)n;
        sse_host(SSE_MAP_0F, SSE_PFX_66, op, 0, &io, s->sse.mxcsr, 0);
        memcpy(d, io.x0, 16);
        return;
    }
    if ((in->op & 0xFF) != 0x73 || (sub != 3 && sub != 7))
        soft_raise_noerr(s, EXC_UD);
    uint8_t r[16] = {0};
    for (unsigned i = 0; i < 16; i++) {
        unsigned from = sub == 3 ? i + n : i - n; /* wraps past 15 when out of range */
        if (from < 16)
            r[i] = d[from];
    }
    memcpy(d, r, 16);
    (void)f;
}

static void h_pinsrw(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16];
    load_rm(s, in, f, v);
    if (f->dst == O_M) {
        uint64_t q = mmx_reg(s->fpu, insn_reg(in));
        unsigned sh = 16 * (in->imm & 3);
        q = (q & ~(0xFFFFull << sh)) | (uint64_t)w16(v, 0) << sh;
        mmx_enter(s->fpu);
        mmx_set_reg(s->fpu, insn_reg(in), q);
        return;
    }
    memcpy(xreg(s, insn_reg64(in)) + 2 * (in->imm & 7), v, 2);
}

static void h_pextrw(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16];
    load_rm(s, in, f, v);
    if (f->src == O_M)
        mmx_enter(s->fpu);
    s->r[insn_reg64(in)] = w16(v, in->imm & (f->src == O_M ? 3 : 7));
}

static void h_shufp(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16], r[16];
    uint8_t *d = xreg(s, insn_reg64(in));
    unsigned imm = in->imm & 0xFF;
    load_rm(s, in, f, v);
    if (pfx_col(in) == SSE_PFX_66) {
        memcpy(r, d + 8 * (imm & 1), 8);
        memcpy(r + 8, v + 8 * ((imm >> 1) & 1), 8);
    } else {
        memcpy(r, d + 4 * (imm & 3), 4);
        memcpy(r + 4, d + 4 * ((imm >> 2) & 3), 4);
        memcpy(r + 8, v + 4 * ((imm >> 4) & 3), 4);
        memcpy(r + 12, v + 4 * ((imm >> 6) & 3), 4);
    }
    memcpy(d, r, 16);
}

/* MASKMOVQ / MASKMOVDQU: the bytes whose mask byte has bit 7 set, to DS:(E)DI. */
static void h_maskmov(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t data[16], mask[16];
    unsigned n = f->dst == O_M ? 8 : 16;
    if (n == 8) {
        uint64_t a = mmx_reg(s->fpu, insn_reg(in)), b = mmx_reg(s->fpu, insn_rm(in));
        memcpy(data, &a, 8);
        memcpy(mask, &b, 8);
        mmx_enter(s->fpu);
    } else {
        memcpy(data, xreg(s, insn_reg64(in)), 16);
        memcpy(mask, xreg(s, insn_rm64(in)), 16);
    }
    uint32_t di = (in->pfx & P_ADDR32) ? (uint32_t)s->r[GPR_DI] : s->r[GPR_DI] & 0xFFFF;
    bool any = false;
    for (unsigned i = 0; i < n; i++)
        any |= (mask[i] & 0x80) != 0;
    if (!any)
        return;
    uint64_t lin = (in->props & I_LONG)
                       ? lin64(s, in->seg, (in->props & I_ADDR64) ? s->r[GPR_DI] : di)
                       : seg_lin(s, in->seg, di, n, SEG_W);
    lin_probe_write(s, lin, n, s->cpl == 3);
    for (unsigned i = 0; i < n; i++)
        if (mask[i] & 0x80)
            vwrite(s, lin + i, data[i], 1);
}

static void h_palignr(struct soft *s, const struct insn *in, const struct form *f)
{
    uint8_t v[16], cat[32], r[16] = {0};
    unsigned n = f->dst == O_M ? 8 : 16, imm = in->imm & 0xFF;
    load_rm(s, in, f, v);
    memcpy(cat, v, n);
    if (n == 8) {
        uint64_t q = mmx_reg(s->fpu, insn_reg(in));
        memcpy(cat + 8, &q, 8);
    } else {
        memcpy(cat + 16, xreg(s, insn_reg64(in)), 16);
    }
    for (unsigned i = 0; i < n; i++)
        if (imm + i < 2 * n)
            r[i] = cat[imm + i];
    if (n == 16) {
        memcpy(xreg(s, insn_reg64(in)), r, 16);
        return;
    }
    uint64_t q;
    memcpy(&q, r, 8);
    mmx_enter(s->fpu);
    mmx_set_reg(s->fpu, insn_reg(in), q);
}

static void (*const handlers[H_COUNT])(struct soft *, const struct insn *, const struct form *) = {
    /* H_UD */ NULL,
    /* H_HOST */ h_host,
    /* H_LOAD */ h_load,
    /* H_STORE */ h_store,
    /* H_MOVS_LOAD */ h_movs_load,
    /* H_MOVS_STORE */ h_movs_store,
    /* H_MOVLH */ h_movlh,
    /* H_MOVQ2DQ */ h_movq2dq,
    /* H_MOVDQ2Q */ h_movdq2q,
    /* H_MOVNTQ */ h_movntq,
    /* H_MOVNTI */ h_movnti,
    /* H_PSHUF */ h_pshuf,
    /* H_SHIFT_IMM */ h_shift_imm,
    /* H_PINSRW */ h_pinsrw,
    /* H_PEXTRW */ h_pextrw,
    /* H_SHUFP */ h_shufp,
    /* H_MASKMOV */ h_maskmov,
    /* H_PALIGNR */ h_palignr,
};

/* 66 REX.W 0F 6E / 7E: MOVQ xmm, r/m64 (zero-extended) and MOVQ r/m64, xmm. */
static void h_movq_gpr64(struct soft *s, const struct insn *in)
{
    uint8_t *x = xreg(s, insn_reg64(in));
    uint8_t v[8];
    if (in->op == 0x16E) {
        if (is_mem(in))
            sse_lin_load(s, sse_mem_lin(s, in, 8, false, SEG_R), v, 8);
        else
            memcpy(v, &s->r[insn_rm64(in)], 8);
        memset(x, 0, 16);
        memcpy(x, v, 8);
    } else if (is_mem(in)) {
        sse_lin_store(s, sse_mem_lin(s, in, 8, false, SEG_W), x, 8);
    } else {
        memcpy(&s->r[insn_rm64(in)], x, 8);
    }
}

void exec_sse(struct soft *s, const struct insn *in)
{
    if (sse4_claims(in)) {
        exec_sse4(s, in);
        return;
    }
    const struct form *f = form_of(in);
    if (!f || f->h == H_UD || ((f->fl & F_MO) && !is_mem(in)) || ((f->fl & F_RO) && is_mem(in)))
        soft_raise_noerr(s, EXC_UD);
    if ((in->pfx & P_OP64) && (in->pfx & P_66) && (in->op == 0x16E || in->op == 0x17E)) {
        sse_check(s, f);
        h_movq_gpr64(s, in);
        return;
    }
    if ((in->pfx & P_OP64) && (f->src == O_R || f->dst == O_R)) {
        /* REX.W with a GPR: CVTSI2SS/SD, CVT(T)SS/SD2SI and MOVNTI at 64 bits; MOVMSKPS/PD,
         * PMOVMSKB, PEXTRW (zero-extended) and PINSRW (low 16 bits) are the 32-bit forms */
        unsigned o = in->op & 0xFF;
        bool w = (in->op & 0xF00) == 0x100 && (sse_host_has_w64(SSE_MAP_0F, pfx_col(in), (uint8_t)o) ||
                                               o == 0xC3 || o == 0x50 || o == 0xD7 || o == 0xC5 ||
                                               o == 0xC4);
        if (!w)
            soft_raise_noerr(s, EXC_UD);
    }
    if (f->h != H_MOVNTI)
        sse_check(s, f);
    handlers[f->h](s, in, f);
}

/* ---- 0F AE: LDMXCSR STMXCSR LFENCE MFENCE SFENCE CLFLUSH ---- */

void exec_sse_group(struct soft *s, const struct insn *in)
{
    unsigned sub = insn_reg(in);
    if (in->pfx & (P_66 | P_REP | P_REPNE))
        soft_raise_noerr(s, EXC_UD);
    if (!is_mem(in)) {
        if (sub < 5)
            soft_raise_noerr(s, EXC_UD);
        return; /* LFENCE MFENCE SFENCE: ordering is already total here */
    }
    if (sub == 7) {
        (void)vread(s, sse_mem_lin(s, in, 1, false, SEG_R), 1); /* CLFLUSH: checked as a byte load */
        return;
    }
    if (sub != 2 && sub != 3)
        soft_raise_noerr(s, EXC_UD);
    if ((s->cr0 & CR0_EM) || !(s->cr4 & CR4_OSFXSR))
        soft_raise_noerr(s, EXC_UD);
    if (s->cr0 & CR0_TS)
        soft_raise_noerr(s, EXC_NM);
    if (sub == 3) {
        vwrite(s, sse_mem_lin(s, in, 4, false, SEG_W), s->sse.mxcsr, 4);
        return;
    }
    uint32_t v = (uint32_t)vread(s, sse_mem_lin(s, in, 4, false, SEG_R), 4);
    if (v & ~MXCSR_MASK)
        soft_raise(s, EXC_GP, 0);
    s->sse.mxcsr = v;
}

/* FXSAVE: MXCSR and MXCSR_MASK always, XMM0..nxmm-1 when CR4.OSFXSR (bytes 24..31, from 160). */
void sse_fxsave(struct soft *s, uint8_t out[512], unsigned nxmm)
{
    uint32_t mask = MXCSR_MASK;
    memcpy(out + 24, &s->sse.mxcsr, 4);
    memcpy(out + 28, &mask, 4);
    if (s->cr4 & CR4_OSFXSR)
        memcpy(out + 160, s->sse.xmm, nxmm * 16);
}

/* FXRSTOR: reserved MXCSR bits set raise #GP(0) before anything is loaded. */
void sse_fxrstor(struct soft *s, const uint8_t in[512], unsigned nxmm)
{
    uint32_t v;
    memcpy(&v, in + 24, 4);
    if (v & ~MXCSR_MASK)
        soft_raise(s, EXC_GP, 0);
    s->sse.mxcsr = v;
    if (s->cr4 & CR4_OSFXSR)
        memcpy(s->sse.xmm, in + 160, nxmm * 16);
}
