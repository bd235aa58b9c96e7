/*
 * System-level tests of the software CPU core on a tiny machine: real mode
 * arithmetic and flags, the real -> protected -> paged transition, #PF with
 * CR2 and error code, a task switch through a TSS, REP MOVS restarted after
 * a page fault, self-modifying code, INTR delivery through intr_ack, HLT
 * and the deterministic clock. Expected values are architectural results
 * (Intel SDM) worked out by hand for each program.
 */
#include "cpu_vm.h"

/* after clock.h: <time.h> (via pthread.h) defines CLOCK_REALTIME as a macro */
#include <pthread.h>
#include <unistd.h>

TEST(real_mode_arith)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "mov ax, 0x7fff\n add ax, 1\n pushf\n pop bx\n"   /* OF SF AF PF? */
                       "mov cx, 10\n xor dx, dx\n l: add dx, cx\n loop l\n" /* 55 */
                       "mov si, 0x1234\n mov di, 0x5678\n xchg si, di\n"
                       "mov al, 0x99\n add al, 0x01\n daa\n pushf\n mov [0x510], al\n pop word [0x512]\n" /* 00 CF */
                       "mov byte [0x500], 'O'\n mov al, [0x500]\n out 0xe9, al\n"
                       "mov eax, 0x12345678\n bswap eax\n mov ebp, eax\n"
                       "hlt\n");
    vm_start_real(&m, 0x1000);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_reg(&m, GPR_BX) & 0x8D5, 0x894); /* OF SF AF PF set, ZF CF clear */
    ASSERT_EQ(vm_reg(&m, GPR_DX) & 0xFFFF, 55); /* the upper half keeps the reset signature */
    ASSERT_EQ(vm_reg(&m, GPR_SI), 0x5678);
    ASSERT_EQ(vm_reg(&m, GPR_DI), 0x1234);
    ASSERT_EQ(m.ram[0x510], 0x00);
    ASSERT_EQ(m.ram[0x512] & 1, 1);
    ASSERT_EQ(vm_reg(&m, GPR_BP), 0x78563412);
    ASSERT_EQ(m.nout, 1);
    ASSERT_EQ(m.out[0], 'O');
    vm_free(&m);
}

/* The state carries all 16 GPRs at 64 bits; 32-bit writes zero-extend, 8/16-bit ones merge. */
TEST(gpr_width_merge_and_zero_extend)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "mov ax, 0x1111\n mov bl, 0x22\n mov bh, 0x33\n mov ecx, 0x44444444\n"
                       "add esi, 1\n inc di\n mov si, 0x600\n lodsb\n loop l\n l: push bp\n pop bp\n"
                       "hlt\n");
    vm_start_real(&m, 0x1000);
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    for (int i = 0; i < 16; i++)
        if (i != GPR_SP)
            st.gpr[i] = 0xA5A5A5A500000000ull | (uint64_t)i << 40 | 0xFFF0;
    cpu_set_state(m.cpu, &st);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    cpu_get_state(m.cpu, &st);
    uint64_t hi = 0xA5A5A5A500000000ull;
    ASSERT_EQ(st.gpr[GPR_AX], hi | 0x1100 | m.ram[0x600]);
    ASSERT_EQ(st.gpr[GPR_BX], hi | 3ull << 40 | 0x3322);
    ASSERT_EQ(st.gpr[GPR_CX], 0x44444443ull); /* MOV ECX zero-extends; LOOP (CX) merges */
    ASSERT_EQ(st.gpr[GPR_SI], 0x601ull); /* ADD ESI zero-extends, MOV SI and LODSB merge */
    ASSERT_EQ(st.gpr[GPR_DI], hi | 7ull << 40 | 0xFFF1);
    ASSERT_EQ(st.gpr[GPR_BP], hi | 5ull << 40 | 0xFFF0);
    for (int i = 8; i < 16; i++)
        ASSERT_EQ(st.gpr[i], hi | (uint64_t)i << 40 | 0xFFF0);
    vm_free(&m);
}

/* Real mode -> 32-bit protected mode with a flat GDT and an IDT at 0x8000. */
static const char *pm_prelude =
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
    "  dq 0x00CFFA000000FFFF\n"
    "  dq 0x00CFF2000000FFFF\n"
    "  dq 0x0000890030000067\n" /* 0x28: TSS at 0x3000 */
    "  dq 0x0000890031000067\n" /* 0x30: TSS at 0x3100 */
    "gdt_end:\n"
    "gdtr: dw gdt_end - gdt - 1\n"
    "  dd gdt\n"
    "idtr: dw 256*8-1\n"
    "  dd idt\n"
    "idt equ 0x8000\n"
    "%macro SETGATE 3\n"
    "  mov eax, %2\n"
    "  mov [idt + %1*8], ax\n"
    "  mov word [idt + %1*8 + 2], 0x08\n"
    "  mov word [idt + %1*8 + 4], %3\n"
    "  shr eax, 16\n"
    "  mov [idt + %1*8 + 6], ax\n"
    "%endmacro\n"
    "%macro PAGING 0\n" /* identity map of the first 4 MiB, user pages, PD 0x20000 */
    "  mov edi, 0x21000\n"
    "  mov eax, 0x007\n"
    "  mov ecx, 1024\n"
    "%%f: stosd\n"
    "  add eax, 0x1000\n"
    "  loop %%f\n"
    "  mov dword [0x20000], 0x21007\n"
    "  mov eax, 0x20000\n"
    "  mov cr3, eax\n"
    "  mov eax, cr0\n"
    "  or eax, 0x80000000\n"
    "  mov cr0, eax\n"
    "%endmacro\n"
    "bits 32\n"
    "pm32:\n"
    "  mov ax, 0x10\n"
    "  mov ds, ax\n"
    "  mov es, ax\n"
    "  mov ss, ax\n"
    "  mov fs, ax\n"
    "  mov gs, ax\n"
    "  mov esp, 0x9000\n"
    "  lidt [idtr]\n";

