/*
 * The native side of the 64-bit differential CPU test: an x86-64 Linux
 * program that reads struct cd64_in records on stdin, runs each case's code
 * on the host CPU at CD64_CODE from the given GPRs and RFLAGS with the window
 * at CD64_WIN, and writes a struct cd64_out per case on stdout.
 *
 * A prologue (run_native) loads RFLAGS and the sixteen GPRs from the control
 * page, zeroes XMM0..15 (the core starts each case with them zero) and jumps
 * to the code; an epilogue appended after the case's bytes
 * stores the GPRs (RSP included) and RFLAGS back with absolute addresses and
 * returns to C. A fault (SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGBUS) is caught
 * on an alternate stack and reported from the signal context.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "cpudiff64.h"
#include "runner_faults.h"

#define CTL 0x30200000u
/* control page: in_regs 0..127, in_rflags 128, host rsp 136, code 144, back 152,
 * out_regs 256..383, out_rflags 384 */
#define S_(x) #x
#define S(x) S_(x)

void run_native(void);
void run_native_back(void);
__asm__(".text\n"
        ".globl run_native\n"
        "run_native:\n"
        "  push %rbp\n  push %rbx\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  movq %rsp, " S(CTL) "+136\n"
        "  movq $" S(CTL) "+128, %rsp\n"
        "  popfq\n"
        "  movq " S(CTL) "+0, %rax\n  movq " S(CTL) "+8, %rcx\n  movq " S(CTL) "+16, %rdx\n"
        "  movq " S(CTL) "+24, %rbx\n  movq " S(CTL) "+40, %rbp\n  movq " S(CTL) "+48, %rsi\n"
        "  movq " S(CTL) "+56, %rdi\n  movq " S(CTL) "+64, %r8\n  movq " S(CTL) "+72, %r9\n"
        "  movq " S(CTL) "+80, %r10\n  movq " S(CTL) "+88, %r11\n  movq " S(CTL) "+96, %r12\n"
        "  movq " S(CTL) "+104, %r13\n  movq " S(CTL) "+112, %r14\n  movq " S(CTL) "+120, %r15\n"
        "  movq " S(CTL) "+32, %rsp\n"
        "  pxor %xmm0, %xmm0\n  pxor %xmm1, %xmm1\n  pxor %xmm2, %xmm2\n  pxor %xmm3, %xmm3\n"
        "  pxor %xmm4, %xmm4\n  pxor %xmm5, %xmm5\n  pxor %xmm6, %xmm6\n  pxor %xmm7, %xmm7\n"
        "  pxor %xmm8, %xmm8\n  pxor %xmm9, %xmm9\n  pxor %xmm10, %xmm10\n  pxor %xmm11, %xmm11\n"
        "  pxor %xmm12, %xmm12\n  pxor %xmm13, %xmm13\n  pxor %xmm14, %xmm14\n  pxor %xmm15, %xmm15\n"
        "  jmp *" S(CTL) "+144\n"
        ".globl run_native_back\n"
        "run_native_back:\n"
        "  cld\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbx\n  pop %rbp\n"
        "  ret\n");

static sigjmp_buf jb;
static struct cd64_out *cur;

static size_t put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
    return 4;
}

static size_t epilogue(uint8_t *p)
{
    size_t n = 0;
    for (unsigned r = 0; r < 16; r++) { /* mov [CTL+256+8r], reg */
        p[n++] = (uint8_t)(0x48 | (r >> 3) << 2);
        p[n++] = 0x89, p[n++] = (uint8_t)(0x04 | (r & 7) << 3), p[n++] = 0x25;
        n += put32(p + n, CTL + 256 + 8 * r);
    }
    p[n++] = 0x48, p[n++] = 0xC7, p[n++] = 0xC4, n += put32(p + n, CTL + 392); /* mov rsp, imm */
    p[n++] = 0x9C;                                                          /* pushfq */
    p[n++] = 0x48, p[n++] = 0x8B, p[n++] = 0x24, p[n++] = 0x25, n += put32(p + n, CTL + 136);
    p[n++] = 0xFF, p[n++] = 0x24, p[n++] = 0x25, n += put32(p + n, CTL + 152); /* jmp [back] */
    return n;
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    greg_t *g = uc->uc_mcontext.gregs;
    static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                  REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                  REG_R12, REG_R13, REG_R14, REG_R15};
    for (int i = 0; i < 16; i++)
        cur->gpr[i] = (uint64_t)g[order[i]];
    cur->rflags = (uint64_t)g[REG_EFL] & ~0x10000ull;
    cur->rip = (uint64_t)g[REG_RIP];
    cur->vector = (int32_t)g[REG_TRAPNO];
    cur->err = (uint32_t)g[REG_ERR];
    (void)sig;
    (void)si;
    siglongjmp(jb, 1);
}

static int setup(void)
{
    void *w = mmap((void *)(uintptr_t)CD64_WIN, CD64_WIN_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *k = mmap((void *)(uintptr_t)CD64_CODE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    void *c = mmap((void *)(uintptr_t)CTL, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (w != (void *)(uintptr_t)CD64_WIN || k != (void *)(uintptr_t)CD64_CODE ||
        c != (void *)(uintptr_t)CTL) {
        perror("runner64: mmap at a fixed address");
        return -1;
    }
    return runner_catch_faults(on_fault);
}

static void run_case(const struct cd64_in *in, struct cd64_out *out)
{
    uint64_t *ctl = (uint64_t *)(uintptr_t)CTL;
    uint8_t *code = (uint8_t *)(uintptr_t)CD64_CODE;
    cd64_fill(in, (uint8_t *)(uintptr_t)CD64_WIN);
    memcpy(code, in->code, in->code_len);
    epilogue(code + in->code_len);
    memcpy(ctl, in->gpr, 128);
    ctl[16] = in->rflags;
    ctl[18] = CD64_CODE;
    ctl[19] = (uint64_t)(uintptr_t)run_native_back;
    memset(out, 0, sizeof *out);
    cur = out;
    if (sigsetjmp(jb, 1) == 0) {
        run_native();
        memcpy(out->gpr, ctl + 32, 128);
        out->rflags = ctl[48];
        out->rip = CD64_CODE + in->code_len;
        out->vector = -1;
    }
    memcpy(out->mem, (void *)(uintptr_t)CD64_WIN, CD64_WIN_SIZE);
}

int main(void)
{
    if (setup() < 0)
        return 1;
    static struct cd64_in in;
    static struct cd64_out out;
    while (fread(&in, sizeof in, 1, stdin) == 1) {
        if (in.code_len > CD64_CODE_MAX)
            return 2;
        run_case(&in, &out);
        if (fwrite(&out, sizeof out, 1, stdout) != 1 || fflush(stdout) != 0)
            return 1;
    }
    return 0;
}
