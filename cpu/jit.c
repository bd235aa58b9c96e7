/*
 * The translator (issue 17): hot blocks of flat 32-bit code are emitted as
 * host x86-64 code (the native forms below), the other instructions as calls
 * of the interpreter, and translated blocks jump straight to each other
 * (chaining, below). Off unless --jit=on (or VMPLAY_JIT=on, and
 * VMPLAY_JIT_THRESHOLD=n, VMPLAY_JIT_STATS=1 on stderr at exit, for tests).
 *
 * Model. A block is translated when it has been entered JIT_THRESHOLD times
 * through run_blocks (with the JIT on, block_run runs one block at a time so
 * that every block end comes back there or to a chained entry, which checks
 * the same: the points where the interpreter checks the budget, interrupts
 * and stop requests, so --deterministic runs count as the interpreter does).
 * Guest registers stay in s->r[] (r14 = s, r15 = s->tlb_cur); each guest
 * instruction is emitted as itself over a scratch host register, so the
 * host computes the guest's arithmetic flags in host EFLAGS. At entry the
 * lazy flags are materialised (cc.op = CC_NONE) and loaded with POPFQ when
 * the block reads them before writing them; at exit the six arithmetic bits
 * go back to s->flags. Memory operands probe the soft TLB inline (the tags
 * hold the last byte's page, so page crossings miss); a miss goes to an
 * out-of-line slow-path sequence that calls mread/mwrite with EIP, next EIP and EFLAGS
 * exact, so faults unwind through soft_raise exactly as from the
 * interpreter (which also adds no partial instruction count for a fault
 * inside a block). Guest flags that are live or already written across a
 * probe are kept in r11 with LAHF/SETO and restored with SAHF. A store that
 * hits cached code sets block_end and the block leaves after that
 * instruction, as NEXT_CHECKED does (a slow-path load does not check it: a
 * memory-map change on a read would end the block late). Flat means CS, DS, ES and SS based at 0
 * with 4 GiB limits (DS/ES/SS writable, SS.B); it is checked at every entry,
 * so a non-flat block just runs interpreted. The code cache is one 16 MiB
 * RWX mapping, emptied with the block arena (code_flush_now) and asking for
 * that flush when full; invalidated blocks are unlinked by the block cache
 * as before and their code is never entered again.
 *
 * Native forms: register and memory ALU (load-op and read-modify-write, imm
 * forms), MOV (reg, imm, load, store, store imm), LEA, INC/DEC (reg, mem),
 * PUSH/POP (reg, imm), TEST, MOVZX/MOVSX, shifts and rotates by 1/imm8/CL
 * (not RCL/RCR), IMUL (0F AF, 69 and 6B with a register operand), CMOVcc,
 * SETcc, and as the block's last instruction Jcc, JMP, CALL and RET near.
 * The forms new in the second step (RMW ALU ... RET) keep no slow path of
 * their own: a TLB miss runs the whole instruction through the interpreter's
 * fast form (jit_fast), then the block goes on after it. The remaining
 * instructions with a fast form (byte ALU/MOV/TEST, 16-bit moves and shifts)
 * are calls of that form as a block of one (jit_fast, far cheaper
 * than soft_exec); the rest (X_NONE, not segment loads, which would break
 * the flat assumption mid-block) calls soft_exec through jit_exec, counted
 * the way x_none counts them.
 *
 * Chaining. An exit to a known EIP (Jcc both ways, JMP, CALL, fall-through)
 * jumps through a slot (struct jit_link) that first leads to the dispatcher;
 * jit_run points it at the target's chained entry when the next block it is
 * handed has that EIP. RET's exit compares the popped EIP with the one its
 * slot was last linked for (the return-address check) and otherwise goes to
 * the dispatcher, which relinks it. A chained entry checks what run_blocks
 * checks between blocks (the instruction limit of the current run, halted,
 * shadow, TF/RF, breakpoints, a pending flush, the interrupt line with IF,
 * a stop request, block_end) and then the block's own validity (invalidated
 * blocks stay in the arena until a flush, which empties this cache too) and
 * mapping (its page's TLB entry: tag_x and the physical page), so
 * self-modifying code, INVLPG and CR3 writes need no unlinking, and a guest
 * loop cannot hold off interrupts, deadlines or --timeout. Block boundaries
 * and the points where the limit is checked are the interpreter's, so
 * --deterministic runs count the same. Blocks that call soft_exec never
 * chain (it may change the mode, segments or paging); segments that are not
 * flat are noted at jit_run's entry (jit_nonflat) and tested against each
 * chained block's segments (the flat-segment key bit, as one byte test).
 *
 * Measured (callgrind, host instructions per guest instruction,
 * test_cpu_bench, VMPLAY_JIT=on, threshold 16; the interpreter: loop 78.8,
 * mpi 48.6): spike loop 107.6 / mpi 64.9; with fast-form helpers and
 * chaining 76.1 / 51.9; with the native forms 17.5 / 10.1. i386 appliance
 * test boot to power-off (--deterministic): 7.58 G guest instructions,
 * 99.8 % in translated blocks, 3.7 % of those through helpers, 509 M chained
 * block entries; serial markers as expected.
 *
 * Spike notes (first version, kept for the record): the spike measured
 * loop_mips 78.2 -> 107.0 and mpi 48.3 -> 64.6; what lost was:
 * (1) helpers: soft_exec's general path costs about 200 host
 * instructions per instruction (exec_0f, sse_claims, cc_compute,
 * soft_materialize), four times the interpreter's fast form, and 20-31 % of
 * the benches' instructions are ADD m,r / SHR / IMUL / MOVZX / SETcc / CMOV /
 * ADC that this spike leaves to it; (2) the dispatcher: every block returns to
 * run_blocks (block_fetch, flat(), soft_materialize, the call) at about 150
 * host instructions per block, 15-30 per guest instruction on 5-11
 * instruction blocks. So the model holds for what is emitted natively; the
 * full translator needs, in this order: native forms for the whole fast-form
 * set (RMW ALU, shifts, IMUL, MOVZX/SX, SETcc, CMOVcc, CALL/RET) or at least
 * helpers that are the fast forms rather than soft_exec; direct block
 * linking with the budget/attention check in generated code; the flat-segment
 * bit in the block key instead of flat() per entry; then pinned host
 * registers. i386 appliance boot to power-off (test mode, --deterministic):
 * 7.61 G guest instructions, 99.9 % of them in translated blocks, 23.8 % of
 * those through helpers; serial output byte-identical to the interpreter's;
 * 36.0 s user CPU against 23.1 s interpreted (one loaded run each, so only
 * the direction counts). The md5 stage was not measured under callgrind (a
 * boot is hours there). Translated code is used only at the EIP it was
 * translated for: blocks are found by physical address and Linux runs its
 * first pages at two linear addresses.
 */
#include "cpu/exec.h"
#include "cpu/xop.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define JIT_BYTES (16u << 20)
#define JIT_BLOCK_ROOM (48u << 10) /* more than any block of 48 instructions needs */

int soft_jit_mode = -1; /* -1: VMPLAY_JIT decides (default off), 0 off, 1 on */
unsigned jit_threshold = 16;
bool jit_helpers = true; /* translate blocks with other instructions too, as helper calls */

/* A helper site's instruction as a block of one, for the interpreter's fast form. */
#define MINI_BYTES ((sizeof(struct block) + 2 * sizeof(struct insn) + 15) & ~(size_t)15)

struct jit_site {
    uint64_t eip, next;
    const struct insn *in; /* helper sites: the instruction soft_exec runs */
    struct block *mb;      /* fast-form helper sites: in as a block of one */
    uint32_t k;            /* helper sites: instructions to count first (as x_none does) */
    uint8_t seg, reg, dirty;
};

/* Why a chained entry went back to the dispatcher (the checks in its order). */
static const char *const chain_why[] = {"limit", "halted", "shadow", "trace", "bp", "flush", "block_end",
                                        "stop", "TF/RF", "intr", "nonflat", "invalid", "tag_x", "phys"};
#define CHAIN_WHY (sizeof chain_why / sizeof chain_why[0])

/* The jump cache of RET and indirect exits whose own slot misses: translated blocks by
 * EIP (~0: empty), filled by jit_run, emptied with the code cache. */
#define JC_SIZE 4096u
struct jit_jc {
    uint64_t eip;
    void *to; /* the block's chained entry */
};

struct jit {
    struct jit_jc jc[JC_SIZE];
    uint8_t *base, *cur, *end;
    uint64_t blocks, failed;
    /* VMPLAY_JIT_STATS / VMPLAY_JIT_PERFMAP */
    bool stats;
    FILE *perfmap;
    uint64_t trans_ns, full, lazy;
    uint64_t chain_out[CHAIN_WHY];
    uint64_t exit_link, exit_plain;       /* returns to jit_run: through a link slot, other */
    uint64_t interp[4];                    /* jit_run ran b interpreted: cold, no code, EIP, segments */
    uint64_t helper_op[0x200], fast_op[0x200]; /* helper calls by opcode (0x1xx: 0F map) */
};

/* ---- emitter ---- */

struct em {
    uint8_t *p;
};

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static void b1(struct em *e, unsigned v)
{
    *e->p++ = (uint8_t)v;
}

static void b4(struct em *e, uint32_t v)
{
    memcpy(e->p, &v, 4);
    e->p += 4;
}

static void b8(struct em *e, uint64_t v)
{
    memcpy(e->p, &v, 8);
    e->p += 8;
}

static void rex(struct em *e, int w, int reg, int index, int base)
{
    unsigned r = 0x40u | (unsigned)w << 3 | ((reg >> 3) & 1) << 2 | (index >= 0 ? ((index >> 3) & 1) << 1 : 0) |
                 ((base >> 3) & 1);
    if (r != 0x40)
        b1(e, r);
}

