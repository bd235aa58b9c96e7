/*
 * The opcode groups of the differential CPU test and their case generators
 * (see cpudiff_gen.h). Memory operands are placed in the data part of the
 * window through a randomly chosen 32-bit addressing form (disp32, base,
 * base+disp8/disp32, SIB with any scale) whose registers are set so that the
 * effective address lands on the operand.
 */
#include "cpudiff_gen.h"
#include "sse_ops.h"

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_DF 0x400u
#define F_OF 0x800u
#define R_ESP 4

static uint32_t rnd(struct gen *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return (uint32_t)(g->rng >> 16);
}

static uint32_t below(struct gen *g, uint32_t n)
{
    return rnd(g) % n;
}

/* An operand value: an edge value of a random width with random bits above it, or random. */
static uint32_t opnd(struct gen *g)
{
    static const uint32_t edge[] = {0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF,
                                    0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu, 0xFFFFFFFEu,
                                    0x80000001u, 0x0F, 0x10, 0x81, 0xFE};
    static const uint32_t widths[] = {8, 16, 32};
    uint32_t k = below(g, 8);
    if (k >= 4)
        return rnd(g);
    if (k == 3)
        return below(g, 40);
    uint32_t w = widths[below(g, 3)];
    uint32_t v = edge[below(g, sizeof edge / sizeof edge[0])];
    uint32_t mask = w == 32 ? 0xFFFFFFFFu : (1u << w) - 1;
    uint32_t v_w = w == 8 && v > 0xFF ? v & 0xFF : v;
    if (w == 32)
        return v;
    return (k == 0 ? rnd(g) & ~mask : 0) | (v_w & mask) | (k == 2 ? (rnd(g) & ~mask) : 0);
}

static void emit(struct gen *g, uint8_t b)
{
    if (g->in->code_len < CD_CODE_MAX - 1)
        g->in->code[g->in->code_len++] = b;
}

static void emit16(struct gen *g, uint32_t v)
{
    emit(g, (uint8_t)v);
    emit(g, (uint8_t)(v >> 8));
}

static void emit32(struct gen *g, uint32_t v)
{
    emit16(g, v);
    emit16(g, v >> 16);
}

static void emit_imm(struct gen *g, unsigned width, uint32_t v)
{
    if (width == 8)
        emit(g, (uint8_t)v);
    else if (width == 16)
        emit16(g, v);
    else
        emit32(g, v);
}

static void emit_modrm(struct gen *g, unsigned mod, unsigned reg, unsigned rm)
{
    emit(g, (uint8_t)(mod << 6 | (reg & 7) << 3 | (rm & 7)));
}

static void width_prefix(struct gen *g, unsigned width)
{
    if (width == 16)
        emit(g, 0x66);
}

static uint32_t reg_bit(unsigned width, unsigned r)
{
    return 1u << (width == 8 ? r & 3 : r);
}

/* A register operand not used yet (never ESP); marks it used. */
static unsigned pick_reg(struct gen *g, unsigned width)
{
    for (int tries = 0; tries < 64; tries++) {
        unsigned r = below(g, 8);
        if ((width != 8 && r == R_ESP) || (g->avoid & reg_bit(width, r)))
            continue;
        g->avoid |= reg_bit(width, r);
        return r;
    }
    return 0; /* unreachable in practice: no instruction uses seven registers */
}

/* A free 32-bit register for addressing, or -1. */
static int free_reg(struct gen *g)
{
    for (int tries = 0; tries < 32; tries++) {
        unsigned r = below(g, 8);
        if (r != R_ESP && !(g->avoid & (1u << r))) {
            g->avoid |= 1u << r;
            return (int)r;
        }
    }
    return -1;
}

/* ModRM [+SIB] [+disp] addressing CD_WIN + off, with the registers set to reach it. */
static void mem_operand(struct gen *g, unsigned reg, uint32_t off)
{
    uint32_t addr = CD_WIN + off;
    unsigned form = below(g, 6);
    int b = form == 0 ? -1 : free_reg(g);
    if (b < 0 || (form == 1 && b == 5)) {
        emit_modrm(g, 0, reg, 5);
        emit32(g, addr);
        return;
    }
    if (form == 1) {
        g->in->gpr[b] = addr;
        emit_modrm(g, 0, reg, (unsigned)b);
    } else if (form == 2) {
        int8_t d = (int8_t)rnd(g);
        g->in->gpr[b] = addr - (uint32_t)(int32_t)d;
        emit_modrm(g, 1, reg, (unsigned)b);
        emit(g, (uint8_t)d);
    } else if (form == 3) {
        uint32_t d = rnd(g);
        g->in->gpr[b] = addr - d;
        emit_modrm(g, 2, reg, (unsigned)b);
        emit32(g, d);
    } else {
        int x = free_reg(g);
        unsigned scale = below(g, 4);
        bool esp_base = form == 5;
        unsigned base = esp_base ? R_ESP : (unsigned)b;
        uint32_t idx = x < 0 ? 0 : (below(g, 2) ? rnd(g) : below(g, 64));
        if (x >= 0)
            g->in->gpr[x] = idx;
        uint32_t d = rnd(g);
        uint32_t rest = addr - (x < 0 ? 0 : idx << scale);
        emit_modrm(g, 2, reg, 4);
        emit(g, (uint8_t)(scale << 6 | (x < 0 ? 4u : (unsigned)x) << 3 | base));
        if (esp_base)
            d = rest - g->in->gpr[R_ESP];
        else
            g->in->gpr[base] = rest - d;
        emit32(g, d);
    }
}

/* An offset in the data part holding an edge-biased value of width bits. */
static uint32_t mem_at(struct gen *g, unsigned width)
{
    uint32_t off = below(g, CD_DATA_INIT - 8);
    uint32_t v = opnd(g);
    memcpy(g->in->data + off, &v, width / 8);
    return off;
}

/* reg/mem operand: register (mod 3) or memory, chosen at random. */
static void rm_operand(struct gen *g, unsigned reg, unsigned width, bool mem)
{
    if (mem)
        mem_operand(g, reg, mem_at(g, width));
    else
        emit_modrm(g, 3, reg, pick_reg(g, width));
}

static unsigned rand_width(struct gen *g)
{
    static const unsigned w[] = {8, 16, 32};
    return w[below(g, 3)];
}

/* ADD OR ADC SBB AND SUB XOR CMP in all encodings. */
static void gen_alu(struct gen *g, int width_arg)
{
    unsigned width = (unsigned)width_arg, op = below(g, 8), form = below(g, 6), w = width != 8;
    bool mem = form == 1 || form == 2 || form == 5;
    if ((mem && op != 7 && form != 2 && below(g, 4) == 0) || below(g, 128) == 0)
        emit(g, 0xF0); /* LOCK: #UD on register, CMP and reg,mem forms */
    width_prefix(g, width);
    if (op == 1 || op == 4 || op == 6)
        g->undef = F_AF;
    if (form <= 2) {
        emit(g, (uint8_t)(op * 8 + (form == 2 ? 2 : 0) + w));
        unsigned r = pick_reg(g, width);
        rm_operand(g, r, width, mem);
    } else if (form == 3) {
        emit(g, (uint8_t)(op * 8 + 4 + w));
        emit_imm(g, width, opnd(g));
    } else {
        bool imm8 = width != 8 && below(g, 2);
        emit(g, width == 8 ? (below(g, 8) ? 0x80 : 0x82) : imm8 ? 0x83 : 0x81);
        rm_operand(g, op, width, mem);
        emit_imm(g, imm8 ? 8 : width, opnd(g));
    }
}

/* TEST, INC, DEC, NEG, NOT. */
static void gen_unary(struct gen *g, int arg)
{
    unsigned width = rand_width(g), w = width != 8, k = below(g, 7);
    bool mem = below(g, 2);
    if (mem && k >= 3 && below(g, 4) == 0)
        emit(g, 0xF0);
    width_prefix(g, width);
    switch (k) {
    case 0: /* TEST r/m, r */
        g->undef = F_AF;
        emit(g, (uint8_t)(0x84 + w));
        rm_operand(g, pick_reg(g, width), width, mem);
        break;
    case 1: /* TEST acc, imm */
        g->undef = F_AF;
        emit(g, (uint8_t)(0xA8 + w));
        emit_imm(g, width, opnd(g));
        break;
    case 2: /* TEST r/m, imm */
        g->undef = F_AF;
        emit(g, (uint8_t)(0xF6 + w));
        rm_operand(g, 0, width, mem);
        emit_imm(g, width, opnd(g));
        break;
    case 3: /* INC/DEC r/m */
    case 4:
        emit(g, (uint8_t)(0xFE + w));
        rm_operand(g, k - 3, width, mem);
        break;
    case 5: /* NEG/NOT r/m */
        emit(g, (uint8_t)(0xF6 + w));
        rm_operand(g, 2 + below(g, 2), width, mem);
        break;
    default: /* INC/DEC r16/r32 short forms */
        if (width == 8)
            emit(g, 0x66);
        emit(g, (uint8_t)(0x40 + below(g, 2) * 8 + pick_reg(g, 32)));
        break;
    }
    (void)arg;
}

/* MUL, IMUL (one, two and three operands). */
static void gen_mul(struct gen *g, int arg)
{
    unsigned width = rand_width(g), k = below(g, 4);
    bool mem = below(g, 2);
    g->undef = F_SF | F_ZF | F_AF | F_PF;
    if (k <= 1 || width == 8) {
        g->avoid = 1u << 0 | 1u << 2;
        width_prefix(g, width);
        emit(g, width == 8 ? 0xF6 : 0xF7);
        rm_operand(g, 4 + (k & 1), width, mem);
        return;
    }
    width_prefix(g, width);
    unsigned r = pick_reg(g, width);
    if (k == 2) {
        emit(g, 0x0F);
        emit(g, 0xAF);
        rm_operand(g, r, width, mem);
    } else {
        bool imm8 = below(g, 2);
        emit(g, imm8 ? 0x6B : 0x69);
        rm_operand(g, r, width, mem);
        emit_imm(g, imm8 ? 8 : width, opnd(g));
    }
    (void)arg;
}

