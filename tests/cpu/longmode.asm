; Long mode: real -> protected -> IA-32e mode (CR4.PAE, EFER.LME, CR0.PG:
; compatibility mode first, LMA in EFER), then a far jump to a 64-bit code
; segment. 64-bit code: REX arithmetic and byte registers, 32-bit writes that
; zero-extend, MOV r64, imm64, RIP-relative loads, MOVSXD, 64-bit
; PUSH/POP/CALL/RET, INT n through a 64-bit IDT gate (SS:RSP pushed) and
; IRETQ, a #GP with its error code for a non-canonical address, a #PF with
; CR2 in the 4-level table, a 2 MiB and a 1 GiB page (with their A/D bits),
; MUL/DIV/IMUL of 64 bits, CMPXCHG16B, REP MOVSQ/STOSQ, SSE on XMM8..15,
; LGDT with a 64-bit
; base, SYSRET to ring 3 and SYSCALL back (STAR/LSTAR/FMASK, RCX/R11),
; SWAPGS with KERNEL_GS_BASE, far JMP m16:64 and far CALL m16:32 to a code
; segment, CR8 as the APIC's TPR, CALL through 16-byte call gates (same ring; from ring 3 inward:
; RSP0 from a 64-bit TSS, a null SS, the old SS:RSP pushed), and a far
; return to compatibility-mode code and back. Every page is a user page (SYSRET runs ring-3 code there).
; QEMU's qemu64 model lacks 1 GiB pages, so the expected output is recorded with:
; qemu-bin: qemu-system-x86_64
; qemu-args: -cpu qemu64,+pdpe1gb
; bochs-cpu: corei7_haswell_4770
%include "rom.inc"

%define PML4 0x10000
%define PDPT 0x11000
%define PD 0x12000
%define PT 0x13000
%define IDT64 0x14000
%define SEL_CODE64 0x60
%define HOLE 0x1F0000           ; a not-present 4 KiB page
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
        mov dword [PT + (HOLE >> 12) * 8], 0
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

lm64:   mov rsp, 0x80008                ; deliberately not 16-byte aligned
        PRINT64 "64-bit mode", 10
        GATE64 13, fault_gp
        GATE64 14, fault_pf
        GATE64 0x40, soft_int
        lidt [rel idtr64]
        ; REX arithmetic
        mov rax, 0x123456789ABCDEF0
        mov r8, 0x0FEDCBA987654321
        add rax, r8
        SHOW "add=", rax
        mov r9, -1
        mov r9d, 0xFFFFFFFF             ; zero-extends
        add r9d, 1                      ; 0 with CF
        adc r9, 0x10
        SHOW " adc=", r9
        mov rsi, 0x1111111111111111
        mov sil, 0x5A                   ; SIL, not DH
        mov r12, 0x2222222222222222
        mov r12w, 0x3333
        SHOW " rsi=", rsi
        SHOW " r12=", r12
        mov rbx, 0x8000000000000000
        sub rbx, 1
        SHOW " sub=", rbx
        PRINT64 10
        ; RIP-relative, MOVSXD, imm64
        mov rax, [rel qval]
        SHOW "rip-rel=", rax
        movsxd rcx, dword [rel dval]
        SHOW " movsxd=", rcx
        mov r15, 0xFEDCBA9876543210
        sar r15, 8
        SHOW " sar=", r15
        PRINT64 10
        ; 64-bit stack
        mov r10, rsp
        push r10
        push qword -2
        pop r11
        pop r13
        call sub64
after_call:
        mov rbp, rax
        sub r10, rsp
        SHOW "push/pop=", r11
        SHOW " call=", rbp
        SHOW " rsp-delta=", r10
        PRINT64 10
        ; INT through a 64-bit gate and IRETQ
        mov r14, rsp
        int 0x40
        sub r14, rsp
        SHOW " after iretq rsp-delta=", r14
        PRINT64 10
        ; non-canonical -> #GP(0)
        lea rax, [rel after_gp]
        mov [RESUME64], rax
        mov rbx, 0x0000800000000000
        mov rax, [rbx]
        PRINT64 "no fault", 10
