#!/usr/bin/env python3
"""A small RFB 3.8 client (RFC 6143) for the VNC tests: no Debian VNC client
captures losslessly, so this one speaks the published protocol itself.

  vnc_client.py [--password PW] PORT capture OUT.ppm   full-screen capture, raw encoding
  vnc_client.py [--password PW] PORT type TEXT         types TEXT (US layout keysyms, Shift
                                                       for upper case and shifted symbols)
  vnc_client.py [--password PW] PORT key KEYSYM...     presses and releases each keysym (hex)
  vnc_client.py PORT security                          prints the offered security types
  vnc_client.py --png-equal A.png B.ppm                exit 0 when the pixels are equal

Exit status: 0 done, 2 authentication refused, 1 anything else. Connects to
127.0.0.1 only.
"""
import socket
import struct
import sys
import zlib


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("the server closed the connection")
        b += c
    return b


def des_encrypt(key8, block):
    """VNC authentication: DES (FIPS 46-3) with each key byte's bits reversed."""
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in key8)
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # K1 = K2 = K3: plain DES
    return enc.update(block) + enc.finalize()


class AuthRefused(Exception):
    pass


def connect(port, password):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    ver = recvn(s, 12)
    if not ver.startswith(b"RFB 003."):
        raise RuntimeError(f"not an RFB server: {ver!r}")
    s.sendall(b"RFB 003.008\n")
    n = recvn(s, 1)[0]
    if n == 0:
        ln = struct.unpack(">I", recvn(s, 4))[0]
        raise RuntimeError("refused: " + recvn(s, ln).decode(errors="replace"))
    types = list(recvn(s, n))
    if password is None:
        if 1 not in types:
            raise AuthRefused(f"the server wants authentication (types {types})")
        s.sendall(b"\x01")
    else:
        if 2 not in types:
            raise RuntimeError(f"no VNC authentication offered (types {types})")
        s.sendall(b"\x02")
        challenge = recvn(s, 16)
        key = password.encode()[:8].ljust(8, b"\0")
        s.sendall(des_encrypt(key, challenge))
    result = struct.unpack(">I", recvn(s, 4))[0]
    if result != 0:
        try:
            ln = struct.unpack(">I", recvn(s, 4))[0]
            why = recvn(s, ln).decode(errors="replace")
        except (EOFError, OSError):
            why = ""
        raise AuthRefused(f"security result {result} {why}")
    s.sendall(b"\x01")  # ClientInit: shared
    w, h = struct.unpack(">HH", recvn(s, 4))
    recvn(s, 16)  # the server's pixel format
    ln = struct.unpack(">I", recvn(s, 4))[0]
    name = recvn(s, ln)
    return s, w, h, name, types


def capture(s, w, h):
    # SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 255 each, R<<16 G<<8 B<<0.
    s.sendall(struct.pack(">BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
    s.sendall(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: raw only
    s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))  # full, non-incremental
    fb = bytearray(w * h * 4)
    covered = 0
    while covered < w * h:
        t = recvn(s, 1)[0]
        if t == 2:  # Bell
            continue
        if t == 3:  # ServerCutText
            recvn(s, 3)
            recvn(s, struct.unpack(">I", recvn(s, 4))[0])
            continue
        if t != 0:
            raise RuntimeError(f"unexpected server message {t}")
        recvn(s, 1)
        nrect = struct.unpack(">H", recvn(s, 2))[0]
        for _ in range(nrect):
            x, y, rw, rh, enc = struct.unpack(">HHHHi", recvn(s, 12))
            if enc != 0:
                raise RuntimeError(f"encoding {enc} sent though only raw was asked for")
            data = recvn(s, rw * rh * 4)
            for r in range(rh):
                o = ((y + r) * w + x) * 4
                fb[o:o + rw * 4] = data[r * rw * 4:(r + 1) * rw * 4]
            covered += rw * rh
    return fb


SHIFTED = {c: b for b, c in zip("`1234567890-=[]\\;',./", "~!@#$%^&*()_+{}|:\"<>?")}
SHIFT_L = 0xFFE1


def key(s, sym, down):
    s.sendall(struct.pack(">BBxxI", 4, 1 if down else 0, sym))


def type_text(s, text):
    for ch in text:
        shift = ch.isupper() or ch in SHIFTED
        if shift:
            key(s, SHIFT_L, True)
        key(s, ord(ch), True)
        key(s, ord(ch), False)
        if shift:
            key(s, SHIFT_L, False)


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise RuntimeError(f"{path}: not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise RuntimeError(f"{path}: PNG depth {depth} colour type {ctype} interlace {interlace}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        for x in range(w):
            out += line[x * bpp:x * bpp + 3]
        prev = line
    return w, h, bytes(out)


def read_ppm(path):
    data = open(path, "rb").read()
    parts = data.split(b"\n", 3)
    w, h = map(int, parts[1].split())
    return w, h, parts[3]


def main(argv):
    if argv[:1] == ["--png-equal"]:
        a, b = read_png(argv[1]), read_ppm(argv[2])
        if a[:2] != b[:2]:
            print(f"sizes differ: {a[0]}x{a[1]} and {b[0]}x{b[1]}")
            return 1
        diff = sum(1 for i in range(0, len(a[2]), 3) if a[2][i:i + 3] != b[2][i:i + 3])
        print(f"{a[0]}x{a[1]}, {diff} pixels differ")
        return 0 if diff == 0 else 1
    password = None
    if argv[:1] == ["--password"]:
        password, argv = argv[1], argv[2:]
    port, cmd, args = int(argv[0]), argv[1], argv[2:]
    if cmd == "security":
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        recvn(s, 12)
        s.sendall(b"RFB 003.008\n")
        n = recvn(s, 1)[0]
        print(" ".join(str(t) for t in recvn(s, n)))
        return 0
    try:
        s, w, h, name, _ = connect(port, password)
    except AuthRefused as e:
        print(f"refused: {e}")
        return 2
    if cmd == "capture":
        fb = capture(s, w, h)
        rgb = bytearray(w * h * 3)
        for i in range(w * h):
            p = struct.unpack_from("<I", fb, i * 4)[0]
            rgb[i * 3:i * 3 + 3] = bytes((p >> 16 & 255, p >> 8 & 255, p & 255))
        with open(args[0], "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (w, h) + bytes(rgb))
        print(f"{w}x{h} {name.decode(errors='replace')}")
    elif cmd == "type":
        type_text(s, " ".join(args))
    elif cmd == "key":
        for a in args:
            key(s, int(a, 16), True)
            key(s, int(a, 16), False)
    else:
        raise SystemExit(f"unknown command {cmd}")
    # A capture round trip makes sure the server handled every message before we leave.
    if cmd != "capture":
        capture(s, w, h)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