/* DIV, IDIV; most cases keep the quotient in range, the rest may raise #DE. */
static void gen_div(struct gen *g, int arg)
{
    unsigned width = rand_width(g), sub = 6 + below(g, 2);
    bool mem = below(g, 2), safe = below(g, 4) != 0;
    g->undef = 0x8D5;
    g->avoid = 1u << 0 | 1u << 2;
    width_prefix(g, width);
    emit(g, width == 8 ? 0xF6 : 0xF7);
    rm_operand(g, sub, width, mem);
    if (!safe)
        return;
    /* high half of the dividend = 0 (DIV) or the sign of the low half (IDIV): never overflows
     * except IDIV of the most negative value by -1, which stays as a #DE case */
    uint32_t *a = &g->in->gpr[0], *d = &g->in->gpr[2];
    bool neg = sub == 7 && below(g, 2);
    if (width == 8)
        *a = (*a & 0xFFFF00FFu) | (neg && (*a & 0x80) ? 0xFF00u : 0);
    else if (width == 16)
        *d = (*d & 0xFFFF0000u) | (neg && (*a & 0x8000) ? 0xFFFFu : 0);
    else
        *d = neg && (*a & 0x80000000u) ? 0xFFFFFFFFu : 0;
    (void)arg;
}

/* A shift/rotate count: 0, 1, width-1, width, width+1, 31, 32, 33, or random. */
static uint8_t count_for(struct gen *g, unsigned width)
{
    uint8_t c[] = {0, 1, 2, (uint8_t)(width - 1), (uint8_t)width, (uint8_t)(width + 1), 31, 32, 33};
    return below(g, 3) ? c[below(g, sizeof c)] : (uint8_t)rnd(g);
}

/* SHL SHR SAR (arg 0) or ROL ROR RCL RCR (arg 1) by 1, CL or imm8. */
static void gen_shift(struct gen *g, int rotate)
{
    static const unsigned shifts[] = {4, 5, 7};
    unsigned width = rand_width(g), w = width != 8, how = below(g, 3);
    unsigned sub = rotate ? below(g, 4) : shifts[below(g, 3)];
    bool mem = below(g, 3) == 0;
    uint8_t cnt = how == 0 ? 1 : count_for(g, width);
    g->avoid = 1u << 1;
    width_prefix(g, width);
    emit(g, (uint8_t)((how == 0 ? 0xD0 : how == 1 ? 0xD2 : 0xC0) + w));
    rm_operand(g, sub, width, mem);
    if (how == 2)
        emit(g, cnt);
    if (how == 1)
        g->in->gpr[1] = (g->in->gpr[1] & ~0xFFu) | cnt;
    unsigned mc = cnt & 31;
    if (mc == 0)
        return;
    if (mc != 1)
        g->undef |= F_OF;
    if (!rotate) {
        g->undef |= F_AF;
        if (mc >= width)
            g->undef |= F_CF;
    }
}

/* SHLD, SHRD by imm8 or CL, 16 and 32 bits. */
static void gen_shld(struct gen *g, int arg)
{
    unsigned width = below(g, 2) ? 16 : 32, byimm = below(g, 2);
    bool mem = below(g, 3) == 0;
    uint8_t cnt = count_for(g, width);
    g->avoid = 1u << 1;
    width_prefix(g, width);
    emit(g, 0x0F);
    emit(g, (uint8_t)((below(g, 2) ? 0xA4 : 0xAC) + (byimm ? 0 : 1)));
    rm_operand(g, pick_reg(g, width), width, mem);
    if (byimm)
        emit(g, cnt);
    else
        g->in->gpr[1] = (g->in->gpr[1] & ~0xFFu) | cnt;
    unsigned mc = cnt & 31;
    if (mc == 0)
        return;
    g->undef = F_AF | (mc != 1 ? F_OF : 0);
    if (mc > width) {
        g->undef = 0x8D5;
        g->undef_result = true;
    }
    (void)arg;
}

/* BT BTS BTR BTC with a register or imm8 offset; memory forms reach beyond the operand. */
static void gen_bt(struct gen *g, int arg)
{
    unsigned width = below(g, 2) ? 16 : 32, sub = below(g, 4), byimm = below(g, 3) == 0;
    bool mem = below(g, 2);
    g->undef = F_OF | F_SF | F_AF | F_PF;
    if (mem && sub && below(g, 4) == 0)
        emit(g, 0xF0);
    width_prefix(g, width);
    emit(g, 0x0F);
    if (byimm) {
        emit(g, 0xBA);
        rm_operand(g, 4 + sub, width, mem);
        emit(g, (uint8_t)rnd(g));
        return;
    }
    emit(g, (uint8_t)(0xA3 + sub * 8));
    unsigned r = pick_reg(g, width);
    if (!mem) {
        rm_operand(g, r, width, false);
        return;
    }
    /* operand at 0x100..0x180; offsets of -2048..+2047 bits stay in the data part */
    int32_t bit = (int32_t)below(g, 4096) - 2048;
    g->in->gpr[r] = width == 16 ? (g->in->gpr[r] & 0xFFFF0000u) | ((uint32_t)bit & 0xFFFF)
                                : (uint32_t)bit;
    mem_operand(g, r, 0x100 + below(g, 0x80));
    (void)arg;
}

/* BSF, BSR (zero sources included), BSWAP, MOVZX, MOVSX. */
static void gen_bitscan(struct gen *g, int arg)
{
    unsigned width = below(g, 2) ? 16 : 32, k = below(g, 4);
    bool mem = below(g, 2);
    if (k == 3) {
        emit(g, 0x0F);
        emit(g, (uint8_t)(0xC8 + below(g, 8)));
        return;
    }
    width_prefix(g, width);
    emit(g, 0x0F);
    unsigned r = pick_reg(g, width);
    if (k == 2) {
        unsigned op = 0xB6 + below(g, 2) + 8 * below(g, 2);
        unsigned sw = op & 1 ? 16 : 8;
        emit(g, (uint8_t)op);
        if (mem) {
            mem_operand(g, r, mem_at(g, sw));
        } else {
            emit_modrm(g, 3, r, pick_reg(g, sw));
        }
        return;
    }
    emit(g, (uint8_t)(0xBC + k));
    g->undef = F_CF | F_OF | F_SF | F_AF | F_PF;
    uint32_t src;
    if (mem) {
        uint32_t off = mem_at(g, width);
        if (below(g, 6) == 0)
            memset(g->in->data + off, 0, width / 8);
        mem_operand(g, r, off);
        memcpy(&src, g->in->data + off, 4);
    } else {
        unsigned s = pick_reg(g, width);
        if (below(g, 6) == 0)
            g->in->gpr[s] &= width == 16 ? 0xFFFF0000u : 0;
        emit_modrm(g, 3, r, s);
        src = g->in->gpr[s];
    }
    if ((width == 16 ? src & 0xFFFF : src) == 0)
        g->undef_result = true;
    (void)arg;
}

/* CMOVcc, SETcc, Jcc (short and near), LOOP/LOOPE/LOOPNE/JECXZ. */
static void gen_cond(struct gen *g, int arg)
{
    unsigned cc = below(g, 16), k = below(g, 5);
    bool mem = below(g, 2);
    g->in->eflags = (g->in->eflags & ~0x8D5u) | (rnd(g) & 0x8D5);
    if (k == 0) {
        unsigned width = below(g, 2) ? 16 : 32;
        width_prefix(g, width);
        emit(g, 0x0F);
        emit(g, (uint8_t)(0x40 + cc));
        rm_operand(g, pick_reg(g, width), width, mem);
    } else if (k == 1) {
        emit(g, 0x0F);
        emit(g, (uint8_t)(0x90 + cc));
        rm_operand(g, 0, 8, mem);
    } else if (k == 2) {
        bool near = below(g, 2);
        if (near) {
            emit(g, 0x0F);
            emit(g, (uint8_t)(0x80 + cc));
            emit32(g, 5);
        } else {
            emit(g, (uint8_t)(0x70 + cc));
            emit(g, 5);
        }
        emit(g, 0xB8); /* mov eax, imm32: skipped when taken */
        emit32(g, rnd(g));
        emit(g, 0x41); /* inc ecx */
    } else if (k == 3) {
        /* L: inc edx; test edx, esi; loop/loope/loopne L */
        g->in->gpr[1] = 1 + below(g, 20);
        g->in->gpr[6] = below(g, 2) ? 3 : rnd(g);
        emit(g, 0x42);
        emit(g, 0x85);
        emit(g, 0xF2);
        emit(g, (uint8_t)(0xE0 + below(g, 3)));
        emit(g, 0xFB);
    } else {
        /* JECXZ / JCXZ over an inc eax */
        g->in->gpr[1] = below(g, 2) ? 0 : below(g, 2) ? 0x10000u : rnd(g);
        if (below(g, 2))
            emit(g, 0x67);
        emit(g, 0xE3);
        emit(g, 1);
        emit(g, 0x40);
    }
    (void)arg;
}

