/*
 * The translator (cpu/jit.c) against the interpreter: random blocks of flat
 * 32-bit code (register and memory ALU, MOV, LEA, INC/DEC, PUSH/POP, TEST, a
 * few instructions the translator hands to soft_exec, and a closing Jcc) run
 * from the same state on two software cores, one with the JIT off, one with
 * it on and every block translated at its first entry. The oracle is the
 * interpreter: exit reason, every GPR, EIP, EFLAGS (AF masked after logic
 * ops, where the host and the interpreter may legitimately differ), the
 * instruction count and all of RAM must match. Memory operands include
 * page-crossing addresses (the slow path), stores into the running block's
 * own page (invalidation: the block must stop after that instruction),
 * unmapped addresses (the bus) and an access past 4 GiB - 1 (#GP, the fault
 * taken from translated code, here a triple fault with the state frozen).
 */
#include "cpu_vm.h"
#include "cpu/soft.h"

#define CODE 0x1000u
#define DATA 0x10000u
#define RAM (1u << 20)

static uint32_t rng;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

struct gen {
    uint8_t *p;
    bool logic; /* AF is undefined */
};

static void put(struct gen *g, unsigned v)
{
    *g->p++ = (uint8_t)v;
}

static void put4(struct gen *g, uint32_t v)
{
    memcpy(g->p, &v, 4);
    g->p += 4;
}

/* Destination registers: EAX ECX EDX ESI EDI (EBX, EBP are bases, ESP the stack). */
static unsigned dreg(void)
{
    static const unsigned r[5] = {0, 1, 2, 6, 7};
    return r[rnd() % 5];
}

static unsigned anyreg(void)
{
    return rnd() % 8 == 4 ? 3 : rnd() % 8 == 4 ? 5 : dreg();
}

/* A ModRM memory operand with reg field reg. */
static void mem(struct gen *g, unsigned reg)
{
    unsigned k = rnd() % 16;
    uint32_t a;
    switch (k) {
    case 0: a = DATA + 0xFFE; break;                 /* crosses into the next page */
    case 1: a = CODE + 0x800 + (rnd() % 0x100) * 4; break; /* the block's own page */
    case 2: a = 0xF0000000u; break;                  /* nothing mapped there */
    case 3: a = rnd() % 8 ? DATA + 0x100 : 0xFFFFFFFEu; break; /* past 4 GiB - 1: #GP */
    case 4: case 5:
        put(g, 0x40 | reg << 3 | 3); /* [ebx + disp8] */
        put(g, rnd() % 0x80);
        return;
    case 6:
        put(g, 0x40 | reg << 3 | 5); /* [ebp + disp8] */
        put(g, rnd() % 0x80);
        return;
    case 7:
        put(g, 0x04 | reg << 3); /* [ebx + ebp*2^s] */
        put(g, (rnd() % 2) << 6 | 5 << 3 | 3);
        return;
    default: a = DATA + (rnd() % 0xF00); break;
    }
    put(g, reg << 3 | 5);
    put4(g, a);
}

static void insn(struct gen *g)
{
    unsigned alu = rnd() % 8, k = rnd() % 20;
    if (alu == 1 || alu == 4 || alu == 6)
        g->logic = true;
    switch (k) {
    case 0: case 1: put(g, alu << 3 | 1); put(g, 0xC0 | anyreg() << 3 | dreg()); break;
    case 2: put(g, alu << 3 | 3); put(g, 0xC0 | dreg() << 3 | anyreg()); break;
    case 3: put(g, alu << 3 | 3); mem(g, dreg()); break;
    case 4: put(g, 0x81); put(g, 0xC0 | alu << 3 | dreg()); put4(g, rnd()); break;
    case 5: put(g, 0x83); put(g, 0xC0 | alu << 3 | dreg()); put(g, rnd()); break;
    case 6: put(g, alu << 3 | 5); put4(g, rnd()); break;
    case 7: put(g, 0x89); put(g, 0xC0 | anyreg() << 3 | dreg()); break;
    case 8: put(g, 0xB8 + dreg()); put4(g, rnd()); break;
    case 9: put(g, 0x8B); mem(g, dreg()); break;
    case 10: put(g, 0x89); mem(g, anyreg()); break;
    case 11: put(g, (rnd() & 1 ? 0x40 : 0x48) + dreg()); break;
    case 12: put(g, 0x50 + anyreg()); break;
    case 13: put(g, 0x58 + dreg()); break;
    case 14: put(g, 0x8D); mem(g, dreg()); break;
    case 15: put(g, 0x85); put(g, 0xC0 | anyreg() << 3 | dreg()); g->logic = true; break;
    case 16: put(g, 0xF7); put(g, 0xC0 | dreg()); put4(g, rnd()); g->logic = true; break;
    /* through soft_exec: a shift (flags), a memory RMW (stores), SETcc and ADC (flags read) */
    case 17: put(g, 0xC1); put(g, 0xE0 | dreg()); put(g, 1 + rnd() % 3); g->logic = true; break;
    case 18: put(g, alu << 3 | 1); mem(g, anyreg()); break;
    default: put(g, 0x0F); put(g, 0x90 + rnd() % 16); put(g, 0xC0 | dreg()); break;
    }
}

