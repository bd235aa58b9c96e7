/*
 * The differential CPU test driver: generates the cases of every opcode
 * group (cpudiff_gen.c), runs each on the host CPU through the 32-bit runner
 * (runner32, a child process fed over pipes) and on the software core
 * (32-bit flat protected mode at CPL 3 with the host process's selectors, the
 * same addresses mapped as RAM, a HLT after the code whose #GP marks the end;
 * faults go through an IDT and a TSS stack switch to one HLT per vector), and
 * compares GPRs, EFLAGS, selectors, the fault vector, EIP and error code,
 * FCW/FSW for x87/MMX cases, MXCSR and XMM0..7 for SSE cases and the
 * memory window.
 *
 *   cpudiff RUNNER [--recorded FILE] [--replay] [--record FILE [--source TEXT]]
 *                  [--seed N] [--group NAME] [--case N] [--scale PERCENT]
 *
 * Prints one PASS/FAIL/SKIP line per group (cpu/diff/<group>), and a second
 * one (cpu/diff-undef/<group>) for the differences confined to flags or
 * results the SDM leaves undefined, compared against the host all the same.
 * --case prints both sides of one case in full.
 *
 * Where the runner cannot run (a kernel without 32-bit execution), the host's
 * answers come from --recorded FILE instead (cpudiff_rec.h: what a host that
 * could run them answered, reduced to the defined results), and the core is
 * compared against those; --replay does that even where the runner runs.
 * Where it runs, the recording is checked against this host's answers
 * (cpu/diff-record/<group>). --record FILE writes this host's answers.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "cpudiff_gen.h"
#include "cpudiff_rec.h"
#include "runner_pipe.h"

#define CTL_GDT 0x000u
#define CTL_IDT 0x100u
#define CTL_TSS 0x300u
#define CTL_HLT 0x400u
#define CTL_STACK 0xFF0u   /* ring-0 stack top (TSS ESP0) */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_TSS 0x30
#define NVEC 32

struct core {
    struct bus *bus;
    struct clock *clock;
    struct cpu *cpu;
    uint8_t *win, *code, *ctl;
    struct cpu_state base;
};

struct tally {
    int cases, faults, bad, undef_cases, undef_bad, native_bad;
    int unrecorded, approx; /* replay: cases with no recorded answer */
    uint32_t undef_bits; /* flags seen differing among the undefined ones */
    char first[1536], first_u[1536], first_n[1536];
};

/* ---- the native side ---- */

static int host_run(struct runner *r, const struct cd_in *in, struct cd_out *out)
{
    if (fwrite(in, sizeof *in, 1, r->to) != 1 || fflush(r->to) != 0)
        return -1;
    return fread(out, sizeof *out, 1, r->from) == 1 ? 0 : -1;
}

/* ---- the core ---- */

static void put_desc(uint8_t *p, uint8_t access)
{
    static const uint8_t flat[8] = {0xFF, 0xFF, 0, 0, 0, 0, 0xCF, 0};
    memcpy(p, flat, 8);
    p[5] = access;
}

static void put_gate(uint8_t *p, uint32_t off, uint8_t access)
{
    uint8_t g[8] = {(uint8_t)off, (uint8_t)(off >> 8), SEL_KCODE, 0, 0, access,
                    (uint8_t)(off >> 16), (uint8_t)(off >> 24)};
    memcpy(p, g, 8);
}

/* GDT like Linux's for the selectors a 32-bit process sees, a TSS for the ring-0 stack,
 * an IDT whose gates (DPL 3 for INT3 and INTO, as Linux) lead to one HLT per vector. */
static void core_tables(struct core *k)
{
    uint8_t *gdt = k->ctl + CTL_GDT;
    put_desc(gdt + SEL_KCODE, 0x9B);
    put_desc(gdt + SEL_KDATA, 0x93);
    put_desc(gdt + (CD_SEL_CODE & ~7), 0xFB);
    put_desc(gdt + (CD_SEL_DATA & ~7), 0xF3);
    put_desc(gdt + (CD_SEL_TLS & ~7), 0xF3);
    uint32_t tss = CD_CTL + CTL_TSS;
    uint8_t td[8] = {0x67, 0, (uint8_t)tss, (uint8_t)(tss >> 8), (uint8_t)(tss >> 16), 0x8B, 0,
                     (uint8_t)(tss >> 24)};
    memcpy(gdt + SEL_TSS, td, 8);
    uint32_t esp0 = CD_CTL + CTL_STACK, ss0 = SEL_KDATA, iomap = 0x68u << 16;
    memcpy(k->ctl + CTL_TSS + 4, &esp0, 4);
    memcpy(k->ctl + CTL_TSS + 8, &ss0, 4);
    memcpy(k->ctl + CTL_TSS + 0x64, &iomap, 4);
    for (unsigned v = 0; v < NVEC; v++) {
        put_gate(k->ctl + CTL_IDT + 8 * v, CD_CTL + CTL_HLT + v, v == 3 || v == 4 ? 0xEE : 0x8E);
        k->ctl[CTL_HLT + v] = 0xF4;
    }
}

