; IA-32 programs under a 64-bit kernel: the entries and returns between
; compatibility-mode ring 3 and 64-bit ring 0 that a 64-bit Linux uses for
; 32-bit programs, each checked against the SDM's pseudo-code (vol. 2):
; SYSRET without REX.W to compatibility code (CS = STAR[63:48], SS + 8),
; SYSCALL from compatibility mode (#UD on Intel, whose model the core presents:
; QEMU TCG goes to IA32_CSTAR as AMD parts do, the one declared difference),
; SYSENTER from compatibility mode with 64-bit SYSENTER_ESP/EIP (above 4 GiB:
; the entry is 64-bit code, nothing truncated), SYSEXIT to compatibility code
; and with REX.W to 64-bit code, INT 0x80 from compatibility code through a
; 64-bit IDT gate (SS:RSP from TSS.RSP0, 8-byte frame) and IRETQ back, CALL
; FAR m16:32 from compatibility code through a 16-byte call gate (8-byte
; pushes, null SS) and RETF outward from 64-bit ring 0 to compatibility
; ring 3, IRETQ 64 -> 32 at ring 0 (SS:RSP popped at the same privilege), and
; IRETD in compatibility mode to the same privilege (three values popped: the
; IA-32e path pops SS:RSP only for an IRET that began in 64-bit mode).
; qemu-bin: qemu-system-x86_64
; qemu-args: -cpu qemu64,vendor=GenuineIntel
; qemu-differs: 1 (SYSCALL in compatibility mode: QEMU goes to CSTAR)
%include "rom.inc"

%define PML4 0x10000
%define PDPT 0x11000
%define PD 0x12000
%define PT 0x13000
%define IDT64 0x14000
%define HIGH 0x0000008000000000 ; PML4[1]: the same first GiB again, above 4 GiB
%define KCODE64 0x60            ; SYSENTER_CS, STAR[47:32]
%define KDATA 0x68
%define UCODE32 0x73            ; STAR[63:48] | 3 and SYSENTER_CS + 16
%define UDATA 0x7B
%define UCODE64 0x83            ; SYSENTER_CS + 32
%define UDATA64 0x8B            ; SYSENTER_CS + 40
%define CGATE 0x93              ; 16-byte call gate, DPL 3, to KCODE64:cgate_entry
%define TSS64 0xA0
%define STAGE 0x5000            ; which SYSENTER this is
%define RESUME64 0x5008         ; where #UD resumes
%define FARPTR 0x5010
%define USTACK 0x70000
%define KSTACK 0x80000

start:
        ENTER_PM32 pm
        bits 32
pm:     mov edi, PML4
        xor eax, eax
        mov ecx, 0x5000 / 4
        rep stosd
        mov dword [PML4], PDPT | 7
        mov dword [PML4 + 8], PDPT | 7
        mov dword [PDPT], PD | 7
        mov dword [PD], PT | 7
        mov edi, PT
        mov eax, 7
        mov ecx, 512
.pt:    stosd
        add edi, 4
        add eax, 0x1000
        loop .pt
        ; GDT: 60 kernel code 64, 68 kernel data, 70 user code 32, 78 user data,
        ; 80 user code 64, 88 user data, 90 call gate (16), A0 64-bit TSS (16)
        mov dword [GDT_RAM + 0x60], 0x0000FFFF
        mov dword [GDT_RAM + 0x64], 0x00AF9B00
        mov dword [GDT_RAM + 0x68], 0x0000FFFF
        mov dword [GDT_RAM + 0x6C], 0x00CF9300
        mov dword [GDT_RAM + 0x70], 0x0000FFFF
        mov dword [GDT_RAM + 0x74], 0x00CFFB00
        mov dword [GDT_RAM + 0x78], 0x0000FFFF
        mov dword [GDT_RAM + 0x7C], 0x00CFF300
        mov dword [GDT_RAM + 0x80], 0x0000FFFF
        mov dword [GDT_RAM + 0x84], 0x00AFFB00
        mov dword [GDT_RAM + 0x88], 0x0000FFFF
        mov dword [GDT_RAM + 0x8C], 0x00CFF300
        mov eax, ABS(cgate_entry)
        mov edx, eax
        and edx, 0xFFFF
        or edx, KCODE64 << 16
        mov [GDT_RAM + 0x90], edx
        and eax, 0xFFFF0000
        or eax, 0xEC00                          ; present, DPL 3, type C
        mov [GDT_RAM + 0x94], eax
        mov dword [GDT_RAM + 0x98], 0
        mov dword [GDT_RAM + 0x9C], 0
        mov dword [GDT_RAM + 0xA0], 0x58000067  ; TSS at 0x5800
        mov dword [GDT_RAM + 0xA4], 0x00008900
        mov dword [GDT_RAM + 0xA8], 0
        mov dword [GDT_RAM + 0xAC], 0
        mov edi, 0x5800
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        mov dword [0x5804], 0x5C00              ; RSP0
        mov word [0x5866], 0x68                 ; no I/O bitmap
        mov dword [STAGE], 0
        mov eax, cr4
        or eax, 0x20                            ; PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xC0000080
        rdmsr
        or eax, 0x101                           ; LME, SCE
        wrmsr
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp dword KCODE64:ABS(lm64)

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

