/*
 * The x86 decoder (see decode.h): prefixes, the one-byte, 0F, 0F 38 and 0F 3A
 * opcode maps (decode_tab.h, one commented entry per opcode), ModRM/SIB with 16-,
 * 32- and 64-bit addressing, displacements and immediates, and the group rules
 * (which /r forms exist, which take LOCK, which carry an immediate). In 64-bit
 * mode (SDM vol. 2 2.2.1) 40..4F are REX prefixes, effective only as the last
 * prefix before the opcode; REX.R/X/B extend ModRM.reg, SIB.index and
 * ModRM.rm/SIB.base/the opcode register; mod 00 rm 101 is RIP-relative.
 */
#include "cpu/decode.h"

#include <string.h>

#include "cpu/cpu.h"

/* Table properties (low 16 bits of an entry). */
#define M 0x001u   /* ModRM follows */
#define IB 0x002u  /* imm8 */
#define IZ 0x004u  /* imm16/32 by operand size */
#define IW 0x008u  /* imm16 */
#define AP 0x010u  /* far pointer: offset16/32 + selector */
#define MO 0x020u  /* memory offset of address size (A0..A3) */
#define IE 0x040u  /* ENTER: imm16 + imm8 */
#define END 0x080u /* ends a block */
#define PFX 0x100u /* prefix byte */
#define BAD 0x200u /* invalid */
#define LK 0x400u  /* LOCK allowed with a memory operand (subject to group rules) */
#define G5 0x800u  /* group 5: /2../5 end the block */
#define D_ENT(p, r, w) ((uint32_t)(p) | (uint32_t)(r) << 16 | (uint32_t)(w) << 24)

#include "cpu/decode_tab.h"

struct cursor {
    const uint8_t *p;
    unsigned i, avail;
};

/* False when fewer than n more bytes are available. */
static bool have(const struct cursor *c, unsigned n)
{
    return c->i + n <= c->avail && c->i + n <= 15;
}

static uint32_t take(struct cursor *c, unsigned n)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint32_t)c->p[c->i + k] << (8 * k);
    c->i += n;
    return v;
}

/* 16-bit addressing: rm -> base, index. */
static const uint8_t rm16_base[8] = {GPR_BX, GPR_BX, GPR_BP, GPR_BP, GPR_SI, GPR_DI, GPR_BP, GPR_BX};
static const uint8_t rm16_index[8] = {GPR_SI, GPR_DI, GPR_SI, GPR_DI, NOREG, NOREG, NOREG, NOREG};

/* Returns false when more bytes are needed. */
static bool decode_modrm(struct cursor *c, struct insn *in, int seg_ovr)
{
    if (!have(c, 1))
        return false;
    in->modrm = (uint8_t)take(c, 1);
    unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
    in->base = in->index = NOREG;
    if (mod == 3)
        return true;
    in->props |= I_MEM;
    int seg = SEG_DS;
    unsigned dsize = 0;
    if (!(in->pfx & P_ADDR32)) {
        if (mod == 0 && rm == 6) {
            dsize = 2;
        } else {
            in->base = rm16_base[rm];
            in->index = rm16_index[rm];
            if (in->base == GPR_BP)
                seg = SEG_SS;
            dsize = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        }
    } else {
        unsigned base = rm, rex = in->rex;
        if (rm == 4) {
            if (!have(c, 1))
                return false;
            unsigned sib = take(c, 1);
            base = sib & 7;
            unsigned index = ((sib >> 3) & 7) | ((rex & REX_X) << 2);
            if (index != 4) {
                in->index = (uint8_t)index;
                in->scale = (uint8_t)(sib >> 6);
            }
        } else if (mod == 0 && rm == 5 && (in->props & I_LONG)) {
            in->props |= I_RIPREL;
        }
        if (mod == 0 && base == 5) {
            dsize = 4;
        } else {
            base |= (rex & REX_B) << 3;
            in->base = (uint8_t)base;
            if (base == GPR_SP || base == GPR_BP)
                seg = SEG_SS;
            dsize = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        }
    }
    if (!have(c, dsize))
        return false;
    uint32_t d = take(c, dsize);
    if (dsize == 1)
        d = (uint32_t)(int32_t)(int8_t)d;
    else if (dsize == 2 && !(in->pfx & P_ADDR32))
        d = (uint32_t)(int32_t)(int16_t)d;
    in->disp = d;
    in->seg = (uint8_t)(seg_ovr >= 0 ? seg_ovr : seg);
    return true;
}

/* Group rules: false when this /reg form does not exist. */
static bool group_valid(const struct insn *in)
{
    unsigned reg = insn_reg(in);
    bool mem = in->props & I_MEM;
    switch (in->op) {
    case 0x8C: return reg < 6;
    case 0x8E: return reg < 6 && reg != SEG_CS;
    case 0x8F: case 0xC6: case 0xC7: return reg == 0;
    case 0xFE: return reg < 2;
    case 0xFF: return reg != 7 && (mem || (reg != 3 && reg != 5));
    case 0x8D: case 0x62: case 0xC4: case 0xC5:
    case 0x1B2: case 0x1B4: case 0x1B5: return mem;
    case 0x100: return reg < 6;
    case 0x101: /* SWAPGS (0F 01 F8) exists in 64-bit mode only */
        return reg != 5 && (mem || reg == 4 || reg == 6 ||
                            (in->modrm == 0xF8 && (in->props & I_LONG)));
    case 0x1BA: return reg >= 4;
    case 0x1C7: return reg == 1 && mem;
    default: return true;
    }
}

