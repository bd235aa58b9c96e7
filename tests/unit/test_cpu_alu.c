/*
 * ALU instructions of the software core against the host CPU: each case
 * runs one instruction natively (64-bit host, 8/16/32-bit forms) from random
 * operands with edge values, then on the core from the same registers and
 * flags, and compares the registers and the flags the SDM defines for that
 * instruction (undefined flags differ between vendors and are masked).
 */
#include <sys/mman.h>

#include "cpu_vm.h"

struct regs {
    uint32_t eax, ebx, ecx, edx;
    uint64_t flags;
};

/* The host trampoline: load regs, run the instruction, store regs. */
static const uint8_t tramp_head[] = {
    0x53, 0x55, 0x48, 0x89, 0xFD,             /* push rbx; push rbp; mov rbp, rdi */
    0x8B, 0x45, 0x00, 0x8B, 0x5D, 0x04,       /* mov eax,[rbp]; mov ebx,[rbp+4] */
    0x8B, 0x4D, 0x08, 0x8B, 0x55, 0x0C,       /* mov ecx,[rbp+8]; mov edx,[rbp+12] */
    0xFF, 0x75, 0x10, 0x9D,                   /* push qword [rbp+16]; popfq */
};
static const uint8_t tramp_tail[] = {
    0x9C, 0x8F, 0x45, 0x10,                   /* pushfq; pop qword [rbp+16] */
    0x89, 0x45, 0x00, 0x89, 0x5D, 0x04,       /* mov [rbp],eax; mov [rbp+4],ebx */
    0x89, 0x4D, 0x08, 0x89, 0x55, 0x0C,       /* mov [rbp+8],ecx; mov [rbp+12],edx */
    0x5D, 0x5B, 0xC3,                         /* pop rbp; pop rbx; ret */
};

#define A 0x0801u /* OF CF */
#define ALL 0x08D5u
#define SZP 0x00C4u

struct alu_case {
    const char *name;
    uint8_t code[6];
    uint8_t len;
    uint32_t flags_mask;   /* flags compared */
    int kind;              /* 0 plain, 1 shift (count in CL: OF only when 1), 2 divide */
};

