/*
 * Differential tests of cpu/fpu.c against the host CPU. Every x87 and MMX
 * instruction under test is also assembled into an executable buffer here
 * (FRSTOR of the same state, the instruction with its memory operand at
 * [rsi], FNSAVE, EFLAGS in and out) and run natively; the whole resulting
 * state is compared bit for bit: FCW, FSW, the full tag word, the eight
 * registers, the memory operand, EFLAGS and AX. Operands mix random values
 * with edge values (signed zeros, denormals, pseudo-denormals, unnormals,
 * infinities, pseudo-infinities, QNaN/SNaN, indefinite, extreme exponents,
 * integer and BCD limits) under random rounding, precision and exception
 * masks. The FIP/FCS/FOP/FDP/FDS fields the host writes are host addresses,
 * so they are checked against the architectural bookkeeping instead, and
 * the real-mode FSTENV layouts (no 64-bit host counterpart) against the
 * SDM's figures. The number of cases per group goes to stderr.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "cpu/fpu.h"
#include "tests/unit/test.h"

/* Cases per group scale with this (about 1.2 s plain, 10 s under ASan at 8). */
#define SCALE 8
#define SLOT 48
#define N_X87 (8 * 256)
#define N_X87_16 4 /* 66 D9 /4, 66 D9 /6, 66 DD /4, 66 DD /6 */
#define N_MMX (256 * 72)
#define N_SHIFTCNT 16
#define N_MMXI (3 * 8 * 8 * N_SHIFTCNT)
#define N_SLOTS (N_X87 + N_X87_16 + N_MMX + N_MMXI + 2)
#define SLOT_FXSAVE (N_SLOTS - 2)
#define SLOT_FXRSTOR (N_SLOTS - 1)

static const uint8_t shift_counts[N_SHIFTCNT] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255};

/* rdi = FSAVE image, rsi = memory operand or GPR value, rdx = EFLAGS in, rcx = EFLAGS out; returns rax. */
typedef uint64_t (*native_fn)(void *img, void *mem, uint64_t flags, uint64_t *flags_out);

struct img {
    uint16_t fcw, rsv0, fsw, rsv1, ftw, rsv2;
    uint32_t fip;
    uint16_t fcs, fop;
    uint32_t fdp;
    uint16_t fds, rsv3;
    uint8_t st[8][10];
} __attribute__((packed));

static uint8_t *code;

static uint16_t get16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)get16le(p) | (uint32_t)get16le(p + 2) << 16;
}

static uint64_t get64le(const uint8_t *p)
{
    return (uint64_t)get32le(p) | (uint64_t)get32le(p + 4) << 32;
}
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned rndn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* One native function: prologue, the instruction bytes, epilogue. */
static void emit(unsigned slot, const uint8_t *insn, size_t n, bool fxsr)
{
    uint8_t *p = code + (size_t)slot * SLOT;
    static const uint8_t pro[] = {0x48, 0x31, 0xc0, 0x52,
                                  0x9d, 0xdd, 0x27}; /* xor rax; push rdx; popfq; frstor [rdi] */
    static const uint8_t epi[] = {0xdd, 0x37, 0x9c, 0x5a, 0x48,
                                  0x89, 0x11, 0xc3}; /* fnsave [rdi]; pushfq; pop rdx; mov [rcx], rdx; ret */
    memcpy(p, pro, sizeof(pro) - (fxsr ? 2 : 0));
    p += sizeof(pro) - (fxsr ? 2 : 0);
    memcpy(p, insn, n);
    p += n;
    if (fxsr) {
        static const uint8_t fxepi[] = {0x0f, 0xae, 0x07, 0xdb, 0xe3, 0xc3}; /* fxsave [rdi]; fninit; ret */
        memcpy(p, fxepi, sizeof(fxepi));
    } else {
        memcpy(p, epi, sizeof(epi));
    }
}

static unsigned mmx_slot(uint8_t op, unsigned reg, int rm)
{
    return N_X87 + N_X87_16 + (unsigned)op * 72 + (rm < 0 ? reg : 8 + reg * 8 + (unsigned)rm);
}

static unsigned mmxi_slot(uint8_t op, unsigned sub, unsigned rm, unsigned cnt)
{
    return N_X87 + N_X87_16 + N_MMX + (((unsigned)(op - 0x71) * 8 + sub) * 8 + rm) * N_SHIFTCNT + cnt;
}

