; MMIO on both CPU backends, in 32-bit protected mode without paging: the
; local APIC (0xFEE00000: version, TPR write and read back, a byte read, an
; ALU instruction with an MMIO operand, REP MOVSD out of MMIO), the IOAPIC's
; index/data window (0xFEC00000), an unmapped address (reads all ones,
; writes dropped), and writes to ROM (the BIOS at 0xFFFF0000 and its copy at
; 0xF0000) that must not change it.
%include "rom.inc"

%define LAPIC 0xFEE00000
%define IOAPIC 0xFEC00000

start:
        ENTER_PM32 pm
        bits 32
%macro SHOW 1+
        PRINT32 %1
        call hex32
        PRINT32 10
%endmacro
pm:     mov eax, [LAPIC + 0x30]
        SHOW "lapic version: "
        mov dword [LAPIC + 0x80], 0x20
        mov eax, [LAPIC + 0x80]
        SHOW "lapic tpr after writing 20: "
        movzx eax, byte [LAPIC + 0x30]
        SHOW "lapic version, byte read: "
        mov eax, 0x1000
        add eax, [LAPIC + 0x80]
        SHOW "1000 + tpr with an mmio operand: "
        mov esi, LAPIC + 0x30
        mov edi, 0x2000
        mov ecx, 1
        cld
        rep movsd
        mov eax, [0x2000]
        SHOW "rep movsd from mmio: "
        mov dword [IOAPIC], 1
        mov eax, [IOAPIC + 0x10]
        SHOW "ioapic version: "
        mov eax, [0xE0000000]
        SHOW "unmapped read: "
        mov dword [0xE0000000], 0x12345678
        mov eax, [0xE0000000]
        SHOW "unmapped after a write: "
        mov eax, [0xFFFF0000]
        mov ebx, eax
        not dword [0xFFFF0000]
        cmp eax, [0xFFFF0000]
        sete al
        movzx eax, al
        SHOW "bios rom unchanged by a write: "
        mov eax, [ROMBASE + 0x100]
        mov dword [ROMBASE + 0x100], 0
        cmp eax, [ROMBASE + 0x100]
        sete al
        movzx eax, al
        SHOW "rom at f0000 unchanged by a write: "
        mov dword [0x3000], 0xA5A5A5A5
        mov word [0x3000], 0x1234
        mov byte [0x3003], 0x56
        mov eax, [0x3000]
        SHOW "ram after dword, word, byte writes: "
        EXIT32

        ROM_END
