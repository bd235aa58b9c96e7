/*
 * x87 state across the things a guest kernel does around user code: a page
 * fault on an x87 store (the instruction restarts after the handler maps the
 * page, as Linux's demand paging and copy-on-write do), an interrupt between
 * any two x87 instructions whose handler saves, clobbers and restores the
 * x87 state (FXSAVE/FNINIT/.../FXRSTOR, FNSAVE/FRSTOR), and #NM under CR0.TS
 * with the state reloaded by the handler (lazy FPU switching).
 *
 * The oracle is the host CPU: the same x87 code, assembled for 64-bit mode,
 * runs natively with the target page PROT_NONE and a SIGSEGV handler that
 * makes it writable, so the host too takes the fault and restarts the
 * instruction. A fault or an interrupt is invisible to the x87 state on real
 * hardware, so the core's images must equal the host's (FIP/FCS/FOP/FDP/FDS
 * excepted: addresses and selectors differ between the two, and recent hosts
 * do not record FOP/FDP).
 */

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu_vm.h"
#include "test.h"

/* Real mode -> flat 32-bit protected mode, paging over the first 4 MiB (PD 0x20000, PT 0x21000). */
static const char *prelude =
    "bits 16\n"
    "  cli\n"
    "  lgdt [gdtr]\n"
    "  mov eax, cr0\n"
    "  or al, 1\n"
    "  mov cr0, eax\n"
    "  jmp 0x08:pm32\n"
    "gdt: dq 0\n"
    "  dq 0x00CF9A000000FFFF\n"
    "  dq 0x00CF92000000FFFF\n"
    "gdt_end:\n"
    "gdtr: dw gdt_end - gdt - 1\n"
    "  dd gdt\n"
    "idtr: dw 256*8-1\n"
    "  dd 0x8000\n"
    "%macro SETGATE 2\n"
    "  mov eax, %2\n"
    "  mov [0x8000 + %1*8], ax\n"
    "  mov word [0x8000 + %1*8 + 2], 0x08\n"
    "  mov word [0x8000 + %1*8 + 4], 0x8E00\n"
    "  shr eax, 16\n"
    "  mov [0x8000 + %1*8 + 6], ax\n"
    "%endmacro\n"
    "bits 32\n"
    "pm32:\n"
    "  mov ax, 0x10\n"
    "  mov ds, ax\n"
    "  mov es, ax\n"
    "  mov ss, ax\n"
    "  mov esp, 0x9000\n"
    "  lidt [idtr]\n"
    "  mov edi, 0x21000\n"
    "  mov eax, 0x003\n"
    "  mov ecx, 1024\n"
    "ptfill: stosd\n"
    "  add eax, 0x1000\n"
    "  loop ptfill\n"
    "  mov dword [0x20000], 0x21003\n"
    "  mov eax, 0x20000\n"
    "  mov cr3, eax\n"
    "  mov eax, cr0\n"
    "  or eax, 0x80000022\n" /* PG, NE, MP */
    "  and eax, ~0x0C\n"     /* TS, EM clear */
    "  mov cr0, eax\n"
    "  mov eax, cr4\n"
    "  or eax, 0x200\n" /* OSFXSR */
    "  mov cr4, eax\n";

/* Guest layout: T (the store target) at 0x200000, its second page 0x201000 not present; R at 0x300000. */
#define G_T 0x200000u
#define G_R 0x300000u
#define G_FXAREA 0x310000u /* the interrupt handler's save area */

/* Every physical register +0 (empty registers keep their contents, and FNSAVE shows them). */
#define CLEAN "  fninit\n  fldz\n  fldz\n  fldz\n  fldz\n  fldz\n  fldz\n  fldz\n  fldz\n  fninit\n"

/* ---- the host side ---- */

static int host_faults;

static void host_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    uintptr_t p = (uintptr_t)si->si_addr & ~(uintptr_t)0xFFF;
    host_faults++;
    if (mprotect((void *)p, 4096, PROT_READ | PROT_WRITE) != 0)
        _exit(99);
}