static void vm_asm_pm(struct vm *m, const char *body)
{
    char src[8192];
    snprintf(src, sizeof src, "%s%s", pm_prelude, body);
    vm_asm(m, 0x1000, src);
    vm_start_real(m, 0x1000);
}

TEST(protected_mode_paging)
{
    struct vm m;
    vm_init(&m, 4 << 20);
    vm_asm_pm(&m, "PAGING\n"
                  "  mov dword [0x20004], 0x22003\n"
                  "  mov dword [0x22000], 0x30003\n"
                  "  mov dword [0x400000], 0xCAFEBABE\n"
                  "  mov ebx, [0x30000]\n"
                  "  mov ecx, [0x400000]\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    ASSERT_EQ(st.gpr[GPR_BX], 0xCAFEBABE);
    ASSERT_EQ(st.gpr[GPR_CX], 0xCAFEBABE);
    ASSERT_EQ(st.cr0 & 0x80000001u, 0x80000001u);
    ASSERT_EQ(st.seg[SEG_CS].selector, 0x08);
    ASSERT_EQ(st.seg[SEG_CS].attr & 0x4000, 0x4000);
    ASSERT_EQ(vm_rd32(&m, 0x22000), 0x30063); /* accessed and dirty */
    ASSERT_EQ(vm_rd32(&m, 0x20004), 0x22023); /* accessed only */
    vm_free(&m);
}

TEST(page_fault_cr2_error_code)
{
    struct vm m;
    vm_init(&m, 4 << 20);
    vm_asm_pm(&m, "PAGING\n"
                  "  SETGATE 14, pf, 0x8E00\n"
                  "  mov dword [0x60C], fault\n"
                  "fault: mov dword [0x800000], 1\n"
                  "  hlt\n"
                  "pf: pop eax\n"
                  "  mov [0x600], eax\n"
                  "  mov eax, cr2\n"
                  "  mov [0x604], eax\n"
                  "  mov eax, [esp]\n"
                  "  mov [0x608], eax\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x600), 2); /* not present, write, supervisor */
    ASSERT_EQ(vm_rd32(&m, 0x604), 0x800000);
    ASSERT_EQ(vm_rd32(&m, 0x608), vm_rd32(&m, 0x60C));
    vm_free(&m);
}

TEST(ring3_int_gate_and_gp)
{
    struct vm m;
    vm_init(&m, 4 << 20);
    vm_asm_pm(&m, "PAGING\n"
                  "  mov dword [0x3004], 0x9000\n" /* ESP0 */
                  "  mov dword [0x3008], 0x10\n"   /* SS0 */
                  "  mov ax, 0x28\n"
                  "  ltr ax\n"
                  "  SETGATE 0x80, sys, 0xEE00\n"
                  "  SETGATE 13, gp, 0x8E00\n"
                  "  mov dword [0x658], ucli\n"
                  "  push 0x23\n push 0x7000\n push 0x202\n push 0x1B\n push user\n"
                  "  iretd\n"
                  "user: mov ax, 0x23\n"
                  "  mov ds, ax\n"
                  "  mov eax, 5\n"
                  "  int 0x80\n"
                  "  mov [0x65C], ss\n"
                  "ucli: cli\n"
                  "  hlt\n"
                  "sys: mov [0x640], eax\n"
                  "  mov eax, [esp+4]\n"
                  "  mov [0x644], eax\n"
                  "  mov eax, [esp+16]\n"
                  "  mov [0x648], eax\n"
                  "  mov [0x64C], esp\n"
                  "  iretd\n"
                  "gp: pop eax\n"
                  "  mov [0x650], eax\n"
                  "  mov eax, [esp]\n"
                  "  mov [0x654], eax\n"
                  "  mov eax, [esp+4]\n"
                  "  mov [0x660], eax\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x640), 5);
    ASSERT_EQ(vm_rd32(&m, 0x644), 0x1B);
    ASSERT_EQ(vm_rd32(&m, 0x648), 0x23);
    ASSERT_EQ(vm_rd32(&m, 0x64C), 0x9000 - 20);
    ASSERT_EQ(vm_rd32(&m, 0x65C) & 0xFFFF, 0x23);
    ASSERT_EQ(vm_rd32(&m, 0x650), 0);
    ASSERT_EQ(vm_rd32(&m, 0x654), vm_rd32(&m, 0x658));
    ASSERT_EQ(vm_rd32(&m, 0x660), 0x1B);
    vm_free(&m);
}

TEST(task_switch_call_and_iret)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm_pm(&m, "  mov ax, 0x28\n"
                  "  ltr ax\n"
                  "  mov dword [0x3100+0x20], taskb\n"
                  "  mov dword [0x3100+0x24], 2\n"
                  "  mov dword [0x3100+0x38], 0xA000\n"
                  "  mov dword [0x3100+0x34], 0x1111\n"
                  "  mov word [0x3100+0x4C], 0x08\n"
                  "  mov word [0x3100+0x50], 0x10\n"
                  "  mov word [0x3100+0x54], 0x10\n"
                  "  mov word [0x3100+0x48], 0x10\n"
                  "  mov word [0x3100+0x58], 0x10\n"
                  "  mov word [0x3100+0x5C], 0x10\n"
                  "  mov ecx, 0x4242\n"
                  "  call 0x30:0\n"
                  "  mov [0x610], ecx\n"
                  "  mov eax, [gdt+0x2C]\n"
                  "  mov [0x624], eax\n"
                  "  mov eax, [gdt+0x34]\n"
                  "  mov [0x628], eax\n"
                  "  pushfd\n"
                  "  pop dword [0x62C]\n"
                  "  hlt\n"
                  "taskb: mov [0x618], ebx\n"
                  "  mov [0x630], esp\n"
                  "  pushfd\n"
                  "  pop eax\n"
                  "  mov [0x61C], eax\n"
                  "  movzx eax, word [0x3100]\n"
                  "  mov [0x620], eax\n"
                  "  mov eax, [gdt+0x34]\n"
                  "  mov [0x634], eax\n"
                  "  iretd\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x618), 0x1111);
    ASSERT_EQ(vm_rd32(&m, 0x630), 0xA000);
    ASSERT_EQ(vm_rd32(&m, 0x61C) & 0x4000, 0x4000); /* NT in the called task */
    ASSERT_EQ(vm_rd32(&m, 0x620), 0x28);            /* back-link */
    ASSERT_EQ(vm_rd32(&m, 0x634) & 0xF00, 0xB00);   /* B busy while running */
    ASSERT_EQ(vm_rd32(&m, 0x610), 0x4242);          /* A's state restored */
    ASSERT_EQ(vm_rd32(&m, 0x624) & 0xF00, 0xB00);   /* A busy again */
    ASSERT_EQ(vm_rd32(&m, 0x628) & 0xF00, 0x900);   /* B available */
    ASSERT_EQ(vm_rd32(&m, 0x62C) & 0x4000, 0);      /* A has no NT */
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    ASSERT_EQ(st.tr.selector, 0x28);
    ASSERT(st.cr0 & 8); /* TS set by the switch */
    vm_free(&m);
}

TEST(rep_movs_restarts_after_page_fault)
{
    struct vm m;
    vm_init(&m, 4 << 20);
    for (int i = 0; i < 0x2000; i++)
        m.ram[0x100000 + i] = (uint8_t)(i * 7 + 3);
    vm_asm_pm(&m, "PAGING\n"
                  "  SETGATE 14, pf, 0x8E00\n"
                  "  and dword [0x21000 + 0x201*4], ~1\n"
                  "  mov eax, 0x201000\n"
                  "  invlpg [eax]\n"
                  "  mov esi, 0x100000\n"
                  "  mov edi, 0x200000\n"
                  "  mov ecx, 0x2000\n"
                  "  cld\n"
                  "  rep movsb\n"
                  "  mov [0x638], ecx\n"
                  "  mov [0x63C], edi\n"
                  "  hlt\n"
                  "pf: mov [0x630], ecx\n"
                  "  inc dword [0x634]\n"
                  "  or dword [0x21000 + 0x201*4], 1\n"
                  "  mov eax, cr2\n"
                  "  mov [0x640], eax\n"
                  "  invlpg [eax]\n"
                  "  add esp, 4\n"
                  "  iretd\n");
    ASSERT_EQ(vm_run(&m, 10000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x634), 1);
    ASSERT_EQ(vm_rd32(&m, 0x630), 0x1000);
    ASSERT_EQ(vm_rd32(&m, 0x640), 0x201000);
    ASSERT_EQ(vm_rd32(&m, 0x638), 0);
    ASSERT_EQ(vm_rd32(&m, 0x63C), 0x202000);
    ASSERT_MEM_EQ(m.ram + 0x100000, m.ram + 0x200000, 0x2000);
    vm_free(&m);
}

TEST(self_modifying_code)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  mov bx, 0x700\n"
                       "  mov cx, 3\n"
                       "again: call f\n"
                       "  mov [bx], al\n"
                       "  inc bx\n"
                       "  add byte [f+1], 0x11\n"
                       "  loop again\n"
                       "  mov byte [g+1], 0x5A\n" /* patches the next instruction */
                       "g: mov dl, 0\n"
                       "  hlt\n"
                       "f: mov al, 0x11\n"
                       "  ret\n"
                       "h: mov al, 0x11\n"
                       "  hlt\n");
    vm_start_real(&m, 0x1000);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(m.ram[0x700], 0x11);
    ASSERT_EQ(m.ram[0x701], 0x22);
    ASSERT_EQ(m.ram[0x702], 0x33);
    ASSERT_EQ(vm_reg(&m, GPR_DX) & 0xFF, 0x5A);
    /* a DMA write over cached code takes effect too */
    uint32_t h = 0;
    for (uint32_t a = 0x1000; a < 0x1100; a++)
        if (m.ram[a] == 0xB0 && m.ram[a + 1] == 0x11 && m.ram[a + 2] == 0xF4)
            h = a;
    ASSERT(h);
    vm_start_real(&m, h);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_reg(&m, GPR_AX) & 0xFF, 0x11);
    uint8_t v = 0x66;
    ASSERT_EQ(bus_dma_write(m.bus, h + 1, &v, 1), 0);
    vm_start_real(&m, h);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_reg(&m, GPR_AX) & 0xFF, 0x66);
    vm_free(&m);
}

TEST(intr_delivery_and_hlt_wakeup)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  mov word [0x20*4], isr\n"
                       "  mov word [0x20*4+2], 0\n"
                       "  sti\n"
                       "  hlt\n"
                       "  mov byte [0x802], 1\n"
                       "  cli\n"
                       "  hlt\n"
                       "isr: inc byte [0x800]\n"
                       "  iret\n");
    vm_start_real(&m, 0x1000);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(m.ram[0x802], 0);
    m.next_vector = 0x20;
    cpu_set_intr(m.cpu, 1);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(m.acks, 1);
    ASSERT_EQ(m.ram[0x800], 1);
    ASSERT_EQ(m.ram[0x802], 1);
    /* IF clear: the line stays pending and HLT exits */
    cpu_set_intr(m.cpu, 1);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(m.acks, 1);
    vm_free(&m);
}

TEST(deterministic_clock_and_deadline)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  mov cx, 100\n"
                       "l: loop l\n"
                       "  hlt\n"
                       "spin: jmp spin\n");
    vm_start_real(&m, 0x1000);
    int64_t t0 = clock_now_ns(m.clock);
    ASSERT_EQ(cpu_run(m.cpu, t0 + 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(cpu_insn_count(m.cpu), 102);
    ASSERT_EQ(clock_now_ns(m.clock), t0 + 1000000); /* warped to the deadline */
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    st.rip += 1; /* the spin loop after HLT */
    st.halted = false;
    cpu_set_state(m.cpu, &st);
    int64_t t1 = clock_now_ns(m.clock);
    ASSERT_EQ(cpu_run(m.cpu, t1 + 5000), CPU_EXIT_DEADLINE);
    ASSERT(clock_now_ns(m.clock) >= t1 + 5000);
    ASSERT(clock_now_ns(m.clock) < t1 + 5000 + 64);
    vm_free(&m);
}

TEST(triple_fault_shutdown)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm_pm(&m, "  lidt [zidt]\n"
                  "  int 0x30\n"
                  "  hlt\n"
                  "zidt: dw 0\n dd 0\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_SHUTDOWN);
    vm_free(&m);
}

TEST(v86_mode_io_gp_and_frame)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm_pm(&m, "  mov dword [0x3004], 0x9000\n"
                  "  mov dword [0x3008], 0x10\n"
                  "  mov word [0x3066], 0x68\n" /* no I/O bitmap */
                  "  mov ax, 0x28\n"
                  "  ltr ax\n"
                  "  SETGATE 13, gp, 0x8E00\n"
                  "  mov esi, v86code\n"
                  "  mov edi, 0x5000\n"
                  "  mov ecx, v86end - v86code\n"
                  "  rep movsb\n"
                  "  push dword 0\n push dword 0\n push dword 0x50\n push dword 0x60\n" /* gs fs ds es */
                  "  push dword 0x700\n push dword 0x100\n"                             /* ss esp */
                  "  push dword 0x23202\n"                                              /* VM IOPL=3 IF */
                  "  push dword 0x500\n push dword 0\n"                                 /* cs eip */
                  "  iretd\n"
                  "gp: mov [ss:0x698], ds\n"
                  "  mov ax, 0x10\n"
                  "  mov ds, ax\n"
                  "  pop eax\n"
                  "  mov [0x680], eax\n"
                  "  mov eax, [esp]\n mov [0x684], eax\n"
                  "  mov eax, [esp+4]\n mov [0x688], eax\n"
                  "  mov eax, [esp+8]\n mov [0x68C], eax\n"
                  "  mov eax, [esp+16]\n mov [0x690], eax\n"
                  "  mov eax, [esp+24]\n mov [0x694], eax\n"
                  "  hlt\n"
                  "bits 16\n"
                  "v86code: mov ax, 0x1234\n"
                  "  mov [0x100], ax\n"
                  "  push ax\n"
                  "  out 0xe9, al\n"
                  "v86end:\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(m.ram[0x600] | m.ram[0x601] << 8, 0x1234); /* DS 0x50 -> 0x600 */
    ASSERT_EQ(m.ram[0x70FE] | m.ram[0x70FF] << 8, 0x1234); /* SS:SP 0700:00FE */
    ASSERT_EQ(vm_rd32(&m, 0x680), 0);           /* #GP(0): no I/O bitmap */
    ASSERT_EQ(vm_rd32(&m, 0x684), 7);           /* EIP of the OUT */
    ASSERT_EQ(vm_rd32(&m, 0x688), 0x500);       /* V86 CS */
    ASSERT_EQ(vm_rd32(&m, 0x68C) & 0x20000, 0x20000);
    ASSERT_EQ(vm_rd32(&m, 0x690), 0x700);       /* SS */
    ASSERT_EQ(vm_rd32(&m, 0x694), 0x50);        /* DS */
    ASSERT_EQ(vm_rd32(&m, 0x698) & 0xFFFF, 0);  /* data segments nulled in the handler */
    vm_free(&m);
}

TEST(sysenter_sysexit)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm_pm(&m, "  mov ecx, 0x174\n xor edx, edx\n mov eax, 0x08\n wrmsr\n"
                  "  mov ecx, 0x175\n mov eax, 0x9000\n wrmsr\n"
                  "  mov ecx, 0x176\n mov eax, kentry\n wrmsr\n"
                  "  mov ecx, 0x7000\n"
                  "  mov edx, user\n"
                  "  sysexit\n"
                  "user: mov [0x6A0], cs\n"
                  "  mov [0x6A4], ss\n"
                  "  mov [0x6A8], esp\n"
                  "  mov eax, 7\n"
                  "  sysenter\n"
                  "kentry: mov [0x6AC], cs\n"
                  "  mov [0x6B0], ss\n"
                  "  mov [0x6B4], esp\n"
                  "  mov [0x6B8], eax\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x6A0) & 0xFFFF, 0x1B);
    ASSERT_EQ(vm_rd32(&m, 0x6A4) & 0xFFFF, 0x23);
    ASSERT_EQ(vm_rd32(&m, 0x6A8), 0x7000);
    ASSERT_EQ(vm_rd32(&m, 0x6AC) & 0xFFFF, 0x08);
    ASSERT_EQ(vm_rd32(&m, 0x6B0) & 0xFFFF, 0x10);
    ASSERT_EQ(vm_rd32(&m, 0x6B4), 0x9000);
    ASSERT_EQ(vm_rd32(&m, 0x6B8), 7);
    vm_free(&m);
}

TEST(pae_nx_fetch_fault)
{
    struct vm m;
    vm_init(&m, 8 << 20);
    vm_asm_pm(&m, "  SETGATE 14, pf, 0x8E00\n"
                  "  mov dword [0x40000], 0x41001\n"  /* PDPTE 0 */
                  "  mov dword [0x41000], 0x000083\n" /* 2 MiB at 0, writable */
                  "  mov dword [0x41008], 0x200083\n" /* 2 MiB at 2 MiB, NX */
                  "  mov dword [0x4100C], 0x80000000\n"
                  "  mov ecx, 0xC0000080\n rdmsr\n or eax, 0x800\n wrmsr\n"
                  "  mov eax, cr4\n or eax, 0x20\n mov cr4, eax\n"
                  "  mov eax, 0x40000\n mov cr3, eax\n"
                  "  mov eax, cr0\n or eax, 0x80000000\n mov cr0, eax\n"
                  "  mov byte [0x200000], 0xC3\n" /* data in the NX page is fine */
                  "  mov eax, 0x200000\n"
                  "  call eax\n"
                  "  hlt\n"
                  "pf: pop eax\n"
                  "  mov [0x6C0], eax\n"
                  "  mov eax, cr2\n"
                  "  mov [0x6C4], eax\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x6C0), 0x11); /* present, instruction fetch */
    ASSERT_EQ(vm_rd32(&m, 0x6C4), 0x200000);
    ASSERT_EQ(vm_rd32(&m, 0x41008) & 0x60, 0x60); /* accessed and dirty from the store */
    vm_free(&m);
}

static void vm_wr64(struct vm *m, uint32_t a, uint64_t v)
{
    memcpy(m->ram + a, &v, 8);
}

/*
 * EFER.LME + CR0.PG activate long mode (LMA) and 4-level paging; the 32-bit
 * CS makes it compatibility mode. Enabling paging with LME but without
 * CR4.PAE is #GP (still legacy protected mode, so the legacy IDT takes it).
 * The tables: PML4 0x40000 -> PDPT 0x41000, whose entry 1 is a 1 GiB page
 * at 0 and entry 0 a PD 0x42000 with a 4 KiB table for the first 2 MiB
 * (identity) and a 2 MiB page at 2 MiB -> phys 4 MiB.
 */
TEST(long_mode_activation_and_4level_paging)
{
    struct vm m;
    vm_init(&m, 8 << 20);
    vm_asm_pm(&m, "  SETGATE 13, gp, 0x8E00\n"
                  "  mov ecx, 0xC0000080\n rdmsr\n or eax, 0x100\n wrmsr\n"
                  "  mov eax, 0x40000\n mov cr3, eax\n"
                  "  mov eax, cr0\n or eax, 0x80000000\n"
                  "  mov cr0, eax\n" /* #GP: no PAE */
                  "  mov ebx, cr4\n or ebx, 0x20\n mov cr4, ebx\n"
                  "  mov cr0, eax\n"
                  "  mov ecx, 0xC0000080\n rdmsr\n mov esi, eax\n"
                  "  mov ebx, [0x200010]\n"
                  "  mov dword [0x40005010], 0x600DF00D\n"
                  "  mov edx, [0x5010]\n"
                  "  hlt\n"
                  "gp: pop dword [0x700]\n"
                  "  inc dword [0x704]\n"
                  "  add dword [esp], 3\n"
                  "  iret\n");
    vm_wr64(&m, 0x40000, 0x41003);
    vm_wr64(&m, 0x41000, 0x42003);
    vm_wr64(&m, 0x41008, 0x000083);
    vm_wr64(&m, 0x42000, 0x43003);
    vm_wr64(&m, 0x42008, 0x400083);
    for (uint32_t i = 0; i < 512; i++)
        vm_wr64(&m, 0x43000 + i * 8, i << 12 | 3);
    vm_wr32(&m, 0x400010, 0x2222BEEF);
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    ASSERT_EQ(vm_rd32(&m, 0x704), 1);
    ASSERT_EQ(vm_rd32(&m, 0x700), 0);
    ASSERT_EQ(st.gpr[GPR_SI], 0x500); /* LME | LMA */
    ASSERT_EQ(st.msr.efer, 0x500);
    ASSERT_EQ(st.gpr[GPR_BX], 0x2222BEEF); /* through the 2 MiB page */
    ASSERT_EQ(st.gpr[GPR_DX], 0x600DF00D); /* written through the 1 GiB page */
    ASSERT_EQ(vm_rd32(&m, 0x40000), 0x41023); /* PML4E accessed */
    ASSERT_EQ(vm_rd32(&m, 0x41008), 0x0000E3); /* 1 GiB page accessed and dirty */
    ASSERT_EQ(vm_rd32(&m, 0x42008), 0x4000A3); /* 2 MiB page accessed only */
    vm_free(&m);
}

TEST(fault_loop_still_reaches_deadline)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  mov word [6*4], handler\n"
                       "  mov word [6*4+2], 0\n"
                       "handler: ud2\n");
    vm_start_real(&m, 0x1000);
    int64_t t0 = clock_now_ns(m.clock);
    ASSERT_EQ(cpu_run(m.cpu, t0 + 100000), CPU_EXIT_DEADLINE);
    ASSERT(clock_now_ns(m.clock) >= t0 + 100000);
    vm_free(&m);
}

