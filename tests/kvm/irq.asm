; Interrupts on both CPU backends, in real mode through the 8259 pair: the
; PIT's IRQ0 waking HLT (a pending timer, several ticks), an IRQ already
; pending before STI; HLT (taken after the HLT: the STI shadow covers it),
; the UART's THRE interrupt (IRQ4, IIR = 02) and, with the IRQ masked, no
; interrupt at all while IF is set; then the received-data interrupt (IIR =
; 04) for the byte the test runner feeds serial0 (vmplay --serial=stdio).
; Output is independent of timing.
%include "rom.inc"
%include "real.inc"

%define TICKS 0x500
%define RETIP 0x502
%define IIR 0x504
%define UARTHITS 0x506

start:  xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        mov word [8 * 4], pit_isr      ; IRQ0 -> vector 08
        mov word [8 * 4 + 2], 0xF000
        mov word [0x0C * 4], uart_isr  ; IRQ4 -> vector 0C
        mov word [0x0C * 4 + 2], 0xF000
        mov word [TICKS], 0
        call pic_init
        mov al, 0x34                    ; PIT channel 0, lo/hi, mode 2
        out 0x43, al
        mov ax, 1193                    ; 1 ms
        out 0x40, al
        mov al, ah
        out 0x40, al
        mov al, 0xFE                    ; unmask IRQ0
        out 0x21, al
        sti
.wait:  hlt
        cmp word [TICKS], 3
        jb .wait
        cli
        PRINT16 "pit woke hlt 3 times", 10

; an IRQ0 already pending (IRR) when STI; HLT runs
.irr:   mov al, 0x0A                    ; OCW3: read IRR
        out 0x20, al
        in al, 0x20
        test al, 1
        jz .irr
        mov word [RETIP], 0
        sti
        hlt
after_hlt:
        cli
        PRINT16 "pending irq taken after sti; hlt: "
        cmp word [RETIP], after_hlt
        je .yes
        PRINT16 "no, returned to "
        mov ax, [RETIP]
        call hex16_16
        NL16
        jmp .uart
.yes:   PRINT16 "yes", 10

.uart:  mov al, 0xFF                    ; mask everything, PIT off
        out 0x21, al
        mov al, 0x30
        out 0x43, al
        mov word [UARTHITS], 0
        mov dx, 0x3F8 + 4               ; MCR: OUT2 gates the IRQ line
        mov al, 0x08
        out dx, al
        mov dx, 0x3F8 + 1               ; IER: THRE
        mov al, 0x02
        out dx, al
        sti
        mov cx, 1000                    ; masked at the PIC: nothing arrives
.spin:  loop .spin
        cli
        PRINT16 "masked uart irq: "
        mov ax, [UARTHITS]
        call hex16_16
        NL16
        mov al, 0xEF                    ; unmask IRQ4
        out 0x21, al
        sti
.uw:    hlt
        cmp word [UARTHITS], 0
        je .uw
        cli
        PRINT16 "uart thre irq4, iir: "
        mov al, [IIR]
        and al, 0x0F
        call hex8_16
        PRINT16 " count: "
        mov ax, [UARTHITS]
        call hex16_16
        NL16
        mov word [UARTHITS], 0
        mov dx, 0x3F8 + 1               ; IER: received data (the test feeds one byte)
        mov al, 0x01
        out dx, al
        sti
.rw:    hlt
        cmp word [UARTHITS], 0
        je .rw
        cli
        PRINT16 "uart rx irq4, iir: "
        mov al, [IIR]
        and al, 0x0F
        call hex8_16
        PRINT16 " byte: "
        mov dx, 0x3F8
        in al, dx
        out DEBUGCON, al
        NL16
        EXIT16

pit_isr:
        push bp
        mov bp, sp
        push ax
        mov ax, [bp + 2]
        mov [RETIP], ax
        inc word [TICKS]
        mov al, 0x20
        out 0x20, al
        pop ax
        pop bp
        iret

uart_isr:
        push ax
        push dx
        mov dx, 0x3F8 + 2               ; IIR (reading it clears THRE)
        in al, dx
        mov [IIR], al
        mov dx, 0x3F8 + 1               ; IER off: no more interrupts
        mov al, 0
        out dx, al
        inc word [UARTHITS]
        mov al, 0x20
        out 0x20, al
        pop dx
        pop ax
        iret

        ROM_END
