/*
 * The 64-bit differential CPU test: generates cases for the integer groups
 * in 64-bit mode (the ALU group at every size with REX-extended registers
 * and the byte registers SPL..DIL, r/m and immediate forms, INC/DEC, NOT,
 * NEG, MUL/IMUL/DIV/IDIV, SHL/SHR/SAR, IMUL reg forms, MOVSXD, MOVZX/MOVSX,
 * LEA, CMP + CMOVcc/SETcc/Jcc, PUSH/POP, XCHG, BSWAP, CQO/CDQE, the
 * rotates, BT/BTS/BTR/BTC, BSF/BSR, XADD, CMPXCHG, the string instructions
 * with REP/REPE/REPNE), runs each
 * on the host CPU (runner64, CPL 3) and on the software core (CPL 3 in a
 * 64-bit code segment, identity-mapped 4-level paging, 16-byte IDT gates
 * to one HLT per vector, RSP0 from a 64-bit TSS), and compares the GPRs,
 * the defined flags, the fault and the memory window.
 *
 *   cpudiff64 RUNNER [--seed N] [--cases N]
 * R14 always points into the window (the base of every memory operand, never
 * written); RSP points at the window's stack half.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "cpudiff64.h"
#include "runner_pipe.h"

#define K_CTL 0x30200000u /* the core's tables: GDT, IDT, TSS, HLT stubs, ring-0 stack */
#define K_PT 0x30400000u  /* PML4, PDPT, PD */
#define BASE_REG 14
#define FL_DEFINED 0x8D5u /* CF PF AF ZF SF OF */

struct gen {
    uint64_t x;
    uint8_t *p;
    unsigned n;
    uint32_t fmask; /* flags this case defines */
    struct cd64_in *in;
};

static uint64_t rnd(struct gen *g)
{
    g->x ^= g->x << 13;
    g->x ^= g->x >> 7;
    g->x ^= g->x << 17;
    return g->x;
}

