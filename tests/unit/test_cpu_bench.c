/*
 * Speed of the software core on a CPU-bound 32-bit loop (ALU, memory
 * read-modify-write, a taken branch): checks the loop's result and prints
 * the rate in MIPS on stderr (a measurement, not a timed assertion).
 */
#include "cpu_vm.h"

/* From real mode at 0x1000 to flat 32-bit protected mode, ESP 0x9000. */
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
    "bits 32\n"                                                                                    \
    "pm32: mov ax, 0x10\n"                                                                         \
    "  mov ds, ax\n"                                                                               \
    "  mov ss, ax\n"                                                                               \
    "  mov esp, 0x9000\n"

TEST(loop_mips)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000,
           PM32_ENTRY "  mov ecx, 5000000\n"
                      "  xor eax, eax\n"
                      "  xor edx, edx\n"
                      "l: add eax, ecx\n"
                      "  xor edx, eax\n"
                      "  add [0x2000], edx\n"
                      "  dec ecx\n"
                      "  jnz l\n"
                      "  hlt\n");
    vm_start_real(&m, 0x1000);
    int64_t t0 = clock_host_ns();
    ASSERT_EQ(vm_run(&m, 1000000000), CPU_EXIT_HALT);
    int64_t dt = clock_host_ns() - t0;
    uint32_t eax = 0, edx = 0, mem = 0;
    for (uint32_t c = 5000000; c; c--) {
        eax += c;
        edx ^= eax;
        mem += edx;
    }
    ASSERT_EQ(vm_reg(&m, GPR_AX), eax);
    ASSERT_EQ(vm_rd32(&m, 0x2000), mem);
    uint64_t n = cpu_insn_count(m.cpu);
    fprintf(stderr, "soft core: %llu instructions in %.3f s = %.1f MIPS\n", (unsigned long long)n,
            (double)dt / 1e9, (double)n * 1e3 / (double)dt);
    vm_free(&m);
}

/*
 * The inner loop of Linux's generic mpihelp_submul_1 (32x32->64 multiply by
 * 16-bit halves, then subtract with borrow), which the kernel's RSA/DH
 * self-tests run for seconds at boot: loads and stores through EBP, MOVZX,
 * shifts, IMUL, CMOVcc from memory, SETcc, ADC. Checks the result words and
 * the returned borrow against the same arithmetic in C; prints MIPS.
 */
#define MPI_WORDS 64
#define MPI_ROUNDS 20000

static uint32_t mpi_submul_c(uint32_t *res, const uint32_t *s1, int n, uint32_t limb)
{
    uint32_t borrow = 0;
    for (int i = 0; i < n; i++) {
        uint64_t p = (uint64_t)s1[i] * limb + borrow;
        uint32_t lo = (uint32_t)p, r = res[i];
        borrow = (uint32_t)(p >> 32) + (r < lo);
        res[i] = r - lo;
    }
    return borrow;
}