static void opc(struct em *e, unsigned op)
{
    if (op > 0xFF)
        b1(e, op >> 8);
    b1(e, op & 0xFF);
}

/* op reg, [base + index*2^scale + disp] (index -1: none). */
static void op_m(struct em *e, int w, unsigned op, int reg, int base, int index, int scale, int32_t disp)
{
    rex(e, w, reg, index, base);
    opc(e, op);
    unsigned mod = (disp == 0 && (base & 7) != 5) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
    if (index < 0 && (base & 7) != 4) {
        b1(e, mod << 6 | (unsigned)(reg & 7) << 3 | (unsigned)(base & 7));
    } else {
        b1(e, mod << 6 | (unsigned)(reg & 7) << 3 | 4);
        b1(e, (unsigned)scale << 6 | (unsigned)(index < 0 ? 4 : index & 7) << 3 | (unsigned)(base & 7));
    }
    if (mod == 1)
        b1(e, (uint8_t)disp);
    else if (mod == 2)
        b4(e, (uint32_t)disp);
}

/* op reg, rm (register form). */
static void op_r(struct em *e, int w, unsigned op, int reg, int rm)
{
    rex(e, w, reg, -1, rm);
    opc(e, op);
    b1(e, 0xC0 | (unsigned)(reg & 7) << 3 | (unsigned)(rm & 7));
}

#define S(field) ((int32_t)offsetof(struct soft, field))
#define GR(i) ((int32_t)(offsetof(struct soft, r) + 8 * (i)))

static void ld32(struct em *e, int hreg, unsigned greg)
{
    op_m(e, 0, 0x8B, hreg, R14, -1, 0, GR(greg));
}

static void st64(struct em *e, int hreg, unsigned greg)
{
    op_m(e, 1, 0x89, hreg, R14, -1, 0, GR(greg));
}

static void mov_ri(struct em *e, int reg, uint32_t v)
{
    rex(e, 0, 0, -1, reg);
    b1(e, 0xB8 + (reg & 7));
    b4(e, v);
}

static void mov_ri64(struct em *e, int reg, uint64_t v)
{
    rex(e, 1, 0, -1, reg);
    b1(e, 0xB8 + (reg & 7));
    b8(e, v);
}

/* A rel32 jump or Jcc (cc < 0: JMP); returns the displacement's address to patch. */
static uint8_t *jmp32(struct em *e, int cc)
{
    if (cc < 0) {
        b1(e, 0xE9);
    } else {
        b1(e, 0x0F);
        b1(e, 0x80 + (unsigned)cc);
    }
    uint8_t *at = e->p;
    b4(e, 0);
    return at;
}

static void patch(uint8_t *at, const uint8_t *target)
{
    int32_t d = (int32_t)(target - (at + 4));
    memcpy(at, &d, 4);
}

static void epilogue(struct em *e)
{
    b1(e, 0x48), b1(e, 0x83), b1(e, 0xC4), b1(e, 0x08); /* add rsp, 8 */
    b1(e, 0x41), b1(e, 0x5F);                           /* pop r15 */
    b1(e, 0x41), b1(e, 0x5E);                           /* pop r14 */
    b1(e, 0xC3);
}

/* ---- slow paths (C, called from the out-of-line slow-path sequences) ---- */

static uint32_t img_flags(uint32_t img)
{
    return ((img >> 8) & 0xD5u) | ((img & 1) ? FL_OF : 0);
}

static void site_enter(struct soft *s, const struct jit_site *t, uint32_t img)
{
    s->eip = t->eip;
    s->next_eip = t->next;
    if (t->dirty)
        s->flags = (s->flags & ~FL_ARITH) | img_flags(img);
}

static uint32_t *jit_load(struct soft *s, const struct jit_site *t, uint32_t off, uint32_t img)
{
    site_enter(s, t, img);
    s->jit_val = (uint32_t)mread(s, t->seg, off, 4);
    return &s->jit_val;
}

static uint32_t jit_store(struct soft *s, const struct jit_site *t, uint32_t off, uint32_t img)
{
    site_enter(s, t, img);
    mwrite(s, t->seg, off, (uint32_t)s->r[t->reg], 4);
    return s->block_end;
}

/* Any other instruction, through the interpreter's general path (x_none). */
static uint32_t jit_exec(struct soft *s, const struct jit_site *t, uint32_t unused, uint32_t fl)
{
    (void)unused;
    s->eip = t->eip;
    s->next_eip = t->next;
    if (t->dirty)
        s->flags = (s->flags & ~FL_ARITH) | (fl & FL_ARITH);
    s->icount += t->k;
    s->jit_helped++;
    if (s->jit->stats && t->in->op < 0x200)
        s->jit->helper_op[t->in->op]++;
    soft_exec(s, t->in);
    soft_materialize(s);
    s->eip = s->next_eip;
    return s->block_end;
}

/* An exec form's slow path (a TLB miss, a DIV operand that may fault): the whole
 * instruction through soft_exec, with the flags from the LAHF/SETO image in r11. */
static uint32_t jit_exec_img(struct soft *s, const struct jit_site *t, uint32_t unused, uint32_t img)
{
    return jit_exec(s, t, unused, (s->flags & ~FL_ARITH) | img_flags(img));
}

/* An instruction with a fast form, through that form (a block of one): what the
 * interpreter would run, at a fraction of soft_exec's cost. Counts nothing (the
 * interpreter counts a fast form's instruction when the block is left); returns
 * whether the block must be left after it (a store hit cached code). */
static uint32_t jit_fast(struct soft *s, const struct jit_site *t, uint32_t unused, uint32_t fl)
{
    (void)unused;
    s->eip = t->eip;
    if (t->dirty)
        s->flags = (s->flags & ~FL_ARITH) | (fl & FL_ARITH);
    uint64_t gen = s->code_gen;
    s->jit_helped++;
    if (s->jit->stats && t->mb->insn[0].op < 0x200)
        s->jit->fast_op[t->mb->insn[0].op]++;
    block_run(s, t->mb, BLOCK_MAX_INSNS, 0); /* limit 0: never chains on */
    s->icount--;                             /* block_run counted it */
    soft_materialize(s);
    return s->code_gen != gen || s->flush_pending;
}

/* A direct exit's link: where it jumps (the target's chained entry once linked). */
struct jit_link {
    void *to;
    uint32_t eip; /* the target's EIP */
};

/* ---- translation ---- */

enum { K_NONE, K_LOAD, K_STORE, K_FAST, K_EXEC };

struct pending {
    uint8_t *jne;   /* main path's branch to its slow-path sequence */
    uint8_t *join;  /* where a load resumes (r8 = value's address) / a store continues */
    int kind;
    unsigned idx;   /* instruction index */
    struct jit_site *site;
    int push;       /* the store is a PUSH: its tail moves ESP */
    unsigned kexit; /* instructions to count when it leaves after this one */
    uint8_t *jx[3]; /* K_EXEC: more branches to the slow path (DIV's operand checks) */
    unsigned njx;
};

/* Segment loads (other than the block-ending ones): the inline accesses assume flat segments. */
static bool loads_segment(unsigned op)
{
    return op == 0x07 || op == 0x17 || op == 0x1F || op == 0x8E || op == 0xC4 || op == 0xC5 ||
           op == 0x1A1 || op == 0x1A9 || op == 0x1B2 || op == 0x1B4 || op == 0x1B5;
}

/* Whether soft_exec running in leaves what chained entries assume alone: the mode,
 * CS, the data segments (jit_nonflat is computed once per chain), control
 * registers and the interrupt shadow. Everything else a helper may change is
 * checked again at each chained entry (the TLB entry of the target, the
 * interrupt line with IF, TF, a pending flush, block_end, a stop request). */
static bool chain_safe(const struct insn *in)
{
    unsigned op = in->op;
    if (op >= 0x200)
        return false;
    if (op >= 0x100) {
        switch (op & 0xFF) {
        case 0x00: case 0x01: case 0x02: case 0x03: case 0x05: case 0x06: case 0x07: case 0x08: case 0x09:
        case 0x30: case 0x34: case 0x35: case 0xA1: case 0xA9: case 0xAA: case 0xB2: case 0xB4: case 0xB5:
            return false;
        default:
            return (op & 0xF8) != 0x20; /* MOV to/from CR, DR, TR */
        }
    }
    switch (op) {
    case 0x07: case 0x0E: case 0x17: case 0x1F: case 0x8E: case 0x9A: case 0x9D: case 0xC4: case 0xC5:
    case 0xCA: case 0xCB: case 0xCC: case 0xCD: case 0xCE: case 0xCF: case 0xEA: case 0xF1: case 0xF4:
    case 0xFB:
        return false;
    case 0xFF:
        return insn_reg(in) != 3 && insn_reg(in) != 5; /* not CALL/JMP far */
    default:
        return true;
    }
}

/* Byte and 16-bit forms: the operand-size prefix is part of the form. */
static bool small_form(unsigned xop)
{
    return xop == X_ALU8 || xop == X_MOV8_RM || xop == X_MOV8_MR || xop == X_MOV8_MI || xop == X_TEST8_RR ||
           xop == X_LOAD16 || xop == X_STORE16 || xop == X_MOV16_RR;
}

/* Instructions with no fast form in the interpreter that are emitted as themselves over
 * the guest registers in s->r[] or over [r8] after an inline TLB probe (memory forms);
 * a TLB miss, and DIV/IDIV operands that may fault, run the whole instruction through
 * soft_exec (jit_exec_img) and the block goes on after it. 80 ALU r/m8, imm8; F6 /0
 * TEST r/m8, imm8; F7 NOT NEG MUL IMUL (register and memory), DIV IDIV (register);
 * 0F BA BT BTS BTR BTC r/m32, imm8; A0..A3 MOV AL/EAX to and from moffs; A8, A9
 * TEST AL/EAX, imm; B0..B7 MOV r8, imm8; 84, 85 TEST m, r. */