static void build_code(void)
{
    if (code)
        return;
    code = mmap(NULL, (size_t)N_SLOTS * SLOT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(code != MAP_FAILED);
    for (unsigned i = 0; i < N_X87; i++) {
        uint8_t op = (uint8_t)(0xd8 + i / 256), modrm = (uint8_t)i;
        uint8_t b[2] = {op, modrm >= 0xc0 ? modrm : (uint8_t)((modrm & 0x38) | 6)};
        emit(i, b, 2, false);
    }
    static const uint8_t e16[N_X87_16][3] = {
        {0x66, 0xd9, 0x26}, {0x66, 0xd9, 0x36}, {0x66, 0xdd, 0x26}, {0x66, 0xdd, 0x36}};
    for (unsigned i = 0; i < N_X87_16; i++)
        emit(N_X87 + i, e16[i], 3, false);
    for (unsigned op = 0x60; op < 0x100; op++) {
        for (unsigned reg = 0; reg < 8; reg++) {
            uint8_t b[3] = {0x0f, (uint8_t)op, (uint8_t)(reg << 3 | 6)};
            emit(mmx_slot((uint8_t)op, reg, -1), b, op == 0x77 ? 2 : 3, false);
            for (unsigned rm = 0; rm < 8; rm++) {
                unsigned r = op == 0x6e ? 6 : op == 0x7e ? 0 : rm; /* MOVD: esi in, eax out */
                b[2] = (uint8_t)(0xc0 | reg << 3 | r);
                emit(mmx_slot((uint8_t)op, reg, (int)rm), b, op == 0x77 ? 2 : 3, false); /* EMMS: no ModRM */
            }
        }
    }
    for (unsigned op = 0x71; op <= 0x73; op++)
        for (unsigned sub = 0; sub < 8; sub++)
            for (unsigned rm = 0; rm < 8; rm++)
                for (unsigned c = 0; c < N_SHIFTCNT; c++) {
                    uint8_t b[4] = {0x0f, (uint8_t)op, (uint8_t)(0xc0 | sub << 3 | rm), shift_counts[c]};
                    emit(mmxi_slot((uint8_t)op, sub, rm, c), b, 4, false);
                }
    /* FXSAVE: frstor [rdi]; fxsave [rsi]. FXRSTOR: fxrstor [rsi]; fnsave [rdi]. */
    static const uint8_t fxs[] = {0x0f, 0xae, 0x06};
    static const uint8_t fxr[] = {0x0f, 0xae, 0x0e};
    emit(SLOT_FXSAVE, fxs, 3, false);
    uint8_t *p = code + (size_t)SLOT_FXRSTOR * SLOT;
    static const uint8_t fxr_fn[] = {0x48, 0x31, 0xc0};
    memcpy(p, fxr_fn, 3);
    memcpy(p + 3, fxr, 3);
    static const uint8_t fxr_epi[] = {0xdd, 0x37, 0xc3};
    memcpy(p + 6, fxr_epi, 3);
    ASSERT(mprotect(code, (size_t)N_SLOTS * SLOT, PROT_READ | PROT_EXEC) == 0);
}

static native_fn slot_fn(unsigned slot)
{
    native_fn fn;
    void *p = code + (size_t)slot * SLOT;
    memcpy(&fn, &p, sizeof(fn));
    return fn;
}

/* ---- operand values ---- */

static void put_f80(uint8_t *r, uint16_t se, uint64_t mant)
{
    memcpy(r, &mant, 8);
    memcpy(r + 8, &se, 2);
}

static uint64_t rnd_mant(void)
{
    switch (rndn(6)) {
    case 0:
        return 1ull << 63;
    case 1:
        return ~0ull;
    case 2:
        return (1ull << 63) | (rnd() & 0xffffffffff000000ull); /* exact as a float or double */
    default:
        return rnd() | 1ull << 63;
    }
}

/* A random 80-bit value, edge values most of the time. */
static void rnd_f80(uint8_t r[10])
{
    uint16_t s = (uint16_t)(rnd() & 0x8000);
    switch (rndn(16)) {
    case 0:
        put_f80(r, s, 0);
        break;
    case 1:
        put_f80(r, s | 0x7fff, 1ull << 63); /* infinity */
        break;
    case 2:
        put_f80(r, s | 0x7fff, (3ull << 62) | (rnd() >> rndn(64) & 0x3fffffffffffffffull)); /* QNaN */
        break;
    case 3:
        put_f80(r, s | 0x7fff, (1ull << 63) | ((rnd() >> 2) | 1)); /* SNaN */
        break;
    case 4:
        put_f80(r, s, rnd() >> rndn(64) & ~(1ull << 63)); /* denormal */
        break;
    case 5:
        put_f80(r, s, rnd() | 1ull << 63); /* pseudo-denormal */
        break;
    case 6:
        put_f80(r, s | (uint16_t)(1 + rndn(0x7ffe)), rnd() & ~(1ull << 63)); /* unnormal */
        break;
    case 7:
        put_f80(r, s | 0x7fff, rnd() & ~(1ull << 63)); /* pseudo-NaN / pseudo-infinity */
        break;
    case 8:
        put_f80(r, s | (uint16_t)(0x7ffe - rndn(64)), rnd_mant()); /* huge */
        break;
    case 9:
        put_f80(r, s | (uint16_t)(1 + rndn(64)), rnd_mant()); /* tiny */
        break;
    case 10:
        put_f80(r, s | (uint16_t)(0x3fff + 0x3ff - 4 + rndn(8) - (rnd() & 1) * 0x7fe),
                rnd_mant()); /* double range edges */
        break;
    case 11:
        put_f80(r, s | (uint16_t)(0x3fff + rndn(66)), rnd_mant() & ~((1ull << rndn(64)) - 1)); /* integers */
        break;
    default:
        put_f80(r, s | (uint16_t)(0x3fff - 70 + rndn(140)), rnd_mant());
        break;
    }
}

static uint64_t rnd_int(unsigned bits)
{
    uint64_t top = 1ull << (bits - 1);
    switch (rndn(8)) {
    case 0:
        return 0;
    case 1:
        return top; /* most negative */
    case 2:
        return top - 1;
    case 3:
        return ~0ull;
    case 4:
        return rnd() >> rndn(64);
    default:
        return rnd();
    }
}

static uint32_t rnd_f32(void)
{
    uint32_t s = (uint32_t)(rnd() & 0x80000000u);
    switch (rndn(8)) {
    case 0:
        return s;
    case 1:
        return s | 0x7f800000u;
    case 2:
        return s | 0x7fc00000u | (uint32_t)(rnd() & 0x3fffff);
    case 3:
        return s | 0x7f800000u | (uint32_t)((rnd() & 0x3fffff) | 1);
    case 4:
        return s | (uint32_t)(rnd() & 0x7fffff);
    default:
        return (uint32_t)rnd();
    }
}

static uint64_t rnd_f64(void)
{
    uint64_t s = rnd() & (1ull << 63);
    switch (rndn(8)) {
    case 0:
        return s;
    case 1:
        return s | 0x7ff0000000000000ull;
    case 2:
        return s | 0x7ff8000000000000ull | (rnd() & 0x7ffffffffffffull);
    case 3:
        return s | 0x7ff0000000000000ull | ((rnd() & 0x7ffffffffffffull) | 1);
    case 4:
        return s | (rnd() & 0xfffffffffffffull);
    case 5:
        return s | (uint64_t)(0x3ff + rndn(64)) << 52 |
               (rnd() & 0xfffffffffffffull & ~((1ull << rndn(53)) - 1));
    default:
        return rnd();
    }
}

static void rnd_bcd(uint8_t m[10])
{
    unsigned digits = rndn(19);
    for (int i = 0; i < 9; i++) {
        unsigned lo = rndn(10), hi = rndn(10);
        m[i] = (uint8_t)(2 * i < (int)digits ? (lo | hi << 4) : 0);
        if (rndn(50) == 0)
            m[i] = (uint8_t)rnd(); /* invalid digits: undefined, but the same on both */
    }
    m[9] = (uint8_t)(rnd() & 0x80);
}

enum memfmt { M_NONE, M_I16, M_I32, M_I64, M_F32, M_F64, M_F80, M_BCD, M_RAW };

static enum memfmt mem_format(uint8_t op, uint8_t modrm)
{
    unsigned r = (modrm >> 3) & 7;
    if (modrm >= 0xc0)
        return M_NONE;
    switch (op) {
    case 0xd8:
        return M_F32;
    case 0xda:
        return M_I32;
    case 0xdc:
        return M_F64;
    case 0xde:
        return M_I16;
    case 0xd9:
        return r == 0 ? M_F32 : M_RAW;
    case 0xdb:
        return r == 0 ? M_I32 : r == 5 ? M_F80 : M_RAW;
    case 0xdd:
        return r == 0 ? M_F64 : M_RAW;
    default: /* DF */
        return r == 0 ? M_I16 : r == 5 ? M_I64 : r == 4 ? M_BCD : M_RAW;
    }
}

static void fill_mem(uint8_t *m, size_t n, enum memfmt fmt)
{
    for (size_t i = 0; i < n; i++)
        m[i] = (uint8_t)rnd();
    uint64_t v;
    uint32_t w;
    switch (fmt) {
    case M_I16:
    case M_I32:
    case M_I64:
        v = rnd_int(fmt == M_I16 ? 16 : fmt == M_I32 ? 32 : 64);
        memcpy(m, &v, n);
        break;
    case M_F32:
        w = rnd_f32();
        memcpy(m, &w, 4);
        break;
    case M_F64:
        v = rnd_f64();
        memcpy(m, &v, 8);
        break;
    case M_F80:
        rnd_f80(m);
        break;
    case M_BCD:
        rnd_bcd(m);
        break;
    default:
        break;
    }
}

/* A random guest state with no pending exception (flags only where masked). */
static void rnd_state(struct cpu_fpu_state *st)
{
    memset(st, 0, sizeof(*st));
    uint16_t masks = rndn(3) ? 0x3f : (uint16_t)(rnd() & 0x3f);
    st->fcw = (uint16_t)((rnd() & 0x0f00) | 0x40 | masks);
    uint16_t flags = (uint16_t)(rnd() & masks & (rndn(4) ? 0 : 0x3f));
    if ((masks & 1) && rndn(8) == 0)
        flags |= 0x41;
    st->fsw = (uint16_t)((rnd() & 0x7f00) | flags);
    /* tags: mostly full with room for one push, else random, full or empty */
    unsigned top = (st->fsw >> 11) & 7;
    switch (rndn(8)) {
    case 0:
        st->ftw = (uint8_t)rnd();
        break;
    case 1:
        st->ftw = rndn(2) ? 0 : 0xff;
        break;
    case 2:
    case 3:
        st->ftw = (uint8_t)(rnd() | rnd());
        break;
    default:
        st->ftw = (uint8_t) ~(1u << ((top + 7) & 7));
        break;
    }
    for (int i = 0; i < 8; i++)
        rnd_f80(st->st[i]);
}

static uint16_t full_tag_of(const struct cpu_fpu_state *st, int i)
{
    if (!(st->ftw >> i & 1))
        return 3;
    uint16_t se;
    uint64_t m;
    memcpy(&m, st->st[i], 8);
    memcpy(&se, st->st[i] + 8, 2);
    if ((se & 0x7fff) == 0x7fff)
        return 2;
    if ((se & 0x7fff) == 0)
        return m ? 2 : 1;
    return (m >> 63) ? 0 : 2;
}

/* The host image of a guest state (exception flags kept: the caller made sure none is pending). */
static void to_img(const struct cpu_fpu_state *st, struct img *im)
{
    memset(im, 0xff, sizeof(*im));
    im->fcw = st->fcw;
    im->fsw = st->fsw;
    im->ftw = 0;
    for (int i = 0; i < 8; i++)
        im->ftw |= (uint16_t)(full_tag_of(st, i) << (2 * i));
    im->fip = im->fdp = 0;
    im->fcs = im->fop = im->fds = 0;
    unsigned top = (st->fsw >> 11) & 7;
    for (int i = 0; i < 8; i++)
        memcpy(im->st[i], st->st[(top + i) & 7], 10);
}

/* ---- comparing ---- */

static char where[160];

static void describe(const char *what, uint8_t a, uint8_t b)
{
    snprintf(where, sizeof where, "%s %02x %02x", what, a, b);
}

/* Emulated FNSAVE (32-bit protected layout) against the host's image, bookkeeping fields apart. */
static void check_against(struct fpu *f, const struct img *native, const char *what)
{
    struct fpu_insn in = {.op = 0xdd, .modrm = 0x30, .op32 = true, .pmode = true};
    uint8_t buf[108];
    ASSERT_EQ(fpu_mem_size(0xdd, 0x30, true), 108);
    ASSERT_EQ(fpu_exec(f, &in, buf), FPU_OK);
    const uint8_t *n = (const uint8_t *)native;
    if (memcmp(buf, n, 12) != 0 || memcmp(buf + 28, n + 28, 80) != 0) {
        struct img e;
        memcpy(&e, buf, 108);
        int reg = -1;
        for (int i = 0; i < 8 && reg < 0; i++)
            if (memcmp(e.st[i], native->st[i], 10) != 0)
                reg = i;
        FAIL("%s (%s): fcw %04x/%04x fsw %04x/%04x ftw %04x/%04x first differing ST(%d) (-1: none) "
             "emu %04x:%016" PRIx64 " host %04x:%016" PRIx64,
             where, what, e.fcw, native->fcw, e.fsw, native->fsw, e.ftw, native->ftw, reg,
             reg < 0 ? 0 : get16le(e.st[reg] + 8), reg < 0 ? 0 : get64le(e.st[reg]),
             reg < 0 ? 0 : get16le(native->st[reg] + 8), reg < 0 ? 0 : get64le(native->st[reg]));
    }
}

struct run {
    struct cpu_fpu_state st;
    uint8_t mem[128], mem_native[128];
    uint32_t eflags;
    uint16_t ax;
};

/* Does the host write the memory operand of this store? Two runs, from memory all zeros and all ones. */
static bool native_writes(uint8_t op, uint8_t modrm, const struct img *start)
{
    unsigned n = fpu_mem_size(op, modrm, true);
    for (int fill = 0; fill < 2; fill++) {
        uint8_t m[128], ref[128];
        struct img im = *start;
        uint64_t fl;
        memset(m, fill ? 0xff : 0, sizeof m);
        memcpy(ref, m, sizeof m);
        slot_fn((unsigned)(op - 0xd8) * 256 + modrm)(&im, m, 0x202, &fl);
        if (memcmp(m, ref, n) != 0)
            return true;
    }
    return false;
}

/* Runs one x87 instruction on both sides from the same state and compares everything; returns the host's FSW.
 */
static uint16_t x87_case(uint8_t op, uint8_t modrm, struct run *r)
{
    describe("x87", op, modrm);
    unsigned n = fpu_mem_size(op, modrm, true);
    enum memfmt fmt = mem_format(op, modrm);
    if (modrm < 0xc0)
        fill_mem(r->mem, n, fmt);
    memcpy(r->mem_native, r->mem, sizeof(r->mem));
    r->eflags = (uint32_t)(rnd() & 0x8d5) | 0x2 | (uint32_t)(rnd() & 0x200);
    struct img im;
    to_img(&r->st, &im);
    bool store = fpu_mem_access(op, modrm) == FPU_STORE;
    bool host_wrote = store && native_writes(op, modrm, &im);
    uint64_t fl_out = 0;
    uint64_t rax = slot_fn((unsigned)(op - 0xd8) * 256 + modrm)(&im, r->mem_native,
                                                                0x202 | (r->eflags & 0x8d5), &fl_out);

    struct fpu *f = fpu_new();
    ASSERT(f);
    fpu_set_state(f, &r->st);
    uint32_t ef = r->eflags;
    uint16_t ax = 0;
    struct fpu_insn in = {.op = op,
                          .modrm = modrm,
                          .op32 = true,
                          .pmode = true,
                          .cs = 0x10,
                          .ds = 0x18,
                          .ip = 0x1234,
                          .dp = 0x5678,
                          .eflags = &ef,
                          .ax = &ax};
    ASSERT_EQ(fpu_exec(f, &in, r->mem), FPU_OK);
    if (store && fpu_mem_written(f) != host_wrote)
        FAIL("%s: fpu_mem_written %d, the host %s", where, fpu_mem_written(f), host_wrote ? "wrote" : "did not");
    if (modrm < 0xc0 && (op == 0xd9 || op == 0xdd) && ((modrm >> 3) & 7) == 6) {
        /* FNSTENV/FNSAVE: the host's FIP CS FOP FDP DS (bytes 12..27) are its own */
        ASSERT_EQ(get32le(r->mem + 12), r->st.fip);
        ASSERT_EQ(get32le(r->mem + 16), r->st.fcs | (uint32_t)r->st.fop << 16);
        ASSERT_EQ(get32le(r->mem + 20), r->st.fdp);
        ASSERT_EQ(get32le(r->mem + 24), 0xffff0000u | r->st.fds);
        memcpy(r->mem + 12, r->mem_native + 12, 16);
    }
    if (memcmp(r->mem, r->mem_native, n) != 0)
        FAIL("%s: memory operand differs: emu %016" PRIx64 " host %016" PRIx64, where, get64le(r->mem),
             get64le(r->mem_native));
    bool fcomi = (op == 0xdb || op == 0xdf) && modrm >= 0xe8 && modrm < 0xf8;
    uint32_t want_fl = fcomi ? (uint32_t)((r->eflags & ~0x8d5u) | (fl_out & 0x8d5)) : r->eflags;
    if (ef != want_fl)
        FAIL("%s: eflags %08x, host %08x", where, ef, want_fl);
    if (op == 0xdf && modrm == 0xe0)
        ASSERT_EQ(ax, (uint16_t)rax);
    struct cpu_fpu_state after;
    fpu_get_state(f, &after);
    bool control = (op == 0xdb && (modrm == 0xe2 || modrm == 0xe3)) || (op == 0xdf && modrm == 0xe0) ||
                   (modrm < 0xc0 && (op == 0xd9 || op == 0xdd) && ((modrm >> 3) & 7) >= 4);
    if (!control) {
        ASSERT_EQ(after.fip, 0x1234);
        ASSERT_EQ(after.fcs, 0x10);
        ASSERT_EQ(after.fop, (uint16_t)((op & 7) << 8 | modrm));
        ASSERT_EQ(after.fdp, modrm < 0xc0 ? 0x5678 : r->st.fdp);
        ASSERT_EQ(after.fds, modrm < 0xc0 ? 0x18 : r->st.fds);
    }
    check_against(f, &im, "state");
    fpu_free(f);
    return im.fsw;
}

static unsigned run_group(const char *name, const uint8_t (*enc)[2], size_t n_enc, unsigned per_enc)
{
    struct run r;
    unsigned cases = 0, unmasked = 0, stack_fault = 0;
    build_code();
    for (unsigned k = 0; k < per_enc * SCALE; k++)
        for (size_t e = 0; e < n_enc; e++) {
            rnd_state(&r.st);
            r.st.fip = 0x7654321;
            r.st.fcs = 0x23;
            r.st.fop = 0x5a5;
            r.st.fdp = 0xabcd;
            r.st.fds = 0x2b;
            uint16_t fsw = x87_case(enc[e][0], enc[e][1], &r);
            cases++;
            unmasked += (fsw & 0x80) != 0;
            stack_fault += (fsw & 0x40) && !(r.st.fsw & 0x40);
        }
    fprintf(stderr,
            "test_fpu: %-14s %7u cases over %3zu encodings, %5u raised an unmasked exception, %5u a stack "
            "fault\n",
            name, cases, n_enc, unmasked, stack_fault);
    return cases;
}

/* Encodings of a list of opcode, ModRM ranges: register ranges as given, memory forms as /r with mod 0. */
struct range {
    uint8_t op, lo, hi;
};

static size_t expand(const struct range *rg, size_t n, uint8_t (*out)[2])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (unsigned m = rg[i].lo; m <= rg[i].hi; m++)
            if (m >= 0xc0 || (m & 0xc7) == 0) {
                out[k][0] = rg[i].op;
                out[k][1] = (uint8_t)m;
                k++;
            }
    return k;
}

