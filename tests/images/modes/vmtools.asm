; vmtools: a 32-bit static Linux program (nasm -f bin, its own ELF header) that behaves as
; open-vm-tools' vmtoolsd does towards the host, from user mode over the low-bandwidth
; backdoor: it announces itself over RPCI ("tools.set.version"), then polls a TCLO channel
; (send the reply to the last command, receive the next one) every 100 ms. On "OS_Halt" or
; "OS_Reboot" it replies "OK ", reports the state change over RPCI and prints
; "tools <command>"; after 60 s without one it prints "tools no command". It says it can set
; the screen size (tools.capability.resolution_set 1); any other command, such as the host's
; "Resolution_Set W H", is printed as "tools <command>" and answered "OK ".
%include "elf32.inc"

fail:   mov esi, m_fail
        mov ecx, m_fail_len
        call print
        mov eax, 1
        mov ebx, 1
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

; open a channel, ebx protocol
open:   or ebx, 0x80000000
        mov eax, MAGIC
        mov ecx, 0x0000001E
        mov dx, PORT
        in eax, dx
        test ecx, 0x10000
        jz fail
        and edx, 0xFFFF0000
        mov [chan], edx
        mov [cookie1], esi
        mov [cookie2], edi
        ret

close:  mov ecx, 0x0006001E
        jmp rpc

; send the message at [msg_ptr], [msg_len] bytes
send:   mov ebx, [msg_len]
        mov ecx, 0x0001001E     ; SENDSIZE
        call rpc
        xor ebp, ebp
.word:  cmp ebp, [msg_len]
        jae .done
        mov eax, [msg_ptr]
        mov ebx, [eax + ebp]
        mov ecx, 0x0002001E     ; SENDPAYLOAD
        call rpc
        add ebp, 4
        jmp .word
.done:  ret

; receive the reply into reply, its length in [reply_len] (0: none)
recv:   mov dword [reply_len], 0
        mov ecx, 0x0003001E     ; RECVSIZE
        call rpc
        test ecx, 0x20000
        jz .done
        cmp ebx, 200
        ja fail
        mov [reply_len], ebx
        xor ebp, ebp
.word:  cmp ebp, [reply_len]
        jae .status
        mov ebx, 1
        mov ecx, 0x0004001E     ; RECVPAYLOAD
        call rpc
        mov [reply + ebp], ebx
        add ebp, 4
        jmp .word
.status:
        mov ebx, 1
        mov ecx, 0x0005001E     ; RECVSTATUS
        call rpc
.done:  ret

; one RPCI request: esi text, ecx length
rpci:   mov [msg_ptr], esi
        mov [msg_len], ecx
        mov ebx, 0x49435052
        call open
        call send
        call recv
        jmp close

start:  mov esi, m_version
        mov ecx, m_version_len
        call rpci
        cmp dword [reply_len], 2
        jb fail
        mov esi, m_cap
        mov ecx, m_cap_len
        call rpci
        mov ebx, 0x4F4C4354     ; TCLO
        call open
        mov esi, m_polling
        mov ecx, m_polling_len
        call print
        mov dword [msg_ptr], m_ok
        mov dword [msg_len], 0  ; the first reply is empty
        mov dword [tries], 600
.poll:  call send
        call recv
        mov dword [msg_len], 3  ; "OK " to whatever came
        cmp dword [reply_len], 0
        je .idle
        mov esi, reply
        mov edi, m_halt
        mov ecx, m_halt_len
        repe cmpsb
        je .halt
        mov esi, reply
        mov edi, m_reboot
        mov ecx, m_reboot_len
        repe cmpsb
        je .halt
        mov esi, m_tools        ; another command (Resolution_Set W H): print it,
        mov ecx, m_tools_len    ; then "OK " and poll on
        call print_reply
        jmp .poll
.idle:  dec dword [tries]
        jz .timeout
        mov eax, 162            ; nanosleep 100 ms
        mov ebx, ts
        xor ecx, ecx
        int 0x80
        jmp .poll
.halt:  mov ecx, [reply_len]
        mov [cmd_len], ecx
        mov esi, reply
        mov edi, cmd_copy
        rep movsb
        call send               ; "OK "
        call recv
        call close
        mov esi, m_state
        mov ecx, m_state_len
        call rpci
        mov esi, m_tools
        mov ecx, m_tools_len
        call print
        mov esi, cmd_copy
        mov ecx, [cmd_len]
        call print
        call newline
        mov eax, 1
        xor ebx, ebx
        int 0x80
.timeout:
        mov esi, m_none
        mov ecx, m_none_len
        call print
        mov eax, 1
        mov ebx, 2
        int 0x80

m_version: db "tools.set.version 2147483647"
m_version_len equ $ - m_version
m_cap:  db "tools.capability.resolution_set 1"
m_cap_len equ $ - m_cap
m_state: db "tools.os.statechange.status 1 1"
m_state_len equ $ - m_state
m_ok:   db "OK "
m_halt: db "OS_Halt"
m_halt_len equ $ - m_halt
m_reboot: db "OS_Reboot"
m_reboot_len equ $ - m_reboot
m_polling: db "tools polling", 10
m_polling_len equ $ - m_polling
m_tools: db "tools "
m_tools_len equ $ - m_tools
m_none: db "tools no command", 10
m_none_len equ $ - m_none
m_fail: db "tools failed", 10
m_fail_len equ $ - m_fail
ts:     dd 0, 100000000
file_size equ $ - $$

absolute $
msg_ptr: resd 1
msg_len: resd 1
reply_len: resd 1
chan:   resd 1
cookie1: resd 1
cookie2: resd 1
tries:  resd 1
cmd_len: resd 1
cmd_copy: resb 256
reply:  resb 256
bss_size equ $ - msg_ptr
