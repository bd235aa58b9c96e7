/*
 * Host execution of SSE..SSSE3 instructions for the software core (see
 * sse.h). Exactness comes from the host: every instruction that computes
 * is the guest's own instruction, assembled below once per (map, mandatory
 * prefix, opcode) with ModRM C1 (xmm0/mm0/EAX as the destination,
 * xmm1/mm1/ECX as the source), and run between a load of the operands and
 * a store of the results. Floating-point forms run with the guest's RC, DAZ
 * and FTZ and all exceptions masked (FTZ off when the guest unmasks
 * underflow, as the hardware ignores it then), so the host never traps and
 * the flags it raised tell the core whether the guest faults (exec_sse.c).
 * NaN propagation, rounding, denormals and the RCPPS/RSQRTPS approximations
 * are therefore those of the host CPU. The host's MXCSR is put back after
 * every call, and its x87 is left empty (EMMS) after an mm operand. What a
 * masked run cannot show is worked out here too (sse_fp_flags): an exact
 * tiny result faults when underflow is unmasked, and an element that
 * overflows or underflows unmasked flags precision by its unbounded-exponent
 * result while the other elements flag their own exceptions.
 */
#include "cpu/sse.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#if !defined(__x86_64__)
#error "cpu/sse.c executes SSE instructions on the host: it needs x86-64"
#endif

/*
 * Snippet table, 16 bytes each: per prefix (none, 66, F3, F2) the 0F map
 * 10..7F (0x70 slots), 0F C0..FF (0x40), 0F 38 00..1F (0x20); then the
 * four CMPccPS/PD/SS/SD rows of predicates 0..7. The "none" rows start
 * with a NOP so that every slot has the same shape.
 */
#define SLOT 16
#define ROW 0xD0
#define CMP_BASE (4 * ROW)
#define W64_BASE (CMP_BASE + 32) /* F3/F2 REX.W 0F 2A, 2C, 2D */
extern const unsigned char vmplay_sse_snippets[];
__asm__(".pushsection .text\n"
        ".balign 16\n"
        ".globl vmplay_sse_snippets\n"
        ".hidden vmplay_sse_snippets\n"
        "vmplay_sse_snippets:\n"
        ".irp p, 0x90, 0x66, 0xf3, 0xf2\n"
        ".set vmplay_sse_op, 0x10\n"
        ".rept 0x70\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\p, 0x0f, vmplay_sse_op, 0xc1, 0xc3\n"
        ".set vmplay_sse_op, vmplay_sse_op + 1\n"
        ".endr\n"
        ".set vmplay_sse_op, 0xc0\n"
        ".rept 0x40\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\p, 0x0f, vmplay_sse_op, 0xc1, 0xc3\n"
        ".set vmplay_sse_op, vmplay_sse_op + 1\n"
        ".endr\n"
        ".set vmplay_sse_op, 0x00\n"
        ".rept 0x20\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\p, 0x0f, 0x38, vmplay_sse_op, 0xc1, 0xc3\n"
        ".set vmplay_sse_op, vmplay_sse_op + 1\n"
        ".endr\n"
        ".endr\n"
        ".irp p, 0x90, 0x66, 0xf3, 0xf2\n"
        ".irp c, 0, 1, 2, 3, 4, 5, 6, 7\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\p, 0x0f, 0xc2, 0xc1, \\c, 0xc3\n"
        ".endr\n"
        ".endr\n"
        ".irp p, 0xf3, 0xf2\n"
        ".irp o, 0x2a, 0x2c, 0x2d\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, \\p, 0x48, 0x0f, \\o, 0xc1, 0xc3\n"
        ".endr\n"
        ".endr\n"
        ".balign 16\n"
        ".popsection\n");

static int slot_of(unsigned map, uint8_t op)
{
    if (map == SSE_MAP_38)
        return op < 0x20 ? 0xB0 + op : -1;
    if (op >= 0x10 && op < 0x80)
        return op - 0x10;
    if (op >= 0xC0)
        return 0x70 + (op - 0xC0);
    return -1;
}

bool sse_host_has(unsigned map, unsigned pfx, uint8_t op)
{
    return pfx < 4 && slot_of(map, op) >= 0;
}

