; The hostile guest (issue 14): a 64 KiB ROM that the player runs as its BIOS.
; It gives every PCI function's BARs addresses the way firmware would (memory
; from 0xC0000000, I/O from 0xC000), enables decoding and bus mastering, and
; then executes a table of operations that tests/hostile/gen.py writes over
; the first 0xE000 bytes: port writes and reads, memory-mapped writes and
; reads inside a BAR, writes into the RAM pool at 0x10000 (where the values the
; generator gives devices as ring and descriptor addresses point), legacy VGA
; memory and IOAPIC writes, delays. It never uses its stack, and every
; interrupt or exception vector lands on a handler that resets the stack and
; goes on with the next operation, so a device that points DMA or MSIs
; anywhere cannot stop it. At the end it writes 0x2A to the debug-exit port
; (status 85 with --debug-exit).
; Each operation is 8 bytes: type, sel, off (16 bits), val (32 bits); type 0xFF ends.
; Types 16..20 let the generator build whole command sequences for one device:
; 16 picks the BAR of the function whose ID is val by its register number sel,
; 17..20 write 8/16/32 bits or read 32 at off inside it (nothing when absent).
; Type 21 calls the VMware backdoor (IN from port 0x5658 with EAX "VMXh"): ECX val, EBX,
; ESI, EDI the pool words off, off + 1, off + 2 (off rounded down to 16 words), EDX's high
; half sel; with sel bit 7 the channel and cookies an earlier RPC open returned instead.
        bits 16
ROMBASE equ 0xFFFF0000
BARTAB  equ 0x500        ; RAM: count, then (base | 1 for I/O, size) pairs
IDTAB   equ 0x800        ; RAM: per BARTAB entry, (vendor | device << 16, BAR register 0..5)
TARGET  equ 0x440        ; RAM: base and size of the BAR that ops 16..20 address
SCRATCH equ 0x400
STACK   equ 0x9000
POOL    equ 0x10000

        times 0xE000 db 0xFF

gdt:    dq 0
        dq 0x00CF9B000000FFFF
        dq 0x00CF93000000FFFF
gdtr:   dw 23
        dd ROMBASE + gdt
idtr:   dw 256 * 8 - 1
        dd ROMBASE + idt

