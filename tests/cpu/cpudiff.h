/*
 * The differential CPU test's wire format, shared by the native runner
 * (runner32.c, built with gcc -m32) and the driver (cpudiff.c, linked with
 * the software core). A case is a short instruction sequence placed at
 * CD_CODE, the eight GPRs and EFLAGS to start from, and a 4 KiB memory
 * window at CD_WIN (data in the lower half, the stack in the upper half).
 * Both sides run it at CPL 3 in a 32-bit flat address space at the same
 * addresses, with the selectors of a 32-bit Linux process (CS 0x23, DS ES SS
 * 0x2B, FS 0, GS 0x63), and report the GPRs, EFLAGS, the selectors, where
 * execution stopped (the end of the code or the fault vector, EIP and error
 * code), FCW/FSW, MXCSR and XMM0..7 (from an FXSAVE after the code, or
 * from the signal frame after a fault) and the window.
 */
#ifndef VMPLAY_TESTS_CPUDIFF_H
#define VMPLAY_TESTS_CPUDIFF_H

#include <stdint.h>
#include <string.h>

#define CD_WIN 0x30000000u   /* memory window compared after every case */
#define CD_WIN_SIZE 0x1000u
#define CD_STACK (CD_WIN + 0xC00u) /* initial ESP for stack groups */
#define CD_CODE 0x30100000u  /* the case's code (the runner appends its epilogue) */
#define CD_CTL 0x30200000u   /* runner control page / core GDT, IDT, TSS and fault stubs */
#define CD_SEL_CODE 0x23     /* the selectors of a 32-bit process on x86-64 Linux */
#define CD_SEL_DATA 0x2B
#define CD_SEL_TLS 0x63
#define CD_CODE_MAX 240
#define CD_DATA_INIT 512     /* bytes at CD_WIN the case sets explicitly */

/* Flags a case can compare: the arithmetic ones, TF IF DF, AC and ID. */
#define CD_FLAGS_ARITH 0x08D5u
#define CD_FLAGS_ALL (CD_FLAGS_ARITH | 0x0700u | 0x240000u)

struct cd_in {
    uint32_t gpr[8]; /* EAX ECX EDX EBX ESP EBP ESI EDI */
    uint32_t eflags;
    uint32_t seed;   /* fills the window beyond data[] (cd_fill) */
    uint32_t code_len;
    uint8_t code[CD_CODE_MAX];
    uint8_t data[CD_DATA_INIT];
};

struct cd_out {
    uint32_t gpr[8];
    uint32_t eflags;
    uint32_t eip;    /* CD_CODE + code_len when the code ran to its end */
    int32_t vector;  /* -1: no fault; else the exception vector */
    uint32_t err;    /* error code of the fault (0 when it has none) */
    uint16_t fcw, fsw;
    uint16_t seg[6]; /* ES CS SS DS FS GS selectors */
    uint32_t mxcsr;
    uint8_t xmm[8][16];
    uint8_t mem[CD_WIN_SIZE];
};

/* The initial window: data[] followed by xorshift bytes from seed. */
static inline void cd_fill(const struct cd_in *in, uint8_t *win)
{
    uint32_t x = in->seed | 1;
    memcpy(win, in->data, CD_DATA_INIT);
    for (uint32_t i = CD_DATA_INIT; i < CD_WIN_SIZE; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        win[i] = (uint8_t)(x >> 11);
    }
}

#endif
