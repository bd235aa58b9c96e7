/*
 * The native side of the differential CPU test: a 32-bit Linux program
 * (gcc -m32) that reads struct cd_in records on stdin, runs each case's code
 * on the host CPU at CD_CODE from the given GPRs and EFLAGS with the memory
 * window at CD_WIN, and writes a struct cd_out per case on stdout.
 *
 * The code runs between a prologue (run_native, below) that loads all eight
 * GPRs and EFLAGS from the control page and an epilogue appended after the
 * case's bytes that stores them back (ESP first, then PUSHFD/PUSHAD onto the
 * control page, FNSTSW/FNSTCW, FXSAVE for MXCSR and the XMM registers, then
 * LDMXCSR of the default 0x1F80 for the C code) and returns to C. A fault
 * (SIGFPE, SIGSEGV, SIGILL, SIGTRAP, SIGBUS) is caught on an alternate
 * stack; the registers, vector (trapno: 19 for a SIMD floating-point
 * exception), error code, FCW/FSW, MXCSR and XMM registers come from the
 * signal context (the kernel's FXSR-format frame).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "cpudiff.h"
#include "runner_faults.h"

/* The control page: offsets are used by the asm prologue and the epilogue bytes. */
struct ctl {
    uint32_t in_regs[8];  /*  0: POPAD order EDI ESI EBP (ESP) EBX EDX ECX EAX */
    uint32_t in_eflags;   /* 32 */
    uint32_t in_esp;      /* 36 */
    uint32_t host_esp;    /* 40 */
    uint32_t back;        /* 44: address of run_native_back */
    uint32_t out_esp;     /* 48 */
    uint32_t out_regs[8]; /* 52: PUSHAD order */
    uint32_t out_eflags;  /* 84 */
    uint16_t fcw, fsw;    /* 88, 90 */
    uint32_t code;        /* 92: CD_CODE, for the indirect jump */
    uint16_t out_seg[6];  /* 96: ES CS SS DS FS GS */
    struct cd_out *out;
    sigjmp_buf jb;
};

#define CTL_FXSAVE 0x400 /* 512-byte FXSAVE area, 16-byte aligned */
#define CTL_MXCSR0 0x600 /* the default MXCSR the epilogue loads back */
_Static_assert(sizeof(struct ctl) <= CTL_FXSAVE, "control page layout");

#define S_(x) #x
#define S(x) S_(x)

void run_native(void);
void run_native_back(void);
__asm__(".text\n"
        ".globl run_native\n"
        "run_native:\n"
        "  pushl %ebp\n  pushl %ebx\n  pushl %esi\n  pushl %edi\n"
        "  movl %esp, " S(CD_CTL) "+40\n"
        "  fninit\n"
        "  .rept 8\n  fldz\n  .endr\n" /* empty registers hold +0, as in the core's set state */
        "  fninit\n"
        "  .irp x, 0, 1, 2, 3, 4, 5, 6, 7\n  xorps %xmm\\x, %xmm\\x\n  .endr\n" /* as the core's */
        "  ldmxcsr " S(CD_CTL) "+0x600\n"
        "  movl $" S(CD_CTL) ", %esp\n"
        "  popal\n"
        "  popfl\n"
        "  movl " S(CD_CTL) "+36, %esp\n"
        "  jmp *" S(CD_CTL) "+92\n"
        ".globl run_native_back\n"
        "run_native_back:\n"
        "  cld\n"
        "  popl %edi\n  popl %esi\n  popl %ebx\n  popl %ebp\n"
        "  ret\n");

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* The epilogue after the case's code; returns its length. Only SS is sure to be
 * valid (the case may have loaded DS, ES, FS, GS), so it stores through SS and
 * reloads the others before touching memory through DS. */
