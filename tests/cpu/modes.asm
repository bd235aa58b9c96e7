; Processor modes and code that changes under the CPU's feet: 16-bit
; protected mode, unreal mode (a 4 GiB FS limit kept back in real mode),
; virtual-8086 mode entered through IRET and left by a #GP (CLI with IOPL 0)
; with the V86 segment registers in the ring-0 frame, self-modifying code
; (a patched routine and a store into the next instruction), and REP MOVSD
; interrupted by a #PF whose handler maps the page and resumes it.
; A20 masking is the board's (port 0x92) and is not tested here.
; bochs-cpu: atom_n270
%include "rom.inc"

%define KSTACK 0x6000
%define PD 0x10000
%define PT 0x11000

        bits 16
; print eax as 8 hex digits from 16-bit code
hex16:  push eax
        push cx
        push edx
        mov edx, eax
        mov cx, 8
.dig:   rol edx, 4
        mov al, dl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '9' - 1
.out:   out DEBUGCON, al
        loop .dig
        pop edx
        pop cx
        pop eax
        ret

start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov es, ax
        push cs
        pop ds
        mov si, gdt
        mov di, GDT_RAM
        mov cx, gdt_end - gdt
        cld
        rep movsb
        lgdt [cs:gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp SEL_CODE16:pm16
pm16:   mov ax, SEL_DATA
        mov fs, ax
        mov ax, SEL_DATA16
        mov ss, ax
        mov ds, ax
        mov es, ax
        PRINT16 "pm16 cs="
        mov ax, cs
        movzx eax, ax
        call hex16
        PRINT16 10
        mov eax, cr0
        and al, 0xFE
        mov cr0, eax
        jmp 0xF000:real
real:   xor ax, ax
        mov ss, ax
        mov ebx, 0x200000
        mov dword [fs:ebx], 0x12345678
        mov eax, [fs:ebx]
        PRINT16 "unreal "
        call hex16
        xor ax, ax
        mov fs, ax
        add dword [fs:ebx], 0x11111111
        mov eax, [fs:ebx]
        PRINT16 " after reload "
        call hex16
        PRINT16 10
        ENTER_PM32 pm32

        bits 32
pm32:   call build_idt
        mov edi, TSS_RAM
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        mov dword [TSS_RAM + 4], KSTACK
        mov dword [TSS_RAM + 8], SEL_DATA
        mov word [TSS_RAM + 0x66], 0x68
        mov ax, SEL_TSS
        ltr ax
        ; #GP gate -> v86_gp
        mov eax, ABS(v86_gp)
        mov [IDT_RAM + 13 * 8], ax
        shr eax, 16
        mov [IDT_RAM + 13 * 8 + 6], ax
        push dword 0            ; gs
        push dword 0            ; fs
        push dword 0x2000       ; ds
        push dword 0x3000       ; es
        push dword 0            ; ss
        push dword 0x7800       ; sp
        push dword 0x20002      ; eflags: VM, IOPL 0
        push dword 0xF000       ; cs
        push dword v86code      ; ip
        iret

        bits 16
v86code:
        mov ax, 0x1234
        mov ds, ax
        mov word [0x10], 0xBEEF
        mov ax, 0x4321
        mov es, ax
        cli

        bits 32
v86_gp: mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        PRINT32 "#GP from v86 e="
        mov eax, [esp]
        call hex32
        PRINT32 " cs:ip="
        mov eax, [esp + 8]
        call hex32
        mov al, ':'
        out DEBUGCON, al
        mov eax, [esp + 4]
        sub eax, v86code
        call hex32
        PRINT32 " vm="
        mov eax, [esp + 12]
        shr eax, 17
        and eax, 1
        call hex8
        PRINT32 " es="
        mov eax, [esp + 24]
        call hex32
        PRINT32 " ds="
        mov eax, [esp + 28]
        call hex32
        PRINT32 " word="
        movzx eax, word [0x12350]
        call hex32
        PRINT32 10
        mov esp, 0x7000
        call build_idt

        ; self-modifying code in RAM at 0x8000: mov eax, imm32; ret
        mov byte [0x8000], 0xB8
        mov dword [0x8001], 1
        mov byte [0x8005], 0xC3
        mov eax, 0x8000
        call eax
        PRINT32 "smc "
        call hex32
        mov dword [0x8001], 2
        mov eax, 0x8000
        call eax
        PRINT32 " "
        call hex32
        ; a store into the very next instruction
        mov esi, ABS(smc_next)
        mov edi, 0x8100
        mov ecx, smc_next_end - smc_next
        rep movsb
        mov eax, 0x8100
        call eax
        PRINT32 " "
        call hex32
        PRINT32 10

        ; REP MOVSD across a not-present page, fixed by the #PF handler
        mov edi, PD
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
        mov dword [PT + 0x40 * 4], 0x40002      ; 0x40000: not present
        mov edi, 0x20000
        mov ecx, 0x80
        mov eax, 0x01020304
.fill:  stosd
        add eax, 0x04040404
        loop .fill
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov eax, ABS(pf_fix)
        mov [IDT_RAM + 14 * 8], ax
        shr eax, 16
        mov [IDT_RAM + 14 * 8 + 6], ax
        mov esi, 0x20000
        mov edi, 0x3FF00
        mov ecx, 0x80
        cld
        rep movsd
        PRINT32 "rep movsd done ecx="
        mov eax, ecx
        call hex32
        PRINT32 " edi="
        mov eax, edi
        call hex32
        PRINT32 " last="
        mov eax, [0x400FC]
        call hex32
        PRINT32 10
        PRINT32 "done", 10
        EXIT32

; mov byte [next+1], 7 rewrites the immediate of the instruction after it
smc_next:
        mov byte [0x8100 + (.next - smc_next) + 1], 7
.next:  mov eax, 3
        ret
smc_next_end:

pf_fix: push eax
        PRINT32 "#PF e="
        mov eax, [esp + 4]
        call hex32
        PRINT32 " cr2="
        mov eax, cr2
        call hex32
        PRINT32 " ecx="
        mov eax, ecx
        call hex32
        PRINT32 " edi="
        mov eax, edi
        call hex32
        PRINT32 10
        or dword [PT + 0x40 * 4], 1
        mov eax, cr2
        invlpg [eax]
        pop eax
        add esp, 4
        iret

        ROM_END
