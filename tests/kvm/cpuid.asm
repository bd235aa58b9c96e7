; The CPU model on both backends: CPUID leaves 0, 1, 2, 40000000 (the VMware
; platform's "VMwareVMware", as the board presents it to every .vmx), 80000000,
; 80000001 and 80000008 as EAX EBX ECX EDX, and EDX at reset (the same family, model and
; stepping signature). KVM shows the software core's model (cpu/model.h),
; less any feature the host lacks; on a host with all of them, the same.
; kvm-needs: full (a nested KVM seen here replaces leaf 1's feature words
; given with KVM_SET_CPUID2 by its host's, which KVM itself never does)
%include "rom.inc"
%include "real.inc"

start:  mov ebp, edx                    ; the reset signature, before anything touches EDX
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        PRINT16 "reset edx: "
        mov eax, ebp
        call hex32_16
        NL16
        xor esi, esi
        call leaf
        mov esi, 1
        call leaf
        mov esi, 2
        call leaf
        mov esi, 0x40000000
        call leaf
        mov esi, 0x80000000
        call leaf
        mov esi, 0x80000001
        call leaf
        mov esi, 0x80000008
        call leaf
        EXIT16

; print "leaf: eax ebx ecx edx" for CPUID leaf esi
leaf:   mov eax, esi
        call hex32_16
        mov al, ':'
        out DEBUGCON, al
        mov eax, esi
        xor ecx, ecx
        cpuid
        push edx
        push ecx
        push ebx
        call sp32
        call hex32_16
        pop eax
        call sp32
        call hex32_16
        pop eax
        call sp32
        call hex32_16
        pop eax
        call sp32
        call hex32_16
        NL16
        ret
sp32:   push ax
        mov al, ' '
        out DEBUGCON, al
        pop ax
        ret

        ROM_END