/* LOCK is valid only on the read-modify-write memory forms. */
static bool lock_valid(const struct insn *in, uint32_t ent)
{
    unsigned reg = insn_reg(in);
    if (!(ent & LK) || !(in->props & I_MEM))
        return false;
    switch (in->op) {
    case 0x80: case 0x81: case 0x82: case 0x83: return reg != 7;
    case 0xF6: case 0xF7: return reg == 2 || reg == 3;
    case 0xFE: case 0xFF: return reg < 2;
    case 0x1BA: return reg > 4;
    default: return true;
    }
}

static unsigned finish(struct insn *in, unsigned len, uint16_t op)
{
    if (op != 0xFFFF)
        in->op = op;
    in->len = (uint8_t)len;
    return len;
}

/*
 * Prefixes up to the opcode byte; fills in->pfx, in->seg and in->op (one-byte map).
 * Returns the segment override (or -1), or -2 when the bytes ran out.
 */
static int decode_prefixes(struct cursor *c, bool code32, struct insn *in)
{
    int seg_ovr = -1;
    bool opsz = false, adsz = false, long64 = in->props & I_LONG;
    for (;;) {
        if (!have(c, 1))
            return -2;
        uint8_t b = (uint8_t)take(c, 1);
        if (long64 && (b & 0xF0) == 0x40) {
            in->rex = b;
            continue;
        }
        if (!(op_one[b] & PFX)) {
            in->op = b;
            break;
        }
        in->rex = 0; /* a REX followed by another prefix is ignored */
        switch (b) {
        case 0x26: seg_ovr = SEG_ES; break;
        case 0x2E: seg_ovr = SEG_CS; break;
        case 0x36: seg_ovr = SEG_SS; break;
        case 0x3E: seg_ovr = SEG_DS; break;
        case 0x64: seg_ovr = SEG_FS; break;
        case 0x65: seg_ovr = SEG_GS; break;
        case 0x66: opsz = true; break;
        case 0x67: adsz = true; break;
        case 0xF0: in->pfx |= P_LOCK; break;
        case 0xF2: in->pfx = (uint8_t)((in->pfx & ~P_REP) | P_REPNE); break;
        case 0xF3: in->pfx = (uint8_t)((in->pfx & ~P_REPNE) | P_REP); break;
        }
    }
    if (long64) {
        if ((in->rex & REX_W) || !opsz)
            in->pfx |= P_OP32;
        if (in->rex & REX_W)
            in->pfx |= P_OP64;
        in->pfx |= P_ADDR32;
        if (!adsz)
            in->props |= I_ADDR64;
    } else {
        if (code32 != opsz)
            in->pfx |= P_OP32;
        if (code32 != adsz)
            in->pfx |= P_ADDR32;
    }
    if (opsz)
        in->pfx |= P_66;
    if (seg_ovr >= 0)
        in->pfx |= P_SEGOVR;
    in->seg = (uint8_t)(seg_ovr >= 0 ? seg_ovr : SEG_DS);
    return seg_ovr;
}

/* One-byte opcodes that do not exist in 64-bit mode (SDM vol. 2 appendix A, "i64"). */
static bool invalid64(unsigned op)
{
    switch (op) {
    case 0x06: case 0x07: case 0x0E: case 0x16: case 0x17: case 0x1E: case 0x1F:
    case 0x27: case 0x2F: case 0x37: case 0x3F: case 0x60: case 0x61: case 0x62:
    case 0x82: case 0x9A: case 0xC4: case 0xC5: case 0xCE: case 0xD4: case 0xD5:
    case 0xD6: case 0xEA:
        return true;
    default:
        return false;
    }
}

/* Near branches: operand size 64 whatever 66 says (Intel). */
static bool branch64(const struct insn *in)
{
    unsigned op = in->op;
    return (op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F) || (op >= 0xE0 && op <= 0xE3) ||
           op == 0xC2 || op == 0xC3 || op == 0xE8 || op == 0xE9 || op == 0xEB ||
           (op == 0xFF && (insn_reg(in) == 2 || insn_reg(in) == 4));
}

/* Stack operations: operand size 64 unless 66 makes it 16 ("d64"). */
static bool stack64(const struct insn *in)
{
    unsigned op = in->op;
    return (op >= 0x50 && op <= 0x5F) || op == 0x68 || op == 0x6A || op == 0x8F || op == 0x9C ||
           op == 0x9D || op == 0xC9 || op == 0x1A0 || op == 0x1A1 || op == 0x1A8 || op == 0x1A9 ||
           (op == 0xFF && insn_reg(in) == 6);
}

