#!/usr/bin/env bash
# The player's own test entry points: each CPU test ROM run with
# `vmplay --bios=ROM --debugcon=FILE --debug-exit` on the machine a minimal
# .vmx describes prints exactly the expected file (QEMU TCG's output, see
# tests/cpu/expected/) and ends through port 0xF4 with status (0<<1)|1 = 1.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
run=$BUILD/cpu/player
rm -rf "$run"; mkdir -p "$run"
printf '.encoding = "UTF-8"\nconfig.version = "8"\ndisplayName = "cpu test ROM"\nmemsize = "32"\n' > "$run/rom.vmx"
for exp in tests/cpu/expected/*.txt; do
    name=$(basename "$exp" .txt)
    rom=$BUILD/cpu/roms/$name.bin
    if [ ! -f "$rom" ]; then echo "SKIP cpu-player/$name: $rom not built (nasm missing?)"; continue; fi
    timeout 120 "$V" --headless --cpu=soft --bios="$rom" --debugcon="$run/$name.out" --debug-exit \
        "$run/rom.vmx" >/dev/null 2>"$run/$name.err"
    st=$?
    if [ $st -ne 1 ]; then echo "FAIL cpu-player/$name: status $st, expected 1: $(head -c 200 "$run/$name.err")"
    elif ! cmp -s "$exp" "$run/$name.out"; then echo "FAIL cpu-player/$name: output differs from $exp"
    else echo "PASS cpu-player/$name"; fi
done
