/*
 * The decoder against nasm: a list of instructions covering prefixes,
 * 16- and 32-bit ModRM/SIB forms, displacements, immediates of every size,
 * far pointers, moffs, ENTER, the 0F map and the SSE..SSSE3 forms (0F with
 * mandatory prefixes, 0F 38, 0F 3A) is assembled, and every
 * instruction must decode to exactly the length nasm gave it, with the
 * effective segment and registers the SDM prescribes for a few forms.
 */
#include "cpu/decode.h"
#include "cpu_vm.h"

static const char *insns16[] = {
    "add al, 5", "add ax, 0x1234", "add word [bx+si], 7", "mov ax, [bp]", "mov ax, [bp+di+0x12]",
    "mov al, [0x1234]", "mov [es:bx], al", "lea si, [bx+di-0x80]", "mov eax, [ebx+ecx*4+8]",
    "mov eax, [esp+0x100]", "jmp 0x1234:0x5678", "call far [bx]", "enter 0x10, 2", "int 0x10",
    "in al, 0x60", "out dx, ax", "rep movsw", "lock add [si], ax", "jz short $", "jz near $",
    "push word 0x1234", "push byte -1", "imul ax, bx, 0x1234", "imul ax, [bx], 5",
    "test byte [bx], 0x80", "test ax, 0x8000", "shl word [bx], 3", "rcr al, cl", "movzx eax, byte [si]",
    "bt ax, 5", "shld ax, bx, 4", "lgdt [0x1234]", "mov cr0, eax", "o32 retf", "iret",
    "aam 10", "lds si, [bx]", "pusha", "bound ax, [bx]", "arpl [bx], ax",
};
static const char *insns32[] = {
    "add eax, 0x12345678", "add dword [eax], 0x12345678", "add dword [ebp-4], byte 1",
    "mov eax, [0x12345678]", "mov [fs:0x10], eax", "mov eax, [esp]", "mov eax, [ebp]",
    "mov eax, [eax*2+0x1000]", "mov eax, [ebx+esi*8]", "mov ax, [ecx]", "mov al, [di]",
    "movsx eax, word [ebx]", "cmovnz eax, [ecx+4]", "setg byte [edx]", "cmpxchg [esi], ecx",
    "cmpxchg8b [edi]", "xadd [ebx], eax", "bswap ebp", "lock bts dword [eax], 3", "bsr eax, [ebx]",
    "jmp dword 0x08:0x12345678", "call 0x10", "loop $", "jecxz $", "ret 8", "sysenter",
    "rdtsc", "cpuid", "rdmsr", "invlpg [eax]", "ltr ax", "str [ebx]", "lar eax, bx", "ud2",
    "fld qword [ebx]", "fadd st0, st3", "fnstsw ax", "fistp dword [esp+8]", "movq mm0, [eax]",
    "psrlw mm1, 3", "paddb mm2, mm3", "emms", "pushfd", "popad", "xlatb", "salc",
    "mov dr7, eax", "nop dword [eax+eax*1+0x0]", "a16 mov eax, [bx+si]", "rep stosd", "repne scasb",
};

