#!/usr/bin/env bash
# VMware's tools devices in the player's window under Xvfb, with the appliance's vmport
# mode (its Linux binds psmouse's VMMouse; /modes/vmtools behaves as vmtoolsd towards the
# host and says it can set the screen size). Oracles:
# - the pointer moved into the window by the X server reaches the guest's evdev device as
#   absolute coordinates over the picture (window point / window size * 0xFFFF, within 1%);
# - no grab: a click while the guest drives the absolute pointer leaves the window title
#   without its grab hint, and the pointer then leaves the window where the X server put
#   it (a grab would confine it to the window);
# - the user resizing the window reaches the tools as "Resolution_Set W H" with the
#   window's new size (open-vm-tools' resolutionSet command);
# - closing the window shuts the guest down through its tools (OS_Halt), status 0.
set -u
. tests/sdl/lib.sh
A=sdl-vmware
ok() { echo "PASS $A/$1"; }
bad() { echo "FAIL $A/$1: $2"; }
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
XCLOSE=$SDL_TOOLS/xclose
[ -x "$XCLOSE" ] || { echo "SKIP $A/all: $XCLOSE not built (make sdl-tools)"; exit 0; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/sdl/vmware
rm -rf "$run"; mkdir -p "$run"
cp "$img/vmport.vmdk" "$run/"
# The VM of the appliance's vmport mode, as VMware writes one (tests/guest/vmport.vmx).
sed 's/@NAME@/vmplay tools window/' tests/guest/vmport.vmx > "$run/vmware.vmx"
xvfb_start $A || exit 0
s=$run/serial.txt
marker() { tr -d '\r' < "$s" 2>/dev/null | sed -n "s/^VMPLAY-MARKER: $1//p" | head -1; }

(cd "$run" && exec timeout 900 "$V" --cpu=soft --timeout=600 vmware.vmx >out.txt 2>err.txt) &
PID=$!
if ! WIN=$(wait_window "vmplay tools window" 60); then
    bad window "no window: $(head -c 300 "$run/err.txt")"; kill $PID 2>/dev/null; exit 0
fi
if ! wait_for "$s" "VMPLAY-MARKER: pointer wait" 400; then
    bad boot "no pointer wait marker: $(tail -c 300 "$s" | tr -d '\r' | tr '\n' '|')"
    kill $PID 2>/dev/null; exit 0
fi
read -r ww wh wx wy < <(geometry "$WIN")
px=$((ww / 4)) py=$((wh * 3 / 4))
xdotool mousemove --window "$WIN" $px $py
wait_for "$s" "VMPLAY-MARKER: pointer x=" 60
got=$(marker "pointer x=")
ex=$((px * 65535 / ww)) ey=$((py * 65535 / wh))
if [[ "$got" =~ ^([0-9]+)\ y=([0-9]+)$ ]] &&
    [ $(( (BASH_REMATCH[1] - ex) * (BASH_REMATCH[1] - ex) )) -le 430000 ] &&
    [ $(( (BASH_REMATCH[2] - ey) * (BASH_REMATCH[2] - ey) )) -le 430000 ]; then
    ok absolute_pointer_over_the_picture
else
    bad absolute_pointer_over_the_picture "guest read x='$got', expected about x=$ex y=$ey (window ${ww}x$wh, point $px,$py)"
fi
xdotool click 1
sleep 1
title=$(xdotool getwindowname "$WIN")
ox=$((wx + ww + 40)) oy=$((wy + wh + 40))
xdotool mousemove $ox $oy
sleep 0.5
loc=$(xdotool getmouselocation --shell | tr '\n' ' ')
if [[ "$title" != *"to release"* ]] && [[ "$loc" == *"X=$ox Y=$oy "* ]]; then
    ok no_grab_pointer_leaves_the_window
else
    bad no_grab_pointer_leaves_the_window "title '$title', pointer at '$loc' (sent to $ox,$oy)"
fi
if wait_for "$s" "VMPLAY-MARKER: tools polling" 120; then
    xdotool windowsize "$WIN" 800 600
    if wait_for "$s" "VMPLAY-MARKER: tools Resolution_Set 800 600" 30; then
        ok guest_tools_get_the_window_size
    else
        bad guest_tools_get_the_window_size "tools saw: $(tr -d '\r' < "$s" | grep 'MARKER: tools' | tr '\n' '|')"
    fi
    "$XCLOSE" "$WIN"
else
    bad guest_tools_get_the_window_size "no tools polling marker"
fi
for _ in $(seq 600); do kill -0 $PID 2>/dev/null || break; sleep 0.2; done
kill $PID 2>/dev/null
wait $PID; st=$?
if [ "$st" = 0 ] && tr -d '\r' < "$s" | grep -qx 'VMPLAY-MARKER: tools OS_Halt'; then
    ok close_shuts_down_through_tools
else
    bad close_shuts_down_through_tools "status $st, tools: $(tr -d '\r' < "$s" | grep 'MARKER: tools' | tr '\n' '|') err: $(head -c 200 "$run/err.txt")"
fi