/* XCHG, XADD, CMPXCHG, CMPXCHG8B (with and without LOCK). */
static void gen_xchg(struct gen *g, int arg)
{
    unsigned width = rand_width(g), w = width != 8, k = below(g, 5);
    bool mem = below(g, 2);
    if (k == 4) {
        g->avoid = 0x0F;
        if (below(g, 2))
            emit(g, 0xF0);
        uint32_t off = below(g, CD_DATA_INIT - 8);
        if (below(g, 2)) {
            memcpy(&g->in->gpr[0], g->in->data + off, 4);
            memcpy(&g->in->gpr[2], g->in->data + off + 4, 4);
        }
        emit(g, 0x0F);
        emit(g, 0xC7);
        if (below(g, 32) == 0)
            emit_modrm(g, 3, 1, 6); /* register form: #UD */
        else
            mem_operand(g, 1, off);
        return;
    }
    if (mem && k != 3 && below(g, 3) == 0)
        emit(g, 0xF0);
    width_prefix(g, width);
    if (k == 3) {
        if (width == 8)
            emit(g, 0x66);
        emit(g, (uint8_t)(0x90 + pick_reg(g, 32)));
        return;
    }
    if (k == 0) {
        emit(g, (uint8_t)(0x86 + w));
    } else {
        g->avoid = 1u << 0;
        emit(g, 0x0F);
        emit(g, (uint8_t)((k == 1 ? 0xC0 : 0xB0) + w));
    }
    unsigned r = pick_reg(g, width);
    if (mem) {
        uint32_t off = mem_at(g, width);
        if (k == 2 && below(g, 2))
            memcpy(g->in->data + off, &g->in->gpr[0], width / 8);
        mem_operand(g, r, off);
    } else {
        unsigned s = pick_reg(g, width);
        if (k == 2 && below(g, 2) && width != 8)
            g->in->gpr[0] = g->in->gpr[s];
        emit_modrm(g, 3, r, s);
    }
    (void)arg;
}

/* CBW CWDE CWD CDQ, LAHF SAHF, CLC STC CMC CLD STD, XLAT, NOP: short sequences. */
static void gen_misc(struct gen *g, int arg)
{
    static const uint8_t one[] = {0x98, 0x99, 0x9F, 0x9E, 0xF8, 0xF9, 0xF5, 0xFC, 0xFD, 0x90, 0xD7};
    unsigned n = 1 + below(g, 4);
    g->in->gpr[3] = CD_WIN + below(g, 256);
    g->avoid = 1u << 3;
    for (unsigned i = 0; i < n; i++) {
        uint8_t op = one[below(g, sizeof one)];
        if ((op == 0x98 || op == 0x99) && below(g, 2))
            emit(g, 0x66);
        emit(g, op);
    }
    (void)arg;
}

/* BOUND (in and out of range, 16/32), INTO with OF either way, INT3: the traps and #BR. */
static void gen_trap(struct gen *g, int arg)
{
    unsigned k = below(g, 3);
    g->expect = 1u << 3 | 1u << 4 | 1u << 5;
    if (k == 0) {
        emit(g, 0xCC);
    } else if (k == 1) {
        g->in->eflags = (g->in->eflags & ~F_OF) | (below(g, 2) ? F_OF : 0);
        emit(g, 0xCE);
    } else {
        unsigned width = below(g, 2) ? 16 : 32, sz = width / 8;
        uint32_t off = below(g, CD_DATA_INIT - 8);
        uint32_t lo = opnd(g), hi = below(g, 2) ? lo + below(g, 100) : opnd(g);
        memcpy(g->in->data + off, &lo, sz);
        memcpy(g->in->data + off + sz, &hi, sz);
        width_prefix(g, width);
        emit(g, 0x62);
        unsigned r = pick_reg(g, width);
        if (below(g, 2))
            g->in->gpr[r] = (g->in->gpr[r] & (width == 16 ? 0xFFFF0000u : 0)) +
                            (width == 16 ? (lo + below(g, 3)) & 0xFFFF : lo + below(g, 3));
        mem_operand(g, r, off);
    }
    (void)arg;
}

/* Redundant and ignored prefixes: segment overrides, repeated 66, REP on non-string
 * instructions (PAUSE, REP RET-like forms avoided), NOPL, over ALU and MOV forms. */
static void gen_prefix(struct gen *g, int arg)
{
    static const uint8_t pre[] = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0xF3, 0xF2};
    unsigned k = below(g, 4), n = below(g, 4);
    for (unsigned i = 0; i < n; i++) {
        uint8_t p = pre[below(g, sizeof pre)];
        if (p == 0x64 || p == 0x65)
            p = 0x3E; /* FS/GS differ between the host process and the core */
        if ((p == 0xF3 || p == 0xF2) && k != 0)
            p = 0x36;
        if (p == 0x66 && (k == 1 || k == 3))
            p = 0x26; /* would change the immediate's size under the generator */
        if (p == 0x2E)
            g->expect |= 1u << 13; /* a write through CS */
        emit(g, p);
    }
    if (k == 0) {
        static const uint8_t nop[][3] = {{0x90, 0, 0}, {0x0F, 0x1F, 0xC0}, {0x0F, 0x1F, 0x00}};
        unsigned j = below(g, 3);
        emit(g, nop[j][0]);
        if (j) {
            emit(g, nop[j][1]);
            if (j == 2)
                mem_operand(g, 0, mem_at(g, 32));
            else
                emit(g, nop[j][2]);
        }
    } else if (k == 1) {
        gen_alu(g, (int)rand_width(g));
    } else if (k == 2) {
        emit(g, 0x8B);
        mem_operand(g, pick_reg(g, 32), mem_at(g, 32));
    } else {
        gen_unary(g, 0);
    }
    (void)arg;
}

/* MOV in all integer forms (r/m, imm, moffs) with segment overrides. */
static void gen_mov(struct gen *g, int arg)
{
    static const uint8_t seg[] = {0x26, 0x2E, 0x36, 0x3E};
    unsigned width = rand_width(g), w = width != 8, k = below(g, 5);
    bool mem = below(g, 2), store = below(g, 2);
    if (below(g, 4) == 0) {
        uint8_t p = seg[below(g, 4)];
        /* a write through CS is #GP(0) on both sides: the expected outcome */
        if (p == 0x2E && (k == 0 || k == 3 || (k == 4 && store)))
            g->expect = 1u << 13;
        emit(g, p);
    }
    width_prefix(g, width);
    if (k <= 1) {
        emit(g, (uint8_t)(0x88 + 2 * k + w));
        rm_operand(g, pick_reg(g, width), width, mem);
    } else if (k == 2) {
        emit(g, (uint8_t)(0xB0 + 8 * w + pick_reg(g, width)));
        emit_imm(g, width, opnd(g));
    } else if (k == 3) {
        emit(g, (uint8_t)(0xC6 + w));
        rm_operand(g, 0, width, mem);
        emit_imm(g, width, opnd(g));
    } else {
        emit(g, (uint8_t)(0xA0 + 2 * store + w));
        emit32(g, CD_WIN + mem_at(g, width));
    }
    (void)arg;
}

/* LEA with every addressing form, 32-bit and 16-bit (0x67) addressing, 16/32-bit dest. */
static void gen_lea(struct gen *g, int arg)
{
    bool a16 = below(g, 3) == 0;
    if (below(g, 3) == 0)
        emit(g, 0x66);
    if (a16)
        emit(g, 0x67);
    emit(g, 0x8D);
    unsigned mod = below(g, 3), rm = below(g, 8), reg = below(g, 8);
    if (below(g, 100) == 0)
        mod = 3; /* #UD */
    emit_modrm(g, mod, reg, rm);
    unsigned disp = mod == 1 ? 1 : mod == 2 ? (a16 ? 2 : 4) : 0;
    if (!a16 && rm == 4 && mod != 3) {
        uint8_t sib = (uint8_t)rnd(g);
        emit(g, sib);
        if (mod == 0 && (sib & 7) == 5)
            disp = 4;
    }
    if (mod == 0 && rm == (a16 ? 6u : 5u))
        disp = a16 ? 2 : 4;
    for (unsigned i = 0; i < disp; i++)
        emit(g, (uint8_t)rnd(g));
    (void)arg;
}

/* DAA DAS AAA AAS AAM AAD (AAM 0 raises #DE). */
static void gen_bcd(struct gen *g, int arg)
{
    static const uint8_t ops[] = {0x27, 0x2F, 0x37, 0x3F, 0xD4, 0xD5};
    static const uint32_t undef[] = {F_OF, F_OF, F_OF | F_SF | F_ZF | F_PF,
                                     F_OF | F_SF | F_ZF | F_PF, F_OF | F_AF | F_CF,
                                     F_OF | F_AF | F_CF};
    unsigned k = below(g, 6);
    g->in->eflags = (g->in->eflags & ~0x8D5u) | (rnd(g) & 0x8D5);
    emit(g, ops[k]);
    if (k >= 4)
        emit(g, below(g, 2) ? 10 : (uint8_t)rnd(g));
    g->undef = undef[k];
    (void)arg;
}

/* MOVS STOS LODS CMPS SCAS, 8/16/32 bits, REP/REPE/REPNE, DF both ways, overrides. */
static void gen_string(struct gen *g, int arg)
{
    static const uint8_t ops[] = {0xA4, 0xAA, 0xAC, 0xA6, 0xAE};
    unsigned k = below(g, 5), width = rand_width(g), size = width / 8, rep = below(g, 3);
    bool down = below(g, 2);
    uint32_t n = below(g, 4) == 0 ? 0 : 1 + below(g, 40);
    g->in->eflags = (g->in->eflags & ~F_DF) | (down ? F_DF : 0);
    uint32_t si = down ? 0xA0 + below(g, 0x50) : below(g, 0x50);
    uint32_t di = down ? 0x1A0 + below(g, 0x50) : 0x100 + below(g, 0x50);
    g->in->gpr[6] = CD_WIN + si;
    g->in->gpr[7] = CD_WIN + di;
    g->in->gpr[1] = rep ? n : rnd(g);
    if (k >= 3) { /* make the compared strings equal for a while */
        uint32_t span = n * size, eq = below(g, span + 1);
        for (uint32_t i = 0; i < eq && i < 0xA0; i++) {
            uint32_t s = down ? si + size - 1 - i : si + i, d = down ? di + size - 1 - i : di + i;
            if (k == 3)
                g->in->data[d] = g->in->data[s];
            else
                g->in->data[d] = (uint8_t)(g->in->gpr[0] >> (8 * ((d + 0x400 - di) % size)));
        }
    }
    if (rep)
        emit(g, k >= 3 && rep == 2 ? 0xF2 : 0xF3);
    if (below(g, 4) == 0 && (k == 0 || k == 2 || k == 3))
        emit(g, below(g, 2) ? 0x2E : 0x36);
    width_prefix(g, width);
    emit(g, (uint8_t)(ops[k] + (width != 8)));
    (void)arg;
}