static int core_new(struct core *k, char *why, size_t n)
{
    memset(k, 0, sizeof *k);
    k->bus = bus_new();
    k->clock = clock_new(CLOCK_DETERMINISTIC, 1);
    k->win = calloc(1, 4096);
    k->code = calloc(1, 4096);
    k->ctl = calloc(1, 4096);
    if (!k->bus || !k->clock || !k->win || !k->code || !k->ctl ||
        bus_map_ram(k->bus, CD_WIN, 4096, k->win, false, "window") < 0 ||
        bus_map_ram(k->bus, CD_CODE, 4096, k->code, false, "code") < 0 ||
        bus_map_ram(k->bus, CD_CTL, 4096, k->ctl, false, "tables") < 0) {
        snprintf(why, n, "cannot build the test machine");
        return -1;
    }
    struct error err = {0};
    struct cpu_hooks hooks = {0};
    k->cpu = cpu_create(CPU_SOFT, k->bus, k->clock, &hooks, &err);
    if (!k->cpu) {
        snprintf(why, n, "%s", err.msg);
        return -1;
    }
    core_tables(k);
    struct cpu_state *s = &k->base;
    cpu_get_state(k->cpu, s);
    s->cr0 = 0x33; /* PE MP ET NE */
    s->cr4 = 0x600; /* OSFXSR OSXMMEXCPT, as Linux sets them */
    s->seg[SEG_CS] = (struct cpu_segment){CD_SEL_CODE, 0xC0FB, 0xFFFFFFFFu, 0};
    s->seg[SEG_SS] = (struct cpu_segment){CD_SEL_DATA, 0xC0F3, 0xFFFFFFFFu, 0};
    s->seg[SEG_DS] = s->seg[SEG_ES] = s->seg[SEG_SS];
    s->seg[SEG_FS] = (struct cpu_segment){0, 0, 0, 0};
    s->seg[SEG_GS] = (struct cpu_segment){CD_SEL_TLS, 0xC0F3, 0xFFFFFFFFu, 0};
    s->gdt = (struct cpu_dtable){CD_CTL + CTL_GDT, 0x7F};
    s->idt = (struct cpu_dtable){CD_CTL + CTL_IDT, 8 * NVEC - 1};
    s->tr = (struct cpu_segment){SEL_TSS, 0x8B, 0x67, CD_CTL + CTL_TSS};
    s->ldt = (struct cpu_segment){0, 0, 0, 0}; /* no LDT, as a Linux process */
    memset(&s->fpu, 0, sizeof s->fpu);
    s->fpu.fcw = 0x037F;
    s->fpu.mxcsr = 0x1F80;
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
}