bool sse_host_has_w64(unsigned map, unsigned pfx, uint8_t op)
{
    return map == SSE_MAP_0F && (pfx == SSE_PFX_F3 || pfx == SSE_PFX_F2) &&
           (op == 0x2A || op == 0x2C || op == 0x2D);
}

static const unsigned char *snippet(unsigned map, unsigned pfx, uint8_t op, uint8_t imm,
                                    unsigned how)
{
    if (how & SSE_W64)
        return vmplay_sse_snippets +
               (W64_BASE + 3 * (pfx - SSE_PFX_F3) + (op == 0x2A ? 0 : op == 0x2C ? 1 : 2)) * SLOT;
    size_t i = map == SSE_MAP_0F && op == 0xC2 ? CMP_BASE + 8 * pfx + (imm & 7)
                                               : (size_t)ROW * pfx + (size_t)slot_of(map, op);
    return vmplay_sse_snippets + i * SLOT;
}

#define IO(f) "i"(offsetof(struct sse_io, f))

/* xmm operands only. The call goes below the red zone; EFLAGS are taken before anything else. */
static void run_xmm(const unsigned char *code, struct sse_io *io, bool fp)
{
    __asm__ volatile("stmxcsr %c[hm](%[io])\n\t"
                     "test %[fp], %[fp]\n\t"
                     "jz 1f\n\t"
                     "ldmxcsr %c[mi](%[io])\n"
                     "1:\n\t"
                     "movdqa %c[x0](%[io]), %%xmm0\n\t"
                     "movdqa %c[x1](%[io]), %%xmm1\n\t"
                     "movq %c[ri](%[io]), %%rcx\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "lea -128(%%rsp), %%rsp\n\t"
                     "call *%[code]\n\t"
                     "pushfq\n\t"
                     "popq %%rdx\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     "movl %%edx, %c[fl](%[io])\n\t"
                     "movq %%rax, %c[ro](%[io])\n\t"
                     "movdqa %%xmm0, %c[x0](%[io])\n\t"
                     "stmxcsr %c[mo](%[io])\n\t"
                     "ldmxcsr %c[hm](%[io])\n\t"
                     :
                     : [io] "r"(io), [code] "r"(code), [fp] "r"((uint32_t)fp), [hm] IO(host_mxcsr),
                       [mi] IO(mxcsr_in), [mo] IO(mxcsr_out), [x0] IO(x0), [x1] IO(x1),
                       [ri] IO(r_in), [ro] IO(r_out), [fl] IO(eflags)
                     : "rax", "rcx", "rdx", "xmm0", "xmm1", "memory", "cc");
}

/* The same with mm0/mm1 loaded and stored too, and EMMS after. */
static void run_mm(const unsigned char *code, struct sse_io *io, bool fp)
{
    __asm__ volatile("stmxcsr %c[hm](%[io])\n\t"
                     "test %[fp], %[fp]\n\t"
                     "jz 1f\n\t"
                     "ldmxcsr %c[mi](%[io])\n"
                     "1:\n\t"
                     "movdqa %c[x0](%[io]), %%xmm0\n\t"
                     "movdqa %c[x1](%[io]), %%xmm1\n\t"
                     "movq %c[m0](%[io]), %%mm0\n\t"
                     "movq %c[m1](%[io]), %%mm1\n\t"
                     "movq %c[ri](%[io]), %%rcx\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "lea -128(%%rsp), %%rsp\n\t"
                     "call *%[code]\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     "movq %%rax, %c[ro](%[io])\n\t"
                     "movdqa %%xmm0, %c[x0](%[io])\n\t"
                     "movq %%mm0, %c[m0](%[io])\n\t"
                     "emms\n\t"
                     "stmxcsr %c[mo](%[io])\n\t"
                     "ldmxcsr %c[hm](%[io])\n\t"
                     :
                     : [io] "r"(io), [code] "r"(code), [fp] "r"((uint32_t)fp), [hm] IO(host_mxcsr),
                       [mi] IO(mxcsr_in), [mo] IO(mxcsr_out), [x0] IO(x0), [x1] IO(x1),
                       [m0] IO(m0), [m1] IO(m1), [ri] IO(r_in), [ro] IO(r_out)
                     : "rax", "rcx", "xmm0", "xmm1", "mm0", "mm1", "memory", "cc");
}