static bool exec_form(const struct insn *in)
{
    bool mem = in->props & I_MEM;
    unsigned reg = insn_reg(in);
    switch (in->op) {
    case 0x80:
        return true;
    case 0xF6:
        return reg == 0;
    case 0xF7:
        return reg >= 2 && (!mem || reg <= 5);
    case 0x1BA:
        return reg >= 4;
    case 0xA0: case 0xA1: case 0xA2: case 0xA3: case 0xA8: case 0xA9:
    case 0xB0: case 0xB1: case 0xB2: case 0xB3: case 0xB4: case 0xB5: case 0xB6: case 0xB7:
        return true;
    case 0x84: case 0x85: /* the register forms are X_TEST8_RR, X_TEST_RR */
        return mem;
    default:
        return false;
    }
}

static bool moffs(const struct insn *in)
{
    return in->op >= 0xA0 && in->op <= 0xA3;
}

static bool exec_write(const struct insn *in)
{
    unsigned reg = insn_reg(in);
    switch (in->op) {
    case 0x80: return reg != 7;
    case 0xF7: return reg == 2 || reg == 3;
    case 0x1BA: return reg != 4;
    case 0xA2: case 0xA3: return true;
    default: return false;
    }
}

static unsigned exec_size(const struct insn *in)
{
    return in->op == 0x80 || in->op == 0xF6 || in->op == 0xA0 || in->op == 0xA2 || in->op == 0x84 ? 1 : 4;
}

/* The arithmetic flags (DF_*) in writes when emitted natively, where the decoder's set is
 * wider: NOT writes none, BT* only CF (the host leaves ZF, the others are undefined). */
static unsigned flags_written(const struct insn *in)
{
    if (in->op == 0xF7 && insn_reg(in) == 2)
        return 0;
    if (in->op == 0x1BA)
        return DF_CF;
    return in->fwrite & 0x3Fu;
}

static bool native(const struct insn *in, bool last)
{
    if (in->xop == X_NONE && in->op == 0x90 && !(in->pfx & P_LOCK) && !(in->props & (I_LONG | I_CROSS)))
        return true; /* NOP, PAUSE, 66 NOP */
    if (!(in->pfx & P_ADDR32) || (!(in->pfx & P_OP32) && !small_form(in->xop)) ||
        (in->pfx & (P_LOCK | P_REP | P_REPNE)) || (in->props & (I_LONG | I_CROSS)))
        return false;
    bool mem = (in->props & I_MEM) || (in->op >= 0xA0 && in->op <= 0xA3);
    if (mem && in->seg == SEG_CS)
        return false;
    unsigned op = in->op;
    switch (in->xop) {
    case X_ALU_RR: case X_ALU_RI: case X_ALU_AI: case X_MOV_RR: case X_MOV_RI: case X_INC: case X_DEC:
    case X_PUSH: case X_POP: case X_LEA: case X_TEST_RR:
        return true;
    case X_ALU_RM:
        return (op & 7) == 3;
    case X_LOAD: case X_STORE:
        return true;
    case X_TEST_RI: case X_ALU_MR: case X_ALU_MI: case X_STORE_I: case X_INCDEC_M: case X_PUSH_I:
    case X_MOVZX8: case X_MOVZX16: case X_MOVSX8: case X_MOVSX16: case X_SHIFT: case X_IMUL: case X_CMOV:
    case X_SETCC:
        return true;
    case X_ALU8: case X_MOV8_RM: case X_MOV8_MR: case X_MOV8_MI: case X_TEST8_RR: case X_LOAD16: case X_STORE16:
    case X_MOV16_RR:
        return true;
    case X_JCC: case X_JMP: case X_CALL: case X_RET:
        return last;
    case X_NONE: /* IMUL r, r, imm: no fast form in the interpreter; NOP; the exec forms */
        return ((op == 0x69 || op == 0x6B) && !mem) || op == 0x90 || exec_form(in);
    default:
        return false;
    }
}

/* Native forms whose memory access (a TLB miss) goes to the instruction's fast form as
 * a whole: the inline code runs only on a TLB hit. */
static bool fast_mem(const struct insn *in)
{
    switch (in->xop) {
    case X_PUSH_I: case X_CALL: case X_RET:
        return true;
    case X_TEST_RI: case X_ALU_MR: case X_ALU_MI: case X_STORE_I: case X_INCDEC_M: case X_MOVZX8:
    case X_MOVZX16: case X_MOVSX8: case X_MOVSX16: case X_SHIFT: case X_IMUL: case X_CMOV: case X_SETCC:
    case X_ALU8: case X_MOV8_RM: case X_MOV8_MR: case X_MOV8_MI: case X_LOAD16: case X_STORE16:
        return (in->props & I_MEM) != 0;
    default:
        return false;
    }
}

/* The size, direction and segment of a fast_mem form's access. */
static unsigned fast_size(const struct insn *in)
{
    switch (in->xop) {
    case X_MOVZX8: case X_MOVSX8: case X_SETCC: case X_ALU8: case X_MOV8_RM: case X_MOV8_MR: case X_MOV8_MI: return 1;
    case X_MOVZX16: case X_MOVSX16: case X_LOAD16: case X_STORE16: return 2;
    default: return 4;
    }
}

static bool fast_write(const struct insn *in)
{
    switch (in->xop) {
    case X_ALU_MR: case X_ALU_MI: return ((in->xop == X_ALU_MR ? in->op >> 3 : (unsigned)insn_reg(in)) & 7) != 7;
    case X_STORE_I: case X_INCDEC_M: case X_PUSH_I: case X_CALL: case X_SETCC: case X_SHIFT: return true;
    case X_MOV8_MR: case X_MOV8_MI: case X_STORE16: return true;
    case X_ALU8: return (in->op & 7) == 0 && ((in->op >> 3) & 7) != 7;
    default: return false;
    }
}

/* The host opcode of a 0F-map instruction (in->op 0x1xx). */
static unsigned op0f(unsigned op)
{
    return 0x0F00 | (op & 0xFF);
}

/* The offset in struct soft of 8-bit register r (AL..BL, AH..BH). */
static int32_t gr8(unsigned r)
{
    return r < 4 ? GR(r) : GR(r - 4) + 1;
}

/* in may leave the block with its state stored (a helper, a memory access's slow path):
 * the guest flags must all be exact there, also those not written in the block yet. */
static bool may_fault(const struct insn *in, bool nat)
{
    return !nat || ((in->props & I_MEM) && in->xop != X_LEA) || in->xop == X_PUSH || in->xop == X_POP ||
           fast_mem(in) || (in->op >= 0xA0 && in->op <= 0xA3) || (in->op == 0xF7 && insn_reg(in) >= 6);
}

static uint32_t imm_of(const struct insn *in)
{
    return (in->op == 0x83 || in->op == 0x6A) ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm;
}

/* r8d = the effective address of in's memory operand. */
static void ea_r8(struct em *e, const struct insn *in)
{
    int32_t disp = (int32_t)in->disp;
    if (in->base == NOREG && in->index == NOREG) {
        mov_ri(e, R8, (uint32_t)disp);
        return;
    }
    int base = -1, index = -1;
    if (in->base != NOREG) {
        ld32(e, R8, in->base);
        base = R8;
    }
    if (in->index != NOREG) {
        ld32(e, R9, in->index);
        index = R9;
    }
    if (base < 0) { /* [index*s + disp]: SIB with no base needs mod 00 + disp32 */
        rex(e, 0, R8, R9, 0);
        b1(e, 0x8D);
        b1(e, 0x04 | (R8 & 7) << 3);
        b1(e, (unsigned)in->scale << 6 | (R9 & 7) << 3 | 5);
        b4(e, (uint32_t)disp);
        return;
    }
    op_m(e, 0, 0x8D, R8, base, index, index < 0 ? 0 : in->scale, disp);
}

/* FS and GS (Linux's per-CPU segment) may have a base: r8 = offset + base without
 * wrapping, edx = the offset (for the slow paths); the other data segments are flat
 * (jit_nonflat). */
static bool seg_based(unsigned seg)
{
    return seg == SEG_FS || seg == SEG_GS;
}

static void seg_add(struct em *e, unsigned seg)
{
    if (!seg_based(seg))
        return;
    op_r(e, 0, 0x89, R8, RDX); /* mov edx, r8d */
    op_m(e, 0, 0x8B, R9, R14, -1, 0, (int32_t)(offsetof(struct soft, seg) + seg * sizeof(struct seg) +
                                                offsetof(struct seg, base)));
    op_r(e, 1, 0x01, R9, R8); /* add r8, r9: past 4 GiB - 1 misses the TLB (the slow path decides) */
}

static void save_flags(struct em *e)
{
    b1(e, 0x9F);                        /* lahf */
    b1(e, 0x0F), b1(e, 0x90), b1(e, 0xC0); /* seto al */
    op_r(e, 0, 0x89, RAX, R11);          /* mov r11d, eax */
}

static void restore_flags(struct em *e)
{
    op_r(e, 0, 0x89, R11, RAX); /* mov eax, r11d */
    b1(e, 0x04), b1(e, 0x7F);   /* add al, 0x7f: OF from bit 0 */
    b1(e, 0x9E);                /* sahf */
}

/* The TLB probe of the 4-byte access at r8d: r8 = host address, or a jump to the slow-path sequence. */
static uint8_t *probe_n(struct em *e, bool write, unsigned size);

static uint8_t *probe(struct em *e, bool write)
{
    return probe_n(e, write, 4);
}

