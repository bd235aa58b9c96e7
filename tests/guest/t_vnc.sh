#!/usr/bin/env bash
# The VNC display (issue 22), with tests/guest/vnc_client.py as the client (an
# RFB 3.8 client after RFC 6143: Debian's vncsnapshot saves lossy JPEG only).
# Oracles, on a stand-in ROM (no guest boot): --vnc=PORT offers security type
# None, listens on 127.0.0.1 and on no other address or IPv6 (/proc/net/tcp*);
# a bad --vnc is a usage error (64), a port in use one line and status 69.
# On the demo appliance (one boot, RemoteDisplay.vnc.enabled/.port/.password in
# its .vmx): only VNC authentication is offered; no password and a wrong one
# are refused, the .vmx's one (DES challenge, RFC 6143 7.2.2) is let in; keys
# typed through VNC (Shift chords included) run in the guest's shell and its
# output is on the guest's screen; with the guest paused, the VNC capture
# equals the --screenshot PNG written on SIGUSR1, pixel for pixel.
set -u
cd "${TOP:-.}"
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest/vnc_$1${2:+ $2}"; }
bad() { echo "FAIL guest/vnc_$1: $2"; }
skip() { echo "SKIP guest/vnc_$1: $2"; }

command -v python3 >/dev/null || { skip all "python3 is not installed (tools/deps/check-vnc.txt)"; exit 0; }
python3 -c 'import cryptography' 2>/dev/null || { skip all "python3-cryptography is not installed (DES for VNC authentication)"; exit 0; }
vc() { python3 tests/guest/vnc_client.py "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# listeners PORT: every local address listening on PORT, from /proc/net/tcp and tcp6
listeners() {
    python3 - "$1" <<'PY'
import sys
port = int(sys.argv[1])
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(f).read().splitlines()[1:]
    except OSError:
        continue
    for l in lines:
        local, st = l.split()[1], l.split()[3]
        addr, p = local.split(":")
        if st == "0A" and int(p, 16) == port:
            if len(addr) == 8:
                print(".".join(str(b) for b in bytes.fromhex(addr)[::-1]))
            else:
                print("ipv6:" + addr)
PY
}
wait_listen() { # port pid
    for _ in $(seq 300); do
        [ -n "$(listeners "$1")" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
run=$BUILD/guest/vnc
rm -rf "$run"; mkdir -p "$run/rom" "$run/vm"
PID=
sockdir=$(mktemp -d /tmp/vmplay-vnc.XXXXXX)
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$sockdir"
}
trap cleanup EXIT

# ---- the stand-in ROM: options, security None, loopback only ----
. tests/cli/lib.sh
spin_vm "$run/rom"
(cd "$run/rom" && "$V" --headless --cpu=soft --bios=spin.bin --vnc=0:x rom.vmx >/dev/null 2>bad.err)
rc=$?
[ $rc = 64 ] && [ "$(wc -l < "$run/rom/bad.err")" = 1 ] && ok bad_option_usage ||
    bad bad_option_usage "status $rc: $(head -c 200 "$run/rom/bad.err")"
port=$(free_port)
(cd "$run/rom" && exec "$V" --headless --cpu=soft --bios=spin.bin --timeout=120 --vnc="$port" rom.vmx >/dev/null 2>rom.err) &
PID=$!
if ! wait_listen "$port" $PID; then
    bad listen "nothing listens on $port: $(head -c 300 "$run/rom/rom.err")"
else
    l=$(listeners "$port" | sort -u | tr '\n' ' ')
    [ "$l" = "127.0.0.1 " ] && ok loopback_only "(listening: $l)" || bad loopback_only "listening on: $l"
    sec=$(vc "$port" security 2>&1)
    [ "$sec" = 1 ] && ok no_password_security_none || bad no_password_security_none "offered: $sec"
    out=$(vc "$port" capture "$run/rom/c.ppm" 2>&1)
    case "$out" in [0-9]*x[0-9]*) ok connect "($out)" ;; *) bad connect "$out" ;; esac
    # A second player on the same port: one line, 69.
    (cd "$run/rom" && cp rom.vmx rom2.vmx && timeout 60 "$V" --headless --cpu=soft --bios=spin.bin --vnc="$port" rom2.vmx >/dev/null 2>inuse.err)
    rc=$?
    [ $rc = 69 ] && [ "$(wc -l < "$run/rom/inuse.err")" = 1 ] && ok port_in_use ||
        bad port_in_use "status $rc: $(head -c 300 "$run/rom/inuse.err")"
