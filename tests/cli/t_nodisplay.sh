#!/usr/bin/env bash
# A windowed run with no display is one line pointing to --headless and status
# 69 (SDL would otherwise run the VM on an offscreen driver nobody sees); when
# the user chooses such a driver with SDL_VIDEODRIVER, it runs.
set -u
V=${VMPLAY:-./vmplay}
run=$BUILD/cli/nodisplay
rm -rf "$run"; mkdir -p "$run"
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER timeout -s KILL 20 "$V" --timeout=5 \
    --bios="$run/spin.bin" "$run/rom.vmx" >/dev/null 2>"$run/err"; st=$?
if [ $st = 69 ] && [ "$(wc -l < "$run/err")" = 1 ] && grep -q -- '--headless' "$run/err"; then
    echo "PASS cli/no_display_is_one_line_status_69"
else
    echo "FAIL cli/no_display_is_one_line_status_69: status $st: $(head -c 300 "$run/err" | tr '\n' '|')"
fi
env -u DISPLAY -u WAYLAND_DISPLAY SDL_VIDEODRIVER=offscreen timeout -s KILL 20 "$V" --timeout=1 \
    --bios="$run/spin.bin" "$run/rom.vmx" >/dev/null 2>"$run/err2"; st=$?
if [ $st = 124 ]; then
    echo "PASS cli/chosen_offscreen_driver_runs"
else
    echo "FAIL cli/chosen_offscreen_driver_runs: status $st: $(head -c 300 "$run/err2" | tr '\n' '|')"
fi