/* PUSH/POP in every form, PUSHA/POPA, PUSHF/POPF, ENTER/LEAVE, CALL/RET: short sequences.
 * Memory operands use absolute addresses (earlier POPs change registers); LEAVE only
 * while EBP points into the stack; POP ESP only last. */
static void stack_op(struct gen *g, bool last, bool *bp_ok)
{
    unsigned k = below(g, 12);
    bool o16 = below(g, 4) == 0 && k < 9;
    if (k == 9 && !*bp_ok)
        k = 0;
    if (o16)
        emit(g, 0x66);
    switch (k) {
    case 0: emit(g, (uint8_t)(0x50 + below(g, 8))); break;
    case 1: {
        unsigned r = below(g, last ? 8 : 7);
        r = r >= 4 && !last ? r + 1 : r;
        *bp_ok &= r != 5;
        emit(g, (uint8_t)(0x58 + r));
        break;
    }
    case 2: emit(g, 0x6A); emit(g, (uint8_t)opnd(g)); break;
    case 3: emit(g, 0x68); emit_imm(g, o16 ? 16 : 32, opnd(g)); break;
    case 4: emit(g, 0xFF); emit_modrm(g, 0, 6, 5); emit32(g, CD_WIN + mem_at(g, 32)); break;
    case 5: emit(g, 0x8F); emit_modrm(g, 0, 0, 5); emit32(g, CD_WIN + mem_at(g, 32)); break;
    case 6:
        if (below(g, 2)) {
            emit(g, 0x60);
        } else {
            emit(g, 0x61);
            *bp_ok = false;
        }
        break;
    case 7: /* PUSHF; or PUSH imm with user-visible flags; POPF */
        if (below(g, 2)) {
            emit(g, 0x9C);
            break;
        }
        emit(g, 0x68);
        /* IF and IOPL too: ignored by POPF at CPL 3 with IOPL 0 */
        emit_imm(g, o16 ? 16 : 32, 0x002u | (rnd(g) & (0x8D5u | 0x400u | 0x3200u | 0x200000u)));
        if (o16)
            emit(g, 0x66);
        emit(g, 0x9D);
        break;
    case 8:
        emit(g, 0xC8);
        emit16(g, below(g, 64));
        emit(g, (uint8_t)below(g, *bp_ok ? 4 : 2)); /* levels > 1 read the old frame */
        *bp_ok = *bp_ok || !o16; /* a 16-bit ENTER sets only BP */
        break;
    case 9: emit(g, 0xC9); *bp_ok = false; break;
    case 10: emit(g, 0xE8); emit32(g, 0); emit(g, (uint8_t)(0x58 + below(g, 4))); break;
    default: /* call L; jmp over; L: ret imm16 */
        emit(g, 0xE8); emit32(g, 2);
        emit(g, 0xEB); emit(g, 3);
        emit(g, 0xC2); emit16(g, 4 * below(g, 3));
        break;
    }
}

static void gen_stack(struct gen *g, int arg)
{
    unsigned n = 1 + below(g, 4);
    bool bp_ok = true;
    g->in->gpr[5] = CD_WIN + 0xA00 + below(g, 0x200);
    for (unsigned i = 0; i < n; i++)
        stack_op(g, i + 1 == n, &bp_ok);
    (void)arg;
}

/* x87: loads, arithmetic, compares, integer conversions and stores of the results. */
static void gen_x87(struct gen *g, int arg)
{
    /* fadd fmul fsub fsubr fdiv fdivr st0, st(i) */
    static const uint8_t ops[] = {0xC0, 0xC8, 0xE0, 0xE8, 0xF0, 0xF8};
    static const uint8_t one[][2] = {{0xD9, 0xE0}, {0xD9, 0xE1}, {0xD9, 0xFA}, {0xD9, 0xFC},
                                     {0xD9, 0xF8}, {0xD9, 0xFD}, {0xD9, 0xF4}, {0xD9, 0xC9},
                                     {0xD9, 0xE5}, {0xDF, 0xE0}};
    static const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e-300, 3.0, 1e-310, 2.5};
    static const uint16_t pc[] = {0x000, 0x200, 0x300};
    g->fpu = true;
    g->avoid = 1u << 0; /* FNSTSW AX in the sequence */
    for (int i = 0; i < 4; i++) {
        double d = below(g, 3) ? (double)(int32_t)rnd(g) / (double)(1 + below(g, 1000))
                               : edge[below(g, sizeof edge / sizeof edge[0])];
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (below(g, 16) == 0)
            bits = (uint64_t)rnd(g) << 32 | rnd(g);
        memcpy(g->in->data + 8 * i, &bits, 8);
    }
    if (below(g, 4) == 0) { /* FLDCW with another rounding mode / precision */
        uint16_t cw = (uint16_t)(0x007F | pc[below(g, 3)] | below(g, 4) << 10);
        memcpy(g->in->data + 0x40, &cw, 2);
        emit(g, 0xD9); emit_modrm(g, 0, 5, 5); emit32(g, CD_WIN + 0x40);
    }
    emit(g, 0xDD); emit_modrm(g, 0, 0, 5); emit32(g, CD_WIN + 0);  /* fld qword [0] */
    emit(g, 0xDD); emit_modrm(g, 0, 0, 5); emit32(g, CD_WIN + 8);  /* fld qword [8] */
    unsigned n = 1 + below(g, 3);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = below(g, 4);
        if (k == 0) {
            emit(g, 0xD8); emit(g, ops[below(g, 6)] + 1);
        } else if (k == 1) {
            emit(g, below(g, 2) ? 0xDC : 0xD8);
            mem_operand(g, below(g, 8) == 1 ? 0 : below(g, 8), 16 + 8 * below(g, 2));
        } else if (k == 2) {
            unsigned j = below(g, sizeof one / sizeof one[0]);
            emit(g, one[j][0]); emit(g, one[j][1]);
        } else {
            emit(g, 0xDB); emit(g, below(g, 2) ? 0xE8 + 1 : 0xF0 + 1); /* fucomi/fcomi st1 */
        }
    }
    emit(g, 0xDB); emit_modrm(g, 0, 7, 5); emit32(g, CD_WIN + 0x100); /* fstp tword */
    unsigned st = below(g, 4);
    static const uint8_t store[][2] = {{0xDD, 3}, {0xDB, 3}, {0xDF, 7}, {0xDF, 3}};
    emit(g, store[st][0]); emit_modrm(g, 0, store[st][1], 5); emit32(g, CD_WIN + 0x110);
    emit(g, 0xDF); emit(g, 0xE0); /* fnstsw ax */
    (void)arg;
}

/* A selector to load: null, the process's own, other RPLs, kernel and absent ones.
 * Never the TLS selector for SS: its base is the host thread's, flat in the core. */
static uint16_t selector(struct gen *g, bool ss)
{
    static const uint16_t sel[] = {0, CD_SEL_DATA, CD_SEL_DATA, CD_SEL_CODE, CD_SEL_DATA & ~3,
                                   CD_SEL_DATA - 1, CD_SEL_DATA - 2, 0x10, 0x18, 0x20, 0x04,
                                   CD_SEL_TLS, 0x03};
    uint16_t v = sel[below(g, sizeof sel / sizeof sel[0])];
    return ss && v == CD_SEL_TLS ? CD_SEL_DATA : v;
}

/* Segment registers: MOV from and to them, PUSH/POP, LDS LES LFS LGS LSS, with valid,
 * null, privileged and absent selectors (#GP with the selector as error code, #UD for CS). */
static void gen_seg(struct gen *g, int arg)
{
    static const uint8_t push[] = {0x06, 0x0E, 0x16, 0x1E, 0xA0, 0xA8};
    static const uint8_t pop[] = {0x07, 0, 0x17, 0x1F, 0xA1, 0xA9};
    static const uint8_t lxs[] = {0xC4, 0xC5, 0xB2, 0xB4, 0xB5};
    unsigned k = below(g, 5), sr = below(g, 6);
    bool o16 = below(g, 3) == 0;
    g->expect = 1u << 13;
    if (k == 0) { /* MOV r/m16, Sreg */
        if (o16)
            emit(g, 0x66);
        emit(g, 0x8C);
        rm_operand(g, sr, 16, below(g, 2));
    } else if (k == 1) { /* PUSH Sreg: a 32-bit push may write 16 or 32 bits (SDM) */
        if (o16)
            emit(g, 0x66);
        else
            g->undef_result = true;
        if (sr >= 4)
            emit(g, 0x0F);
        emit(g, push[sr]);
    } else if (k == 2) { /* PUSH imm; POP Sreg */
        sr = sr == 1 ? 3 : sr;
        if (o16)
            emit(g, 0x66);
        emit(g, 0x68);
        emit_imm(g, o16 ? 16 : 32, selector(g, sr == 2) | (o16 ? 0 : rnd(g) & 0xFFFF0000u));
        if (o16)
            emit(g, 0x66);
        if (sr >= 4)
            emit(g, 0x0F);
        emit(g, pop[sr]);
    } else if (k == 3) { /* MOV Sreg, r/m16 (CS: #UD) */
        unsigned r = pick_reg(g, 16);
        g->in->gpr[r] = (g->in->gpr[r] & 0xFFFF0000u) | selector(g, sr == 2);
        emit(g, 0x8E);
        emit_modrm(g, 3, sr, r);
    } else { /* LxS r, m16:32 or m16:16 */
        unsigned j = below(g, 5), sz = o16 ? 2 : 4;
        uint32_t off = below(g, CD_DATA_INIT - 8);
        uint16_t sel = selector(g, j == 2);
        memcpy(g->in->data + off + sz, &sel, 2);
        if (o16)
            emit(g, 0x66);
        if (j >= 2)
            emit(g, 0x0F);
        emit(g, lxs[j]);
        mem_operand(g, pick_reg(g, o16 ? 16 : 32), off);
    }
    (void)arg;
}

