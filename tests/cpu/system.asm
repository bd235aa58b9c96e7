; Privilege transitions and system instructions in 32-bit protected mode:
; ring 0 -> 3 through IRET with a TSS stack switch, ring 3 -> 0 through
; interrupt gates (DPL 3) and a call gate, the #GP faults a ring-3 program
; gets (CLI, OUT, HLT, loading a DPL 0 selector, INT through a DPL 0 gate),
; a hardware task switch through a task gate and a far CALL to a TSS
; (back link, NT, busy bits), SYSENTER/SYSEXIT, CPUID feature bits and
; RDMSR/WRMSR (#GP on an unknown MSR).
; qemu-differs: 1 line(s) of expected/system.txt hold the hardware answer (see below)
; bochs-cpu: atom_n270
%include "rom.inc"

%define USTACK 0x5000
%define KSTACK 0x6000

start:
        ENTER_PM32 pm

        bits 32
pm:     call build_idt
        ; TSS 1: ring-0 stack
        mov edi, TSS_RAM
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        mov dword [TSS_RAM + 4], KSTACK
        mov dword [TSS_RAM + 8], SEL_DATA
        mov word [TSS_RAM + 0x66], 0x68 ; no I/O bitmap: OUT at CPL 3 > IOPL faults
        mov ax, SEL_TSS
        ltr ax
        SET_GATE 0x80, int80, 0xEE
        SET_GATE 0x81, int81, 0xEE
        SET_GATE 0x40, int80, 0x8E
        ; task gate 0x82 -> TSS 2
        mov dword [IDT_RAM + 0x82 * 8], SEL_TSS2 << 16
        mov dword [IDT_RAM + 0x82 * 8 + 4], 0x8500
        ; call gate (DPL 3, 32-bit, no parameters) -> gate_target
        mov eax, ABS(gate_target)
        mov [GDT_RAM + 0x58], ax
        mov word [GDT_RAM + 0x5A], SEL_CODE
        mov word [GDT_RAM + 0x5C], 0xEC00
        shr eax, 16
        mov [GDT_RAM + 0x5E], ax
        PRINT32 "ring 0", 10
        ; to ring 3
        push dword SEL_UDATA
        push dword USTACK
        push dword 0x002
        push dword SEL_UCODE
        push dword ABS(user)
        iret

user:   mov ax, SEL_UDATA
        mov ds, ax
        mov es, ax
        mov al, 'u'
        int 0x80
        call SEL_CGATE:0
        EXPECT_FAULT cli
        EXPECT_FAULT out DEBUGCON, al
        EXPECT_FAULT hlt
        mov ax, SEL_DATA
        EXPECT_FAULT mov ds, ax
        EXPECT_FAULT int 0x40
        mov al, 'v'
        int 0x80
        int 0x81

; prints AL and the privilege level it was called from
int80:  push eax
        PRINT32 "int80 "
        out DEBUGCON, al
        PRINT32 " from cpl "
        mov eax, [esp + 8]
        and al, 3
        add al, '0'
        out DEBUGCON, al
        PRINT32 10
        pop eax
        iret

gate_target:
        PRINT32 "call gate cpl "
        mov ax, cs
        and al, 3
        add al, '0'
        out DEBUGCON, al
        PRINT32 " caller cs "
        mov eax, [esp + 4]
        call hex8
        PRINT32 " ss "
        mov eax, [esp + 12]
        call hex8
        PRINT32 10
        retf

int81:  mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov esp, 0x7000
        PRINT32 "ring 0 again", 10

        ; task 2
        mov edi, TSS2_RAM
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        mov dword [TSS2_RAM + 0x20], ABS(task2)
        mov dword [TSS2_RAM + 0x24], 0x002
        mov dword [TSS2_RAM + 0x38], 0x4000
        mov dword [TSS2_RAM + 0x4C], SEL_CODE
        mov ax, SEL_DATA
        mov [TSS2_RAM + 0x48], ax
        mov [TSS2_RAM + 0x50], ax
        mov [TSS2_RAM + 0x54], ax
        mov [TSS2_RAM + 0x58], ax
        mov [TSS2_RAM + 0x5C], ax
        mov ebx, 0x1234
        int 0x82
        PRINT32 "task 1 again ebx "
        mov eax, ebx
        call hex32
        call show_busy
        call SEL_TSS2:0
        PRINT32 "task 1 after call", 10
        call show_busy

        ; SYSENTER / SYSEXIT
        mov ecx, 0x174
        xor edx, edx
        mov eax, SEL_CODE
        wrmsr
        inc ecx
        mov eax, 0x6800
        wrmsr
        inc ecx
        mov eax, ABS(sysenter_target)
        wrmsr
        mov ecx, 0x174
        rdmsr
        PRINT32 "sysenter_cs "
        call hex32
        PRINT32 10
        mov ecx, USTACK
        mov edx, ABS(user2)
        sysexit

user2:  mov ax, SEL_UDATA
        mov ds, ax
        mov al, 's'
        int 0x80
        sysenter

sysenter_target:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        PRINT32 "sysenter cpl "
        mov ax, cs
        and al, 3
        add al, '0'
        out DEBUGCON, al
        PRINT32 " esp "
        mov eax, esp
        call hex32
        PRINT32 10

        ; CPUID and MSRs
        mov eax, 1
        cpuid
        PRINT32 "cpuid.1.edx:"
        mov esi, ABS(feature_names)
        xor ecx, ecx
.feat:  movzx ecx, byte [esi]
        inc esi
        cmp cl, 0xFF
        je .fdone
        bt edx, ecx
        jnc .skip
        mov al, ' '
        out DEBUGCON, al
        call puts32
.skip:  lodsb
        test al, al
        jnz .skip
        jmp .feat
.fdone: PRINT32 10
        ; QEMU TCG reads unknown MSRs as 0 and prints "no fault" here; the
        ; expected file holds the hardware answer, #GP(0).
        mov ecx, 0x12345678
        EXPECT_FAULT rdmsr
        mov ecx, 0x10
        rdmsr
        PRINT32 "rdtsc msr read", 10
        PRINT32 "done", 10
        EXIT32

feature_names:
        db 0, "fpu", 0, 4, "tsc", 0, 5, "msr", 0, 6, "pae", 0, 8, "cx8", 0
        db 11, "sep", 0, 15, "cmov", 0, 23, "mmx", 0, 0xFF

; prints the type bytes of the two TSS descriptors (busy = 0x8B)
show_busy:
        PRINT32 " tss types "
        mov al, [GDT_RAM + SEL_TSS + 5]
        call hex8
        mov al, ' '
        out DEBUGCON, al
        mov al, [GDT_RAM + SEL_TSS2 + 5]
        call hex8
        PRINT32 10
        ret

task2:  PRINT32 "task 2 link "
        mov ax, [TSS2_RAM]
        call hex8
        PRINT32 " nt "
        pushfd
        pop eax
        shr eax, 14
        and al, 1
        add al, '0'
        out DEBUGCON, al
        PRINT32 " ebx "
        mov eax, ebx
        call hex32
        PRINT32 10
        mov ebx, 0x5678
        iret
        jmp task2

        ROM_END
