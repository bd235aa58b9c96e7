#!/usr/bin/env bash
# A second oracle for the system-level ROMs: each tests/cpu/NAME.asm with a
# "; bochs-cpu: MODEL" line runs under Debian's Bochs (that CPU model, the
# ROM at the reset vector, port 0xE9 through port_e9_hack, unknown MSRs #GP
# unless the line adds ", ignore_bad_msrs=1") and must print
# tests/cpu/expected/NAME.txt but for as many lines as its "; bochs-differs: N"
# comment declares (each settled against the SDM beside it). In make check
# (about 25 s for all the ROMs; make check installs bochs), and alone as make cpu-bochs.
set -u
BUILD=${BUILD:-build}
if ! command -v bochs >/dev/null; then
    echo "SKIP cpu/bochs: bochs is not installed (Debian bochs, bochsbios)"
    exit 0
fi
vga=/usr/share/seabios/vgabios-stdvga.bin
out=$BUILD/cpu/bochs
mkdir -p "$out"
fail=0
for src in tests/cpu/*.asm; do
    n=$(basename "$src" .asm)
    model=$(sed -n 's/^; bochs-cpu: //p' "$src")
    [ -n "$model" ] || continue
    rom=$BUILD/cpu/roms/$n.bin
    if [ ! -f "$rom" ]; then
        echo "SKIP cpu/bochs/$n: $rom not built"
        continue
    fi
    cat > "$out/$n.rc" <<EOR
megs: 8
cpu: count=1, ips=50000000, ignore_bad_msrs=0, model=$model
romimage: file=$rom, address=0xffff0000
vgaromimage: file=$vga
display_library: rfb, options="timeout=0"
port_e9_hack: enabled=1
log: $out/$n.log
clock: sync=none
speaker: enabled=0
sound: driver=dummy
EOR
    echo c > "$out/$n.cmd"
    # The debugger build of bochs reads commands from -rc and wants a terminal.
    setsid script -qfc "bochs -q -f $out/$n.rc -rc $out/$n.cmd" /dev/null >"$out/$n.raw" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q '^done' "$out/$n.raw" 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    kill -- -$pid 2>/dev/null
    wait $pid 2>/dev/null
    # the ROM's output: what follows the debugger's first "(0) [" line, up to "done"
    tr -d '\r' < "$out/$n.raw" | sed -n '/^(0) \[/,/^done$/p' | sed 1d > "$out/$n.txt"
    allowed=$(sed -n 's/^; bochs-differs: \([0-9]*\).*/\1/p' "$src")
    differ=$(diff "$out/$n.txt" "tests/cpu/expected/$n.txt" | grep -c '^<')
    if ! grep -qx done "$out/$n.txt"; then
        echo "FAIL cpu/bochs/$n: no \"done\" from the ROM ($out/$n.raw)"
        fail=1
    elif [ "$differ" -ne "${allowed:-0}" ]; then
        echo "FAIL cpu/bochs/$n: $differ line(s) differ from the expected file, ${allowed:-0} declared"
        fail=1
    else
        echo "PASS cpu/bochs/$n"
    fi
done
exit $fail