/* What a CPL-3 program may and may not do: IOPL-sensitive and privileged instructions
 * (#GP), INT n through DPL-0 gates, far CALL/JMP/RET and IRET within ring 3. */
static void gen_priv(struct gen *g, int arg)
{
    static const uint8_t gp1[] = {0xFA, 0xFB, 0xEC, 0xED, 0xEE, 0xEF, 0x6C, 0x6D, 0x6E, 0x6F};
    static const uint8_t gp2[][3] = {{0x0F, 0x06, 0}, {0x0F, 0x08, 0}, {0x0F, 0x09, 0},
                                     {0x0F, 0x30, 0}, {0x0F, 0x32, 0}, {0x0F, 0x20, 0xC0},
                                     {0x0F, 0x22, 0xD8}, {0x0F, 0x21, 0xF8}, {0x0F, 0x00, 0xD0},
                                     {0x0F, 0x00, 0xD8}, {0x0F, 0x01, 0xF0}};
    unsigned k = below(g, 6);
    g->expect = 1u << 13;
    g->in->gpr[7] = CD_WIN + 0x100;
    g->in->gpr[6] = CD_WIN + 0x180;
    if (k == 0) {
        uint8_t op = gp1[below(g, sizeof gp1)];
        emit(g, op);
        if (op == 0xE4 || op == 0xE6)
            emit(g, (uint8_t)rnd(g));
    } else if (k == 1) {
        unsigned j = below(g, sizeof gp2 / sizeof gp2[0]);
        emit(g, gp2[j][0]);
        emit(g, gp2[j][1]);
        if (gp2[j][2])
            emit(g, gp2[j][2]);
    } else if (k == 2) { /* INT n through a DPL-0 gate: #GP(n*8+2) */
        uint8_t n;
        do
            n = (uint8_t)below(g, 32);
        while (n == 3 || n == 4);
        emit(g, 0xCD);
        emit(g, n);
    } else if (k == 3) { /* call far 0x23:L; jmp +1; L: retf */
        emit(g, 0x9A);
        emit32(g, CD_CODE + g->in->code_len + 8);
        emit16(g, below(g, 8) ? CD_SEL_CODE : selector(g, false));
        emit(g, 0xEB);
        emit(g, 1);
        emit(g, 0xCB);
    } else if (k == 4) { /* jmp far 0x23:next */
        emit(g, 0xEA);
        emit32(g, CD_CODE + g->in->code_len + 6);
        emit16(g, below(g, 8) ? CD_SEL_CODE : selector(g, false));
    } else { /* IRET to ring 3 with flags that may not change IF/IOPL */
        uint32_t fl = 0x002u | (rnd(g) & (0x8D5u | 0x400u | 0x3200u));
        emit(g, 0x68);
        emit32(g, fl);
        emit(g, 0x6A);
        emit(g, CD_SEL_CODE);
        emit(g, 0x68);
        emit32(g, CD_CODE + g->in->code_len + 5);
        emit(g, 0xCF);
    }
    (void)arg;
}

/* An x87 operand in memory: a double, a float, an 80-bit value, an integer or packed BCD. */
static void x87_value(struct gen *g, uint32_t off, unsigned kind)
{
    static const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e-300, 3.0, 1e-310,
                                  2.5, -2.5, 1e19, -9.3e18, 65536.5, 3.141592653589793};
    double d = below(g, 2) ? (double)(int32_t)rnd(g) / (double)(1 + below(g, 1000))
                           : edge[below(g, sizeof edge / sizeof edge[0])];
    uint8_t *p = g->in->data + off;
    uint32_t r[3] = {rnd(g), rnd(g), rnd(g)};
    float f = (float)d;
    switch (kind) {
    case 0: memcpy(p, &d, 8); break;
    case 1: memcpy(p, &f, 4); break;
    case 2: /* 80-bit: random patterns, some with the integer bit clear (unnormals) */
        memcpy(p, r, 10);
        if (below(g, 4))
            p[7] |= 0x80;
        if (below(g, 2))
            p[9] = (uint8_t)((p[9] & 0x80) | 0x3F), p[8] = (uint8_t)(0xF0 + below(g, 32));
        break;
    case 3: { uint32_t v = opnd(g); memcpy(p, &v, 4); break; }
    default: /* packed BCD, sometimes with invalid digits */
        for (int i = 0; i < 9; i++)
            p[i] = below(g, 16) ? (uint8_t)(below(g, 10) << 4 | below(g, 10)) : (uint8_t)rnd(g);
        p[9] = below(g, 2) ? 0x80 : 0;
        break;
    }
}

static void emit_abs(struct gen *g, uint8_t op, unsigned reg, uint32_t off)
{
    emit(g, op);
    emit_modrm(g, 0, reg, 5);
    emit32(g, CD_WIN + off);
}

/* More x87: every load and store format (FISTTP too), constants, FCMOVcc, FCOMI/FUCOMI(P), FCOMPP,
 * FTST, FXAM, FPREM/FPREM1, FSCALE, FXTRACT, stack ops, integer arithmetic, rounding modes
 * and precisions. arg 1: the transcendental instructions instead. */
static void gen_x87b(struct gen *g, int trans)
{
    static const uint8_t loads[][2] = {{0xDD, 0}, {0xD9, 0}, {0xDB, 5}, {0xDB, 0}, {0xDF, 4}};
    static const uint8_t consts[] = {0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE};
    static const uint8_t ops[][2] = {
        {0xD9, 0xE4}, {0xD9, 0xE5}, {0xD9, 0xF5}, {0xD9, 0xF8}, {0xD9, 0xFD}, {0xD9, 0xF4},
        {0xD9, 0xFC}, {0xD9, 0xFA}, {0xD9, 0xE0}, {0xD9, 0xE1}, {0xD9, 0xC9}, {0xD9, 0xF6},
        {0xD9, 0xF7}, {0xDD, 0xC2}, {0xDE, 0xD9}, {0xDA, 0xE9}, {0xDE, 0xC1}, {0xDE, 0xC9},
        {0xDE, 0xE1}, {0xDE, 0xE9}, {0xDE, 0xF1}, {0xDE, 0xF9}, {0xDB, 0xE2}, {0xDF, 0xE9},
        {0xDF, 0xF1}, {0xDD, 0xD1}, {0xDD, 0xD9}};
    static const uint8_t tops[] = {0xFE, 0xFF, 0xFB, 0xF2, 0xF3, 0xF0, 0xF1, 0xF9};
    static const uint8_t stores[][2] = {{0xD9, 2}, {0xDD, 3}, {0xDB, 7}, {0xDF, 2},
                                        {0xDB, 3}, {0xDF, 7}, {0xDF, 6}, {0xD9, 3},
                                        {0xDB, 1}, {0xDD, 1}, {0xDF, 1}}; /* FISTTP (SSE3) */
    static const uint16_t pc[] = {0x000, 0x200, 0x300};
    g->fpu = true;
    g->avoid = 1u << 0;
    g->in->eflags = (g->in->eflags & ~0x8D5u) | (rnd(g) & 0x8D5);
    if (below(g, 3) == 0) {
        uint16_t cw = (uint16_t)(0x007F | pc[below(g, 3)] | below(g, 4) << 10);
        memcpy(g->in->data + 0x40, &cw, 2);
        emit_abs(g, 0xD9, 5, 0x40);
    }
    unsigned nload = 2 + below(g, 2);
    for (unsigned i = 0; i < nload; i++) {
        if (below(g, 5) == 0) {
            emit(g, 0xD9);
            emit(g, consts[below(g, sizeof consts)]);
            continue;
        }
        unsigned k = below(g, 5);
        x87_value(g, 16 * i, k);
        emit_abs(g, loads[k][0], loads[k][1], 16 * i);
    }
    unsigned n = 1 + below(g, 3);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = trans ? 0 : below(g, 5);
        if (trans) {
            emit(g, 0xD9);
            emit(g, tops[below(g, sizeof tops)]);
        } else if (k <= 1) {
            unsigned j = below(g, sizeof ops / sizeof ops[0]);
            emit(g, ops[j][0]);
            emit(g, ops[j][1]);
        } else if (k == 2) { /* FCMOVcc st0, st1 */
            emit(g, below(g, 2) ? 0xDA : 0xDB);
            emit(g, (uint8_t)(0xC1 + 8 * below(g, 4)));
        } else if (k == 3) { /* FIADD/FIMUL/FICOM/FISUB/FIDIV... m32 or m16 */
            x87_value(g, 0x60, 3);
            emit_abs(g, below(g, 2) ? 0xDA : 0xDE, below(g, 8), 0x60);
        } else { /* FCOMI/FUCOMI st, st(i) */
            emit(g, 0xDB);
            emit(g, (uint8_t)((below(g, 2) ? 0xE8 : 0xF0) + below(g, 3)));
        }
    }
    unsigned ns = 1 + below(g, 3);
    for (unsigned i = 0; i < ns; i++) {
        unsigned j = below(g, sizeof stores / sizeof stores[0]);
        emit_abs(g, stores[j][0], stores[j][1], 0x100 + 16 * i);
    }
    emit(g, 0xDF);
    emit(g, 0xE0);
}

