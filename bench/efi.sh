#!/usr/bin/env bash
# make bench (EFI part): the EFI appliance (tests/images/efi.sh) under vmplay's
# software core (interpreter, then translator) and under qemu-system-x86_64 -accel tcg
# with the same OVMF, one after the other, printing the wall seconds from power-on to
# GRUB's banner, to the kernel's init (its first marker) and to the power-off, and
# the ratios to TCG. Not a test: nothing here passes or fails.
#   bench/efi.sh VMPLAY
set -u
vmplay=$1
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
img=$(BUILD=$BUILD "$top/tests/images/efi.sh") || exit 1
ovmf=${OVMF_DIR:-/usr/share/OVMF}
run=$BUILD/bench/efi
rm -rf "$run"; mkdir -p "$run"
TIMEOUT=${BENCH_TIMEOUT:-900}
marks="grub init off"
pattern() {
    case $1 in
    grub) echo 'Welcome to GRUB' ;;
    init) echo 'VMPLAY-MARKER: init started' ;;
    off) echo 'VMPLAY-MARKER: poweroff' ;;
    esac
}

# watch SERIAL PID NAME T0: the seconds since T0 at which each mark appears, into NAME.times
watch() {
    local serial=$1 pid=$2 name=$3 t0=$4 m now
    for m in $marks; do
        while ! grep -aq "$(pattern $m)" "$serial" 2>/dev/null; do
            kill -0 "$pid" 2>/dev/null || { echo "$name: stopped before '$m'" >&2; return 1; }
            now=$(date +%s.%N)
            if (( $(echo "$now - $t0 > $TIMEOUT" | bc) )); then
                echo "$name: '$m' not reached in ${TIMEOUT}s" >&2; kill "$pid"; return 1
            fi
            sleep 0.05
        done
        echo "$m $(echo "$(date +%s.%N) - $t0" | bc)" >> "$run/$name.times"
    done
    wait "$pid" 2>/dev/null
    return 0
}

run_vmplay() { # name jit
    local d=$run/$1 t0
    mkdir -p "$d"
    cp "$img/efi.vmdk" "$d/"
    printf '%s\n' '.encoding = "UTF-8"' 'config.version = "8"' 'virtualHW.version = "19"' \
        'displayName = "vmplay EFI bench"' 'guestOS = "debian12-64"' 'memsize = "1024"' \
        'firmware = "efi"' 'ide0:0.present = "TRUE"' 'ide0:0.fileName = "efi.vmdk"' > "$d/efi.vmx"
    t0=$(date +%s.%N)
    (cd "$d" && exec "$vmplay" --headless --cpu=soft --jit="$2" --serial=file:"$d/serial.txt" \
        --timeout="$TIMEOUT" efi.vmx >"$d/log.txt" 2>&1) &
    watch "$d/serial.txt" $! "$1" "$t0"
}

run_qemu() {
    local d=$run/qemu t0
    mkdir -p "$d"
    cp "$ovmf/OVMF_VARS_4M.fd" "$d/vars.fd"
    t0=$(date +%s.%N)
    qemu-system-x86_64 -accel tcg -M pc -m 1024 -nodefaults -vga std -display none -no-reboot \
        -drive if=pflash,format=raw,readonly=on,file="$ovmf/OVMF_CODE_4M.fd" \
        -drive if=pflash,format=raw,file="$d/vars.fd" \
        -drive file="$img/efi.vmdk",format=vmdk,if=ide,snapshot=on \
        -serial file:"$d/serial.txt" >"$d/log.txt" 2>&1 &
    watch "$d/serial.txt" $! qemu "$t0"
}

echo "bench: the EFI appliance under vmplay (interpreter)..." >&2
run_vmplay interpreter off || true
echo "bench: the EFI appliance under vmplay (translator)..." >&2
run_vmplay translator on || true
echo "bench: the EFI appliance under QEMU TCG..." >&2
run_qemu || true

mark_time() { # name mark -> seconds from power-on
    local f=$run/$1.times m t
    [ -f "$f" ] || { echo "-"; return; }
    while read -r m t; do [ "$m" = "$2" ] && { printf '%.2f' "$t"; return; }; done < "$f"
    echo "-"
}
ratio() { [ "$1" = - ] || [ "$2" = - ] && { echo "-"; return; }; echo "$1 / $2" | bc -l | xargs printf '%.2fx'; }
printf '\nEFI appliance (OVMF, amd64)\n%-22s %12s %12s %10s %10s %10s\n' "from power-on to" interpreter translator qemu-tcg interp/tcg jit/tcg
for m in $marks; do
    i=$(mark_time interpreter $m); j=$(mark_time translator $m); q=$(mark_time qemu $m)
    case $m in grub) label="GRUB's banner" ;; init) label="the kernel's init" ;; off) label="power-off" ;; esac
    printf '%-22s %12s %12s %10s %10s %10s\n' "$label" "$i" "$j" "$q" "$(ratio "$i" "$q")" "$(ratio "$j" "$q")"
done
echo "(wall seconds from power-on; serial timestamps; raw data in $run)"
