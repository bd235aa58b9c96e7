/*
 * SSE4.1, SSE4.2 (with CRC32 and the string compares) and POPCNT on the
 * software core, in 32-bit modes and in 64-bit mode (XMM8..15 and REX.W
 * forms). Every form has the mandatory 66 prefix (CRC32: F2, POPCNT: F3);
 * without it the opcode is #UD (0F 38 F0/F1 without F2 are MOVBE, in
 * cpu/exec_0f.c), and all of them are #UD on a host without SSE4.2 and
 * POPCNT. The forms that compute run on the host
 * (cpu/sse4.c); the blends on the implicit XMM0 mask, the inserts and
 * extracts, MOVNTDQA, CRC32 and POPCNT are done here. Faults in the order
 * of the legacy SSE forms (cpu/exec_sse.c): #UD, #NM, #GP(0) for a
 * misaligned 16-byte operand (not for PCMPxSTRx, ROUNDSS/SD and the
 * extracts/inserts), the access, then #XM for ROUNDxx/DPPx with an
 * unmasked exception flagged, the destination left as it was.
 */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/sse4.h"

enum { K_HOST, K_PTEST, K_BLENDV, K_NTLOAD, K_EXTRACT, K_INSERT, K_INSERTPS, K_STR };

struct form4 {
    uint8_t kind;
    uint8_t msize; /* bytes of the memory operand */
    bool align;    /* a 16-byte memory operand must be aligned */
    bool fp;       /* MXCSR: ROUNDxx, DPPS, DPPD */
};

static bool form4_of(const struct insn *in, struct form4 *f)
{
    unsigned op = in->op & 0xFF;
    *f = (struct form4){K_HOST, 16, true, false};
    if ((in->op & 0xF00) == OP_MAP38) {
        switch (op) {
        case 0x10: case 0x14: case 0x15: f->kind = K_BLENDV; return true;
        case 0x17: f->kind = K_PTEST; return true;
        case 0x20: case 0x23: case 0x25: case 0x30: case 0x33: case 0x35:
            f->msize = 8, f->align = false; return true;
        case 0x21: case 0x24: case 0x31: case 0x34: f->msize = 4, f->align = false; return true;
        case 0x22: case 0x32: f->msize = 2, f->align = false; return true;
        case 0x2A: f->kind = K_NTLOAD; return true;
        default: return sse4_host_has(false, (uint8_t)op);
        }
    }
    switch (op) {
    case 0x08: case 0x09: f->fp = true; return true;
    case 0x0A: case 0x0B: f->fp = true, f->msize = op == 0x0A ? 4 : 8, f->align = false; return true;
    case 0x40: case 0x41: f->fp = true; return true;
    case 0x14: case 0x15: case 0x16: case 0x17: f->kind = K_EXTRACT, f->align = false; return true;
    case 0x20: case 0x22: f->kind = K_INSERT, f->align = false; return true;
    case 0x21: f->kind = K_INSERTPS, f->msize = 4, f->align = false; return true;
    case 0x60: case 0x61: case 0x62: case 0x63: f->kind = K_STR, f->align = false; return true;
    default: return sse4_host_has(true, (uint8_t)op);
    }
}

bool sse4_claims(const struct insn *in)
{
    unsigned map = in->op & 0xF00, op = in->op & 0xFF;
    if (map == OP_MAP38)
        return (op >= 0x10 && op <= 0x41 && (op < 0x1C || op > 0x1E)) || op == 0xF0 || op == 0xF1;
    return map == OP_MAP3A && op != 0x0F;
}

static uint8_t *xreg(struct soft *s, unsigned i)
{
    return s->sse.xmm[i & 15];
}

/* #UD and #NM before anything is read: the legacy SSE checks of an xmm form. */
static void check_xmm(struct soft *s)
{
    if ((s->cr0 & CR0_EM) || !(s->cr4 & CR4_OSFXSR) || !sse4_host_ok())
        soft_raise_noerr(s, EXC_UD);
    if (s->cr0 & CR0_TS)
        soft_raise_noerr(s, EXC_NM);
}