static bool has_err_code(int v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

/* The frame on the ring-0 stack after vector v: [error code] EIP CS EFLAGS ESP SS. */
static void core_fault(struct core *k, const struct cpu_state *st, int v, const struct cd_in *in,
                       struct cd_out *out)
{
    uint32_t esp = (uint32_t)st->gpr[GPR_SP], f[6] = {0};
    for (int i = 0; i < 8; i++)
        out->gpr[i] = (uint32_t)st->gpr[i];
    for (int i = 0; i < 6; i++)
        out->seg[i] = st->seg[i].selector;
    if (esp < CD_CTL + 0x800 || esp > CD_CTL + CTL_STACK - 20) {
        out->vector = -3; /* the frame is not where the TSS put the ring-0 stack */
        return;
    }
    memcpy(f, k->ctl + (esp - CD_CTL), 24);
    int e = has_err_code(v);
    out->vector = v;
    out->err = e ? f[0] : 0;
    out->eip = f[e];
    out->seg[SEG_CS] = (uint16_t)f[e + 1];
    out->eflags = f[e + 2];
    out->gpr[GPR_SP] = f[e + 3];
    out->seg[SEG_SS] = (uint16_t)f[e + 4];
    if (v == 13 && out->err == 0 && out->eip == CD_CODE + in->code_len) {
        out->vector = -1; /* the HLT after the code: the normal end */
        out->err = 0;
    }
}

static void core_run(struct core *k, const struct cd_in *in, struct cd_out *out)
{
    memset(out, 0, sizeof *out);
    cd_fill(in, k->win);
    memset(k->code, 0xF4, 4096);
    memcpy(k->code, in->code, in->code_len);
    bus_notify_written(k->bus, CD_CODE, 4096);
    struct cpu_state st = k->base;
    for (int i = 0; i < 8; i++)
        st.gpr[i] = in->gpr[i];
    st.rflags = in->eflags;
    st.rip = CD_CODE;
    st.halted = false;
    cpu_set_state(k->cpu, &st);
    enum cpu_exit e = cpu_run(k->cpu, clock_now_ns(k->clock) + 2000000);
    cpu_get_state(k->cpu, &st);
    uint32_t eip = (uint32_t)st.rip, hlt_at = CD_CTL + CTL_HLT + 1;
    if (e != CPU_EXIT_HALT) {
        out->vector = -2; /* did not stop */
        out->eip = eip;
        out->err = e;
    } else if (eip >= hlt_at && eip < hlt_at + NVEC) {
        core_fault(k, &st, (int)(eip - hlt_at), in, out);
    } else {
        out->vector = -4; /* halted somewhere else (HLT ran at CPL 0?) */
        out->eip = eip;
    }
    out->fcw = st.fpu.fcw;
    out->fsw = st.fpu.fsw;
    out->mxcsr = st.fpu.mxcsr;
    memcpy(out->xmm, st.fpu.xmm, sizeof out->xmm);
    memcpy(out->mem, k->win, CD_WIN_SIZE);
}

/* ---- comparison and reporting ---- */

static const char *const gpr_name[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

static void app(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t n, const char *fmt, ...)
{
    size_t l = strlen(buf);
    if (l + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + l, n - l, fmt, ap);
    va_end(ap);
}

static const char *vector_text(int v, char *b, size_t n)
{
    static const char *const special[] = {"", "ran to the end", "did not stop",
                                          "fault frame not on the ring-0 stack", "halted elsewhere"};
    if (v < 0 && v >= -4)
        return special[-v];
    snprintf(b, n, "vector %d", v);
    return b;
}

static bool ignored(const struct gen *g, uint32_t off)
{
    for (int i = 0; i < 6; i++)
        if (off >= g->ignore[i].off && off < (uint32_t)g->ignore[i].off + g->ignore[i].len)
            return true;
    return false;
}

/* Differences into main (defined state) and undef (undefined flags/results). */
static void compare(const struct gen *g, const struct cd_out *h, const struct cd_out *c,
                    char *main, char *undef, size_t n)
{
    char b1[40], b2[40];
    main[0] = undef[0] = 0;
    if (h->vector != c->vector) {
        app(main, n, " outcome: host %s core %s (core eip %08x);", vector_text(h->vector, b1, 40),
            vector_text(c->vector, b2, 40), c->eip);
        return;
    }
    if (h->eip != c->eip)
        app(main, n, " eip: host %08x core %08x;", h->eip, c->eip);
    if (h->vector >= 0 && has_err_code(h->vector) && h->err != c->err)
        app(main, n, " error code: host %x core %x;", h->err, c->err);
    for (int i = 0; i < 8; i++)
        if (h->gpr[i] != c->gpr[i])
            app(g->undef_result ? undef : main, n, " %s: host %08x core %08x;", gpr_name[i],
                h->gpr[i], c->gpr[i]);
    uint32_t d = (h->eflags ^ c->eflags) & CD_FLAGS_ALL;
    if (d & ~g->undef)
        app(main, n, " eflags: host %08x core %08x (differ %04x);", h->eflags, c->eflags,
            d & ~g->undef);
    if (d & g->undef)
        app(undef, n, " undefined flags: host %08x core %08x (differ %04x);", h->eflags,
            c->eflags, d & g->undef);
    if (g->fpu && (h->fcw != c->fcw || h->fsw != c->fsw))
        app(main, n, " fcw/fsw: host %04x/%04x core %04x/%04x;", h->fcw, h->fsw, c->fcw, c->fsw);
    if (g->sse && h->mxcsr != c->mxcsr)
        app(main, n, " mxcsr: host %08x core %08x;", h->mxcsr, c->mxcsr);
    for (int i = 0; g->sse && i < 8; i++)
        if (memcmp(h->xmm[i], c->xmm[i], 16) != 0) {
            app(main, n, " xmm%d: host ", i);
            for (int b = 15; b >= 0; b--)
                app(main, n, "%02x", h->xmm[i][b]);
            app(main, n, " core ");
            for (int b = 15; b >= 0; b--)
                app(main, n, "%02x", c->xmm[i][b]);
            app(main, n, ";");
        }
    static const char *const seg_name[6] = {"es", "cs", "ss", "ds", "fs", "gs"};
    for (int i = 0; i < 6; i++)
        if (h->seg[i] != c->seg[i])
            app(main, n, " %s: host %04x core %04x;", seg_name[i], h->seg[i], c->seg[i]);
    for (uint32_t i = 0; i < CD_WIN_SIZE; i++)
        if (h->mem[i] != c->mem[i] && !ignored(g, i)) {
            app(g->undef_result ? undef : main, n, " memory at %08x: host %02x core %02x;",
                CD_WIN + i, h->mem[i], c->mem[i]);
            break;
        }
}

static void describe_in(const struct cd_in *in, char *buf, size_t n)
{
    buf[0] = 0;
    app(buf, n, "code");
    for (uint32_t i = 0; i < in->code_len; i++)
        app(buf, n, " %02x", in->code[i]);
    app(buf, n, " |");
    for (int i = 0; i < 8; i++)
        app(buf, n, " %s=%08x", gpr_name[i], in->gpr[i]);
    app(buf, n, " eflags=%08x", in->eflags);
}

static void record(char *dst, size_t n, const char *group, int index, const struct cd_in *in,
                   const char *what, uint32_t seed)
{
    char d[700];
    describe_in(in, d, sizeof d);
    snprintf(dst, n, "case %d [%s]:%s rerun: cpudiff RUNNER --seed %u --group %s --case %d",
             index, d, what, seed, group, index);
}

static void dump_out(const char *who, const struct cd_out *o, const struct cd_in *in)
{
    char b[40];
    uint8_t init[CD_WIN_SIZE];
    cd_fill(in, init);
    printf("%s: %s eip=%08x err=%x eflags=%08x fcw=%04x fsw=%04x es/cs/ss/ds/fs/gs=%x/%x/%x/%x/%x/%x"
           "\n ", who, vector_text(o->vector, b, 40), o->eip, o->err, o->eflags, o->fcw, o->fsw,
           o->seg[0], o->seg[1], o->seg[2], o->seg[3], o->seg[4], o->seg[5]);
    for (int i = 0; i < 8; i++)
        printf(" %s=%08x", gpr_name[i], o->gpr[i]);
    printf("\n  mxcsr=%08x", o->mxcsr);
    for (int i = 0; i < 8; i++) {
        printf(" xmm%d=", i);
        for (int b = 15; b >= 0; b--)
            printf("%02x", o->xmm[i][b]);
    }
    printf("\n  memory written:");
    for (uint32_t i = 0; i < CD_WIN_SIZE; i++)
        if (o->mem[i] != init[i])
            printf(" %x:%02x", CD_WIN + i, o->mem[i]);
    printf("\n");
}

/* ---- groups ---- */

struct opts {
    const char *runner, *group, *record, *recorded, *source;
    uint32_t seed;
    int one_case, scale;
    bool replay;
};

/* Where the host's answers come from: the runner, or a recording (r == NULL). */
struct host {
    struct runner *r;
    struct cd_rec *rec;   /* replayed from, or (with r) checked against this host */
    struct cd_rec *out;   /* --record: this host's answers go here */
};

/* The recording checked against this host, per group. */
struct rec_tally {
    int checked, differ, missing;
    char first[1536];
};

static bool native_fault_expected(const struct gen *g, int v)
{
    return v == -1 || v == 0 || v == 6 || (v >= 0 && v < 32 && (g->expect >> v & 1));
}

/* The recorded answer (exact fields, and the hash of XMM and the window) against
 * a normalised answer o, which is not changed; differences into d. */
static void compare_recorded(const struct gen *g, const struct cd_out *rec, uint32_t xm,
                             const struct cd_out *o, char *d, size_t n)
{
    static struct cd_out r;
    char u[256];
    r = *rec;
    memcpy(r.xmm, o->xmm, sizeof r.xmm);
    memcpy(r.mem, o->mem, sizeof r.mem);
    compare(g, &r, o, d, u, n);
    if (cd_rec_xm_hash(o) != xm && r.vector == o->vector)
        app(d, n, " %s: not the recorded answer (kept as a hash; --case prints this side's);",
            g->sse ? "XMM0..7 or the memory window" : "the memory window");
}

/* The input hash of a group's cases, as the recording keeps it. */
static uint32_t group_input_hash(uint32_t seed, int gi, int count)
{
    uint32_t hash = CD_REC_HASH0;
    struct gen g;
    struct cd_in in;
    for (int i = 0; i < count; i++) {
        gen_case(&g, &in, seed, gi, i);
        hash = cd_rec_input_hash(hash, &in);
    }
    return hash;
}

/* This host's answer against the recorded one. */
static void check_record(const struct host *hs, const struct gen *g, const struct cd_in *in,
                         const struct cd_out *h, const char *group, int i, uint32_t seed,
                         struct rec_tally *rt)
{
    static struct cd_out hn, rn;
    uint32_t xm;
    if (!cd_rec_recordable(g) || !cd_rec_get(hs->rec, group, i, in, &rn, &xm))
        return;
    hn = *h;
    cd_rec_normalize(g, in, &hn);
    char d[256];
    compare_recorded(g, &rn, xm, &hn, d, sizeof d);
    rt->checked++;
    if (d[0] && !rt->differ++)
        record(rt->first, sizeof rt->first, group, i, in, d, seed);
}

/* The host's answer to case i: 1, 0 when there is none to compare (replay: not
 * recorded), -1 when the runner stopped. */
static int host_answer(const struct host *hs, const struct gen *g, const struct cd_in *in,
                       const char *group, int i, struct cd_out *h, uint32_t *xm)
{
    if (hs->r)
        return host_run(hs->r, in, h) < 0 ? -1 : 1;
    return cd_rec_recordable(g) && cd_rec_get(hs->rec, group, i, in, h, xm);
}

static void run_group(const struct opts *o, int gi, const struct host *hs, struct core *k,
                      struct tally *t, struct rec_tally *rt)
{
    const struct cd_group *grp = &cd_groups[gi];
    int count = grp->count * o->scale / 100;
    static struct cd_out h, c;
    memset(t, 0, sizeof *t);
    memset(rt, 0, sizeof *rt);
    bool recorded = true;
    if (hs->rec || hs->out) {
        uint32_t ih = group_input_hash(o->seed, gi, count);
        recorded = hs->rec && cd_rec_has_group(hs->rec, grp->name, count, ih);
        if (hs->out)
            cd_rec_group(hs->out, grp->name, count, ih);
    }
    if (hs->r && hs->rec && !recorded)
        rt->missing = count;
    if (!hs->r && !recorded) {
        t->unrecorded = count;
        return;
    }
    for (int i = 0; i < count; i++) {
        if (o->one_case >= 0 && i != o->one_case)
            continue;
        struct gen g;
        struct cd_in in;
        uint32_t xm = 0;
        gen_case(&g, &in, o->seed, gi, i);
        int got = host_answer(hs, &g, &in, grp->name, i, &h, &xm);
        if (got < 0) {
            snprintf(t->first, sizeof t->first, "the runner stopped answering at case %d", i);
            t->bad = -1;
            return;
        }
        if (got == 0) {
            t->unrecorded += cd_rec_recordable(&g);
            t->approx += !cd_rec_recordable(&g);
            continue;
        }
        t->cases++;
        t->faults += h.vector >= 0;
        char main_d[600] = "", undef_d[600] = "";
        if (hs->r && !native_fault_expected(&g, h.vector)) {
            snprintf(main_d, sizeof main_d, " native vector %d at %08x (generator bug)",
                     h.vector, h.eip);
            if (!t->native_bad++)
                record(t->first_n, sizeof t->first_n, grp->name, i, &in, main_d, o->seed);
            continue;
        }
        if (hs->out) {
            static struct cd_out n;
            n = h;
            cd_rec_normalize(&g, &in, &n);
            cd_rec_put(hs->out, &in, cd_rec_recordable(&g) ? &n : NULL);
        }
        if (hs->r && recorded)
            check_record(hs, &g, &in, &h, grp->name, i, o->seed, rt);
        if (!k)
            continue;
        core_run(k, &in, &c);
        if (hs->r) {
            compare(&g, &h, &c, main_d, undef_d, sizeof main_d);
        } else {
            cd_rec_normalize(&g, &in, &c); /* the recording holds the defined results only */
            compare_recorded(&g, &h, xm, &c, main_d, sizeof main_d);
            memcpy(h.xmm, c.xmm, sizeof h.xmm);
            memcpy(h.mem, c.mem, sizeof h.mem);
        }
        if (hs->r && (g.undef || g.undef_result))
            t->undef_cases++;
        if (main_d[0] && !t->bad++)
            record(t->first, sizeof t->first, grp->name, i, &in, main_d, o->seed);
        if (!main_d[0] && undef_d[0])
            t->undef_bits |= (h.eflags ^ c.eflags) & g.undef;
        if (!main_d[0] && undef_d[0] && !t->undef_bad++)
            record(t->first_u, sizeof t->first_u, grp->name, i, &in, undef_d, o->seed);
        if (o->one_case >= 0) {
            char d[700];
            describe_in(&in, d, sizeof d);
            printf("%s case %d: %s\n", grp->name, i, d);
            dump_out(hs->r ? "host" : "host (recorded; XMM and memory shown as the core's)", &h,
                     &in);
            dump_out("core", &c, &in);
            printf("differences:%s%s\n", main_d[0] ? main_d : " none", undef_d);
        }
    }
}

/*
 * The core models an Intel P6 (CPUID GenuineIntel): where the SDM leaves flags
 * or results undefined it does what Intel parts do. On an Intel host a
 * difference there is a failure; on another vendor's host it is reported as a
 * visible skip naming the flags, since that host's choice is not the core's model.
 */
static bool host_is_intel(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return false;
    return b == 0x756E6547 && d == 0x49656E69 && c == 0x6C65746E;
}

/*
 * Undefined flags that later Intel generations compute differently from the
 * P6 the core follows, seen on a recent Intel host: MUL/IMUL's ZF, OF after a
 * multi-bit shift, rotate, SHLD/SHRD or a BCD adjust, and the flags BSF/BSR
 * leave. A difference confined to these is a named skip on an Intel host too;
 * any other undefined flag or result must still match it.
 */
static uint32_t undef_by_generation(const char *group)
{
    static const struct {
        const char *group;
        uint32_t flags;
    } tab[] = {{"mul", 0x40}, {"shift", 0x800}, {"rotate", 0x800}, {"shld", 0x800},
               {"bcd", 0x800}, {"bitscan", 0x8D5 & ~0x40u}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(tab[i].group, group) == 0)
            return tab[i].flags;
    return 0;
}

/*
 * Groups whose answers belong to the host's vendor: the core's x87 transcendentals are
 * the host FPU's (cpu/fpu.c), whose last bits differ between Intel and AMD parts, and
 * the x87env generator leaves FOP/FDP uncompared where the host does not record them
 * (recent Intel parts), so a recording's window hashes of both groups hold only on a host
 * of the recording's vendor. Elsewhere they are a named skip; the live comparison with
 * this host still runs where the runner does.
 */
static bool vendor_bound(const char *group)
{
    return strcmp(group, "x87trans") == 0 || strcmp(group, "x87env") == 0;
}

static const char *vendor_of(const char *s)
{
    if (s && strstr(s, "GenuineIntel"))
        return "GenuineIntel";
    if (s && strstr(s, "AuthenticAMD"))
        return "AuthenticAMD";
    return "an unknown vendor";
}

static const char *host_vendor(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return "an unknown vendor";
    if (host_is_intel())
        return "GenuineIntel";
    if (b == 0x68747541 && d == 0x69746E65 && c == 0x444D4163)
        return "AuthenticAMD";
    return "an unknown vendor";
}

/* 1: the undefined differences fail; 0: none, or a named skip */
static int undef_fails(const char *group, const struct tally *t)
{
    if (!t->undef_bad || !host_is_intel())
        return 0;
    return !t->undef_bits || (t->undef_bits & ~undef_by_generation(group)) != 0;
}

/* A replayed group: the core against the recorded answers (defined results only). */
static void report_replay(const char *name, const struct tally *t, const char *host)
{
    char also[200] = "";
    if (t->approx)
        snprintf(also, sizeof also, "; %d RCP/RSQRT approximations left to a live host",
                 t->approx);
    if (t->bad)
        printf("FAIL cpu/diff/%s: %d of %d cases differ from the recorded answers of %s; "
               "first: %s\n", name, t->bad, t->cases, host, t->first);
    else if (t->cases)
        printf("PASS cpu/diff/%s: %d cases (%d raise an exception) replayed against the "
               "recorded answers of %s, 0 mismatches%s\n", name, t->cases, t->faults, host, also);
    if (t->unrecorded)
        printf("SKIP cpu/diff-replay/%s: %d cases have no recorded answer (new, or the generator "
               "changed since the recording): run make cpu-record on a host that executes "
               "32-bit programs\n", name, t->unrecorded);
}

/* The recording against this host's own answers. */
static void report_record(const char *name, const struct rec_tally *rt)
{
    if (rt->differ)
        printf("FAIL cpu/diff-record/%s: %d of %d recorded answers differ from this host's "
               "(run make cpu-record here); first: %s\n", name, rt->differ, rt->checked,
               rt->first);
    else if (rt->checked)
        printf("PASS cpu/diff-record/%s: %d recorded answers equal this host's\n", name,
               rt->checked);
    if (rt->missing)
        printf("SKIP cpu/diff-record/%s: its %d cases are not in the recording (new, or the "
               "generator changed since): make cpu-record\n", name, rt->missing);
}

static void report(const char *name, const struct tally *t, bool core)
{
    if (t->bad < 0) {
        printf("FAIL cpu/diff/%s: %s\n", name, t->first);
        return;
    }
    if (t->native_bad)
        printf("FAIL cpu/diff-native/%s: %d of %d cases fault on the host unexpectedly "
               "(not compared); first: %s\n", name, t->native_bad, t->cases, t->first_n);
    if (!core)
        return;
    if (t->bad)
        printf("FAIL cpu/diff/%s: %d of %d cases differ; first: %s\n", name, t->bad, t->cases,
               t->first);
    else
        printf("PASS cpu/diff/%s: %d cases (%d raise an exception), 0 mismatches\n", name,
               t->cases, t->faults);
    if (t->undef_cases && t->undef_bad) {
        static const char *const fl[12] = {"CF", "", "PF", "", "AF", "", "ZF", "SF", "", "", "",
                                           "OF"};
        char bits[40] = "";
        for (int b = 0; b < 12; b++)
            if (t->undef_bits >> b & 1)
                app(bits, sizeof bits, " %s", fl[b]);
        bool intel = host_is_intel(), fail = undef_fails(name, t);
        printf("%s cpu/diff-undef/%s: %d of %d cases with undefined flags/results differ from "
               "the %s host (flags:%s%s)%s; first: %s\n", fail ? "FAIL" : "SKIP", name,
               t->undef_bad, t->undef_cases, intel ? "Intel" : "non-Intel",
               bits[0] ? bits : " none", t->undef_bits ? "" : ", results",
               fail    ? ""
               : intel ? " - only flags later Intel generations compute differently from the P6 "
                         "the core follows"
                       : " - the core follows Intel's P6 where the SDM leaves them undefined",
               t->first_u);
    }
    else if (t->undef_cases)
        printf("PASS cpu/diff-undef/%s: %d cases with undefined flags/results, 0 differ from "
               "the host\n", name, t->undef_cases);
}

/* ---- the runner's own check: known answers computed by hand ---- */

struct known {
    const char *what;
    uint8_t code[16];
    uint32_t len, eax, ebx, ecx, esi, edi;
    int vector;
    uint32_t want_eax, want_flags, want_ecx, check_off, want_word;
};

static const struct known known[] = {
    {"add eax,ebx carries to zero", {0x01, 0xD8}, 2, 0xFFFFFFFFu, 1, 0, 0, 0, -1, 0, 0x257, 0, 0,
     0},
    {"div by zero is #DE", {0xF7, 0xF3}, 2, 5, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0},
    {"ud2 is #UD", {0x0F, 0x0B}, 2, 7, 0, 0, 0, 0, 6, 7, 0, 0, 0, 0},
    {"push eax", {0x50}, 1, 0x11223344u, 0, 0, 0, 0, -1, 0x11223344u, 0x202, 0, 0xBFC, 0x11223344u},
    {"rep movsb copies", {0xF3, 0xA4}, 2, 0, 0, 3, CD_WIN + 0x20, CD_WIN + 0x10, -1, 0, 0x202, 0,
     0x10, 0x00222120u},
    {"fld1 fld1 faddp fistp", {0xD9, 0xE8, 0xD9, 0xE8, 0xDE, 0xC1, 0xDB, 0x1D, 0x40, 0, 0, 0x30},
     12, 0, 0, 0, 0, 0, -1, 0, 0x202, 0, 0x40, 2},
};

static int self_check(struct runner *r)
{
    static struct cd_in in;
    static struct cd_out out, again;
    int bad = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const struct known *kn = &known[i];
        memset(&in, 0, sizeof in);
        memcpy(in.code, kn->code, kn->len);
        in.code_len = kn->len;
        in.gpr[0] = kn->eax, in.gpr[3] = kn->ebx, in.gpr[1] = kn->ecx;
        in.gpr[6] = kn->esi, in.gpr[7] = kn->edi, in.gpr[4] = CD_STACK;
        in.eflags = 0x202;
        in.seed = 1;
        for (int b = 0; b < 0x40; b++)
            in.data[b] = (uint8_t)b;
        uint32_t word = 0;
        if (host_run(r, &in, &out) < 0)
            return -1;
        memcpy(&word, out.mem + kn->check_off, 4);
        bool ok = out.vector == kn->vector && out.gpr[0] == kn->want_eax;
        if (kn->vector < 0)
            ok = ok && out.eflags == kn->want_flags && out.gpr[1] == kn->want_ecx &&
                 (!kn->check_off || (word & (kn->want_word > 0xFFFFFF ? 0xFFFFFFFFu : 0xFFFFFFu))
                                        == kn->want_word) &&
                 out.eip == CD_CODE + kn->len;
        else
            ok = ok && out.eip == CD_CODE && out.gpr[4] == CD_STACK;
        if (kn->check_off == 0xBFC)
            ok = ok && out.gpr[4] == CD_STACK - 4;
        if (!ok) {
            printf("FAIL cpu/diff-native/selfcheck: %s: vector %d eax %08x eflags %08x ecx %08x "
                   "word %08x eip %08x\n", kn->what, out.vector, out.gpr[0], out.eflags,
                   out.gpr[1], word, out.eip);
            bad++;
        }
        if (host_run(r, &in, &again) < 0)
            return -1;
        if (memcmp(&out, &again, sizeof out) != 0) {
            printf("FAIL cpu/diff-native/selfcheck: %s: two runs differ\n", kn->what);
            bad++;
        }
    }
    if (!bad)
        printf("PASS cpu/diff-native/selfcheck: %zu known answers, repeatable\n",
               sizeof known / sizeof known[0]);
    return bad;
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.seed = 1, .one_case = -1, .scale = 100, .source = "make cpu-record"};
    if (argc < 2)
        return -1;
    o->runner = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--replay")) {
            o->replay = true;
            continue;
        }
        if (!v)
            return -1;
        if (!strcmp(argv[i], "--seed"))
            o->seed = (uint32_t)strtoul(v, NULL, 0);
        else if (!strcmp(argv[i], "--group"))
            o->group = v;
        else if (!strcmp(argv[i], "--case"))
            o->one_case = atoi(v);
        else if (!strcmp(argv[i], "--scale"))
            o->scale = atoi(v);
        else if (!strcmp(argv[i], "--record"))
            o->record = v;
        else if (!strcmp(argv[i], "--recorded"))
            o->recorded = v;
        else if (!strcmp(argv[i], "--source"))
            o->source = v;
        else
            return -1;
        i++;
    }
    if ((o->replay && (o->record || !o->recorded)) || (o->record && o->recorded))
        return -1;
    return 0;
}

