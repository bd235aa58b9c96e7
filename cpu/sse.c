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
 * every call, and its x87 is left empty (EMMS) after an mm operand.
 */
#include "cpu/sse.h"

#include <stddef.h>

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

static const unsigned char *snippet(unsigned map, unsigned pfx, uint8_t op, uint8_t imm)
{
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
                     "movl %c[ri](%[io]), %%ecx\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "lea -128(%%rsp), %%rsp\n\t"
                     "call *%[code]\n\t"
                     "pushfq\n\t"
                     "popq %%rdx\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     "movl %%edx, %c[fl](%[io])\n\t"
                     "movl %%eax, %c[ro](%[io])\n\t"
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
                     "movl %c[ri](%[io]), %%ecx\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "lea -128(%%rsp), %%rsp\n\t"
                     "call *%[code]\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     "movl %%eax, %c[ro](%[io])\n\t"
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
    const unsigned char *code = snippet(map, pfx, op, imm);
    if (how & SSE_MM)
        run_mm(code, io, fp);
    else
        run_xmm(code, io, fp);
    return fp ? io->mxcsr_out & MXCSR_FLAGS : 0;
}
