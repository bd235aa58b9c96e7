#!/usr/bin/env bash
# The control socket (--control) against the demo appliance on the software core.
# Oracles: the socket file's mode; a stale socket file replaced, a live one
# refused (status 75) and a plain file left alone (status 73); the robustness
# battery of control_client.py (bad JSON, unknown commands, oversized and
# partial lines, several clients, clients that leave or never read) with the
# player answering after each; the guest's shell on screen-text; keys typed
# through send-keys echoed by that shell (shift chords included); pause: the
# instruction count, guest time and screen stand still, keys sent meanwhile
# are typed after continue; the screenshot command's PNG byte-equal to the
# --screenshot file written on SIGUSR1 at the same (paused) moment;
# ctrl-alt-delete reboots the guest (the kernel says so on serial, SeaBIOS
# says "Booting from Hard Disk" a second time on the debug port, one reset in
# status); power-button, once the new kernel has ACPI on, ends the run with
# status 0 and the socket file is gone. The appliance has no ACPI button driver, so the guest's ACPI
# is on but not armed for the button ("power-button":"power-off" in status)
# and the player powers off itself, as it does for SIGTERM.
set -u
cd "${TOP:-.}"
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest/control_$1"; }
bad() { echo "FAIL guest/control_$1: $2"; }
skip() { echo "SKIP guest/control_$1: $2"; }

command -v python3 >/dev/null || { skip all "python3 is not installed (tools/deps/check-control.txt)"; exit 0; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
run=$BUILD/guest/control
rm -rf "$run"; mkdir -p "$run/vm" "$run/other"
cp "$img/demo.vmx" "$img/demo.vmdk" "$run/vm/"
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/other/"
# A short folder: a Unix socket's path has at most 107 bytes.
sockdir=$(mktemp -d /tmp/vmplay-control.XXXXXX)
sock=$sockdir/ctl.sock
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$sockdir"
}
trap cleanup EXIT
ctl() { python3 tests/guest/control_client.py "$sock" "$@"; }
req() { # command [arguments-json] -> the reply line
    if [ $# -gt 1 ]; then ctl "{\"execute\":\"$1\",\"arguments\":$2}"; else ctl "{\"execute\":\"$1\"}"; fi
}
field() { # name: a number or string field of the reply on stdin
    sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}
text() { req screen-text | python3 -c 'import json,sys; print(json.load(sys.stdin)["return"]["text"], end="")'; }
keys() { # chord... -> one send-keys request typing them in turn
    local list
    list=$(printf '"%s",' "$@")
    req send-keys "{\"keys\":[${list%,}]}"
}
wait_screen() { # grep-pattern seconds
    local i
    for i in $(seq "$2"); do
        text 2>/dev/null | grep -q -- "$1" && return 0
        sleep 1
    done
    return 1
}
boots() { grep -ac 'Booting from Hard Disk' "$run/vm/debugcon.txt" 2>/dev/null; }

# Anything but a socket at the path is left alone (status 73).
echo keep > "$sockdir/plain"
(cd "$run/other" && "$V" --headless --cpu=soft --control="$sockdir/plain" test.vmx >/dev/null 2>"$run/plain.err")
rc=$?
[ $rc = 73 ] && [ "$(cat "$sockdir/plain")" = keep ] && [ "$(wc -l < "$run/plain.err")" = 1 ] &&
    ok plain_file_refused || bad plain_file_refused "status $rc: $(head -c 200 "$run/plain.err")"

# A stale socket file (its player was killed) does not block the start.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$sock"
[ -S "$sock" ] || bad stale_socket "could not make a stale socket file"
(cd "$run/vm" && exec "$V" --headless --cpu=soft --timeout=400 --control="$sock" \
    --screenshot=shot.png --debugcon=debugcon.txt demo.vmx >stdout.txt 2>stderr.txt) &
PID=$!
for _ in $(seq 100); do ctl '{"execute":"status"}' >/dev/null 2>&1 && break; sleep 0.1; done
st=$(req status 2>&1)
case "$st" in *'"status":"running"'*'"cpu":"soft"'*) ok stale_socket_replaced; ok status ;;
*) bad status "no status reply: $st $(head -c 200 "$run/vm/stderr.txt")"; exit 0 ;;
esac
mode=$(stat -c %a "$sock")
[ "$mode" = 600 ] && ok socket_mode_0600 || bad socket_mode_0600 "mode $mode"