static void *stop_later(void *arg)
{
    usleep(50000);
    cpu_request_stop(arg);
    return NULL;
}

TEST(request_stop_from_another_thread)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "spin: jmp spin\n");
    vm_start_real(&m, 0x1000);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, stop_later, m.cpu), 0);
    ASSERT_EQ(cpu_run(m.cpu, CLOCK_NEVER), CPU_EXIT_STOP);
    pthread_join(t, NULL);
    ASSERT(cpu_insn_count(m.cpu) > 1000);
    vm_free(&m);
}

TEST(x87_and_mmx_glue)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  fninit\n"
                       "  fld1\n"
                       "  fadd st0, st0\n"
                       "  fild word [val]\n"
                       "  fmulp st1, st0\n"
                       "  fistp dword [0x900]\n"
                       "  fnstsw ax\n"
                       "  mov [0x904], ax\n"
                       "  mov eax, 0x01020304\n"
                       "  movd mm0, eax\n"
                       "  paddb mm0, mm0\n"
                       "  movq [0x908], mm0\n"
                       "  movd ebx, mm0\n"
                       "  emms\n"
                       "  hlt\n"
                       "val: dw 21\n");
    vm_start_real(&m, 0x1000);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x900), 42);
    ASSERT_EQ(vm_rd32(&m, 0x904) & 0x3800, 0); /* TOP back to 0 */
    ASSERT_EQ(vm_rd32(&m, 0x908), 0x02040608);
    ASSERT_EQ(vm_rd32(&m, 0x90C), 0);
    ASSERT_EQ(vm_reg(&m, GPR_BX), 0x02040608);
    vm_free(&m);
}