/*
 * Whether this host records the last x87 opcode (bit 0) and data pointer
 * (bit 1) in FNSTENV when no exception is pending. Recent Intel parts keep
 * FOP only for an unmasked exception (FOP compatibility mode off) and may
 * update FDP only then (CPUID.7:EBX.FDP_EXCPTN_ONLY); the core records both,
 * as the P6 does, so on such a host those fields are not compared.
 */
static unsigned host_x87_records(void)
{
    static int known = -1;
    if (known < 0) {
        static volatile double one = 1.0;
        uint8_t env[28];
        __asm__ volatile("fninit\n\tfldl %1\n\tfnstenv %0\n\tfninit"
                         : "=m"(env)
                         : "m"(one));
        unsigned fop = (env[18] | (unsigned)env[19] << 8) & 0x7FF;
        uint32_t fdp = env[20] | (uint32_t)env[21] << 8 | (uint32_t)env[22] << 16 |
                       (uint32_t)env[23] << 24;
        known = (fop != 0) | (fdp == (uint32_t)(uintptr_t)&one) << 1;
    }
    return (unsigned)known;
}

static void x87_unrecorded(struct gen *g)
{
    unsigned rec = host_x87_records();
    if (!(rec & 1))
        g->ignore[2].off = 0x200 + 18, g->ignore[2].len = 2; /* FOP */
    if (!(rec & 2))
        g->ignore[3].off = 0x200 + 20, g->ignore[3].len = 4; /* FDP */
}

/* FNSTENV, FNSAVE and FXSAVE images after some x87 work (FLDENV/FRSTOR/FXRSTOR round trips).
 * The CS/DS selectors differ between the host process and the core and are not compared;
 * AMD's FXSAVE leaves FOP/FIP/FDP out unless an exception is pending, so those too, and
 * FOP/FDP in the legacy images where the host does not record them (host_x87_records). */
static void gen_x87env(struct gen *g, int arg)
{
    unsigned k = below(g, 3);
    g->fpu = true;
    g->avoid = 1u << 0;
    for (unsigned i = 0; i < 2; i++) {
        x87_value(g, 16 * i, below(g, 3));
        emit_abs(g, i ? 0xDD : 0xDB, i ? 0 : 5, 16 * i);
    }
    if (below(g, 2)) {
        emit(g, 0xDE);
        emit(g, (uint8_t)(0xC1 + 8 * below(g, 8)));
    }
    if (k == 0) {
        emit_abs(g, 0xD9, 6, 0x200); /* fnstenv */
        g->ignore[0].off = 0x200 + 16, g->ignore[0].len = 2;
        g->ignore[1].off = 0x200 + 24, g->ignore[1].len = 2;
        x87_unrecorded(g);
        emit_abs(g, 0xD9, 4, 0x200); /* fldenv */
    } else if (k == 1) {
        emit_abs(g, 0xDD, 6, 0x200); /* fnsave */
        g->ignore[0].off = 0x200 + 16, g->ignore[0].len = 2;
        g->ignore[1].off = 0x200 + 24, g->ignore[1].len = 2;
        x87_unrecorded(g);
        emit_abs(g, 0xDD, 4, 0x200); /* frstor */
    } else {
        emit(g, 0x0F);
        emit_abs(g, 0xAE, 0, 0x400); /* fxsave */
        g->ignore[0].off = 0x400 + 6, g->ignore[0].len = 10;   /* FOP FIP FCS */
        g->ignore[1].off = 0x400 + 16, g->ignore[1].len = 6;   /* FDP FDS */
        g->ignore[2].off = 0x400 + 28, g->ignore[2].len = 4;   /* MXCSR_MASK */
        g->ignore[3].off = 0x400 + 288, g->ignore[3].len = 224; /* XMM8-15 area, reserved */
        emit(g, 0x0F);
        emit_abs(g, 0xAE, 1, 0x400); /* fxrstor */
    }
    emit_abs(g, 0xDB, 7, 0x100);
    emit(g, 0xDF);
    emit(g, 0xE0);
    (void)arg;
}

/* MMX: loads, the P6 MMX arithmetic/logic/compare/pack/unpack/shift set, stores, EMMS. */
static void gen_mmx(struct gen *g, int arg)
{
    static const uint8_t ops[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A,
                                  0x6B, 0x74, 0x75, 0x76, 0xD1, 0xD2, 0xD3, 0xD5, 0xD8, 0xD9, 0xDB,
                                  0xDC, 0xDD, 0xDF, 0xE1, 0xE2, 0xE5, 0xE8, 0xE9, 0xEB, 0xEC, 0xED,
                                  0xEF, 0xF1, 0xF2, 0xF3, 0xF5, 0xF8, 0xF9, 0xFA, 0xFC, 0xFD, 0xFE};
    g->fpu = true;
    for (int i = 0; i < 24; i++)
        g->in->data[i] = (uint8_t)(below(g, 4) ? rnd(g) : below(g, 2) ? 0x80 : 0x7F);
    if (below(g, 3) == 0)
        g->in->data[8 + below(g, 8)] = (uint8_t)below(g, 70); /* small shift counts */
    emit(g, 0x0F); emit(g, 0x6F); emit_modrm(g, 0, 0, 5); emit32(g, CD_WIN + 0);
    emit(g, 0x0F); emit(g, 0x6F); emit_modrm(g, 0, 1, 5); emit32(g, CD_WIN + 8);
    unsigned n = 1 + below(g, 3);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = below(g, 5);
        if (k == 0) { /* shift by imm */
            static const uint8_t sub[] = {2, 4, 6};
            emit(g, 0x0F); emit(g, (uint8_t)(0x71 + below(g, 3)));
            emit_modrm(g, 3, sub[below(g, 3)], below(g, 2));
            emit(g, (uint8_t)below(g, 70));
        } else if (k == 1) { /* movd mm <-> r32 */
            emit(g, 0x0F);
            emit(g, below(g, 2) ? 0x6E : 0x7E);
            emit_modrm(g, 3, below(g, 2), pick_reg(g, 32));
        } else {
            emit(g, 0x0F); emit(g, ops[below(g, sizeof ops)]);
            if (k == 2)
                mem_operand(g, below(g, 2), 16);
            else
                emit_modrm(g, 3, below(g, 2), below(g, 2));
        }
    }
    emit(g, 0x0F); emit(g, 0x7F); emit_modrm(g, 0, 0, 5); emit32(g, CD_WIN + 0x100);
    emit(g, 0x0F); emit(g, 0x7F); emit_modrm(g, 0, 1, 5); emit32(g, CD_WIN + 0x108);
    emit(g, 0x0F); emit(g, 0x77);
    (void)arg;
}

/* ---- SSE..SSSE3 ---- */

/* Edge floats: zeros, infinities, quiet and signalling NaNs with payloads, denormals, the
 * smallest and largest normals, integer boundaries, halves for the rounding modes. */
static uint32_t fp32(struct gen *g)
{
    static const uint32_t edge[] = {
        0x00000000, 0x80000000u, 0x7F800000, 0xFF800000u, 0x7FC00000, 0xFFC00000u, 0x7FA00001,
        0xFF800001u, 0x7FC12345, 0x00000001, 0x807FFFFFu, 0x00800000, 0x80800000u, 0x7F7FFFFF,
        0x3F800000, 0xBF800000u, 0x4F000000, 0xCF000000u, 0x4EFFFFFF, 0x3F000000, 0x3FC00000,
        0x40200000, 0x5F000000, 0x00400000, 0x3F000001, 0xBFC00000u, 0x4B000001, 0x00FFFFFF};
    unsigned k = below(g, 8);
    if (k < 4)
        return edge[below(g, sizeof edge / sizeof edge[0])];
    if (k == 4) {
        float f = (float)(int32_t)rnd(g) / (float)(1 + below(g, 64));
        uint32_t v;
        memcpy(&v, &f, 4);
        return v;
    }
    if (k == 5) /* near the bottom of the normal range */
        return (rnd(g) & 0x807FFFFFu) | (below(g, 3) << 23);
    return rnd(g);
}

static uint64_t fp64(struct gen *g)
{
    static const uint64_t edge[] = {
        0, 0x8000000000000000ull, 0x7FF0000000000000ull, 0xFFF0000000000000ull,
        0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF4000000000001ull,
        0xFFF0000000000001ull, 0x7FF8000000012345ull, 1, 0x800FFFFFFFFFFFFFull,
        0x0010000000000000ull, 0x7FEFFFFFFFFFFFFFull, 0x3FF0000000000000ull,
        0xBFF0000000000000ull, 0x41E0000000000000ull, 0xC1E0000000000000ull,
        0x41DFFFFFFFE00000ull, 0x3FE0000000000000ull, 0x3FF8000000000000ull,
        0x4004000000000000ull, 0x47EFFFFFE0000000ull, 0x47EFFFFFF0000000ull,
        0x3690000000000000ull, 0x36A0000000000000ull, 0x380FFFFFFFFFFFFFull,
        0x43E0000000000000ull, 0xC3E0000000000001ull};
    unsigned k = below(g, 8);
    if (k < 4)
        return edge[below(g, sizeof edge / sizeof edge[0])];
    if (k == 4) {
        double d = (double)(int32_t)rnd(g) / (double)(1 + below(g, 1000));
        uint64_t v;
        memcpy(&v, &d, 8);
        return v;
    }
    uint64_t r = (uint64_t)rnd(g) << 32 | rnd(g);
    if (k == 5)
        return (r & 0x800FFFFFFFFFFFFFull) | (uint64_t)below(g, 3) << 52;
    if (k == 6) /* within the float range, rounding bits set */
        return (r & 0x800FFFFFFFFFFFFFull) | (uint64_t)(0x380 + below(g, 0xFE)) << 52;
    return r;
}