uint32_t sse_host(unsigned map, unsigned pfx, uint8_t op, uint8_t imm, struct sse_io *io,
                  uint32_t mxcsr, unsigned how)
{
    bool fp = how & SSE_FP;
    uint32_t mode = mxcsr & (MXCSR_RC | MXCSR_DAZ | MXCSR_FTZ);
    if (!(mxcsr & (MXCSR_UE << 7)))
        mode &= ~MXCSR_FTZ;
    io->mxcsr_in = mode | MXCSR_MASKS;
    io->mxcsr_out = 0;
    const unsigned char *code = snippet(map, pfx, op, imm, how);
    if (how & SSE_MM)
        run_mm(code, io, fp);
    else
        run_xmm(code, io, fp);
    return fp ? io->mxcsr_out & MXCSR_FLAGS : 0;
}

/* ---- the flags of an unmasked overflow or underflow ---- */

/*
 * With underflow unmasked the hardware faults on a tiny result even when it
 * is exact, which the masked run does not flag: such a result is a nonzero
 * denormal there (FTZ is off for it). The elements of the result, as
 * (size, count), of the forms that can underflow.
 */
static bool exact_tiny(uint8_t op, unsigned col, const uint8_t *r)
{
    unsigned size = 4, n = 4;
    if (op == 0x5A) {
        if (col != SSE_PFX_66 && col != SSE_PFX_F2)
            return false;
        n = col == SSE_PFX_66 ? 2 : 1;
    } else if (op == 0x58 || op == 0x59 || op == 0x5C || op == 0x5E || op == 0x7C ||
               op == 0x7D || op == 0xD0) {
        bool horiz = op == 0x7C || op == 0x7D || op == 0xD0;
        size = col == SSE_PFX_66 || (col == SSE_PFX_F2 && !horiz) ? 8 : 4;
        n = col == SSE_PFX_F3 || (col == SSE_PFX_F2 && !horiz) ? 1 : 16 / size;
    } else {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = 0;
        memcpy(&v, r + size * i, size);
        bool denormal = size == 4 ? (v & 0x7F800000u) == 0 && (v & 0x007FFFFFu)
                                  : (v & 0x7FF0000000000000ull) == 0 && (v & 0x000FFFFFFFFFFFFFull);
        if (denormal)
            return true;
    }
    return false;
}

/* The forms that can overflow or underflow, and which of them are packed. */
static bool can_oe_ue(uint8_t op, unsigned col)
{
    if (op == 0x58 || op == 0x59 || op == 0x5C || op == 0x5E)
        return true;
    if (op == 0x5A)
        return col == SSE_PFX_66 || col == SSE_PFX_F2;
    return (op == 0xD0 || op == 0x7C || op == 0x7D) && (col == SSE_PFX_66 || col == SSE_PFX_F2);
}

static bool is_horizontal(uint8_t op)
{
    return op == 0x7C || op == 0x7D || op == 0xD0;
}

static bool is_packed(uint8_t op, unsigned col)
{
    if (op == 0x5A)
        return col == SSE_PFX_66;
    return col == SSE_PFX_NONE || col == SSE_PFX_66 || is_horizontal(op);
}

/* Bytes of a source element: doubles for 66 and scalar F2 forms and CVTPD2PS/CVTSD2SS. */
static unsigned src_size(uint8_t op, unsigned col)
{
    if (col == SSE_PFX_66)
        return 8;
    return col == SSE_PFX_F2 && !is_horizontal(op) ? 8 : 4;
}

static double elem_get(const uint8_t *p, unsigned size)
{
    float f;
    double d;
    if (size == 4) {
        memcpy(&f, p, 4);
        return f;
    }
    memcpy(&d, p, 8);
    return d;
}

static void elem_put(uint8_t *p, unsigned size, double v)
{
    float f = (float)v;
    if (size == 4)
        memcpy(p, &f, 4);
    else
        memcpy(p, &v, 8);
}

static bool elem_denormal(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, p, size);
    if (size == 4)
        return (v & 0x7F800000u) == 0 && (v & 0x007FFFFFu);
    return (v & 0x7FF0000000000000ull) == 0 && (v & 0x000FFFFFFFFFFFFFull);
}

