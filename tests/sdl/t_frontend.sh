#!/usr/bin/env bash
# The SDL front end in a real window under Xvfb, driven by xdotool, with a
# stand-in machine (tests/sdl/fe_driver.c: the real VGA in text mode, the
# input queue logged to a file). Oracles: the event log (USB HID usages of
# the keys typed, exactly one power-button per close), the VGA text
# readback, the X server's own picture of the window against the front
# end's PNG of the same frame (identical pixels at 1:1), window titles and
# geometry, and the main thread's CPU time while the screen is idle.
set -u
. tests/sdl/lib.sh
A=sdl
ok() { echo "PASS $A/$1${3:+ ($3)}"; }
bad() { echo "FAIL $A/$1: $2"; }
DRIVER=$SDL_TOOLS/fe_driver
XCLOSE=$SDL_TOOLS/xclose
[ -x "$DRIVER" ] && [ -x "$XCLOSE" ] || { echo "SKIP $A/frontend: $DRIVER not built (make sdl-tools)"; exit 0; }
xvfb_start $A || exit 0
run=${BUILD:-build}/sdl/frontend
rm -rf "$run"; mkdir -p "$run"

start() { # name args... -> sets PID, WIN (each run has its own window title)
    "$DRIVER" "$run/$1.log" --title="fe-$1" "${@:2}" 2>"$run/$1.err" &
    PID=$!
    WIN=$(wait_window "^fe-$1 " 30) && wait_for "$run/$1.log" ready 30 && return 0
    WHY="$(kill -0 $PID 2>/dev/null && echo running || echo exited), window '${WIN:-none}', log '$(head -c 80 "$run/$1.log" 2>/dev/null | tr '\n' ' ')', windows: $(xdotool search --name . getwindowname %@ 2>/dev/null | tr '\n' ',' | head -c 200), err: $(head -c 300 "$run/$1.err" | tr '\n' ' ')"
    return 1
}

finish() { # wait for the driver to exit by itself; returns its status or 124
    local i
    for i in $(seq 100); do
        kill -0 $PID 2>/dev/null || { wait $PID; return $?; }
        sleep 0.1
    done
    kill $PID 2>/dev/null; wait $PID 2>/dev/null
    return 124
}

# --- typing, screenshot, close ---
if start main --screenshot="$run/shot.png" --text="$run/main.txt"; then
    xdotool windowfocus --sync "$WIN" 2>/dev/null
    xdotool type --delay 20 "hello 42"
    xdotool key Return
    if wait_for "$run/main.log" "key 0x28 up" 5; then
        want="key 0xb down|key 0x8 down|key 0xf down|key 0xf down|key 0x12 down|key 0x2c down|key 0x21 down|key 0x1f down|key 0x28 down"
        got=$(grep ' down$' "$run/main.log" | grep -v 'key 0xe1' | tr '\n' '|' | sed 's/|$//')
        [ "$got" = "$want" ] && ok typing_hid_usages || bad typing_hid_usages "got $got"
    else
        bad typing_hid_usages "no Return in the log"
    fi
    xdotool key ctrl+alt+Insert
    sleep 0.3
    grep -q 'key 0x4c down' "$run/main.log" && ! grep -q 'key 0x49 ' "$run/main.log" \
        && ok ctrl_alt_insert_is_delete || bad ctrl_alt_insert_is_delete "$(tail -6 "$run/main.log" | tr '\n' '|')"
    d=$(shot_matches $PID "$WIN" "$run/shot.png" "$run")
    case $d in
    0) ok x_screen_equals_png ;;
    none) bad x_screen_equals_png "SIGUSR1 wrote no screenshot" ;;
    *) bad x_screen_equals_png "$d pixels differ" ;;
    esac
    # focus loss releases what the guest holds
    xdotool keydown shift
    sleep 0.2
    "$XCLOSE" --unfocus
    sleep 0.3
    grep -q 'key 0xe1 up' "$run/main.log" && ok focus_loss_releases_keys || bad focus_loss_releases_keys "shift still down"
    xdotool keyup shift
    xdotool windowfocus --sync "$WIN" 2>/dev/null
    "$XCLOSE" "$WIN"
    finish; rc=$?
    n=$(grep -c '^power-' "$run/main.log")
    [ $rc = 0 ] && [ "$n" = 1 ] && grep -q '^power-button' "$run/main.log" \
        && ok close_presses_power_button || bad close_presses_power_button "status $rc, $(grep '^power' "$run/main.log" | tr '\n' ' ')"
    sed -n 3p "$run/main.txt" | grep -qx '> hello 42' && ok text_readback || bad text_readback "$(sed -n 3p "$run/main.txt")"