/* SSE..SSSE3: mandatory prefixes, immediates, the 0F 38 and 0F 3A maps, memory forms. */
static const char *insns_sse[] = {
    "movaps xmm1, [eax]", "movups [ebx+ecx*4+0x100], xmm7", "movss xmm0, [esp+4]",
    "movsd xmm2, xmm3", "addps xmm0, xmm1", "addsd xmm4, [ebp-8]", "cmpps xmm1, [eax], 5",
    "cmpsd xmm0, xmm1, 2", "shufps xmm2, xmm3, 0x1b", "pshufd xmm0, [eax], 0x4e",
    "pshufhw xmm1, xmm2, 3", "pshuflw xmm1, xmm2, 3", "pshufw mm0, mm1, 0x1b",
    "psrldq xmm3, 4", "pslldq xmm3, 4", "psrlw xmm1, 3", "pinsrw xmm0, eax, 7",
    "pextrw eax, mm1, 3", "cvtsi2ss xmm0, [eax]", "cvttsd2si eax, xmm1", "cvtpi2ps xmm1, mm2",
    "comiss xmm0, [ebx]", "ucomisd xmm1, xmm2", "movd xmm0, [eax]", "movq xmm0, [eax]",
    "movq [eax], xmm1", "movdqa xmm0, [eax]", "movdqu [eax], xmm0", "lddqu xmm1, [eax]",
    "maskmovdqu xmm0, xmm1", "movntdq [eax], xmm2", "movnti [eax], ecx", "movq2dq xmm0, mm1",
    "movdq2q mm0, xmm1", "pmovmskb eax, xmm3", "haddps xmm0, xmm1", "addsubpd xmm0, [eax]",
    "movddup xmm0, [eax]", "pshufb xmm0, [eax]", "pshufb mm0, mm1", "phaddw xmm1, xmm2",
    "pmaddubsw xmm0, [eax+8]", "pabsd mm3, [eax]", "palignr xmm1, [eax], 5",
    "palignr mm1, mm2, 9", "ldmxcsr [eax]", "stmxcsr [esp]", "clflush [eax]", "lfence",
    "mfence", "sfence", "prefetchnta [eax]", "fisttp dword [eax]", "fxsave [eax]",
    /* SSE4.1, SSE4.2, POPCNT */
    "pblendvb xmm1, [eax]", "blendvps xmm2, xmm3", "ptest xmm0, [eax]", "pmovsxbw xmm1, [eax]",
    "pmovzxdq xmm2, xmm3", "movntdqa xmm0, [eax]", "pcmpgtq xmm1, [ebx+4]",
    "phminposuw xmm0, xmm1", "pmulld xmm3, [esp]", "roundss xmm0, [eax], 3", "dpps xmm0, xmm1, 0xff",
    "mpsadbw xmm0, [eax], 5", "blendpd xmm1, xmm2, 2", "pextrb [eax], xmm1, 3", "pextrb eax, xmm1, 3",
    "pextrw [eax], xmm1, 3", "pextrd eax, xmm2, 1", "extractps [ebx], xmm1, 2",
    "pinsrb xmm0, [eax], 7", "insertps xmm1, xmm2, 0x4c", "pinsrd xmm0, eax, 3",
    "pcmpestri xmm0, [eax], 0x0c", "pcmpistrm xmm1, xmm2, 0x40", "crc32 eax, byte [ebx]",
    "crc32 eax, word [ebx]", "crc32 eax, ecx", "popcnt eax, [ebx]", "popcnt ax, bx",
};

/* 64-bit mode: REX (W/R/X/B, byte registers, REX not last), operand and address
 * sizes, RIP-relative operands, imm64 and moffs64, MOVSXD, default-64 branches. */
static const char *insns64[] = {
    "add rax, rbx", "add r8, r15", "add rax, 0x12345678", "add qword [rax], -1", "mov r9b, [r10]",
    "mov sil, dil", "mov eax, [rel $+0x100]", "mov rax, [rel $-8]", "lea rdi, [rel $]",
    "mov rax, [r12]", "mov rax, [r13]", "mov rax, [rsp+r12*8+0x10]", "mov rax, [rbp+r13*2]",
    "mov rax, 0x123456789abcdef0", "mov r11, 0x123456789abcdef0", "mov eax, 5", "mov r10d, 5",
    "mov al, [qword 0x1122334455667788]", "mov [qword 0x1122334455667788], rax",
    "a32 mov eax, [eax]", "a32 mov al, [dword 0x12345678]", "movsxd rax, dword [rbx]",
    "movsxd r8, ecx", "push r15", "pop rbx", "push qword 0x12345678", "push word 5",
    "call qword [rax]", "jmp r11", "call $+0x100", "jz near $+0x1000", "ret", "o16 push ax",
    "imul r8, [rel $+4], 0x1000", "shl qword [rbx], 3", "test r8, 0x1234", "test r8b, 1",
    "cmpxchg [rsi], r9", "xchg r8, rax", "mov cr3, rax", "mov rax, cr2", "iretq", "swapgs",
    "movq xmm9, [r8+0x40]", "paddd xmm15, xmm8", "movzx r9d, byte [r12+1]", "bswap r9",
    "inc r9d", "dec qword [rax]", "cqo", "movsq", "rep stosq", "lock add [rel $+0x10], r10",
    "syscall", "o64 sysret", "sysret", "cmpxchg16b [rdi]", "mul r9", "idiv qword [rsp]", "mov ax, cs",
    "pextrq rax, xmm9, 1", "pinsrq xmm10, [rax], 1", "crc32 rax, byte [rbx]", "crc32 r9, qword [rsi]",
    "popcnt r8, [rel $+8]", "pcmpestrm xmm12, [r8], 0x44", "roundsd xmm9, [rel $], 1",
};

