#!/usr/bin/env bash
# Signals say what they did: SIGINT, SIGTERM and SIGHUP press the guest's ACPI
# power button, and where the guest never enabled it (a ROM spinning in real
# mode) the player powers off at once, says so in one line, and exits 0.
set -u
V=${VMPLAY:-./vmplay}
run=$BUILD/cli/signals
rm -rf "$run"; mkdir -p "$run"
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
for sig in INT TERM HUP; do
    "$V" --headless --bios="$run/spin.bin" "$run/rom.vmx" 2>"$run/err.$sig" &
    pid=$!
    sleep 1
    kill -$sig $pid
    for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $pid 2>/dev/null; then
        kill -KILL $pid; echo "FAIL cli/sig${sig}_without_acpi_powers_off: still running 10 s after SIG$sig"; continue
    fi
    wait $pid; st=$?
    want="vmplay: SIG$sig: the guest has not enabled its ACPI power button; powering it off at once (its disks are flushed and closed)"
    if [ $st = 0 ] && [ "$(cat "$run/err.$sig")" = "$want" ]; then
        echo "PASS cli/sig${sig}_without_acpi_powers_off"
    else
        echo "FAIL cli/sig${sig}_without_acpi_powers_off: status $st: $(head -c 300 "$run/err.$sig")"
    fi
done
