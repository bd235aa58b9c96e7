/*
 * x87 FPU and MMX for the software core: the contract between the
 * instruction core (decode/exec, which owns addressing, memory access,
 * faults and EFLAGS) and the floating-point unit (cpu/fpu.c, which owns the
 * register stack, control/status/tag words and all arithmetic in exact
 * 80-bit extended precision).
 *
 * The core decodes an ESC instruction (D8..DF + ModRM), checks CR0.EM/TS
 * (#NM) and, for waiting instructions, fpu_pending() (#MF when CR0.NE, else
 * IRQ 13 through the board), loads fpu_mem_size() bytes for FPU_LOAD forms
 * into a buffer, calls fpu_exec(), then stores the buffer for FPU_STORE
 * forms. MMX works the same way through mmx_exec().
 */
#ifndef VMPLAY_FPU_H
#define VMPLAY_FPU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

struct fpu;

struct fpu *fpu_new(void);
void fpu_free(struct fpu *f);
/* FNINIT state (also the power-on state apart from FCW 0x0040 vs 0x037F: see fpu.c). */
void fpu_reset(struct fpu *f);
void fpu_get_state(const struct fpu *f, struct cpu_fpu_state *st);
void fpu_set_state(struct fpu *f, const struct cpu_fpu_state *st);

/* The instruction as the core decoded it. */
struct fpu_insn {
    uint8_t op;        /* D8..DF */
    uint8_t modrm;
    bool op32;         /* 32-bit operand size (FSTENV/FSAVE layouts) */
    bool pmode;        /* protected-mode layouts (else real/V86 ones) */
    uint16_t cs, ds;   /* selectors for FIP/FDP bookkeeping */
    uint32_t ip, dp;   /* offset of this instruction and of its memory operand */
    uint32_t *eflags;  /* in: FCMOVcc reads; out: FCOMI/FUCOMI write ZF PF CF (others cleared as hw) */
    uint16_t *ax;      /* FNSTSW AX writes it */
};

enum fpu_access { FPU_NONE, FPU_LOAD, FPU_STORE, FPU_LOAD_STORE };

/* Bytes of memory a memory-form (mod != 3) instruction touches: 2, 4, 8, 10, 14/28, 94/108; 0 if none. */
unsigned fpu_mem_size(uint8_t op, uint8_t modrm, bool op32);
enum fpu_access fpu_mem_access(uint8_t op, uint8_t modrm);
/* True for the no-wait forms (FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE) that skip #MF. */
bool fpu_is_nowait(uint8_t op, uint8_t modrm);
/* An unmasked exception is pending (FSW.ES): the next waiting instruction must fault first. */
bool fpu_pending(const struct fpu *f);

enum fpu_result {
    FPU_OK,
    FPU_UD, /* invalid encoding: the core raises #UD */
};
/* Executes one ESC instruction; mem holds fpu_mem_size() bytes (loaded before, stored after). */
enum fpu_result fpu_exec(struct fpu *f, const struct fpu_insn *in, uint8_t *mem);
/*
 * After fpu_exec() of an FPU_STORE form: false when an unmasked exception
 * (invalid, denormal, zero-divide, overflow, underflow; not precision) left
 * the destination unchanged, as the hardware does: the core must then not
 * store the buffer.
 */
bool fpu_mem_written(const struct fpu *f);
/* WAIT/FWAIT (9B): nothing to do but the core's #MF check; provided for symmetry. */

/*
 * FXSAVE/FXRSTOR (0F AE /0 /1) for the x87 part of the 512-byte area: bytes
 * 0..23 (FCW FSW abridged FTW FOP FIP FCS FDP FDS) and 32..159 (ST0..ST7).
 * The caller owns MXCSR, MXCSR_MASK (24..31), the XMM registers and the
 * rest, and the #GP checks (alignment, reserved MXCSR bits).
 */
void fpu_fxsave(const struct fpu *f, uint8_t out[512]);
void fpu_fxrstor(struct fpu *f, const uint8_t in[512]);

/* MMX: opcode is the byte after 0F (60..7F, D1..FE, 77 EMMS). */
struct mmx_insn {
    uint8_t opcode;
    uint8_t reg;        /* ModRM.reg (MM register, or the group sub-op for 71/72/73) */
    uint8_t rm;         /* ModRM.rm when rm_is_reg */
    bool rm_is_reg;
    uint64_t src;       /* memory forms: the loaded operand; MOVD mm, r32: the GPR value */
    uint8_t imm;        /* shift-by-immediate groups 71/72/73 */
};
/* Bytes a memory-form MMX instruction reads or writes (4 for MOVD, else 8). */
unsigned mmx_mem_size(uint8_t opcode);
/* Store forms (MOVD r/m32, mm = 7E; MOVQ mm/m64, mm = 7F) write *out, with *out_valid set. */
enum fpu_result mmx_exec(struct fpu *f, const struct mmx_insn *in, uint64_t *out, bool *out_valid);

/*
 * MMX registers for the SSE-era instructions that name them (cpu/exec_sse.c):
 * MMi is the mantissa of physical register Ri. mmx_enter() is the x87 side
 * effect of every MMX-register instruction (TOP = 0, all tags valid); a
 * written register gets its exponent bits all ones.
 */
void mmx_enter(struct fpu *f);
uint64_t mmx_reg(const struct fpu *f, unsigned i);
void mmx_set_reg(struct fpu *f, unsigned i, uint64_t v);

#endif