/* SSE in real mode once CR4.OSFXSR is set, and the XMM/MXCSR part of get/set state. */
TEST(sse_glue_and_state)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm(&m, 0x1000, "bits 16\n"
                       "  mov eax, cr4\n"
                       "  or eax, 0x600\n"
                       "  mov cr4, eax\n"
                       "  stmxcsr [0x900]\n"
                       "  movups xmm0, [vals]\n"
                       "  movaps xmm1, xmm0\n"
                       "  mulps xmm1, xmm0\n"
                       "  cvtps2dq xmm2, xmm1\n"
                       "  movdqu [0x910], xmm2\n"
                       "  pshufb xmm2, [shuf]\n"
                       "  movd [0x920], xmm2\n"
                       "  movd eax, xmm7\n"
                       "  hlt\n"
                       "  align 16\n"
                       "vals: dd 1.5, 2.0, -3.0, 0.5\n"
                       "shuf: db 4, 0, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0\n");
    vm_start_real(&m, 0x1000);
    struct cpu_state st;
    cpu_get_state(m.cpu, &st);
    ASSERT_EQ(st.fpu.mxcsr, 0x1F80); /* power-on MXCSR */
    st.fpu.xmm[7][0] = 0x5A;
    st.fpu.xmm[7][3] = 0xA5;
    cpu_set_state(m.cpu, &st);
    ASSERT_EQ(vm_run(&m, 100000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x900), 0x1F80);
    ASSERT_EQ(vm_rd32(&m, 0x910), 2); /* 2.25 rounds to nearest even */
    ASSERT_EQ(vm_rd32(&m, 0x914), 4);
    ASSERT_EQ(vm_rd32(&m, 0x918), 9);
    ASSERT_EQ(vm_rd32(&m, 0x91C), 0); /* 0.25 */
    ASSERT_EQ(vm_rd32(&m, 0x920), 0x00090204); /* bytes 4, 0, 8, 12 of (2, 4, 9, 0) */
    ASSERT_EQ(vm_reg(&m, GPR_AX), 0xA500005A);
    cpu_get_state(m.cpu, &st);
    ASSERT_EQ(st.fpu.xmm[2][0], 4);
    ASSERT_EQ(st.fpu.xmm[2][1], 2);
    vm_free(&m);
}