static void group(const char *name, const struct range *rg, size_t n, unsigned per_enc)
{
    static uint8_t enc[2048][2];
    size_t k = expand(rg, n, enc);
    for (size_t i = 0; i < k; i++)
        ASSERT(fpu_mem_size(enc[i][0], enc[i][1], true) || enc[i][1] >= 0xc0);
    run_group(name, (const uint8_t(*)[2])enc, k, per_enc);
}

#define R(op, lo, hi)                                                                                        \
    {                                                                                                        \
        op, lo, hi                                                                                           \
    }
#define MEM(op, r)                                                                                           \
    {                                                                                                        \
        op, (uint8_t)((r) << 3), (uint8_t)((r) << 3)                                                         \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

TEST(arith_mem)
{
    static const struct range rg[] = {R(0xd8, 0x00, 0x38), R(0xda, 0x00, 0x38), R(0xdc, 0x00, 0x38),
                                      R(0xde, 0x00, 0x38)};
    group("arith_mem", rg, COUNT(rg), 800);
}

TEST(arith_reg)
{
    static const struct range rg[] = {R(0xd8, 0xc0, 0xcf), R(0xd8, 0xe0, 0xff), R(0xdc, 0xc0, 0xcf),
                                      R(0xdc, 0xe0, 0xff), R(0xde, 0xc0, 0xcf), R(0xde, 0xe0, 0xff)};
    group("arith_reg", rg, COUNT(rg), 100);
}

TEST(load_store)
{
    static const struct range rg[] = {MEM(0xd9, 0), MEM(0xd9, 2), MEM(0xd9, 3), MEM(0xdd, 0),
                                      MEM(0xdd, 2), MEM(0xdd, 3), MEM(0xdb, 0), MEM(0xdb, 2),
                                      MEM(0xdb, 3), MEM(0xdb, 5), MEM(0xdb, 7), MEM(0xdf, 0),
                                      MEM(0xdf, 2), MEM(0xdf, 3), MEM(0xdf, 5), MEM(0xdf, 7)};
    group("load_store", rg, COUNT(rg), 2000);
}

TEST(bcd)
{
    static const struct range rg[] = {MEM(0xdf, 4), MEM(0xdf, 6)};
    group("bcd", rg, COUNT(rg), 6000);
}

TEST(stack_regs)
{
    /* FLD ST(i), FXCH, FNOP, FSTP1, FFREE, FXCH4, FST, FSTP, FFREEP, FXCH7, FSTP8, FSTP9, FINCSTP, FDECSTP */
    static const struct range rg[] = {R(0xd9, 0xc0, 0xd0), R(0xd9, 0xd8, 0xdf), R(0xdd, 0xc0, 0xdf),
                                      R(0xdf, 0xc0, 0xdf), R(0xd9, 0xf6, 0xf7)};
    group("stack_regs", rg, COUNT(rg), 150);
}

TEST(compare)
{
    static const struct range rg[] = {R(0xd8, 0xd0, 0xdf), R(0xdc, 0xd0, 0xdf), R(0xde, 0xd0, 0xd7),
                                      R(0xde, 0xd9, 0xd9), R(0xda, 0xe9, 0xe9), R(0xdd, 0xe0, 0xef),
                                      R(0xdb, 0xe8, 0xf7), R(0xdf, 0xe8, 0xf7), R(0xd9, 0xe4, 0xe5),
                                      MEM(0xd8, 2),        MEM(0xd8, 3),        MEM(0xdc, 2),
                                      MEM(0xdc, 3),        MEM(0xda, 2),        MEM(0xda, 3),
                                      MEM(0xde, 2),        MEM(0xde, 3)};
    group("compare", rg, COUNT(rg), 150);
}

TEST(fcmov)
{
    static const struct range rg[] = {R(0xda, 0xc0, 0xdf), R(0xdb, 0xc0, 0xdf)};
    group("fcmov", rg, COUNT(rg), 300);
}

TEST(transcendental)
{
    /* F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS */
    static const struct range rg[] = {R(0xd9, 0xf0, 0xf5), R(0xd9, 0xf8, 0xff)};
    group("transcendental", rg, COUNT(rg), 1500);
}

TEST(unary_const)
{
    /* FCHS FABS, FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ */
    static const struct range rg[] = {R(0xd9, 0xe0, 0xe1), R(0xd9, 0xe8, 0xee)};
    group("unary_const", rg, COUNT(rg), 1500);
}

TEST(control)
{
    /* FLDCW FNSTCW FNSTSW m16, FLDENV FNSTENV FRSTOR FNSAVE (32-bit protected), FNSTSW AX, FENI FDISI FNCLEX
     * FNINIT FSETPM */
    static const struct range rg[] = {MEM(0xd9, 5), MEM(0xd9, 7),        MEM(0xdd, 7),       MEM(0xd9, 6),
                                      MEM(0xdd, 6), R(0xdf, 0xe0, 0xe0), R(0xdb, 0xe0, 0xe4)};
    group("control", rg, COUNT(rg), 1000);
}

/* FLDENV / FRSTOR take a random image whose flags may be unmasked: ES and B must follow on both. */
TEST(env_load)
{
    struct run r;
    unsigned cases = 0;
    build_code();
    for (unsigned k = 0; k < 3000 * SCALE; k++) {
        bool save = k & 1;
        uint8_t op = save ? 0xdd : 0xd9;
        rnd_state(&r.st);
        struct cpu_fpu_state img_state;
        rnd_state(&img_state);
        img_state.fcw = (uint16_t)rnd();
        img_state.fsw = (uint16_t)rnd();
        struct img src;
        to_img(&img_state, &src);
        src.fcw = img_state.fcw;
        src.ftw = (uint16_t)rnd();
        memcpy(r.mem, &src, 108);
        memcpy(r.mem_native, &src, 108);
        struct img im;
        to_img(&r.st, &im);
        uint64_t fl;
        /* The host would fault at its next waiting instruction: our snippet ends with the no-wait FNSAVE. */
        slot_fn((unsigned)(op - 0xd8) * 256 + 0x20)(&im, r.mem_native, 0x202, &fl);
        struct fpu *f = fpu_new();
        fpu_set_state(f, &r.st);
        struct fpu_insn in = {.op = op, .modrm = 0x20, .op32 = true, .pmode = true};
        describe("load env", op, 0x20);
        ASSERT_EQ(fpu_exec(f, &in, r.mem), FPU_OK);
        ASSERT_EQ(fpu_pending(f), (im.fsw & 0x80) != 0);
        struct cpu_fpu_state after;
        fpu_get_state(f, &after);
        ASSERT_EQ(after.fip, src.fip);
        ASSERT_EQ(after.fcs, src.fcs);
        ASSERT_EQ(after.fop, src.fop & 0x7ff);
        check_against(f, &im, "after FLDENV/FRSTOR");
        fpu_free(f);
        cases++;
    }
    fprintf(stderr, "test_fpu: %-14s %7u cases\n", "env_load", cases);
}

/* 16-bit protected layouts: the host writes them with an operand-size prefix. */
TEST(env16)
{
    struct run r;
    build_code();
    for (unsigned k = 0; k < 2000 * SCALE; k++) {
        unsigned which = k & 3; /* FLDENV FNSTENV FRSTOR FNSAVE */
        uint8_t op = which < 2 ? 0xd9 : 0xdd, modrm = (which & 1) ? 0x30 : 0x20;
        rnd_state(&r.st);
        unsigned n = fpu_mem_size(op, modrm, false);
        ASSERT_EQ(n, which < 2 ? 14u : 94u);
        struct cpu_fpu_state src;
        rnd_state(&src);
        struct img s;
        to_img(&src, &s);
        /* a 16-bit image: FCW FSW FTW IP CS DP DS, then the registers */
        uint16_t w[7] = {s.fcw,           s.fsw,           s.ftw,          (uint16_t)rnd(),
                         (uint16_t)rnd(), (uint16_t)rnd(), (uint16_t)rnd()};
        memcpy(r.mem, w, 14);
        memcpy(r.mem + 14, s.st, 80);
        if (which & 1)
            memset(r.mem, 0x5a, n);
        memcpy(r.mem_native, r.mem, n);
        struct img im;
        to_img(&r.st, &im);
        uint64_t fl;
        slot_fn(N_X87 + which)(&im, r.mem_native, 0x202, &fl);
        struct fpu *f = fpu_new();
        fpu_set_state(f, &r.st);
        struct fpu_insn in = {.op = op, .modrm = modrm, .op32 = false, .pmode = true};
        describe("env16", op, modrm);
        ASSERT_EQ(fpu_exec(f, &in, r.mem), FPU_OK);
        if (which & 1) {
            /* FIP CS FDP DS of the host are its own; the rest must match */
            ASSERT_MEM_EQ(r.mem, r.mem_native, 6);
            ASSERT_MEM_EQ(r.mem + 14, r.mem_native + 14, n - 14);
            ASSERT_EQ(get16le(r.mem + 6), r.st.fip & 0xffff);
        } else {
            struct cpu_fpu_state after;
            fpu_get_state(f, &after);
            ASSERT_EQ(after.fip, w[3]);
            ASSERT_EQ(after.fcs, w[4]);
            ASSERT_EQ(after.fdp, w[5]);
            ASSERT_EQ(after.fds, w[6]);
        }
        check_against(f, &im, "16-bit layout");
        fpu_free(f);
    }
    fprintf(stderr, "test_fpu: %-14s %7u cases\n", "env16", 2000u * SCALE);
}

/* Real-mode layouts (the 64-bit host has none): the SDM's figures, and a round trip through them. */
TEST(env_real)
{
    struct fpu *f = fpu_new();
    struct cpu_fpu_state st;
    fpu_get_state(f, &st);
    st.fcw = 0x027f;
    st.fsw = 0x3a21;
    st.ftw = 0x81;
    st.fip = 0x1234;
    st.fcs = 0xf000;
    st.fop = 0x5ab;
    st.fdp = 0x9876;
    st.fds = 0x2000;
    fpu_set_state(f, &st);
    uint8_t m16[14], m32[28], back[28];
    struct fpu_insn in = {.op = 0xd9, .modrm = 0x30, .op32 = false, .pmode = false};
    ASSERT_EQ(fpu_exec(f, &in, m16), FPU_OK);
    /* IP = F000:1234 = F1234, DP = 2000:9876 = 29876 */
    const uint16_t want16[7] = {0x027f, 0x3a21, 0x7ffd, 0x1234, 0xf5ab, 0x9876, 0x2000};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(get16le(m16 + 2 * i), want16[i]);
    fpu_set_state(f, &st);
    in.op32 = true;
    ASSERT_EQ(fpu_exec(f, &in, m32), FPU_OK);
    const uint32_t want32[7] = {0xffff027f, 0xffff3a21, 0xffff7ffd, 0xffff1234,
                                0x0000f5ab, 0xffff9876, 0x00002000};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(get32le(m32 + 4 * i), want32[i]);
    /* FLDENV of each real layout, then FNSTENV in the 32-bit protected one: linear FIP/FDP, selectors 0 */
    for (int op32 = 0; op32 < 2; op32++) {
        struct fpu *g = fpu_new();
        struct fpu_insn ld = {.op = 0xd9, .modrm = 0x20, .op32 = op32, .pmode = false};
        ASSERT_EQ(fpu_exec(g, &ld, op32 ? m32 : m16), FPU_OK);
        struct fpu_insn sv = {.op = 0xd9, .modrm = 0x30, .op32 = true, .pmode = true};
        ASSERT_EQ(fpu_exec(g, &sv, back), FPU_OK);
        ASSERT_EQ(get32le(back + 12), 0xf1234);
        ASSERT_EQ(get32le(back + 16), 0x5ab0000);
        ASSERT_EQ(get32le(back + 20), 0x29876);
        ASSERT_EQ(get32le(back + 24), 0xffff0000);
        ASSERT_EQ(get16le(back + 4), 0x3a21);
        ASSERT_EQ(get16le(back + 0), 0x027f | 0x3f); /* FNSTENV masks all exceptions afterwards */
        ASSERT_EQ(fpu_mem_size(0xdd, 0x30, false), 94);
        fpu_free(g);
    }
    fpu_free(f);
}

TEST(fxsave_fxrstor)
{
    build_code();
    static uint8_t nat[512] __attribute__((aligned(16))), emu[512];
    unsigned cases = 0;
    for (unsigned k = 0; k < 3000 * SCALE; k++) {
        struct cpu_fpu_state st;
        rnd_state(&st);
        struct img im;
        to_img(&st, &im);
        uint64_t fl;
        memset(nat, 0, sizeof nat);
        slot_fn(SLOT_FXSAVE)(&im, nat, 0x202, &fl);
        struct fpu *f = fpu_new();
        fpu_set_state(f, &st);
        memset(emu, 0, sizeof emu);
        fpu_fxsave(f, emu);
        describe("fxsave", 0x0f, 0xae);
        /* FOP FIP FCS FDP FDS (6..23) are the host's own */
        ASSERT_MEM_EQ(emu, nat, 6);
        ASSERT_MEM_EQ(emu + 32, nat + 32, 128);
        ASSERT_EQ(get16le(emu + 6), st.fop);
        /* FXRSTOR of a random area (x87 part), MXCSR valid */
        for (unsigned i = 0; i < 160; i++)
            nat[i] = (uint8_t)rnd();
        for (unsigned i = 0; i < 8; i++)
            rnd_f80(nat + 32 + 16 * i);
        nat[24] = 0x80;
        nat[25] = 0x1f;
        nat[26] = nat[27] = 0;
        memcpy(emu, nat, 512);
        slot_fn(SLOT_FXRSTOR)(&im, nat, 0x202, &fl);
        fpu_fxrstor(f, emu);
        struct cpu_fpu_state after;
        fpu_get_state(f, &after);
        ASSERT_EQ(after.fip, get32le(emu + 8));
        ASSERT_EQ(after.fdp, get32le(emu + 16));
        ASSERT_EQ(after.fop, get16le(emu + 6) & 0x7ff);
        ASSERT_EQ(fpu_pending(f), (im.fsw & 0x80) != 0);
        check_against(f, &im, "after FXRSTOR");
        fpu_free(f);
        cases += 2;
    }
    fprintf(stderr, "test_fpu: %-14s %7u cases\n", "fxsave_fxrstor", cases);
}

/* ---- encodings: #UD against the host, which is a later CPU ---- */

static sigjmp_buf ill_jmp;

static void on_sigill(int sig)
{
    (void)sig;
    siglongjmp(ill_jmp, 1);
}

static bool host_valid(unsigned slot, void *mem)
{
    struct img im;
    struct cpu_fpu_state st;
    memset(&st, 0, sizeof st);
    st.fcw = 0x37f;
    to_img(&st, &im);
    uint64_t fl;
    if (sigsetjmp(ill_jmp, 1))
        return false;
    slot_fn(slot)(&im, mem, 0x202, &fl);
    return true;
}

TEST(encodings)
{
    build_code();
    struct sigaction sa = {.sa_handler = on_sigill};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGILL, &sa, NULL);
    static uint8_t mem[128] __attribute__((aligned(16)));
    unsigned checked = 0;
    for (unsigned i = 0; i < N_X87; i++) {
        uint8_t op = (uint8_t)(0xd8 + i / 256), modrm = (uint8_t)i;
        if (modrm < 0xc0 && (modrm & 0xc7) != 0)
            continue;
        memset(mem, 0, sizeof mem);
        bool host = host_valid(i, mem);
        struct fpu *f = fpu_new();
        struct fpu_insn in = {.op = op, .modrm = modrm, .op32 = true, .pmode = true};
        uint16_t ax;
        uint32_t ef = 2;
        in.ax = &ax;
        in.eflags = &ef;
        bool emu = fpu_exec(f, &in, mem) == FPU_OK;
        fpu_free(f);
        bool want = host; /* FISTTP (SSE3) included: the core advertises SSE3 */
        if (emu != want)
            FAIL("x87 %02x %02x: emulation %s, host %s", op, modrm, emu ? "valid" : "#UD",
                 host ? "valid" : "#UD");
        ASSERT_EQ(fpu_mem_size(op, modrm, true) != 0, want && modrm < 0xc0);
        checked++;
    }
    /* MMX: 0F 60..7F and D0..FF, register forms; the SSE/SSE2 integer additions on MM registers
     * are not mmx_exec's (#UD there: cpu/exec_sse.c runs them) */
    static const uint8_t sse_on_mm[] = {0xd4, 0xd7, 0xda, 0xde, 0xe0, 0xe3, 0xe4,
                                        0xea, 0xee, 0xf4, 0xf6, 0xf7, 0xfb};
    for (unsigned op = 0x60; op < 0x100; op++) {
        if (op >= 0x80 && op < 0xd0)
            continue;
        bool sse = op == 0x70; /* PSHUFW takes an immediate: not run natively */
        for (size_t i = 0; i < sizeof sse_on_mm; i++)
            sse |= sse_on_mm[i] == op;
        unsigned subs = (op >= 0x71 && op <= 0x73) ? 8 : 1;
        for (unsigned sub = 0; sub < subs; sub++) {
            unsigned slot = subs > 1 ? mmxi_slot((uint8_t)op, sub, 1, 3) : mmx_slot((uint8_t)op, 0, 1);
            bool host = op == 0x70 || host_valid(slot, mem);
            struct fpu *f = fpu_new();
            struct mmx_insn in = {
                .opcode = (uint8_t)op, .reg = (uint8_t)sub, .rm = 1, .rm_is_reg = true, .imm = 3};
            uint64_t out;
            bool ov;
            bool emu = mmx_exec(f, &in, &out, &ov) == FPU_OK;
            fpu_free(f);
            if (emu != (host && !sse))
                FAIL("mmx 0f %02x /%u: emulation %s, host %s%s", op, sub, emu ? "valid" : "#UD",
                     host ? "valid" : "#UD", sse ? " (SSE)" : "");
            checked++;
        }
    }
    fprintf(stderr, "test_fpu: %-14s %6u encodings against the host\n", "encodings", checked);
}