fi
kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; PID=

# ---- the appliance: password from the .vmx, keys, capture = screenshot ----
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
cp "$img/demo.vmdk" "$run/vm/"
port=$(free_port)
pw=vmplay42
{ cat "$img/demo.vmx"; printf 'RemoteDisplay.vnc.enabled = "TRUE"\nRemoteDisplay.vnc.port = "%s"\nRemoteDisplay.vnc.password = "%s"\n' "$port" "$pw"; } > "$run/vm/demo.vmx"
sock=$sockdir/ctl.sock
ctl() { python3 tests/guest/control_client.py "$sock" "$@"; }
text() { ctl '{"execute":"screen-text"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["return"]["text"], end="")'; }
wait_screen() { # grep-pattern seconds
    for _ in $(seq "$2"); do text 2>/dev/null | grep -q -- "$1" && return 0; sleep 1; done
    return 1
}
(cd "$run/vm" && exec "$V" --headless --cpu=soft --timeout=600 --control="$sock" --screenshot=shot.png \
    demo.vmx >stdout.txt 2>stderr.txt) &
PID=$!
if ! wait_listen "$port" $PID; then
    bad vmx_listen "nothing listens on $port: $(head -c 300 "$run/vm/stderr.txt")"
    exit 0
fi
l=$(listeners "$port" | sort -u | tr '\n' ' ')
sec=$(vc "$port" security 2>&1)
[ "$sec" = 2 ] && [ "$l" = "127.0.0.1 " ] && ok vmx_password_security "(offered: $sec; listening: $l)" ||
    bad vmx_password_security "offered: $sec; listening: $l"
vc "$port" capture "$run/none.ppm" >"$run/none.out" 2>&1; rc1=$?
vc --password wrong-pw "$port" capture "$run/wrong.ppm" >"$run/wrong.out" 2>&1; rc2=$?
vc --password "$pw" "$port" capture "$run/right.ppm" >"$run/right.out" 2>&1; rc3=$?
if [ $rc1 = 2 ] && [ $rc2 = 2 ] && [ $rc3 = 0 ] && [ ! -e "$run/none.ppm" ] && [ ! -e "$run/wrong.ppm" ]; then
    ok password_required
else
    bad password_required "no password: $rc1 $(cat "$run/none.out"); wrong: $rc2 $(cat "$run/wrong.out"); right: $rc3 $(cat "$run/right.out")"
fi

if wait_screen '^/ #' 400; then
    vc --password "$pw" "$port" type 'echo VNC-$((6*7))-ok' && vc --password "$pw" "$port" key ff0d
    if wait_screen '^VNC-42-ok$' 30; then ok keys_reach_guest
    else bad keys_reach_guest "the shell did not print VNC-42-ok: $(text | grep -v '^$' | tail -3 | tr '\n' '|')"; fi
    ctl '{"execute":"pause"}' >/dev/null
    sleep 1
    rm -f "$run/vm/shot.png"
    vc --password "$pw" "$port" capture "$run/cap1.ppm" >/dev/null 2>&1
    kill -USR1 $PID
    for _ in $(seq 100); do [ -s "$run/vm/shot.png" ] && break; sleep 0.1; done
    sleep 0.5
    vc --password "$pw" "$port" capture "$run/cap2.ppm" >/dev/null 2>&1
    r1=$(vc --png-equal "$run/vm/shot.png" "$run/cap1.ppm" 2>&1); e1=$?
    r2=$(vc --png-equal "$run/vm/shot.png" "$run/cap2.ppm" 2>&1); e2=$?
    if [ $e1 = 0 ] && [ $e2 = 0 ]; then ok capture_equals_screenshot "($r1)"
    else bad capture_equals_screenshot "before SIGUSR1: $r1; after: $r2"; fi
    ctl '{"execute":"continue"}' >/dev/null
else
    bad shell "no shell on the screen: $(text | grep -v '^$' | tail -3 | tr '\n' '|')"
fi
kill -TERM $PID 2>/dev/null
for _ in $(seq 300); do kill -0 $PID 2>/dev/null || break; sleep 0.2; done
kill -TERM $PID 2>/dev/null
wait $PID 2>/dev/null
PID=
exit 0
