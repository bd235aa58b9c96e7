/*
 * SSE..SSSE3 instruction templates shared by the 32- and 64-bit differential
 * tests: mandatory prefix, map, opcode, operand shape, memory operand size.
 */
#ifndef VMPLAY_TESTS_SSE_OPS_H
#define VMPLAY_TESTS_SSE_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* One SSE instruction template: mandatory prefix (0: none), map (0: 0F, 0x38, 0x3A), opcode,
 * operand shape and memory operand size (0: register form only). */
enum { T_XX, T_XR, T_RX, T_MX, T_XM, T_MM, T_RM, T_FX };
struct sse_tpl {
    uint8_t pfx, map, op, shape, msize;
    bool imm, noalign;
};

extern const struct sse_tpl sse_fp_ops[]; /* arithmetic, compares, conversions, SSE3 */
extern const unsigned sse_fp_nops;
extern const uint8_t sse_int66_ops[]; /* 66 0F xx, xmm, xmm/m128 */
extern const unsigned sse_int66_nops;
extern const uint8_t sse_ssse3_ops[]; /* 66 0F 38 xx */
extern const unsigned sse_ssse3_nops;
extern const struct sse_tpl sse_load_ops[];
extern const unsigned sse_load_nops;
extern const uint8_t sse_store_ops[][2];
extern const unsigned sse_store_nops;

#endif