start16:
        cli
        cld
        o32 lgdt [cs:gdtr]
        o32 lidt [cs:idtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:(ROMBASE + pm)

        bits 32
; config address of bus 0 function ebx (dev << 3 | fn), register ecx * 4 + 0x10, to 0xCF8
%macro BARADDR 0
        mov eax, ebx
        shl eax, 8
        or eax, 0x80000000
        lea eax, [eax + ecx * 4 + 0x10]
        mov dx, 0xCF8
        out dx, eax
        mov dx, 0xCFC
%endmacro

pm:     mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK
        xor ebp, ebp
        mov esi, 0xC0000000
        mov edi, 0xC000
        mov ebx, 8                      ; device 1 function 0 onwards; 0 is the host bridge
.fn:    mov eax, ebx
        shl eax, 8
        or eax, 0x80000000
        mov dx, 0xCF8
        out dx, eax
        mov dx, 0xCFC
        in eax, dx
        cmp ax, 0xFFFF
        je .nextfn
        mov [SCRATCH + 12], eax
        xor ecx, ecx
.bar:   BARADDR
        mov eax, 0xFFFFFFFF
        out dx, eax
        in eax, dx
        test eax, eax
        jz .nextbar
        mov [SCRATCH], eax
        test al, 1
        jnz .io
        and eax, 0xFFFFFFF0
        neg eax                         ; the size
        jz .nextbar
        mov [SCRATCH + 4], eax
        lea edx, [eax - 1]
        add esi, edx
        not edx
        and esi, edx
        cmp esi, 0xF0000000
        jae .nextbar
        BARADDR
        mov eax, esi
        out dx, eax
        mov eax, [SCRATCH + 4]
        mov [BARTAB + 4 + ebp * 8], esi
        mov [BARTAB + 8 + ebp * 8], eax
        call record
        inc ebp
        add esi, eax
        mov eax, [SCRATCH]
        and al, 6
        cmp al, 4
        jne .nextbar
        inc ecx                         ; a 64-bit BAR: its upper half is 0
        cmp ecx, 6
        jae .nextbar
        BARADDR
        xor eax, eax
        out dx, eax
        jmp .nextbar
.io:    and eax, 0xFFFC
        or eax, 0xFFFF0000
        neg eax
        mov [SCRATCH + 4], eax
        lea edx, [eax - 1]
        add edi, edx
        not edx
        and edi, edx
        cmp edi, 0xF000
        jae .nextbar
        BARADDR
        mov eax, edi
        out dx, eax
        mov eax, [SCRATCH + 4]
        lea edx, [edi + 1]
        mov [BARTAB + 4 + ebp * 8], edx
        mov [BARTAB + 8 + ebp * 8], eax
        call record
        inc ebp
        add edi, eax
.nextbar:
        inc ecx
        cmp ecx, 6
        jb .bar
        mov eax, ebx                    ; command: I/O, memory, bus master
        shl eax, 8
        or eax, 0x80000004
        mov dx, 0xCF8
        out dx, eax
        mov dx, 0xCFC
        mov eax, 7
        out dx, eax
.nextfn:
        inc ebx
        cmp ebx, 256
        jb .fn
        mov [BARTAB], ebp

        mov ebx, ROMBASE
ops:    movzx eax, byte [ebx]
        movzx ecx, byte [ebx + 1]
        movzx ebp, word [ebx + 2]
        mov esi, [ebx + 4]
        add ebx, 8
        cmp al, 0xFF
        je done
        mov edx, ebp
        cmp al, 0
        je .out8
        cmp al, 1
        je .out16
        cmp al, 2
        je .out32
        cmp al, 3
        je .in8
        cmp al, 4
        je .in16
        cmp al, 5
        je .in32
        cmp al, 12
        je .ram
        cmp al, 13
        je .delay
        cmp al, 14
        je .vga
        cmp al, 15
        je .ioapic
        cmp al, 16
        je .target
        cmp al, 20
        jbe .tgtop
        cmp al, 21
        je .bdoor
        cmp al, 11
        ja ops
        ; 6..11: inside a BAR: entry sel % count, offset off % size
        mov edi, eax
        mov eax, [BARTAB]
        test eax, eax
        jz ops
        cmp eax, 64
        ja ops
        mov eax, ecx
        xor edx, edx
        div dword [BARTAB]
        lea ecx, [BARTAB + 4 + edx * 8]
        mov eax, [ecx + 4]
        test eax, eax
        jz ops
        mov [SCRATCH + 8], eax
        mov eax, ebp
        xor edx, edx
        div dword [SCRATCH + 8]
        mov eax, [ecx]
        test al, 1
        jnz .barport
        add edx, eax
        mov eax, esi
        cmp edi, 6
        je .w8
        cmp edi, 7
        je .w16
        cmp edi, 8
        je .w32
        cmp edi, 9
        je .r8
        cmp edi, 10
        je .r16
        mov eax, [edx]
        jmp ops
.w8:    mov [edx], al
        jmp ops
.w16:   mov [edx], ax
        jmp ops
.w32:   mov [edx], eax
        jmp ops
.r8:    mov al, [edx]
        jmp ops
.r16:   mov ax, [edx]
        jmp ops
.barport:
        dec eax
        add edx, eax
        mov eax, esi
        cmp edi, 6
        je .out8
        cmp edi, 7
        je .out16
        cmp edi, 8
        je .out32
        cmp edi, 9
        je .in8
        cmp edi, 10
        je .in16
        jmp .in32
.out8:  mov eax, esi
        out dx, al
        jmp ops
.out16: mov eax, esi
        out dx, ax
        jmp ops
.out32: mov eax, esi
        out dx, eax
        jmp ops
.in8:   in al, dx
        jmp ops
.in16:  in ax, dx
        jmp ops
.in32:  in eax, dx
        jmp ops
.ram:   and ebp, 0xFFFF
        mov [POOL + ebp * 4], esi
        jmp ops
.delay: mov ecx, esi
        and ecx, 0xFFFF
.d:     loop .d
        jmp ops
.vga:   mov [0xA0000 + ebp * 2], si
        jmp ops
.ioapic:
        and ebp, 0xFF
        mov dword [0xFEC00000], ebp
        mov dword [0xFEC00010], esi
        jmp ops

.target:                               ; 16: the BAR of device val (vendor | device << 16), register sel
        mov dword [TARGET], 0
        mov dword [TARGET + 4], 0
        xor edx, edx
.tscan: cmp edx, [BARTAB]
        jae ops
        cmp edx, 64
        jae ops
        cmp [IDTAB + edx * 8], esi
        jne .tnext
        cmp [IDTAB + 4 + edx * 8], ecx
        jne .tnext
        mov eax, [BARTAB + 4 + edx * 8]
        mov [TARGET], eax
        mov eax, [BARTAB + 8 + edx * 8]
        mov [TARGET + 4], eax
        jmp ops
.tnext: inc edx
        jmp .tscan
.tgtop:                                 ; 17..20: write 8, 16, 32, read 32 at off inside the target BAR
        mov edi, eax
        mov eax, [TARGET + 4]
        test eax, eax
        jz ops
        cmp ebp, eax
        jae ops
        mov edx, [TARGET]
        test dl, 1
        jnz .tport
        add edx, ebp
        mov eax, esi
        cmp edi, 17
        je .w8
        cmp edi, 18
        je .w16
        cmp edi, 19
        je .w32
        mov eax, [edx]
        jmp ops
.tport: dec edx
        add edx, ebp
        cmp edi, 17
        je .out8
        cmp edi, 18
        je .out16
        cmp edi, 19
        je .out32
        jmp .in32

.bdoor:                                 ; 21: the backdoor; ebx (the table) kept in SCRATCH + 16
        mov [SCRATCH + 16], ebx
        and ebp, 0xFFF0
        mov ebx, [POOL + ebp * 4]
        mov edi, [POOL + ebp * 4 + 8]
        mov edx, ecx
        shl edx, 16
        mov dx, 0x5658
        mov eax, esi
        mov esi, [POOL + ebp * 4 + 4]
        test cl, 0x80
        jz .bdin
        mov edx, [SCRATCH + 20]         ; the channel (high half) and cookies of the last open
        mov dx, 0x5658
        mov esi, [SCRATCH + 24]
        mov edi, [SCRATCH + 28]
.bdin:  mov ecx, eax
        mov eax, 0x564D5868
        in eax, dx
        mov eax, [SCRATCH + 16]
        cmp dword [eax - 4], 30         ; an RPC open (message type 0): keep what it gave
        jne .bdout
        mov [SCRATCH + 20], edx
        mov [SCRATCH + 24], esi
        mov [SCRATCH + 28], edi
.bdout: mov ebx, eax
        jmp ops

; the BAR just placed: entry ebp of IDTAB gets the function's ID and the BAR register ecx
record: mov edx, [SCRATCH + 12]
        mov [IDTAB + ebp * 8], edx
        mov [IDTAB + 4 + ebp * 8], ecx
        ret

done:   mov al, 0x2A
        out 0xF4, al
.h:     hlt
        jmp .h

; every vector: back to the operations, on a fresh stack
handler:
        mov esp, STACK
        jmp ops

        align 8
idt:
%rep 256
        dw handler
        dw 0x08
        dw 0x8E00
        dw 0xFFFF
%endrep

        times 0xFFF0 - ($ - $$) db 0xF4
        bits 16
        jmp 0xF000:start16 + 0
        times 0x10000 - ($ - $$) db 0xF4
