; Paging: 2-level 4 KiB pages and a 4 MiB page (CR4.PSE), accessed and dirty
; bits in PTEs and PDEs, INVLPG and CR3 reload making a changed PTE visible,
; #PF error codes for a supervisor write with CR0.WP and a user access to a
; supervisor page, then PAE: 4 KiB and 2 MiB pages and, when CPUID reports
; NX, EFER.NXE with an instruction fetch from a no-execute page.
; QEMU's default qemu32 model has no NX, so the expected output is recorded with:
; qemu-args: -cpu qemu32,+nx
; bochs-cpu: core2_penryn_t9600
%include "rom.inc"

%define PD 0x10000
%define PT 0x11000
%define PDPT 0x12000
%define PAE_PD 0x13000
%define PAE_PT 0x14000

start:
        ENTER_PM32 pm
        bits 32

; prints " name=" and the low 12 bits of the dword at %2
%macro SHOWBITS 2
        PRINT32 %1
        mov eax, [%2]
        and eax, 0xFFF
        call hex32
%endmacro

pm:     call build_idt
        mov edi, PD
        xor eax, eax
        mov ecx, 0x5000 / 4
        rep stosd
        mov dword [PD], PT | 3
        mov edi, PT
        mov eax, 3
        mov ecx, 1024
.pt:    stosd
        add eax, 0x1000
        loop .pt
        mov dword [PD + 4], 0x00000083          ; 4 MiB page: linear 4M -> physical 0
        mov dword [PT + 0x80 * 4], 0x00080003   ; 0x80000: A=0 D=0
        mov dword [0x81000], 0x11111111
        mov dword [0x82000], 0x22222222
        mov dword [PT + 0x90 * 4], 0x00081003   ; 0x90000 -> 0x81000
        mov dword [PT + 0xA0 * 4], 0x00081001   ; 0xA0000 -> 0x81000 read-only
        mov dword [PT + 0xB0 * 4], 0x00081003   ; 0xB0000 supervisor, user access later
        mov eax, cr4
        or eax, 0x10                            ; PSE
        mov cr4, eax
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        PRINT32 "paging on", 10
        mov dword [0x500], 0xCAFEBABE
        mov eax, [0x400500]
        call hex32
        SHOWBITS " pde1=", PD + 4
        mov dword [0x400504], 1
        SHOWBITS " after write=", PD + 4
        PRINT32 10
        SHOWBITS "pte=", PT + 0x80 * 4
        mov eax, [0x80000]
        SHOWBITS " read=", PT + 0x80 * 4
        mov dword [0x80000], 5
        SHOWBITS " write=", PT + 0x80 * 4
        SHOWBITS " pde0=", PD
        PRINT32 10
        mov eax, [0x90000]
        call hex32
        mov dword [PT + 0x90 * 4], 0x00082003
        invlpg [0x90000]
        mov eax, [0x90000]
        PRINT32 " invlpg "
        call hex32
        mov dword [PT + 0x90 * 4], 0x00081003
        mov eax, cr3
        mov cr3, eax
        mov eax, [0x90000]
        PRINT32 " cr3 "
        call hex32
        PRINT32 10
        ; WP off: ring 0 writes a read-only page; WP on: #PF
        mov dword [0xA0000], 0x33333333
        mov eax, [0x90000]
        call hex32
        PRINT32 10
        mov eax, cr0
        or eax, 0x10000
        mov cr0, eax
        EXPECT_FAULT mov dword [0xA0004], 1
        ; PAE
        mov eax, cr0
        and eax, 0x7FFFFFFF
        mov cr0, eax
        mov dword [PDPT], PAE_PD | 1
        mov dword [PAE_PD], PAE_PT | 3
        mov dword [PAE_PD + 8], 0x00000083      ; 2 MiB page at 2M -> physical 0
        mov edi, PAE_PT
        mov eax, 3
        mov ecx, 512
.pae:   mov [edi], eax
        mov dword [edi + 4], 0
        add eax, 0x1000
        add edi, 8
        loop .pae
        mov dword [PAE_PT + 0x90 * 8], 0x00082003
        mov eax, 0x80000001
        cpuid
        bt edx, 20
        setc bl
        mov eax, cr4
        or eax, 0x20                            ; PAE
        mov cr4, eax
        mov eax, PDPT
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        PRINT32 "pae "
        mov eax, [0x90000]
        call hex32
        mov eax, [0x200500]
        PRINT32 " 2m "
        call hex32
        SHOWBITS " pde=", PAE_PD + 8
        PRINT32 10
        test bl, bl
        jz .nonx
        mov ecx, 0xC0000080
        rdmsr
        or eax, 0x800                           ; NXE
        wrmsr
        ; "ret" at physical 0x680, reached at 0x200680 (NX) and 0x680 (not)
        mov byte [0x680], 0xC3
        mov eax, 0x680
        call eax
        PRINT32 "exec ok", 10
        or dword [PAE_PD + 12], 0x80000000      ; NX on the 2 MiB page
        invlpg [0x200680]
        mov dword [RESUME], ABS(.nxdone)
        mov eax, 0x200680
        call eax
        PRINT32 "no fault", 10
.nxdone:
        mov esp, 0x7000
        jmp .end
.nonx:  PRINT32 "no nx", 10
.end:   PRINT32 "done", 10
        EXIT32

        ROM_END