TEST(access_and_nowait)
{
    /* FST/FSTP/FIST/FISTP/FBSTP/FNSTENV/FNSTCW/FNSAVE/FNSTSW store; the rest load */
    ASSERT_EQ(fpu_mem_access(0xd9, 0x10), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xd9, 0x00), FPU_LOAD);
    ASSERT_EQ(fpu_mem_access(0xd9, 0x28), FPU_LOAD);
    ASSERT_EQ(fpu_mem_access(0xd9, 0x38), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xdb, 0x38), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xdb, 0x28), FPU_LOAD);
    ASSERT_EQ(fpu_mem_access(0xdd, 0x20), FPU_LOAD);
    ASSERT_EQ(fpu_mem_access(0xdd, 0x30), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xdd, 0x38), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xdf, 0x20), FPU_LOAD);
    ASSERT_EQ(fpu_mem_access(0xdf, 0x30), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xdf, 0x38), FPU_STORE);
    ASSERT_EQ(fpu_mem_access(0xde, 0x38), FPU_LOAD);
    ASSERT_EQ(fpu_mem_access(0xd8, 0xc1), FPU_NONE);
    ASSERT_EQ(fpu_mem_size(0xdb, 0x28, false), 10);
    ASSERT_EQ(fpu_mem_size(0xdf, 0x38, false), 8);
    ASSERT_EQ(fpu_mem_size(0xd9, 0x20, false), 14);
    ASSERT(fpu_is_nowait(0xdb, 0xe3));
    ASSERT(fpu_is_nowait(0xdb, 0xe2));
    ASSERT(fpu_is_nowait(0xdf, 0xe0));
    ASSERT(fpu_is_nowait(0xd9, 0x38));
    ASSERT(fpu_is_nowait(0xd9, 0x30));
    ASSERT(fpu_is_nowait(0xdd, 0x30));
    ASSERT(fpu_is_nowait(0xdd, 0x38));
    ASSERT(!fpu_is_nowait(0xd9, 0x28));
    ASSERT(!fpu_is_nowait(0xdd, 0x20));
    ASSERT(!fpu_is_nowait(0xd8, 0xc0));
    ASSERT_EQ(mmx_mem_size(0x6e), 4);
    ASSERT_EQ(mmx_mem_size(0x7e), 4);
    ASSERT_EQ(mmx_mem_size(0xfc), 8);
    ASSERT_EQ(mmx_mem_size(0x73), 0);
}

