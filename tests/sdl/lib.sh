# Shared plumbing for the SDL tests: a private Xvfb, window lookup, X screen
# grabs and pixel comparison. Source it; call xvfb_start first (it prints a
# SKIP line for the area and returns 1 when no X server can run).
if [ "${SAN:-}" = 1 ]; then SDL_TOOLS=${BUILD:-build}/san/tests/sdl; else SDL_TOOLS=${BUILD:-build}/obj/tests/sdl; fi
XVFB_PID=

xvfb_start() { # area
    for t in Xvfb xdotool xwd convert compare; do
        command -v $t >/dev/null || { echo "SKIP $1/xvfb: $t not installed (tools/deps/check-sdl.txt)"; return 1; }
    done
    # Xvfb picks a free display itself and writes its number to the fd given
    # (-displayfd): scripts running side by side never share a server, so one
    # script's exit cannot take the window away from another's test.
    # -noreset: without it the server resets when its last client leaves, and
    # a window opened during that reset finds no display (CI saw x11 missing
    # for the kiosk case, right after the idle case closed the only window).
    local f n=
    f=$(mktemp)
    Xvfb -displayfd 3 -noreset -screen 0 1024x768x24 -nolisten tcp 3>"$f" >/dev/null 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 100); do
        n=$(tr -dc 0-9 <"$f")
        [ -n "$n" ] && [ -e /tmp/.X11-unix/X$n ] && break
        n=
        kill -0 $XVFB_PID 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$f"
    if [ -z "$n" ]; then
        kill $XVFB_PID 2>/dev/null
        echo "FAIL $1/xvfb: Xvfb is installed but did not start"
        return 1
    fi
    export DISPLAY=:$n
    trap xvfb_stop EXIT
    return 0
}

xvfb_stop() {
    [ -n "$XVFB_PID" ] && kill $XVFB_PID 2>/dev/null && wait $XVFB_PID 2>/dev/null
    XVFB_PID=
}

wait_window() { # name-pattern [seconds] -> prints the window id
    local i
    for i in $(seq $((${2:-10} * 10))); do
        local w
        w=$(xdotool search --name "$1" 2>/dev/null | head -1)
        [ -n "$w" ] && { echo "$w"; return 0; }
        sleep 0.1
    done
    return 1
}

wait_for() { # file pattern [seconds]
    local i
    for i in $(seq $((${3:-10} * 10))); do
        grep -qa -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

geometry() { # window -> "W H X Y"
    xdotool getwindowgeometry --shell "$1" | awk -F= '/^(WIDTH|HEIGHT|X|Y)=/{v[$1]=$2} END{print v["WIDTH"], v["HEIGHT"], v["X"], v["Y"]}'
}

# Does the X server's picture of the window equal the player's PNG of the same moment?
# X is captured before and after the PNG is written (a cursor may blink in between;
# on a loaded host, up to six tries).
# Prints the differing pixel count of the better capture ("none": no PNG). pid window png dir
shot_matches() {
    local best=none try a b
    for try in 1 2 3 4 5 6; do
        rm -f "$3"
        xwd -root -silent >"$4/before.xwd"
        kill -USR1 "$1"
        for _ in $(seq 300); do [ -s "$3" ] && break; sleep 0.01; done
        xwd -root -silent >"$4/after.xwd"
        [ -s "$3" ] || continue
        a=$(xwd_diff "$2" "$4/before.xwd" "$3" "$4")
        b=$(xwd_diff "$2" "$4/after.xwd" "$3" "$4")
        [ "$b" -lt "$a" ] && a=$b
        [ "$best" = none ] || [ "$a" -lt "$best" ] && best=$a
        [ "$best" = 0 ] && break
    done
    echo "$best"
}

xwd_diff() { # window xwd png dir
    local w h x y
    read -r w h x y <<<"$(geometry "$1")"
    convert "xwd:$2" -crop "${w}x${h}+${x}+${y}" +repage "$4/xscreen.png"
    compare -metric AE "$4/xscreen.png" "$3" null: 2>&1 | awk '{print int($1)}'
}

# CPU seconds (user+system) of one thread: pid tid
thread_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/task/$2/stat"
}