/* The xmm/m source as 16 bytes (memory: msize bytes, zero-extended). */
static void load_src(struct soft *s, const struct insn *in, const struct form4 *f, uint8_t out[16])
{
    memset(out, 0, 16);
    if (is_mem(in))
        sse_lin_load(s, sse_mem_lin(s, in, f->msize, f->align, SEG_R), out, f->msize);
    else
        memcpy(out, xreg(s, insn_rm64(in)), 16);
}

/* A PCMPESTRx length (EAX/EDX, RAX/RDX with REX.W): its sign and magnitude up to 16 are all
 * that count, as the hardware saturates the absolute value at the element count. */
static uint32_t str_len(const struct soft *s, const struct insn *in, unsigned r)
{
    int64_t v = (in->pfx & P_OP64) ? (int64_t)s->r[r] : (int64_t)(int32_t)s->r[r];
    if (v > 16)
        v = 16;
    if (v < -16)
        v = -16;
    return (uint32_t)(int32_t)v;
}

static void h_host(struct soft *s, const struct insn *in, const struct form4 *f)
{
    struct sse_io io;
    bool m3a = (in->op & 0xF00) == OP_MAP3A;
    uint8_t op = (uint8_t)in->op;
    memset(&io, 0, sizeof io);
    load_src(s, in, f, io.x1);
    memcpy(io.x0, xreg(s, insn_reg64(in)), 16);
    if (f->kind == K_STR)
        io.r_in = (uint64_t)str_len(s, in, GPR_DX) << 32 | str_len(s, in, GPR_AX);
    uint32_t raised = sse4_host(m3a, op, (uint8_t)in->imm, &io, s->sse.mxcsr, f->fp);
    if (f->fp)
        sse_fp_commit(s, raised);
    switch (f->kind) {
    case K_PTEST: flags_set_arith(s, io.eflags & (FL_ZF | FL_CF)); break;
    case K_STR:
        flags_set_arith(s, io.eflags & (FL_CF | FL_ZF | FL_SF | FL_OF));
        if (op & 1)
            s->r[GPR_CX] = (uint32_t)io.r_out; /* PCMPxSTRI: the index */
        else
            memcpy(xreg(s, 0), io.x0, 16); /* PCMPxSTRM: the mask to XMM0 */
        break;
    default: memcpy(xreg(s, insn_reg64(in)), io.x0, 16); break;
    }
}

/* PBLENDVB BLENDVPS BLENDVPD: the elements whose XMM0 mask element has its sign bit set. */
static void h_blendv(struct soft *s, const struct insn *in, const struct form4 *f)
{
    uint8_t src[16], *d = xreg(s, insn_reg64(in)), *mask = xreg(s, 0);
    unsigned op = in->op & 0xFF, size = op == 0x10 ? 1 : op == 0x14 ? 4 : 8;
    load_src(s, in, f, src);
    for (unsigned i = 0; i < 16; i += size)
        if (mask[i + size - 1] & 0x80)
            memcpy(d + i, src + i, size);
}

static void h_ntload(struct soft *s, const struct insn *in, const struct form4 *f)
{
    uint8_t v[16];
    if (!is_mem(in))
        soft_raise_noerr(s, EXC_UD);
    load_src(s, in, f, v);
    memcpy(xreg(s, insn_reg64(in)), v, 16);
}