else
    bad window "no window: $(cat "$run/main.err")"
    kill $PID 2>/dev/null
fi

# title_within WIN PATTERN: the window's title once it matches the glob
# PATTERN, or its last title after 5 s (a busy X server can take longer
# than a fixed pause to deliver the click).
title_within() {
    local t i
    for i in $(seq 50); do
        t=$(xdotool getwindowname "$1")
        # shellcheck disable=SC2254
        case "$t" in $2) break ;; esac
        sleep 0.1
    done
    printf '%s' "$t"
}

# --- grab and release, title, second close powers off ---
if start grab --ignore-power-button; then
    read -r w h x y <<<"$(geometry "$WIN")"
    xdotool mousemove $((x + w / 2)) $((y + h / 2)) click 1
    t1=$(title_within "$WIN" '*"Ctrl+Alt to release"*')
    xdotool mousemove_relative -- 20 10
    sleep 0.3
    xdotool key ctrl+alt
    t2=$(title_within "$WIN" 'fe-grab - vmplay')
    case "$t1|$t2" in
    *"Ctrl+Alt to release"*"|fe-grab - vmplay") ok grab_and_release ;;
    *) bad grab_and_release "titles '$t1' then '$t2'" ;;
    esac
    grep -q '^rel ' "$run/grab.log" && ok grabbed_relative_motion || bad grabbed_relative_motion "no relative motion logged"
    "$XCLOSE" "$WIN"
    sleep 0.5
    "$XCLOSE" "$WIN"
    finish; rc=$?
    [ $rc = 0 ] && [ "$(grep '^power' "$run/grab.log" | tr '\n' ' ')" = "power-button power-off " ] \
        && ok second_close_powers_off || bad second_close_powers_off "status $rc, $(grep '^power' "$run/grab.log" | tr '\n' ' ')"
else
    bad grab_window "no window: $WHY"; kill $PID 2>/dev/null
fi

# --- absolute pointer: no grab, positions over the picture ---
if start abs --absolute; then
    read -r w h x y <<<"$(geometry "$WIN")"
    xdotool mousemove $((x + w - 1)) $((y + h - 1)) click 1
    sleep 0.3
    t=$(xdotool getwindowname "$WIN")
    grep -q '^abs 65535 65535 0 0$' "$run/abs.log" && [ "$t" = "fe-abs - vmplay" ] \
        && ok absolute_pointer || bad absolute_pointer "title '$t', $(grep '^abs' "$run/abs.log" | tail -2 | tr '\n' '|')"
    "$XCLOSE" "$WIN"; finish
else
    bad abs_window "no window: $WHY"; kill $PID 2>/dev/null
fi

# --- idle cost: the front end's main thread while the text screen only blinks its cursor ---
if start idle; then
    sleep 1
    c0=$(thread_cpu $PID $PID); sleep 5; c1=$(thread_cpu $PID $PID)
    pct=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.1f", (b - a) * 100 / 5}')
    awk -v p="$pct" 'BEGIN{exit !(p < 5)}' && ok idle_text_cpu "" "main thread ${pct}% of a core" \
        || bad idle_text_cpu "main thread ${pct}% of a core"
    "$XCLOSE" "$WIN"; finish
else
    bad idle_window "no window: $WHY"; kill $PID 2>/dev/null
fi

# --- kiosk: full screen, close ignored, no release ---
if start kiosk --kiosk; then
    sleep 0.5
    read -r w h x y <<<"$(geometry "$WIN")"
    [ "$w $h" = "1024 768" ] && ok kiosk_fullscreen || bad kiosk_fullscreen "window ${w}x$h"
    "$XCLOSE" "$WIN"
    xdotool key ctrl+alt
    sleep 0.5
    t=$(xdotool getwindowname "$WIN")
    kill -0 $PID 2>/dev/null && ! grep -q '^power' "$run/kiosk.log" && [ "$t" = "fe-kiosk - vmplay" ] \
        && ok kiosk_ignores_close || bad kiosk_ignores_close "title '$t', $(grep '^power' "$run/kiosk.log")"
    kill $PID; wait $PID 2>/dev/null
else
    bad kiosk_window "no window: $WHY"; kill $PID 2>/dev/null
fi
exit 0
