; Corner cases of 64-bit mode that kernels depend on (issue 25): MOV between
; AL/rAX and a 64-bit absolute offset (A0..A3, movabs, also at 0xFEE00020,
; the local APIC's ID register, and with a 4-byte offset under 67), INVLPG of
; a non-canonical address (a no-op), IRETQ to ring 3 nulling a DPL 0 GS whose
; base was set through IA32_GS_BASE (the base stays), and ENTER at CPL 3
; whose final RSP is in a supervisor-only page (#PF with P|W|U before RSP or
; RBP change).
; qemu-bin: qemu-system-x86_64
; qemu-differs: 1 line(s) of expected/corners64.txt hold the SDM's answer:
; "enter": QEMU TCG completes the ENTER and faults on the next push (CR2 8
; bytes lower, RSP and RBP changed); the SDM has #PF "if a write using the
; final value of the stack pointer would cause a page fault", before any change.
%include "rom.inc"

%define PML4 0x10000
%define PDPT 0x11000
%define PD 0x12000
%define PT 0x13000
%define IDT64 0x14000
%define SEL_CODE64 0x60
%define SUPER 0x70000           ; a supervisor-only 4 KiB page
%define RESUME64 0x610          ; where the fault handlers resume (8 bytes)

start:
        ENTER_PM32 pm
        bits 32
pm:     mov edi, PML4
        xor eax, eax
        mov ecx, 0x5000 / 4
        rep stosd
        mov dword [PML4], PDPT | 7
        mov dword [PDPT], PD | 7
        mov dword [PDPT + 8], 0x87              ; 1 GiB page: linear 1G -> physical 0
        mov dword [PD], PT | 7                  ; first 2 MiB in 4 KiB pages
        mov dword [PD + 8], 0x400087            ; 2 MiB page: linear 2M -> physical 4M
        mov edi, PT
        mov eax, 7
        mov ecx, 512
.pt:    stosd
        add edi, 4
        add eax, 0x1000
        loop .pt
        and dword [PT + (SUPER >> 12) * 8], ~4  ; a supervisor-only page
        mov dword [GDT_RAM + SEL_CODE64], 0x0000FFFF
        mov dword [GDT_RAM + SEL_CODE64 + 4], 0x00AF9B00
        mov eax, cr4
        or eax, 0x620                           ; PAE, OSFXSR, OSXMMEXCPT
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xC0000080
        rdmsr
        or eax, 0x100
        wrmsr
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov ecx, 0xC0000080
        rdmsr
        PRINT32 "efer="
        call hex32
        PRINT32 " compatibility mode", 10
        jmp dword SEL_CODE64:ABS(lm64)

        bits 64
%macro PRINT64 1+
        jmp %%over
%%s:    db %1, 0
%%over: push rsi
        lea rsi, [rel %%s]
        call puts64
        pop rsi
%endmacro

puts64: push rax
.n:     mov al, [rsi]
        test al, al
        jz .d
        out DEBUGCON, al
        inc rsi
        jmp .n
.d:     pop rax
        ret

; print rax as 16 hex digits
hex64:  push rax
        push rcx
        push rdx
        mov rdx, rax
        mov ecx, 16
.l:     mov rax, rdx
        shr rax, 60
        shl rdx, 4
        add al, '0'
        cmp al, '9'
        jbe .o
        add al, 'a' - '9' - 1
.o:     out DEBUGCON, al
        dec ecx
        jnz .l
        pop rdx
        pop rcx
        pop rax
        ret

; prints %1 and the 64-bit value %2 (rax preserved)
%macro SHOW 2
        PRINT64 %1
        push rax
        mov rax, %2
        call hex64
        pop rax
%endmacro

; a 64-bit interrupt gate for vector %1 to %2
%macro GATE64 2
        lea rax, [rel %2]
        mov [IDT64 + %1 * 16], ax
        mov word [IDT64 + %1 * 16 + 2], SEL_CODE64
        mov word [IDT64 + %1 * 16 + 4], 0x8E00
        shr rax, 16
        mov [IDT64 + %1 * 16 + 6], ax
        shr rax, 16
        mov [IDT64 + %1 * 16 + 8], eax
        mov dword [IDT64 + %1 * 16 + 12], 0
%endmacro


%define SEL_UDATA64 0x6B
%define SEL_UCODE64 0x73
%define SEL_TSS64 0x80
%define TSS64 0x5800
%define GSMEM 0x6000

lm64:   mov rsp, 0x80000
        PRINT64 "64-bit mode", 10
        GATE64 13, fault_gp
        GATE64 14, fault_pf
        GATE64 0x41, back0
        or byte [IDT64 + 0x41 * 16 + 5], 0x60   ; DPL 3
        lidt [rel idtr64]

        ; ---- MOV rAX <-> moffs64
        mov rax, 0x8877665544332211
        mov [0x5000], rax
        xor eax, eax
        db 0x48, 0xA1                           ; mov rax, [qword 0x5000]
        dq 0x5000
        SHOW "movabs rax=", rax
        mov rbx, rax
        db 0xA0                                 ; mov al, [qword 0x5003]
        dq 0x5003
        SHOW " al=", rax
        db 0x66, 0xA1                           ; mov ax, [qword 0x5006]
        dq 0x5006
        SHOW " ax=", rax
        mov eax, 0xCAFEF00D
        db 0xA3                                 ; mov [qword 0x5008], eax
        dq 0x5008
        mov rax, rbx
        db 0x48, 0xA3                           ; mov [qword 0x5010], rax
        dq 0x5010
        mov rax, [0x5008]
        SHOW " [5008]=", rax
        mov rax, [0x5010]
        SHOW " [5010]=", rax
        xor eax, eax
        db 0x67, 0xA1                           ; mov eax, [dword 0x5004]
        dd 0x5004
        SHOW " a32=", rax
        PRINT64 10
        mov dword [PDPT + 24], 0xC0000087       ; 3 GiB..4 GiB 1:1 for the APIC
        mov rax, cr3
        mov cr3, rax
        mov rax, -1
        db 0xA1                                 ; movabs 0xfee00020, %eax
        dq 0xFEE00020
        SHOW "apic id=", rax
        PRINT64 10

        ; ---- INVLPG of a non-canonical address does nothing
        lea rax, [rel .inv]
        mov [RESUME64], rax
        mov rax, 0x8000000000000000
        PRINT64 "invlpg non-canonical: "
        invlpg [rax]
        PRINT64 "no fault", 10
.inv:

        ; ---- ring 3 through IRETQ, which nulls GS (DPL 0) and keeps its base (from the MSR)
        mov rax, 0x00CFF3000000FFFF
        mov [GDT_RAM + 0x68], rax               ; 68 user data
        mov rax, 0x00AFFB000000FFFF
        mov [GDT_RAM + 0x70], rax               ; 70 user code 64
        mov qword [TSS64 + 4], 0x7F000          ; RSP0
        mov dword [GDT_RAM + SEL_TSS64], (TSS64 << 16) | 0x67
        mov dword [GDT_RAM + SEL_TSS64 + 4], 0x00008900
        mov qword [GDT_RAM + SEL_TSS64 + 8], 0
        lgdt [rel gdtr64]
        mov ax, SEL_TSS64
        ltr ax
        mov rax, 0x5347205341534547
        mov [GSMEM], rax
        mov ax, SEL_DATA                        ; DPL 0: the IRET to ring 3 nulls GS
        mov gs, ax
        mov ecx, 0xC0000101                     ; IA32_GS_BASE
        mov eax, GSMEM
        xor edx, edx
        wrmsr
        push SEL_UDATA64
        push 0x71800
        push 0x3002                             ; IOPL 3 for the OUTs of ring 3
        push SEL_UCODE64
        lea rax, [rel ring3]
        push rax
        iretq
ring3:  mov rax, [gs:0]
        SHOW "ring 3 [gs:0]=", rax
        mov ax, gs
        movzx eax, ax
        SHOW " gs=", rax
        PRINT64 10
        ; ENTER whose final RSP is in the supervisor page: #PF, nothing changed
        mov rbp, 0x1111
        PRINT64 "enter: "
        mov rsp, 0x71010                        ; ENTER's pushes fit, its final RSP does not
        enter 0x20, 0
        PRINT64 "no fault", 10
        int 0x41

; the #PF of ENTER arrives here (ring 0): the frame's RSP is the user RSP before ENTER
enter_pf:
        mov rax, [rsp + 24]
        SHOW " rsp=", rax
        SHOW " rbp=", rbp
        PRINT64 10
        int 0x41

back0:  mov ecx, 0xC0000101
        rdmsr
        shl rdx, 32
        or rax, rdx
        SHOW "ring 0 gs_base=", rax
        PRINT64 10, "done", 10
        mov al, 0
        out EXITPORT, al
        cli
        hlt

fault_gp:
        PRINT64 "#GP e="
        mov rax, [rsp]
        call hex64
        PRINT64 10
        add rsp, 8
        mov rax, [RESUME64]
        mov [rsp], rax
        iretq
fault_pf:
        PRINT64 "#PF e="
        mov rax, [rsp]
        call hex64
        PRINT64 " cr2="
        mov rax, cr2
        call hex64
        add rsp, 8
        jmp enter_pf

        align 8
idtr64: dw 256 * 16 - 1
        dq IDT64
gdtr64: dw 0x90 - 1
        dq GDT_RAM

        ROM_END