/* PEXTRB PEXTRW PEXTRD/Q EXTRACTPS r/m, xmm, imm: a register destination is zero-extended. */
static void h_extract(struct soft *s, const struct insn *in, const struct form4 *f)
{
    unsigned op = in->op & 0xFF, imm = in->imm & 0xFF, n;
    const uint8_t *x = xreg(s, insn_reg64(in));
    bool q = op == 0x16 && (in->pfx & P_OP64);
    (void)f;
    n = op == 0x14 ? 1 : op == 0x15 ? 2 : q ? 8 : 4;
    const uint8_t *p = x + n * (imm & (16 / n - 1));
    if (is_mem(in)) {
        sse_lin_store(s, sse_mem_lin(s, in, n, false, SEG_W), p, n);
        return;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    s->r[insn_rm64(in)] = v;
}

/* PINSRB PINSRD/Q xmm, r/m, imm. */
static void h_insert(struct soft *s, const struct insn *in, const struct form4 *f)
{
    unsigned imm = in->imm & 0xFF;
    bool q = (in->op & 0xFF) == 0x22 && (in->pfx & P_OP64);
    unsigned n = (in->op & 0xFF) == 0x20 ? 1 : q ? 8 : 4;
    uint8_t v[8];
    (void)f;
    if (is_mem(in))
        sse_lin_load(s, sse_mem_lin(s, in, n, false, SEG_R), v, n);
    else
        memcpy(v, &s->r[insn_rm64(in)], 8);
    memcpy(xreg(s, insn_reg64(in)) + n * (imm & (16 / n - 1)), v, n);
}

/* INSERTPS xmm, xmm/m32, imm: source dword (register: imm[7:6]) to imm[5:4], zero mask imm[3:0]. */
static void h_insertps(struct soft *s, const struct insn *in, const struct form4 *f)
{
    unsigned imm = in->imm & 0xFF;
    uint8_t v[16], *d = xreg(s, insn_reg64(in));
    load_src(s, in, f, v);
    const uint8_t *from = is_mem(in) ? v : v + 4 * (imm >> 6);
    memcpy(d + 4 * ((imm >> 4) & 3), from, 4);
    for (unsigned i = 0; i < 4; i++)
        if (imm >> i & 1)
            memset(d + 4 * i, 0, 4);
}

/* CRC32 r32/r64, r/m8/16/32/64 (F2 0F 38 F0/F1): the destination is zero-extended. */
static void exec_crc32(struct soft *s, const struct insn *in)
{
    bool long64 = in->props & I_LONG;
    unsigned size = (in->op & 0xFF) == 0xF0 ? 1 : long64 ? osz64(in) : osize(in);
    unsigned reg = long64 ? insn_reg64(in) : insn_reg(in);
    uint64_t v;
    if (!(in->pfx & P_REPNE) || !sse4_host_ok())
        soft_raise_noerr(s, EXC_UD); /* without F2 the opcodes are MOVBE (exec_0f.c) */
    if (!long64)
        v = rm_read(s, in, size);
    else if (is_mem(in))
        v = mem_rd(s, in->seg, ea64(s, in), size);
    else
        v = gpr_get(s, in, insn_rm64(in), size);
    s->r[reg] = sse4_crc32c((uint32_t)s->r[reg], v, size);
}

void exec_popcnt(struct soft *s, const struct insn *in)
{
    bool long64 = in->props & I_LONG;
    unsigned size = long64 ? osz64(in) : osize(in);
    uint64_t v;
    if (!(in->pfx & P_REP) || !sse4_host_ok())
        soft_raise_noerr(s, EXC_UD); /* 0F B8 without F3 is JMPE, which is not here */
    if (!long64) {
        v = rm_read(s, in, size);
        reg_set(s, insn_reg(in), (uint32_t)__builtin_popcountll(v), size);
    } else {
        v = is_mem(in) ? mem_rd(s, in->seg, ea64(s, in), size) : gpr_get(s, in, insn_rm64(in), size);
        gpr_set(s, in, insn_reg64(in), (uint64_t)__builtin_popcountll(v), size);
    }
    flags_set_arith(s, v ? 0 : FL_ZF);
}

void exec_sse4(struct soft *s, const struct insn *in)
{
    struct form4 f;
    if ((in->op & 0xF00) == OP_MAP38 && (in->op & 0xFF) >= 0xF0) {
        exec_crc32(s, in);
        return;
    }
    if (!(in->pfx & P_66) || (in->pfx & (P_REP | P_REPNE)) || !form4_of(in, &f))
        soft_raise_noerr(s, EXC_UD);
    check_xmm(s);
    switch (f.kind) {
    case K_BLENDV: h_blendv(s, in, &f); break;
    case K_NTLOAD: h_ntload(s, in, &f); break;
    case K_EXTRACT: h_extract(s, in, &f); break;
    case K_INSERT: h_insert(s, in, &f); break;
    case K_INSERTPS: h_insertps(s, in, &f); break;
    default: h_host(s, in, &f); break;
    }
}
