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
};

static void check_list(const char **list, size_t n, bool code32)
{
    char src[16384];
    size_t len = (size_t)snprintf(src, sizeof src, "bits %d\n", code32 ? 32 : 16);
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
        unsigned got = decode_insn(code + tab[i], 15, code32, &in);
        if (got != tab[i + 1] - tab[i])
            FAIL("%s (%s): decoded %u bytes, nasm %u", list[i], code32 ? "32" : "16", got,
                 tab[i + 1] - tab[i]);
        if (in.op == OP_UD && strcmp(list[i], "ud2") != 0)
            FAIL("%s: decoded as invalid", list[i]);
    }
    vm_free(&m);
}

TEST(lengths_16bit)
{
    check_list(insns16, sizeof insns16 / sizeof insns16[0], false);
}

TEST(lengths_32bit)
{
    check_list(insns32, sizeof insns32 / sizeof insns32[0], true);
}

TEST(lengths_sse)
{
    check_list(insns_sse, sizeof insns_sse / sizeof insns_sse[0], true);
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
