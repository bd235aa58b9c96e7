/*
 * SSE4.1 and SSE4.2 for the software core: host execution of the forms that
 * compute (cpu/sse4.c), the same way cpu/sse.c runs SSE..SSSE3, and the
 * instruction core for the new 0F 38 / 0F 3A opcodes, CRC32 and POPCNT
 * (cpu/exec_sse4.c). Nothing here runs unless the host has SSE4.2 and
 * POPCNT, which is also when CPUID advertises them (sse4_host_ok()).
 */
#ifndef VMPLAY_CPU_SSE4_H
#define VMPLAY_CPU_SSE4_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/sse.h"

/* The host can run SSE4.1, SSE4.2 and POPCNT (checked once). */
bool sse4_host_ok(void);
/* True when sse4_host() has 66 0F 38 op (no immediate) or 66 0F 3A op (any immediate). */
bool sse4_host_has(bool map3a, uint8_t op);
/*
 * Runs "op xmm0, xmm1[, imm]" on the host with EAX and EDX taken from the low
 * and high halves of io->r_in (the explicit lengths of PCMPESTRx); the
 * result is io->x0, io->r_out (ECX: PCMPxSTRI's index) and io->eflags.
 * Floating-point forms (fp) run under the guest's RC, DAZ and FTZ with
 * every exception masked and return the MXCSR flags raised.
 */
uint32_t sse4_host(bool map3a, uint8_t op, uint8_t imm, struct sse_io *io, uint32_t mxcsr,
                   bool fp);
struct soft;
struct insn;

/* The new opcodes (66 0F 38 10..41, 66 0F 3A 08..63, 0F 38 F0/F1) that exec_sse4() runs. */
bool sse4_claims(const struct insn *in);
void exec_sse4(struct soft *s, const struct insn *in);
/* F3 0F B8 POPCNT (both modes; #UD without F3 or on a host without it). */
void exec_popcnt(struct soft *s, const struct insn *in);

/* cpu/exec_sse.c's operand access, shared with exec_sse4.c. */
uint64_t sse_mem_lin(struct soft *s, const struct insn *in, unsigned n, bool align, unsigned need);
void sse_lin_load(struct soft *s, uint64_t lin, uint8_t *buf, unsigned n);
void sse_lin_store(struct soft *s, uint64_t lin, const uint8_t *buf, unsigned n);
/* Accounts the MXCSR flags an FP form raised; #XM (or #UD) when one is unmasked. */
void sse_fp_commit(struct soft *s, uint32_t raised);

/* CRC32C (the polynomial of SSE4.2's CRC32) of the low n bytes of v, from crc. */
uint32_t sse4_crc32c(uint32_t crc, uint64_t v, unsigned n);

#endif
