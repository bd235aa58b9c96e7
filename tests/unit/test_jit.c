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
#define JIT_TRIALS 10000 /* VMPLAY_JIT_TRIALS=n for fewer (the SAN build) */
#define FS_BASE 0x200u

static uint32_t rng;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

struct gen {
    uint8_t *p, *base;
    uint32_t undef; /* arithmetic flags the architecture leaves undefined now (host and interpreter may differ) */
    uint32_t undef_at[4096]; /* undef before the instruction at each code offset (a fault's flags) */
};

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u

/* The flags condition code cc reads. */
static uint32_t cc_reads(unsigned cc)
{
    static const uint32_t r[8] = {F_OF, F_CF, F_ZF, F_CF | F_ZF, F_SF, F_PF, F_SF | F_OF, F_ZF | F_SF | F_OF};
    return r[(cc >> 1) & 7];
}

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

/* Byte destinations: AL CL DL AH CH DH (not BL/BH: EBX is a base). */
static unsigned dreg8(void)
{
    static const unsigned r[6] = {0, 1, 2, 4, 5, 6};
    return r[rnd() % 6];
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

/* Before an instruction reading condition cc: a CMP that defines every flag when cc would
 * read one the architecture leaves undefined. */
static void define_for(struct gen *g, unsigned cc)
{
    if (cc_reads(cc) & g->undef) {
        put(g, 0x39);
        put(g, 0xC0 | anyreg() << 3 | dreg());
        g->undef = 0;
    }
}

/* A register or memory ModRM operand with reg field reg (memory one time in three). */
static bool rm_any(struct gen *g, unsigned reg)
{
    if (rnd() % 3 == 0) {
        mem(g, reg);
        return true;
    }
    put(g, 0xC0 | reg << 3 | dreg());
    return false;
}

static void insn1(struct gen *g);

static void insn(struct gen *g)
{
    g->undef_at[g->p - g->base] = g->undef;
    insn1(g);
}

static void insn1(struct gen *g)
{
    if (g->undef & F_CF) { /* only after DIV: ADC, SBB and the rotates read CF */
        put(g, 0x39);
        put(g, 0xC0 | anyreg() << 3 | dreg());
        g->undef = 0;
        return;
    }
    unsigned alu = rnd() % 8, k = rnd() % 57;
    /* the ALU group: every flag defined (AF undefined after the logic ops) */
    uint32_t alu_undef = (alu == 1 || alu == 4 || alu == 6) ? F_AF : 0;
    switch (k) {
    case 0: case 1: put(g, alu << 3 | 1); put(g, 0xC0 | anyreg() << 3 | dreg()); g->undef = alu_undef; break;
    case 2: put(g, alu << 3 | 3); put(g, 0xC0 | dreg() << 3 | anyreg()); g->undef = alu_undef; break;
    case 3: put(g, alu << 3 | 3); mem(g, dreg()); g->undef = alu_undef; break;
    case 4: put(g, 0x81); put(g, 0xC0 | alu << 3 | dreg()); put4(g, rnd()); g->undef = alu_undef; break;
    case 5: put(g, 0x83); put(g, 0xC0 | alu << 3 | dreg()); put(g, rnd()); g->undef = alu_undef; break;
    case 6: put(g, alu << 3 | 5); put4(g, rnd()); g->undef = alu_undef; break;
    case 7: put(g, 0x89); put(g, 0xC0 | anyreg() << 3 | dreg()); break;
    case 8: put(g, 0xB8 + dreg()); put4(g, rnd()); break;
    case 9: put(g, 0x8B); mem(g, dreg()); break;
    case 10: put(g, 0x89); mem(g, anyreg()); break;
    case 11: put(g, (rnd() & 1 ? 0x40 : 0x48) + dreg()); g->undef &= F_CF; break;
    case 12: put(g, 0x50 + anyreg()); break;
    case 13: put(g, 0x58 + dreg()); break;
    case 14: put(g, 0x8D); mem(g, dreg()); break;
    case 15: put(g, 0x85); put(g, 0xC0 | anyreg() << 3 | dreg()); g->undef = F_AF; break;
    case 16: put(g, 0xF7); rm_any(g, 0); put4(g, rnd()); g->undef = F_AF; break;
    case 17: { /* shifts and rotates by 1, imm8, CL (register or memory) */
        static const unsigned sub[5] = {0, 1, 4, 5, 7};
        unsigned t = sub[rnd() % 5], form = rnd() % 3, n = 1 + rnd() % 31;
        put(g, form == 0 ? 0xD1 : form == 1 ? 0xC1 : 0xD3);
        rm_any(g, t);
        if (form == 1)
            put(g, n);
        bool rot = t < 2;
        if (form == 2) /* CL: a count of 0 changes nothing */
            g->undef |= rot ? F_OF : F_OF | F_AF;
        else if (rot)
            g->undef = (g->undef & ~(F_CF | F_OF)) | (form == 1 && n != 1 ? F_OF : 0);
        else
            g->undef = F_AF | (form == 1 && n != 1 ? F_OF : 0);
        break;
    }
    case 18: put(g, alu << 3 | 1); mem(g, anyreg()); g->undef = alu_undef; break;
    case 19: { unsigned cc = rnd() % 16; define_for(g, cc); put(g, 0x0F); put(g, 0x90 + cc); rm_any(g, 0); break; }
    case 20: { unsigned cc = rnd() % 16; define_for(g, cc); put(g, 0x0F); put(g, 0x40 + cc); rm_any(g, dreg()); break; }
    case 21: put(g, 0x0F); put(g, 0xAF); rm_any(g, dreg()); g->undef = F_SF | F_ZF | F_AF | F_PF; break;
    case 22: /* IMUL r, r/m, imm (a memory operand goes to soft_exec) */
        if (rnd() & 1) {
            put(g, 0x69); rm_any(g, dreg()); put4(g, rnd());
        } else {
            put(g, 0x6B); rm_any(g, dreg()); put(g, rnd());
        }
        g->undef = F_SF | F_ZF | F_AF | F_PF;
        break;
    case 23: { static const unsigned mx[4] = {0xB6, 0xB7, 0xBE, 0xBF}; put(g, 0x0F); put(g, mx[rnd() % 4]); rm_any(g, dreg()); break; }
    case 24: { /* ALU m, imm (read-modify-write) */
        bool i8 = rnd() & 1;
        put(g, i8 ? 0x83 : 0x81);
        mem(g, alu);
        if (i8)
            put(g, rnd());
        else
            put4(g, rnd());
        g->undef = alu_undef;
        break;
    }
    case 25: put(g, 0xC7); mem(g, 0); put4(g, rnd()); break;
    case 26: put(g, 0xFF); mem(g, rnd() & 1); g->undef &= F_CF; break;
    case 27: if (rnd() & 1) { put(g, 0x68); put4(g, rnd()); } else { put(g, 0x6A); put(g, rnd()); } break;
    case 28: /* CALL to the next instruction: ends the block, the next one is chained */
        put(g, 0xE8); put4(g, 0);
        break;
    case 29: { /* PUSH the address after the RET, RET: the return-address check */
        uint32_t to = CODE + (uint32_t)(g->p - g->base) + 6;
        put(g, 0x68); put4(g, to); put(g, 0xC3);
        break;
    }
    case 30: { /* a short forward Jcc over one instruction: both paths chain */
        unsigned cc = rnd() % 16;
        define_for(g, cc);
        put(g, 0x70 + cc); put(g, 1); put(g, 0x90); /* over a NOP */
        break;
    }
    case 31: put(g, 0x0F); put(g, 0xB6); put(g, 0xC0 | dreg() << 3 | (rnd() % 8)); break; /* MOVZX r32, AH..BH too */
    /* soft_exec helpers that leave the block chainable (jit.c chain_safe) */
    case 34: { /* NOT (no flags), NEG (all six) */
        unsigned neg = rnd() & 1;
        put(g, 0xF7); put(g, 0xC0 | (2 + neg) << 3 | dreg());
        if (neg)
            g->undef = 0;
        break;
    }
    case 35: put(g, 0x0F); put(g, 0xBA); put(g, 0xC0 | (4 + rnd() % 4) << 3 | dreg()); put(g, rnd());
        g->undef = F_OF | F_SF | F_ZF | F_AF | F_PF; break; /* BT, BTS, BTR, BTC r, imm8 */
    case 36: put(g, rnd() & 1 ? 0xA1 : 0xA3); put4(g, DATA + (rnd() % 0x400) * 4); break; /* MOV EAX, moffs and back */
    case 37: put(g, 0x80); put(g, 0xC0 | alu << 3 | (rnd() % 8)); put(g, rnd()); g->undef = alu_undef; break;
    /* byte and 16-bit forms (native in the translator) */
    case 38: { /* ALU r/m8, r8 and r8, r/m8, register forms */
        bool to_reg = rnd() & 1;
        unsigned d = dreg8(), src = rnd() % 8;
        put(g, alu << 3 | (to_reg ? 2 : 0));
        put(g, 0xC0 | (to_reg ? d : src) << 3 | (to_reg ? src : d));
        g->undef = alu_undef;
        break;
    }
    case 39: { bool to_reg = rnd() & 1; put(g, alu << 3 | (to_reg ? 2 : 0)); mem(g, to_reg ? dreg8() : rnd() % 8); g->undef = alu_undef; break; }
    case 40: put(g, alu << 3 | 4); put(g, rnd()); g->undef = alu_undef; break; /* op AL, imm8 */
    case 41: /* MOV r8, m8 / m8, r8 / m8, imm8 */
        switch (rnd() % 3) {
        case 0: put(g, 0x8A); mem(g, dreg8()); break;
        case 1: put(g, 0x88); mem(g, rnd() % 8); break;
        default: put(g, 0xC6); mem(g, 0); put(g, rnd()); break;
        }
        break;
    case 42: /* 16-bit MOV: load, store, register */
        put(g, 0x66);
        switch (rnd() % 3) {
        case 0: put(g, 0x8B); mem(g, dreg()); break;
        case 1: put(g, 0x89); mem(g, anyreg()); break;
        default: put(g, 0x89); put(g, 0xC0 | anyreg() << 3 | dreg()); break;
        }
        break;
    case 43: put(g, 0x84); put(g, 0xC0 | (rnd() % 8) << 3 | (rnd() % 8)); g->undef = F_AF; break; /* TEST r8, r8 */
    /* the translator's exec forms (no fast form in the interpreter) */
    case 44: put(g, 0xF7); rm_any(g, 4 + rnd() % 2); g->undef = F_SF | F_ZF | F_AF | F_PF; break; /* MUL, IMUL */
    case 45: { /* DIV, IDIV r32, often with a dividend that does not overflow */
        switch (rnd() % 5) {
        case 0: put(g, 0x31); put(g, 0xD2); break; /* xor edx, edx */
        case 1: put(g, 0x99); break;               /* cdq */
        case 2: put(g, 0xBA); put4(g, rnd() % 4); break;
        case 3: put(g, 0x89); put(g, 0xCA); put(g, 0xF7); put(g, 0xF0 | 1); /* edx = ecx: DIV overflows just */
            g->undef = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;
            return;
        default: break;
        }
        static const unsigned dv[5] = {1, 3, 6, 7, 5};
        put(g, 0xF7); put(g, 0xC0 | (6 + rnd() % 2) << 3 | dv[rnd() % 5]);
        g->undef = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;
        break;
    }
    case 46: { unsigned neg = rnd() & 1; put(g, 0xF7); mem(g, 2 + neg); if (neg) g->undef = 0; break; } /* NOT, NEG m32 */
    case 47: put(g, 0x80); mem(g, alu); put(g, rnd()); g->undef = alu_undef; break; /* ALU m8, imm8 */
    case 48: put(g, 0xF6); rm_any(g, 0); put(g, rnd()); g->undef = F_AF; break; /* TEST r/m8, imm8 */
    case 49: put(g, 0x0F); put(g, 0xBA); mem(g, 4 + rnd() % 4); put(g, rnd());
        g->undef = F_OF | F_SF | F_ZF | F_AF | F_PF; break; /* BT* m32, imm8 */
    case 50: { /* MOV AL/EAX, moffs and back */
        unsigned k2 = rnd() % 8;
        uint32_t a = k2 == 0 ? DATA + 0xFFE : k2 == 1 ? CODE + 0x800 + (rnd() % 0x100) * 4 : k2 == 2 ? 0xF0000000u
                     : DATA + (rnd() % 0xF00);
        put(g, 0xA0 + rnd() % 4); put4(g, a);
        break;
    }
    case 53: if (rnd() & 1) { put(g, 0xA8); put(g, rnd()); } else { put(g, 0xA9); put4(g, rnd()); } g->undef = F_AF; break;
    case 54: put(g, 0xB0 + rnd() % 8); put(g, rnd()); break; /* MOV r8, imm8 (BL, BH too) */
    case 55: put(g, 0x84 + rnd() % 2); mem(g, rnd() % 8); g->undef = F_AF; break; /* TEST m, r */
    case 56: put(g, 0x88); put(g, 0xC0 | (rnd() % 8) << 3 | 3); put(g, 0xB3); put(g, DATA >> 8); break; /* EBX stays DATA */
    case 51: case 52: { /* FS and GS overrides (FS based at FS_BASE, GS at 0) */
        put(g, rnd() & 1 ? 0x64 : 0x65);
        switch (rnd() % 7) {
        case 0: put(g, 0x8B); mem(g, dreg()); break;
        case 1: put(g, 0x89); mem(g, anyreg()); break;
        case 2: put(g, alu << 3 | 3); mem(g, dreg()); g->undef = alu_undef; break;
        case 3: put(g, alu << 3 | 1); mem(g, anyreg()); g->undef = alu_undef; break;
        case 4: put(g, 0x0F); put(g, 0xB6); mem(g, dreg()); break;
        case 5: put(g, 0xA1 + 2 * (rnd() % 2)); put4(g, DATA + (rnd() % 0x400) * 4); break;
        default: put(g, 0x80); mem(g, alu); put(g, rnd()); g->undef = alu_undef; break;
        }
        break;
    }
    default: { unsigned cc = rnd() % 16; define_for(g, cc); put(g, 0x0F); put(g, 0x90 + cc); put(g, 0xC0 | (rnd() % 8)); break; }
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
    st.seg[SEG_FS].base = FS_BASE;
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
    unsigned trials = JIT_TRIALS;
    const char *tv = getenv("VMPLAY_JIT_TRIALS");
    if (tv && atoi(tv) > 0)
        trials = (unsigned)atoi(tv);
    for (unsigned trial = 0; trial < trials; trial++) {
        rng = 0x9E3779B9u ^ (trial * 2654435761u);
        for (unsigned i = 0; i < RAM; i += 4) {
            uint32_t v = rnd();
            memcpy(image + i, &v, 4);
        }
        static struct gen g;
        memset(&g, 0, sizeof g);
        g.p = g.base = image + CODE;
        memset(g.undef_at, 0xFF, sizeof g.undef_at);
        unsigned n = 1 + rnd() % 24;
        for (unsigned i = 0; i < n; i++)
            insn(&g);
        /* Jcc over the first HLT: both ends are checked by the final EIP */
        unsigned cc = rnd() % 16;
        define_for(&g, cc);
        put(&g, 0x70 + cc);
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
        uint32_t fm = ~g.undef;
        if (a.exit != CPU_EXIT_HALT) /* the flags before the faulting instruction */
            fm = a.st.rip >= CODE && a.st.rip < CODE + 4096 ? ~g.undef_at[a.st.rip - CODE] : 0;
        /* a fault's frame holds EFLAGS: its undefined bits may differ there too */
        uint32_t sp = (uint32_t)a.st.gpr[GPR_SP];
        if (a.exit != CPU_EXIT_HALT && sp >= 64 && sp <= RAM)
            for (uint32_t at = sp - 64; at < sp; at += 4) {
                uint32_t x, y;
                memcpy(&x, a.ram + at, 4);
                memcpy(&y, b.ram + at, 4);
                if (((x ^ y) & ~fm) == (x ^ y))
                    memcpy(b.ram + at, &x, 4);
            }
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

/*
 * Chained translated blocks (every block translated at its first entry, exits
 * linked straight to their targets) against the interpreter on nasm programs:
 * the budget and the interrupt line are checked at every chained entry, self-
 * modifying code unlinks what it rewrites, and a page-table change moves a
 * chained CALL's target.
 */
#define PM32_ENTRY                                                                                 \
    "bits 16\n"                                                                                    \
    "  cli\n"                                                                                      \
    "  lgdt [gdtr]\n"                                                                              \
    "  mov eax, cr0\n"                                                                             \
    "  or al, 1\n"                                                                                 \
    "  mov cr0, eax\n"                                                                             \
    "  jmp 0x08:pm32\n"                                                                            \
    "gdt: dq 0\n"                                                                                  \
    "  dq 0x00CF9A000000FFFF\n"                                                                    \
    "  dq 0x00CF92000000FFFF\n"                                                                    \
    "gdtr: dw 23\n"                                                                                \
    "  dd gdt\n"                                                                                   \
    "idtr: dw 256*8-1\n"                                                                           \
    "  dd 0x8000\n"                                                                                \
    "bits 32\n"                                                                                    \
    "pm32: mov ax, 0x10\n"                                                                         \
    "  mov ds, ax\n"                                                                               \
    "  mov es, ax\n"                                                                               \
    "  mov ss, ax\n"                                                                               \
    "  mov esp, 0x9000\n"

static void prog_init(struct vm *m, bool jit, const char *src)
{
    soft_jit_mode = jit;
    jit_threshold = 1;
    vm_init(m, 1 << 20);
    soft_jit_mode = -1;
    ASSERT(!jit || soft_of(m->cpu)->jit);
    vm_asm(m, 0x1000, src);
    vm_start_real(m, 0x1000);
}

static void same_regs(struct vm *a, struct vm *b)
{
    struct cpu_state x, y;
    cpu_get_state(a->cpu, &x);
    cpu_get_state(b->cpu, &y);
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(x.gpr[i], y.gpr[i]);
    ASSERT_EQ(x.rip, y.rip);
    ASSERT_EQ(x.rflags, y.rflags);
    ASSERT_EQ(cpu_insn_count(a->cpu), cpu_insn_count(b->cpu));
}

/* A device whose third register write raises the interrupt line (as a self-IPI would). */
static int raise_writes;

static void raise_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
    struct vm *m = opaque;
    (void)off;
    (void)v;
    (void)size;
    if (++raise_writes == 3)
        cpu_set_intr(m->cpu, 1);
}

static uint64_t raise_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0;
}

static const struct bus_ops raise_ops = {raise_read, raise_write, 4, 4};

/* Resumes after a HLT. */
static void unhalt(struct vm *m)
{
    struct cpu_state st;
    cpu_get_state(m->cpu, &st);
    st.halted = false;
    cpu_set_state(m->cpu, &st);
}

TEST(chained_loop_deadline_and_interrupt)
{
    static const char *src = PM32_ENTRY "  lidt [idtr]\n"
                                        "  mov eax, isr\n"
                                        "  mov [0x8000 + 0x20*8], ax\n"
                                        "  mov word [0x8000 + 0x20*8 + 2], 0x08\n"
                                        "  mov word [0x8000 + 0x20*8 + 4], 0x8E00\n"
                                        "  shr eax, 16\n"
                                        "  mov [0x8000 + 0x20*8 + 6], ax\n"
                                        "  xor eax, eax\n"
                                        "  xor ecx, ecx\n"
                                        "  sti\n"
                                        "l: add eax, 3\n"
                                        "  inc ecx\n"
                                        "  jmp l2\n"
                                        "l2: cmp eax, ecx\n"
                                        "  jne l\n"
                                        "  jmp l\n"
                                        "after: mov ecx, 0x10000\n"
                                        "  mov dword [0x5010], 0\n"
                                        "  sti\n"
                                        "k: dec ecx\n"
                                        "  jz nope\n"
                                        "  test ecx, 0xFFF\n"
                                        "  jnz k\n"
                                        "  mov [0xE0000000], ecx\n" /* (not A3: a native store) raises the line mid-block */
                                        "  add dword [0x5010], 1\n"
                                        "  jmp k\n"
                                        "nope: hlt\n"
                                        "isr: mov [0x5000], ecx\n"
                                        "  mov [0x5004], eax\n"
                                        "  inc byte [0x5008]\n"
                                        "  cli\n"
                                        "  hlt\n"
                                        "  jmp after\n";
    struct vm a, b;
    prog_init(&a, false, src);
    prog_init(&b, true, src);
    /* an endless loop of chained blocks still comes back at the deadline */
    ASSERT_EQ(vm_run(&a, 200000), CPU_EXIT_DEADLINE);
    ASSERT_EQ(vm_run(&b, 200000), CPU_EXIT_DEADLINE);
    same_regs(&a, &b);
    ASSERT(soft_of(b.cpu)->jit_chained > 1000); /* the loop ran chained */
    ASSERT(vm_reg(&b, GPR_CX) > 10000);
    /* and takes an interrupt raised while it runs at the next block boundary */
    a.next_vector = b.next_vector = 0x20;
    cpu_set_intr(a.cpu, 1);
    cpu_set_intr(b.cpu, 1);
    ASSERT_EQ(vm_run(&a, 200000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_run(&b, 200000), CPU_EXIT_HALT);
    ASSERT_EQ(b.acks, 1);
    ASSERT_EQ(b.ram[0x5008], 1);
    ASSERT_EQ(vm_rd32(&a, 0x5000), vm_rd32(&b, 0x5000));
    same_regs(&a, &b);
    /* a line raised by a store inside a chained loop is taken at the next chained entry */
    unhalt(&a);
    unhalt(&b);
    ASSERT_EQ(bus_map_mmio(a.bus, 0xE0000000u, 4, &raise_ops, &a, "raise"), 0);
    ASSERT_EQ(bus_map_mmio(b.bus, 0xE0000000u, 4, &raise_ops, &b, "raise"), 0);
    raise_writes = 0;
    ASSERT_EQ(vm_run(&a, 2000000), CPU_EXIT_HALT);
    raise_writes = 0;
    ASSERT_EQ(vm_run(&b, 2000000), CPU_EXIT_HALT);
    ASSERT_EQ(b.acks, 2);
    ASSERT_EQ(b.ram[0x5008], 2);
    /* the third store's block is linked by then: taken at the chained entry after it,
     * not a budget later */
    ASSERT_EQ(vm_rd32(&b, 0x5000), 0xD000u);
    ASSERT_EQ(vm_rd32(&b, 0x5010), 3u);
    same_regs(&a, &b);
    jit_threshold = 16;
    vm_free(&a);
    vm_free(&b);
}

TEST(self_modifying_chained_code)
{
    /* the loop rewrites its own ADD's immediate, then that of a CALLed (chained) block */
    static const char *src = PM32_ENTRY "  xor eax, eax\n"
                                        "  mov ecx, 1000\n"
                                        "l: db 0x05\n"
                                        "imm: dd 1\n"
                                        "  mov [imm], ecx\n"
                                        "  dec ecx\n"
                                        "  jnz l\n"
                                        "  mov [0x5000], eax\n"
                                        "  xor eax, eax\n"
                                        "  mov ecx, 1000\n"
                                        "m: call f\n"
                                        "  mov [fimm], ecx\n"
                                        "  dec ecx\n"
                                        "  jnz m\n"
                                        "  hlt\n"
                                        "f: db 0x05\n"
                                        "fimm: dd 0\n"
                                        "  ret\n";
    struct vm a, b;
    prog_init(&a, false, src);
    prog_init(&b, true, src);
    ASSERT_EQ(vm_run(&a, 100000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_run(&b, 100000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&b, 0x5000), 500500u); /* 1 + 1000 + 999 + ... + 2 */
    ASSERT_EQ(vm_reg(&b, GPR_AX), 500499u);  /* 0 + 1000 + ... + 2 */
    same_regs(&a, &b);
    ASSERT(soft_of(b.cpu)->jit_chained > 100);
    jit_threshold = 16;
    vm_free(&a);
    vm_free(&b);
}

TEST(page_table_change_moves_chained_target)
{
    /* 0x400000 maps 0x30000 (add eax, 1; ret), then 0x31000 (add eax, 100; ret) */
    static const char *src = PM32_ENTRY "  mov edi, 0x21000\n"
                                        "  mov eax, 0x003\n"
                                        "  mov ecx, 1024\n"
                                        "pt: stosd\n"
                                        "  add eax, 0x1000\n"
                                        "  loop pt\n"
                                        "  mov dword [0x20000], 0x21003\n"
                                        "  mov dword [0x20004], 0x22003\n"
                                        "  mov dword [0x22000], 0x30003\n"
                                        "  mov dword [0x30000], 0xC301C083\n"
                                        "  mov dword [0x31000], 0xC364C083\n"
                                        "  mov eax, 0x20000\n"
                                        "  mov cr3, eax\n"
                                        "  mov eax, cr0\n"
                                        "  or eax, 0x80000000\n"
                                        "  mov cr0, eax\n"
                                        "  jmp go\n"
                                        "go: xor eax, eax\n"
                                        "  mov esi, 4\n"
                                        "r: mov ecx, 50\n"
                                        "a: call 0x400000\n" /* the same chained CALL each round */
                                        "  dec ecx\n"
                                        "  jnz a\n"
                                        "  xor dword [0x22000], 0x1000\n"
                                        "  test esi, 1\n"
                                        "  jz inv\n"
                                        "  mov edx, cr3\n"
                                        "  mov cr3, edx\n"
                                        "  jmp nx\n"
                                        "inv: invlpg [0x400000]\n"
                                        "nx: dec esi\n"
                                        "  jnz r\n"
                                        "  hlt\n";
    struct vm a, b;
    prog_init(&a, false, src);
    prog_init(&b, true, src);
    ASSERT_EQ(vm_run(&a, 100000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_run(&b, 100000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_reg(&b, GPR_AX), 50u + 5000u + 50u + 5000u);
    same_regs(&a, &b);
    ASSERT(soft_of(b.cpu)->jit_chained > 100);
    jit_threshold = 16;
    vm_free(&a);
    vm_free(&b);
}

TEST(polymorphic_returns_and_indirect_jumps)
{
    /* f is called from two sites in turn (its RET's own slot misses every time: the jump
     * cache), and a dispatch loop jumps through a table to four handlers, one of which
     * is rewritten halfway (the cached handler's block is invalidated) */
    static const char *src = PM32_ENTRY "  xor eax, eax\n"
                                        "  xor ebx, ebx\n"
                                        "  mov ecx, 2000\n"
                                        "l: call f\n"
                                        "  add ebx, eax\n"
                                        "  call f\n"
                                        "  sub ebx, 1\n"
                                        "  dec ecx\n"
                                        "  jnz l\n"
                                        "  mov [0x5000], ebx\n"
                                        "  xor esi, esi\n"
                                        "  xor edx, edx\n"
                                        "d: cmp esi, 4000\n"
                                        "  je done\n"
                                        "  cmp esi, 2000\n"
                                        "  jne nopatch\n"
                                        "  mov byte [h2imm], 7\n"
                                        "nopatch: mov ecx, esi\n"
                                        "  and ecx, 3\n"
                                        "  inc esi\n"
                                        "  jmp [tab + ecx*4]\n"
                                        "h0: add edx, 1\n"
                                        "  jmp d\n"
                                        "h1: add edx, 10\n"
                                        "  jmp d\n"
                                        "h2: db 0x83, 0xC2\n" /* add edx, imm8 */
                                        "h2imm: db 3\n"
                                        "  jmp d\n"
                                        "h3: xor edx, 0x100\n"
                                        "  jmp d\n"
                                        "done: hlt\n"
                                        "f: add eax, 3\n"
                                        "  ret\n"
                                        "align 4\n"
                                        "tab: dd h0, h1, h2, h3\n";
    struct vm a, b;
    prog_init(&a, false, src);
    prog_init(&b, true, src);
    ASSERT_EQ(vm_run(&a, 100000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_run(&b, 100000000), CPU_EXIT_HALT);
    /* sum over k = 1..2000 of (6k - 3) - 1 */
    ASSERT_EQ(vm_rd32(&b, 0x5000), 6u * 2000u * 2001u / 2u - 4u * 2000u);
    ASSERT_EQ(vm_reg(&b, GPR_DX), 1000u * 1 + 1000u * 10 + 500u * 3 + 500u * 7);
    same_regs(&a, &b);
    /* the returns and jumps ran chained: 25,979 entries, about 18,000 without the jump cache */
    ASSERT(soft_of(b.cpu)->jit_chained > 24000);
    jit_threshold = 16;
    vm_free(&a);
    vm_free(&b);
}