static const struct alu_case cases[] = {
    {"add r32", {0x01, 0xD8}, 2, ALL, 0},      {"or r32", {0x09, 0xD8}, 2, ALL & ~0x10u, 0},
    {"adc r32", {0x11, 0xD8}, 2, ALL, 0},      {"sbb r32", {0x19, 0xD8}, 2, ALL, 0},
    {"and r32", {0x21, 0xD8}, 2, ALL & ~0x10u, 0}, {"sub r32", {0x29, 0xD8}, 2, ALL, 0},
    {"xor r32", {0x31, 0xD8}, 2, ALL & ~0x10u, 0}, {"cmp r32", {0x39, 0xD8}, 2, ALL, 0},
    {"add r16", {0x66, 0x01, 0xD8}, 3, ALL, 0}, {"sbb r16", {0x66, 0x19, 0xD8}, 3, ALL, 0},
    {"add r8", {0x00, 0xD8}, 2, ALL, 0},       {"sub r8", {0x28, 0xD8}, 2, ALL, 0},
    {"adc r8 ah", {0x10, 0xFC}, 2, ALL, 0},    {"inc r32", {0xFF, 0xC0}, 2, ALL, 0},
    {"dec r16", {0x66, 0xFF, 0xC8}, 3, ALL, 0}, {"neg r32", {0xF7, 0xD8}, 2, ALL, 0},
    {"not r8", {0xF6, 0xD0}, 2, ALL, 0},       {"test r32", {0x85, 0xD8}, 2, ALL & ~0x10u, 0},
    {"shl r32", {0xD3, 0xE0}, 2, 0xC5, 1},     {"shr r32", {0xD3, 0xE8}, 2, 0xC5, 1},
    {"sar r32", {0xD3, 0xF8}, 2, 0xC5, 1},     {"shl r8", {0xD2, 0xE0}, 2, 0xC5, 1},
    {"shr r16", {0x66, 0xD3, 0xE8}, 3, 0xC5, 1}, {"sar r8", {0xD2, 0xF8}, 2, 0xC5, 1},
    {"rol r32", {0xD3, 0xC0}, 2, 0x01, 1},     {"ror r32", {0xD3, 0xC8}, 2, 0x01, 1},
    {"rcl r32", {0xD3, 0xD0}, 2, 0x01, 1},     {"rcr r32", {0xD3, 0xD8}, 2, 0x01, 1},
    {"rcl r8", {0xD2, 0xD0}, 2, 0x01, 1},      {"rcr r16", {0x66, 0xD3, 0xD8}, 3, 0x01, 1},
    {"rol r8", {0xD2, 0xC0}, 2, 0x01, 1},      {"ror r16", {0x66, 0xD3, 0xC8}, 3, 0x01, 1},
    {"mul r32", {0xF7, 0xE3}, 2, A, 0},        {"imul r32", {0xF7, 0xEB}, 2, A, 0},
    {"mul r8", {0xF6, 0xE3}, 2, A, 0},         {"imul r16", {0x66, 0xF7, 0xEB}, 3, A, 0},
    {"imul r32,r32", {0x0F, 0xAF, 0xC3}, 3, A, 0}, {"div r32", {0xF7, 0xF3}, 2, 0, 2},
    {"idiv r16", {0x66, 0xF7, 0xFB}, 3, 0, 2}, {"div r8", {0xF6, 0xF3}, 2, 0, 2},
    {"bsf r32", {0x0F, 0xBC, 0xC3}, 3, 0x40, 0}, {"bsr r16", {0x66, 0x0F, 0xBD, 0xC3}, 4, 0x40, 0},
    {"bt r32", {0x0F, 0xA3, 0xD8}, 3, 0x01, 0}, {"bts r32", {0x0F, 0xAB, 0xD8}, 3, 0x01, 0},
    {"btr r16", {0x66, 0x0F, 0xB3, 0xD8}, 4, 0x01, 0}, {"btc r32", {0x0F, 0xBB, 0xD8}, 3, 0x01, 0},
    {"shld r32", {0x0F, 0xA5, 0xD8}, 3, 0xC5, 1}, {"shrd r32", {0x0F, 0xAD, 0xD8}, 3, 0xC5, 1},
    {"xadd r32", {0x0F, 0xC1, 0xD8}, 3, ALL, 0}, {"bswap", {0x0F, 0xC8}, 2, 0, 0},
    {"cmovl", {0x0F, 0x4C, 0xC3}, 3, 0, 0},     {"setbe", {0x0F, 0x96, 0xC0}, 3, 0, 0},
    {"cwd", {0x66, 0x99}, 2, 0, 0},            {"cdq", {0x99}, 1, 0, 0},
    {"movsx", {0x0F, 0xBE, 0xC3}, 3, 0, 0},    {"xchg r8", {0x86, 0xDC}, 2, 0, 0},
    {"movzx r8", {0x0F, 0xB6, 0xC7}, 3, 0, 0}, {"movzx r16", {0x0F, 0xB7, 0xC3}, 3, 0, 0},
    {"shl r32,5", {0xC1, 0xE0, 0x05}, 3, 0xC5, 0}, {"shr r32,1", {0xC1, 0xE8, 0x01}, 3, 0x8C5, 0},
    {"sar r32,31", {0xC1, 0xF8, 0x1F}, 3, 0xC5, 0}, {"shl r32,1", {0xC1, 0xE0, 0x01}, 3, 0x8C5, 0},
    {"shr r32,0", {0xC1, 0xE8, 0x00}, 3, 0x8D5, 0}, {"test r8 ah", {0x84, 0xE0}, 2, 0xC5, 0},
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static uint32_t operand(void)
{
    static const uint32_t edge[] = {0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
                                    0x80000000u, 0xFFFFFFFFu, 0x10, 0x0F};
    uint32_t r = rnd();
    return (r & 3) == 0 ? edge[(r >> 2) % 13] : rnd();
}

TEST(alu_against_host)
{
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        SKIP("no executable memory for the host side");
    struct vm m;
    vm_init(&m, 1 << 20);
    struct cpu_state st0;
    cpu_get_state(m.cpu, &st0);
    st0.cr0 |= 1;
    st0.seg[SEG_CS] = (struct cpu_segment){0x08, 0xC09B, 0xFFFFFFFFu, 0};
    for (int i = SEG_ES; i <= SEG_GS; i++)
        if (i != SEG_CS)
            st0.seg[i] = (struct cpu_segment){0x10, 0xC093, 0xFFFFFFFFu, 0};
    st0.gpr[GPR_SP] = 0x8000;
    int checked = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct alu_case *k = &cases[c];
        size_t n = 0;
        memcpy(page, tramp_head, sizeof tramp_head);
        n = sizeof tramp_head;
        memcpy(page + n, k->code, k->len);
        n += k->len;
        memcpy(page + n, tramp_tail, sizeof tramp_tail);
        void (*host)(struct regs *) = (void (*)(struct regs *))(uintptr_t)page;
        memcpy(m.ram + 0x1000, k->code, k->len);
        m.ram[0x1000 + k->len] = 0xF4;
        for (int it = 0; it < 2000; it++) {
            struct regs r = {operand(), operand(), operand(), operand(), 0x202 | (rnd() & 0x8D5)};
            if (k->kind == 1 && (rnd() & 1))
                r.ecx = 1;
            if (k->kind == 1 && !strncmp(k->name, "sh", 2) && k->name[3] == 'd' &&
                (r.ecx & 31) == 0)
                r.ecx |= 3;
            if (k->kind == 2 && k->code[0] == 0xF7) {
                r.ebx |= 1;
                r.edx %= r.ebx;
            } else if (k->kind == 2 && k->code[0] == 0x66) {
                r.edx = (r.edx & 0xFFFF0000u) | ((r.eax & 0x8000) ? 0xFFFF : 0);
                r.ebx = (r.ebx & 0xFFFF0000u) | (r.ebx & 0x7FFF) | 2;
            } else if (k->kind == 2) {
                r.ebx |= 1;
                uint32_t ah = ((r.eax >> 8) & 0xFF) % (r.ebx & 0xFF);
                r.eax = (r.eax & 0xFFFF00FFu) | (ah << 8);
            }
            struct regs h = r;
            host(&h);
            struct cpu_state st = st0;
            st.gpr[GPR_AX] = r.eax;
            st.gpr[GPR_BX] = r.ebx;
            st.gpr[GPR_CX] = r.ecx;
            st.gpr[GPR_DX] = r.edx;
            st.rflags = r.flags;
            st.rip = 0x1000;
            st.halted = false;
            cpu_set_state(m.cpu, &st);
            ASSERT_EQ(cpu_run(m.cpu, clock_now_ns(m.clock) + 1000), CPU_EXIT_HALT);
            cpu_get_state(m.cpu, &st);
            uint32_t mask = k->flags_mask;
            unsigned cnt = r.ecx & 31;
            if (k->kind == 1 && cnt != 1)
                mask &= ~0x800u;
            if (k->kind == 1 && cnt == 0)
                mask = 0x8D5;
            if (k->kind == 1 && k->code[0] == 0x66 && cnt > 16 && k->code[1] == 0x0F)
                mask = 0;
            if ((st.gpr[GPR_AX] != h.eax || st.gpr[GPR_BX] != h.ebx || st.gpr[GPR_CX] != h.ecx ||
                 st.gpr[GPR_DX] != h.edx || ((st.rflags ^ h.flags) & mask)))
                FAIL("%s: in eax=%08x ebx=%08x ecx=%08x edx=%08x fl=%03x: host eax=%08x ebx=%08x "
                     "edx=%08x fl=%03x, core eax=%08x ebx=%08x edx=%08x fl=%03x (mask %03x)",
                     k->name, r.eax, r.ebx, r.ecx, r.edx, (unsigned)r.flags, h.eax, h.ebx, h.edx,
                     (unsigned)h.flags & 0xFFF, (unsigned)st.gpr[GPR_AX], (unsigned)st.gpr[GPR_BX],
                     (unsigned)st.gpr[GPR_DX], (unsigned)st.rflags & 0xFFF, mask);
            checked++;
        }
    }
    ASSERT(checked > 100000);
    munmap(page, 4096);
    vm_free(&m);
}