struct result {
    enum cpu_exit exit;
    struct cpu_state st;
    uint64_t icount;
    uint8_t *ram;
};

static void run_one(bool jit, const uint8_t *image, const struct cpu_state *init, struct result *r)
{
    struct vm m;
    soft_jit_mode = jit;
    vm_init(&m, RAM);
    soft_jit_mode = -1;
    ASSERT(!jit || soft_of(m.cpu)->jit); /* an executable mapping is needed for the test to mean anything */
    memcpy(m.ram, image, RAM);
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    memcpy(st.gpr, init->gpr, sizeof st.gpr);
    st.rip = init->rip;
    st.rflags = init->rflags;
    st.cr0 = 0x11;
    for (int i = 0; i < 6; i++)
        st.seg[i] = (struct cpu_segment){0x10, 0xC093, 0xFFFFFFFFu, 0};
    st.seg[SEG_CS] = (struct cpu_segment){0x08, 0xC09B, 0xFFFFFFFFu, 0};
    st.halted = false;
    cpu_set_state(m.cpu, &st);
    r->exit = vm_run(&m, 1000000);
    cpu_get_state(m.cpu, &r->st);
    r->icount = cpu_insn_count(m.cpu);
    r->ram = malloc(RAM);
    memcpy(r->ram, m.ram, RAM);
    vm_free(&m);
}

TEST(differential)
{
    uint8_t *image = malloc(RAM);
    ASSERT(image);
    unsigned translated = 0;
    jit_threshold = 1;
    for (unsigned trial = 0; trial < 3000; trial++) {
        rng = 0x9E3779B9u ^ (trial * 2654435761u);
        for (unsigned i = 0; i < RAM; i += 4) {
            uint32_t v = rnd();
            memcpy(image + i, &v, 4);
        }
        struct gen g = {image + CODE, false};
        unsigned n = 1 + rnd() % 24;
        for (unsigned i = 0; i < n; i++)
            insn(&g);
        /* Jcc over the first HLT: both ends are checked by the final EIP */
        put(&g, 0x70 + rnd() % 16);
        put(&g, 1);
        put(&g, 0xF4);
        put(&g, 0xF4);
        struct cpu_state init;
        memset(&init, 0, sizeof init);
        for (int i = 0; i < 8; i++)
            init.gpr[i] = rnd();
        init.gpr[GPR_BX] = DATA;
        init.gpr[GPR_BP] = DATA + 0x400 + (rnd() % 0x100);
        init.gpr[GPR_SP] = DATA + 0x8000;
        init.rip = CODE;
        init.rflags = 2 | (rnd() & FL_ARITH);
        struct result a, b;
        run_one(false, image, &init, &a);
        run_one(true, image, &init, &b);
        uint32_t fm = g.logic ? ~FL_AF : ~0u;
        if (a.exit != b.exit || a.st.rip != b.st.rip || ((a.st.rflags ^ b.st.rflags) & fm) ||
            memcmp(a.st.gpr, b.st.gpr, sizeof a.st.gpr) || a.icount != b.icount ||
            memcmp(a.ram, b.ram, RAM)) {
            fprintf(stderr, "trial %u: exit %d/%d eip %llx/%llx fl %llx/%llx icount %llu/%llu\n", trial, a.exit,
                    b.exit, (unsigned long long)a.st.rip, (unsigned long long)b.st.rip,
                    (unsigned long long)a.st.rflags, (unsigned long long)b.st.rflags,
                    (unsigned long long)a.icount, (unsigned long long)b.icount);
            for (int i = 0; i < 8; i++)
                if (a.st.gpr[i] != b.st.gpr[i])
                    fprintf(stderr, "  r%d %llx/%llx\n", i, (unsigned long long)a.st.gpr[i],
                            (unsigned long long)b.st.gpr[i]);
            for (unsigned i = 0; i < RAM; i++)
                if (a.ram[i] != b.ram[i]) {
                    fprintf(stderr, "  ram[%#x] %02x/%02x\n", i, a.ram[i], b.ram[i]);
                    break;
                }
            FILE *f = fopen("/tmp/jitfail.bin", "wb");
            if (f) {
                fwrite(image + CODE, 1, (size_t)(g.p - (image + CODE)), f);
                fclose(f);
            }
            FAIL("the translated block differs from the interpreter");
        }
        translated += b.exit == CPU_EXIT_HALT;
        free(a.ram);
        free(b.ram);
    }
    jit_threshold = 16;
    free(image);
    ASSERT(translated > 100); /* most trials ran to their HLT rather than faulting */
}
