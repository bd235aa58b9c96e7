; SSE system behaviour in 32-bit protected mode: CPUID feature bits, #UD
; with CR4.OSFXSR clear or CR0.EM set, #NM with CR0.TS, #GP(0) for
; misaligned 16-byte operands (MOVAPS load and store, ADDPS, MOVDQA, FXSAVE)
; but none for MOVUPS/MOVDQU/LDDQU, an unmasked divide-by-zero as #UD with
; CR4.OSXMMEXCPT clear and #XM (19) with it set (the flag in MXCSR either
; way, the destination unchanged), LDMXCSR and FXRSTOR with reserved MXCSR
; bits (#GP(0)), and an FXSAVE/FXRSTOR round trip of MXCSR and XMM0..7.
; qemu-args: -cpu core2duo
; qemu-differs: 8 line(s) of expected/sse.txt hold the hardware answer: QEMU TCG
; neither raises unmasked SIMD floating-point exceptions (no #UD/#XM, the
; destination is written, the second divide then sees infinity and flags
; nothing) nor checks reserved MXCSR bits in LDMXCSR and FXRSTOR. The
; hardware behaviour is the SDM's, and the differential suite checks #XM,
; the flags and the LDMXCSR #GP(0) against the host CPU (ssefpx, ssefault).
; bochs-cpu: atom_n270
%include "rom.inc"

%define BUF 0x3000      ; 512-byte FXSAVE area (16-byte aligned)
%define DATA 0x2000     ; operands

start:
        ENTER_PM32 pm

        bits 32
pm:     PRINT32 "sse", 10
        call build_idt
        ; CPUID.1: FXSR SSE SSE2 (EDX 24..26), CLFSH (EDX 19), SSE3 SSSE3 (ECX 0, 9)
        mov eax, 1
        cpuid
        and edx, 0x07080000
        and ecx, 0x00000201
        PRINT32 "cpuid.1.edx&07080000="
        mov eax, edx
        call hex32
        PRINT32 " ecx&201="
        mov eax, ecx
        call hex32
        PRINT32 10
        ; operands: DATA = 1.0 2.0 3.0 4.0, DATA+16 = 0.0 x4, DATA+32 = pattern
        mov dword [DATA], 0x3F800000
        mov dword [DATA + 4], 0x40000000
        mov dword [DATA + 8], 0x40400000
        mov dword [DATA + 12], 0x40800000
        mov dword [DATA + 16], 0
        mov dword [DATA + 20], 0
        mov dword [DATA + 24], 0
        mov dword [DATA + 28], 0
        ; CR4.OSFXSR clear: #UD
        mov eax, cr4
        and eax, ~0x600
        mov cr4, eax
        PRINT32 "osfxsr=0:", 10
        EXPECT_FAULT movaps xmm0, [DATA]
        EXPECT_FAULT addps xmm0, xmm1
        EXPECT_FAULT ldmxcsr [DATA]
        ; OSFXSR set, CR0.EM set: #UD; CR0.TS set: #NM
        mov eax, cr4
        or eax, 0x200
        mov cr4, eax
        mov eax, cr0
        or eax, 4
        mov cr0, eax
        PRINT32 "em=1:", 10
        EXPECT_FAULT movups xmm0, [DATA]
        mov eax, cr0
        and eax, ~4
        or eax, 8
        mov cr0, eax
        PRINT32 "ts=1:", 10
        EXPECT_FAULT addps xmm0, [DATA]
        EXPECT_FAULT fxsave [BUF]
        clts
        ; alignment
        PRINT32 "misaligned:", 10
        movaps xmm0, [DATA]
        EXPECT_FAULT movaps xmm1, [DATA + 4]
        EXPECT_FAULT movaps [DATA + 40], xmm0
        EXPECT_FAULT addps xmm0, [DATA + 8]
        EXPECT_FAULT movdqa xmm2, [DATA + 1]
        EXPECT_FAULT fxsave [BUF + 8]
        movups xmm3, [DATA + 4]
        movdqu xmm4, [DATA + 3]
        lddqu xmm5, [DATA + 1]
        movss xmm6, [DATA + 2]
        PRINT32 "unaligned loads ok", 10
        ; divide by zero unmasked: ZM clear
        mov dword [DATA + 48], 0x1D80
        ldmxcsr [DATA + 48]
        movaps xmm1, [DATA + 16]
        PRINT32 "divps by zero, osxmmexcpt=0:", 10
        EXPECT_FAULT divps xmm0, xmm1
        call show_mxcsr
        mov eax, cr4
        or eax, 0x400
        mov cr4, eax
        ldmxcsr [DATA + 48]
        PRINT32 "osxmmexcpt=1:", 10
        EXPECT_FAULT divss xmm0, xmm1
        call show_mxcsr
        movd eax, xmm0
        PRINT32 "xmm0.0 kept="
        call hex32
        PRINT32 10
        ; masked: infinity and the flag
        mov dword [DATA + 48], 0x1F80
        ldmxcsr [DATA + 48]
        divss xmm0, xmm1
        movd eax, xmm0
        PRINT32 "masked: xmm0.0="
        call hex32
        PRINT32 10
        call show_mxcsr
        ; LDMXCSR with a reserved bit
        mov dword [DATA + 48], 0x00041F80
        PRINT32 "reserved mxcsr bit:", 10
        EXPECT_FAULT ldmxcsr [DATA + 48]
        ; FXSAVE / FXRSTOR of MXCSR and XMM0..7
        mov dword [DATA + 48], 0x7F80 | 0x0001
        ldmxcsr [DATA + 48]
        mov eax, 0x11111111
        mov ecx, 8
        mov edi, DATA + 64
.fill:  mov [edi], eax
        mov [edi + 4], ecx
        mov [edi + 8], eax
        mov [edi + 12], ecx
        add eax, 0x11111111
        add edi, 16
        loop .fill
        movups xmm0, [DATA + 64]
        movups xmm1, [DATA + 80]
        movups xmm2, [DATA + 96]
        movups xmm3, [DATA + 112]
        movups xmm4, [DATA + 128]
        movups xmm5, [DATA + 144]
        movups xmm6, [DATA + 160]
        movups xmm7, [DATA + 176]
        fxsave [BUF]
        PRINT32 "fxsave mxcsr="
        mov eax, [BUF + 24]
        call hex32
        PRINT32 " mask="
        mov eax, [BUF + 28]
        call hex32
        PRINT32 10, "xmm0="
        mov eax, [BUF + 160]
        call hex32
        mov eax, [BUF + 164]
        call hex32
        PRINT32 " xmm7="
        mov eax, [BUF + 160 + 7 * 16 + 8]
        call hex32
        mov eax, [BUF + 160 + 7 * 16 + 12]
        call hex32
        PRINT32 10
        mov dword [DATA + 48], 0x1F80
        ldmxcsr [DATA + 48]
        xorps xmm0, xmm0
        xorps xmm7, xmm7
        fxrstor [BUF]
        stmxcsr [DATA + 52]
        PRINT32 "fxrstor mxcsr="
        mov eax, [DATA + 52]
        call hex32
        PRINT32 " xmm0="
        pextrw eax, xmm0, 1
        call hex32
        PRINT32 " xmm7="
        psrldq xmm7, 12
        movd eax, xmm7
        call hex32
        PRINT32 10
        mov dword [BUF + 24], 0x00011F80
        PRINT32 "fxrstor reserved mxcsr bit:", 10
        EXPECT_FAULT fxrstor [BUF]
        stmxcsr [DATA + 52]
        PRINT32 "mxcsr after="
        mov eax, [DATA + 52]
        call hex32
        PRINT32 10, "done", 10
        EXIT32

show_mxcsr:
        stmxcsr [DATA + 52]
        PRINT32 "mxcsr="
        mov eax, [DATA + 52]
        call hex32
        PRINT32 10
        ret

        ROM_END
