#!/usr/bin/env bash
# make bench (guest part): the bench appliance under vmplay, QEMU TCG and Bochs,
# one after the other on the same image, printing wall time per stage
# (power-on -> init, md5sum of 32 MiB, awk loop of 300k iterations) and the
# ratios vmplay/TCG and vmplay/Bochs. Not a test: nothing here passes or fails.
# ARCH=amd64 runs the 64-bit appliance (qemu-system-x86_64 for TCG).
#   [ARCH=i386|amd64] bench/appliance.sh VMPLAY [which...]   which: vmplay qemu bochs (default all)
set -u
vmplay=$1; shift
which=${*:-vmplay qemu bochs}
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
ARCH=${ARCH:-i386}
img=$(ARCH=$ARCH BUILD=$BUILD "$top/tests/images/appliance.sh") || exit 1
case "$ARCH" in
amd64) run=$BUILD/bench/appliance64 qemu=qemu-system-x86_64 ;;
*) run=$BUILD/bench/appliance qemu=qemu-system-i386 ;;
esac
rm -rf "$run"; mkdir -p "$run"
stages="init md5 awk"
TIMEOUT=${BENCH_TIMEOUT:-900}

# watch SERIALFILE PID NAME: records the seconds since start at which each stage
# marker appears, into $run/NAME.times; kills PID after the last one.
watch() {
    local serial=$1 pid=$2 name=$3 t0=$4 st line now
    for st in $stages; do
        while ! grep -aq "VMPLAY-BENCH: $st" "$serial" 2>/dev/null; do
            if ! kill -0 "$pid" 2>/dev/null; then echo "$name: stopped before stage $st" >&2; return 1; fi
            now=$(date +%s.%N)
            if (( $(echo "$now - $t0 > $TIMEOUT" | bc) )); then
                echo "$name: stage $st not reached in ${TIMEOUT}s" >&2; kill "$pid"; return 1
            fi
            sleep 0.05
        done
        now=$(date +%s.%N)
        echo "$st $(echo "$now - $t0" | bc)" >> "$run/$name.times"
    done
    sleep 0.5; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return 0
}

run_vmplay() {
    cp "$img/bench.vmx" "$img/bench.vmdk" "$run/"
    local t0; t0=$(date +%s.%N)
    (cd "$run" && exec "$vmplay" --headless --cpu=soft --serial=file:"$run/vmplay.serial" bench.vmx \
        >"$run/vmplay.log" 2>&1) &
    watch "$run/vmplay.serial" $! vmplay "$t0"
}

run_qemu() {
    local t0; t0=$(date +%s.%N)
    "$qemu" -accel tcg -M pc -m 256 -nodefaults -vga std -display none \
        -drive file="$img/bench.img",format=raw,if=ide,index=0,snapshot=on \
        -serial file:"$run/qemu.serial" -no-reboot >"$run/qemu.log" 2>&1 &
    watch "$run/qemu.serial" $! qemu "$t0"
}

run_bochs() {
    cp "$img/bench.img" "$run/bochs.img"
    cat > "$run/bochsrc" <<EOR
megs: 256
cpu: count=1, ips=50000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=disk, path=$run/bochs.img, mode=flat
boot: disk
com1: enabled=1, mode=file, dev=$run/bochs.serial
display_library: rfb, options="timeout=0"
log: $run/bochs.log
clock: sync=none, time0=local
speaker: enabled=0
sound: driver=dummy
EOR
    echo c > "$run/bochs.rc"
    local t0; t0=$(date +%s.%N)
    # The debugger build of bochs reads commands from -rc and wants a terminal.
    script -qfc "bochs -q -f $run/bochsrc -rc $run/bochs.rc" /dev/null >"$run/bochs.out" 2>&1 &
    local spid=$!
    watch "$run/bochs.serial" $spid bochs "$t0"
    pkill -f "bochs -q -f $run/bochsrc" 2>/dev/null; pkill -f "bochs-bin -q -f $run/bochsrc" 2>/dev/null
    return 0
}

for w in $which; do
    echo "bench: running the appliance under $w..." >&2
    "run_$w" || true
done

stage_time() { # name stage -> seconds for that stage alone
    local f=$run/$1.times prev=0 st t
    [ -f "$f" ] || { echo "-"; return; }
    while read -r st t; do
        if [ "$st" = "$2" ]; then echo "$t - $prev" | bc -l | xargs printf '%.2f'; return; fi
        prev=$t
    done < "$f"
    echo "-"
}
ratio() { [ "$1" = - ] || [ "$2" = - ] && { echo "-"; return; }; echo "$1 / $2" | bc -l | xargs printf '%.2fx'; }
printf '\n%s appliance\n%-22s %10s %10s %10s %12s %12s\n' "$ARCH" stage vmplay qemu-tcg bochs vmplay/tcg vmplay/bochs
for st in $stages; do
    v=$(stage_time vmplay "$st"); q=$(stage_time qemu "$st"); b=$(stage_time bochs "$st")
    case $st in init) label="power-on -> init" ;; md5) label="md5sum 32 MiB" ;; awk) label="awk 300k loop" ;; esac
    printf '%-22s %10s %10s %10s %12s %12s\n' "$label" "$v" "$q" "$b" "$(ratio "$v" "$q")" "$(ratio "$v" "$b")"
done
echo "(wall seconds per stage; serial marker timestamps; raw data in $run)"