/* "AMD EPYC (AuthenticAMD)": the host a recording comes from. */
static void host_name(char *buf, size_t n)
{
    unsigned a, v[3] = {0};
    char vendor[13] = "", model[128] = "unknown model", line[256];
    if (__get_cpuid(0, &a, &v[0], &v[2], &v[1]))
        memcpy(vendor, v, 12);
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    if (f)
        fclose(f);
    snprintf(buf, n, "%s (%s)", model, vendor);
}

/* The runner started, or why not (not built, or this kernel cannot execute it). */
static bool start_runner(const char *path, struct runner *r, char *why, size_t n)
{
    if (access(path, X_OK) != 0) {
        snprintf(why, n, "no native runner at %s (needs gcc -m32: gcc-multilib)", path);
        return false;
    }
    if (runner_start(r, path) < 0) {
        snprintf(why, n, "this host cannot execute the 32-bit runner %s (%s)", path,
                 strerror(errno));
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: cpudiff RUNNER [--recorded FILE] [--replay] "
                        "[--record FILE [--source TEXT]] [--seed N] [--group NAME] [--case N] "
                        "[--scale PERCENT]\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    static struct runner r;
    struct host hs = {0};
    char why[1100], rwhy[1100] = "", host[300] = "";
    bool live = !o.replay && start_runner(o.runner, &r, why, sizeof why);
    if (o.recorded && !(hs.rec = cd_rec_open(o.recorded, rwhy, sizeof rwhy))) {
        printf("FAIL cpu/diff-record/open: %s: %s\n", o.recorded, rwhy);
        if (!live)
            return 1;
    }
    if (!live && !hs.rec) {
        printf("SKIP cpu/diff: %s\n", why);
        return 0;
    }
    if (!live && o.record) {
        printf("FAIL cpu/diff-record/write: %s: nothing recorded\n", why);
        return 1;
    }
    if (live) {
        hs.r = &r;
    } else {
        const char *h = cd_rec_header(hs.rec, "host");
        snprintf(host, sizeof host, "%s", h ? h : "an unnamed host");
        const char *seed = cd_rec_header(hs.rec, "seed");
        if (!seed || strtoul(seed, NULL, 0) != o.seed) {
            printf("SKIP cpu/diff: %s, and the recording is of seed %s, not %u\n", why,
                   seed ? seed : "(none)", o.seed);
            cd_rec_free(hs.rec);
            return 0;
        }
        fprintf(stderr, "cpudiff: %s; replaying the answers of %s recorded in %s\n",
                o.replay ? "--replay" : why, host, o.recorded);
    }
    if (o.record) {
        char name[300];
        host_name(name, sizeof name);
        if (!(hs.out = cd_rec_create(o.record, o.seed, o.scale, name, o.source))) {
            printf("FAIL cpu/diff-record/write: cannot create %s\n", o.record);
            return 1;
        }
    }
    int fails = live && o.one_case < 0 ? self_check(&r) : 0;
    static struct core core;
    bool have_core = core_new(&core, why, sizeof why) == 0;
    struct tally t;
    struct rec_tally rt;
    int total = 0;
    int64_t t0 = clock_host_ns();
    const char *rec_vendor = hs.rec ? vendor_of(cd_rec_header(hs.rec, "host")) : NULL;
    const char *this_vendor = host_vendor();
    for (int gi = 0; gi < cd_ngroups && fails >= 0; gi++) {
        const char *name = cd_groups[gi].name;
        if (o.group && strcmp(o.group, name) != 0)
            continue;
        bool other_vendor = rec_vendor && vendor_bound(name) && strcmp(rec_vendor, this_vendor) != 0;
        if (other_vendor && !live) {
            if (o.one_case < 0)
                printf("SKIP cpu/diff/%s: recorded on %s, this host is %s: the group's answers are "
                       "the vendor's (x87 transcendental last bits, FOP/FDP recording); make "
                       "cpu-record on a host of this vendor that runs 32-bit programs\n", name,
                       rec_vendor, this_vendor);
            continue;
        }
        run_group(&o, gi, &hs, have_core ? &core : NULL, &t, &rt);
        if (o.one_case < 0 && live)
            report(name, &t, have_core);
        else if (o.one_case < 0 && have_core)
            report_replay(name, &t, host);
        if (other_vendor) {
            if (o.one_case < 0)
                printf("SKIP cpu/diff-record/%s: recorded on %s, this host is %s: the group's "
                       "answers are the vendor's, so the recording is not checked here (the "
                       "core is compared with this host above)\n", name, rec_vendor, this_vendor);
            rt.differ = 0;
        } else if (o.one_case < 0 && live && hs.rec) {
            report_record(name, &rt);
        }
        fails += t.bad != 0 || (live && undef_fails(name, &t)) || t.native_bad != 0 ||
                 rt.differ != 0;
        total += t.cases;
    }
    double secs = (double)(clock_host_ns() - t0) / 1e9;
    if (!live && o.one_case < 0)
        printf("SKIP cpu/diff-undef: replayed answers hold the defined results only; the "
               "undefined flags are compared where the runner runs\n");
    if (!have_core && o.one_case < 0 && !fails && live)
        printf("PASS cpu/diff-native/groups: %d cases of %s on the host, only the intended "
               "faults\n", total, o.group ? o.group : "every group");
    if (!have_core && o.one_case < 0)
        printf("%s cpu/diff: %s (native side ran %d cases in %.1f s)\n", live ? "SKIP" : "FAIL",
               why, total, secs);
    else
        fprintf(stderr, "cpudiff: %d cases in %.1f s\n", total, secs);
    if (hs.out && cd_rec_close(hs.out) < 0) {
        printf("FAIL cpu/diff-record/write: writing %s failed\n", o.record);
        fails++;
    }
    if (live)
        runner_stop(&r);
    cd_rec_free(hs.rec);
    if (have_core)
        core_free(&core);
    return fails || (!live && !have_core) ? 1 : 0;
}
