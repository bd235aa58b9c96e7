#!/usr/bin/env bash
# Checks the CPU test ROMs' expected outputs against the oracle they were
# recorded from: each ROM runs under QEMU TCG (qemu-system-i386, or the binary
# its "; qemu-bin:" line names, isa-debug-exit on port 0xF4, debugcon on 0xE9)
# and must print tests/cpu/expected/<rom>.txt,
# except for as many lines as its "; qemu-differs: N" comment declares (places
# where QEMU TCG is known to differ from hardware and the file holds the
# hardware answer). A ROM whose "; qemu-skip:" line gives a reason is not run.
set -u
if ! command -v qemu-system-i386 >/dev/null; then
    echo "SKIP cpu/qemu: qemu-system-i386 is not installed (Debian qemu-system-x86)"
    exit 0
fi
out=$BUILD/cpu/qemu-check
mkdir -p "$out"
for src in tests/cpu/*.asm; do
    n=$(basename "$src" .asm)
    rom=$BUILD/cpu/roms/$n.bin
    if [ ! -f "$rom" ]; then
        echo "SKIP cpu/qemu/$n: $rom not built"
        continue
    fi
    why=$(sed -n 's/^; qemu-skip: //p' "$src")
    if [ -n "$why" ]; then
        echo "SKIP cpu/qemu/$n: $why"
        continue
    fi
    args=$(sed -n 's/^; qemu-args: //p' "$src")
    qemu=$(sed -n 's/^; qemu-bin: //p' "$src")
    qemu=${qemu:-qemu-system-i386}
    if ! command -v "$qemu" >/dev/null; then
        echo "SKIP cpu/qemu/$n: $qemu is not installed"
        continue
    fi
    allowed=$(sed -n 's/^; qemu-differs: \([0-9]*\).*/\1/p' "$src")
    rm -f "$out/$n.txt"
    # shellcheck disable=SC2086
    timeout 30 "$qemu" -accel tcg -M pc -m 8 $args -bios "$rom" -display none \
        -debugcon "file:$out/$n.txt" -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot
    rc=$?
    differ=$(diff "$out/$n.txt" "tests/cpu/expected/$n.txt" | grep -c '^<')
    if [ $rc -ne 1 ]; then
        echo "FAIL cpu/qemu/$n: QEMU exited with $rc (1 = the ROM wrote port 0xF4)"
    elif [ "$differ" -ne "${allowed:-0}" ]; then
        echo "FAIL cpu/qemu/$n: $differ line(s) differ from the expected file, ${allowed:-0} declared"
    else
        echo "PASS cpu/qemu/$n"
    fi
done
