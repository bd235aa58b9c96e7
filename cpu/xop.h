/* The interpreter's fast-path forms (insn.xop), chosen by fast_form (exec_fast.c); the translator (jit.c) reads them too. */
#ifndef VMPLAY_CPU_XOP_H
#define VMPLAY_CPU_XOP_H
enum xop {
    X_NONE, X_ALU_RR, X_ALU_RM, X_ALU_MR, X_ALU_RI, X_ALU_MI, X_ALU_AI, X_ALU8, X_MOV_RR,
    X_MOV_RI, X_LOAD, X_STORE, X_STORE_I, X_MOV8_RM, X_MOV8_MR, X_MOV8_MI, X_INC, X_DEC,
    X_PUSH, X_POP, X_PUSH_I, X_JCC, X_JMP, X_CALL, X_RET, X_LEA, X_TEST_RR, X_TEST_RI,
    X_TEST8_RR, X_MOVZX8, X_MOVZX16, X_MOVSX8, X_MOVSX16, X_SHIFT, X_IMUL, X_CMOV, X_SETCC,
    X_LOAD16, X_STORE16, X_MOV16_RR, X_SHIFT16, X_INCDEC_M,
    /* 64-bit mode, 32- and 64-bit operands */
    X64_ALU_RR, X64_ALU_RM, X64_ALU_MR, X64_ALU_RI, X64_ALU_MI, X64_ALU_AI, X64_MOV_RR,
    X64_MOV_RI, X64_LOAD, X64_STORE, X64_STORE_I, X64_LEA, X64_PUSH, X64_POP, X64_CALL, X64_RET,
    X64_JMP, X64_JCC, X64_TEST, X64_TEST_I, X64_INCDEC, X64_MOVX, X64_MOVSXD, X64_CMOV,
    X64_SETCC, X64_SHIFT, X64_IMUL, X64_ALU8, X64_MOV8, X64_TEST8, X64_PUSH_I, X64_CALL_RM,
    X64_JMP_RM, X64_MOV16, X64_TEST_AI, X64_NOP,
    X_END, /* the marker after a block's last instruction */
    X_COUNT
};

#endif