static uint8_t *probe_n(struct em *e, bool write, unsigned size)
{
    op_r(e, 0, 0x89, R8, R9);                          /* mov r9d, r8d */
    op_r(e, 0, 0xC1, 5, R9), b1(e, 6);                  /* shr r9d, 6 */
    op_r(e, 0, 0x81, 4, R9), b4(e, (TLB_SIZE - 1) << 6); /* and r9d, index mask */
    op_m(e, 1, 0x8D, R10, R8, -1, 0, (int32_t)size - 1); /* lea r10, [r8+size-1] */
    op_r(e, 1, 0x81, 4, R10), b4(e, 0xFFFFF000u);       /* and r10, ~0xFFF */
    op_m(e, 1, 0x3B, R10, R15, R9, 0,
         (int32_t)(write ? offsetof(struct tlb_entry, tag_w) : offsetof(struct tlb_entry, tag_r)));
    uint8_t *jne = jmp32(e, 5);
    op_r(e, 0, 0x81, 4, R8), b4(e, 0xFFF);              /* and r8d, 0xFFF */
    op_m(e, 1, 0x03, R8, R15, R9, 0, (int32_t)offsetof(struct tlb_entry, host)); /* add r8, host */
    return jne;
}

/* Stores the state for leaving with eax = the new EIP after k instructions; flags from r11
 * (PUSHFQ image) when dirty. */
static void emit_exit_state(struct em *e, unsigned k, bool flags)
{
    if (flags) {
        op_r(e, 0, 0x81, 4, R11), b4(e, FL_ARITH);
        op_m(e, 0, 0x8B, RCX, R14, -1, 0, S(flags));
        op_r(e, 0, 0x81, 4, RCX), b4(e, ~FL_ARITH);
        op_r(e, 0, 0x09, R11, RCX);
        op_m(e, 0, 0x89, RCX, R14, -1, 0, S(flags));
    }
    op_m(e, 1, 0x89, RAX, R14, -1, 0, S(eip));
    op_m(e, 1, 0x89, RAX, R14, -1, 0, S(next_eip));
    op_m(e, 1, 0x81, 0, R14, -1, 0, S(icount)), b4(e, k);
}

/* Leaves to jit_run with eax = the new EIP after k instructions. */
static void emit_exit(struct em *e, unsigned k, bool flags)
{
    emit_exit_state(e, k, flags);
    epilogue(e);
}

/* An exit to a known EIP (in eax): through l's slot, to the dispatcher until
 * jit_run links it to the target's chained entry (l NULL: never linked). */
static void emit_direct(struct em *e, unsigned k, bool flags, struct jit_link *l, uint32_t to)
{
    if (!l) {
        emit_exit(e, k, flags);
        return;
    }
    emit_exit_state(e, k, flags);
    b1(e, 0xFF), b1(e, 0x25); /* jmp [rip + disp32] */
    uint8_t *at = e->p;
    b4(e, 0);
    int32_t d = (int32_t)((uint8_t *)&l->to - (at + 4));
    memcpy(at, &d, 4);
    l->to = e->p;
    l->eip = to;
    mov_ri64(e, RAX, (uint64_t)(uintptr_t)l);
    op_m(e, 1, 0x89, RAX, R14, -1, 0, S(jit_exit));
    epilogue(e);
}

/* rip-relative operand: op [rip + (at - end of instruction)] with reg field reg. */
static void op_rip(struct em *e, int w, unsigned op, int reg, const void *at)
{
    rex(e, w, reg, -1, 0);
    opc(e, op);
    b1(e, (unsigned)(reg & 7) << 3 | 5);
    int32_t d = (int32_t)((const uint8_t *)at - (e->p + 4));
    b4(e, (uint32_t)d);
}

/* RET's exit, eax = the popped EIP: straight to the block last linked there when eax is
 * the EIP it was linked for (the return-address check), else to the dispatcher, which
 * links the block it finds there. */
static void emit_ret(struct em *e, unsigned k, bool flags, struct jit_link *l, const struct jit_jc *jc)
{
    if (!l) {
        emit_exit(e, k, flags);
        return;
    }
    emit_exit_state(e, k, flags);
    op_rip(e, 0, 0x3B, RAX, &l->eip); /* cmp eax, [l->eip] */
    uint8_t *miss = jmp32(e, 5);
    op_rip(e, 0, 0xFF, 4, &l->to); /* jmp [l->to] */
    patch(miss, e->p);
    /* the jump cache: straight to the block last run at eax, whose chained entry checks it */
    op_r(e, 0, 0x89, RAX, RCX);
    op_r(e, 0, 0x81, 4, RCX), b4(e, JC_SIZE - 1);
    op_r(e, 0, 0xC1, 4, RCX), b1(e, 4); /* shl ecx, 4 */
    mov_ri64(e, RDX, (uint64_t)(uintptr_t)jc);
    op_m(e, 1, 0x3B, RAX, RDX, RCX, 0, 0); /* cmp rax, [rdx + rcx].eip */
    uint8_t *jmiss = jmp32(e, 5);
    op_m(e, 0, 0xFF, 4, RDX, RCX, 0, 8); /* jmp [rdx + rcx].to */
    patch(jmiss, e->p);
    op_rip(e, 0, 0x89, RAX, &l->eip); /* mov [l->eip], eax */
    uint8_t *lea_at = e->p;
    op_rip(e, 1, 0x8D, RCX, lea_at);  /* lea rcx, [unlinked] (fixed below) */
    uint8_t *lea_end = e->p;
    op_rip(e, 1, 0x89, RCX, &l->to); /* mov [l->to], rcx */
    int32_t d = (int32_t)(e->p - lea_end);
    memcpy(lea_end - 4, &d, 4);
    l->to = e->p;
    l->eip = 0;
    mov_ri64(e, RAX, (uint64_t)(uintptr_t)l);
    op_m(e, 1, 0x89, RAX, R14, -1, 0, S(jit_exit));
    epilogue(e);
}

/* ESP -= 4 (PUSH's tail) or += 4, without touching the flags. */
static void esp_add(struct em *e, int32_t d)
{
    ld32(e, RCX, GPR_SP);
    op_m(e, 0, 0x8D, RCX, RCX, -1, 0, d);
    st64(e, RCX, GPR_SP);
}