static void check_list(const char **list, size_t n, int bits)
{
    bool code32 = bits != 16;
    char src[16384];
    size_t len = (size_t)snprintf(src, sizeof src, "bits %d\n", bits);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(src + len, sizeof src - len, "L%zu: %s\n", i, list[i]);
    len += (size_t)snprintf(src + len, sizeof src - len, "L%zu:\ntable:\n", n);
    for (size_t i = 0; i <= n; i++)
        len += (size_t)snprintf(src + len, sizeof src - len, "dd L%zu\n", i);
    ASSERT(len < sizeof src);
    struct vm m;
    vm_init(&m, 1 << 20);
    size_t total = vm_asm(&m, 0, src);
    const uint8_t *code = m.ram;
    uint32_t tab[128];
    ASSERT(n + 1 <= sizeof tab / sizeof tab[0]);
    memcpy(tab, m.ram + total - 4 * (n + 1), 4 * (n + 1));
    for (size_t i = 0; i < n; i++) {
        struct insn in;
        unsigned got = bits == 64 ? decode_insn64(code + tab[i], 15, &in)
                                  : decode_insn(code + tab[i], 15, code32, &in);
        if (got != tab[i + 1] - tab[i])
            FAIL("%s (%d): decoded %u bytes, nasm %u", list[i], bits, got, tab[i + 1] - tab[i]);
        if (in.op == OP_UD && strcmp(list[i], "ud2") != 0)
            FAIL("%s: decoded as invalid", list[i]);
    }
    vm_free(&m);
}

TEST(lengths_16bit)
{
    check_list(insns16, sizeof insns16 / sizeof insns16[0], 16);
}

TEST(lengths_32bit)
{
    check_list(insns32, sizeof insns32 / sizeof insns32[0], 32);
}

TEST(lengths_sse)
{
    check_list(insns_sse, sizeof insns_sse / sizeof insns_sse[0], 32);
}

TEST(lengths_64bit)
{
    check_list(insns64, sizeof insns64 / sizeof insns64[0], 64);
}