static size_t epilogue(uint8_t *p)
{
    size_t n = 0;
    p[n++] = 0x36, p[n++] = 0x89, p[n++] = 0x25, put32(p + n, CD_CTL + 48), n += 4; /* [out_esp] */
    p[n++] = 0xBC, put32(p + n, CD_CTL + 88), n += 4; /* mov esp, &out_eflags+4 */
    p[n++] = 0x9C;                                    /* pushfd */
    p[n++] = 0x60;                                    /* pushad */
    for (unsigned sr = 0; sr < 6; sr++) {             /* mov ss:[out_seg+2*sr], sreg */
        p[n++] = 0x36, p[n++] = 0x8C, p[n++] = (uint8_t)(sr << 3 | 5);
        put32(p + n, CD_CTL + 96 + 2 * sr), n += 4;
    }
    p[n++] = 0x36, p[n++] = 0x8B, p[n++] = 0x25, put32(p + n, CD_CTL + 40), n += 4; /* host esp */
    static const uint8_t reload[] = {0x6A, CD_SEL_DATA, 0x1F, 0x6A, CD_SEL_DATA, 0x07, 0x6A, 0,
                                     0x0F, 0xA1, 0x6A, CD_SEL_TLS, 0x0F, 0xA9};
    memcpy(p + n, reload, sizeof reload); /* ds es fs gs */
    n += sizeof reload;
    p[n++] = 0xDD, p[n++] = 0x3D, put32(p + n, CD_CTL + 90), n += 4; /* fnstsw [fsw] */
    p[n++] = 0xD9, p[n++] = 0x3D, put32(p + n, CD_CTL + 88), n += 4; /* fnstcw [fcw] */
    p[n++] = 0x0F, p[n++] = 0xAE, p[n++] = 0x05, put32(p + n, CD_CTL + CTL_FXSAVE), n += 4;
    p[n++] = 0x0F, p[n++] = 0xAE, p[n++] = 0x15, put32(p + n, CD_CTL + CTL_MXCSR0), n += 4;
    p[n++] = 0xFF, p[n++] = 0x25, put32(p + n, CD_CTL + 44), n += 4; /* jmp [back] */
    return n;
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
    /* the case may have left FS/GS anywhere; libc needs its TLS selector back first */
    __asm__ volatile("movw %w0, %%gs\n\tmovw %w1, %%fs" : : "r"(CD_SEL_TLS), "r"(0));
    struct ctl *c = (struct ctl *)(uintptr_t)CD_CTL;
    ucontext_t *uc = uc_;
    greg_t *g = uc->uc_mcontext.gregs;
    static const int sregs[6] = {REG_ES, REG_CS, REG_SS, REG_DS, REG_FS, REG_GS};
    for (int i = 0; i < 6; i++)
        c->out->seg[i] = (uint16_t)g[sregs[i]];
    static const int order[8] = {REG_EAX, REG_ECX, REG_EDX, REG_EBX,
                                 REG_UESP, REG_EBP, REG_ESI, REG_EDI};
    for (int i = 0; i < 8; i++)
        c->out->gpr[i] = (uint32_t)g[order[i]];
    c->out->eflags = (uint32_t)g[REG_EFL];
    c->out->eip = (uint32_t)g[REG_EIP];
    c->out->vector = (int32_t)g[REG_TRAPNO];
    c->out->err = (uint32_t)g[REG_ERR];
    if (uc->uc_mcontext.fpregs) {
        const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
        uint16_t magic;
        c->out->fcw = (uint16_t)uc->uc_mcontext.fpregs->cw;
        c->out->fsw = (uint16_t)uc->uc_mcontext.fpregs->sw;
        memcpy(&magic, fp + 110, 2); /* 0: the FXSAVE image follows at 112 */
        if (magic == 0) {
            memcpy(&c->out->mxcsr, fp + 112 + 24, 4);
            memcpy(c->out->xmm, fp + 112 + 160, sizeof c->out->xmm);
        }
    }
    (void)sig;
    (void)si;
    siglongjmp(c->jb, 1);
}

static int setup(void)
{
    void *w = mmap((void *)(uintptr_t)CD_WIN, CD_WIN_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *k = mmap((void *)(uintptr_t)CD_CODE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *c = mmap((void *)(uintptr_t)CD_CTL, 8192, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (w != (void *)(uintptr_t)CD_WIN || k != (void *)(uintptr_t)CD_CODE ||
        c != (void *)(uintptr_t)CD_CTL) {
        perror("runner32: mmap at a fixed address");
        return -1;
    }
    return runner_catch_faults(on_fault);
}

static void run_case(const struct cd_in *in, struct cd_out *out)
{
    struct ctl *c = (struct ctl *)(uintptr_t)CD_CTL;
    uint8_t *code = (uint8_t *)(uintptr_t)CD_CODE;
    cd_fill(in, (uint8_t *)(uintptr_t)CD_WIN);
    memcpy(code, in->code, in->code_len);
    epilogue(code + in->code_len);
    static const int popad[8] = {7, 6, 5, 4, 3, 2, 1, 0};
    for (int i = 0; i < 8; i++)
        c->in_regs[i] = in->gpr[popad[i]];
    c->in_eflags = in->eflags;
    c->in_esp = in->gpr[4];
    c->back = (uint32_t)(uintptr_t)run_native_back;
    c->code = CD_CODE;
    c->out = out;
    uint32_t mxcsr0 = 0x1F80;
    memcpy((uint8_t *)c + CTL_MXCSR0, &mxcsr0, 4);
    memset(out, 0, sizeof *out);
    if (sigsetjmp(c->jb, 1) == 0) {
        run_native();
        for (int i = 0; i < 8; i++)
            out->gpr[i] = c->out_regs[popad[i]];
        out->gpr[4] = c->out_esp;
        out->eflags = c->out_eflags;
        out->eip = CD_CODE + in->code_len;
        out->vector = -1;
        out->fcw = c->fcw;
        out->fsw = c->fsw;
        memcpy(out->seg, c->out_seg, sizeof out->seg);
        const uint8_t *fx = (const uint8_t *)(uintptr_t)(CD_CTL + CTL_FXSAVE);
        memcpy(&out->mxcsr, fx + 24, 4);
        memcpy(out->xmm, fx + 160, sizeof out->xmm);
    }
    out->eflags &= ~0x10000u; /* RF, set in a fault's saved context */
    memcpy(out->mem, (void *)(uintptr_t)CD_WIN, CD_WIN_SIZE);
}

int main(void)
{
    uint16_t ds, gs;
    __asm__("movw %%ds, %0\n\tmovw %%gs, %1" : "=r"(ds), "=r"(gs));
    if (ds != CD_SEL_DATA || gs != CD_SEL_TLS) {
        fprintf(stderr, "runner32: selectors ds=%x gs=%x, not those of x86-64 Linux\n", ds, gs);
        return 3;
    }
    if (setup() < 0)
        return 1;
    static struct cd_in in;
    static struct cd_out out;
    while (fread(&in, sizeof in, 1, stdin) == 1) {
        if (in.code_len > CD_CODE_MAX)
            return 2;
        run_case(&in, &out);
        if (fwrite(&out, sizeof out, 1, stdout) != 1 || fflush(stdout) != 0)
            return 1;
    }
    return 0;
}