# A second player (another VM) on the same socket path is refused; the first goes on.
(cd "$run/other" && timeout 60 "$V" --headless --cpu=soft --control="$sock" test.vmx >/dev/null 2>"$run/live.err")
rc=$?
if [ $rc = 75 ] && [ "$(wc -l < "$run/live.err")" = 1 ] && req status | grep -q '"return"'; then
    ok live_socket_refused
else
    bad live_socket_refused "status $rc: $(head -c 200 "$run/live.err")"
fi

ctl --protocol

# The guest's shell on the VGA console.
if wait_screen 'VMPLAY-MARKER: ready' 200 && wait_screen '^/ #' 30; then ok screen_text
else bad screen_text "no shell on the screen: $(text | grep -v '^$' | tail -3 | tr '\n' '|')"; fi

keys e c h o space c t l minus shift-4 shift-9 shift-9 6 shift-8 7 shift-0 shift-0 enter >/dev/null
if wait_screen '^ctl-42$' 20; then ok send_keys_typed
else bad send_keys_typed "the shell did not print ctl-42: $(text | grep -v '^$' | tail -3 | tr '\n' '|')"; fi

# Paused: nothing runs; keys wait in the keyboard until continue.
req pause >/dev/null
a=$(req status)
screen0=$(text)
keys e c h o space p a u s e d enter >/dev/null
sleep 2
b=$(req status)
screen1=$(text)
if echo "$a" | grep -q '"status":"paused"' && [ "$(echo "$a" | field instructions)" = "$(echo "$b" | field instructions)" ] &&
    [ "$(echo "$a" | field guest-time)" = "$(echo "$b" | field guest-time)" ] && [ "$screen0" = "$screen1" ]; then
    ok pause_stops_guest
else
    bad pause_stops_guest "before $a after $b"
fi

# The screenshot command and --screenshot (SIGUSR1) of the same paused frame.
rm -f "$run/vm/shot.png"
shot=$(req screenshot "{\"file\":\"$run/ctl.png\"}")
kill -USR1 "$PID"
for _ in $(seq 100); do [ -s "$run/vm/shot.png" ] && break; sleep 0.1; done
if echo "$shot" | grep -q '"width":720,"height":400' && cmp -s "$run/ctl.png" "$run/vm/shot.png"; then
    ok screenshot_equals_screenshot_option
else
    bad screenshot_equals_screenshot_option "reply $shot; $(cmp "$run/ctl.png" "$run/vm/shot.png" 2>&1)"
fi

req continue >/dev/null
sleep 1
c=$(req status)
if echo "$c" | grep -q '"status":"running"' &&
    [ "$(echo "$c" | field instructions)" -gt "$(echo "$b" | field instructions)" ]; then
    ok continue_runs_guest
else
    bad continue_runs_guest "paused $b, then $c"
fi
wait_screen '^paused$' 20 && ok keys_typed_after_continue ||
    bad keys_typed_after_continue "no 'paused' line: $(text | grep -v '^$' | tail -3 | tr '\n' '|')"

# Ctrl+Alt+Del: the kernel restarts the machine, the firmware starts again.
n0=$(boots)
keys ctrl-alt-delete >/dev/null
for _ in $(seq 600); do [ "$(boots)" -gt "$n0" ] && break; sleep 0.1; done
r=$(req status)
if [ "$n0" = 1 ] && [ "$(boots)" = 2 ] && [ "$(echo "$r" | field resets)" = 1 ] &&
    grep -aq 'reboot: Restarting system' "$run/vm/demo-serial.txt"; then
    ok ctrl_alt_del_reboots
else
    bad ctrl_alt_del_reboots "SeaBIOS boots $n0 then $(boots); $r; serial: $(tail -c 200 "$run/vm/demo-serial.txt" | tr '\n' '|')"
fi

# The power button, once the rebooted kernel has ACPI on.
for _ in $(seq 120); do req status | grep -q '"acpi":true' && break; sleep 1; done
req power-button >/dev/null
for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then
    bad power_button_exits "still running 30 s after the power button"
else
    wait "$PID"
    rc=$?
    PID=
    [ $rc = 0 ] && ok power_button_exits || bad power_button_exits "status $rc: $(head -c 200 "$run/vm/stderr.txt")"
fi
[ ! -e "$sock" ] && ok socket_removed_at_exit || bad socket_removed_at_exit "$sock is still there"
