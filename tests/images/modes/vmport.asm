; vmport-probe KEY: a 32-bit static Linux program (nasm -f bin: its own ELF header) that
; talks to the VMware backdoor from user mode (CPL 3, IOPL 0, no ioperm), as open-vm-tools'
; vmware-rpctool does: GETVERSION, the VMMouse ENABLE handshake (the version word "JUB4"),
; then one RPCI exchange "info-get guestinfo.KEY" in four-byte steps (no high-bandwidth
; port). Prints "backdoor version 6", "hosttime <seconds since 1970> <microseconds>" (GETTIME),
; "vmmouse JUB4" and "guestinfo <reply>" lines.
%include "elf32.inc"

; backdoor: eax magic, ecx command, dx port, other registers as set by the caller
%macro BDOOR 1
        mov eax, MAGIC
        mov ecx, %1
        mov dx, PORT
        in eax, dx
%endmacro

; print eax as a decimal number
print_u32:
        mov edi, numbuf + 12
        mov ebx, 10
.digit: xor edx, edx
        div ebx
        add dl, '0'
        dec edi
        mov [edi], dl
        test eax, eax
        jnz .digit
        mov esi, edi
        mov ecx, numbuf + 12
        sub ecx, edi
        jmp print

fail:   mov esi, m_fail
        mov ecx, m_fail_len
        call print
        mov eax, 1
        mov ebx, 1
        int 0x80

start:  mov ebx, ~0
        BDOOR 10                ; GETVERSION
        cmp ebx, MAGIC
        jne fail
        cmp eax, 6
        jne fail
        mov esi, m_version
        mov ecx, m_version_len
        call print

        BDOOR 23                ; GETTIME: eax seconds, ebx microseconds, ecx the largest lag
        cmp ebx, 1000000
        jae fail
        mov [usec], ebx
        mov [secs], eax
        mov esi, m_time
        mov ecx, m_time_len
        call print
        mov eax, [secs]
        call print_u32
        mov esi, m_sp
        mov ecx, 1
        call print
        mov eax, [usec]
        call print_u32
        call newline

        mov ebx, 0x45414552     ; VMMouse ENABLE
        BDOOR 41
        BDOOR 40                ; STATUS: words queued
        and eax, 0xFFFF
        jz fail
        mov ebx, 1
        BDOOR 39                ; DATA, one word
        mov [word_buf], eax
        mov ebx, 0xF5           ; DISABLE
        BDOOR 41
        mov esi, m_mouse
        mov ecx, m_mouse_len
        call print
        mov esi, word_buf
        mov ecx, 4
        call print
        call newline

        ; the message: "info-get guestinfo." + argv[1]
        mov esi, m_get
        mov edi, msg
        mov ecx, m_get_len
        rep movsb
        mov esi, [esp + 8]
        test esi, esi
        jz fail
.copy:  lodsb
        test al, al
        jz .copied
        cmp edi, msg + 200
        jae fail
        stosb
        jmp .copy
.copied:
        sub edi, msg
        mov [msg_len], edi

        mov ebx, 0x49435052 | 0x80000000 ; OPEN "RPCI" with cookies
        BDOOR 30
        test ecx, 0x10000
        jz fail
        and edx, 0xFFFF0000
        mov [chan], edx
        mov [cookie1], esi
        mov [cookie2], edi

        mov ebx, [msg_len]      ; SENDSIZE
        mov ecx, 0x0001001E
        call rpc
        xor ebp, ebp
.send:  cmp ebp, [msg_len]
        jae .sent
        mov ebx, [msg + ebp]
        mov ecx, 0x0002001E     ; SENDPAYLOAD
        call rpc
        add ebp, 4
        jmp .send
.sent:
        mov ecx, 0x0003001E     ; RECVSIZE
        call rpc
        test ecx, 0x20000
        jz fail
        cmp ebx, 200
        ja fail
        mov [reply_len], ebx
        xor ebp, ebp
.recv:  cmp ebp, [reply_len]
        jae .received
        mov ebx, 1
        mov ecx, 0x0004001E     ; RECVPAYLOAD
        call rpc
        mov [reply + ebp], ebx
        add ebp, 4
        jmp .recv
.received:
        mov ebx, 1
        mov ecx, 0x0005001E     ; RECVSTATUS
        call rpc
        mov ecx, 0x0006001E     ; CLOSE
        call rpc

        mov esi, m_info
        mov ecx, m_info_len
        call print_reply
        mov eax, 1
        xor ebx, ebx
        int 0x80

; one RPC step on the open channel: ecx type/command, ebx argument; fails unless SUCCESS
rpc:    mov eax, MAGIC
        mov edx, [chan]
        or edx, PORT
        mov esi, [cookie1]
        mov edi, [cookie2]
        in eax, dx
        test ecx, 0x10000
        jz fail
        ret

m_version: db "backdoor version 6", 10
m_version_len equ $ - m_version
m_time: db "hosttime "
m_time_len equ $ - m_time
m_sp:   db " "
m_mouse: db "vmmouse "
m_mouse_len equ $ - m_mouse
m_get:  db "info-get guestinfo."
m_get_len equ $ - m_get
m_info: db "guestinfo "
m_info_len equ $ - m_info
m_fail: db "backdoor failed", 10
m_fail_len equ $ - m_fail
file_size equ $ - $$

absolute $
word_buf: resd 1
msg_len: resd 1
reply_len: resd 1
chan:   resd 1
cookie1: resd 1
cookie2: resd 1
secs:   resd 1
usec:   resd 1
numbuf: resb 12
msg:    resb 256
reply:  resb 256
bss_size equ $ - word_buf