%macro SHOW 2
        PRINT64 %1
        push rax
        mov rax, %2
        call hex64
        pop rax
%endmacro

; a 64-bit interrupt gate for vector %1 to %2 with DPL %3
%macro GATE64 3
        lea rax, [rel %2]
        mov [IDT64 + %1 * 16], ax
        mov word [IDT64 + %1 * 16 + 2], KCODE64
        mov word [IDT64 + %1 * 16 + 4], 0x8E00 | (%3 << 13)
        shr rax, 16
        mov [IDT64 + %1 * 16 + 6], ax
        shr rax, 16
        mov [IDT64 + %1 * 16 + 8], eax
        mov dword [IDT64 + %1 * 16 + 12], 0
%endmacro

lm64:   mov rsp, KSTACK
        mov ax, KDATA
        mov ss, ax
        lgdt [rel gdtr64]
        mov ax, TSS64
        ltr ax
        GATE64 6, fault_ud, 0
        GATE64 13, fault_gp, 0
        GATE64 14, fault_pf, 0
        GATE64 0x80, int80, 3
        lidt [rel idtr64]
        mov ecx, 0xC0000081             ; STAR: SYSCALL CS 0x60, SYSRET base 0x70
        xor eax, eax
        mov edx, 0x00700060
        wrmsr
        mov ecx, 0xC0000082             ; LSTAR (not used: 64-bit SYSCALL is longmode.asm's)
        lea rax, [rel fault_gp]
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, 0xC0000083             ; CSTAR: where AMD parts (and QEMU) take a compat SYSCALL
        lea rax, [rel cstar_entry]
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, 0xC0000084             ; FMASK
        xor eax, eax
        xor edx, edx
        wrmsr
        mov ecx, 0x174                  ; SYSENTER_CS
        mov eax, KCODE64
        xor edx, edx
        wrmsr
        mov ecx, 0x175                  ; SYSENTER_ESP above 4 GiB
        mov rax, HIGH + 0x6F00
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, 0x176                  ; SYSENTER_EIP above 4 GiB
        mov rax, HIGH + ABS(sysenter_entry)
        mov rdx, rax
        shr rdx, 32
        wrmsr
        PRINT64 "64-bit kernel", 10
        ; SYSRET (no REX.W) to compatibility code at ECX, ring 3, IOPL 3 for the OUTs
        mov ecx, ABS(u32_sysret)
        mov r11, 0x3002
        mov rsp, USTACK
        sysret

        bits 32
; 32-bit print of "name=" and eax
%macro SHOW32 2
        PRINT32 %1
        push eax
        mov eax, %2
        call hex32
        pop eax
%endmacro

; eax = 0 in compatibility mode (48 is DEC EAX), 1 in 64-bit mode (48 is REX.W)
%macro MODE32 0
        mov eax, 1
        db 0x48
        nop
%endmacro

u32_sysret:
        mov ax, UDATA
        mov ds, ax
        mov es, ax
        xor eax, eax
        mov ax, cs
        SHOW32 "sysret32 cs=", eax
        mov ax, ss
        SHOW32 " ss=", eax
        MODE32
        SHOW32 " mode64=", eax
        PRINT32 10
        ; SYSCALL from compatibility mode: #UD on Intel
        mov dword [RESUME64], ABS(after_syscall32)
        syscall
        PRINT32 "no fault", 10
after_syscall32:
        ; SYSENTER from compatibility mode
        mov ebp, esp
        sysenter
        ud2

u32_sysexit:
        xor eax, eax
        mov ax, cs
        SHOW32 "sysexit cs=", eax
        mov ax, ss
        SHOW32 " ss=", eax
        mov edi, esp
        SHOW32 " esp=", edi
        MODE32
        SHOW32 " mode64=", eax
        PRINT32 10
        sysenter                        ; stage 1: back with o64 sysexit
        ud2

        bits 64
u64_sysexit:
        mov ax, cs
        movzx eax, ax
        SHOW "sysexit64 cs=", rax
        mov ax, ss
        movzx eax, ax
        SHOW " ss=", rax
        mov r8, rsp
        SHOW " rsp=", r8
        lea rax, [rel $]
        shr rax, 32
        SHOW " rip-hi=", rax
        PRINT64 10
        ; 64-bit ring 3 -> compatibility ring 3 by a far return at the same privilege
        mov rsp, USTACK
        push UCODE32
        mov eax, ABS(u32_int80)
        push rax
        o64 retf

        bits 32
u32_int80:
        MODE32
        SHOW32 "retf64->32 mode64=", eax
        PRINT32 10
        mov esi, esp
        mov eax, 0x1234
        int 0x80
after_int80:
        sub esi, esp
        SHOW32 "after iretq esp-delta=", esi
        SHOW32 " eax=", eax
        PRINT32 10
        ; CALL FAR m16:32 through the 16-byte call gate (the offset is ignored)
        mov dword [FARPTR], 0xDEADBEEF
        mov word [FARPTR + 4], CGATE
        mov esi, esp
        call far [FARPTR]
u32_after_gate:
        xor eax, eax
        mov ax, cs
        SHOW32 "retf outward cs=", eax
        mov ax, ss
        SHOW32 " ss=", eax
        sub esi, esp
        SHOW32 " esp-delta=", esi
        MODE32
        SHOW32 " mode64=", eax
        PRINT32 10
        sysenter                        ; stage 2: the ring-0 IRETs
        ud2

        bits 64
sysenter_entry:
        cmp dword [STAGE], 1
        je .stage1
        ja .stage2
        mov ax, cs
        movzx eax, ax
        SHOW "sysenter cs=", rax
        mov ax, ss
        movzx eax, ax
        SHOW " ss=", rax
        mov r8, rsp
        SHOW " rsp=", r8
        lea rax, [rel $]
        shr rax, 32
        SHOW " rip-hi=", rax
        pushfq
        pop rax
        SHOW " rflags=", rax
        mov rax, 0x123456789
        shr rax, 32
        SHOW " mode64=", rax
        PRINT64 10
        mov dword [STAGE], 1
        mov ecx, USTACK - 0x100
        mov edx, ABS(u32_sysexit)
        sysexit
.stage1:
        mov dword [STAGE], 2
        mov rcx, HIGH + USTACK - 0x200
        mov rdx, HIGH + ABS(u64_sysexit)
        o64 sysexit
.stage2:
        ; IRETQ from 64-bit ring 0 to compatibility ring 0 (CS 08, SS 10): SS:RSP popped
        mov rsp, KSTACK
        push qword SEL_DATA
        push qword KSTACK - 0x40
        push qword 0x3002
        push qword SEL_CODE
        push qword ABS(k32_iretq)
        iretq

        bits 32
k32_iretq:
        xor eax, eax
        mov ax, cs
        SHOW32 "iretq->32 cs=", eax
        mov ax, ss
        SHOW32 " ss=", eax
        mov edi, esp
        SHOW32 " esp=", edi
        MODE32
        SHOW32 " mode64=", eax
        PRINT32 10
        ; IRETD in compatibility mode, same privilege, to 64-bit code: EIP, CS, EFLAGS only
        push dword KDATA
        push dword KSTACK - 0x80
        push dword 0x3002
        push dword KCODE64
        push dword ABS(k64_iretd)
        iretd

        bits 64
k64_iretd:
        mov ax, cs
        movzx eax, ax
        SHOW "iretd(compat) cs=", rax
        mov ax, ss
        movzx eax, ax
        SHOW " ss=", rax
        mov r8, rsp
        SHOW " rsp=", r8
        MODE32
        SHOW " mode64=", rax
        PRINT64 10, "done", 10
        mov al, 0
        out EXITPORT, al
        cli
        hlt

int80:  mov rbx, rsp
        SHOW "int80 frame cs=", [rbx + 8]
        SHOW " ss=", [rbx + 32]
        xor eax, eax
        cmp [rbx + 24], esi
        sete al
        SHOW " rsp-ok=", rax
        mov rax, [rbx]
        mov edx, ABS(after_int80)
        sub rax, rdx
        SHOW " rip-delta=", rax
        SHOW " kernel-rsp=", rbx
        mov ax, cs
        movzx eax, ax
        SHOW " cs=", rax
        PRINT64 10
        mov eax, 0x5678
        iretq

cgate_entry:
        mov ax, cs
        movzx eax, ax
        SHOW "call gate cs=", rax
        mov ax, ss
        movzx eax, ax
        SHOW " ss=", rax
        mov rbx, rsp
        SHOW " rsp=", rbx
        mov rax, [rbx]
        mov edx, ABS(u32_after_gate)
        sub rax, rdx
        SHOW " rip-delta=", rax
        SHOW " old-cs=", [rbx + 8]
        SHOW " old-ss=", [rbx + 24]
        xor eax, eax
        cmp [rbx + 16], esi
        sete al
        SHOW " old-rsp-ok=", rax
        PRINT64 10
        o64 retf                        ; outward: RIP, CS, RSP, SS

cstar_entry:                            ; AMD's compat SYSCALL: back with SYSRETL
        PRINT64 "cstar", 10
        mov ecx, [RESUME64]
        mov r11, 0x3002
        sysret

fault_ud:
        mov rbx, rsp
        SHOW "#UD cs=", [rbx + 8]
        PRINT64 10
        mov eax, [RESUME64]
        mov [rsp], rax
        iretq
fault_gp:
        mov rbx, rsp
        SHOW "#GP e=", [rbx]
        SHOW " rip=", [rbx + 8]
        jmp stop
fault_pf:
        mov rbx, rsp
        SHOW "#PF e=", [rbx]
        mov rax, cr2
        SHOW " cr2=", rax
stop:   PRINT64 10, "stopped", 10
        mov al, 1
        out EXITPORT, al
        cli
        hlt

        align 8
idtr64: dw 256 * 16 - 1
        dq IDT64
gdtr64: dw 0xB0 - 1
        dq GDT_RAM

        ROM_END
