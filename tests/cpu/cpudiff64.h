/*
 * The 64-bit differential CPU test's wire format, shared by the native
 * runner (runner64.c, an x86-64 Linux program, so CPL 3 in 64-bit mode) and
 * the driver (cpudiff64.c, linked with the software core, which runs the
 * same code at CPL 3 in 64-bit mode under identity-mapped 4-level paging).
 * A case is a short instruction sequence at CD64_CODE, the sixteen GPRs and
 * RFLAGS to start from, and a 4 KiB window at CD64_WIN (filled from a seed,
 * then data_len bytes of the case's own data at CD64_DATA_AT: SSE operands);
 * both sides report the GPRs, RFLAGS, where execution stopped (the end of
 * the code, or the fault vector, RIP and error code) and the window.
 */
#ifndef VMPLAY_TESTS_CPUDIFF64_H
#define VMPLAY_TESTS_CPUDIFF64_H

#include <stdint.h>

#define CD64_WIN 0x30000000u
#define CD64_WIN_SIZE 0x1000u
#define CD64_CODE 0x30100000u
#define CD64_CODE_MAX 128
#define CD64_DATA_AT 0x100u /* window offset of the case data (R14 points there) */
#define CD64_DATA_MAX 0x100u

struct cd64_in {
    uint64_t gpr[16]; /* RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 */
    uint64_t rflags;
    uint32_t seed;
    uint32_t code_len;
    uint32_t data_len;
    uint8_t code[CD64_CODE_MAX];
    uint8_t data[CD64_DATA_MAX];
};

struct cd64_out {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t rip;   /* CD64_CODE + code_len when the code ran to its end */
    int32_t vector; /* -1: no fault */
    uint32_t err;
    uint8_t mem[CD64_WIN_SIZE];
};

static inline void cd64_fill(const struct cd64_in *in, uint8_t *win)
{
    uint32_t seed = in->seed;
    uint32_t x = seed | 1;
    for (unsigned i = 0; i < CD64_WIN_SIZE; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        win[i] = (uint8_t)x;
    }
    for (unsigned i = 0; i < in->data_len && i < CD64_DATA_MAX; i++)
        win[CD64_DATA_AT + i] = in->data[i];
}

#endif
