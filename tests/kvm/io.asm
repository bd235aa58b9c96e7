; Port I/O on both CPU backends, in real mode: byte, word and dword IN/OUT
; to board devices (fw_cfg, PCI configuration, CMOS, port 92), an unmapped
; port, and string I/O (REP INSB from fw_cfg, REP OUTSB/OUTSW to the debug
; console), where KVM hands userspace one exit with count > 1.
%include "rom.inc"
%include "real.inc"

start:  xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        PRINT16 "fw_cfg signature: "
        mov dx, 0x510
        xor ax, ax
        out dx, ax                      ; select FW_CFG_SIGNATURE (16-bit OUT)
        inc dx
        mov cx, 4
.sig:   in al, dx
        out DEBUGCON, al
        loop .sig
        NL16
        PRINT16 "rep insb: "
        dec dx
        xor ax, ax
        out dx, ax
        inc dx
        mov di, 0x600
        mov es, ax
        mov cx, 4
        cld
        rep insb
        mov eax, [es:0x600]
        call hex32_16
        NL16
        PRINT16 "pci 00:00.0 id: "
        mov dx, 0xCF8
        mov eax, 0x80000000
        out dx, eax
        mov dx, 0xCFC
        in eax, dx
        call hex32_16
        PRINT16 " class: "
        mov dx, 0xCF8
        mov eax, 0x80000008
        out dx, eax
        mov dx, 0xCFE
        in ax, dx                       ; 16-bit read at offset 2 of the data port
        call hex16_16
        NL16
        PRINT16 "cmos base memory: "
        mov al, 0x16
        out 0x70, al
        in al, 0x71
        mov ah, al
        mov al, 0x15
        out 0x70, al
        in al, 0x71
        call hex16_16
        NL16
        PRINT16 "unmapped port: "
        mov dx, 0x300
        in al, dx
        call hex8_16
        mov al, ' '
        out DEBUGCON, al
        in ax, dx
        call hex16_16
        mov al, ' '
        out DEBUGCON, al
        in eax, dx
        call hex32_16
        NL16
        PRINT16 "port 92: "
        in al, 0x92
        and al, 0x02
        call hex8_16
        NL16
        push cs
        pop ds
        mov si, outs_msg
        mov dx, DEBUGCON
        mov cx, outs_len
        rep outsb
        mov si, outsw_msg
        mov cx, outsw_len / 2
        rep outsw
        EXIT16

outs_msg: db "rep outsb to the debug console", 10
outs_len equ $ - outs_msg
outsw_msg: dw 'r', 'e', 'p', ' ', 'o', 'u', 't', 's', 'w', 10 ; the port takes bytes: low halves
outsw_len equ $ - outsw_msg

        ROM_END
