#!/usr/bin/env python3
"""The hostile guest's operations for one seed (see hostile.asm): writes
OUT, the assembled ROM TEMPLATE with its operation table filled in.
   gen.py TEMPLATE OUT SEED [NOPS]"""
import random
import struct
import sys

TABLE = 0xE000
POOL, POOL_WORDS = 0x10000, 0x10000  # the RAM the ROM fills (256 KiB)

# Ports of the board's devices: DMA, PIC, PIT, keyboard, RTC, page registers,
# second PIC and DMA, IDE, floppy, serial, VGA, ELCR, fw_cfg (and its DMA
# interface), PCI configuration, the debug consoles.
PORTS = (list(range(0x00, 0x10)) + [0x20, 0x21, 0x40, 0x41, 0x42, 0x43, 0x60, 0x61, 0x70, 0x71] +
         list(range(0x80, 0x90)) + [0xA0, 0xA1] + list(range(0xC0, 0xE0, 2)) +
         list(range(0x1F0, 0x1F8)) + [0x3F6, 0x376] + list(range(0x170, 0x178)) +
         list(range(0x3F0, 0x3F8)) + list(range(0x3F8, 0x400)) + list(range(0x2F8, 0x300)) +
         list(range(0x3B0, 0x3E0)) + [0x4D0, 0x4D1, 0x510, 0x511, 0x514, 0x518, 0xB2, 0xB3, 0x402, 0xE9])
# Never written: what resets or powers off the machine (reset control, fast
# reset, the keyboard controller's reset commands) or ends the run (debug exit).
FORBIDDEN = {0xCF9, 0x92, 0xF4}


def value(r):
    k = r.random()
    if k < 0.45:
        return POOL + 4 * r.randrange(POOL_WORDS)          # an address in the pool
    if k < 0.70:
        return r.choice([0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 64, 255, 256, 4096, 0xFFFF])
    if k < 0.80:
        return r.choice([0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFEE00000, 0xFFFFF000, 0xC0000000])
    return r.getrandbits(32)


def port(r):
    while True:
        p = r.choice(PORTS) if r.random() < 0.8 else r.getrandbits(16)
        if p not in FORBIDDEN:
            return p


BMIDE = 0xC000  # PIIX3 IDE's bus-master BAR: the first I/O BAR the ROM hands out (device 1.1)
ATA_CMDS = [0x20, 0x24, 0x30, 0x34, 0xC4, 0xC5, 0xC6, 0xC8, 0xCA, 0x25, 0x35, 0x3D, 0x61, 0x60,
            0xE7, 0xEA, 0xEC, 0xA1, 0xA0, 0xEF, 0x91, 0x40, 0x42, 0xF8, 0x27, 0xB0, 0x06, 0xFF]


def ata_command(r):
    """A plausible ATA command on a random channel and drive: registers, a PRD
    table in the pool (entries pointing into the pool or anywhere), the
    command, then the bus-master start in a random direction."""
    base, bm = (0x1F0, BMIDE) if r.random() < 0.6 else (0x170, BMIDE + 8)
    prd = r.randrange(POOL_WORDS - 64) & ~1
    cmd = r.choice(ATA_CMDS)
    seq = []
    for i in range(r.randrange(1, 5)):                       # PRD entries: address, count | EOT
        seq.append((12, 0, prd + 2 * i, value(r) & ~1))
        seq.append((12, 0, prd + 2 * i + 1, r.choice([0, 512, 4096, 0x10000, r.getrandbits(16)]) |
                    (0x80000000 if r.random() < 0.7 else 0)))
    seq += [(2, 0, bm + 4, POOL + 4 * prd),
            (0, 0, base + 2, r.choice([1, 1, 2, 8, 16, 0, r.getrandbits(8)])),
            (0, 0, base + 3, r.getrandbits(8)),                  # LBA: mostly inside the 16 MiB disks
            (0, 0, base + 4, r.getrandbits(7) if r.random() < 0.8 else r.getrandbits(8)),
            (0, 0, base + 5, r.getrandbits(8) if r.random() < 0.1 else 0),
            (0, 0, base + 6, 0xE0 | (0x10 if r.random() < 0.2 else 0) |
             (r.getrandbits(4) if r.random() < 0.1 else 0)),
            (0, 0, base + 7, cmd)]
    writes = cmd in (0xCA, 0x35, 0x3D, 0x61, 0xC5, 0x30, 0x34)
    to_memory = (not writes) if r.random() < 0.8 else writes  # the direction the command wants, mostly
    seq.append((0, 0, bm, 1 | (8 if to_memory else 0)))
    if r.random() < 0.3:                                     # PIO data out
        seq += [(1, 0, base, r.getrandbits(16)) for _ in range(r.randrange(1, 64))]
    seq.append((13, 0, 0, r.randrange(100, 5000)))
    return seq


def ops(r, n):
    out = []
    while len(out) < n:
        k = r.random()
        if k < 0.22:                                         # port write
            p, size, v = port(r), r.randrange(3), value(r)
            touched = range(p, p + (1, 2, 4)[size])          # a wide write reaches the next ports
            if any(q in FORBIDDEN for q in touched):
                continue
            if 0x64 in touched and (v >> 8 * (0x64 - p) & 0xFF) >= 0xF0:  # pulse the reset line
                continue
            out.append((size, 0, p, v))
        elif k < 0.30:                                       # port read
            out.append((3 + r.randrange(3), 0, port(r), 0))
        elif k < 0.40:                                       # PCI configuration
            dev = r.randrange(1, 32)
            fn = r.randrange(8) if r.random() < 0.3 else 0
            reg = r.randrange(0, 256, 4)
            if 0x10 <= reg < 0x28 and r.random() < 0.9:      # BARs: mostly left where they are
                reg = r.choice([0x04, 0x0C, 0x3C, 0x40, 0x44, 0x48, 0x50, 0x60, 0x70, 0x80])
            if dev == 1 and fn == 3 and reg in (0x40, 0x80):  # the PM function's I/O base
                continue
            out.append((2, 0, 0xCF8, 0x80000000 | dev << 11 | fn << 8 | reg))
            out.append((r.randrange(3), 0, 0xCFC, value(r)))
        elif k < 0.65:                                       # inside a BAR
            off = r.randrange(0x400) if r.random() < 0.7 else r.getrandbits(16)
            out.append((6 + r.randrange(6) if r.random() < 0.4 else 8, r.getrandbits(8), off & ~3 if r.random() < 0.8 else off, value(r)))
        elif k < 0.75:                                       # an ATA command, DMA through the pool
            out.extend(ata_command(r))
        elif k < 0.92:                                       # RAM pool (rings, descriptors)
            out.append((12, 0, r.randrange(POOL_WORDS), value(r)))
        elif k < 0.95:
            out.append((14, 0, r.getrandbits(16), r.getrandbits(16)))
        elif k < 0.97:
            out.append((15, 0, r.randrange(0x40), value(r)))
        else:
            out.append((13, 0, 0, r.randrange(1, 20000)))
    return out[:n]


def main():
    tpl, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
    n = min(n, TABLE // 8 - 1)
    rom = bytearray(open(tpl, 'rb').read())
    r = random.Random(seed)
    table = b''.join(struct.pack('<BBHI', t, s, o & 0xFFFF, v & 0xFFFFFFFF) for t, s, o, v in ops(r, n))
    rom[0:len(table)] = table
    rom[len(table)] = 0xFF
    open(dst, 'wb').write(rom)


main()
