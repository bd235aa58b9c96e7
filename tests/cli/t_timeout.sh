#!/usr/bin/env bash
# --timeout bounds host time in every clock mode: a guest ROM spinning on port
# I/O (slow to emulate, so its deterministic clock runs far behind the host's)
# under --deterministic --timeout=2 ends after about 2 s of host time, not
# after 2 s of its own time; and a deterministic run that ends by itself is
# still the same run when the wall-clock bound is active (guest/deterministic_twice).
set -u
V=${VMPLAY:-./vmplay}
run=$BUILD/cli/timeout
rm -rf "$run"; mkdir -p "$run"
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
t0=$(date +%s%N)
"$V" --headless --deterministic --timeout=2 --bios="$run/spin.bin" "$run/rom.vmx" 2>"$run/err"; st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $st = 124 ] && [ $ms -lt 6000 ] && grep -q 'after 2 s of host time' "$run/err"; then
    echo "PASS cli/timeout_bounds_host_time_when_deterministic (${ms} ms for --timeout=2; $(grep -o 'guest time [0-9.]* s' "$run/err"))"
else
    echo "FAIL cli/timeout_bounds_host_time_when_deterministic: status $st after ${ms} ms: $(head -c 300 "$run/err")"
fi