bool jit_translate(struct soft *s, struct block *b)
{
    struct jit *j = s->jit;
    if (!j || !b->valid || b->mode != BLOCK_CODE32 || !b->n)
        return false;
    bool nat[BLOCK_MAX_INSNS];
    for (unsigned i = 0; i < b->n; i++) {
        const struct insn *in = &b->insn[i];
        nat[i] = native(in, i + 1 == b->n);
        if (!nat[i] && (!jit_helpers || (loads_segment(in->op) && i + 1 < b->n) || (in->props & I_CROSS))) {
            j->failed++;
            return false;
        }
    }
    if ((size_t)(j->end - j->cur) < JIT_BLOCK_ROOM) {
        j->full++;
        soft_flush_code(s); /* empties the arena and this cache between blocks */
        return false;
    }
    /* flag liveness (arithmetic bits, DF_* layout) and "written so far" */
    unsigned n = b->n, live[BLOCK_MAX_INSNS + 1];
    bool dirty[BLOCK_MAX_INSNS + 1], any = false;
    /* dirty: host EFLAGS hold guest flags newer than s->flags (a helper leaves them in s->flags) */
    for (unsigned i = 0; i < n; i++) {
        dirty[i] = any;
        if (!nat[i])
            any = false;
        else
            any |= flags_written(&b->insn[i]) != 0;
    }
    dirty[n] = any;
    live[n] = any ? 0x3F : 0;
    for (unsigned i = n; i-- > 0;)
        live[i] = (live[i + 1] & ~flags_written(&b->insn[i])) | (b->insn[i].fread & 0x3Fu) |
                  (may_fault(&b->insn[i], nat[i]) ? 0x3Fu : 0); /* a fault there stores all six */

    /* sites first (data), then code */
    struct jit_site *sites = (struct jit_site *)(((uintptr_t)j->cur + 15) & ~(uintptr_t)15);
    unsigned nsites = 0;
    struct pending pend[BLOCK_MAX_INSNS];
    unsigned npend = 0;
    for (unsigned i = 0; i < n; i++)
        nsites++; /* at most one per instruction */
    uint8_t *minis = (uint8_t *)(sites + nsites);
    minis = (uint8_t *)(((uintptr_t)minis + 15) & ~(uintptr_t)15);
    struct jit_link *links = (struct jit_link *)(minis + nsites * MINI_BYTES);
    unsigned nlinks = 0;
    struct em em = {(uint8_t *)(links + 2)}, *e = &em;
    em.p = (uint8_t *)(((uintptr_t)em.p + 15) & ~(uintptr_t)15);
    bool chainable = true;
    nsites = 0;

    /* the chained entry: what run_blocks checks between blocks, then b's own mapping */
    uint8_t *chain = e->p, *outs[16];
    unsigned nouts = 0;
    op_m(e, 1, 0x8B, RAX, R14, -1, 0, S(icount));
    op_m(e, 1, 0x3B, RAX, R14, -1, 0, S(jit_limit));
    outs[nouts++] = jmp32(e, 3); /* jae */
    static const int32_t bytes[] = {S(halted), S(shadow), S(trace_blocks), S(bp_exec), S(flush_pending),
                                    S(block_end), S(stop)};
    for (unsigned k = 0; k < sizeof bytes / sizeof bytes[0]; k++) {
        op_m(e, 0, 0x80, 7, R14, -1, 0, bytes[k]), b1(e, 0); /* cmp byte [r14+f], 0 */
        outs[nouts++] = jmp32(e, 5);                          /* jne */
    }
    op_m(e, 0, 0x8B, RAX, R14, -1, 0, S(flags));
    op_r(e, 0, 0xF7, 0, RAX), b4(e, FL_TF | FL_RF); /* test eax, TF|RF */
    outs[nouts++] = jmp32(e, 5);
    op_m(e, 0, 0x80, 7, R14, -1, 0, S(intr_line)), b1(e, 0);
    uint8_t *noint = jmp32(e, 4); /* je */
    op_r(e, 0, 0xF7, 0, RAX), b4(e, FL_IF);
    outs[nouts++] = jmp32(e, 5);
    patch(noint, e->p);
    op_m(e, 0, 0xF6, 0, R14, -1, 0, S(jit_nonflat)), b1(e, 0); /* test byte [r14+f], segs (patched) */
    uint8_t *segs_at = e->p - 1;
    outs[nouts++] = jmp32(e, 5);
    mov_ri64(e, RAX, (uint64_t)(uintptr_t)&b->valid);
    op_m(e, 0, 0x80, 7, RAX, -1, 0, 0), b1(e, 0);
    outs[nouts++] = jmp32(e, 4); /* je: invalidated */
    op_m(e, 1, 0x8B, R15, R14, -1, 0, S(tlb_cur));
    int32_t te = (int32_t)(((b->eip >> 12) & (TLB_SIZE - 1)) * sizeof(struct tlb_entry));
    mov_ri64(e, RAX, b->eip & ~0xFFFull);
    op_m(e, 1, 0x3B, RAX, R15, -1, 0, te + (int32_t)offsetof(struct tlb_entry, tag_x));
    outs[nouts++] = jmp32(e, 5);
    mov_ri64(e, RAX, b->phys & ~0xFFFull);
    op_m(e, 1, 0x3B, RAX, R15, -1, 0, te + (int32_t)offsetof(struct tlb_entry, phys));
    outs[nouts++] = jmp32(e, 5);
    op_m(e, 1, 0xFF, 0, R14, -1, 0, S(jit_chained)); /* inc qword */
    uint8_t *to_body = jmp32(e, -1);
    if (j->stats) { /* count each check's refusals */
        uint8_t *done[16];
        for (unsigned k = 0; k < nouts; k++) {
            patch(outs[k], e->p);
            mov_ri64(e, RAX, (uint64_t)(uintptr_t)&j->chain_out[k]);
            op_m(e, 1, 0xFF, 0, RAX, -1, 0, 0); /* inc qword [rax] */
            done[k] = jmp32(e, -1);
        }
        for (unsigned k = 0; k < nouts; k++)
            patch(done[k], e->p);
    } else {
        for (unsigned k = 0; k < nouts; k++)
            patch(outs[k], e->p);
    }
    epilogue(e); /* the state is exact: the previous block's exit stored it */

    uint8_t *entry = e->p;

    b1(e, 0x41), b1(e, 0x56);                           /* push r14 */
    b1(e, 0x41), b1(e, 0x57);                           /* push r15 */
    b1(e, 0x48), b1(e, 0x83), b1(e, 0xEC), b1(e, 0x08); /* sub rsp, 8 */
    op_r(e, 1, 0x89, RDI, R14);                         /* mov r14, rdi */
    op_m(e, 1, 0x8B, R15, R14, -1, 0, S(tlb_cur));
    patch(to_body, e->p);
    if (live[0]) { /* the guest's arithmetic flags into host EFLAGS */
        op_m(e, 0, 0x8B, RAX, R14, -1, 0, S(flags));
        op_r(e, 0, 0x81, 4, RAX), b4(e, FL_ARITH);
        b1(e, 0x50), b1(e, 0x9D); /* push rax; popfq */
    }
    uint64_t eip = b->eip;
    uint8_t *jcc_at = NULL;
    unsigned counted = 0, segs = 0;
    bool dyn_end = false; /* the last instruction went through the helper: EIP is in s->eip */
    int end_cc = -2; /* -2 fall through, -1 JMP, else Jcc cc */
    uint32_t target = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct insn *in = &b->insn[i];
        unsigned op = in->op, reg = insn_reg(in), rm = insn_rm(in);
        uint32_t next = (uint32_t)(eip + in->len);
        bool mem = (in->props & I_MEM) && in->xop != X_LEA;
        int kind = K_NONE;
        if (!nat[i]) {
            struct jit_site *t = &sites[nsites++];
            t->eip = (uint32_t)eip;
            t->next = next;
            t->in = in;
            /* the interpreter counts what ran before only ahead of soft_exec (x_none), not
             * ahead of its fast forms: a fault leaves the same count either way */
            t->k = in->xop == X_NONE ? i - counted : 0;
            t->dirty = dirty[i];
            if (in->xop == X_NONE) {
                counted = i;
                if (!chain_safe(in))
                    chainable = false; /* soft_exec may change the mode, segments or paging */
            } else {
                t->mb = (struct block *)minis;
                minis += MINI_BYTES;
                memset(t->mb, 0, sizeof *t->mb);
                t->mb->n = 1;
                t->mb->mode = b->mode;
                t->mb->insn[0] = *in;
                block_seal(t->mb);
            }
            if (dirty[i])
                b1(e, 0x9C), b1(e, 0x59); /* pushfq; pop rcx */
            op_r(e, 1, 0x89, R14, RDI);
            mov_ri64(e, RSI, (uint64_t)(uintptr_t)t);
            mov_ri64(e, RAX, in->xop == X_NONE ? (uint64_t)(uintptr_t)jit_exec : (uint64_t)(uintptr_t)jit_fast);
            b1(e, 0xFF), b1(e, 0xD0); /* call rax */
            op_m(e, 1, 0x8B, R15, R14, -1, 0, S(tlb_cur));
            if (i + 1 == n) {
                dyn_end = true;
                eip = next;
                break;
            }
            op_r(e, 0, 0x85, RAX, RAX);
            uint8_t *jz = jmp32(e, 4);
            op_m(e, 1, 0x8B, RAX, R14, -1, 0, S(eip));
            emit_exit(e, i + 1 - counted, false);
            patch(jz, e->p);
            if (live[i + 1]) {
                op_m(e, 0, 0x8B, RAX, R14, -1, 0, S(flags));
                op_r(e, 0, 0x81, 4, RAX), b4(e, FL_ARITH);
                b1(e, 0x50), b1(e, 0x9D); /* push rax; popfq */
            }
            eip = next;
            continue;
        }
        if (in->xop == X_NONE && exec_form(in)) {
            if (i > counted) { /* counted as x_none counts, without touching the flags */
                op_m(e, 1, 0x8B, RCX, R14, -1, 0, S(icount));
                op_m(e, 1, 0x8D, RCX, RCX, -1, 0, (int32_t)(i - counted));
                op_m(e, 1, 0x89, RCX, R14, -1, 0, S(icount));
            }
            counted = i;
            struct jit_site *t = &sites[nsites++];
            t->eip = (uint32_t)eip;
            t->next = next;
            t->in = in;
            t->k = 0;
            t->dirty = dirty[i];
            bool m = (in->props & I_MEM) || moffs(in), div = op == 0xF7 && reg >= 6;
            bool save = (m || div) && (dirty[i] || live[i]);
            if (save)
                save_flags(e);
            struct pending *p = NULL;
            if (m || div) {
                p = &pend[npend++];
                p->kind = K_EXEC;
                p->idx = i;
                p->site = t;
                p->push = false;
                p->kexit = 1;
                p->njx = 0;
                p->jne = NULL;
            }
            if (m) {
                if (moffs(in))
                    mov_ri(e, R8, in->disp);
                else
                    ea_r8(e, in);
                seg_add(e, in->seg);
                segs |= 1u << in->seg;
                p->jne = probe_n(e, exec_write(in), exec_size(in));
                if (save)
                    restore_flags(e);
            }
            switch (op) {
            case 0x80: case 0xF6:
                if (m)
                    op_m(e, 0, op, (int)reg, R8, -1, 0, 0);
                else
                    op_m(e, 0, op, (int)reg, R14, -1, 0, gr8(rm));
                b1(e, in->imm);
                break;
            case 0x1BA:
                if (m) {
                    op_m(e, 0, 0x0FBA, (int)reg, R8, -1, 0, 0), b1(e, in->imm);
                } else {
                    ld32(e, RAX, rm);
                    op_r(e, 0, 0x0FBA, (int)reg, RAX), b1(e, in->imm);
                    if (reg != 4)
                        st64(e, RAX, rm);
                }
                break;
            case 0xA0:
                op_m(e, 0, 0x8A, RAX, R8, -1, 0, 0);
                op_m(e, 0, 0x88, RAX, R14, -1, 0, GR(GPR_AX));
                break;
            case 0xA1:
                op_m(e, 0, 0x8B, RAX, R8, -1, 0, 0);
                st64(e, RAX, GPR_AX);
                break;
            case 0xA2:
                op_m(e, 0, 0x8A, RAX, R14, -1, 0, GR(GPR_AX));
                op_m(e, 0, 0x88, RAX, R8, -1, 0, 0);
                break;
            case 0xA3:
                ld32(e, RCX, GPR_AX);
                op_m(e, 0, 0x89, RCX, R8, -1, 0, 0);
                break;
            case 0xA8:
                op_m(e, 0, 0xF6, 0, R14, -1, 0, GR(GPR_AX)), b1(e, in->imm);
                break;
            case 0xA9:
                op_m(e, 0, 0xF7, 0, R14, -1, 0, GR(GPR_AX)), b4(e, in->imm);
                break;
            case 0xB0: case 0xB1: case 0xB2: case 0xB3: case 0xB4: case 0xB5: case 0xB6: case 0xB7:
                op_m(e, 0, 0xC6, 0, R14, -1, 0, gr8(op & 7)), b1(e, in->imm);
                break;
            case 0x84:
                op_m(e, 0, 0x8A, RAX, R14, -1, 0, gr8(reg));
                op_m(e, 0, 0x84, RAX, R8, -1, 0, 0);
                break;
            case 0x85:
                ld32(e, RAX, reg);
                op_m(e, 0, 0x85, RAX, R8, -1, 0, 0);
                break;
            default: /* F7 */
                if (reg <= 3) { /* NOT, NEG */
                    if (m) {
                        op_m(e, 0, 0xF7, (int)reg, R8, -1, 0, 0);
                    } else {
                        ld32(e, RAX, rm);
                        op_r(e, 0, 0xF7, (int)reg, RAX);
                        st64(e, RAX, rm);
                    }
                    break;
                }
                if (reg <= 5) { /* MUL, IMUL edx:eax = eax * r/m */
                    ld32(e, RAX, GPR_AX);
                    if (m)
                        op_m(e, 0, 0xF7, (int)reg, R8, -1, 0, 0);
                    else
                        op_m(e, 0, 0xF7, (int)reg, R14, -1, 0, GR(rm));
                    st64(e, RAX, GPR_AX);
                    st64(e, RDX, GPR_DX);
                    break;
                }
                /* DIV, IDIV: the host divides only operands that cannot fault */
                ld32(e, RCX, rm);
                ld32(e, RAX, GPR_AX);
                ld32(e, RDX, GPR_DX);
                op_r(e, 0, 0x85, RCX, RCX);
                p->jne = jmp32(e, 4); /* je: divide by zero */
                if (reg == 6) {
                    op_r(e, 0, 0x39, RCX, RDX); /* cmp edx, ecx */
                    p->jx[p->njx++] = jmp32(e, 3); /* jae: the quotient overflows */
                } else { /* only a dividend that fits 32 bits, by anything but -1 */
                    op_r(e, 0, 0x83, 7, RCX), b1(e, 0xFF);
                    p->jx[p->njx++] = jmp32(e, 4);
                    op_r(e, 0, 0x89, RAX, R9);
                    op_r(e, 0, 0xC1, 7, R9), b1(e, 31); /* sar r9d, 31 */
                    op_r(e, 0, 0x39, RDX, R9);          /* cmp r9d, edx */
                    p->jx[p->njx++] = jmp32(e, 5);
                }
                op_r(e, 0, 0xF7, (int)reg, RCX);
                st64(e, RAX, GPR_AX);
                st64(e, RDX, GPR_DX);
                break;
            }
            if (p)
                p->join = e->p;
            eip = next;
            continue;
        }
        if (fast_mem(in)) {
            struct jit_site *t = &sites[nsites++];
            t->eip = (uint32_t)eip;
            t->next = next;
            t->dirty = dirty[i];
            t->mb = (struct block *)minis;
            minis += MINI_BYTES;
            memset(t->mb, 0, sizeof *t->mb);
            t->mb->n = 1;
            t->mb->mode = b->mode;
            t->mb->insn[0] = *in;
            block_seal(t->mb);
            bool stack = in->xop == X_PUSH_I || in->xop == X_CALL || in->xop == X_RET;
            segs |= 1u << (stack ? SEG_SS : in->seg);
            bool save = dirty[i] || live[i];
            if (save)
                save_flags(e);
            if (stack) {
                ld32(e, R8, GPR_SP);
                if (in->xop != X_RET)
                    op_m(e, 0, 0x8D, R8, R8, -1, 0, -4);
            } else {
                ea_r8(e, in);
                seg_add(e, in->seg);
            }
            struct pending *p = &pend[npend++];
            p->jne = probe_n(e, fast_write(in), fast_size(in));
            p->kind = K_FAST;
            p->idx = i;
            p->site = t;
            p->push = false;
            p->kexit = i + 1 - counted;
            if (save)
                restore_flags(e);
            unsigned sub = reg == 6 ? 4 : reg;
            switch (in->xop) {
            case X_ALU_MR:
                ld32(e, RAX, reg);
                op_m(e, 0, (op & 0x38) | 1, RAX, R8, -1, 0, 0);
                break;
            case X_ALU_MI:
                op_m(e, 0, 0x81, (int)reg, R8, -1, 0, 0), b4(e, imm_of(in));
                break;
            case X_TEST_RI:
                op_m(e, 0, 0xF7, 0, R8, -1, 0, 0), b4(e, in->imm);
                break;
            case X_STORE_I:
                op_m(e, 0, 0xC7, 0, R8, -1, 0, 0), b4(e, in->imm);
                break;
            case X_INCDEC_M:
                op_m(e, 0, 0xFF, (int)reg, R8, -1, 0, 0);
                break;
            case X_MOVZX8: case X_MOVZX16: case X_MOVSX8: case X_MOVSX16:
                op_m(e, 0, op0f(op), RAX, R8, -1, 0, 0);
                st64(e, RAX, reg);
                break;
            case X_SHIFT:
                if (op == 0xD3)
                    ld32(e, RCX, GPR_CX);
                op_m(e, 0, op, (int)sub, R8, -1, 0, 0);
                if (op == 0xC1)
                    b1(e, in->imm);
                break;
            case X_IMUL:
                ld32(e, RAX, reg);
                op_m(e, 0, 0x0FAF, RAX, R8, -1, 0, 0);
                st64(e, RAX, reg);
                break;
            case X_CMOV:
                ld32(e, RAX, reg);
                op_m(e, 0, op0f(op), RAX, R8, -1, 0, 0);
                st64(e, RAX, reg);
                break;
            case X_SETCC:
                op_m(e, 0, op0f(op), 0, R8, -1, 0, 0);
                break;
            case X_ALU8: /* op r/m8, r8 (into memory) or op r8, r/m8 (into the register) */
                op_m(e, 0, 0x8A, RAX, R14, -1, 0, gr8(reg));
                op_m(e, 0, op & 0x3A, RAX, R8, -1, 0, 0);
                if ((op & 2) && ((op >> 3) & 7) != 7)
                    op_m(e, 0, 0x88, RAX, R14, -1, 0, gr8(reg));
                break;
            case X_MOV8_RM:
                op_m(e, 0, 0x8A, RAX, R8, -1, 0, 0);
                op_m(e, 0, 0x88, RAX, R14, -1, 0, gr8(reg));
                break;
            case X_MOV8_MR:
                op_m(e, 0, 0x8A, RAX, R14, -1, 0, gr8(reg));
                op_m(e, 0, 0x88, RAX, R8, -1, 0, 0);
                break;
            case X_MOV8_MI:
                op_m(e, 0, 0xC6, 0, R8, -1, 0, 0), b1(e, in->imm);
                break;
            case X_LOAD16:
                b1(e, 0x66), op_m(e, 0, 0x8B, RAX, R8, -1, 0, 0);
                b1(e, 0x66), op_m(e, 0, 0x89, RAX, R14, -1, 0, GR(reg));
                break;
            case X_STORE16:
                b1(e, 0x66), op_m(e, 0, 0x8B, RAX, R14, -1, 0, GR(reg));
                b1(e, 0x66), op_m(e, 0, 0x89, RAX, R8, -1, 0, 0);
                break;
            case X_PUSH_I:
                op_m(e, 0, 0xC7, 0, R8, -1, 0, 0), b4(e, imm_of(in));
                esp_add(e, -4);
                break;
            case X_CALL:
                op_m(e, 0, 0xC7, 0, R8, -1, 0, 0), b4(e, next);
                esp_add(e, -4);
                end_cc = -1;
                target = next + in->imm;
                break;
            case X_RET:
                op_m(e, 0, 0x8B, RAX, R8, -1, 0, 0);
                esp_add(e, 4);
                end_cc = -3;
                break;
            }
            p->join = e->p;
            eip = next;
            continue;
        }
        if (mem || in->xop == X_PUSH || in->xop == X_POP) {
            struct jit_site *t = &sites[nsites++];
            t->eip = (uint32_t)eip;
            t->next = next;
            t->seg = in->xop == X_PUSH || in->xop == X_POP ? SEG_SS : in->seg;
            segs |= 1u << t->seg;
            t->reg = in->xop == X_PUSH ? (uint8_t)(op & 7) : (uint8_t)reg;
            t->dirty = dirty[i];
            kind = (in->xop == X_STORE || in->xop == X_PUSH) ? K_STORE : K_LOAD;
            bool save = dirty[i] || live[i];
            if (save)
                save_flags(e);
            if (in->xop == X_PUSH) {
                ld32(e, R8, GPR_SP);
                op_m(e, 0, 0x8D, R8, R8, -1, 0, -4);
            } else if (in->xop == X_POP) {
                ld32(e, R8, GPR_SP);
            } else {
                ea_r8(e, in);
                seg_add(e, in->seg);
            }
            struct pending *p = &pend[npend++];
            p->jne = probe(e, kind == K_STORE);
            p->kind = kind;
            p->idx = i;
            p->site = t;
            p->push = in->xop == X_PUSH;
            p->kexit = i + 1 - counted;
            if (kind == K_LOAD) {
                p->join = e->p;
                if (save) /* the probe clobbered them: host EFLAGS are the guest's again */
                    restore_flags(e);
            } else {
                ld32(e, RCX, t->reg);
                op_m(e, 0, 0x89, RCX, R8, -1, 0, 0); /* mov [r8], ecx */
                p->join = e->p;
                if (save)
                    restore_flags(e);
            }
        }
        switch (in->xop) {
        case X_ALU_RR: {
            unsigned alu = (op >> 3) & 7, dst = (op & 2) ? reg : rm, src = (op & 2) ? rm : reg;
            ld32(e, RAX, dst);
            op_m(e, 0, (alu << 3) | 3, RAX, R14, -1, 0, GR(src));
            if (alu != 7)
                st64(e, RAX, dst);
            break;
        }
        case X_ALU_RM: {
            unsigned alu = (op >> 3) & 7;
            ld32(e, RAX, reg);
            op_m(e, 0, (alu << 3) | 3, RAX, R8, -1, 0, 0);
            if (alu != 7)
                st64(e, RAX, reg);
            break;
        }
        case X_ALU_RI:
        case X_ALU_AI: {
            unsigned alu = in->xop == X_ALU_RI ? reg : (op >> 3) & 7, dst = in->xop == X_ALU_RI ? rm : GPR_AX;
            ld32(e, RAX, dst);
            op_r(e, 0, 0x81, (int)alu, RAX), b4(e, in->xop == X_ALU_RI ? imm_of(in) : in->imm);
            if (alu != 7)
                st64(e, RAX, dst);
            break;
        }
        case X_MOV_RR:
            op_m(e, 1, 0x8B, RAX, R14, -1, 0, GR((op & 2) ? rm : reg));
            st64(e, RAX, (op & 2) ? reg : rm);
            break;
        case X_MOV_RI:
            mov_ri(e, RAX, in->imm);
            st64(e, RAX, op & 7);
            break;
        case X_LOAD:
            op_m(e, 0, 0x8B, RAX, R8, -1, 0, 0);
            st64(e, RAX, reg);
            break;
        case X_STORE:
            break;
        case X_INC:
        case X_DEC:
            ld32(e, RAX, op & 7);
            op_r(e, 0, 0xFF, in->xop == X_DEC, RAX);
            st64(e, RAX, op & 7);
            break;
        case X_PUSH:
            esp_add(e, -4);
            break;
        case X_POP:
            op_m(e, 0, 0x8B, RAX, R8, -1, 0, 0);
            esp_add(e, 4);
            st64(e, RAX, op & 7);
            break;
        case X_LEA:
            ea_r8(e, in);
            st64(e, R8, reg);
            break;
        case X_TEST_RR:
            ld32(e, RAX, rm);
            op_m(e, 0, 0x85, RAX, R14, -1, 0, GR(reg));
            break;
        case X_MOVZX8: case X_MOVSX8:
            op_m(e, 0, op0f(op), RAX, R14, -1, 0, gr8(rm));
            st64(e, RAX, reg);
            break;
        case X_MOVZX16: case X_MOVSX16:
            op_m(e, 0, op0f(op), RAX, R14, -1, 0, GR(rm));
            st64(e, RAX, reg);
            break;
        case X_SHIFT:
            ld32(e, RAX, rm);
            if (op == 0xD3)
                ld32(e, RCX, GPR_CX);
            op_r(e, 0, op, reg == 6 ? 4 : (int)reg, RAX);
            if (op == 0xC1)
                b1(e, in->imm);
            st64(e, RAX, rm);
            break;
        case X_IMUL:
            ld32(e, RAX, reg);
            op_m(e, 0, 0x0FAF, RAX, R14, -1, 0, GR(rm));
            st64(e, RAX, reg);
            break;
        case X_NONE: /* 69, 6B: IMUL r, r, imm. Counted as x_none counts (a later fault sees it) */
            if (i > counted) { /* without touching the flags */
                op_m(e, 1, 0x8B, RCX, R14, -1, 0, S(icount));
                op_m(e, 1, 0x8D, RCX, RCX, -1, 0, (int32_t)(i - counted));
                op_m(e, 1, 0x89, RCX, R14, -1, 0, S(icount));
            }
            counted = i;
            if (op == 0x90)
                break;
            op_m(e, 0, op, RAX, R14, -1, 0, GR(rm));
            if (op == 0x69)
                b4(e, in->imm);
            else
                b1(e, in->imm);
            st64(e, RAX, reg);
            break;
        case X_CMOV:
            ld32(e, RAX, reg);
            op_m(e, 0, op0f(op), RAX, R14, -1, 0, GR(rm));
            st64(e, RAX, reg);
            break;
        case X_SETCC:
            op_m(e, 0, op0f(op), 0, R14, -1, 0, gr8(rm));
            break;
        case X_TEST_RI:
            ld32(e, RAX, rm);
            op_r(e, 0, 0xF7, 0, RAX), b4(e, in->imm);
            break;
        case X_ALU8:
            if ((op & 7) == 4) { /* op AL, imm8 */
                op_m(e, 0, 0x8A, RAX, R14, -1, 0, GR(GPR_AX));
                b1(e, op), b1(e, in->imm);
                if (((op >> 3) & 7) != 7)
                    op_m(e, 0, 0x88, RAX, R14, -1, 0, GR(GPR_AX));
            } else { /* register to register: dst op= src as op r8, r/m8 */
                unsigned dst = (op & 2) ? reg : rm, src = (op & 2) ? rm : reg;
                op_m(e, 0, 0x8A, RAX, R14, -1, 0, gr8(dst));
                op_m(e, 0, (op & 0x38) | 2, RAX, R14, -1, 0, gr8(src));
                if (((op >> 3) & 7) != 7)
                    op_m(e, 0, 0x88, RAX, R14, -1, 0, gr8(dst));
            }
            break;
        case X_TEST8_RR:
            op_m(e, 0, 0x8A, RAX, R14, -1, 0, gr8(rm));
            op_m(e, 0, 0x84, RAX, R14, -1, 0, gr8(reg));
            break;
        case X_MOV16_RR:
            b1(e, 0x66), op_m(e, 0, 0x8B, RAX, R14, -1, 0, GR((op & 2) ? rm : reg));
            b1(e, 0x66), op_m(e, 0, 0x89, RAX, R14, -1, 0, GR((op & 2) ? reg : rm));
            break;
        case X_JCC:
            end_cc = op & 15;
            target = next + (op < 0x100 ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm);
            break;
        case X_JMP:
            end_cc = -1;
            target = next + (op == 0xEB ? (uint32_t)(int32_t)(int8_t)in->imm : in->imm);
            break;
        }
        eip = next;
    }
    /* block end */
    if (any && !dyn_end)
        b1(e, 0x9C), b1(e, 0x41), b1(e, 0x5B); /* pushfq; pop r11 */
    if (dyn_end) { /* the helper left EIP and EFLAGS in s */
        op_m(e, 1, 0x8B, RAX, R14, -1, 0, S(eip));
        emit_ret(e, n - counted, false, chainable ? &links[nlinks++] : NULL, j->jc); /* one EIP cached, as RET */
    } else if (end_cc == -3) { /* RET: eax = the popped EIP */
        emit_ret(e, n - counted, any, chainable ? &links[nlinks++] : NULL, j->jc);
    } else if (end_cc >= 0) {
        jcc_at = jmp32(e, end_cc);
        mov_ri(e, RAX, (uint32_t)eip);
        emit_direct(e, n - counted, any, chainable ? &links[nlinks++] : NULL, (uint32_t)eip);
        patch(jcc_at, e->p);
        mov_ri(e, RAX, target);
        emit_direct(e, n - counted, any, chainable ? &links[nlinks++] : NULL, target);
    } else {
        uint32_t to = end_cc == -1 ? target : (uint32_t)eip;
        mov_ri(e, RAX, to);
        emit_direct(e, n - counted, any, chainable ? &links[nlinks++] : NULL, to);
    }
    /* the slow-path sequences, after the block body */
    for (unsigned k = 0; k < npend; k++) {
        struct pending *p = &pend[k];
        patch(p->jne, e->p);
        if (p->kind == K_EXEC) { /* the whole instruction through soft_exec, then on after it */
            for (unsigned x = 0; x < p->njx; x++)
                patch(p->jx[x], e->p);
            op_r(e, 1, 0x89, R14, RDI);
            mov_ri64(e, RSI, (uint64_t)(uintptr_t)p->site);
            op_r(e, 0, 0x89, R11, RCX);
            mov_ri64(e, RAX, (uint64_t)(uintptr_t)jit_exec_img);
            b1(e, 0xFF), b1(e, 0xD0); /* call rax */
            op_m(e, 1, 0x8B, R15, R14, -1, 0, S(tlb_cur));
            op_r(e, 0, 0x85, RAX, RAX);
            op_m(e, 0, 0x8B, RAX, R14, -1, 0, S(eip));
            uint8_t *jz = jmp32(e, 4);
            emit_exit(e, p->kexit, false); /* a store hit cached code: leave after it */
            patch(jz, e->p);
            op_m(e, 0, 0x8B, RCX, R14, -1, 0, S(flags));
            op_r(e, 0, 0x81, 4, RCX), b4(e, FL_ARITH);
            b1(e, 0x51), b1(e, 0x9D); /* push rcx; popfq */
            patch(jmp32(e, -1), p->join);
            continue;
        }
        if (p->kind == K_FAST) { /* the whole instruction through its fast form */
            if (p->site->dirty) {
                restore_flags(e);
                b1(e, 0x9C), b1(e, 0x59); /* pushfq; pop rcx */
            }
            op_r(e, 1, 0x89, R14, RDI);
            mov_ri64(e, RSI, (uint64_t)(uintptr_t)p->site);
            mov_ri64(e, RAX, (uint64_t)(uintptr_t)jit_fast);
            b1(e, 0xFF), b1(e, 0xD0); /* call rax */
            op_m(e, 1, 0x8B, R15, R14, -1, 0, S(tlb_cur));
            op_r(e, 0, 0x85, RAX, RAX);
            op_m(e, 0, 0x8B, RAX, R14, -1, 0, S(eip)); /* the next EIP (RET, CALL: the target) */
            uint8_t *jz = jmp32(e, 4);
            emit_exit(e, p->kexit, false); /* a store hit cached code: leave after it */
            patch(jz, e->p);
            /* always: the main path after it counts on host EFLAGS being the guest's
             * wherever they are live or newer than s->flags */
            {
                op_m(e, 0, 0x8B, RCX, R14, -1, 0, S(flags));
                op_r(e, 0, 0x81, 4, RCX), b4(e, FL_ARITH);
                b1(e, 0x51), b1(e, 0x9D); /* push rcx; popfq */
            }
            patch(jmp32(e, -1), p->join);
            continue;
        }
        b1(e, 0x41), b1(e, 0x53), b1(e, 0x41), b1(e, 0x53); /* push r11 twice (alignment) */
        op_r(e, 1, 0x89, R14, RDI);
        mov_ri64(e, RSI, (uint64_t)(uintptr_t)p->site);
        if (!seg_based(p->site->seg)) /* else edx holds the offset already */
            op_r(e, 0, 0x89, R8, RDX);
        op_r(e, 0, 0x89, R11, RCX);
        mov_ri64(e, RAX, p->kind == K_LOAD ? (uint64_t)(uintptr_t)jit_load : (uint64_t)(uintptr_t)jit_store);
        b1(e, 0xFF), b1(e, 0xD0);                           /* call rax */
        b1(e, 0x41), b1(e, 0x5B), b1(e, 0x41), b1(e, 0x5B); /* pop r11 twice */
        if (p->kind == K_LOAD) {
            op_r(e, 1, 0x89, RAX, R8);
            patch(jmp32(e, -1), p->join);
        } else {
            op_r(e, 0, 0x85, RAX, RAX);
            uint8_t *jz = jmp32(e, 4);
            patch(jz, p->join);
            /* the store hit cached code: finish the instruction, leave after it */
            if (p->push)
                esp_add(e, -4);
            mov_ri(e, RAX, (uint32_t)p->site->next);
            emit_exit(e, p->kexit, false);
        }
    }
    if ((size_t)(e->p - j->cur) > JIT_BLOCK_ROOM)
        abort(); /* the room estimate is wrong: a bug, never the guest's doing */
    j->cur = e->p;
    j->blocks++;
    b->jit_segs = (uint8_t)segs;
    *segs_at = (uint8_t)segs;
    b->code = entry;
    b->jit_chain = chain;
    if (j->perfmap)
        fprintf(j->perfmap, "%lx %lx jit_%08x_%u\n", (unsigned long)(uintptr_t)chain,
                (unsigned long)(e->p - chain), (uint32_t)b->eip, n);
    return true;
}