/* A masked-off exception leaves the destination alone and is pending; FNCLEX clears it. */
TEST(unmasked_pending)
{
    struct fpu *f = fpu_new();
    uint8_t m[2] = {0x7b, 0x03}; /* FCW 037B: ZE unmasked */
    struct fpu_insn in = {.op = 0xd9, .modrm = 0x28, .op32 = true, .pmode = true};
    ASSERT_EQ(fpu_exec(f, &in, m), FPU_OK);
    in.modrm = 0xe8; /* FLD1 */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    in.modrm = 0xee; /* FLDZ */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    ASSERT(!fpu_pending(f));
    in.op = 0xdc;
    in.modrm = 0xf9; /* FDIV ST(1), ST(0): 1 / 0 */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    ASSERT(fpu_pending(f));
    struct cpu_fpu_state st;
    fpu_get_state(f, &st);
    ASSERT_EQ(st.fsw & 0x80ff, 0x8084);
    unsigned top = (st.fsw >> 11) & 7;
    ASSERT_EQ(get16le(st.st[(top + 1) & 7] + 8), 0x3fff); /* still 1.0 */
    in.op = 0xdb;
    in.modrm = 0xe2;
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    ASSERT(!fpu_pending(f));
    fpu_free(f);
}

/* ---- MMX ---- */

