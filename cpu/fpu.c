/*
 * x87 FPU and MMX of a P6 (Pentium Pro / II), plus the SSE3 FISTTP, for the
 * software core (the SSE-era MMX-register instructions are in exec_sse.c).
 *
 * Arithmetic is exact because it is the host's own x87: every computational
 * x87 instruction is executed by the host between an FRSTOR of the guest's
 * register stack, control word and tags (exception flags cleared, so the
 * host never has a pending exception) and an FNSAVE, which is a no-wait
 * instruction: an unmasked guest exception sets ES in the saved image and
 * never traps the host. Each instruction has a snippet of its own in a table
 * assembled below (the guest's opcode and ModRM byte, memory forms
 * rewritten to address [rsi], the guest's operand buffer). The host's
 * control word is kept; its x87 stack is empty between calls anyway. What
 * the guest can observe beyond the arithmetic is done here in C: encodings
 * that are invalid on a P6 (#UD), FIP/FCS/FOP/FDP/FDS
 * bookkeeping, sticky exception flags with ES/B recomputed as the hardware
 * does, and the control instructions (FLDCW, FSTCW, FSTSW, FCLEX, FINIT,
 * FLDENV/FSTENV/FRSTOR/FSAVE in the 16/32-bit real and protected layouts,
 * FXSAVE/FXRSTOR). MMX instructions run on the host's MM0/MM1 with the
 * operands copied in, then get the x87 side effects (TOP = 0, all tags
 * valid, exponent bits of a written register all ones; EMMS empties the
 * tags and sets TOP = 0 too). The shift-by-immediate groups 0F 71/72/73 run
 * as their shift-by-mm forms with the immediate as the 64-bit count, which
 * is the same operation. Needs an x86-64 host.
 */
#include "cpu/fpu.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
#error "cpu/fpu.c executes x87 and MMX instructions on the host: it needs x86-64"
#endif

/* FSW bits */
#define FSW_ES 0x0080
#define FSW_FLAGS 0x007f /* IE DE ZE OE UE PE SF */
#define FSW_EXC 0x003f
#define FSW_NUMERIC 0x001f /* IE DE ZE OE UE: unmasked, they keep the destination */
#define FSW_C 0x4700 /* C0 C1 C2 C3 */
#define FSW_TOP 0x3800
#define FSW_B 0x8000
#define FSW_TOP_SHIFT 11

/* FCW: bit 6 reads as one, bits 7 and 13..15 as zero (P6 and later). */
#define FCW_KEEP 0x1f3f
#define FCW_ONE 0x0040
#define FCW_INIT 0x037f
#define FCW_MASKS 0x003f

/* EFLAGS bits FCOMI writes and FCMOVcc reads. */
#define EFLAGS_FPU 0x08d5 /* OF SF ZF AF PF CF */

enum tag { TAG_VALID, TAG_ZERO, TAG_SPECIAL, TAG_EMPTY };

/* The 108-byte FSAVE image in the 32-bit protected-mode layout, as the host writes it. */
struct fsave_img {
    uint16_t fcw, rsv0, fsw, rsv1, ftw, rsv2;
    uint32_t fip;
    uint16_t fcs, fop;
    uint32_t fdp;
    uint16_t fds, rsv3;
    uint8_t st[8][10]; /* stack order ST(0)..ST(7) */
} __attribute__((packed));

_Static_assert(sizeof(struct fsave_img) == 108, "FSAVE image layout");

/*
 * The guest's x87 state is kept as the image the host loads and stores, so
 * that an instruction costs one FRSTOR and one FNSAVE. Of the tag word only
 * empty (11) or not counts: the host classifies the contents itself, and
 * FSTENV/FSAVE here compute the full tags from the contents as it does.
 */
struct fpu {
    struct fsave_img s;
    bool mem_written; /* the last store form wrote its memory operand */
};

/*
 * Snippet table: for each opcode D8..DF, 8 memory forms (ModRM.reg 0..7, with
 * mod 0 rm 6 = [rsi]) then the 64 register forms C0..FF; 8 bytes each.
 * Then the MMX snippets, one per second opcode byte 60..FF: "op mm0, mm1".
 */
