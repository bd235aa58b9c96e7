; CPUID's feature bits against the instructions (issue 25): in 32-bit
; protected mode at CPL 0, for each feature bit of leaves 1, 7 and 0x80000001
; that one instruction can show, that instruction runs once; a #UD or #GP
; means "not there". A bit and its instruction must agree: a line
; "mismatch" names each one that does not. Bits that no single
; instruction here can show are left out: APIC (MMIO), PSE-36, SYSCALL and
; LAHF/SAHF and CMPXCHG16B (64-bit mode), 1 GiB pages, LZCNT (BSR without
; it), PREFETCHW and CLFLUSHOPT (NOP and CLFLUSH without them), the VEX
; forms. Bits whose absence shows as #GP on a CR4 or EFER bit: DE PSE PAE MCE
; PGE VMX SMEP SMAP UMIP OSXSAVE (XSAVE), NX LM.
; The oracle is the agreement itself (and the "advertised" line is the
; model's list, README's "The software core"); QEMU TCG is none here: its
; models run SSE2, MTRR and MCA forms their CPUID does not announce, and
; some stop in this walk.
; qemu-skip: QEMU TCG's CPUID models and instructions disagree (see above)
; bochs-cpu: atom_n270
; bochs-differs: 3 line(s): Bochs's Atom N270 announces MCA but has no
; MCG_CAP (the walk reports "mismatch: mca" and counts it: issue 25's first
; defect, on Bochs's side), and its "advertised" list has MONITOR, no NX, LM.
; kvm-skip: on KVM the host CPU runs what its own CPUID has (POPCNT, SSE4.x...) whatever bits the model shows
%include "rom.inc"

%define FAULTED 0x700
%define MISMATCH 0x704
%define CPUID1 0x710            ; EDX, ECX of leaf 1
%define CPUID7 0x718            ; EBX, ECX of leaf 7 (0 when the maximum leaf is lower)
%define CPUID81 0x720           ; EDX, ECX of leaf 0x80000001
%define LIST 0x3000             ; the advertised names, space-separated
%define LISTEND 0x7F8
%define MEM 0x4000              ; 16-byte aligned operands
%define FXAREA 0x5000

start:
        ENTER_PM32 pm

        bits 32
; CR4 bit %1 set and cleared again
%macro CR4BIT 1
        mov eax, cr4
        mov ebx, eax
        or eax, 1 << %1
        mov cr4, eax
        mov cr4, ebx
%endmacro
; EFER bit %1 set and cleared again
%macro EFERBIT 1
        mov ecx, 0xC0000080
        rdmsr
        mov ebx, eax
        or eax, 1 << %1
        wrmsr
        mov eax, ebx
        wrmsr
%endmacro
%macro RDMSR_OF 1
        mov ecx, %1
        rdmsr
%endmacro

; FEAT dword, bit, "name", instruction: runs the instruction, compares with the bit
%macro FEAT 4+
        mov dword [FAULTED], 0
        mov dword [RESUME], ABS(%%after)
        %4
%%after:
        mov dword [RESUME], ABS(fatal)
        mov eax, [%1]
        xor ebx, ebx
        bt eax, %2
        setc bl                 ; advertised
        xor ecx, ecx
        cmp dword [FAULTED], 0
        sete cl                 ; ran
        mov esi, ABS(%%name)
        call feat_report
        jmp %%over
%%name: db %3, 0
%%over:
%endmacro

pm:     call build_idt
        SET_GATE 6, ud_seen
        SET_GATE 13, gp_seen
        mov dword [MISMATCH], 0
        mov dword [LISTEND], LIST
        mov eax, cr4
        or eax, 0x600           ; OSFXSR, OSXMMEXCPT
        mov cr4, eax
        mov eax, 1
        cpuid
        mov [CPUID1], edx
        mov [CPUID1 + 4], ecx
        mov dword [CPUID7], 0
        mov dword [CPUID7 + 4], 0
        xor eax, eax
        cpuid
        cmp eax, 7
        jb .no7
        mov eax, 7
        xor ecx, ecx
        cpuid
        mov [CPUID7], ebx
        mov [CPUID7 + 4], ecx
.no7:   mov dword [CPUID81], 0
        mov dword [CPUID81 + 4], 0
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jb .no81
        mov eax, 0x80000001
        cpuid
        mov [CPUID81], edx
        mov [CPUID81 + 4], ecx
.no81:

        FEAT CPUID1, 0, "fpu", fninit
        FEAT CPUID1, 2, "de", CR4BIT 3
        FEAT CPUID1, 3, "pse", CR4BIT 4
        FEAT CPUID1, 4, "tsc", rdtsc
        FEAT CPUID1, 5, "msr", RDMSR_OF 0x10
        FEAT CPUID1, 6, "pae", CR4BIT 5
        FEAT CPUID1, 7, "mce", CR4BIT 6
        FEAT CPUID1, 8, "cx8", cmpxchg8b [MEM]
        FEAT CPUID1, 11, "sep", RDMSR_OF 0x174
        FEAT CPUID1, 12, "mtrr", RDMSR_OF 0xFE
        FEAT CPUID1, 13, "pge", CR4BIT 7
        FEAT CPUID1, 14, "mca", RDMSR_OF 0x179
        FEAT CPUID1, 15, "cmov", cmovz eax, ebx
        FEAT CPUID1, 16, "pat", RDMSR_OF 0x277
        FEAT CPUID1, 19, "clfsh", clflush [MEM]
        FEAT CPUID1, 23, "mmx", emms
        FEAT CPUID1, 24, "fxsr", fxsave [FXAREA]
        FEAT CPUID1, 25, "sse", xorps xmm0, xmm1
        FEAT CPUID1, 26, "sse2", paddq xmm0, xmm1
        FEAT CPUID1 + 4, 0, "sse3", haddps xmm0, xmm1
        FEAT CPUID1 + 4, 1, "pclmulqdq", pclmulqdq xmm0, xmm1, 0
        FEAT CPUID1 + 4, 3, "monitor", monitor
        FEAT CPUID1 + 4, 5, "vmx", CR4BIT 13
        FEAT CPUID1 + 4, 9, "ssse3", pshufb xmm0, xmm1
        FEAT CPUID1 + 4, 19, "sse4.1", pminsd xmm0, xmm1
        FEAT CPUID1 + 4, 20, "sse4.2", crc32 eax, bl
        FEAT CPUID1 + 4, 22, "movbe", movbe eax, [MEM]
        FEAT CPUID1 + 4, 23, "popcnt", popcnt eax, ebx
        FEAT CPUID1 + 4, 25, "aes", aesenc xmm0, xmm1
        FEAT CPUID1 + 4, 26, "xsave", CR4BIT 18
        FEAT CPUID1 + 4, 26, "xgetbv", xgetbv
        FEAT CPUID1 + 4, 30, "rdrand", rdrand eax
        FEAT CPUID7, 7, "smep", CR4BIT 20
        FEAT CPUID7, 18, "rdseed", rdseed eax
        FEAT CPUID7, 20, "smap", CR4BIT 21
        FEAT CPUID7, 20, "stac", stac
        FEAT CPUID7, 24, "clwb", clwb [MEM]
        FEAT CPUID7 + 4, 2, "umip", CR4BIT 11
        FEAT CPUID81, 20, "nx", EFERBIT 11
        FEAT CPUID81, 27, "rdtscp", rdtscp
        FEAT CPUID81, 29, "lm", EFERBIT 8

        mov edi, [LISTEND]
        mov byte [edi], 0
        PRINT32 "advertised:"
        mov esi, LIST
        call puts32
        PRINT32 10, "mismatches "
        mov eax, [MISMATCH]
        call hex8
        PRINT32 10, "done", 10
        EXIT32

; ebx: advertised, ecx: ran, esi: the name
feat_report:
        push esi
        test ebx, ebx
        jz .notset
        mov edi, [LISTEND]
        mov byte [edi], ' '
        inc edi
.cp:    mov al, [esi]
        test al, al
        jz .cpd
        mov [edi], al
        inc esi
        inc edi
        jmp .cp
.cpd:   mov [LISTEND], edi
.notset:
        pop esi
        cmp ebx, ecx
        je .ok
        inc dword [MISMATCH]
        PRINT32 "mismatch: "
        call puts32
        PRINT32 " cpuid="
        mov eax, ebx
        call hex8
        PRINT32 " ran="
        mov eax, ecx
        call hex8
        PRINT32 " fault="
        mov eax, [FAULTED]
        call hex8
        PRINT32 10
.ok:    ret

; #UD / #GP while a FEAT instruction runs: note it, resume at [RESUME]
ud_seen:
        mov dword [FAULTED], 6
        push eax
        mov eax, [RESUME]
        mov [esp + 4], eax
        pop eax
        iret
gp_seen:
        mov dword [FAULTED], 13
        add esp, 4
        push eax
        mov eax, [RESUME]
        mov [esp + 4], eax
        pop eax
        iret

        ROM_END
