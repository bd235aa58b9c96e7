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
# reset, the keyboard controller's reset commands) or ends the run (debug exit);
# nor the keyboard controller's A20 gate off (commands D1 and DD): the guest
# runs at 0xFFFFxxxx, where A20 off sends its next fetch to nothing.
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


# Whole command sequences for one device (ops 16..20 of hostile.asm): the
# function is picked by its ID, the registers by offset inside one BAR, the
# rings, queues and tables are laid out in the pool as the device's driver
# would, then filled with plausible or random entries, so that the checks
# deep inside each controller's command path are reached, not only its
# register decoding.
def dev_id(vendor, device):
    return vendor | device << 16


def pool_region(r, nbytes, align):
    """A pool address for nbytes aligned to align."""
    align = max(align, 4)
    top = POOL + 4 * POOL_WORDS - nbytes
    a = (POOL + r.randrange(top - POOL)) // align * align
    a = max(a, (POOL + align - 1) // align * align)
    return a


def put(seq, addr, v):
    """A pool word at addr (kept inside the pool)."""
    w = (addr - POOL) // 4
    if 0 <= w < POOL_WORDS:
        seq.append((12, 0, w, v & 0xFFFFFFFF))


def rd(seq, off):
    seq.append((20, 0, off, 0))


def wr(seq, off, v, size=4):
    seq.append((16 + size.bit_length(), 0, off, v & 0xFFFFFFFF))  # 1 -> 17, 2 -> 18, 4 -> 19


def buffer(r, nbytes):
    """A DMA buffer: mostly in the pool, sometimes anywhere."""
    if r.random() < 0.85:
        return pool_region(r, min(nbytes, 0x8000), 4 if r.random() < 0.3 else 512)
    return value(r) & ~1


def ahci_seq(r):
    seq = [(16, 5, 0, dev_id(0x15AD, 0x07E0))]
    wr(seq, 0x04, 0x80000000 | (2 if r.random() < 0.5 else 0))
    port = r.randrange(2) if r.random() < 0.9 else r.randrange(32)
    pb = 0x100 + port * 0x80
    wr(seq, pb + 0x18, 0)                                     # stop the port first
    clb = pool_region(r, 1024, 1024)
    fb = pool_region(r, 256, 256)
    wr(seq, pb + 0x00, clb); wr(seq, pb + 0x04, 0 if r.random() < 0.95 else value(r))
    wr(seq, pb + 0x08, fb); wr(seq, pb + 0x0C, 0)
    slots = 0
    for _ in range(r.randrange(1, 4)):
        slot = r.randrange(32)
        slots |= 1 << slot
        ctba = pool_region(r, 0x80 + 16 * 8, 128)
        nprd = r.randrange(0, 5)
        cmd = r.choice([0x25, 0x35, 0xC8, 0xCA, 0x60, 0x61, 0xEC, 0xE7, 0xEA, 0xA0, 0xA1, 0xEF,
                        0x20, 0x30, 0x24, 0x34, r.getrandbits(8)])
        write = cmd in (0x35, 0xCA, 0x61, 0x30, 0x34)
        put(seq, clb + slot * 32, 5 | (0x40 if write else 0) | (0x20 if cmd == 0xA0 else 0) |
            (r.getrandbits(4) << 7 if r.random() < 0.1 else 0) | nprd << 16)
        put(seq, clb + slot * 32 + 4, 0)
        put(seq, clb + slot * 32 + 8, ctba if r.random() < 0.95 else value(r))
        put(seq, clb + slot * 32 + 12, 0)
        lba = r.getrandbits(15) if r.random() < 0.9 else r.getrandbits(32)
        count = r.choice([1, 1, 2, 8, 16, 128, 0, r.getrandbits(16)])
        put(seq, ctba, 0x27 | 0x80 << 8 | cmd << 16 | (count & 0xFF if cmd in (0x60, 0x61) else r.getrandbits(8) if r.random() < 0.2 else 0) << 24)
        put(seq, ctba + 4, (lba & 0xFFFFFF) | 0x40 << 24)
        put(seq, ctba + 8, lba >> 24 & 0xFF)
        put(seq, ctba + 12, (count if cmd not in (0x60, 0x61) else slot << 3) & 0xFFFF)
        if cmd == 0xA0:                                      # the ATAPI packet
            cdb = r.choice([[0x28, 0, 0, 0, 0, r.getrandbits(4), 0, 0, r.choice([1, 2, 16]), 0],
                            [0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0], [0x25], [0x46, 0, 0, 0, 0, 0, 0, 0x10, 0],
                            [0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], [0xBD], [0x1B, 0, 0, 0, 2],
                            [r.getrandbits(8) for _ in range(12)]])
            cdb = (cdb + [0] * 16)[:16]
            for i in range(4):
                put(seq, ctba + 0x40 + 4 * i, int.from_bytes(bytes(cdb[4 * i:4 * i + 4]), 'little'))
        for i in range(nprd):
            n = r.choice([512, 2048, 4096, 0x10000, r.getrandbits(22) + 1])
            put(seq, ctba + 0x80 + 16 * i, buffer(r, n))
            put(seq, ctba + 0x84 + 16 * i, 0)
            put(seq, ctba + 0x8C + 16 * i, (n - 1) & 0x3FFFFF | (0x80000000 if r.random() < 0.5 else 0))
    wr(seq, pb + 0x14, value(r) if r.random() < 0.2 else 0x7D0000FF)
    wr(seq, pb + 0x30, 0xFFFFFFFF)
    if r.random() < 0.3:
        wr(seq, pb + 0x34, slots)                            # NCQ tags
    wr(seq, pb + 0x18, 0x11 if r.random() < 0.9 else value(r))
    wr(seq, pb + 0x38, slots)
    seq.append((13, 0, 0, r.randrange(100, 5000)))
    rd(seq, pb + 0x38); rd(seq, pb + 0x20)
    wr(seq, pb + 0x10, 0xFFFFFFFF); wr(seq, 0x08, 0xFFFFFFFF)
    return seq


def nvme_sqe(r, seq, addr, opc, cid, nsid, prp1, prp2, cdw):
    put(seq, addr, opc | cid << 16)
    put(seq, addr + 4, nsid)
    put(seq, addr + 24, prp1); put(seq, addr + 28, 0)
    put(seq, addr + 32, prp2); put(seq, addr + 36, 0)
    for i, v in enumerate(cdw):
        put(seq, addr + 40 + 4 * i, v)


def nvme_seq(r):
    seq = [(16, 0, 0, dev_id(0x15AD, 0x07F0))]
    if r.random() < 0.5:                                     # a fresh controller: disable, admin queues, enable
        wr(seq, 0x14, 0)
        seq.append((13, 0, 0, 200))
        asq_n, acq_n = r.choice([2, 4, 16, 64]), r.choice([2, 4, 16, 64])
        asq = pool_region(r, 64 * asq_n, 4096)
        acq = pool_region(r, 16 * acq_n, 4096)
        wr(seq, 0x24, (acq_n - 1) << 16 | (asq_n - 1))
        wr(seq, 0x28, asq); wr(seq, 0x2C, 0)
        wr(seq, 0x30, acq); wr(seq, 0x34, 0)
        wr(seq, 0x14, 1 | 6 << 16 | 4 << 20 if r.random() < 0.9 else value(r))
        seq.append((13, 0, 0, 200))
        tail = 0
        for _ in range(r.randrange(1, min(asq_n, 6))):
            opc = r.choice([0x06, 0x06, 0x05, 0x01, 0x09, 0x0A, 0x02, 0x00, 0x04, 0x08, r.getrandbits(8)])
            qid = r.choice([1, 1, 2, r.getrandbits(16)])
            q = pool_region(r, 4096, 4096)
            qsize = r.choice([2, 16, 64, r.getrandbits(16)])
            cdw = {0x06: [r.choice([0, 1, 2, 3, r.getrandbits(8)])],
                   0x05: [(qsize - 1) << 16 | qid, 1 | (2 if r.random() < 0.5 else 0)],
                   0x01: [(qsize - 1) << 16 | qid, r.choice([1, 2, qid]) << 16 | 1],
                   0x09: [r.choice([7, 8, 2, r.getrandbits(8)]), value(r)],
                   0x0A: [r.choice([7, 8, 2, r.getrandbits(8)])],
                   0x02: [r.choice([1, 2, 3]) | r.getrandbits(12) << 16]}.get(opc, [value(r) for _ in range(6)])
            nvme_sqe(r, seq, asq + 64 * tail, opc, r.getrandbits(16), r.choice([0, 1, 1, 0xFFFFFFFF, 2]),
                     q if opc in (0x05, 0x01) else buffer(r, 4096), buffer(r, 4096), cdw)
            tail = (tail + 1) % asq_n
        wr(seq, 0x1000, tail if r.random() < 0.9 else r.getrandbits(16))
        seq.append((13, 0, 0, 500))
        wr(seq, 0x1004, r.randrange(acq_n))
    else:                                                    # I/O on whatever queue 1 the generator made before
        sq = pool_region(r, 64 * 4, 4096)
        for i in range(r.randrange(1, 4)):
            opc = r.choice([0x02, 0x01, 0x00, 0x02, r.getrandbits(8)])
            nlb = r.choice([0, 1, 7, 255, r.getrandbits(16)])
            nvme_sqe(r, seq, sq + 64 * i, opc, r.getrandbits(16), r.choice([1, 1, 0, 2]),
                     buffer(r, 4096), buffer(r, 4096),
                     [r.getrandbits(15), 0, nlb])
        wr(seq, 0x1008, r.randrange(1, 16)); seq.append((13, 0, 0, 500)); wr(seq, 0x100C, r.randrange(16))
    rd(seq, 0x1C)
    return seq


def pvscsi_seq(r):
    seq = [(16, 0, 0, dev_id(0x15AD, 0x07C0))]
    nreq, ncmp = r.choice([1, 1, 2]), 1
    rs = pool_region(r, 4096, 4096)
    req = [pool_region(r, 4096, 4096) for _ in range(nreq)]
    cmp = [pool_region(r, 4096, 4096) for _ in range(ncmp)]
    words = [nreq if r.random() < 0.95 else r.getrandbits(8), ncmp, rs >> 12, 0]
    words += sum(([a >> 12, 0] for a in req), []) + [0, 0] * (32 - nreq)
    words += sum(([a >> 12, 0] for a in cmp), []) + [0, 0] * (32 - ncmp)
    wr(seq, 0x0, 3)                                           # SETUP_RINGS and its 132 words
    for w in words:
        wr(seq, 0x4, w)
    rd(seq, 0x8)
    n = r.randrange(1, 5)
    for i in range(n):
        d = req[0] + 128 * (i % 32)
        length = r.choice([0, 512, 4096, 0x10000, r.getrandbits(20)])
        put(seq, d + 8, buffer(r, length)); put(seq, d + 12, 0)
        put(seq, d + 16, length); put(seq, d + 20, 0)
        put(seq, d + 24, buffer(r, 64)); put(seq, d + 28, 0)
        put(seq, d + 32, r.choice([0, 18, 96, 255]))
        put(seq, d + 36, r.choice([0x8, 0x10, 0x4, 0x1 | 0x8, r.getrandbits(8)]))
        op = r.choice([0x28, 0x2A, 0x08, 0x0A, 0x88, 0x8A, 0x12, 0x00, 0x25, 0x9E, 0x35, 0x1A, 0x5A, 0x03, 0xA0, 0x43, r.getrandbits(8)])
        cdb = [op, 0, 0, 0, r.getrandbits(6), r.getrandbits(8), 0, 0, r.choice([1, 8, 0, 255]), 0] + [r.getrandbits(8) * (r.random() < 0.1) for _ in range(6)]
        for k in range(4):
            put(seq, d + 40 + 4 * k, int.from_bytes(bytes(cdb[4 * k:4 * k + 4]), 'little'))
        put(seq, d + 56, r.choice([6, 10, 12, 16, r.getrandbits(8)]) | (r.choice([0, 0, 1]) << 16))  # cdbLen, lun[1]
        put(seq, d + 64, (r.choice([0, 1, 0, r.getrandbits(8)]) << 24))                          # target
    put(seq, rs, n)
    wr(seq, r.choice([0x4018, 0x3014]), 0)
    seq.append((13, 0, 0, 500))
    rd(seq, 0x100C); wr(seq, 0x100C, 0xFFFFFFFF)
    return seq


def e1000_seq(r):
    dev = r.choice([0x100F, 0x10D3])
    seq = [(16, 0, 0, dev_id(0x8086, dev))]
    ring = pool_region(r, 16 * 16, 128)
    n = r.choice([8, 16])
    rx = r.random() < 0.4
    base = 0x2800 if rx else 0x3800
    wr(seq, base + 0, ring); wr(seq, base + 4, 0)
    wr(seq, base + 8, 16 * n if r.random() < 0.9 else value(r))
    wr(seq, base + 0x10, 0)
    for i in range(r.randrange(1, n)):
        d = ring + 16 * i
        length = r.choice([60, 64, 1514, 9000, 0, r.getrandbits(16)])
        put(seq, d, buffer(r, length)); put(seq, d + 4, 0)
        if rx:
            put(seq, d + 8, 0); put(seq, d + 12, 0)
        else:
            dext = r.random() < 0.3
            cmd = r.choice([0x0B, 0x09, 0x01, 0x2B, 0x29, r.getrandbits(8)]) | (0x20 if dext else 0)
            put(seq, d + 8, length & 0xFFFF | (r.choice([0, 1, 0x10]) if dext else 0) << 20 | cmd << 24)
            put(seq, d + 12, value(r) if r.random() < 0.3 else 0)
    if rx:
        wr(seq, 0x100, 0x2 | 0x8000 | (r.getrandbits(32) if r.random() < 0.1 else 0))
        wr(seq, 0x2818, r.randrange(n))
    else:
        wr(seq, 0x400, 0x2 | 0x8 | (r.getrandbits(32) if r.random() < 0.1 else 0))
        wr(seq, 0x3818, r.randrange(n) if r.random() < 0.9 else r.getrandbits(16))
    seq.append((13, 0, 0, 500))
    rd(seq, 0xC0)
    return seq


def mpt_seq(r):
    """The doorbell handshake with a message (IOC init, port facts, random),
    then request frames in the pool posted to the request FIFO."""
    seq = [(16, 1, 0, dev_id(0x1000, r.choice([0x0030, 0x0054])))]
    msg = r.choice([[0x02 << 24 | 0, 0, 0x200 << 16, 0, 0, 0] , [0x03 << 24], [0x05 << 24], [value(r) for _ in range(r.randrange(1, 8))]])
    wr(seq, 0x00, 0x42 << 24 | len(msg) << 16)               # handshake: function, words
    for w in msg:
        wr(seq, 0x00, w)
    for _ in range(r.randrange(0, 8)):
        rd(seq, 0x00); wr(seq, 0x30, 0)
    for _ in range(r.randrange(1, 4)):
        f = pool_region(r, 128, 16)
        length = r.choice([0, 512, 4096, r.getrandbits(20)])
        put(seq, f, r.choice([0, 0, 1]) | 0 << 8 | r.choice([0, 0, 0, 0x10]) << 16 | 0x00 << 24)  # target, bus, chain, function 0 (SCSI IO)
        put(seq, f + 4, r.choice([6, 10, 16]) | (r.choice([0, 18, 32])) << 8)                  # CDB length, sense length
        put(seq, f + 8, r.getrandbits(32)); put(seq, f + 12, r.getrandbits(32))
        put(seq, f + 20, r.choice([0x01000000, 0x02000000, 0]))                             # control: direction
        cdb = [r.choice([0x28, 0x2A, 0x12, 0x00, 0x25, 0x35, 0xA0, r.getrandbits(8)]), 0, 0, 0, r.getrandbits(6), 0, 0, 0, r.choice([1, 8]), 0, 0, 0]
        for k in range(4):
            put(seq, f + 32 + 4 * k, int.from_bytes(bytes((cdb + [0] * 4)[4 * k:4 * k + 4]), 'little'))
        put(seq, f + 48, length)
        put(seq, f + 52, buffer(r, 64))
        put(seq, f + 56, 0xD1000000 | length & 0xFFFFFF)                                     # a simple SGE, last
        put(seq, f + 60, buffer(r, length))
        wr(seq, 0x40, f)
    seq.append((13, 0, 0, 500))
    rd(seq, 0x44); wr(seq, 0x30, 0)
    return seq


def backdoor_seq(r):
    """VMware backdoor calls: the simple commands with random arguments, the VMMouse
    protocol, and an RPC exchange (open RPCI or TCLO, a message of the tools' kind or
    random bytes sent four at a time, sizes right or wrong, the reply read, close) on the
    channel and cookies the open returned, sometimes on a wrong channel or cookie."""
    seq = []

    def call(cmd, ebx=0, esi=0, edi=0, sel=0):
        w = r.randrange(POOL_WORDS - 16) & ~15
        for i, v in enumerate((ebx, esi, edi)):
            seq.append((12, 0, w + i, v & 0xFFFFFFFF))
        seq.append((21, sel, w, cmd & 0xFFFFFFFF))
    for _ in range(r.randrange(0, 6)):
        call(r.choice([10, 20, 23, 46, 45, 68, 86, 39, 40, 41, 12, r.getrandbits(16), r.getrandbits(32)]),
             r.choice([0, 1, 4, 0x45414552, 0xF5, 0x4C455252, 0x53424152, value(r)]), value(r), value(r),
             r.choice([0, 0, 1, r.getrandbits(7)]))
    proto = r.choice([0x49435052, 0x4F4C4354, r.getrandbits(31)])
    call(30, proto | (0x80000000 if r.random() < 0.9 else 0))
    text = r.choice([b"info-get guestinfo.ci.marker", b"tools.set.version 2147483647",
                     b"tools.capability.resolution_set 1", b"log hello", b"tools.os.statechange.status 1 1",
                     b"", bytes(r.getrandbits(8) for _ in range(r.randrange(1, 80)))])
    size = len(text) if r.random() < 0.8 else r.choice([0, 1, 0xFFFF, 0x10000, r.getrandbits(32)])
    ours = 0x80 if r.random() < 0.9 else r.getrandbits(8)
    call(0x0001001E, size, sel=ours)
    for i in range(0, min(len(text) + r.choice([0, 0, 4, 8]), 96), 4):
        call(0x0002001E, int.from_bytes(text[i:i + 4].ljust(4, b"\0"), "little"), sel=ours)
    call(0x0003001E, sel=ours)
    for _ in range(r.randrange(0, 24)):
        call(0x0004001E, 1, sel=ours)
    call(0x0005001E, 1, sel=ours)
    if r.random() < 0.8:
        call(0x0006001E, sel=ours)
    return seq


def svga_seq(r):
    """SVGA II: the ID and a mode through the index/value ports (BAR0), then FIFO commands
    in BAR2 between MIN and MAX, made visible through NEXT_CMD, CONFIG_DONE and SYNC."""
    did = dev_id(0x15AD, 0x0405)
    seq = [(16, 0, 0, did)]

    def reg(i, v):
        wr(seq, 0, i); wr(seq, 1, v)
    reg(0, r.choice([0x90000002, 0x90000001, value(r)]))
    reg(2, r.choice([640, 800, 1024, 2560, 0, 0xFFFF, value(r)]))
    reg(3, r.choice([480, 600, 768, 1600, 0, 0xFFFF, value(r)]))
    reg(7, r.choice([32, 24, 16, 8, value(r)]))
    if r.random() < 0.3:
        reg(r.randrange(0x480), value(r))                    # any register, scratch and palette too
    reg(1, r.choice([1, 1, 3, 0, value(r)]))
    seq.append((16, 2, 0, did))
    lo = r.choice([291 * 4, 291 * 4, 293 * 4, 16, 0, r.getrandbits(18)]) & ~3
    hi = (r.choice([0x10000, 0x8000, lo + 64, lo, r.getrandbits(20)]) if r.random() < 0.3 else 0x10000) & ~3
    wr(seq, 0, lo); wr(seq, 4, hi); wr(seq, 12, lo)
    words = []
    for _ in range(r.randrange(1, 6)):
        cmd = r.choice([1, 3, 2, 19, 22, 30, 31, 32, r.getrandbits(8)])
        args = {1: 4, 3: 6, 2: 5, 30: 1, 19: 7, 22: 6}.get(cmd, r.randrange(8))
        words.append(cmd)
        words += [r.choice([0, 1, 16, 640, 0xFFFF, value(r)]) for _ in range(args)]
        if cmd in (19, 22):                                  # cursor images: a few words of them
            words += [r.getrandbits(32) for _ in range(r.randrange(0, 16))]
    start = lo if lo + 4 * len(words) < 0x10000 else 64
    for i, w in enumerate(words):
        wr(seq, start + 4 * i, w)
    wr(seq, 8, (start + 4 * len(words) if r.random() < 0.8 else r.choice([hi, value(r)])) & 0xFFFFFFFF)
    seq.append((16, 0, 0, did))
    reg(20, 1)
    reg(21, 1)
    wr(seq, 0, 22); rd(seq, 1)
    return seq


STRUCTURED = [ahci_seq, nvme_seq, pvscsi_seq, e1000_seq, mpt_seq, backdoor_seq, svga_seq]


def ops(r, n):
    out = []
    while len(out) < n:
        k = r.random()
        if k < 0.22:                                         # port write
            p, size, v = port(r), r.randrange(3), value(r)
            touched = range(p, p + (1, 2, 4)[size])          # a wide write reaches the next ports
            if any(q in FORBIDDEN for q in touched):
                continue
            if 0x64 in touched and ((v >> 8 * (0x64 - p) & 0xFF) >= 0xF0 or  # pulse the reset line,
                                    (v >> 8 * (0x64 - p) & 0xFF) in (0xD1, 0xDD)):  # write the output port, A20 off
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
            v = value(r)
            if 0x10 <= reg < 0x28 or reg == 0x30:
                # A BAR (or the ROM BAR) moves inside the PCI hole only: one placed
                # over the ROM the guest runs from, or over its stack, stops the
                # guest itself (as on hardware or QEMU, where a BAR wins over the
                # BIOS), which would hide what the device does next.
                v = 0xC0000000 | (r.getrandbits(29) & ~0xF) | (v & 1 if reg == 0x30 else 0)
            out.append((2, 0, 0xCF8, 0x80000000 | dev << 11 | fn << 8 | reg))
            out.append((r.randrange(3), 0, 0xCFC, v))
        elif k < 0.65:                                       # inside a BAR
            off = r.randrange(0x400) if r.random() < 0.7 else r.getrandbits(16)
            out.append((6 + r.randrange(6) if r.random() < 0.4 else 8, r.getrandbits(8), off & ~3 if r.random() < 0.8 else off, value(r)))
        elif k < 0.75:                                       # an ATA command, DMA through the pool
            out.extend(ata_command(r))
        elif k < 0.80:                                       # a whole command sequence for one controller or NIC
            out.extend(r.choice(STRUCTURED)(r))
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