TEST(operands_64bit)
{
    struct insn in;
    static const uint8_t rexb[] = {0x4F, 0x8B, 0x44, 0xE5, 0x08}; /* mov r8, [r13+r12*8+8] */
    ASSERT_EQ(decode_insn64(rexb, 5, &in), 5);
    ASSERT_EQ(insn_reg64(&in), 8);
    ASSERT_EQ(in.base, 13);
    ASSERT_EQ(in.index, 12);
    ASSERT_EQ(in.scale, 3);
    ASSERT_EQ(in.pfx & (P_OP32 | P_OP64), P_OP32 | P_OP64);
    ASSERT(in.props & I_ADDR64);
    static const uint8_t rip[] = {0x8B, 0x05, 0x10, 0x00, 0x00, 0x00}; /* mov eax, [rel $+0x10] */
    ASSERT_EQ(decode_insn64(rip, 6, &in), 6);
    ASSERT(in.props & I_RIPREL);
    ASSERT_EQ(in.base, NOREG);
    ASSERT_EQ(in.pfx & P_OP64, 0);
    static const uint8_t sib_nobase[] = {0x8B, 0x04, 0x25, 0x10, 0, 0, 0}; /* mov eax, [0x10] */
    ASSERT_EQ(decode_insn64(sib_nobase, 7, &in), 7);
    ASSERT_EQ(in.props & I_RIPREL, 0);
    ASSERT_EQ(in.base, NOREG);
    ASSERT_EQ(in.index, NOREG);
    static const uint8_t rex_not_last[] = {0x48, 0x66, 0x01, 0xC0}; /* REX.W ignored: add ax, ax */
    ASSERT_EQ(decode_insn64(rex_not_last, 4, &in), 4);
    ASSERT_EQ(in.rex, 0);
    ASSERT_EQ(in.pfx & P_OP32, 0);
    static const uint8_t imm64[] = {0x49, 0xBB, 1, 2, 3, 4, 5, 6, 7, 8}; /* mov r11, imm64 */
    ASSERT_EQ(decode_insn64(imm64, 10, &in), 10);
    ASSERT_EQ(in.imm, 0x04030201u);
    ASSERT_EQ(in.disp, 0x08070605u);
    ASSERT_EQ((in.op & 7) | (in.rex & REX_B) << 3, 11);
    static const uint8_t push16[] = {0x66, 0x50}; /* push ax */
    decode_insn64(push16, 2, &in);
    ASSERT_EQ(in.pfx & (P_OP32 | P_OP64), 0);
    static const uint8_t push64[] = {0x50}; /* push rax */
    decode_insn64(push64, 1, &in);
    ASSERT_EQ(in.pfx & P_OP64, P_OP64);
    static const uint8_t gone[] = {0x06, 0x27, 0x60, 0x62, 0xD4, 0xCE, 0xEA, 0x1F};
    for (unsigned i = 0; i < sizeof gone; i++) {
        decode_insn64(gone + i, 1, &in);
        ASSERT_EQ(in.op, OP_UD);
    }
    static const uint8_t inc[] = {0x40, 0xFF, 0xC0}; /* REX, then inc eax */
    ASSERT_EQ(decode_insn64(inc, 3, &in), 3);
    ASSERT_EQ(in.op, 0xFF);
}

TEST(operands_and_invalid_forms)
{
    struct insn in;
    static const uint8_t bp_disp[] = {0x8B, 0x46, 0x10};       /* mov ax, [bp+0x10] */
    ASSERT_EQ(decode_insn(bp_disp, 3, false, &in), 3);
    ASSERT_EQ(in.seg, SEG_SS);
    ASSERT_EQ(in.base, GPR_BP);
    ASSERT_EQ(in.disp, 0x10);
    static const uint8_t sib[] = {0x8B, 0x44, 0x8B, 0xFC};     /* mov eax, [ebx+ecx*4-4] */
    ASSERT_EQ(decode_insn(sib, 4, true, &in), 4);
    ASSERT_EQ(in.seg, SEG_DS);
    ASSERT_EQ(in.base, GPR_BX);
    ASSERT_EQ(in.index, GPR_CX);
    ASSERT_EQ(in.scale, 2);
    ASSERT_EQ(in.disp, 0xFFFFFFFCu);
    static const uint8_t lock_mov[] = {0xF0, 0x89, 0x00};      /* lock mov [eax], eax */
    ASSERT_EQ(decode_insn(lock_mov, 3, true, &in), 3);
    ASSERT_EQ(in.op, OP_UD);
    static const uint8_t lea_reg[] = {0x8D, 0xC0};             /* lea eax, eax */
    decode_insn(lea_reg, 2, true, &in);
    ASSERT_EQ(in.op, OP_UD);
    static const uint8_t mov_cs[] = {0x8E, 0xC8};              /* mov cs, ax */
    decode_insn(mov_cs, 2, true, &in);
    ASSERT_EQ(in.op, OP_UD);
    uint8_t longi[16];
    memset(longi, 0x66, sizeof longi);                         /* 15 prefixes and more */
    ASSERT_EQ(decode_insn(longi, 15, true, &in), 15);
    ASSERT_EQ(in.op, OP_GP);
    static const uint8_t partial[] = {0x0F, 0x84};             /* jz rel32, cut short */
    ASSERT_EQ(decode_insn(partial, 2, true, &in), 0);
}