/* 16 bytes of operand: floats, doubles or integer edge values, element by element. */
static void sse_value(struct gen *g, uint8_t *p)
{
    unsigned kind = below(g, 3);
    for (unsigned i = 0; i < 16; i += kind == 1 ? 8 : 4) {
        if (kind == 0) {
            uint32_t v = fp32(g);
            memcpy(p + i, &v, 4);
        } else if (kind == 1) {
            uint64_t v = fp64(g);
            memcpy(p + i, &v, 8);
        } else {
            uint32_t v = opnd(g);
            memcpy(p + i, &v, 4);
        }
    }
}

#define SSE_REGS 0x000  /* XMM0..7 initial values */
#define SSE_MXCSR 0x80  /* MXCSR loaded first */
#define SSE_MMX 0x88    /* MM0..3 initial values */
#define SSE_MEM 0x100   /* memory operands, 16-byte slots */
#define SSE_OUT 0x200   /* stores */

/*
 * The common start of an SSE case: LDMXCSR, MOVUPS of XMM0..7 from the window.
 * masks: the MXCSR exception masks to use (0x3F all masked); rounding, DAZ, FTZ
 * and some sticky flags at random.
 */
static void sse_start(struct gen *g, unsigned masks, bool mm)
{
    g->sse = true;
    for (unsigned i = 0; i < 8; i++)
        sse_value(g, g->in->data + SSE_REGS + 16 * i);
    for (unsigned i = 0; i < 8; i++)
        sse_value(g, g->in->data + SSE_MEM + 16 * i);
    uint32_t mx = masks << 7 | below(g, 4) << 13 | (below(g, 2) ? 0x40u : 0) |
                  (below(g, 2) ? 0x8000u : 0) | (below(g, 4) == 0 ? rnd(g) & 0x3F : 0);
    memcpy(g->in->data + SSE_MXCSR, &mx, 4);
    emit(g, 0x0F), emit_abs(g, 0xAE, 2, SSE_MXCSR);
    for (unsigned i = 0; i < 8; i++)
        emit(g, 0x0F), emit_abs(g, 0x10, i, SSE_REGS + 16 * i);
    if (mm) {
        g->fpu = true;
        for (unsigned i = 0; i < 4; i++)
            emit(g, 0x0F), emit_abs(g, 0x6F, i, SSE_MMX + 8 * i);
        for (unsigned i = 0; i < 32; i++)
            g->in->data[SSE_MMX + i] = (uint8_t)(below(g, 4) ? rnd(g) : below(g, 2) ? 0x80 : 0x7F);
    }
}

/* MMX registers back to memory and EMMS, for cases that used them. */
static void sse_end_mm(struct gen *g)
{
    for (unsigned i = 0; i < 4; i++)
        emit(g, 0x0F), emit_abs(g, 0x7F, i, SSE_OUT + 0xC0 + 8 * i);
    emit(g, 0x0F), emit(g, 0x77);
}


static void sse_emit_op(struct gen *g, const struct sse_tpl *t, bool mem, uint32_t mem_off)
{
    if (t->pfx)
        emit(g, t->pfx);
    emit(g, 0x0F);
    if (t->map)
        emit(g, t->map);
    emit(g, t->op);
    unsigned nreg = t->shape == T_MM || t->shape == T_MX || t->shape == T_RM ? 4 : 8;
    unsigned reg = below(g, nreg), rm;
    if (t->shape == T_RX || t->shape == T_RM)
        reg = pick_reg(g, 32);
    if (mem && t->msize) {
        mem_operand(g, reg, mem_off);
    } else {
        rm = t->shape == T_XR ? pick_reg(g, 32)
             : t->shape == T_XM || t->shape == T_MM || t->shape == T_RM ? below(g, 4)
                                                                         : below(g, 8);
        emit_modrm(g, 3, reg, rm);
    }
    if (t->imm)
        emit(g, (uint8_t)(below(g, 4) ? rnd(g) : below(g, 8)));
}

/* The operand slot: 16-byte aligned unless misalign (then anywhere but aligned). */
static uint32_t sse_slot(struct gen *g, bool misalign)
{
    uint32_t off = SSE_MEM + 16 * below(g, 7);
    return misalign ? off + 1 + below(g, 15) : off;
}

static void sse_run(struct gen *g, const struct sse_tpl *tab, unsigned n, unsigned count,
                    bool misalign)
{
    for (unsigned i = 0; i < count; i++) {
        const struct sse_tpl *t = &tab[below(g, n)];
        if (t->map == 0 && (t->op == 0x52 || t->op == 0x53))
            g->approx = true;
        bool mem = t->msize && (below(g, 3) == 0 || misalign);
        sse_emit_op(g, t, mem, sse_slot(g, misalign && t->msize == 16 && !t->noalign));
    }
}


/* The MMX-operand conversions. */
static const struct sse_tpl sse_cvt_mm_ops[] = {
    {0, 0, 0x2A, T_XM, 8, 0, 0}, {0x66, 0, 0x2A, T_XM, 8, 0, 0}, {0, 0, 0x2C, T_MX, 8, 0, 0},
    {0x66, 0, 0x2C, T_MX, 16, 0, 0}, {0, 0, 0x2D, T_MX, 8, 0, 0}, {0x66, 0, 0x2D, T_MX, 16, 0, 0},
};

/* arg 0: exceptions masked; 1: some unmasked (#XM); 2: the MMX conversions. */
static void gen_ssefp(struct gen *g, int arg)
{
    unsigned masks = arg == 1 ? (unsigned)(rnd(g) & 0x3F) | (below(g, 2) ? 0x20u : 0) : 0x3F;
    sse_start(g, masks, arg == 2);
    g->expect = 1u << 19;
    if (arg == 2)
        sse_run(g, sse_cvt_mm_ops, sizeof sse_cvt_mm_ops / sizeof sse_cvt_mm_ops[0],
                1 + below(g, 3), false);
    else
        sse_run(g, sse_fp_ops, sse_fp_nops, 1 + below(g, 3), false);
    if (arg == 2)
        sse_end_mm(g);
}

/* The SSE/SSE2 integer forms on mm. */
static const uint8_t intmm_ops[] = {0xD4, 0xDA, 0xDE, 0xE0, 0xE3, 0xE4, 0xEA, 0xEE, 0xF4, 0xF6, 0xFB};

static void small_counts(struct gen *g)
{
    for (unsigned i = 0; i < 3; i++) { /* shift counts in range now and then */
        uint32_t off = SSE_MEM + 16 * below(g, 7);
        memset(g->in->data + off, 0, 16);
        g->in->data[off] = (uint8_t)below(g, 70);
        if (below(g, 2))
            memset(g->in->data + SSE_REGS + 16 * below(g, 8), 0, 16),
                g->in->data[SSE_REGS + 16 * below(g, 8)] = (uint8_t)below(g, 20);
    }
}