after_gp:
        ; #PF: read and write of a not-present page
        lea rax, [rel after_pf1]
        mov [RESUME64], rax
        mov rax, [HOLE + 0x123]
        PRINT64 "no fault", 10
after_pf1:
        lea rax, [rel after_pf2]
        mov [RESUME64], rax
        mov dword [HOLE + 0x456], 1
        PRINT64 "no fault", 10
after_pf2:
        ; the 2 MiB page (lin 2M -> phys 4M) seen through the 1 GiB page (lin 1G -> phys 0)
        mov rax, 0x5555666677778888
        mov [0x200010], rax
        mov rbx, 0x40400010
        mov rcx, [rbx]
        SHOW "2M/1G=", rcx
        mov eax, [PD + 8]
        and eax, 0xFFF
        SHOW " pde=", rax
        mov eax, [PDPT + 8]
        and eax, 0xFFF
        SHOW " pdpte=", rax
        PRINT64 10
        ; 64-bit multiply and divide
        mov rax, -1
        mov rbx, 3
        mul rbx
        mov r8, rdx
        SHOW "mul=", r8
        SHOW ":", rax
        div rbx
        SHOW " div=", rax
        mov rax, -7
        cqo
        mov rcx, 2
        idiv rcx
        SHOW " idiv=", rax
        SHOW ",", rdx
        mov r9, 0x100000000
        imul r10, r9, 0x12345
        SHOW " imul=", r10
        PRINT64 10
        ; CMPXCHG16B: a match, then a mismatch
        mov qword [0x5100], 1
        mov qword [0x5108], 2
        mov eax, 1
        mov edx, 2
        mov rbx, 0xAAAA
        mov rcx, 0xBBBB
        cmpxchg16b [0x5100]
        setz r8b
        movzx r8d, r8b
        SHOW "cx16 z=", r8
        mov rax, [0x5108]
        SHOW " hi=", rax
        xor eax, eax
        cmpxchg16b [0x5100]
        setz r8b
        movzx r8d, r8b
        SHOW " z=", r8
        SHOW " rax=", rax
        PRINT64 10
        ; REP MOVSQ / STOSQ
        lea rsi, [rel qval]
        mov rdi, 0x5200
        mov ecx, 2
        cld
        rep movsq
        mov rax, 0x0123456789ABCDEF
        mov ecx, 1
        rep stosq
        SHOW "movsq=", [0x5200]
        SHOW " ", [0x5208]
        SHOW " stosq=", [0x5210]
        SHOW " rdi=", rdi
        PRINT64 10
        ; SSE with XMM8..15 (REX.R/REX.B) and a RIP-relative operand
        movdqu xmm9, [rel qval]
        movdqa xmm14, xmm9
        paddq xmm14, xmm9
        pshufd xmm8, xmm14, 0x4E
        movdqu [0x5400], xmm8
        movd r13d, xmm14
        SHOW "sse=", [0x5400]
        SHOW " ", [0x5408]
        SHOW " movd=", r13
        PRINT64 10
        ; a bigger GDT (64-bit base) with ring-0 data and ring-3 descriptors for SYSRET
        mov rax, 0x00CF93000000FFFF
        mov [GDT_RAM + 0x68], rax       ; 68 kernel data
        mov rax, 0x00CFFB000000FFFF
        mov [GDT_RAM + 0x70], rax       ; 70 user code 32
        mov rax, 0x00CFF3000000FFFF
        mov [GDT_RAM + 0x78], rax       ; 78 user data
        mov rax, 0x00AFFB000000FFFF
        mov [GDT_RAM + 0x80], rax       ; 80 user code 64
        lgdt [rel gdtr64]
        ; SYSRET to ring 3, SYSCALL back
        mov ecx, 0xC0000080
        rdmsr
        or eax, 1                       ; SCE
        wrmsr
        mov ecx, 0xC0000081             ; STAR: SYSCALL CS 0x60, SYSRET base 0x70
        xor eax, eax
        mov edx, 0x00700060
        wrmsr
        mov ecx, 0xC0000082             ; LSTAR
        lea rax, [rel sys_entry]
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, 0xC0000084             ; FMASK: DF
        mov eax, 0x400
        xor edx, edx
        wrmsr
        mov ecx, 0xC0000102             ; KERNEL_GS_BASE
        mov eax, 0x5300
        xor edx, edx
        wrmsr
        mov rax, 0x4B65726E656C4753
        mov [0x5310], rax
        lea rcx, [rel ring3]
        mov r11, 0x3002                 ; IOPL 3 for the OUTs of ring 3
        o64 sysret