#define X87_STUBS_PER_OP 72
#define SNIPPET_SIZE 8
extern const unsigned char vmplay_fpu_snippets[];
extern const unsigned char vmplay_mmx_snippets[];
__asm__(".pushsection .text\n"
        ".balign 16\n"
        ".globl vmplay_fpu_snippets\n"
        ".hidden vmplay_fpu_snippets\n"
        "vmplay_fpu_snippets:\n"
        ".irp op, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf\n"
        ".irp r, 0, 1, 2, 3, 4, 5, 6, 7\n"
        ".balign 8\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\op, (\\r << 3) | 6, 0xc3\n"
        ".endr\n"
        ".set vmplay_fpu_m, 0xc0\n"
        ".rept 64\n"
        ".balign 8\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\op, vmplay_fpu_m, 0xc3\n"
        ".set vmplay_fpu_m, vmplay_fpu_m + 1\n"
        ".endr\n"
        ".endr\n"
        ".balign 8\n"
        ".globl vmplay_mmx_snippets\n"
        ".hidden vmplay_mmx_snippets\n"
        "vmplay_mmx_snippets:\n"
        ".set vmplay_mmx_op, 0x60\n"
        ".rept 160\n"
        ".balign 8\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, vmplay_mmx_op, 0xc1, 0xc3\n"
        ".set vmplay_mmx_op, vmplay_mmx_op + 1\n"
        ".endr\n"
        ".popsection\n");

/*
 * Runs one snippet with the guest image loaded. FNSAVE leaves the host's x87
 * empty, as the ABI has it between calls; the host's control word is put
 * back.
 */
static void host_x87(struct fsave_img *img, const unsigned char *snippet, void *mem)
{
    __asm__ volatile("lea -136(%%rsp), %%rsp\n\t"
                     "fnstcw (%%rsp)\n\t"
                     "frstor (%[img])\n\t"
                     "call *%[snippet]\n\t"
                     "fnsave (%[img])\n\t"
                     "fldcw (%%rsp)\n\t"
                     "lea 136(%%rsp), %%rsp\n\t"
                     :
                     : [img] "r"(img), [snippet] "r"(snippet), "S"(mem)
                     : "memory");
}

/* The same for FCMOVcc and FCOMI: host EFLAGS OF SF ZF AF PF CF come from *flags and go back there. */
static void host_x87_eflags(struct fsave_img *img, const unsigned char *snippet, uint64_t *flags)
{
    uint64_t fl = *flags & EFLAGS_FPU;
    __asm__ volatile("lea -136(%%rsp), %%rsp\n\t"
                     "fnstcw (%%rsp)\n\t"
                     "pushfq\n\t"
                     "pop %%rax\n\t"
                     "and $~0x8d5, %%rax\n\t"
                     "or %[fl], %%rax\n\t"
                     "push %%rax\n\t"
                     "popfq\n\t"
                     "frstor (%[img])\n\t"
                     "call *%[snippet]\n\t"
                     "fnsave (%[img])\n\t"
                     "pushfq\n\t"
                     "pop %[fl]\n\t"
                     "fldcw (%%rsp)\n\t"
                     "lea 136(%%rsp), %%rsp\n\t"
                     : [fl] "+r"(fl)
                     : [img] "r"(img), [snippet] "r"(snippet)
                     : "rax", "memory", "cc");
    *flags = fl & EFLAGS_FPU;
}

/* Runs "op mm0, mm1" on the host with mm0 = dst, mm1 = src; returns mm0. */
static uint64_t host_mmx(uint8_t opcode, uint64_t dst, uint64_t src)
{
    const unsigned char *snippet = vmplay_mmx_snippets + (size_t)(opcode - 0x60) * SNIPPET_SIZE;
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
                     "movq %[dst], %%mm0\n\t"
                     "movq %[src], %%mm1\n\t"
                     "call *%[snippet]\n\t"
                     "movq %%mm0, %[dst]\n\t"
                     "emms\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     : [dst] "+r"(dst)
                     : [src] "r"(src), [snippet] "r"(snippet)
                     : "mm0", "mm1", "memory");
    return dst;
}