TEST(mpi_loop_mips)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    /* s1 at 0x10000, res at 0x20000 (MPI_WORDS each), limb 0xDEADBEEF; the
     * rounds repeat the call on the evolving res (the borrow is summed at
     * 0x3000). */
    vm_asm(&m, 0x1000,
           PM32_ENTRY "  mov dword [0x3004], 20000\n"
                      "round:\n"
                      "  push dword 0xDEADBEEF\n"
                      "  mov eax, 0x20000\n"
                      "  mov edx, 0x10000\n"
                      "  mov ecx, 64\n"
                      "  call submul\n"
                      "  add esp, 4\n"
                      "  add [0x3000], eax\n"
                      "  dec dword [0x3004]\n"
                      "  jnz round\n"
                      "  hlt\n"
                      /* eax = res, edx = s1 (both past their end after the
                       * index setup), ecx = n, [ebp+8] = limb */
                      "submul:\n"
                      "  push ebp\n"
                      "  mov ebp, esp\n"
                      "  push edi\n"
                      "  mov edi, ecx\n"
                      "  push esi\n"
                      "  neg edi\n"
                      "  push ebx\n"
                      "  sub esp, 0x1c\n"
                      "  lea ebx, [eax+ecx*4]\n"
                      "  mov [ebp-0x24], ebx\n"
                      "  mov eax, [ebp+8]\n"
                      "  mov [ebp-0x10], edi\n"
                      "  mov esi, eax\n"
                      "  movzx eax, ax\n"
                      "  mov [ebp-0x20], eax\n"
                      "  lea eax, [ecx*4]\n"
                      "  shr esi, 0x10\n"
                      "  mov [ebp-0x1c], eax\n"
                      "  add eax, edx\n"
                      "  mov [ebp-0x28], eax\n"
                      "  mov [ebp-0x18], esi\n"
                      "  xor esi, esi\n"
                      "  mov dword [ebp-0x1c], 0\n"
                      "l: mov ecx, [ebp-0x10]\n"
                      "  mov eax, [ebp-0x28]\n"
                      "  mov ebx, [ebp-0x20]\n"
                      "  mov edi, [ebp-0x18]\n"
                      "  mov edx, [eax+ecx*4]\n"
                      "  mov eax, ebx\n"
                      "  movzx ecx, dx\n"
                      "  shr edx, 0x10\n"
                      "  imul eax, ecx\n"
                      "  imul ebx, edx\n"
                      "  imul ecx, edi\n"
                      "  imul edx, edi\n"
                      "  mov edi, eax\n"
                      "  movzx eax, ax\n"
                      "  shr edi, 0x10\n"
                      "  add ecx, ebx\n"
                      "  mov [ebp-0x14], edx\n"
                      "  mov edx, edi\n"
                      "  add edx, ecx\n"
                      "  mov ecx, [ebp-0x14]\n"
                      "  add ecx, 0x10000\n"
                      "  cmp edx, ebx\n"
                      "  mov edi, ecx\n"
                      "  mov ecx, edx\n"
                      "  cmovae edi, [ebp-0x14]\n"
                      "  add eax, esi\n"
                      "  shl ecx, 0x10\n"
                      "  xor ebx, ebx\n"
                      "  add eax, ecx\n"
                      "  mov ecx, [ebp-0x1c]\n"
                      "  cmp eax, esi\n"
                      "  mov esi, edx\n"
                      "  mov edx, [ebp-0x24]\n"
                      "  setb bl\n"
                      "  shr esi, 0x10\n"
                      "  add edx, ecx\n"
                      "  mov ecx, [ebp-0x10]\n"
                      "  mov ecx, [edx+ecx*4]\n"
                      "  sub ecx, eax\n"
                      "  mov eax, [ebp-0x10]\n"
                      "  adc ebx, esi\n"
                      "  mov [edx+eax*4], ecx\n"
                      "  mov ecx, eax\n"
                      "  lea esi, [ebx+edi*1]\n"
                      "  add ecx, 0x1\n"
                      "  mov [ebp-0x10], ecx\n"
                      "  jne l\n"
                      "  add esp, 0x1c\n"
                      "  mov eax, esi\n"
                      "  pop ebx\n"
                      "  pop esi\n"
                      "  pop edi\n"
                      "  pop ebp\n"
                      "  ret\n");
    uint32_t s1[MPI_WORDS], res[MPI_WORDS], x = 12345;
    for (int i = 0; i < MPI_WORDS; i++) {
        x = x * 1103515245u + 12345u;
        s1[i] = x ^ (x >> 7);
        x = x * 1103515245u + 12345u;
        res[i] = x ^ (x << 9);
        vm_wr32(&m, 0x10000 + 4 * i, s1[i]);
        vm_wr32(&m, 0x20000 + 4 * i, res[i]);
    }
    vm_start_real(&m, 0x1000);
    int64_t t0 = clock_host_ns();
    ASSERT_EQ(vm_run(&m, 1000000000), CPU_EXIT_HALT);
    int64_t dt = clock_host_ns() - t0;
    uint32_t sum = 0;
    for (int r = 0; r < MPI_ROUNDS; r++)
        sum += mpi_submul_c(res, s1, MPI_WORDS, 0xDEADBEEF);
    ASSERT_EQ(vm_rd32(&m, 0x3000), sum);
    for (int i = 0; i < MPI_WORDS; i++)
        ASSERT_EQ(vm_rd32(&m, 0x20000 + 4 * i), res[i]);
    uint64_t n = cpu_insn_count(m.cpu);
    fprintf(stderr, "soft core, mpi loop: %llu instructions in %.3f s = %.1f MIPS\n",
            (unsigned long long)n, (double)dt / 1e9, (double)n * 1e3 / (double)dt);
    vm_free(&m);
}