ring3:  mov ax, cs
        movzx eax, ax
        SHOW "ring3 cs=", rax
        mov ax, ss
        movzx eax, ax
        SHOW " ss=", rax
        PRINT64 10
        std
        syscall
after_syscall:
sys_entry:
        mov r12, rcx
        lea rax, [rel after_syscall]
        sub r12, rax
        mov ax, cs
        movzx eax, ax
        SHOW "syscall cs=", rax
        SHOW " rcx-ok=", r12
        SHOW " r11=", r11
        pushfq
        pop rax
        SHOW " rflags=", rax
        swapgs
        mov rax, [gs:0x10]
        SHOW " swapgs=", rax
        PRINT64 10
        ; CR8 is the local APIC's TPR[7:4] (3 GiB..4 GiB mapped 1:1 for the APIC)
        mov dword [PDPT + 24], 0xC0000087
        mov rax, cr3
        mov cr3, rax
        mov rbx, 0xFEE00080
        mov eax, 5
        mov cr8, rax
        mov eax, [rbx]
        SHOW "cr8->tpr=", rax
        mov dword [rbx], 0x3C
        mov rax, cr8
        SHOW " tpr->cr8=", rax
        xor eax, eax
        mov cr8, rax
        PRINT64 10
        ; far JMP m16:64 (REX.W) and far CALL m16:32 to a code segment
        lea rax, [rel fjmp64]
        mov [0x5500], rax
        mov word [0x5508], SEL_CODE64
        db 0x48, 0xFF, 0x2C, 0x25, 0x00, 0x55, 0x00, 0x00 ; jmp far qword [0x5500]
fjmp64: mov ax, cs
        movzx eax, ax
        SHOW "ljmp m16:64 cs=", rax
        lea rax, [rel fcall32]
        mov [0x5510], eax
        mov word [0x5514], SEL_CODE64
        mov r12, rsp
        db 0xFF, 0x1C, 0x25, 0x10, 0x55, 0x00, 0x00 ; call far dword [0x5510]
after_fcall:
        PRINT64 10
        ; call gates (16 bytes): 0x88 DPL 0 to gate0, 0x98 DPL 3 to gate3; a 64-bit TSS at 0xA8
        lea rax, [rel gate0]
        mov rbx, 0x88
        call put_gate
        lea rax, [rel gate3]
        mov rbx, 0x98
        call put_gate
        or byte [GDT_RAM + 0x98 + 5], 0x60  ; DPL 3
        mov qword [0x5804], 0x5C00          ; TSS.RSP0
        mov dword [GDT_RAM + 0xA8], 0x58000067
        mov dword [GDT_RAM + 0xAC], 0x00008900
        mov qword [GDT_RAM + 0xB0], 0
        mov word [0x5540], 0xB8 - 1
        mov qword [0x5542], GDT_RAM
        lgdt [0x5540]
        mov ax, 0xA8
        ltr ax
        mov word [0x5528], 0x88
        mov r12, rsp
        db 0x48, 0xFF, 0x1C, 0x25, 0x20, 0x55, 0x00, 0x00 ; call far qword [0x5520]: the gate
        ; SYSRET to ring 3 again; a CALL through the DPL 3 gate comes back to ring 0
        lea rcx, [rel ring3b]
        mov r11, 0x3002
        o64 sysret