static unsigned below(struct gen *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

static void emit(struct gen *g, uint8_t b)
{
    g->p[g->n++] = b;
}

static void emit32(struct gen *g, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        emit(g, (uint8_t)(v >> (8 * i)));
}

/* A destination register: any but RSP and the window base. */
static unsigned dst_reg(struct gen *g)
{
    for (;;) {
        unsigned r = below(g, 16);
        if (r != 4 && r != BASE_REG)
            return r;
    }
}

/* Size prefix and REX for width w (1, 2, 4, 8), reg field r and r/m register m (or the base). */
static void prefix(struct gen *g, unsigned w, unsigned r, unsigned m, bool force_rex)
{
    if (w == 2)
        emit(g, 0x66);
    uint8_t rex = (uint8_t)(0x40 | (w == 8 ? 8 : 0) | (r >> 3) << 2 | (m >> 3));
    if (rex != 0x40 || force_rex)
        emit(g, rex);
}

/* ModRM for register m, or [R14 + disp8] inside the window's data half. */
static void modrm(struct gen *g, unsigned r, unsigned m, bool mem)
{
    if (!mem) {
        emit(g, (uint8_t)(0xC0 | (r & 7) << 3 | (m & 7)));
        return;
    }
    emit(g, (uint8_t)(0x40 | (r & 7) << 3 | (BASE_REG & 7)));
    emit(g, (uint8_t)(below(g, 0x70) & ~7u));
}

static unsigned rand_width(struct gen *g)
{
    static const unsigned w[] = {1, 2, 4, 8, 8, 8};
    return w[below(g, 6)];
}

/* Byte registers 4..7 mean AH..BH without REX: keep them legal (no R8B.. with AH). */
static bool byte_rex(struct gen *g, unsigned w)
{
    return w == 1 && below(g, 2);
}

static void gen_alu(struct gen *g)
{
    unsigned w = rand_width(g), op = below(g, 8), form = below(g, 3), r = dst_reg(g);
    bool mem = below(g, 3) == 0, rex = byte_rex(g, w);
    unsigned m = mem ? BASE_REG : (w == 1 && !rex ? below(g, 8) : below(g, 16));
    if (w == 1 && !rex)
        r &= 7;
    if (!mem && m == 4 && form == 0)
        m = 0;
    g->fmask = (op == 1 || op == 4 || op == 6) ? FL_DEFINED & ~0x10u : FL_DEFINED;
    if (form == 2) { /* 80/81/83 */
        prefix(g, w, 0, m, rex);
        unsigned opc = w == 1 ? 0x80 : below(g, 2) ? 0x83 : 0x81;
        emit(g, (uint8_t)opc);
        modrm(g, op, mem ? BASE_REG : r, mem);
        if (opc == 0x81)
            emit32(g, (uint32_t)rnd(g));
        else
            emit(g, (uint8_t)rnd(g));
        if (opc == 0x81 && w == 2)
            g->n -= 2;
        return;
    }
    prefix(g, w, r, m, rex);
    emit(g, (uint8_t)(op << 3 | (form ? 2 : 0) | (w == 1 ? 0 : 1)));
    modrm(g, r, m, mem);
}

static void gen_unary(struct gen *g)
{
    unsigned w = rand_width(g), sub = 2 + below(g, 6), r = dst_reg(g);
    bool mem = below(g, 3) == 0, rex = byte_rex(g, w);
    if (w == 1 && !rex)
        r &= 7;
    g->fmask = sub == 2 ? 0 : sub == 3 ? FL_DEFINED : sub <= 5 ? 0x801u : 0;
    prefix(g, w, 0, mem ? BASE_REG : r, rex);
    emit(g, w == 1 ? 0xF6 : 0xF7);
    modrm(g, sub, r, mem);
}

static void gen_incdec_shift(struct gen *g)
{
    unsigned w = rand_width(g), r = dst_reg(g);
    bool mem = below(g, 3) == 0, rex = byte_rex(g, w);
    if (w == 1 && !rex)
        r &= 7;
    prefix(g, w, 0, mem ? BASE_REG : r, rex);
    if (below(g, 2)) {
        g->fmask = FL_DEFINED;
        emit(g, w == 1 ? 0xFE : 0xFF);
        modrm(g, below(g, 2), r, mem);
        return;
    }
    static const unsigned subs[] = {0, 1, 2, 3, 4, 5, 7};
    unsigned sub = subs[below(g, 7)], form = below(g, 2);
    uint8_t count = (uint8_t)(1 + below(g, w * 8 - 1));
    if (form)
        count = 1; /* D0/D1: by one */
    emit(g, (uint8_t)((form ? 0xD0 : 0xC0) | (w == 1 ? 0 : 1)));
    modrm(g, sub, r, mem);
    if (!form)
        emit(g, count);
    /* AF undefined, OF only for a count of 1; the rotates define CF (and that OF) alone */
    g->fmask = (sub < 4 ? 0x1u : 0xC5u) | (count == 1 ? 0x800u : 0);
}

/* MOVS, CMPS, STOS, LODS, SCAS, with REP/REPE/REPNE and a small count inside the window. */
static void gen_string(struct gen *g)
{
    static const uint8_t ops[] = {0xA4, 0xA6, 0xAA, 0xAC, 0xAE};
    unsigned w = 1 << below(g, 4), rep = below(g, 3);
    g->in->gpr[6] = CD64_WIN + 0x100 + below(g, 0x100);
    g->in->gpr[7] = CD64_WIN + 0x300 + below(g, 0x100);
    g->in->gpr[1] = below(g, 24);
    g->fmask = FL_DEFINED;
    if (rep)
        emit(g, rep == 1 ? 0xF3 : 0xF2);
    if (w == 2)
        emit(g, 0x66);
    if (w == 8)
        emit(g, 0x48);
    emit(g, (uint8_t)(ops[below(g, 5)] | (w > 1)));
}

/* BT/BTS/BTR/BTC (register and imm8 offsets), BSF/BSR, XADD, CMPXCHG. */
static void gen_bits(struct gen *g)
{
    unsigned w = 2 << below(g, 3), r = dst_reg(g), m = dst_reg(g), kind = below(g, 4);
    bool mem = below(g, 3) == 0;
    prefix(g, w, r, mem ? BASE_REG : m, false);
    emit(g, 0x0F);
    switch (below(g, 4)) {
    case 0: /* BTx r/m, r with a small offset (stays in the window) */
        g->in->gpr[r] = (uint64_t)(int64_t)(int)(below(g, 1024) - 512);
        emit(g, (uint8_t)(0xA3 + 8 * kind));
        g->fmask = 1;
        break;
    case 1:
        emit(g, 0xBA);
        modrm(g, 4 + kind, m, mem);
        emit(g, (uint8_t)rnd(g));
        g->fmask = 1;
        return;
    case 2:
        emit(g, (uint8_t)(0xBC + below(g, 2)));
        if (!mem && below(g, 4) == 0)
            g->in->gpr[m] = 0; /* a zero source: ZF, the destination kept */
        g->fmask = 0x40;
        break;
    default:
        emit(g, (uint8_t)(below(g, 2) ? 0xC1 : 0xB1));
        if (below(g, 2))
            g->in->gpr[0] = g->in->gpr[m];
        g->fmask = FL_DEFINED;
        break;
    }
    modrm(g, r, m, mem);
}

static void gen_moves(struct gen *g)
{
    unsigned r = dst_reg(g), m = below(g, 16), w = below(g, 2) ? 8 : 4;
    bool mem = below(g, 3) == 0;
    g->fmask = 0;
    switch (below(g, 6)) {
    case 0: prefix(g, 8, r, mem ? BASE_REG : m, false); emit(g, 0x63); break; /* MOVSXD */
    case 1:
        prefix(g, w, r, mem ? BASE_REG : m, true);
        emit(g, 0x0F);
        emit(g, (uint8_t)(0xB6 + below(g, 2))); /* MOVZX/MOVSX, byte or word source */
        g->p[g->n - 1] += (uint8_t)(8 * below(g, 2));
        break;
    case 2: { /* LEA r, [base + index*scale + disp32] */
        unsigned x = below(g, 16);
        emit(g, (uint8_t)(0x40 | (w == 8 ? 8 : 0) | (r >> 3) << 2 | (x >> 3) << 1 | (m >> 3)));
        emit(g, 0x8D);
        emit(g, (uint8_t)(0x84 | (r & 7) << 3));
        emit(g, (uint8_t)(below(g, 4) << 6 | (x & 7) << 3 | (m & 7)));
        emit32(g, (uint32_t)rnd(g));
        return;
    }
    case 3: prefix(g, w, r, mem ? BASE_REG : m, false); emit(g, 0x87); break; /* XCHG */
    case 4: prefix(g, w, r, mem ? BASE_REG : m, false); emit(g, 0x0F); emit(g, 0xAF); /* IMUL */
        g->fmask = 0x801u; break;
    default: /* BSWAP / CQO / CDQE */
        if (below(g, 2)) {
            prefix(g, w, 0, r, false);
            emit(g, 0x0F);
            emit(g, (uint8_t)(0xC8 | (r & 7)));
        } else {
            emit(g, 0x48);
            emit(g, below(g, 2) ? 0x99 : 0x98);
        }
        return;
    }
    if (!mem && m == 4 && (g->p[g->n - 1] == 0x87))
        m = 0;
    modrm(g, r, mem ? BASE_REG : m, mem);
}

static void gen_cond_stack(struct gen *g)
{
    unsigned a = below(g, 16), b = below(g, 16), r = dst_reg(g), cc = below(g, 16);
    g->fmask = FL_DEFINED;
    prefix(g, 8, b, a, false); /* CMP a, b */
    emit(g, 0x39);
    modrm(g, b, a, false);
    switch (below(g, 4)) {
    case 0: {
        unsigned m = below(g, 16);
        prefix(g, 8, r, m, false);
        emit(g, 0x0F);
        emit(g, (uint8_t)(0x40 | cc));
        modrm(g, r, m, false);
        break;
    }
    case 1: emit(g, (uint8_t)(0x40 | (r >> 3))); emit(g, 0x0F); emit(g, (uint8_t)(0x90 | cc));
        emit(g, (uint8_t)(0xC0 | (r & 7))); break;
    case 2: emit(g, (uint8_t)(0x70 | cc)); emit(g, 3); /* skip a 3-byte NOT */
        emit(g, 0x49); emit(g, 0xF7); emit(g, 0xD0 | 3); break;
    default: /* PUSH a; POP r */
        if (a >= 8) emit(g, 0x41);
        emit(g, (uint8_t)(0x50 | (a & 7)));
        if (r >= 8) emit(g, 0x41);
        emit(g, (uint8_t)(0x58 | (r & 7)));
        break;
    }
}

static uint64_t rand_value(struct gen *g)
{
    static const uint64_t special[] = {0, 1, ~0ull, 0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull,
                                       0xFFFFFFFFull, 0x80000000ull, 0x100000000ull};
    if (below(g, 4) == 0)
        return special[below(g, 8)];
    uint64_t v = rnd(g);
    unsigned shift = below(g, 2) ? below(g, 64) : 0;
    return v >> shift;
}

static void gen_case(struct gen *g, struct cd64_in *in)
{
    memset(in, 0, sizeof *in);
    g->p = in->code;
    g->n = 0;
    for (int i = 0; i < 16; i++)
        in->gpr[i] = rand_value(g);
    in->gpr[4] = CD64_WIN + 0xC00;
    in->gpr[BASE_REG] = CD64_WIN + 0x100;
    in->rflags = 0x202 | (rnd(g) & FL_DEFINED);
    in->seed = (uint32_t)rnd(g);
    g->in = in;
    switch (below(g, 7)) {
    case 6: gen_string(g); break;
    case 5: gen_bits(g); break;
    case 0: gen_alu(g); break;
    case 1: gen_unary(g); break;
    case 2: gen_incdec_shift(g); break;
    case 3: gen_moves(g); break;
    default: gen_cond_stack(g); break;
    }
    in->code_len = g->n;
}

/* ---- the native side ---- */

static int host_run(struct runner *r, const struct cd64_in *in, struct cd64_out *out)
{
    if (fwrite(in, sizeof *in, 1, r->to) != 1 || fflush(r->to) != 0)
        return -1;
    return fread(out, sizeof *out, 1, r->from) == 1 ? 0 : -1;
}

/* ---- the core ---- */

struct core {
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    uint8_t *win, *code, *ctl, *pt;
    struct cpu_state base;
};

#define CTL_GDT 0x000
#define CTL_IDT 0x100 /* 32 gates of 16 bytes */
#define CTL_TSS 0x300
#define CTL_HLT 0x380
#define CTL_STACK 0x1000
#define NVEC 32

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void core_tables(struct core *k)
{
    put64(k->ctl + CTL_GDT + 0x08, 0x00AF9B000000FFFFull); /* ring-0 64-bit code */
    put64(k->ctl + CTL_GDT + 0x10, 0x00CF93000000FFFFull);
    put64(k->ctl + CTL_GDT + 0x28, 0x00CFF3000000FFFFull); /* 0x2B: user data */
    put64(k->ctl + CTL_GDT + 0x30, 0x00AFFB000000FFFFull); /* 0x33: user 64-bit code */
    put64(k->ctl + CTL_TSS + 4, K_CTL + CTL_STACK);        /* RSP0 */
    for (unsigned v = 0; v < NVEC; v++) {
        uint64_t off = K_CTL + CTL_HLT + v;
        uint8_t *gt = k->ctl + CTL_IDT + 16 * v;
        put64(gt, (off & 0xFFFF) | 0x08ull << 16 | 0x8E00ull << 32 | (off >> 16 & 0xFFFF) << 48);
        put64(gt + 8, off >> 32);
        k->ctl[CTL_HLT + v] = 0xF4;
    }
    put64(k->pt, K_PT + 0x1000 + 7);                         /* PML4[0] */
    put64(k->pt + 0x1000, K_PT + 0x2000 + 7);                /* PDPT[0] */
    put64(k->pt + 0x2000 + 8 * (CD64_WIN >> 21), CD64_WIN | 0x87); /* window and code */
    put64(k->pt + 0x2000 + 8 * (K_CTL >> 21), K_CTL | 0x87);       /* tables */
    put64(k->pt + 0x2000 + 8 * (K_PT >> 21), K_PT | 0x87);
}

static int core_new(struct core *k)
{
    memset(k, 0, sizeof *k);
    k->bus = bus_new();
    k->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    k->win = calloc(1, 4096);
    k->code = calloc(1, 4096);
    k->ctl = calloc(1, 4096);
    k->pt = calloc(1, 3 * 4096);
    if (!k->bus || !k->clock || !k->win || !k->code || !k->ctl || !k->pt ||
        bus_map_ram(k->bus, CD64_WIN, 4096, k->win, false, "window") < 0 ||
        bus_map_ram(k->bus, CD64_CODE, 4096, k->code, false, "code") < 0 ||
        bus_map_ram(k->bus, K_CTL, 4096, k->ctl, false, "tables") < 0 ||
        bus_map_ram(k->bus, K_PT, 3 * 4096, k->pt, false, "paging") < 0)
        return -1;
    struct error err = {0};
    struct cpu_hooks hooks = {0};
    k->cpu = cpu_create(CPU_SOFT, k->bus, k->clock, &hooks, &err);
    if (!k->cpu)
        return -1;
    core_tables(k);
    struct cpu_state *s = &k->base;
    cpu_get_state(k->cpu, s);
    s->cr0 = 0x80000033;
    s->cr4 = 0x620;
    s->cr3 = K_PT;
    s->msr.efer = 0x500;
    s->seg[SEG_CS] = (struct cpu_segment){0x33, 0xA0FB, 0xFFFFFFFFu, 0};
    s->seg[SEG_SS] = (struct cpu_segment){0x2B, 0xC0F3, 0xFFFFFFFFu, 0};
    s->seg[SEG_DS] = s->seg[SEG_ES] = s->seg[SEG_SS];
    s->seg[SEG_FS] = s->seg[SEG_GS] = (struct cpu_segment){0, 0, 0, 0};
    s->gdt = (struct cpu_dtable){K_CTL + CTL_GDT, 0x3F};
    s->idt = (struct cpu_dtable){K_CTL + CTL_IDT, 16 * NVEC - 1};
    s->tr = (struct cpu_segment){0x40, 0x8B, 0x67, K_CTL + CTL_TSS};
    s->ldt = (struct cpu_segment){0, 0, 0, 0};
    return 0;
}

static void core_free(struct core *k)
{
    cpu_free(k->cpu);
    bus_free(k->bus);
    clock_free(k->clock);
    free(k->win);
    free(k->code);
    free(k->ctl);
    free(k->pt);
}

static bool has_err_code(int v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

static void core_run(struct core *k, const struct cd64_in *in, struct cd64_out *out)
{
    memset(out, 0, sizeof *out);
    cd64_fill(in->seed, k->win);
    memset(k->code, 0, 4096);
    memcpy(k->code, in->code, in->code_len);
    k->code[in->code_len] = 0x0F, k->code[in->code_len + 1] = 0x0B; /* UD2: the end */
    bus_notify_written(k->bus, CD64_CODE, 4096);
    struct cpu_state st = k->base;
    memcpy(st.gpr, in->gpr, sizeof st.gpr);
    st.rflags = in->rflags;
    st.rip = CD64_CODE;
    st.halted = false;
    cpu_set_state(k->cpu, &st);
    enum cpu_exit e = cpu_run(k->cpu, clock_now_ns(k->clock) + 2000000);
    cpu_get_state(k->cpu, &st);
    memcpy(out->gpr, st.gpr, sizeof out->gpr);
    uint64_t hlt_at = K_CTL + CTL_HLT + 1, rsp = st.gpr[4];
    out->vector = -2;
    out->rip = st.rip;
    int v = (int)(st.rip - hlt_at), h = v >= 0 && v < NVEC && has_err_code(v);
    if (e == CPU_EXIT_HALT && st.rip >= hlt_at && st.rip < hlt_at + NVEC && rsp >= K_CTL + 0x800 &&
        rsp <= K_CTL + CTL_STACK - 8 * (5 + h)) {
        uint64_t f[6] = {0};
        memcpy(f, k->ctl + (rsp - K_CTL), 8 * (5 + (size_t)h)); /* [err] RIP CS RFLAGS RSP SS */
        out->vector = v;
        out->err = h ? (uint32_t)f[0] : 0;
        out->rip = f[h];
        out->rflags = f[h + 2] & ~0x10000ull;
        out->gpr[4] = f[h + 3];
        if (v == 6 && out->rip == CD64_CODE + in->code_len)
            out->vector = -1;
    }
    memcpy(out->mem, k->win, CD64_WIN_SIZE);
}

/* ---- comparison ---- */

static int compare(const struct cd64_in *in, const struct cd64_out *h, const struct cd64_out *c,
                   uint32_t fmask, char *why, size_t n)
{
    if (h->vector != c->vector)
        return snprintf(why, n, "vector host %d core %d (core rip %llx)", h->vector, c->vector,
                        (unsigned long long)c->rip), 1;
    if (h->vector >= 0 && (h->rip != c->rip || (h->vector != 14 && h->err != c->err)))
        return snprintf(why, n, "fault rip/err host %llx/%x core %llx/%x",
                        (unsigned long long)h->rip, h->err, (unsigned long long)c->rip, c->err), 1;
    for (int i = 0; i < 16; i++)
        if (h->gpr[i] != c->gpr[i])
            return snprintf(why, n, "r%d host %016llx core %016llx", i,
                            (unsigned long long)h->gpr[i], (unsigned long long)c->gpr[i]), 1;
    uint64_t m = 0x600 | fmask; /* IF DF and the flags the case defines */
    if ((h->rflags ^ c->rflags) & m)
        return snprintf(why, n, "rflags host %llx core %llx (compared %llx)",
                        (unsigned long long)h->rflags, (unsigned long long)c->rflags,
                        (unsigned long long)m), 1;
    for (unsigned i = 0; i < CD64_WIN_SIZE; i++)
        if (h->mem[i] != c->mem[i])
            return snprintf(why, n, "memory at %x: host %02x core %02x", CD64_WIN + i, h->mem[i],
                            c->mem[i]), 1;
    (void)in;
    return 0;
}

static void describe(const struct cd64_in *in, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "code");
    for (unsigned i = 0; i < in->code_len && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, " %02x", in->code[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: cpudiff64 RUNNER [--seed N] [--cases N]\n");
        return 64;
    }
    uint64_t seed = 1;
    unsigned cases = 20000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--cases"))
            cases = (unsigned)strtoul(argv[i + 1], NULL, 0);
    }
    if (access(argv[1], X_OK) != 0) {
        printf("SKIP cpu/diff64: runner %s not built\n", argv[1]);
        return 0;
    }
    struct runner r;
    struct core k;
    if (runner_start(&r, argv[1]) < 0 || core_new(&k) < 0) {
        printf("FAIL cpu/diff64: cannot start the runner or the core\n");
        return 1;
    }
    struct gen g = {.x = seed * 0x9E3779B97F4A7C15ull | 1};
    static struct cd64_in in;
    static struct cd64_out h, c;
    unsigned bad = 0, faults = 0;
    char why[256], what[512];
    for (unsigned i = 0; i < cases; i++) {
        gen_case(&g, &in);
        if (host_run(&r, &in, &h) < 0) {
            printf("FAIL cpu/diff64: the runner died at case %u\n", i);
            return 1;
        }
        core_run(&k, &in, &c);
        faults += h.vector >= 0;
        if (compare(&in, &h, &c, g.fmask, why, sizeof why)) {
            if (bad++ < 5) {
                describe(&in, what, sizeof what);
                fprintf(stderr, "case %u [%s]: %s\n", i, what, why);
            }
        }
    }
    if (bad)
        printf("FAIL cpu/diff64: %u of %u cases differ (seed %llu; first ones on stderr)\n", bad,
               cases, (unsigned long long)seed);
    else
        printf("PASS cpu/diff64: %u cases in 64-bit mode (%u raise an exception), 0 mismatches\n",
               cases, faults);
    runner_stop(&r);
    core_free(&k);
    return 0;
}
