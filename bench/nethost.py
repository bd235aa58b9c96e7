#!/usr/bin/env python3
"""The host side of the network bench and flood test (bench/net.sh,
tests/guest/t_netflood.sh). Only 127.0.0.1 is ever bound or contacted.

  sink PORT NBYTES OUT          accept one TCP connection, read NBYTES (or to EOF), close;
                                OUT gets "bytes seconds" (first byte to last)
  source PORT NBYTES OUT        accept one TCP connection, send NBYTES of zeros, close; same OUT
  drain PORT                    accept TCP connections on PORT one after the other, read and
                                discard; on SIGTERM print the bytes read
  udpblast PORT SERIAL MARK SECONDS
                                once SERIAL holds MARK, send datagrams to 127.0.0.1:PORT for SECONDS
  rss PID RAM_KB OUT            every 0.25 s until PID exits: "seconds kB" of PID's resident
                                memory outside its guest-RAM mapping (the one of RAM_KB kB)
"""
import os, signal, socket, sys, time

COUNT = [None]


def on_term(*_):
    if COUNT[0] is not None:
        print(COUNT[0], flush=True)
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


def sink(port, nbytes, out):
    c, _ = listen(port).accept()
    got, t0 = 0, None
    while got < nbytes:
        b = c.recv(min(1 << 20, nbytes - got))
        if not b:
            break
        if t0 is None:
            t0 = time.monotonic()
        got += len(b)
    t1 = time.monotonic()
    c.close()
    with open(out, "w") as f:
        f.write("%d %.6f\n" % (got, t1 - (t0 or t1)))


def source(port, nbytes, out):
    c, _ = listen(port).accept()
    buf = bytes(1 << 16)
    sent, t0 = 0, time.monotonic()
    while sent < nbytes:
        sent += c.send(buf[: min(len(buf), nbytes - sent)])
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):  # until the guest has read it all and closed
        pass
    t1 = time.monotonic()
    c.close()
    with open(out, "w") as f:
        f.write("%d %.6f\n" % (sent, t1 - t0))


def drain(port):
    ls = listen(port)
    COUNT[0] = 0
    while True:
        c, _ = ls.accept()
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            COUNT[0] += len(b)
        c.close()


def udpsink(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(1)
    COUNT[0], end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.recv(65536)
            COUNT[0] += 1
        except socket.timeout:
            pass
    on_term()


def udpblast(port, serial, mark, seconds):
    while True:
        try:
            with open(serial, "rb") as f:
                if mark.encode() in f.read():
                    break
        except OSError:
            pass
        time.sleep(0.2)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    buf = bytes(1400)
    end, COUNT[0] = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        try:
            s.sendto(buf, ("127.0.0.1", port))
            COUNT[0] += 1
        except OSError:
            time.sleep(0.001)
    on_term()


def rss_outside(pid, ram_kb):
    total, size, found = 0, 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            k = line.split()
            if not k[0].endswith(":"):
                continue
            if k[0] == "Size:":
                size = int(k[1])
            elif k[0] == "Rss:":
                if size != ram_kb:
                    total += int(k[1])
                else:
                    found = True
    return total if found else -1


def player(pid):
    """PID itself, or its only child when PID is a wrapper (timeout, nice)."""
    for _ in range(40):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "vmplay":
                    return pid
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                pid = int(kids[0])
                continue
        except OSError:
            return pid
        time.sleep(0.05)
    return pid


def rss(pid, ram_kb, out):
    t0 = time.monotonic()
    pid = player(pid)
    with open(out, "w") as f:
        while True:
            try:
                kb = rss_outside(pid, ram_kb)
            except (OSError, ValueError, IndexError):
                break
            if kb < 0 and time.monotonic() - t0 > 5:
                break  # the player is exiting
            f.write("%.2f %d\n" % (time.monotonic() - t0, kb))
            f.flush()
            time.sleep(0.25)


cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "sink":
    sink(int(a[0]), int(a[1]), a[2])
elif cmd == "source":
    source(int(a[0]), int(a[1]), a[2])
elif cmd == "drain":
    drain(int(a[0]))
elif cmd == "udpsink":
    udpsink(int(a[0]), float(a[1]))
elif cmd == "udpblast":
    udpblast(int(a[0]), a[1], a[2], float(a[3]))
elif cmd == "rss":
    rss(int(a[0]), int(a[1]), a[2])
else:
    sys.exit(__doc__)
