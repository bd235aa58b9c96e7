/*
 * SSE, SSE2, SSE3 and SSSE3 for the software core: the register file
 * (XMM0..15, of which 32-bit modes use 0..7, and MXCSR) and the host
 * execution of one instruction (cpu/sse.c). The instruction core
 * (cpu/exec_sse.c) owns decoding of the operand forms, memory access,
 * alignment and the #UD/#NM/#GP/#XM faults; this unit runs the guest's
 * instruction on the host's own SSE unit with register operands (dst in
 * xmm0/mm0, src in xmm1/mm1 or ECX, results in xmm0/mm0, EAX or EFLAGS)
 * and reports the MXCSR exception flags it raised under the guest's
 * rounding, DAZ and FTZ modes with every exception masked.
 */
#ifndef VMPLAY_CPU_SSE_H
#define VMPLAY_CPU_SSE_H

#include <stdbool.h>
#include <stdint.h>

/* MXCSR */
#define MXCSR_IE 0x0001u
#define MXCSR_DE 0x0002u
#define MXCSR_ZE 0x0004u
#define MXCSR_OE 0x0008u
#define MXCSR_UE 0x0010u
#define MXCSR_PE 0x0020u
#define MXCSR_FLAGS 0x003Fu
#define MXCSR_DAZ 0x0040u
#define MXCSR_MASKS 0x1F80u /* IM DM ZM OM UM PM, flags << 7 */
#define MXCSR_RC 0x6000u
#define MXCSR_FTZ 0x8000u
#define MXCSR_RESET 0x1F80u
#define MXCSR_MASK 0xFFFFu /* writable bits (DAZ supported): FXSAVE's MXCSR_MASK */

struct sse_state {
    _Alignas(16) uint8_t xmm[16][16];
    uint32_t mxcsr;
};

/* The operands of one host execution. */
struct sse_io {
    _Alignas(16) uint8_t x0[16]; /* xmm0: destination in, result out */
    _Alignas(16) uint8_t x1[16]; /* xmm1: source */
    uint64_t m0, m1;             /* mm0 (destination, result), mm1 (source) */
    uint64_t r_in;               /* RCX: integer source (CVTSI2SS...) */
    uint64_t r_out;              /* RAX: integer result (CVTSS2SI, MOVMSKPS...), zero-extended */
    uint32_t eflags;             /* EFLAGS after the instruction (COMISS...) */
    uint32_t mxcsr_in, mxcsr_out, host_mxcsr;
};

/* Maps of sse_host(). */
enum { SSE_MAP_0F, SSE_MAP_38 };
/* Column of a mandatory prefix: none, 66, F3, F2. */
enum { SSE_PFX_NONE, SSE_PFX_66, SSE_PFX_F3, SSE_PFX_F2 };

/* sse_host() how: */
#define SSE_FP 0x1u /* floating point: runs under the guest MXCSR, returns the flags raised */
#define SSE_MM 0x2u /* mm0/mm1 take part (EMMS after, the host's x87 left empty) */
#define SSE_W64 0x4u /* REX.W: CVTSI2SS/SD from RCX, CVT(T)SS/SD2SI to RAX (F3/F2 0F 2A 2C 2D) */

/* True when the host snippet table has (map, prefix, opcode). */
bool sse_host_has(unsigned map, unsigned pfx, uint8_t op);
/* The same for the REX.W (SSE_W64) forms. */
bool sse_host_has_w64(unsigned map, unsigned pfx, uint8_t op);
/*
 * Runs "op xmm0/mm0/eax, xmm1/mm1/ecx" (ModRM C1) for (map, prefix,
 * opcode); CMPPS/CMPPD/CMPSS/CMPSD (0F C2) take the predicate imm & 7.
 * Returns the MXCSR exception flags raised (SSE_FP), else 0.
 */
uint32_t sse_host(unsigned map, unsigned pfx, uint8_t op, uint8_t imm, struct sse_io *io,
                  uint32_t mxcsr, unsigned how);
/*
 * The exception flags the guest's 0F-map floating-point instruction raises
 * under its MXCSR, from the masked host run (operands in, results out,
 * flags raised): exact tiny results with underflow unmasked, and the lanes
 * of an unmasked overflow or underflow redone one by one.
 */
uint32_t sse_fp_flags(uint8_t op, unsigned pfx, const struct sse_io *in, const struct sse_io *out,
                      uint32_t raised, uint32_t mxcsr);

#endif