/*
 * The same kind of loop in 64-bit mode (identity-mapped first 2 MiB, one
 * 2 MiB page): 64-bit and REX-extended 32-bit ALU, loads and read-modify-write
 * stores, a RIP-relative load, CALL/RET with PUSH/POP, IMUL, CMOVcc. Checks
 * the registers and memory against the same arithmetic in C; prints MIPS.
 */
#define LOOP64_ROUNDS 2000000

TEST(loop64_mips)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000,
           PM32_ENTRY "  lgdt [gdtr64]\n"
                      "  mov eax, cr4\n"
                      "  or eax, 0x20\n"
                      "  mov cr4, eax\n"
                      "  mov eax, 0x40000\n"
                      "  mov cr3, eax\n"
                      "  mov ecx, 0xC0000080\n"
                      "  rdmsr\n"
                      "  or eax, 0x100\n"
                      "  wrmsr\n"
                      "  mov eax, cr0\n"
                      "  or eax, 0x80000000\n"
                      "  mov cr0, eax\n"
                      "  jmp 0x18:lm64\n"
                      "gdt64: dq 0\n"
                      "  dq 0x00CF9A000000FFFF\n"
                      "  dq 0x00CF92000000FFFF\n"
                      "  dq 0x00AF9A000000FFFF\n"
                      "gdtr64: dw 31\n"
                      "  dd gdt64\n"
                      "bits 64\n"
                      "lm64: mov rsp, 0x9000\n"
                      "  mov ecx, 2000000\n" /* LOOP64_ROUNDS */
                      "  xor eax, eax\n"
                      "  mov rdx, 0x123456789\n"
                      "  mov esi, 0x2000\n"
                      "  xor r10d, r10d\n"
                      "  mov r11d, 1\n"
                      "  xor r12d, r12d\n"
                      "l: add rax, rcx\n"
                      "  xor rdx, rax\n"
                      "  add [rsi], rdx\n"
                      "  mov r8, [rsi]\n"
                      "  call f\n"
                      "  add r10d, ecx\n"
                      "  imul r11, rdx\n"
                      "  cmp rax, rdx\n"
                      "  cmovb r12, rax\n"
                      "  dec rcx\n"
                      "  jnz l\n"
                      "  hlt\n"
                      "f: push rbx\n"
                      "  lea rbx, [r8+rax*2]\n"
                      "  shr rbx, 3\n"
                      "  add rbx, [rel k]\n"
                      "  add [rsi+8], rbx\n"
                      "  pop rbx\n"
                      "  ret\n"
                      "k: dq 0x0123456789ABCDEF\n");
    vm_wr32(&m, 0x40000, 0x41003); /* PML4 -> PDPT -> PD, whose entry 0 is a 2 MiB page at 0 */
    vm_wr32(&m, 0x41000, 0x42003);
    vm_wr32(&m, 0x42000, 0x83);
    vm_start_real(&m, 0x1000);
    int64_t t0 = clock_host_ns();
    ASSERT_EQ(vm_run(&m, 1000000000), CPU_EXIT_HALT);
    int64_t dt = clock_host_ns() - t0;
    uint64_t rax = 0, rdx = 0x123456789, mem = 0, acc = 0, r11 = 1, r12 = 0;
    uint32_t r10 = 0;
    for (uint64_t c = LOOP64_ROUNDS; c; c--) {
        rax += c;
        rdx ^= rax;
        mem += rdx;
        acc += ((mem + rax * 2) >> 3) + 0x0123456789ABCDEFull;
        r10 += (uint32_t)c;
        r11 *= rdx;
        if (rax < rdx)
            r12 = rax;
    }
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    ASSERT_EQ(st.gpr[GPR_AX], rax);
    ASSERT_EQ(st.gpr[GPR_DX], rdx);
    ASSERT_EQ(st.gpr[10], r10);
    ASSERT_EQ(st.gpr[11], r11);
    ASSERT_EQ(st.gpr[12], r12);
    ASSERT_EQ(vm_rd32(&m, 0x2000) | (uint64_t)vm_rd32(&m, 0x2004) << 32, mem);
    ASSERT_EQ(vm_rd32(&m, 0x2008) | (uint64_t)vm_rd32(&m, 0x200C) << 32, acc);
    uint64_t n = cpu_insn_count(m.cpu);
    fprintf(stderr, "soft core, 64-bit loop: %llu instructions in %.3f s = %.1f MIPS\n",
            (unsigned long long)n, (double)dt / 1e9, (double)n * 1e3 / (double)dt);
    vm_free(&m);
}
