#!/usr/bin/env python3
"""QEMU's text screen for the cross-checks (tests/guest/t_ipxe.sh).

  qemu_screen.py OUT SECONDS REGEX [TYPE REGEX2] -- QEMU-ARGS...
  qemu_screen.py --picture OUT SECONDS -- QEMU-ARGS...

Starts qemu-system-i386 QEMU-ARGS with a monitor socket, reads the VGA text
buffer (0xb8000, 80x25, through the monitor's pmemsave) every half second until
a line matches REGEX; then, if TYPE is given, types it through the monitor's
sendkey (the key names vmplay's send-keys takes) and waits for REGEX2. Writes
the last screen to OUT, stops QEMU, and exits 0 when every wait matched, 1 if
SECONDS passed first. With --picture: the monitor's screendump (PPM, any mode)
every 5 s until three in a row are the same picture, written to OUT.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from control_client import chord  # noqa: E402


QEMU_NAMES = {"enter": "ret", "space": "spc", "grave": "grave_accent"}  # HMP's spellings


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    mine, qargs = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    picture = mine[:1] == ["--picture"]
    if picture:
        mine = mine[1:]
    if len(mine) not in ((2,) if picture else (3, 5)):
        sys.exit(__doc__)
    out, seconds = mine[0], float(mine[1])
    waits = [] if picture else [(None, mine[2])]
    if len(mine) == 5:
        waits.append((mine[3], mine[4]))
    tmp = tempfile.mkdtemp(prefix="qemu-screen.")
    sock, dump = os.path.join(tmp, "mon.sock"), os.path.join(tmp, "text.bin")
    q = subprocess.Popen(["qemu-system-i386", "-monitor", "unix:%s,server,nowait" % sock] + qargs)
    mon = None
    for _ in range(100):
        try:
            mon = socket.socket(socket.AF_UNIX)
            mon.connect(sock)
            break
        except OSError:
            mon = None
            time.sleep(0.1)
    if mon is None:
        q.kill()
        sys.exit("qemu_screen: no monitor socket")
    mon.settimeout(0.2)

    def hmp(cmd):
        mon.sendall((cmd + "\n").encode())
        time.sleep(0.2)
        try:
            while mon.recv(65536):
                pass
        except OSError:
            pass

    def screen():
        if os.path.exists(dump):
            os.unlink(dump)
        hmp('pmemsave 0xb8000 4000 "%s"' % dump)
        for _ in range(20):
            if os.path.exists(dump) and os.path.getsize(dump) == 4000:
                break
            time.sleep(0.05)
        try:
            d = open(dump, "rb").read()
        except OSError:
            return ""
        rows = [bytes(d[r * 160 + i * 2] for i in range(80)).decode("cp437").rstrip()
                for r in range(len(d) // 160)]
        return "\n".join(rows) + "\n"

    end = time.monotonic() + seconds
    text, status = "", 0
    if picture:
        shot, last, same, status = os.path.join(tmp, "shot.ppm"), None, 0, 1
        while time.monotonic() < end and q.poll() is None:
            time.sleep(5)
            hmp('screendump "%s"' % shot)
            try:
                now = open(shot, "rb").read()
            except OSError:
                continue
            same = same + 1 if now == last else 0
            last = now
            if same >= 2:
                status = 0
                break
        if last is not None:
            open(out, "wb").write(last)
        if os.path.exists(shot):
            os.unlink(shot)
    for typed, pattern in waits:
        if typed is not None:
            for ch in typed:
                hmp("sendkey " + "-".join(QEMU_NAMES.get(k, k) for k in chord(ch).split("-")))
        rx = re.compile(pattern, re.M)
        while True:
            text = screen()
            if rx.search(text):
                break
            if time.monotonic() >= end or q.poll() is not None:
                status = 1
                break
            time.sleep(0.5)
        if status:
            break
    if not picture:
        with open(out, "w") as f:
            f.write(text)
    hmp("quit")
    try:
        q.wait(10)
    except subprocess.TimeoutExpired:
        q.kill()
    for f in (sock, dump):
        if os.path.exists(f):
            os.unlink(f)
    os.rmdir(tmp)
    sys.exit(status)


if __name__ == "__main__":
    main()
