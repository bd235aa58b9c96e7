#!/usr/bin/env bash
# make demo: builds the demo appliance (tests/images/appliance.sh) and runs it,
# in an SDL window when there is a display, else headless with the guest's
# serial console on this terminal.
set -eu
vmplay=$1
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(BUILD=${BUILD:-$top/build} "$top/tests/images/appliance.sh")
run=${BUILD:-$top/build}/demo
mkdir -p "$run"
cp -f "$dir/demo.vmx" "$dir/demo.vmdk" "$run/"
cd "$run"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    echo "demo: running $run/demo.vmx in a window (close it to shut the guest down)"
    exec "$vmplay" demo.vmx
fi
echo "demo: no display; running headless with the serial console here (Ctrl-A x quits, Ctrl-A h lists the keys)"
exec "$vmplay" --headless --serial=stdio demo.vmx