/* Assembles src with nasm into a fresh executable mapping. */
static void *host_asm(const char *src)
{
    char in[512], out[512], cmd[1200];
    snprintf(in, sizeof in, "%s/h.asm", test_tmpdir());
    snprintf(out, sizeof out, "%s/h.bin", test_tmpdir());
    FILE *f = fopen(in, "w");
    ASSERT(f);
    fputs(src, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "nasm -f bin -o %s %s", out, in);
    if (system(cmd) != 0)
        FAIL("nasm failed on the host program");
    void *code = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(code != MAP_FAILED);
    f = fopen(out, "rb");
    ASSERT(f);
    size_t n = fread(code, 1, 8192, f);
    fclose(f);
    ASSERT(n > 0);
    return code;
}

/*
 * Runs body natively: T = rdi (two pages, the second PROT_NONE when
 * fault_second), R = rbx. Copies out the 8 KiB at T and 4 KiB at R.
 */
static void host_run(const char *body, unsigned t_off, bool fault_second, uint8_t *t_out, uint8_t *r_out,
                     int *faults)
{
    char src[8192];
    snprintf(src, sizeof src,
             "bits 64\n%%define T rdi\n%%define R rbx\n"
             "  push rbx\n"
             "  sub rsp, 8\n"
             "  fnstcw [rsp]\n"
             "  mov rbx, rsi\n"
             CLEAN
             "%s\n"
             "  fninit\n"
             "  fldcw [rsp]\n"
             "  add rsp, 8\n"
             "  pop rbx\n"
             "  ret\n",
             body);
    void *code = host_asm(src);
    uint8_t *t = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(t != MAP_FAILED && r != MAP_FAILED);
    if (fault_second)
        ASSERT_EQ(mprotect(t + 4096, 4096, PROT_NONE), 0);
    struct sigaction sa = {0}, old;
    sa.sa_sigaction = host_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);
    host_faults = 0;
    ((void (*)(void *, void *))code)(t + t_off, r);
    sigaction(SIGSEGV, &old, NULL);
    *faults = host_faults;
    if (fault_second && !host_faults) /* the body never touched the second page */
        ASSERT_EQ(mprotect(t + 4096, 4096, PROT_READ | PROT_WRITE), 0);
    memcpy(t_out, t, 8192);
    memcpy(r_out, r, 4096);
    munmap(t, 8192);
    munmap(r, 4096);
    munmap(code, 8192);
}

/* ---- the guest side ---- */

/*
 * Runs body in the guest: T = edi (G_T + t_off; 0x201000 not present when
 * fault_second, mapped by the #PF handler), R = ebx; setup runs before, tail (more
 * guest code: handlers) is placed after the #PF handler. Copies out T and R.
 */
static void guest_run(struct vm *m, const char *setup, const char *body, const char *tail, unsigned t_off,
                      bool fault_second, uint8_t *t_out, uint8_t *r_out, int *faults)
{
    char src[16384];
    snprintf(src, sizeof src,
             "%s%%define T edi\n%%define R ebx\n"
             "  SETGATE 14, pf\n"
             "%s"
             "  %s\n"
             "  mov edi, 0x%x\n"
             "  mov ebx, 0x%x\n"
             CLEAN
             "%s\n"
             "  hlt\n"
             "pf: push eax\n"
             "  inc dword [0x600]\n"
             "  mov eax, cr2\n"
             "  shr eax, 12\n"
             "  or dword [0x21000 + eax*4], 1\n"
             "  mov eax, cr2\n"
             "  invlpg [eax]\n"
             "  pop eax\n"
             "  add esp, 4\n"
             "  iretd\n"
             "%s\n",
             prelude, setup ? setup : "", fault_second ? "and dword [0x21000 + 0x201*4], ~1" : "nop",
             G_T + t_off, G_R, body, tail ? tail : "");
    vm_asm(m, 0x1000, src);
    vm_start_real(m, 0x1000);
    ASSERT_EQ(vm_run(m, 100000000), CPU_EXIT_HALT);
    *faults = (int)vm_rd32(m, 0x600);
    memcpy(t_out, m->ram + G_T, 8192);
    memcpy(r_out, m->ram + G_R, 4096);
}