/* One integer instruction; arg 0: SSE2 on xmm, 1: the mm forms, 2: SSSE3. */
static void int_one(struct gen *g, int arg)
{
    struct sse_tpl t = {0x66, 0, 0, T_XX, 16, 0, 0};
    unsigned k = below(g, 8);
    if (arg == 2) {
        t.map = 0x38;
        t.op = sse_ssse3_ops[below(g, sse_ssse3_nops)];
        if (k == 0)
            t.map = 0x3A, t.op = 0x0F, t.imm = true;
    } else if (arg == 1) {
        t.op = intmm_ops[below(g, sizeof intmm_ops)];
        if (k == 0)
            t.op = 0x70, t.imm = true;
    } else {
        t.op = sse_int66_ops[below(g, sse_int66_nops)];
        if (k == 0)
            t.op = 0x70, t.imm = true, t.pfx = (uint8_t)(below(g, 3) == 0 ? 0x66 : below(g, 2) ? 0xF3 : 0xF2);
    }
    bool mm = arg == 1 || (arg == 2 && below(g, 3) == 0);
    if (mm)
        t.pfx = 0, t.shape = T_MM, t.msize = 8;
    if (k == 1 && arg != 2) { /* shift by immediate */
        static const uint8_t sub[][2] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
                                         {0x72, 6}, {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
        unsigned j = below(g, mm ? 9 : 10);
        if (mm && j == 7)
            j = 8;
        if (!mm)
            emit(g, 0x66);
        emit(g, 0x0F), emit(g, sub[j][0]);
        emit_modrm(g, 3, sub[j][1], below(g, mm ? 4 : 8));
        emit(g, (uint8_t)(below(g, 2) ? below(g, 20) : rnd(g)));
        return;
    }
    if (k == 2 && arg != 2) { /* PEXTRW, PINSRW, PMOVMSKB */
        unsigned w = below(g, 3);
        t.op = w == 0 ? 0xC5 : w == 1 ? 0xC4 : 0xD7;
        t.shape = w == 1 ? (mm ? T_MM : T_XX) : T_RM;
        t.imm = w < 2;
        t.msize = w == 1 ? 2 : 0;
        if (w == 1) { /* PINSRW reg, r32/m16: the source is a GPR */
            if (t.pfx)
                emit(g, t.pfx);
            emit(g, 0x0F), emit(g, 0xC4);
            unsigned reg = below(g, mm ? 4 : 8);
            if (below(g, 2))
                mem_operand(g, reg, sse_slot(g, false) + below(g, 15));
            else
                emit_modrm(g, 3, reg, pick_reg(g, 32));
            emit(g, (uint8_t)rnd(g));
            return;
        }
        if (!mm) { /* xmm source: T_RM names mm; emit by hand */
            emit(g, 0x66), emit(g, 0x0F), emit(g, t.op);
            emit_modrm(g, 3, pick_reg(g, 32), below(g, 8));
            if (t.imm)
                emit(g, (uint8_t)rnd(g));
            return;
        }
    }
    bool mem = t.msize && below(g, 3) == 0;
    sse_emit_op(g, &t, mem, sse_slot(g, false));
}

static void gen_sseint(struct gen *g, int arg)
{
    bool mm = arg != 0;
    sse_start(g, 0x3F, mm);
    small_counts(g);
    unsigned n = 1 + below(g, 3);
    for (unsigned i = 0; i < n; i++)
        int_one(g, arg);
    if (mm)
        sse_end_mm(g);
}

/* A store of an XMM register to SSE_OUT.. through a random addressing form. */
static void sse_store(struct gen *g, uint8_t pfx, uint8_t op, unsigned width, bool misalign)
{
    if (pfx)
        emit(g, pfx);
    emit(g, 0x0F), emit(g, op);
    uint32_t off = SSE_OUT + 16 * below(g, 8);
    mem_operand(g, below(g, 8), misalign ? off + 1 + below(g, 15) : off);
    (void)width;
}

/* Moves, loads and stores of every width, MOVMSK, MOVQ2DQ/MOVDQ2Q, MASKMOVQ/MASKMOVDQU,
 * MOVNTI/MOVNTQ, LDDQU, STMXCSR, the fences, CLFLUSH and FXSAVE/FXRSTOR images with
 * the XMM part. */
static void gen_ssemov(struct gen *g, int arg)
{
    sse_start(g, 0x3F, true);
    unsigned n = 2 + below(g, 3);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = below(g, 10);
        if (k == 7 && (g->avoid & 1u << 7))
            k = 4;
        if (k < 4) {
            const struct sse_tpl *t = &sse_load_ops[below(g, sse_load_nops)];
            bool mem = t->msize && below(g, 2);
            sse_emit_op(g, t, mem, sse_slot(g, false) + (t->noalign && below(g, 2) ? 1 + below(g, 15) : 0));
        } else if (k < 7) {
            unsigned j = below(g, sse_store_nops);
            sse_store(g, sse_store_ops[j][0], sse_store_ops[j][1], 16, false);
        } else if (k == 7) { /* MASKMOVQ / MASKMOVDQU to DS:EDI */
            g->avoid |= 1u << 7;
            g->in->gpr[7] = CD_WIN + SSE_OUT + 16 * below(g, 8);
            bool x = below(g, 2);
            if (x)
                emit(g, 0x66);
            emit(g, 0x0F), emit(g, 0xF7), emit_modrm(g, 3, below(g, x ? 8 : 4), below(g, x ? 8 : 4));
        } else if (k == 8) { /* MOVNTI, MOVNTQ, STMXCSR, LDDQU */
            unsigned w = below(g, 4);
            if (w == 0) {
                emit(g, 0x0F), emit(g, 0xC3);
                mem_operand(g, pick_reg(g, 32), SSE_OUT + 4 * below(g, 60));
            } else if (w == 1) {
                emit(g, 0x0F), emit(g, 0xE7);
                mem_operand(g, below(g, 4), SSE_OUT + 8 * below(g, 30));
            } else if (w == 2) {
                emit(g, 0x0F), emit_abs(g, 0xAE, 3, SSE_OUT + 4 * below(g, 60));
            } else if (below(g, 2)) {
                emit(g, 0xF2), emit(g, 0x0F), emit(g, 0xF0);
                mem_operand(g, below(g, 8), SSE_MEM + below(g, 100));
            } else { /* LFENCE MFENCE SFENCE, CLFLUSH */
                unsigned f = below(g, 4);
                emit(g, 0x0F), emit(g, 0xAE);
                if (f < 3)
                    emit(g, (uint8_t)(0xE8 + 8 * f));
                else
                    mem_operand(g, 7, SSE_MEM + below(g, 200));
            }
        } else { /* FXSAVE, changes, FXRSTOR: the XMM part goes through memory and back */
            emit(g, 0x0F), emit_abs(g, 0xAE, 0, 0x400);
            emit(g, 0x0F), emit(g, 0x57), emit_modrm(g, 3, below(g, 8), below(g, 8));
            emit(g, 0x0F), emit_abs(g, 0xAE, 1, 0x400);
            g->ignore[0].off = 0x400 + 6, g->ignore[0].len = 10;  /* FOP FIP FCS */
            g->ignore[1].off = 0x400 + 16, g->ignore[1].len = 6;  /* FDP FDS */
            g->ignore[2].off = 0x400 + 28, g->ignore[2].len = 4;  /* MXCSR_MASK (AMD: MM bit) */
            g->ignore[3].off = 0x400 + 288, g->ignore[3].len = 224; /* XMM8-15 area, reserved */
        }
    }
    sse_end_mm(g);
    (void)arg;
}

/* Faults: misaligned 16-byte operands (#GP), forms that do not exist (#UD), LDMXCSR with
 * reserved bits (#GP), a misaligned FXSAVE. */
static void gen_ssefault(struct gen *g, int arg)
{
    static const uint8_t bad[][3] = {{0xF3, 0x0F, 0x14}, {0xF2, 0x0F, 0x54}, {0x66, 0x0F, 0x52},
                                     {0xF3, 0x0F, 0x60}, {0xF2, 0x0F, 0x28}, {0x66, 0x0F, 0x77},
                                     {0xF3, 0x0F, 0x29}, {0xF2, 0x0F, 0x6F}};
    sse_start(g, 0x3F, false);
    g->expect = 1u << 13 | 1u << 19;
    unsigned k = below(g, 4);
    g->avoid = 1u << R_ESP;
    if (k == 0) {
        sse_run(g, sse_fp_ops, sse_fp_nops, 1, true);
    } else if (k == 1) {
        static const uint8_t st[][2] = {{0, 0x29}, {0x66, 0x29}, {0, 0x2B}, {0x66, 0x7F}, {0x66, 0xE7}, {0, 0x28}, {0x66, 0x6F}};
        unsigned j = below(g, sizeof st / sizeof st[0]);
        sse_store(g, st[j][0], st[j][1], 16, true);
    } else if (k == 2) {
        unsigned j = below(g, sizeof bad / sizeof bad[0]);
        emit(g, bad[j][0]), emit(g, bad[j][1]), emit(g, bad[j][2]);
        emit_modrm(g, 3, below(g, 8), below(g, 8));
    } else {
        /* not bit 17: AMD's misaligned-SSE mode bit, writable on an AMD host */
        uint32_t v = 0x1F80u | (below(g, 2) ? 1u << (18 + below(g, 14)) : 0);
        memcpy(g->in->data + 0x90, &v, 4);
        if (below(g, 2))
            emit(g, 0x0F), emit_abs(g, 0xAE, 2, 0x90);
        else
            emit(g, 0x0F), emit_abs(g, 0xAE, 0, 0x400 + 8 * below(g, 2));
        g->ignore[0].off = 0x400 + 6, g->ignore[0].len = 10;  /* FOP FIP FCS */
        g->ignore[1].off = 0x400 + 16, g->ignore[1].len = 6;  /* FDP FDS */
        g->ignore[2].off = 0x400 + 28, g->ignore[2].len = 4;  /* MXCSR_MASK */
    }
    (void)arg;
}

const struct cd_group cd_groups[] = {
    {"alu8", gen_alu, 8, 4000},      {"alu16", gen_alu, 16, 4000},
    {"alu32", gen_alu, 32, 4000},    {"unary", gen_unary, 0, 4000},
    {"mul", gen_mul, 0, 3000},       {"div", gen_div, 0, 3000},
    {"shift", gen_shift, 0, 5000},   {"rotate", gen_shift, 1, 5000},
    {"shld", gen_shld, 0, 3000},     {"bt", gen_bt, 0, 4000},
    {"bitscan", gen_bitscan, 0, 3000}, {"cond", gen_cond, 0, 4000},
    {"xchg", gen_xchg, 0, 3000},     {"misc", gen_misc, 0, 2000},
    {"trap", gen_trap, 0, 2000},     {"prefix", gen_prefix, 0, 3000},
    {"seg", gen_seg, 0, 3000},       {"priv", gen_priv, 0, 2000},
    {"mov", gen_mov, 0, 2000},       {"lea", gen_lea, 0, 3000},
    {"bcd", gen_bcd, 0, 3000},       {"string", gen_string, 0, 4000},
    {"stack", gen_stack, 0, 3000},   {"x87", gen_x87, 0, 3000},
    {"mmx", gen_mmx, 0, 3000},       {"x87b", gen_x87b, 0, 4000},
    {"x87trans", gen_x87b, 1, 2000}, {"x87env", gen_x87env, 0, 2000},
    {"ssefp", gen_ssefp, 0, 20000},  {"ssefpx", gen_ssefp, 1, 20000},
    {"ssecvtmm", gen_ssefp, 2, 5000}, {"sseint", gen_sseint, 0, 10000},
    {"ssemmx", gen_sseint, 1, 6000}, {"ssse3", gen_sseint, 2, 8000},
    {"ssemov", gen_ssemov, 0, 8000}, {"ssefault", gen_ssefault, 0, 4000},
};
const int cd_ngroups = (int)(sizeof cd_groups / sizeof cd_groups[0]);

void gen_case(struct gen *g, struct cd_in *in, uint32_t seed, int group, int index)
{
    memset(in, 0, sizeof *in);
    memset(g, 0, sizeof *g);
    g->in = in;
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a of the name: cases stay put as groups are added */
    for (const char *c = cd_groups[group].name; *c; c++)
        h = (h ^ (uint8_t)*c) * 0x100000001B3ull;
    g->rng = h ^ ((uint64_t)seed << 32) ^ (uint64_t)index * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 4; i++)
        rnd(g);
    for (int i = 0; i < 8; i++)
        in->gpr[i] = opnd(g);
    in->gpr[R_ESP] = CD_STACK;
    in->eflags = 0x202 | (rnd(g) & 0x8D5) | (below(g, 8) == 0 ? F_DF : 0);
    in->seed = rnd(g);
    for (int i = 0; i < CD_DATA_INIT; i++)
        in->data[i] = (uint8_t)rnd(g);
    cd_groups[group].gen(g, cd_groups[group].arg);
}
