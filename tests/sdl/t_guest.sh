#!/usr/bin/env bash
# The player's SDL window with the real demo appliance under Xvfb (issue 6):
# typing into the guest's shell on tty1 reaches it (its output appears on the
# serial file), the X server's picture of the window equals vmplay's own PNG
# of the same moment (SIGUSR1), a click grabs and Ctrl+Alt releases, closing
# the window shuts the guest down through ACPI (exit status 0), and --kiosk
# ignores the close request and restarts a guest that powers off.
# SKIPs (visibly) until the player boots the appliance headless.
set -u
. tests/sdl/lib.sh
A=sdl-guest
ok() { echo "PASS $A/$1"; }
bad() { echo "FAIL $A/$1: $2"; }
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
XCLOSE=$SDL_TOOLS/xclose
[ -x "$V" ] || { echo "SKIP $A/all: no player at $V"; exit 0; }
[ -x tests/images/appliance.sh ] || { echo "SKIP $A/all: no tests/images/appliance.sh"; exit 0; }
[ -x "$XCLOSE" ] || { echo "SKIP $A/all: $XCLOSE not built (make sdl-tools)"; exit 0; }
img=$(tests/images/appliance.sh 2>/dev/null) || { echo "SKIP $A/all: the appliance did not build"; exit 0; }
run=$BUILD/sdl/guest
rm -rf "$run"; mkdir -p "$run"
cp -r --sparse=always "$img"/. "$run"/

# Does the player boot a guest at all? The test appliance, headless, to its power-off.
timeout 300 "$V" --headless --timeout=240 "$run/test.vmx" >"$run/probe.out" 2>&1
if ! grep -qa 'VMPLAY-MARKER' "$run/test-serial.txt" 2>/dev/null; then
    echo "SKIP $A/all: the player does not boot the appliance yet"
    exit 0
fi
xvfb_start $A || exit 0

stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# --- the demo in a window ---
"$V" --screenshot="$run/shot.png" "$run/demo.vmx" >"$run/demo.out" 2>&1 &
PID=$!
if WIN=$(wait_window "vmplay" 30) && wait_for "$run/demo-serial.txt" "VMPLAY-MARKER: ready" 300; then
    sleep 2
    xdotool windowfocus --sync "$WIN" 2>/dev/null
    xdotool type --delay 40 "echo typed-$$-ok > /dev/ttyS0"
    xdotool key Return
    wait_for "$run/demo-serial.txt" "typed-$$-ok" 30 && ok typed_command_runs \
        || bad typed_command_runs "no typed-$$-ok on the serial file"
    d=$(shot_matches $PID "$WIN" "$run/shot.png" "$run")
    [ "$d" = 0 ] && ok x_screen_equals_png || bad x_screen_equals_png "differing pixels: $d"
    read -r w h x y <<<"$(geometry "$WIN")"
    xdotool mousemove $((x + w / 2)) $((y + h / 2)) click 1
    sleep 0.5
    t1=$(xdotool getwindowname "$WIN")
    xdotool key ctrl+alt
    sleep 0.5
    t2=$(xdotool getwindowname "$WIN")
    case "$t1|$t2" in
    *"Ctrl+Alt to release"*"|"*) case "$t2" in *release*) bad grab_release "still grabbed: $t2" ;; *) ok grab_release ;; esac ;;
    *) bad grab_release "click did not grab: $t1" ;;
    esac
    "$XCLOSE" "$WIN"
    for _ in $(seq 600); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
    if kill -0 $PID 2>/dev/null; then
        bad close_shuts_down "still running 60 s after the close"; stop $PID
    else
        wait $PID; rc=$?
        [ $rc = 0 ] && ok close_shuts_down || bad close_shuts_down "exit status $rc"
    fi
else
    bad demo_window "no window or no ready marker: $(tail -3 "$run/demo.out" | tr '\n' ' ')"; stop $PID
fi

# --- kiosk: close ignored, the guest restarted after its power-off ---
rm -f "$run/test-serial.txt"
"$V" --kiosk "$run/test.vmx" >"$run/kiosk.out" 2>&1 &
PID=$!
if WIN=$(wait_window "vmplay" 30); then
    "$XCLOSE" "$WIN"
    last=$(tail -1 tests/guest/expected/test-markers.txt 2>/dev/null | cut -c1-30)
    wait_for "$run/test-serial.txt" "${last:-VMPLAY-MARKER}" 300
    sleep 15
    kill -0 $PID 2>/dev/null && ok kiosk_survives_close_and_poweroff \
        || bad kiosk_survives_close_and_poweroff "exited: $(tail -2 "$run/kiosk.out" | tr '\n' ' ')"
    kill -TERM $PID
    for _ in $(seq 600); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
    if kill -0 $PID 2>/dev/null; then bad kiosk_sigterm "still running"; stop $PID; else wait $PID; ok kiosk_sigterm; fi
else
    bad kiosk_window "no window"; stop $PID
fi
exit 0
