; Mode transitions on both CPU backends: real mode -> 32-bit protected mode
; (flat segments) -> paging with 4 KiB pages (one page aliased elsewhere) ->
; a 4 MiB page (CR4.PSE) -> paging off -> back to real mode. No IRET, no
; descriptor-table instructions beyond LGDT: only what the transitions need.
; kvm-needs: full (paging: a nested KVM seen here refuses CR0.PG with a shutdown)
%include "rom.inc"

%define PD 0x10000
%define PT 0x11000

start:
        PRINT16 "real mode", 10
        ENTER_PM32 pm
        bits 32
pm:     PRINT32 "protected mode cr0="
        mov eax, cr0
        and eax, 0x8000001F
        call hex32
        PRINT32 10
        mov edi, PD                             ; identity map of the first 4 MiB
        xor eax, eax
        mov ecx, 0x2000 / 4
        rep stosd
        mov dword [PD], PT | 3
        mov edi, PT
        mov eax, 3
        mov ecx, 1024
.pt:    stosd
        add eax, 0x1000
        loop .pt
        mov dword [PT + 0x90 * 4], 0x00081003   ; linear 0x90000 -> physical 0x81000
        mov dword [0x81000], 0x5A5A1234
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        PRINT32 "paging on, alias reads "
        mov eax, [0x90000]
        call hex32
        mov dword [0x90004], 0x77777777         ; write through the alias
        PRINT32 10, "physical page reads "
        mov eax, [0x81004]
        call hex32
        PRINT32 10
        mov eax, cr4
        or eax, 0x10                            ; PSE
        mov cr4, eax
        mov dword [PD + 4], 0x00000083          ; linear 4 MiB -> physical 0, 4 MiB page
        mov eax, cr3
        mov cr3, eax
        PRINT32 "4 MiB page reads "
        mov eax, [0x400000 + 0x81004]
        call hex32
        PRINT32 10
        mov eax, cr0                            ; paging off, then back to real mode
        and eax, 0x7FFFFFFF
        mov cr0, eax
        jmp SEL_CODE16:.pm16                    ; 16-bit code segment, base F0000
        bits 16
.pm16:  mov ax, SEL_DATA16
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, cr0
        and al, 0xFE
        mov cr0, eax
        jmp 0xF000:.real
.real:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        PRINT16 "real mode again, "
        mov ax, 0x8100
        mov ds, ax
        mov eax, [0x0004]
        cmp eax, 0x77777777
        jne .bad
        PRINT16 "memory kept", 10
        jmp .out
.bad:   PRINT16 "memory lost", 10
.out:   mov al, 0
        out EXITPORT, al
        cli
        hlt

        ROM_END