TEST(call_gate_with_parameter_and_far_return)
{
    struct vm m;
    vm_init(&m, 4 << 20);
    vm_asm_pm(&m, "PAGING\n"
                  "  mov dword [0x3004], 0x9000\n"
                  "  mov dword [0x3008], 0x10\n"
                  "  mov ax, 0x28\n"
                  "  ltr ax\n"
                  "  SETGATE 13, gp, 0x8E00\n"
                  "  mov eax, callee\n"
                  "  mov word [gdt+0x30], ax\n"
                  "  mov word [gdt+0x32], 0x08\n"
                  "  mov word [gdt+0x34], 0xEC01\n"
                  "  shr eax, 16\n"
                  "  mov word [gdt+0x36], ax\n"
                  "  push 0x23\n push 0x7000\n push 0x202\n push 0x1B\n push user\n"
                  "  iretd\n"
                  "user: mov ax, 0x23\n"
                  "  mov ds, ax\n"
                  "  push dword 0x5A5A\n"
                  "  call 0x33:0\n"
                  "  mov [0x6E0], esp\n"
                  "  mov [0x6E4], cs\n"
                  "  hlt\n"
                  "callee: mov eax, [esp+8]\n"
                  "  mov [0x6D0], eax\n"
                  "  mov eax, [esp+4]\n"
                  "  mov [0x6D4], eax\n"
                  "  mov eax, [esp+12]\n"
                  "  mov [0x6D8], eax\n"
                  "  mov [0x6DC], esp\n"
                  "  retf 4\n"
                  "gp: mov ax, 0x10\n"
                  "  mov ds, ax\n"
                  "  mov eax, [esp+8]\n"
                  "  mov [0x6E8], eax\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(vm_rd32(&m, 0x6D0), 0x5A5A);        /* parameter copied to the inner stack */
    ASSERT_EQ(vm_rd32(&m, 0x6D4), 0x1B);          /* caller CS */
    ASSERT_EQ(vm_rd32(&m, 0x6D8), 0x7000 - 4);    /* caller ESP */
    ASSERT_EQ(vm_rd32(&m, 0x6DC), 0x9000 - 20);   /* SS:ESP from the TSS */
    ASSERT_EQ(vm_rd32(&m, 0x6E0), 0x7000);        /* RETF 4 popped the parameter */
    ASSERT_EQ(vm_rd32(&m, 0x6E4) & 0xFFFF, 0x1B);
    ASSERT_EQ(vm_rd32(&m, 0x6E8), 0x1B);          /* HLT at CPL 3: #GP */
    vm_free(&m);
}

/* Fills the VM's RAM from the xorshift generator whose state is *x. */
static void fill_random(struct vm *m, uint64_t *x)
{
    for (size_t i = 0; i < m->ram_size; i += 8) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        memcpy(m->ram + i, x, 8);
    }
}