ring3b: mov r13, rsp
        mov word [0x5538], 0x9B
        db 0x48, 0xFF, 0x1C, 0x25, 0x30, 0x55, 0x00, 0x00 ; call far qword [0x5530]
        ud2
gate3:  mov ax, cs
        movzx eax, ax
        SHOW "inward gate cs=", rax
        mov ax, ss
        movzx eax, ax
        SHOW " ss=", rax
        mov r8, rsp
        mov r9, [rsp + 24]
        mov r10, [rsp + 8]
        SHOW " rsp=", r8
        SHOW " old-ss=", r9
        SHOW " old-cs=", r10
        xor eax, eax
        cmp [rsp + 16], r13
        sete al
        SHOW " old-rsp-ok=", rax
        PRINT64 10
        mov ax, 0x68
        mov ss, ax
        ; to compatibility mode and back
        push SEL_CODE
        lea rax, [rel compat]
        push rax
        o64 retf
        bits 32
compat: mov eax, 0x12345678
        PRINT32 "compat "
        call hex32
        PRINT32 10
        jmp dword SEL_CODE64:ABS(back64)
        bits 64
back64: mov rax, 0xFFFFFFFF00000000
        or rax, 1
        SHOW "back in 64-bit ", rax
        PRINT64 10, "done", 10
        mov al, 0
        out EXITPORT, al
        cli
        hlt

fcall32:                                ; reached by a far CALL m16:32: 4-byte RIP and CS
        lea rdx, [rel after_fcall]
        xor eax, eax
        cmp [rsp], edx
        sete al
        SHOW " lcall m16:32 ret-ok=", rax
        movzx eax, word [rsp + 4]
        SHOW " cs=", rax
        mov rax, r12
        sub rax, rsp
        SHOW " pushed=", rax
        retf

gate0:  mov rax, [rsp + 8]              ; through a DPL 0 gate: 8-byte CS and RIP
        SHOW "gate cs=", rax
        mov rax, r12
        sub rax, rsp
        SHOW " pushed=", rax
        PRINT64 10
        o64 retf

put_gate:                               ; a 16-byte call gate at GDT_RAM + rbx to SEL_CODE64:rax
        mov rdx, rax
        and edx, 0xFFFF
        or edx, SEL_CODE64 << 16
        mov [GDT_RAM + rbx], edx
        mov rdx, rax
        and edx, 0xFFFF0000
        or edx, 0x8C00
        mov [GDT_RAM + rbx + 4], edx
        shr rax, 32
        mov [GDT_RAM + rbx + 8], eax
        mov dword [GDT_RAM + rbx + 12], 0
        ret

sub64:  mov rax, [rsp]                  ; the return address
        lea rdx, [rel after_call]
        sub rax, rdx                    ; 0 when CALL pushed 8 bytes of RIP
        ret

soft_int:
        PRINT64 "int40 frame: cs="
        mov rax, [rsp + 8]
        call hex64
        PRINT64 " ss="
        mov rax, [rsp + 32]
        call hex64
        PRINT64 " rsp-ok="
        mov rdx, rsp
        and edx, 15
        cmp [rsp + 24], r14
        sete al
        movzx eax, al
        call hex64
        PRINT64 " aligned="
        mov rax, rdx
        call hex64
        iretq

fault_gp:
        PRINT64 "#GP e="
        mov rax, [rsp]
        jmp fault_common64
fault_pf:
        PRINT64 "#PF e="
        mov rax, [rsp]
        call hex64
        PRINT64 " cr2="
        mov rax, cr2
fault_common64:
        call hex64
        PRINT64 10
        add rsp, 8
        mov rax, [RESUME64]
        mov [rsp], rax
        iretq

        align 8
qval:   dq 0x1122334455667788
dval:   dd 0x80000001
idtr64: dw 256 * 16 - 1
        dq IDT64
gdtr64: dw 0x88 - 1
        dq GDT_RAM

        ROM_END
