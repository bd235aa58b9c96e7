; The A20 gate on both CPU backends, in real mode through port 0x92 and the
; keyboard controller's output port (the gate is open while either is): with
; A20 on, FFFF:0510 (linear 0x100500) is its own byte; with A20 off it is
; 0000:0500, for reads and writes; on again, the two are apart once more.
; (KVM emulates only this first wrap, the HMA: see cpu/kvm.c.)
%include "rom.inc"
%include "real.inc"

%macro A20 1
        in al, 0x92
%if %1
        or al, 0x02
%else
        and al, 0xFD
%endif
        out 0x92, al
        call kbc_wait
        mov al, 0xD1                    ; write output port
        out 0x64, al
        call kbc_wait
        mov al, 0xDD | (%1 << 1)        ; bit 1: A20
        out 0x60, al
        call kbc_wait
%endmacro

%macro SHOWB 2+                          ; label, byte operand
        PRINT16 %1
        mov al, %2
        call hex8_16
        NL16
%endmacro

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        mov ax, 0xFFFF
        mov es, ax
        mov byte [0x500], 0x11
        mov byte [0x520], 0x44
        A20 1
        mov byte [es:0x510], 0x22
        mov byte [es:0x530], 0x55
        SHOWB "a20 on, 0000:0500 = ", [0x500]
        SHOWB "a20 on, ffff:0510 = ", [es:0x510]
        A20 0
        SHOWB "a20 off, ffff:0510 = ", [es:0x510]
        mov byte [es:0x530], 0x33       ; lands on 0000:0520
        SHOWB "a20 off, 0000:0520 after writing ffff:0530 = ", [0x520]
        A20 1
        SHOWB "a20 on again, ffff:0510 = ", [es:0x510]
        SHOWB "a20 on again, ffff:0530 = ", [es:0x530]
        SHOWB "a20 on again, 0000:0520 = ", [0x520]
        in al, 0x92
        and al, 0x02
        SHOWB "port 92 a20 bit: ", al
        EXIT16

kbc_wait:
        in al, 0x64
        test al, 0x02
        jnz kbc_wait
        ret

        ROM_END
