; A multiboot 1 test kernel for tests/guest/t_multiboot.sh: prints what the
; boot loader handed over (EAX, the multiboot information's flags, memory
; fields, boot device, command line, each module's size, FNV-1a hash and
; string, the memory map and the boot loader name) on COM1, one field a
; line, then powers off through the PIIX4 PM1a control port at the PM base
; SeaBIOS programmed (PMBA, 00:01.3 register 0x40; SLP_EN with SLP_TYP 0 = S5). Built two ways: nasm -f bin with the
; header's load addresses (the a.out kludge, -DAOUT), or as an ELF32 object
; linked at 1 MiB (nasm -f elf32, ld -m elf_i386 -Ttext=0x100000).
bits 32
%ifdef AOUT
        org 0x100000
MB_FLAGS equ 0x00010003
%else
MB_FLAGS equ 0x00000003
        section .text
        global _start
%endif
mb_header:
        dd 0x1BADB002, MB_FLAGS, -(0x1BADB002 + MB_FLAGS)
%ifdef AOUT
        dd mb_header, mb_header, 0, bss_end, _start
%endif

_start:
        mov esp, stack_top
        mov ebp, ebx                    ; the information structure
        mov esi, s_magic
        call field
        mov esi, s_flags
        mov eax, [ebp]
        call field
        mov esi, s_lower
        mov eax, [ebp + 4]
        call field
        mov esi, s_upper
        mov eax, [ebp + 8]
        call field
        mov esi, s_bootdev
        mov eax, [ebp + 12]
        call field
        mov esi, s_cmdline
        call puts
        mov esi, [ebp + 16]
        call puts
        call newline
        mov esi, s_mods
        mov eax, [ebp + 20]
        call field
        xor edi, edi                    ; module index
.mod:   cmp edi, [ebp + 20]
        jae .mmap
        mov ebx, edi
        shl ebx, 4
        add ebx, [ebp + 24]
        mov esi, s_mod
        call puts
        mov eax, edi
        call hex32
        mov esi, s_size
        call puts
        mov eax, [ebx + 4]
        sub eax, [ebx]
        call hex32
        mov esi, s_fnv
        call puts
        call fnv
        call hex32
        mov esi, s_cmd
        call puts
        mov esi, [ebx + 8]
        call puts
        call newline
        inc edi
        jmp .mod
.mmap:  mov ebx, [ebp + 48]
        mov edi, ebx
        add edi, [ebp + 44]             ; end of the map
.ent:   cmp ebx, edi
        jae .loader
        mov esi, s_mmap
        call puts
        mov eax, [ebx + 8]
        call hex32
        mov eax, [ebx + 4]
        call hex32
        mov esi, s_len
        call puts
        mov eax, [ebx + 16]
        call hex32
        mov eax, [ebx + 12]
        call hex32
        mov esi, s_type
        call puts
        mov eax, [ebx + 20]
        call hex32
        call newline
        mov eax, [ebx]
        lea ebx, [ebx + eax + 4]
        jmp .ent
.loader:
        mov esi, s_loader
        call puts
        mov esi, [ebp + 64]
        call puts
        call newline
        mov esi, s_end
        call puts
        call newline
        mov dx, 0xCF8                   ; PIIX4 function 3 (00:01.3) PMBA
        mov eax, 0x80000B40
        out dx, eax
        mov dx, 0xCFC
        in eax, dx
        and eax, 0xFFC0
        lea edx, [eax + 4]              ; PM1a_CNT
        mov ax, 0x2000
        out dx, ax
.halt:  cli
        hlt
        jmp .halt

; FNV-1a of module [ebx]..[ebx+4] into eax
fnv:    push esi
        push ecx
        mov esi, [ebx]
        mov eax, 0x811C9DC5
.l:     cmp esi, [ebx + 4]
        jae .d
        movzx ecx, byte [esi]
        xor eax, ecx
        imul eax, eax, 0x01000193
        inc esi
        jmp .l
.d:     pop ecx
        pop esi
        ret

; "label value\n": the label at esi, eax in hex
field:  call puts
        call hex32
        jmp newline

newline:
        mov al, 10
        jmp putc

; the zero-terminated string at esi (at most 256 bytes)
puts:   push ecx
        push eax
        mov ecx, 256
.l:     mov al, [esi]
        test al, al
        jz .d
        call putc
        inc esi
        loop .l
.d:     pop eax
        pop ecx
        ret

hex32:  push ecx
        push eax
        mov ecx, 8
.l:     rol eax, 4
        push eax
        and eax, 15
        mov al, [hexdig + eax]
        call putc
        pop eax
        loop .l
        pop eax
        pop ecx
        ret

putc:   push edx
        push eax
        mov dx, 0x3FD
.w:     in al, dx
        test al, 0x20
        jz .w
        pop eax
        mov dx, 0x3F8
        out dx, al
        pop edx
        ret

hexdig:   db "0123456789abcdef"
s_magic:  db "MB magic ", 0
s_flags:  db "MB flags ", 0
s_lower:  db "MB mem_lower ", 0
s_upper:  db "MB mem_upper ", 0
s_bootdev: db "MB boot_device ", 0
s_cmdline: db "MB cmdline ", 0
s_mods:   db "MB mods_count ", 0
s_mod:    db "MB mod ", 0
s_size:   db " size ", 0
s_fnv:    db " fnv ", 0
s_cmd:    db " cmdline ", 0
s_mmap:   db "MB mmap base ", 0
s_len:    db " len ", 0
s_type:   db " type ", 0
s_loader: db "MB loader ", 0
s_end:    db "MB end", 0

%ifdef AOUT
        align 16
stack:  times 4096 db 0
%else
        section .bss
stack:  resb 4096
%endif
stack_top:
bss_end:
