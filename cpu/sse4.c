/*
 * Host execution of SSE4.1/SSE4.2 instructions for the software core (see
 * sse4.h). As in cpu/sse.c, exactness comes from the host: each computing
 * instruction is assembled below with ModRM C1 (xmm0 destination, xmm1
 * source), the 0F 3A ones once per immediate, and run between a load of
 * the operands and a store of the results. The blends with the implicit
 * XMM0 mask, the inserts and extracts and MOVNTDQA are moves and are done
 * in cpu/exec_sse4.c instead; CRC32C is computed here bit by bit.
 */
#include "cpu/sse4.h"

#include <stddef.h>

#if !defined(__x86_64__)
#error "cpu/sse4.c executes SSE4 instructions on the host: it needs x86-64"
#endif

#define SLOT 16
/* 66 0F 38 10..41: one slot each (0x32) */
#define M38_FIRST 0x10
#define M38_N 0x32
/* 66 0F 3A: these opcodes, 256 immediates each, after the 0F 38 slots */
static const uint8_t ops_3a[] = {0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
                                 0x40, 0x41, 0x42, 0x60, 0x61, 0x62, 0x63};

extern const unsigned char vmplay_sse4_snippets[];
__asm__(".pushsection .text\n"
        ".balign 16\n"
        ".globl vmplay_sse4_snippets\n"
        ".hidden vmplay_sse4_snippets\n"
        "vmplay_sse4_snippets:\n"
        ".set vmplay_sse4_op, 0x10\n"
        ".rept 0x32\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, 0x66, 0x0f, 0x38, vmplay_sse4_op, 0xc1, 0xc3\n"
        ".set vmplay_sse4_op, vmplay_sse4_op + 1\n"
        ".endr\n"
        ".irp o, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x40, 0x41, 0x42, 0x60, 0x61, 0x62, 0x63\n"
        ".set vmplay_sse4_imm, 0\n"
        ".rept 256\n"
        ".balign 16\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, 0x66, 0x0f, 0x3a, \\o, 0xc1, vmplay_sse4_imm, 0xc3\n"
        ".set vmplay_sse4_imm, vmplay_sse4_imm + 1\n"
        ".endr\n"
        ".endr\n"
        ".balign 16\n"
        ".popsection\n");

/* The 66 0F 38 opcodes in 10..41 that the table runs (the others are invalid or done in C). */
static bool has_38(uint8_t op)
{
    switch (op) {
    case 0x17: case 0x20 ... 0x25: case 0x28: case 0x29: case 0x2B: case 0x30 ... 0x35:
    case 0x37 ... 0x41:
        return true;
    default:
        return false;
    }
}

static int index_3a(uint8_t op)
{
    for (unsigned i = 0; i < sizeof ops_3a; i++)
        if (ops_3a[i] == op)
            return (int)i;
    return -1;
}

bool sse4_host_has(bool map3a, uint8_t op)
{
    return map3a ? index_3a(op) >= 0 : has_38(op);
}

bool sse4_host_ok(void)
{
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
             __builtin_cpu_supports("popcnt");
    }
    return ok;
}

static const unsigned char *snippet(bool map3a, uint8_t op, uint8_t imm)
{
    size_t i = map3a ? M38_N + 256 * (size_t)index_3a(op) + imm : (size_t)(op - M38_FIRST);
    return vmplay_sse4_snippets + i * SLOT;
}

#define IO(f) "i"(offsetof(struct sse_io, f))

static void run(const unsigned char *code, struct sse_io *io, bool fp)
{
    __asm__ volatile("stmxcsr %c[hm](%[io])\n\t"
                     "test %[fp], %[fp]\n\t"
                     "jz 1f\n\t"
                     "ldmxcsr %c[mi](%[io])\n"
                     "1:\n\t"
                     "movdqa %c[x0](%[io]), %%xmm0\n\t"
                     "movdqa %c[x1](%[io]), %%xmm1\n\t"
                     "movl %c[ri](%[io]), %%eax\n\t"
                     "movl 4+%c[ri](%[io]), %%edx\n\t"
                     "xorl %%ecx, %%ecx\n\t"
                     "lea -128(%%rsp), %%rsp\n\t"
                     "call *%[code]\n\t"
                     "pushfq\n\t"
                     "popq %%rdx\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     "movl %%edx, %c[fl](%[io])\n\t"
                     "movq %%rcx, %c[ro](%[io])\n\t"
                     "movdqa %%xmm0, %c[x0](%[io])\n\t"
                     "stmxcsr %c[mo](%[io])\n\t"
                     "ldmxcsr %c[hm](%[io])\n\t"
                     :
                     : [io] "r"(io), [code] "r"(code), [fp] "r"((uint32_t)fp), [hm] IO(host_mxcsr),
                       [mi] IO(mxcsr_in), [mo] IO(mxcsr_out), [x0] IO(x0), [x1] IO(x1),
                       [ri] IO(r_in), [ro] IO(r_out), [fl] IO(eflags)
                     : "rax", "rcx", "rdx", "xmm0", "xmm1", "memory", "cc");
}

uint32_t sse4_host(bool map3a, uint8_t op, uint8_t imm, struct sse_io *io, uint32_t mxcsr,
                   bool fp)
{
    uint32_t mode = mxcsr & (MXCSR_RC | MXCSR_DAZ | MXCSR_FTZ);
    if (!(mxcsr & (MXCSR_UE << 7)))
        mode &= ~MXCSR_FTZ;
    io->mxcsr_in = mode | MXCSR_MASKS;
    io->mxcsr_out = 0;
    run(snippet(map3a, op, imm), io, fp);
    return fp ? io->mxcsr_out & MXCSR_FLAGS : 0;
}

uint32_t sse4_crc32c(uint32_t crc, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < 8 * n; i++) {
        uint32_t bit = (crc ^ (uint32_t)(v >> i)) & 1;
        crc = (crc >> 1) ^ (bit ? 0x82F63B78u : 0);
    }
    return crc;
}