/* 64-bit mode operand sizes of the default-64 opcodes (after ModRM: FF needs /reg). */
static void default64(struct insn *in)
{
    if (branch64(in) || (stack64(in) && !(in->pfx & P_66)))
        in->pfx |= P_OP32 | P_OP64;
    if (in->op == 0x63)
        in->fwrite = 0; /* MOVSXD, not ARPL */
}

/* Immediate bytes: ent's size class at operand size zs, with the 64-bit mode widths. */
static unsigned imm_size(const struct insn *in, uint32_t ent, unsigned zs)
{
    bool long64 = in->props & I_LONG;
    if (ent & IB)
        return 1;
    if (ent & IW)
        return 2;
    if (ent & IZ) {
        if (long64 && (in->op >= 0xB8 && in->op <= 0xBF) && (in->rex & REX_W))
            return 8;
        return long64 && branch64(in) ? 4 : zs;
    }
    if (ent & MO)
        return (in->props & I_ADDR64) ? 8 : (in->pfx & P_ADDR32) ? 4 : 2;
    return 0;
}

static unsigned decode_any(const uint8_t *p, unsigned avail, bool code32, bool long64,
                           struct insn *in)
{
    struct cursor c = {p, 0, avail};
    memset(in, 0, sizeof *in);
    in->base = in->index = NOREG;
    if (long64)
        in->props = I_LONG;
    int seg_ovr = decode_prefixes(&c, code32, in);
    if (seg_ovr == -2)
        goto out_of_bytes;
    if (long64 && invalid64(in->op))
        return finish(in, c.i, OP_UD);
    uint32_t ent = op_one[in->op];
    if (in->op == 0x0F) {
        if (!have(&c, 1))
            goto out_of_bytes;
        in->op = (uint16_t)(0x100 | take(&c, 1));
        ent = op_two[in->op & 0xFF];
        if (in->op == 0x138 || in->op == 0x13A) {
            if (!have(&c, 1))
                goto out_of_bytes;
            bool m38 = in->op == 0x138;
            unsigned b = take(&c, 1);
            in->op = (uint16_t)((m38 ? OP_MAP38 : OP_MAP3A) | b);
            ent = m38 ? op_38[b] : op_3a[b];
        }
    }
    if (long64 && (in->op == 0x105 || in->op == 0x107))
        ent = D_ENT(END, 0xFF, 0xFF); /* SYSCALL, SYSRET: 64-bit mode only (as Intel has them) */
    if (ent & BAD)
        return finish(in, c.i, OP_UD);
    in->fread = (uint8_t)(ent >> 16);
    in->fwrite = (uint8_t)(ent >> 24);
    if (ent & END)
        in->props |= I_END;
    if (ent & M) {
        if (!decode_modrm(&c, in, seg_ovr))
            goto out_of_bytes;
        if (in->op >= 0x120 && in->op <= 0x123) {
            in->props &= (uint8_t)~I_MEM;
            in->modrm |= 0xC0;
            in->base = in->index = NOREG;
        }
        if (!group_valid(in))
            return finish(in, c.i, OP_UD);
        if ((ent & G5) && insn_reg(in) >= 2 && insn_reg(in) <= 5)
            in->props |= I_END;
    }
    if (long64)
        default64(in);
    unsigned zs = (in->pfx & P_OP32) ? 4 : 2;
    unsigned isize = imm_size(in, ent, zs);
    if (!isize && (in->op == 0xF6 || in->op == 0xF7) && insn_reg(in) < 2)
        isize = in->op == 0xF6 ? 1 : zs;
    if (!have(&c, isize))
        goto out_of_bytes;
    in->imm = take(&c, isize > 4 ? 4 : isize);
    if (isize == 8)
        in->disp = take(&c, 4); /* imm64: the high half */
    if (ent & MO) {
        uint32_t hi = in->disp;
        in->disp = in->imm;
        in->imm = isize == 8 ? hi : 0;
    }
    if (ent & AP) {
        if (!have(&c, zs + 2))
            goto out_of_bytes;
        in->imm = take(&c, zs);
        in->imm2 = (uint16_t)take(&c, 2);
    } else if (ent & IE) {
        if (!have(&c, 3))
            goto out_of_bytes;
        in->imm = take(&c, 2);
        in->imm2 = (uint16_t)take(&c, 1);
    }
    if ((in->pfx & P_LOCK) && !lock_valid(in, ent))
        return finish(in, c.i, OP_UD);
    return finish(in, c.i, 0xFFFF);

out_of_bytes:
    if (c.i + 1 > 15 || avail >= 15) {
        memset(in, 0, sizeof *in);
        in->props = long64 ? I_LONG : 0;
        return finish(in, 15, OP_GP);
    }
    return 0;
}

unsigned decode_insn(const uint8_t *p, unsigned avail, bool code32, struct insn *in)
{
    return decode_any(p, avail, code32, false, in);
}

unsigned decode_insn64(const uint8_t *p, unsigned avail, struct insn *in)
{
    return decode_any(p, avail, true, true, in);
}
