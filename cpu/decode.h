/*
 * The x86 instruction decoder (16/32-bit, through P6 + MMX and SSE..SSSE3)
 * and its decoded form, shared by the interpreter (exec*.c) and the later
 * translator.
 *
 * decode_insn() turns up to 15 bytes at CS:EIP into a struct insn: the
 * opcode (one-byte map 0x000..0x0FF, 0F map 0x100..0x1FF, 0F 38 map
 * 0x300..0x3FF, 0F 3A map 0x400..0x4FF), the prefixes that matter (66, F2
 * and F3 also as the mandatory prefixes that select an SSE form: the last
 * of F2/F3 wins, and either takes precedence over 66), the ModRM operands already split into base/index/scale/disp
 * with the effective segment resolved (override or SS for BP/ESP/EBP
 * bases), the immediate(s), the length, and which EFLAGS bits the
 * instruction reads and writes. Invalid encodings decode to OP_UD (and an
 * over-long one to OP_GP) so that the fault is raised only when executed.
 */
#ifndef VMPLAY_CPU_DECODE_H
#define VMPLAY_CPU_DECODE_H

#include <stdbool.h>
#include <stdint.h>

/* insn.pfx */
#define P_OP32 0x01u   /* operand size 32 (after 66 and CS.D) */
#define P_ADDR32 0x02u /* address size 32 (after 67 and CS.D) */
#define P_LOCK 0x04u
#define P_REP 0x08u    /* F3 */
#define P_REPNE 0x10u  /* F2 */
#define P_SEGOVR 0x20u /* a segment override was given */
#define P_66 0x40u     /* a 66 prefix was present (MMX/SSE selection) */
#define P_OP64 0x80u   /* 64-bit mode: operand size 64 (REX.W, or a default-64 opcode); P_OP32 is set too */

/* insn.props */
#define I_MODRM 0x01u /* has ModRM */
#define I_MEM 0x02u   /* ModRM names memory (mod != 3) */
#define I_END 0x04u   /* ends a block (control transfer or state change) */
#define I_CROSS 0x08u /* crosses a page: never cached */
#define I_LONG 0x10u  /* decoded for 64-bit mode (decode_insn64) */
#define I_RIPREL 0x20u /* 64-bit mode: the memory operand is disp + the next instruction's RIP */
#define I_ADDR64 0x40u /* 64-bit mode: address size 64 (P_ADDR32 is set too; 67 gives 32) */

/* EFLAGS bits in insn.fread / insn.fwrite */
#define DF_CF 0x01u
#define DF_PF 0x02u
#define DF_AF 0x04u
#define DF_ZF 0x08u
#define DF_SF 0x10u
#define DF_OF 0x20u
#define DF_DF 0x40u
#define DF_SYS 0x80u /* IF, TF, IOPL, NT, AC, VM... */

#define NOREG 16u /* past the 16 long-mode registers: the core keeps a zero there */
#define OP_UD 0x200u /* invalid opcode: #UD when executed */
#define OP_GP 0x201u /* longer than 15 bytes: #GP(0) when executed */
#define OP_MAP38 0x300u /* 0F 38 xx */
#define OP_MAP3A 0x400u /* 0F 3A xx */

struct insn {
    uint16_t op;          /* 0x000..0x0FF, 0x100..0x1FF (0F xx), OP_UD, OP_GP, OP_MAP38|xx, OP_MAP3A|xx */
    uint8_t len;          /* bytes, prefixes included */
    uint8_t pfx;          /* P_* */
    uint8_t props;        /* I_* */
    uint8_t modrm;        /* raw ModRM byte (0 when none) */
    uint8_t seg;          /* segment of the memory operand (enum cpu_seg_index) */
    uint8_t base, index;  /* registers of the effective address, NOREG when absent */
    uint8_t scale;        /* index shift 0..3 */
    uint8_t fread, fwrite;/* DF_* */
    uint32_t disp;        /* displacement (sign-extended), or moffs for A0..A3 (its low half) */
    uint32_t imm;         /* immediate as encoded, zero-extended; far-pointer offset */
    uint16_t imm2;        /* far-pointer selector; ENTER nesting level */
    uint8_t xop;          /* free for the consumer (the interpreter's fast-path form) */
    uint8_t rex;          /* 64-bit mode: the REX prefix that took effect (0x40..0x4F), else 0.
                           * MOV r64, imm64 keeps the immediate's high half in disp, a 64-bit
                           * moffs (A0..A3) its high half in imm. */
};

#define REX_W 0x8u
#define REX_R 0x4u
#define REX_X 0x2u
#define REX_B 0x1u

/* 64-bit mode: ModRM.reg extended by REX.R, ModRM.rm (register form) by REX.B. */
static inline unsigned insn_reg64(const struct insn *in)
{
    return ((in->modrm >> 3) & 7) | ((in->rex & REX_R) << 1);
}

static inline unsigned insn_rm64(const struct insn *in)
{
    return (in->modrm & 7) | ((in->rex & REX_B) << 3);
}

static inline unsigned insn_reg(const struct insn *in)
{
    return (in->modrm >> 3) & 7;
}

static inline unsigned insn_rm(const struct insn *in)
{
    return in->modrm & 7;
}

/*
 * Decodes one instruction from p (avail bytes readable, at most 15 used).
 * code32: CS.D. Returns the length, or 0 when avail was too short to
 * finish it (the caller fetches more bytes and tries again).
 */
unsigned decode_insn(const uint8_t *p, unsigned avail, bool code32, struct insn *in);
/* The same for 64-bit mode (CS.L with EFER.LMA): REX, the 64-bit operand and
 * address sizes, RIP-relative operands, imm64/moffs64 and the opcodes that
 * do not exist there (OP_UD). */
unsigned decode_insn64(const uint8_t *p, unsigned avail, struct insn *in);

#endif
