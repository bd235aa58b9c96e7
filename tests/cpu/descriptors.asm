; Descriptor-table instructions and debug features in 32-bit protected mode:
; an LDT and selectors through it, LAR/LSL/VERR/VERW (valid and invalid
; selectors, ZF), ARPL, SGDT/SIDT/SLDT/STR/SMSW, a call gate that copies
; parameters to the inner stack, a conforming code segment called from
; ring 3, #NM with CR0.TS and CLTS, single-stepping with EFLAGS.TF (#DB and
; DR6.BS), an instruction breakpoint in DR0/DR7 (#DB, DR6.B0, RF to resume).
; bochs-cpu: atom_n270
%include "rom.inc"

%define USTACK 0x5000
%define KSTACK 0x6000
%define LDT_RAM 0x1800
%define SEL_LDT 0x60
%define SEL_CGATE3 0x6B     ; call gate with 2 parameters, DPL 3
%define SEL_CONF 0x70       ; conforming code, DPL 0
%define LSEL_DATA 0x0F      ; LDT entry 1, RPL 3: user data
%define COUNT 0x680

start:
        ENTER_PM32 pm
        bits 32

; prints ZF as 0/1 after a flag-setting instruction
%macro SHOWZF 0
        push eax
        setz al
        add al, '0'
        out DEBUGCON, al
        pop eax
%endmacro

pm:     call build_idt
        ; extra GDT entries: LDT descriptor, call gate, conforming code
        mov dword [GDT_RAM + SEL_LDT], (LDT_RAM << 16) | 0x0F
        mov dword [GDT_RAM + SEL_LDT + 4], 0x00008200
        mov eax, ABS(gate_target)
        mov [GDT_RAM + 0x68], ax
        mov word [GDT_RAM + 0x6A], SEL_CODE
        mov word [GDT_RAM + 0x6C], 0xEC02
        shr eax, 16
        mov [GDT_RAM + 0x6E], ax
        mov dword [GDT_RAM + SEL_CONF], 0x0000FFFF
        mov dword [GDT_RAM + SEL_CONF + 4], 0x00CF9F00
        ; LDT: entry 1 = user data (base 0x100000? no: base 0, limit 4G, DPL 3)
        mov dword [LDT_RAM], 0
        mov dword [LDT_RAM + 4], 0
        mov dword [LDT_RAM + 8], 0x0000FFFF
        mov dword [LDT_RAM + 12], 0x00CFF300
        mov ax, SEL_LDT
        lldt ax
        mov edi, TSS_RAM
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        mov dword [TSS_RAM + 4], KSTACK
        mov dword [TSS_RAM + 8], SEL_DATA
        mov ax, SEL_TSS
        ltr ax

        PRINT32 "lar "
        mov ax, SEL_CODE
        lar ebx, eax
        SHOWZF
        mov eax, ebx
        and eax, 0xFFF0FFFF             ; bits 19:16 are undefined (SDM)
        call hex32
        mov ax, LSEL_DATA
        lar ebx, eax
        mov al, ' '
        out DEBUGCON, al
        SHOWZF
        mov eax, ebx
        and eax, 0xFFF0FFFF
        call hex32
        mov ax, 0x1F8                   ; beyond the GDT limit
        lar ebx, eax
        mov al, ' '
        out DEBUGCON, al
        SHOWZF
        PRINT32 10, "lsl "
        mov ax, SEL_SMALL
        lsl ebx, eax
        SHOWZF
        mov eax, ebx
        call hex32
        mov ax, SEL_CODE
        lsl ebx, eax
        mov al, ' '
        out DEBUGCON, al
        mov eax, ebx
        call hex32
        PRINT32 10, "verr/verw "
        mov ax, SEL_CODE
        verr ax
        SHOWZF
        verw ax
        SHOWZF
        mov ax, SEL_DATA
        verw ax
        SHOWZF
        mov ax, SEL_NP
        verr ax
        SHOWZF
        PRINT32 10, "arpl "
        mov ax, 0x10
        mov bx, 0x23
        arpl ax, bx
        SHOWZF
        movzx eax, ax
        call hex32
        arpl ax, bx
        SHOWZF
        PRINT32 10, "sgdt "
        sgdt [0x700]
        movzx eax, word [0x700]
        call hex32
        mov eax, [0x702]
        call hex32
        PRINT32 " sidt "
        sidt [0x700]
        movzx eax, word [0x700]
        call hex32
        PRINT32 " sldt "
        sldt ax
        movzx eax, ax
        call hex32
        PRINT32 " str "
        str ax
        movzx eax, ax
        call hex32
        PRINT32 " smsw "
        smsw ax
        movzx eax, ax
        call hex32
        PRINT32 10

        ; #NM with CR0.TS, CLTS
        mov eax, cr0
        or eax, 8
        mov cr0, eax
        EXPECT_FAULT fld1
        clts
        fld1
        fstp st0
        PRINT32 "fpu after clts", 10

        ; single-step: TF set by POPF traps after the next instruction
        mov eax, ABS(db_count)
        mov [IDT_RAM + 1 * 8], ax
        shr eax, 16
        mov [IDT_RAM + 1 * 8 + 6], ax
        mov dword [COUNT], 0
        pushfd
        or dword [esp], 0x100
        popfd
        nop
        nop
        mov ecx, 3
.l:     loop .l
        pushfd
        and dword [esp], ~0x100
        popfd
        PRINT32 "single steps "
        mov eax, [COUNT]
        call hex32
        PRINT32 " dr6 "
        mov eax, dr6
        and eax, 0x400F
        call hex32
        PRINT32 10
        ; instruction breakpoint on bp_here
        xor eax, eax
        mov dr6, eax
        mov dword [COUNT], 0
        mov eax, ABS(bp_here)
        mov dr0, eax
        mov eax, 0x00000001            ; L0, execute, 1 byte
        mov dr7, eax
        mov eax, 5
bp_here:
        inc eax
        xor ebx, ebx
        mov dr7, ebx
        PRINT32 "breakpoint hits "
        mov eax, [COUNT]
        call hex32
        PRINT32 " dr6 "
        mov eax, dr6
        and eax, 0x400F
        call hex32
        PRINT32 10

        ; to ring 3, then a call gate with two parameters and a conforming segment
        push dword SEL_UDATA
        push dword USTACK
        push dword 0x002
        push dword SEL_UCODE
        push dword ABS(user)
        iret
user:   mov ax, LSEL_DATA
        mov ds, ax
        mov es, ax
        push dword 0x11111111
        push dword 0x22222222
        call SEL_CGATE3:0
        add esp, 8
        call SEL_CONF | 3:ABS(conforming)
        mov ax, SEL_UDATA
        mov ds, ax
        PRINT32 "done", 10
        EXIT32                          ; #GP in ring 3: the handler's resume is fatal -> exit

gate_target:
        PRINT32 "gate params "
        mov eax, [esp + 8]
        call hex32
        mov al, ' '
        out DEBUGCON, al
        mov eax, [esp + 12]
        call hex32
        PRINT32 " outer ss:esp "
        mov eax, [esp + 20]
        call hex8
        mov al, ':'
        out DEBUGCON, al
        mov eax, [esp + 16]
        call hex32
        PRINT32 " ds "
        mov ax, ds
        movzx eax, ax
        call hex32
        PRINT32 10
        retf 8

conforming:
        PRINT32 "conforming cs "
        mov ax, cs
        movzx eax, ax
        call hex32
        PRINT32 10
        retf

db_count:
        inc dword [COUNT]
        or dword [esp + 8], 0x10000    ; RF: do not hit the same breakpoint again
        iret

        ROM_END
