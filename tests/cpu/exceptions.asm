; Real mode basics, the switch to 32-bit protected mode and exceptions with
; their vectors and error codes: #UD #DE #BP #OF #BR, #GP on a limit
; violation, #NP and #SS on not-present segments, #PF (not present, write to
; a read-only page with CR0.WP) with CR2 and the error code.
; qemu-differs: 1 line(s) of expected/exceptions.txt hold the hardware answer (see below)
; bochs-cpu: atom_n270
%include "rom.inc"

start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        PRINT16 "real mode", 10
        ; segment arithmetic: 1234:0010 and 1235:0000 are the same byte
        mov ax, 0x1234
        mov ds, ax
        mov byte [0x10], 'A'
        mov ax, 0x1235
        mov es, ax
        mov al, [es:0]
        out DEBUGCON, al
        ; software interrupt through the IVT, far call and return
        xor ax, ax
        mov ds, ax
        mov word [0x40 * 4], int40
        mov word [0x40 * 4 + 2], 0xF000
        int 0x40
        call 0xF000:farproc
        PRINT16 10
        ENTER_PM32 pm

int40:  mov al, 'B'
        out DEBUGCON, al
        iret
farproc:
        mov al, 'C'
        out DEBUGCON, al
        retf

        bits 32
pm:     PRINT32 "protected mode", 10
        call build_idt
        EXPECT_FAULT ud2
        xor ecx, ecx
        EXPECT_FAULT div ecx
        EXPECT_FAULT int3
        mov eax, 0x7FFFFFFF
        add eax, 1
        EXPECT_FAULT into
        mov dword [0x700], 0
        mov dword [0x704], 10
        mov eax, 11
        EXPECT_FAULT bound eax, [0x700]
        mov ax, SEL_SMALL
        mov fs, ax
        mov eax, [fs:0xFFC]
        ; QEMU TCG does not check data segment limits and prints "no fault" here;
        ; expected/exceptions.txt holds the hardware answer, #GP(0).
        EXPECT_FAULT mov eax, [fs:0xFFD]
        mov ax, SEL_NP
        EXPECT_FAULT mov es, ax
        EXPECT_FAULT mov ss, ax
        mov ax, SEL_DATA
        mov es, ax
        ; paging: identity map of the first 4 MiB; 0x300000 not present, 0x301000 read-only
        mov edi, 0x2000
        mov ecx, 0x2000 / 4
        xor eax, eax
        rep stosd
        mov dword [0x2000], 0x3000 | 3
        mov edi, 0x3000
        mov eax, 3
        mov ecx, 1024
.pt:    stosd
        add eax, 0x1000
        loop .pt
        mov dword [0x3000 + 0x300 * 4], 0
        and dword [0x3000 + 0x301 * 4], ~2
        mov eax, 0x2000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000      ; PG WP
        mov cr0, eax
        PRINT32 "paging", 10
        mov eax, [0x301004]
        EXPECT_FAULT mov eax, [0x300008]
        EXPECT_FAULT mov dword [0x301010], 1
        PRINT32 "done", 10
        EXIT32

        ROM_END