static uint64_t rnd_mm(void)
{
    static const uint64_t edge[] = {0,
                                    ~0ull,
                                    0x8000800080008000ull,
                                    0x7fff7fff7fff7fffull,
                                    0x8080808080808080ull,
                                    0x7f7f7f7f7f7f7f7full,
                                    0x8000000080000000ull,
                                    0x00ff00ff00ff00ffull,
                                    0x0001000100010001ull};
    switch (rndn(4)) {
    case 0:
        return edge[rndn(COUNT(edge))];
    case 1:
        return rnd() & 0x0101010101010101ull * (uint8_t)rnd();
    default:
        return rnd();
    }
}

static void mmx_state(struct cpu_fpu_state *st)
{
    rnd_state(st);
    for (int i = 0; i < 8; i++)
        if (rndn(4)) {
            uint64_t v = rnd_mm();
            memcpy(st->st[i], &v, 8);
        }
}

static void mmx_case(const struct mmx_insn *in, unsigned slot)
{
    struct cpu_fpu_state st;
    mmx_state(&st);
    struct img im;
    to_img(&st, &im);
    static uint8_t mem[8];
    uint64_t v = rnd_mm();
    memcpy(mem, &v, 8);
    uint64_t fl;
    bool gpr_in = in->opcode == 0x6e && in->rm_is_reg;
    void *arg = gpr_in ? (void *)(uintptr_t)v : mem;
    uint64_t rax = slot_fn(slot)(&im, arg, 0x202, &fl);
    struct mmx_insn e = *in;
    e.src = v; /* MOVD must use the low 32 bits only */
    struct fpu *f = fpu_new();
    fpu_set_state(f, &st);
    uint64_t out = 0;
    bool out_valid;
    describe("mmx 0f", in->opcode, in->reg);
    ASSERT_EQ(mmx_exec(f, &e, &out, &out_valid), FPU_OK);
    bool stores = (in->opcode == 0x7e) || (in->opcode == 0x7f && !in->rm_is_reg);
    ASSERT_EQ(out_valid, stores);
    if (in->opcode == 0x7e && in->rm_is_reg)
        ASSERT_EQ(out, rax);
    else if (stores) {
        uint64_t want = 0;
        memcpy(&want, mem, 8);
        if (in->opcode == 0x7e)
            want &= 0xffffffffu;
        ASSERT_EQ(out, want);
    }
    check_against(f, &im, "after MMX");
    fpu_free(f);
}