/* ---- running ---- */

/* The segments the inline accesses may use (bit per enum cpu_seg_index) that are not
 * flat (base 0, 4 GiB, read/write; SS also 32-bit), or 0xFF when CS is not flat or
 * the CPU is in long mode. Segments do not change inside a chain of translated blocks
 * (soft_exec ends chaining), so jit_run computes it once and each chained entry
 * tests its block's segments against it. */
#define JIT_SEGS (1u << SEG_DS | 1u << SEG_ES | 1u << SEG_SS | 1u << SEG_FS | 1u << SEG_GS)

static uint8_t nonflat(const struct soft *s)
{
    if (s->msr.efer & EFER_LMA)
        return 0xFF;
    const struct seg *cs = &s->seg[SEG_CS];
    if (cs->base || cs->limit != 0xFFFFFFFFu)
        return 0xFF;
    unsigned m = 0;
    for (int i = 0; i < 6; i++) {
        const struct seg *g = &s->seg[i];
        if (!((JIT_SEGS >> i) & 1))
            continue;
        if ((g->base && !seg_based((unsigned)i)) || g->lo || g->span != 0xFFFFFFFFu || g->ok != (SEG_R | SEG_W))
            m |= 1u << i;
    }
    if (!stack32(s))
        m |= 1u << SEG_SS;
    return (uint8_t)m;
}