static unsigned fpu_top(const struct fpu *f)
{
    return (f->s.fsw & FSW_TOP) >> FSW_TOP_SHIFT;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

/* Tag of a non-empty register from its contents, as FSTENV/FSAVE report it. */
static enum tag tag_of(const uint8_t r[10])
{
    unsigned exp = get16(r + 8) & 0x7fff;
    uint64_t mant = (uint64_t)get32(r) | (uint64_t)get32(r + 4) << 32;
    if (exp == 0x7fff)
        return TAG_SPECIAL;
    if (exp == 0)
        return mant ? TAG_SPECIAL : TAG_ZERO;
    return (mant >> 63) ? TAG_VALID : TAG_SPECIAL;
}

/* Physical register Ri. */
static uint8_t *phys(struct fpu *f, unsigned i)
{
    return f->s.st[(i - fpu_top(f)) & 7];
}

static const uint8_t *phys_c(const struct fpu *f, unsigned i)
{
    return f->s.st[(i - fpu_top(f)) & 7];
}

static bool is_empty(const struct fpu *f, unsigned i)
{
    return ((f->s.ftw >> (2 * i)) & 3) == TAG_EMPTY;
}

static uint16_t full_tags(const struct fpu *f)
{
    uint16_t tw = 0;
    for (unsigned i = 0; i < 8; i++) {
        enum tag t = is_empty(f, i) ? TAG_EMPTY : tag_of(phys_c(f, i));
        tw |= (uint16_t)(t << (2 * i));
    }
    return tw;
}

static uint8_t get_abridged(const struct fpu *f)
{
    uint8_t a = 0;
    for (unsigned i = 0; i < 8; i++)
        if (!is_empty(f, i))
            a |= (uint8_t)(1u << i);
    return a;
}

static void set_abridged(struct fpu *f, uint8_t a)
{
    uint16_t tw = 0;
    for (unsigned i = 0; i < 8; i++)
        if (!(a >> i & 1))
            tw |= (uint16_t)(TAG_EMPTY << (2 * i));
    f->s.ftw = tw;
}

/* A new TOP: the registers stay where they are physically, so the stack-order copy turns. */
static void set_top(struct fpu *f, unsigned top)
{
    unsigned old = fpu_top(f);
    if (top == old)
        return;
    uint8_t st[8][10];
    for (unsigned j = 0; j < 8; j++)
        memcpy(st[j], f->s.st[(top + j - old) & 7], 10);
    memcpy(f->s.st, st, sizeof(st));
    f->s.fsw = (uint16_t)((f->s.fsw & ~FSW_TOP) | top << FSW_TOP_SHIFT);
}

/* ES and B follow the exception flags that are not masked. */
static uint16_t fsw_settle(uint16_t fsw, uint16_t fcw)
{
    fsw &= (uint16_t) ~(FSW_ES | FSW_B);
    if (fsw & ~fcw & FSW_EXC)
        fsw |= FSW_ES | FSW_B;
    return fsw;
}

static void set_fcw(struct fpu *f, uint16_t fcw)
{
    f->s.fcw = (fcw & FCW_KEEP) | FCW_ONE;
    f->s.fsw = fsw_settle(f->s.fsw, f->s.fcw);
}

static void set_fsw(struct fpu *f, uint16_t fsw)
{
    set_top(f, (fsw & FSW_TOP) >> FSW_TOP_SHIFT);
    f->s.fsw = fsw_settle(fsw, f->s.fcw);
}

static void fninit(struct fpu *f)
{
    f->s.fcw = FCW_INIT;
    set_fsw(f, 0);
    f->s.ftw = 0xffff;
    f->s.fop = 0;
    f->s.fip = f->s.fdp = 0;
    f->s.fcs = f->s.fds = 0;
}

struct fpu *fpu_new(void)
{
    struct fpu *f = calloc(1, sizeof(*f));
    if (f)
        fninit(f);
    return f;
}

void fpu_free(struct fpu *f)
{
    free(f);
}

/*
 * FNINIT state. After RESET a P6 has FCW 0x0040 (all exceptions unmasked,
 * as an 8087 did) and the registers zeroed; a BIOS runs FNINIT before using
 * the FPU, so the core may keep this state or set the RESET one.
 */
void fpu_reset(struct fpu *f)
{
    fninit(f);
}

void fpu_get_state(const struct fpu *f, struct cpu_fpu_state *st)
{
    st->fcw = f->s.fcw;
    st->fsw = f->s.fsw;
    st->fop = f->s.fop;
    st->ftw = get_abridged(f);
    st->fip = f->s.fip;
    st->fdp = f->s.fdp;
    st->fcs = f->s.fcs;
    st->fds = f->s.fds;
    for (int i = 0; i < 8; i++) {
        memset(st->st[i], 0, sizeof(st->st[i]));
        memcpy(st->st[i], phys_c(f, (unsigned)i), 10);
    }
}

void fpu_set_state(struct fpu *f, const struct cpu_fpu_state *st)
{
    f->s.fcw = (st->fcw & FCW_KEEP) | FCW_ONE;
    set_fsw(f, st->fsw);
    f->s.fop = st->fop & 0x7ff;
    set_abridged(f, st->ftw);
    f->s.fip = (uint32_t)st->fip;
    f->s.fdp = (uint32_t)st->fdp;
    f->s.fcs = st->fcs;
    f->s.fds = st->fds;
    for (int i = 0; i < 8; i++)
        memcpy(phys(f, (unsigned)i), st->st[i], 10);
}

bool fpu_pending(const struct fpu *f)
{
    return (f->s.fsw & FSW_ES) != 0;
}

/* ---- encodings ---- */

static bool is_reg_form(uint8_t modrm)
{
    return modrm >= 0xc0;
}

/* Valid register-form (mod 3) encodings of a P6, incl. the undocumented aliases. */
static bool x87_reg_valid(uint8_t op, uint8_t modrm)
{
    switch (op) {
    case 0xd9:
        return !(modrm >= 0xd1 && modrm <= 0xd7) && modrm != 0xe2 && modrm != 0xe3 && modrm != 0xe6 &&
               modrm != 0xe7 && modrm != 0xef;
    case 0xda:
        return modrm < 0xe0 || modrm == 0xe9;
    case 0xdb:
        return modrm < 0xe5 || (modrm >= 0xe8 && modrm < 0xf8);
    case 0xdd:
        return modrm < 0xf0;
    case 0xde:
        return modrm < 0xd8 || modrm == 0xd9 || modrm >= 0xe0;
    case 0xdf:
        return modrm < 0xe1 || (modrm >= 0xe8 && modrm < 0xf8);
    default: /* D8, DC */
        return true;
    }
}

/* Valid memory forms by opcode and ModRM.reg: bit r set = /r exists (DB DD DF /1: SSE3 FISTTP). */
static const uint8_t x87_mem_valid[8] = {
    0xff, /* D8 */
    0xfd, /* D9: not /1 */
    0xff, /* DA */
    0xaf, /* DB: not /4 /6 */
    0xff, /* DC */
    0xdf, /* DD: not /5 */
    0xff, /* DE */
    0xff, /* DF */
};

static bool x87_valid(uint8_t op, uint8_t modrm)
{
    if (op < 0xd8)
        return false;
    if (is_reg_form(modrm))
        return x87_reg_valid(op, modrm);
    return (x87_mem_valid[op - 0xd8] >> ((modrm >> 3) & 7)) & 1;
}

/* Memory operand size by opcode and ModRM.reg; ENV and SAVE depend on the operand size. */
#define SZ_ENV 0xfe
#define SZ_SAVE 0xff
static const uint8_t x87_mem_size[8][8] = {
    {4, 4, 4, 4, 4, 4, 4, 4},             /* D8: m32real arithmetic */
    {4, 0, 4, 4, SZ_ENV, 2, SZ_ENV, 2},   /* D9: FLD FST FSTP m32, FLDENV FLDCW FNSTENV FNSTCW */
    {4, 4, 4, 4, 4, 4, 4, 4},             /* DA: m32int arithmetic */
    {4, 4, 4, 4, 0, 10, 0, 10},           /* DB: FILD FISTTP FIST FISTP m32, FLD FSTP m80 */
    {8, 8, 8, 8, 8, 8, 8, 8},             /* DC: m64real arithmetic */
    {8, 8, 8, 8, SZ_SAVE, 0, SZ_SAVE, 2}, /* DD: FLD FISTTP FST FSTP m64, FRSTOR FNSAVE FNSTSW */
    {2, 2, 2, 2, 2, 2, 2, 2},             /* DE: m16int arithmetic */
    {2, 2, 2, 2, 10, 8, 10, 8},           /* DF: FILD FISTTP FIST FISTP m16, FBLD FILD m64 FBSTP FISTP m64 */
};

unsigned fpu_mem_size(uint8_t op, uint8_t modrm, bool op32)
{
    if (op < 0xd8 || is_reg_form(modrm) || !x87_valid(op, modrm))
        return 0;
    uint8_t sz = x87_mem_size[op - 0xd8][(modrm >> 3) & 7];
    if (sz == SZ_ENV)
        return op32 ? 28 : 14;
    if (sz == SZ_SAVE)
        return op32 ? 108 : 94;
    return sz;
}

enum fpu_access fpu_mem_access(uint8_t op, uint8_t modrm)
{
    if (op < 0xd8 || is_reg_form(modrm) || !x87_valid(op, modrm))
        return FPU_NONE;
    unsigned r = (modrm >> 3) & 7;
    switch (op) {
    case 0xd9:
        return (r == 2 || r == 3 || r >= 6) ? FPU_STORE : FPU_LOAD;
    case 0xdb:
    case 0xdf:
        return (r == 1 || r == 2 || r == 3 || r == 7 || (op == 0xdf && r == 6)) ? FPU_STORE
                                                                                 : FPU_LOAD;
    case 0xdd:
        return (r == 1 || r == 2 || r == 3 || r >= 6) ? FPU_STORE : FPU_LOAD;
    default: /* arithmetic with a memory source */
        return FPU_LOAD;
    }
}

bool fpu_is_nowait(uint8_t op, uint8_t modrm)
{
    if (is_reg_form(modrm))
        return (op == 0xdb && (modrm == 0xe2 || modrm == 0xe3)) || (op == 0xdf && modrm == 0xe0);
    unsigned r = (modrm >> 3) & 7;
    return (op == 0xd9 && (r == 6 || r == 7)) || (op == 0xdd && (r == 6 || r == 7));
}

/* ---- FLDENV / FSTENV / FRSTOR / FSAVE layouts ---- */

static uint32_t real_linear(uint16_t sel, uint32_t off)
{
    return ((uint32_t)sel << 4) + off;
}

static void env_store(const struct fpu *f, const struct fpu_insn *in, uint8_t *m)
{
    uint16_t tw = full_tags(f);
    uint32_t ip = in->pmode ? f->s.fip : real_linear(f->s.fcs, f->s.fip);
    uint32_t dp = in->pmode ? f->s.fdp : real_linear(f->s.fds, f->s.fdp);
    if (!in->op32) {
        put16(m + 0, f->s.fcw);
        put16(m + 2, f->s.fsw);
        put16(m + 4, tw);
        put16(m + 6, ip);
        put16(m + 8, in->pmode ? f->s.fcs : (uint32_t)(f->s.fop | (ip >> 16 & 0xf) << 12));
        put16(m + 10, dp);
        put16(m + 12, in->pmode ? f->s.fds : (dp >> 16 & 0xf) << 12);
        return;
    }
    put32(m + 0, 0xffff0000u | f->s.fcw);
    put32(m + 4, 0xffff0000u | f->s.fsw);
    put32(m + 8, 0xffff0000u | tw);
    if (in->pmode) {
        put32(m + 12, ip);
        put32(m + 16, f->s.fcs | (uint32_t)f->s.fop << 16);
        put32(m + 20, dp);
        put32(m + 24, 0xffff0000u | f->s.fds);
    } else {
        put32(m + 12, 0xffff0000u | (ip & 0xffff));
        put32(m + 16, f->s.fop | (ip >> 16) << 12);
        put32(m + 20, 0xffff0000u | (dp & 0xffff));
        put32(m + 24, (dp >> 16) << 12);
    }
}

static void env_load(struct fpu *f, const struct fpu_insn *in, const uint8_t *m)
{
    unsigned w = in->op32 ? 4 : 2;
    f->s.fcw = (get16(m) & FCW_KEEP) | FCW_ONE;
    set_fsw(f, get16(m + w));
    uint16_t tw = get16(m + 2 * w);
    uint8_t a = 0;
    for (unsigned i = 0; i < 8; i++)
        if (((tw >> (2 * i)) & 3) != TAG_EMPTY)
            a |= (uint8_t)(1u << i);
    set_abridged(f, a);
    if (in->op32 && in->pmode) {
        f->s.fip = get32(m + 12);
        f->s.fcs = get16(m + 16);
        f->s.fop = get16(m + 18) & 0x7ff;
        f->s.fdp = get32(m + 20);
        f->s.fds = get16(m + 24);
    } else if (in->op32) {
        f->s.fip = get16(m + 12) | (get32(m + 16) >> 12 & 0xffff) << 16;
        f->s.fop = get16(m + 16) & 0x7ff;
        f->s.fdp = get16(m + 20) | (get32(m + 24) >> 12 & 0xffff) << 16;
        f->s.fcs = f->s.fds = 0;
    } else if (in->pmode) {
        f->s.fip = get16(m + 6);
        f->s.fcs = get16(m + 8);
        f->s.fdp = get16(m + 10);
        f->s.fds = get16(m + 12);
    } else {
        f->s.fip = get16(m + 6) | (uint32_t)(get16(m + 8) >> 12) << 16;
        f->s.fop = get16(m + 8) & 0x7ff;
        f->s.fdp = get16(m + 10) | (uint32_t)(get16(m + 12) >> 12) << 16;
        f->s.fcs = f->s.fds = 0;
    }
}

static void regs_store(const struct fpu *f, uint8_t *m)
{
    memcpy(m, f->s.st, sizeof(f->s.st));
}

static void regs_load(struct fpu *f, const uint8_t *m)
{
    memcpy(f->s.st, m, sizeof(f->s.st));
}

void fpu_fxsave(const struct fpu *f, uint8_t out[512])
{
    memset(out, 0, 24);
    put16(out + 0, f->s.fcw);
    put16(out + 2, f->s.fsw);
    out[4] = get_abridged(f);
    put16(out + 6, f->s.fop);
    put32(out + 8, f->s.fip);
    put16(out + 12, f->s.fcs);
    put32(out + 16, f->s.fdp);
    put16(out + 20, f->s.fds);
    for (unsigned i = 0; i < 8; i++) {
        memset(out + 32 + 16 * i, 0, 16);
        memcpy(out + 32 + 16 * i, f->s.st[i], 10);
    }
}

void fpu_fxrstor(struct fpu *f, const uint8_t in[512])
{
    f->s.fcw = (get16(in) & FCW_KEEP) | FCW_ONE;
    set_fsw(f, get16(in + 2));
    set_abridged(f, in[4]);
    f->s.fop = get16(in + 6) & 0x7ff;
    f->s.fip = get32(in + 8);
    f->s.fcs = get16(in + 12);
    f->s.fdp = get32(in + 16);
    f->s.fds = get16(in + 20);
    for (unsigned i = 0; i < 8; i++)
        memcpy(f->s.st[i], in + 32 + 16 * i, 10);
}

/* ---- execution ---- */

static void note_insn(struct fpu *f, const struct fpu_insn *in)
{
    f->s.fip = in->ip;
    f->s.fcs = in->cs;
    f->s.fop = (uint16_t)((in->op & 7) << 8 | in->modrm);
    if (!is_reg_form(in->modrm)) {
        f->s.fdp = in->dp;
        f->s.fds = in->ds;
    }
}

/* FCMOVcc (DA/DB C0..DF) reads EFLAGS, FUCOMI/FCOMI(P) (DB/DF E8..F7) write them. */
static bool uses_eflags(uint8_t op, uint8_t modrm)
{
    return (op == 0xda || op == 0xdb || op == 0xdf) && modrm >= 0xc0 &&
           (op == 0xdf ? (modrm >= 0xe8 && modrm < 0xf8)
                       : (modrm < 0xe0 || (op == 0xdb && modrm >= 0xe8 && modrm < 0xf8)));
}

/*
 * The host runs the instruction on the state itself, with no exception
 * flags set; the sticky flags come back afterwards and ES/B follow them.
 * FNSAVE writes the host's own FIP/FDP: the guest's are put back.
 */
static void exec_host(struct fpu *f, const struct fpu_insn *in, uint8_t *mem)
{
    uint16_t flags = f->s.fsw & FSW_FLAGS;
    uint32_t fdp = f->s.fdp;
    uint16_t fds = f->s.fds;
    unsigned idx = is_reg_form(in->modrm) ? 8u + (in->modrm & 0x3f) : (in->modrm >> 3) & 7u;
    const unsigned char *snippet = vmplay_fpu_snippets + ((in->op - 0xd8u) * X87_STUBS_PER_OP + idx) * SNIPPET_SIZE;
    f->s.fsw &= FSW_C | FSW_TOP;
    if (uses_eflags(in->op, in->modrm)) {
        uint64_t ef = in->eflags ? *in->eflags : 0;
        host_x87_eflags(&f->s, snippet, &ef);
        if (in->eflags && in->modrm >= 0xe8) /* FCOMI family; FCMOVcc leaves EFLAGS alone */
            *in->eflags = (*in->eflags & ~(uint32_t)EFLAGS_FPU) | (uint32_t)ef;
    } else {
        host_x87(&f->s, snippet, mem);
    }
    if (f->s.fsw & ~f->s.fcw & FSW_NUMERIC)
        f->mem_written = false;
    f->s.fsw = fsw_settle((uint16_t)(f->s.fsw | flags), f->s.fcw);
    f->s.fdp = fdp;
    f->s.fds = fds;
    note_insn(f, in);
}

/* Control instructions with a memory operand: none of them touch FIP/FOP/FDP. */
static bool exec_control_mem(struct fpu *f, const struct fpu_insn *in, uint8_t *mem)
{
    unsigned r = (in->modrm >> 3) & 7;
    if (in->op == 0xd9 && r >= 4) {
        if (r == 4)
            env_load(f, in, mem);
        else if (r == 5)
            set_fcw(f, get16(mem));
        else if (r == 6) {
            env_store(f, in, mem);
            set_fcw(f, f->s.fcw | FCW_MASKS);
        } else
            put16(mem, f->s.fcw);
        return true;
    }
    if (in->op != 0xdd || r < 4)
        return false;
    unsigned env = in->op32 ? 28 : 14;
    if (r == 4) {
        env_load(f, in, mem);
        regs_load(f, mem + env);
    } else if (r == 6) {
        env_store(f, in, mem);
        regs_store(f, mem + env);
        fninit(f);
    } else {
        put16(mem, f->s.fsw);
    }
    return true;
}

/*
 * FNSTSW AX, FNCLEX, FNINIT. The 8087/287 leftovers FENI FDISI FSETPM
 * (DB E0 E1 E4) are FNOPs since the 387, not control instructions: the
 * host runs them and they set FIP/FOP as FNOP does.
 */
static bool exec_control_reg(struct fpu *f, const struct fpu_insn *in)
{
    if (in->op == 0xdf && in->modrm == 0xe0) {
        if (in->ax)
            *in->ax = f->s.fsw;
        return true;
    }
    if (in->op != 0xdb || (in->modrm != 0xe2 && in->modrm != 0xe3))
        return false;
    if (in->modrm == 0xe2)
        f->s.fsw &= (uint16_t)(FSW_C | FSW_TOP);
    else
        fninit(f);
    return true;
}

enum fpu_result fpu_exec(struct fpu *f, const struct fpu_insn *in, uint8_t *mem)
{
    if (!x87_valid(in->op, in->modrm))
        return FPU_UD;
    f->mem_written = true;
    bool control = is_reg_form(in->modrm) ? exec_control_reg(f, in) : exec_control_mem(f, in, mem);
    if (!control)
        exec_host(f, in, mem);
    return FPU_OK;
}

bool fpu_mem_written(const struct fpu *f)
{
    return f->mem_written;
}

/* ---- MMX ---- */

/* P6 MMX opcodes after 0F (EMMS and the groups 71..73 included; the SSE and SSE2 ones are exec_sse.c's). */
static bool mmx_op_valid(uint8_t op)
{
    static const uint8_t high[] = {
        0xd1, 0xd2, 0xd3, 0xd5, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xdf, 0xe1, 0xe2, 0xe5, 0xe8, 0xe9,
        0xeb, 0xec, 0xed, 0xef, 0xf1, 0xf2, 0xf3, 0xf5, 0xf8, 0xf9, 0xfa, 0xfc, 0xfd, 0xfe,
    };
    /* 60..7F: all but 6C 6D 70 78..7D */
    if (op >= 0x60 && op <= 0x7f)
        return (0xc0fecfffu >> (op - 0x60)) & 1;
    for (size_t i = 0; i < sizeof(high); i++)
        if (high[i] == op)
            return true;
    return false;
}

unsigned mmx_mem_size(uint8_t opcode)
{
    if (opcode == 0x6e || opcode == 0x7e)
        return 4;
    if (opcode == 0x77 || (opcode >= 0x71 && opcode <= 0x73) || !mmx_op_valid(opcode))
        return 0;
    return 8;
}

static uint64_t mm_get(const struct fpu *f, unsigned i)
{
    uint64_t v; /* TOP is 0; the host is little-endian like the guest */
    memcpy(&v, f->s.st[i], 8);
    return v;
}

static void mm_set(struct fpu *f, unsigned i, uint64_t v)
{
    static const uint16_t ones = 0xffff; /* TOP is 0 */
    memcpy(f->s.st[i], &v, 8);
    memcpy(f->s.st[i] + 8, &ones, 2);
}

/* The shift-by-immediate groups as the matching shift-by-mm opcode (0: #UD). */
static uint8_t mmx_group_op(uint8_t opcode, uint8_t reg)
{
    static const uint8_t map[3][8] = {
        {0, 0, 0xd1, 0, 0xe1, 0, 0xf1, 0}, /* 71: PSRLW PSRAW PSLLW */
        {0, 0, 0xd2, 0, 0xe2, 0, 0xf2, 0}, /* 72: PSRLD PSRAD PSLLD */
        {0, 0, 0xd3, 0, 0, 0, 0xf3, 0},    /* 73: PSRLQ PSLLQ */
    };
    return map[opcode - 0x71][reg & 7];
}

enum fpu_result mmx_exec(struct fpu *f, const struct mmx_insn *in, uint64_t *out, bool *out_valid)
{
    uint8_t op = in->opcode;
    unsigned reg = in->reg & 7, rm = in->rm & 7;
    *out_valid = false;
    if (!mmx_op_valid(op))
        return FPU_UD;
    if (op >= 0x71 && op <= 0x73 && (!in->rm_is_reg || !mmx_group_op(op, reg)))
        return FPU_UD;
    set_top(f, 0);
    set_abridged(f, op == 0x77 ? 0 : 0xff); /* EMMS: all empty, TOP 0 too */
    if (op == 0x77)
        return FPU_OK;
    uint64_t src = in->rm_is_reg ? mm_get(f, rm) : in->src;
    switch (op) {
    case 0x6e: /* MOVD mm, r/m32 */
        mm_set(f, reg, (uint32_t)in->src);
        break;
    case 0x6f: /* MOVQ mm, mm/m64 */
        mm_set(f, reg, src);
        break;
    case 0x7e: /* MOVD r/m32, mm */
        *out = (uint32_t)mm_get(f, reg);
        *out_valid = true;
        break;
    case 0x7f: /* MOVQ mm/m64, mm */
        if (in->rm_is_reg) {
            mm_set(f, rm, mm_get(f, reg));
        } else {
            *out = mm_get(f, reg);
            *out_valid = true;
        }
        break;
    case 0x71:
    case 0x72:
    case 0x73:
        mm_set(f, rm, host_mmx(mmx_group_op(op, reg), mm_get(f, rm), in->imm));
        break;
    default:
        mm_set(f, reg, host_mmx(op, mm_get(f, reg), src));
        break;
    }
    return FPU_OK;
}

void mmx_enter(struct fpu *f)
{
    set_top(f, 0);
    set_abridged(f, 0xff);
}

uint64_t mmx_reg(const struct fpu *f, unsigned i)
{
    uint64_t v;
    memcpy(&v, phys_c(f, i & 7), 8);
    return v;
}

void mmx_set_reg(struct fpu *f, unsigned i, uint64_t v)
{
    static const uint16_t ones = 0xffff;
    memcpy(phys(f, i & 7), &v, 8);
    memcpy(phys(f, i & 7) + 8, &ones, 2);
}