TEST(mmx)
{
    build_code();
    static const uint8_t ops[] = {
        0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6e, 0x6f, 0x74, 0x75,
        0x76, 0x7e, 0x7f, 0xd1, 0xd2, 0xd3, 0xd5, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xdf, 0xe1, 0xe2, 0xe5,
        0xe8, 0xe9, 0xeb, 0xec, 0xed, 0xef, 0xf1, 0xf2, 0xf3, 0xf5, 0xf8, 0xf9, 0xfa, 0xfc, 0xfd, 0xfe,
    };
    unsigned cases = 0;
    for (unsigned k = 0; k < 400 * SCALE; k++)
        for (size_t i = 0; i < COUNT(ops); i++) {
            struct mmx_insn in = {
                .opcode = ops[i], .reg = (uint8_t)rndn(8), .rm = (uint8_t)rndn(8), .rm_is_reg = rndn(2)};
            mmx_case(&in, mmx_slot(in.opcode, in.reg, in.rm_is_reg ? in.rm : -1));
            cases++;
        }
    fprintf(stderr, "test_fpu: %-14s %7u cases\n", "mmx", cases);
}

TEST(mmx_shift_imm)
{
    build_code();
    static const uint8_t grp[][2] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2},
                                     {0x72, 4}, {0x72, 6}, {0x73, 2}, {0x73, 6}};
    unsigned cases = 0;
    for (unsigned k = 0; k < 1500 * SCALE; k++)
        for (size_t g = 0; g < COUNT(grp); g++) {
            unsigned c = rndn(N_SHIFTCNT), rm = rndn(8);
            struct mmx_insn in = {.opcode = grp[g][0],
                                  .reg = grp[g][1],
                                  .rm = (uint8_t)rm,
                                  .rm_is_reg = true,
                                  .imm = shift_counts[c]};
            mmx_case(&in, mmxi_slot(in.opcode, in.reg, rm, c));
            cases++;
        }
    fprintf(stderr, "test_fpu: %-14s %7u cases\n", "mmx_shift_imm", cases);
}