/* Byte ranges not compared, relative to an image. */
struct skip {
    unsigned off, len;
};

/* FIP FCS FOP FDP FDS in a 32-bit protected-mode FNSTENV/FNSAVE image. */
static const struct skip env32_skip[] = {{12, 16}};
/* FIP FCS FDP FDS in a 16-bit protected-mode FNSTENV/FNSAVE image. */
static const struct skip env16_skip[] = {{6, 8}};
/* FOP FIP FCS FDP FDS, MXCSR_MASK, the XMM area (host XMM registers hold the host's values). */
static const struct skip fx_skip[] = {{6, 18}, {28, 4}, {160, 352}};

static bool skipped(const struct skip *sk, size_t n, unsigned base, unsigned at)
{
    for (size_t i = 0; i < n; i++)
        if (at >= base + sk[i].off && at < base + sk[i].off + sk[i].len)
            return true;
    return false;
}

enum img { IMG_RAW, IMG_ENV, IMG_SAVE, IMG_ENV16, IMG_FX };

struct x87_case {
    const char *name;
    const char *body; /* ends with the state in an FNSAVE image at [R] */
    unsigned t_off;   /* T relative to its first page */
    enum img t_img;   /* what the body leaves at T */
    unsigned t_len;
};

/* Compares a region of guest and host memory; returns the first differing offset or -1. */
static int diff_region(const uint8_t *g, const uint8_t *h, unsigned len, unsigned img_at, enum img kind)
{
    for (unsigned i = 0; i < len; i++) {
        if (g[i] == h[i])
            continue;
        if ((kind == IMG_ENV || kind == IMG_SAVE) && skipped(env32_skip, 1, img_at, i))
            continue;
        if (kind == IMG_ENV16 && skipped(env16_skip, 1, img_at, i))
            continue;
        if (kind == IMG_FX && skipped(fx_skip, 3, img_at, i))
            continue;
        return (int)i;
    }
    return -1;
}

/* Compares a case's results; false with a description in why when they differ. */
static bool case_matches(const struct x87_case *c, const uint8_t *gt, const uint8_t *gr, const uint8_t *ht,
                         const uint8_t *hr, const char *what, char *why, size_t n)
{
    int d = diff_region(gr, hr, 108, 0, IMG_SAVE);
    if (d >= 0) {
        snprintf(why, n,
                 "%s (%s): the final FNSAVE image differs at byte %d: core %02x host %02x (FSW core %04x host "
                 "%04x, tags core %04x host %04x)",
                 c->name, what, d, gr[d], hr[d], gr[4] | gr[5] << 8, hr[4] | hr[5] << 8, gr[8] | gr[9] << 8,
                 hr[8] | hr[9] << 8);
        return false;
    }
    d = diff_region(gr + 0x200, hr + 0x200, 0x200, 0, IMG_RAW);
    if (d >= 0) {
        snprintf(why, n, "%s (%s): the stored values at R+0x200 differ at byte %d: core %02x host %02x", c->name,
                 what, d, gr[0x200 + d], hr[0x200 + d]);
        return false;
    }
    if (c->t_len) {
        d = diff_region(gt + c->t_off, ht + c->t_off, c->t_len, 0, c->t_img);
        if (d >= 0) {
            snprintf(why, n, "%s (%s): the image at T+%#x differs at byte %d: core %02x host %02x", c->name,
                     what, c->t_off, d, gt[c->t_off + d], ht[c->t_off + d]);
            return false;
        }
    }
    return true;
}

static void compare_case(const struct x87_case *c, const uint8_t *gt, const uint8_t *gr, const uint8_t *ht,
                         const uint8_t *hr, const char *what)
{
    char why[512];
    if (!case_matches(c, gt, gr, ht, hr, what, why, sizeof why))
        FAIL("%s", why);
}