/*
 * Whether one lane's result is inexact at an unbounded exponent, which is
 * what the precision flag reports when its overflow or underflow is
 * unmasked (the hardware rounds the significand, not the tiny or huge
 * value): the same instruction on inputs scaled by powers of two, which
 * keeps their significands. Multiply, divide and convert scale each input
 * to [1, 2); a sum that underflows is exact, one that overflows is redone
 * with all inputs scaled by 1/4 (which keeps a finite sum in range and the
 * inputs normal unless they are negligible anyway). DAZ turns denormal
 * inputs into zeros first, as the instruction sees them.
 */
static uint32_t unbounded_pe(uint8_t op, unsigned col, struct sse_io *io, uint32_t mxcsr,
                             bool underflow)
{
    unsigned size = src_size(op, col), n = 16 / size;
    bool add = op == 0x58 || op == 0x5C || is_horizontal(op);
    uint8_t *v[2] = {io->x0, io->x1};
    int e;
    if (add && underflow)
        return 0;
    for (unsigned k = 0; k < 2 * n; k++) {
        uint8_t *p = v[k / n] + size * (k % n);
        double x = elem_get(p, size);
        if ((mxcsr & MXCSR_DAZ) && elem_denormal(p, size))
            elem_put(p, size, x = copysign(0.0, x));
        if (!isfinite(x) || x == 0)
            continue;
        elem_put(p, size, add ? ldexp(x, -2) : ldexp(frexp(x, &e), 1));
    }
    /* DAZ is done: an input the scaling made denormal must count */
    return sse_host(SSE_MAP_0F, col, op, 0, io, mxcsr & ~MXCSR_DAZ, SSE_FP) & MXCSR_PE;
}

/*
 * The flags of a form that overflowed or underflowed with that exception
 * unmasked: its lanes fault with the precision flag of the unbounded
 * result (unbounded_pe) while the other lanes flag what they raise, so a
 * packed form is run lane by lane, each time with the inputs that do not
 * feed that result lane set to 1.0 (which raise nothing).
 */
static uint32_t post_flags(uint8_t op, unsigned col, const struct sse_io *orig, uint32_t raised,
                           uint32_t mxcsr)
{
    uint32_t unmasked = ~(mxcsr >> 7) & MXCSR_FLAGS, total = 0;
    if (!(raised & unmasked & (MXCSR_OE | MXCSR_UE)) || !can_oe_ue(op, col))
        return raised;
    bool packed = is_packed(op, col), horiz = is_horizontal(op) && op != 0xD0;
    unsigned size = src_size(op, col), n = packed ? 16 / size : 1;
    static const uint64_t one[2] = {0x3F800000u, 0x3FF0000000000000ull};
    for (unsigned i = 0; i < n; i++) {
        struct sse_io io = *orig, lane;
        for (unsigned j = 0; packed && j < 16 / size; j++) {
            bool in0 = horiz ? i < n / 2 && j / 2 == i : j == i;
            bool in1 = horiz ? i >= n / 2 && j / 2 == i - n / 2 : j == i;
            if (!in0)
                memcpy(io.x0 + size * j, &one[size == 8], size);
            if (!in1)
                memcpy(io.x1 + size * j, &one[size == 8], size);
        }
        lane = io;
        uint32_t f = sse_host(SSE_MAP_0F, col, op, 0, &io, mxcsr, SSE_FP);
        if ((unmasked & MXCSR_UE) && exact_tiny(op, col, io.x0))
            f |= MXCSR_UE;
        if (f & unmasked & (MXCSR_OE | MXCSR_UE))
            f = (f & ~MXCSR_PE) | unbounded_pe(op, col, &lane, mxcsr, f & MXCSR_UE);
        total |= f;
    }
    return total;
}

uint32_t sse_fp_flags(uint8_t op, unsigned pfx, const struct sse_io *in, const struct sse_io *out,
                      uint32_t raised, uint32_t mxcsr)
{
    if (!(mxcsr & (MXCSR_UE << 7)) && exact_tiny(op, pfx, out->x0))
        raised |= MXCSR_UE;
    return post_flags(op, pfx, in, raised, mxcsr);
}