TEST(emms)
{
    build_code();
    for (unsigned k = 0; k < 500; k++) {
        struct mmx_insn in = {.opcode = 0x77};
        mmx_case(&in, mmx_slot(0x77, 0, -1));
    }
}

TEST(state_roundtrip)
{
    for (unsigned k = 0; k < 1000; k++) {
        struct cpu_fpu_state a, b;
        rnd_state(&a);
        a.fop = (uint16_t)(rnd() & 0x7ff);
        a.fip = (uint32_t)rnd();
        a.fdp = (uint32_t)rnd();
        a.fcs = (uint16_t)rnd();
        a.fds = (uint16_t)rnd();
        struct fpu *f = fpu_new();
        fpu_set_state(f, &a);
        memset(&b, 0, sizeof b);
        fpu_get_state(f, &b);
        ASSERT_MEM_EQ(&a, &b, sizeof a);
        fpu_free(f);
    }
}

/* With IGNNE# (CR0.NE clear) a waiting instruction runs with an exception pending: it must not trap the host.
 */
TEST(runs_with_pending)
{
    uint8_t cw[2] = {0x7b, 0x03}; /* ZE unmasked */
    struct fpu *f = fpu_new(), *g = fpu_new();
    struct fpu_insn in = {.op = 0xd9, .modrm = 0x28, .op32 = true, .pmode = true};
    ASSERT_EQ(fpu_exec(f, &in, cw), FPU_OK);
    ASSERT_EQ(fpu_exec(g, &in, cw), FPU_OK);
    in.modrm = 0xeb; /* FLDPI */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    ASSERT_EQ(fpu_exec(g, &in, NULL), FPU_OK);
    in.modrm = 0xee; /* FLDZ; FDIVR ST(0), ST(1) on f only: pi / 0 */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    in.op = 0xd8;
    in.modrm = 0xf9;
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    ASSERT(fpu_pending(f));
    in.op = 0xd9;
    in.modrm = 0xd8; /* FSTP1 ST(0): drop the zero */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    in.modrm = 0xfa; /* FSQRT on both: the same result, f keeps its pending ZE */
    ASSERT_EQ(fpu_exec(f, &in, NULL), FPU_OK);
    ASSERT_EQ(fpu_exec(g, &in, NULL), FPU_OK);
    struct cpu_fpu_state a, b;
    fpu_get_state(f, &a);
    fpu_get_state(g, &b);
    ASSERT(fpu_pending(f));
    ASSERT_EQ(a.fsw & 0x80ff, 0x80a4); /* B ES PE ZE */
    ASSERT_EQ(b.fsw & 0x80ff, 0x0020);
    unsigned ta = (a.fsw >> 11) & 7, tb = (b.fsw >> 11) & 7;
    ASSERT_EQ(ta, tb);
    ASSERT_MEM_EQ(a.st[ta], b.st[tb], 10);
    fpu_free(f);
    fpu_free(g);
}