/* A stack of five with ST(5..7) empty, OE and UE unmasked in FCW; every store form then reads it back. */
#define STACK5 "  fninit\n  mov word [R+0x1F0], 0x0367\n  fldcw [R+0x1F0]\n" \
               "  fld1\n  fldpi\n  fldl2e\n  fldz\n  fldlg2\n"

static const struct x87_case store_cases[] = {
    {"fstp m64", STACK5 "  fstp qword [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 8},
    {"fstp m64 across the page end", STACK5 "  fstp qword [T]\n  fnsave [R]\n", 0xFFC, IMG_RAW, 8},
    {"fst m32", STACK5 "  fst dword [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 4},
    {"fstp m80 across the page end", STACK5 "  fstp tword [T]\n  fnsave [R]\n", 0xFFA, IMG_RAW, 10},
    {"fistp m32", STACK5 "  fmul st0, st3\n  fistp dword [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 4},
    {"fistp m64", STACK5 "  fxch st3\n  fistp qword [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 8},
    {"fistp m16", STACK5 "  fxch st3\n  fistp word [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 2},
    {"fisttp m32", STACK5 "  fxch st3\n  fisttp dword [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 4},
    {"fbstp", STACK5 "  fxch st3\n  fbstp [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 10},
    {"fnstsw m16", STACK5 "  fnstsw [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 2},
    {"fnstcw m16", STACK5 "  fnstcw [T]\n  fnsave [R]\n", 0x1000, IMG_RAW, 2},
    {"fnstenv", STACK5 "  fnstenv [T]\n  fnsave [R]\n", 0x1000, IMG_ENV, 28},
    {"fnstenv across the page end", STACK5 "  fnstenv [T]\n  fnsave [R]\n", 0xFF0, IMG_ENV, 28},
    {"fnsave", STACK5 "  fnsave [T]\n  fld1\n  frstor [T]\n  fnsave [R]\n", 0x1000, IMG_SAVE, 108},
    {"fnsave across the page end", STACK5 "  fnsave [T]\n  frstor [T]\n  fnsave [R]\n", 0xFC0, IMG_SAVE, 108},
    {"o16 fnstenv", STACK5 "  o16 fnstenv [T]\n  fnsave [R]\n", 0x1000, IMG_ENV16, 14},
    {"o16 fnsave, o16 frstor", STACK5 "  o16 fnsave [T]\n  fld1\n  o16 frstor [T]\n  fnsave [R]\n", 0xFE0,
     IMG_ENV16, 94},
    {"fxsave", STACK5 "  fxsave [T]\n  fninit\n  fxrstor [T]\n  fnsave [R]\n", 0x1000, IMG_FX, 512},
    {"fxsave across the page end", STACK5 "  fxsave [T]\n  fninit\n  fxrstor [T]\n  fnsave [R]\n", 0xF00,
     IMG_FX, 512},
    {"movq m64, mm across the page end", STACK5 "  movq [T], mm3\n  fnsave [R]\n", 0xFFC, IMG_RAW, 8},
    {"fstp m64, then a stack underflow with IE unmasked",
     "  fninit\n  mov word [R+0x1F0], 0x0366\n  fldcw [R+0x1F0]\n  fld1\n  fstp qword [T]\n  fstp qword [T]\n"
     "  fnsave [R]\n",
     0x1000, IMG_RAW, 8},
    {"fstp m64 on an empty stack with IE unmasked",
     "  fninit\n  mov word [R+0x1F0], 0x0366\n  fldcw [R+0x1F0]\n  fstp qword [T]\n  fnsave [R]\n", 0x1000,
     IMG_RAW, 8},
};

/* A store the CPU suppresses (unmasked IE on an empty stack): whether it still probes
 * its page, and so takes the #PF, differs between host CPUs (the hosts of earlier runs
 * did; an Intel Xeon under a hypervisor does not). The state and memory must agree. */
static bool probe_varies(const struct x87_case *c)
{
    return strcmp(c->name, "fstp m64 on an empty stack with IE unmasked") == 0;
}

TEST(x87_store_page_fault_restarts_as_on_the_host)
{
    static uint8_t gt[8192], gr[4096], ht[8192], hr[4096];
    size_t n = sizeof store_cases / sizeof store_cases[0];
    int bad = 0;
    char first[512] = "";
    for (size_t i = 0; i < n; i++) {
        const struct x87_case *c = &store_cases[i];
        int gf, hf;
        host_run(c->body, c->t_off, true, ht, hr, &hf);
        struct vm m;
        vm_init(&m, 4 << 20);
        guest_run(&m, NULL, c->body, NULL, c->t_off, true, gt, gr, &gf);
        vm_free(&m);
        char why[512];
        bool faults_differ = gf != hf && !(probe_varies(c) && gf <= 1 && hf <= 1);
        if (faults_differ)
            snprintf(why, sizeof why, "%s: the core took %d page faults, the host %d", c->name, gf, hf);
        if (faults_differ || !case_matches(c, gt, gr, ht, hr, "page fault", why, sizeof why)) {
            fprintf(stderr, "  %s\n", why);
            if (!bad++)
                snprintf(first, sizeof first, "%s", why);
        }
    }
    if (bad)
        FAIL("%d of %zu cases differ from the host; the first: %s", bad, n, first);
}

/*
 * An x87 sequence with an interrupt before each of its instructions in
 * turn: the handler saves the state (FXSAVE or FNSAVE), scrambles it
 * (FNINIT, loads, FLDCW), restores it and returns. The results must equal
 * the host's run of the same sequence without interrupts.
 */
static const char *irq_body =
    "  fninit\n"
    "  mov dword [R+0x200], 0x40490fdb\n" /* pi as a float */
    "  mov dword [R+0x204], 3\n"
    "  fld1\n"
    "  fld dword [R+0x200]\n"
    "  fidiv dword [R+0x204]\n"
    "  fldl2t\n"
    "  fmulp st1, st0\n"
    "  fld st1\n"
    "  fsqrt\n"
    "  fxch st2\n"
    "  faddp st1, st0\n"
    "  fst qword [R+0x210]\n"
    "  fdiv st0, st1\n"
    "  fstp qword [R+0x218]\n"
    "  fld1\n"
    "  fchs\n"
    "  fsqrt\n" /* IE, masked: the default NaN */
    "  fstp tword [R+0x220]\n"
    "  fnstsw ax\n"
    "  mov [R+0x230], ax\n"
    "  fnsave [R]\n";

static const char *irq_handlers =
    "isr_fx: fxsave [0x310000]\n"
    "  fninit\n"
    "  fldpi\n  fldpi\n  fld1\n  fldz\n  fdiv st0, st0\n"
    "  mov word [0x310400], 0x0040\n"
    "  fldcw [0x310400]\n"
    "  fxrstor [0x310000]\n"
    "  iretd\n"
    "isr_fs: fnsave [0x310200]\n"
    "  fld1\n  fldl2e\n  fsin\n"
    "  frstor [0x310200]\n"
    "  iretd\n";

TEST(x87_interrupted_between_any_two_instructions)
{
    static uint8_t gt[8192], gr[4096], ht[8192], hr[4096];
    struct x87_case c = {"irq", irq_body, 0, IMG_RAW, 0};
    int hf, gf;
    /* the core takes an interrupt at the end of a block: a jump after each instruction ends one there */
    char body[4096] = "";
    for (const char *p = irq_body, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
        size_t len = strlen(body);
        snprintf(body + len, sizeof body - len, "%.*s\n  jmp short $+2\n", (int)(nl - p), p);
    }
    c.body = body;
    host_run(body, 0, false, ht, hr, &hf);
    int delivered = 0;
    for (int handler = 0; handler < 2; handler++) {
        /* count the instructions of the uninterrupted run first */
        struct vm m;
        vm_init(&m, 4 << 20);
        const char *setup = handler ? "  SETGATE 0x20, isr_fs\n" : "  SETGATE 0x20, isr_fx\n";
        guest_run(&m, setup, body, irq_handlers, 0, false, gt, gr, &gf);
        compare_case(&c, gt, gr, ht, hr, "no interrupt");
        uint64_t total = cpu_insn_count(m.cpu);
        vm_free(&m);
        vm_init(&m, 4 << 20);
        guest_run(&m, setup, "", irq_handlers, 0, false, gt, gr, &gf);
        uint64_t before = cpu_insn_count(m.cpu);
        vm_free(&m);
        ASSERT(before > 4 && total > before + 20);
        for (uint64_t stop = before - 4; stop < total + 4; stop++) {
            vm_init(&m, 4 << 20);
            char src[16384];
            snprintf(src, sizeof src,
                     "%s%%define T edi\n%%define R ebx\n  SETGATE 14, pf\n%s  mov edi, 0x%x\n  mov ebx, 0x%x\n"
                     "  sti\n" CLEAN "%s\n  cli\n  hlt\npf: hlt\n%s\n",
                     prelude, setup, G_T, G_R, body, irq_handlers);
            vm_asm(&m, 0x1000, src);
            vm_start_real(&m, 0x1000);
            /* deterministic clock, 1 ns per instruction: stop there, raise the line, go on */
            int64_t t0 = clock_now_ns(m.clock);
            enum cpu_exit e = cpu_run(m.cpu, t0 + (int64_t)stop);
            if (e == CPU_EXIT_HALT) {
                vm_free(&m);
                break;
            }
            m.next_vector = 0x20;
            cpu_set_intr(m.cpu, 1);
            ASSERT_EQ(vm_run(&m, 100000000), CPU_EXIT_HALT);
            char what[128];
            snprintf(what, sizeof what, "%s handler, line raised after %llu instructions",
                     handler ? "FNSAVE/FRSTOR" : "FXSAVE/FXRSTOR", (unsigned long long)stop);
            compare_case(&c, m.ram + G_T, m.ram + G_R, ht, hr, what);
            delivered += m.acks;
            vm_free(&m);
        }
    }
    /* every instruction of the body had an interrupt before it, under both handlers */
    if (delivered < 2 * 20)
        FAIL("the line was taken %d times in the two sweeps, not before each instruction", delivered);
}

/*
 * Lazy FPU switching: CR0.TS set before the sequence, and after each of
 * its x87 instructions the #NM handler runs CLTS, reloads the state it
 * saved (FXRSTOR) and returns; then the sequence sets TS again (as a
 * context switch would) after saving with FXSAVE. The results must equal
 * the host's run without any of it.
 */
TEST(x87_lazy_switch_with_ts_and_nm)
{
    static uint8_t gt[8192], gr[4096], ht[8192], hr[4096];
    static const char *body_plain =
        "  fninit\n  fld1\n  fldpi\n  fdiv st0, st1\n  fldl2e\n  fmulp st1, st0\n  fstp qword [R+0x200]\n"
        "  fldlg2\n  fxch st1\n  fnsave [R]\n";
    /* The same sequence with a "context switch" (FXSAVE, set TS) after each instruction. */
    static const char *body_ts =
        "%macro SW 0\n  fxsave [0x310000]\n  mov eax, cr0\n  or eax, 8\n  mov cr0, eax\n%endmacro\n"
        "  fninit\n SW\n  fld1\n SW\n  fldpi\n SW\n  fdiv st0, st1\n SW\n  fldl2e\n SW\n  fmulp st1, st0\n SW\n"
        "  fstp qword [R+0x200]\n SW\n  fldlg2\n SW\n  fxch st1\n SW\n  fnsave [R]\n";
    static const char *nm_handler =
        "nm: clts\n  inc dword [0x604]\n  fninit\n  fxrstor [0x310000]\n  iretd\n";
    struct x87_case c = {"lazy", body_plain, 0, IMG_RAW, 0};
    int hf, gf;
    host_run(body_plain, 0, false, ht, hr, &hf);
    struct vm m;
    vm_init(&m, 4 << 20);
    guest_run(&m, "  SETGATE 7, nm\n", body_ts, nm_handler, 0, false, gt, gr, &gf);
    ASSERT_EQ(vm_rd32(&m, 0x604), 9);
    compare_case(&c, gt, gr, ht, hr, "#NM after every instruction");
    vm_free(&m);
}
