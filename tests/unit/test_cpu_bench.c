/*
 * Speed of the software core on a CPU-bound 32-bit loop (ALU, memory
 * read-modify-write, a taken branch): checks the loop's result and prints
 * the rate in MIPS on stderr (a measurement, not a timed assertion).
 */
#include "cpu_vm.h"

TEST(loop_mips)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  cli\n"
                       "  lgdt [gdtr]\n"
                       "  mov eax, cr0\n"
                       "  or al, 1\n"
                       "  mov cr0, eax\n"
                       "  jmp 0x08:pm32\n"
                       "gdt: dq 0\n"
                       "  dq 0x00CF9A000000FFFF\n"
                       "  dq 0x00CF92000000FFFF\n"
                       "gdtr: dw 23\n"
                       "  dd gdt\n"
                       "bits 32\n"
                       "pm32: mov ax, 0x10\n"
                       "  mov ds, ax\n"
                       "  mov ss, ax\n"
                       "  mov esp, 0x9000\n"
                       "  mov ecx, 5000000\n"
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