struct block *jit_run(struct soft *s, struct block *b, uint64_t limit)
{
    struct jit_link *l = s->jit_exit;
    s->jit_exit = NULL;
    struct jit *j = s->jit;
    if (j->stats) {
        if (l)
            j->exit_link++;
        else
            j->exit_plain++;
    }
    if (!b->code && b->valid && b->execs < jit_threshold && ++b->execs == jit_threshold) {
        if (j->stats) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            jit_translate(s, b);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            j->trans_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
        } else {
            jit_translate(s, b);
        }
    }
    /* the code has b->eip's EIPs baked in: a block found again by its physical address
     * at another linear address (Linux runs its first pages at both) stays interpreted */
    if (b->code && b->valid && (uint32_t)s->eip == (uint32_t)b->eip && !(b->jit_segs & (s->jit_nonflat = nonflat(s)))) {
        /* the exit that led here jumps straight to b from now on: b's chained entry
         * checks b's validity and mapping, the budget and the interrupt state itself */
        if (l && l->eip == (uint32_t)b->eip && b->jit_chain)
            l->to = b->jit_chain;
        if (b->jit_chain) {
            struct jit_jc *c = &j->jc[(uint32_t)b->eip & (JC_SIZE - 1)];
            c->eip = (uint32_t)b->eip;
            c->to = b->jit_chain;
        }
        s->jit_limit = limit;
        uint64_t before = s->icount;
        soft_materialize(s);
        s->block_end = false;
        ((void (*)(struct soft *))b->code)(s);
        s->block_end = false;
        s->jit_icount += s->icount - before;
        return b;
    }
    if (j->stats)
        j->interp[!b->code ? (b->execs < jit_threshold ? 0 : 1) : (uint32_t)s->eip != (uint32_t)b->eip ? 2 : 3]++;
    return block_run(s, b, BLOCK_MAX_INSNS, 0); /* one block: every end comes back to run_blocks */
}

