/*
 * Known-wrong results planted into the software core, for the check that
 * the differential suite (live or replayed) catches a core that is wrong:
 * linked into cpudiff-planted with -Wl,--wrap=sse_host,--wrap=fpu_exec, so
 * the core itself computes the bad values, not the comparison.
 *   ADDPS/ADDPD/ADDSS/ADDSD: bit 0 of the result's low lane flipped
 *   FADD (D8 /0, DC /0, DE /0, memory and register forms): bit 40 of ST(0)'s significand
 *   flipped (the lowest bit a single-precision store keeps)
 */
#include "cpu/cpu.h"
#include "cpu/fpu.h"
#include "cpu/sse.h"

uint32_t __real_sse_host(unsigned map, unsigned pfx, uint8_t op, uint8_t imm, struct sse_io *io,
                         uint32_t mxcsr, unsigned how);
uint32_t __wrap_sse_host(unsigned map, unsigned pfx, uint8_t op, uint8_t imm, struct sse_io *io,
                         uint32_t mxcsr, unsigned how);
enum fpu_result __real_fpu_exec(struct fpu *f, const struct fpu_insn *in, uint8_t *mem);
enum fpu_result __wrap_fpu_exec(struct fpu *f, const struct fpu_insn *in, uint8_t *mem);

uint32_t __wrap_sse_host(unsigned map, unsigned pfx, uint8_t op, uint8_t imm, struct sse_io *io,
                         uint32_t mxcsr, unsigned how)
{
    uint32_t raised = __real_sse_host(map, pfx, op, imm, io, mxcsr, how);
    if (map == SSE_MAP_0F && op == 0x58)
        io->x0[0] ^= 1;
    return raised;
}

enum fpu_result __wrap_fpu_exec(struct fpu *f, const struct fpu_insn *in, uint8_t *mem)
{
    enum fpu_result r = __real_fpu_exec(f, in, mem);
    if ((in->op == 0xD8 || in->op == 0xDC || in->op == 0xDE) && (in->modrm >> 3 & 7) == 0) {
        struct cpu_fpu_state st;
        fpu_get_state(f, &st);
        st.st[st.fsw >> 11 & 7][5] ^= 1;
        fpu_set_state(f, &st);
    }
    return r;
}
