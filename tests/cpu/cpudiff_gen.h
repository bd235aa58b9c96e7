/*
 * Case generators of the differential CPU test: one function per opcode
 * group, each building a random case (code bytes, registers, flags and the
 * data the memory operands point at) from a seeded generator, with edge
 * values (0, 1, -1, sign bits, 0x7f.., 0x80..) mixed into the operands.
 * A case also says which flags the SDM leaves undefined for it and whether
 * its destination is undefined; those differences are reported apart.
 */
#ifndef VMPLAY_TESTS_CPUDIFF_GEN_H
#define VMPLAY_TESTS_CPUDIFF_GEN_H

#include <stdbool.h>

#include "cpudiff.h"

struct gen {
    uint64_t rng;
    struct cd_in *in;
    uint32_t avoid;      /* GPRs already used by the instruction (bit per register) */
    uint32_t undef;      /* EFLAGS bits the SDM leaves undefined for this case */
    bool undef_result;   /* the destination itself is undefined (BSF of 0, SHLD > width) */
    bool fpu;            /* compare FCW/FSW */
    bool sse;            /* compare MXCSR and XMM0..7 */
    bool approx;         /* an implementation-specific approximation (RCP/RSQRT): only the
                            host it runs on can judge it, so it is not recorded (cpudiff_rec.c) */
    uint32_t expect;     /* vectors raised on purpose besides #DE and #UD (bit per vector) */
    struct {
        uint16_t off, len;
    } ignore[6];         /* window bytes not compared (selectors in FPU images) */
};

struct cd_group {
    const char *name;
    void (*gen)(struct gen *g, int arg);
    int arg;
    int count;
};

extern const struct cd_group cd_groups[];
extern const int cd_ngroups;

/* A fresh case for (seed, group, index): random GPRs (ESP = CD_STACK), flags, data. */
void gen_case(struct gen *g, struct cd_in *in, uint32_t seed, int group, int index);

#endif