bool jit_init(struct soft *s)
{
    struct jit *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    void *p = mmap(NULL, JIT_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { /* W^X host: the interpreter alone */
        free(j);
        return false;
    }
    j->base = j->cur = p;
    memset(j->jc, 0xFF, sizeof j->jc);
    j->end = j->base + JIT_BYTES;
    j->stats = getenv("VMPLAY_JIT_STATS") != NULL;
    if (getenv("VMPLAY_JIT_PERFMAP")) { /* perf names translated blocks (perf report) */
        char name[64];
        snprintf(name, sizeof name, "/tmp/perf-%d.map", (int)getpid());
        j->perfmap = fopen(name, "w");
    }
    s->jit = j;
    return true;
}

void jit_reset(struct soft *s)
{
    if (s->jit) {
        s->jit->cur = s->jit->base;
        memset(s->jit->jc, 0xFF, sizeof s->jit->jc); /* their code is gone */
    }
    s->jit_exit = NULL; /* its link was in the cache */
}

/* The n most frequent opcodes of ops[0x200], as "op:count" on one line. */
static void top_ops(const char *what, const uint64_t *ops, unsigned n)
{
    bool used[0x200] = {false};
    fprintf(stderr, "jit: %s:", what);
    for (unsigned k = 0; k < n; k++) {
        unsigned best = 0x200;
        for (unsigned i = 0; i < 0x200; i++)
            if (!used[i] && ops[i] && (best == 0x200 || ops[i] > ops[best]))
                best = i;
        if (best == 0x200)
            break;
        used[best] = true;
        fprintf(stderr, " %s%02X:%llu", best >= 0x100 ? "0F" : "", best & 0xFF, (unsigned long long)ops[best]);
    }
    fprintf(stderr, "\n");
}

static void jit_print_stats(const struct soft *s)
{
    const struct jit *j = s->jit;
    fprintf(stderr, "jit: translation %.3f s for %llu blocks (%llu refused); %llu JIT-cache-full flushes\n",
            (double)j->trans_ns / 1e9, (unsigned long long)j->blocks, (unsigned long long)j->failed,
            (unsigned long long)j->full);
    fprintf(stderr,
            "jit: invalidated blocks: %llu by CPU stores, %llu by DMA, %llu of them translated; "
            "whole flushes: %llu arena full, %llu requested\n",
            (unsigned long long)s->jst[JST_INVAL_CPU], (unsigned long long)s->jst[JST_INVAL_DMA],
            (unsigned long long)s->jst[JST_INVAL_JIT], (unsigned long long)s->jst[JST_FLUSH_ARENA],
            (unsigned long long)s->jst[JST_FLUSH_REQ]);
    fprintf(stderr, "jit: returns to the dispatcher: %llu by a link slot, %llu other; chained entries refused:",
            (unsigned long long)j->exit_link, (unsigned long long)j->exit_plain);
    for (unsigned k = 0; k < CHAIN_WHY; k++)
        if (j->chain_out[k])
            fprintf(stderr, " %s %llu", chain_why[k], (unsigned long long)j->chain_out[k]);
    fprintf(stderr, "\njit: blocks run interpreted: %llu cold, %llu untranslatable, %llu other EIP, %llu segments\n",
            (unsigned long long)j->interp[0], (unsigned long long)j->interp[1],
            (unsigned long long)j->interp[2], (unsigned long long)j->interp[3]);
    top_ops("soft_exec helpers by opcode", j->helper_op, 16);
    top_ops("fast-form helpers by opcode", j->fast_op, 12);
}

void jit_free(struct soft *s)
{
    if (!s->jit)
        return;
    if (s->jit->stats)
        jit_print_stats(s);
    if (s->jit->perfmap)
        fclose(s->jit->perfmap);
    if (getenv("VMPLAY_JIT_STATS"))
        fprintf(stderr,
                "jit: %llu blocks translated, %llu refused; of %llu instructions %llu ran in translated "
                "blocks, %llu of them through helpers; %llu chained block entries\n",
                (unsigned long long)s->jit->blocks, (unsigned long long)s->jit->failed,
                (unsigned long long)s->icount, (unsigned long long)s->jit_icount,
                (unsigned long long)s->jit_helped, (unsigned long long)s->jit_chained);
    munmap(s->jit->base, JIT_BYTES);
    free(s->jit);
    s->jit = NULL;
}

bool jit_wanted(void)
{
    const char *t = getenv("VMPLAY_JIT_THRESHOLD");
    if (t && atoi(t) > 0)
        jit_threshold = (unsigned)atoi(t);
    if (soft_jit_mode >= 0)
        return soft_jit_mode == 1;
    const char *v = getenv("VMPLAY_JIT");
    return v && strcmp(v, "on") == 0;
}