/* Random bytes as code, in real mode and in flat protected mode with random
 * descriptor tables: the core must neither crash nor hang (the oracle is the
 * sanitizers and the deadline), and must end every run in a defined state. */
TEST(random_code_never_crashes_or_hangs)
{
    struct vm m;
    vm_init(&m, 2 << 20);
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int round = 0; round < 300; round++) {
        fill_random(&m, &x);
        cpu_reset(m.cpu);
        struct cpu_state st;
        cpu_get_state(m.cpu, &st);
        st.seg[SEG_CS].selector = 0;
        st.seg[SEG_CS].base = 0;
        st.rip = (uint32_t)x & 0xFFFF;
        if (round & 1) {
            st.cr0 |= 1;
            st.gdt = (struct cpu_dtable){(uint32_t)(x >> 20) & 0xFFFFF, 0xFFFF};
            st.idt = (struct cpu_dtable){(uint32_t)(x >> 40) & 0xFFFFF, 0x7FF};
            st.seg[SEG_CS] = (struct cpu_segment){0x08, 0xC09B, 0xFFFFFFFFu, 0};
            st.seg[SEG_SS] = (struct cpu_segment){0x10, 0xC093, 0xFFFFFFFFu, 0};
            st.seg[SEG_DS] = st.seg[SEG_SS];
            st.rip = (uint32_t)x & 0x1FFFFF;
            if (round & 2)
                st.cr0 |= 0x80000000u, st.cr3 = (uint32_t)(x >> 12) & 0x1FF000;
        }
        cpu_set_state(m.cpu, &st);
        enum cpu_exit e = cpu_run(m.cpu, clock_now_ns(m.clock) + 20000);
        ASSERT(e == CPU_EXIT_DEADLINE || e == CPU_EXIT_HALT || e == CPU_EXIT_SHUTDOWN);
    }
    vm_free(&m);
}

/* Random 64-bit code (identity 2 MiB page, random IDT and GDT) ends in a deadline, HLT or shutdown. */
TEST(random_64bit_code_never_crashes_or_hangs)
{
    struct vm m;
    vm_init(&m, 2 << 20);
    uint64_t x = 0x13198A2E03707344ull;
    for (int round = 0; round < 300; round++) {
        fill_random(&m, &x);
        vm_wr64(&m, 0x1000, 0x2003);
        vm_wr64(&m, 0x2000, 0x3003);
        vm_wr64(&m, 0x3000, (round & 1) ? 0x83 : 0x80000000000000E7ull);
        cpu_reset(m.cpu);
        struct cpu_state st;
        cpu_get_state(m.cpu, &st);
        st.cr0 |= 0x80000001u;
        st.cr4 |= 0x20;
        st.cr3 = 0x1000;
        st.msr.efer = 0xD00 | ((round & 2) ? 1 : 0);
        st.gdt = (struct cpu_dtable){(uint32_t)(x >> 20) & 0xFFFFF, 0xFFFF};
        st.idt = (struct cpu_dtable){(uint32_t)(x >> 40) & 0xFFFFF, 0xFFF};
        st.seg[SEG_CS] = (struct cpu_segment){0x08, 0xA09B, 0xFFFFFFFFu, 0};
        st.seg[SEG_SS] = (struct cpu_segment){0x10, 0xC093, 0xFFFFFFFFu, 0};
        st.seg[SEG_DS] = st.seg[SEG_SS];
        st.seg[SEG_GS].base = x;
        st.rip = (uint32_t)x & 0x1FFFFF;
        for (int i = 0; i < 16; i++)
            st.gpr[i] = x * (uint64_t)(i + 1);
        cpu_set_state(m.cpu, &st);
        enum cpu_exit e = cpu_run(m.cpu, clock_now_ns(m.clock) + 20000);
        ASSERT(e == CPU_EXIT_DEADLINE || e == CPU_EXIT_HALT || e == CPU_EXIT_SHUTDOWN);
    }
    vm_free(&m);
}

TEST(expand_down_segment_limits)
{
    struct vm m;
    vm_init(&m, 1 << 20);
    vm_asm_pm(&m, "  SETGATE 13, gp, 0x8E00\n"
                  "  mov dword [gdt+0x30], 0x00000FFF\n"
                  "  mov dword [gdt+0x34], 0x00409600\n" /* expand-down, B=1, limit 0xFFF */
                  "  mov ax, 0x30\n"
                  "  mov es, ax\n"
                  "  mov dword [es:0x2000], 0x11223344\n"
                  "  mov dword [0x6F8], fault\n"
                  "fault: mov dword [es:0x800], 1\n"
                  "  hlt\n"
                  "gp: pop eax\n"
                  "  mov [0x6F0], eax\n"
                  "  mov eax, [esp]\n"
                  "  mov [0x6F4], eax\n"
                  "  mov ax, 0x30\n"
                  "  mov ss, ax\n"
                  "  mov esp, 0x900\n"
                  "  push eax\n" /* below the expand-down limit: #SS, whose frame */
                  "  hlt\n");     /* cannot be pushed either: #DF, then shutdown */
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_SHUTDOWN);
    ASSERT_EQ(vm_rd32(&m, 0x2000), 0x11223344);
    ASSERT_EQ(vm_rd32(&m, 0x6F0), 0);
    ASSERT_EQ(vm_rd32(&m, 0x6F4), vm_rd32(&m, 0x6F8));
    vm_free(&m);
}

/* The backdoor hook of cpu.h: records the call and answers like GETVERSION. */
static int backdoor_calls;
static bool backdoor_hook(void *opaque, uint16_t port, bool in, unsigned size, uint32_t regs[8])
{
    (void)opaque;
    if (port != CPU_BACKDOOR_PORT || !in || size != 4 || regs[GPR_AX] != 0x564D5868)
        return false;
    backdoor_calls++;
    regs[GPR_AX] = 6;
    regs[GPR_BX] = 0x564D5868;
    regs[GPR_SI] = regs[GPR_CX] + 1;
    return true;
}

TEST(backdoor_port_passes_iopl_check_at_cpl3)
{
    struct vm m;
    vm_init(&m, 4 << 20);
    cpu_free(m.cpu);
    struct cpu_hooks hooks = {.opaque = &m, .intr_ack = vm_intr_ack, .backdoor = backdoor_hook};
    struct error err;
    m.cpu = cpu_create(CPU_SOFT, m.bus, m.clock, &hooks, &err);
    ASSERT(m.cpu);
    backdoor_calls = 0;
    /* IOPL 0, a TSS whose I/O bitmap lies past its limit: every other port faults at CPL 3. */
    vm_asm_pm(&m, "PAGING\n"
                  "  mov dword [0x3004], 0x9000\n"
                  "  mov dword [0x3008], 0x10\n"
                  "  mov word [0x3066], 0x68\n"
                  "  mov ax, 0x28\n"
                  "  ltr ax\n"
                  "  SETGATE 13, gp, 0x8E00\n"
                  "  push 0x23\n push 0x7000\n push 0x202\n push 0x1B\n push user\n"
                  "  iretd\n"
                  "user: mov ax, 0x23\n"
                  "  mov ds, ax\n"
                  "  mov eax, 0x564D5868\n"
                  "  mov ebx, 0\n"
                  "  mov ecx, 10\n"
                  "  mov dx, 0x5658\n"
                  "  in eax, dx\n"
                  "  mov [0x6E0], eax\n"
                  "  mov [0x6E4], ebx\n"
                  "  mov [0x6E8], esi\n"
                  "  in al, 0x60\n"
                  "  mov dword [0x6EC], 0xBAD\n"
                  "  hlt\n"
                  "gp: mov ax, 0x10\n"
                  "  mov ds, ax\n"
                  "  mov eax, [esp+8]\n"
                  "  mov [0x6F0], eax\n"
                  "  hlt\n");
    ASSERT_EQ(vm_run(&m, 1000000), CPU_EXIT_HALT);
    ASSERT_EQ(backdoor_calls, 1);
    ASSERT_EQ(vm_rd32(&m, 0x6E0), 6);
    ASSERT_EQ(vm_rd32(&m, 0x6E4), 0x564D5868);
    ASSERT_EQ(vm_rd32(&m, 0x6E8), 11);
    ASSERT_EQ(vm_rd32(&m, 0x6EC), 0);    /* IN from 0x60 at CPL 3 did not complete */
    ASSERT_EQ(vm_rd32(&m, 0x6F0), 0x1B); /* it raised #GP from user code */
    vm_free(&m);
}
