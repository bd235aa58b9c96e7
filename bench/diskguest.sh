#!/usr/bin/env bash
# make bench (disk, guest stage): sequential throughput of the guest's own driver on each
# disk controller. The appliance (vmplay.mode=diskbench, its boot disk on IDE) writes 256 MiB
# to a 300 MiB monolithicSparse bench disk with O_DIRECT and reads them back with O_DIRECT
# (tests/images/modes/diskbench.sh); the host times each stretch from the start marker to
# the done marker on serial (polled every 0.1 s). The same appliance and a fresh copy of the
# same bench disk run under vmplay (--cpu=soft) and under QEMU TCG with the matching
# controller where QEMU has one: ide, ahci, mptsas1068 (LSI SAS), pvscsi, nvme; QEMU has no
# LSI 53C1030 (FIELD-NOTES), and Linux 6.1's mptsas finds no disk behind QEMU's mptsas1068,
# so those QEMU cells print "-". MB/s are 10^6 bytes per second; the ratio is vmplay/QEMU.
# Not a test: nothing here passes or fails.
#   bench/diskguest.sh VMPLAY
# DISK_CTRLS: one line per controller: name, .vmx lines (| separated), QEMU device arguments.
set -u
vmplay=$1
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
TIMEOUT=${BENCH_TIMEOUT:-1200}
MIB=256
img=$(BUILD=$BUILD "$top/tests/images/appliance.sh") || exit 1
[ -f "$img/diskbench.vmdk" ] || { echo "disk guest: the appliance has no diskbench mode"; exit 0; }
run=$BUILD/bench/diskguest
rm -rf "$run"; mkdir -p "$run"
qemu=$(command -v qemu-system-i386)
qemu-img convert -O raw "$img/diskbench.vmdk" "$run/boot.raw"

# name | .vmx lines for the bench disk (; separated) | QEMU arguments (the drive is id=b)
DISK_CTRLS=${DISK_CTRLS:-"ide|ide0:1.present = \"TRUE\";ide0:1.fileName = \"b.vmdk\"|-device ide-hd,drive=b,bus=ide.0,unit=1
ahci|sata0.present = \"TRUE\";sata0:0.present = \"TRUE\";sata0:0.fileName = \"b.vmdk\"|-device ahci,id=ahci -device ide-hd,drive=b,bus=ahci.0
lsilogic|scsi0.present = \"TRUE\";scsi0.virtualDev = \"lsilogic\";scsi0:0.present = \"TRUE\";scsi0:0.fileName = \"b.vmdk\"|
lsisas1068|scsi0.present = \"TRUE\";scsi0.virtualDev = \"lsisas1068\";scsi0:0.present = \"TRUE\";scsi0:0.fileName = \"b.vmdk\"|-device mptsas1068,id=s -device scsi-hd,drive=b,bus=s.0
pvscsi|scsi0.present = \"TRUE\";scsi0.virtualDev = \"pvscsi\";scsi0:0.present = \"TRUE\";scsi0:0.fileName = \"b.vmdk\"|-device pvscsi,id=s -device scsi-hd,drive=b,bus=s.0
nvme|nvme0.present = \"TRUE\";nvme0:0.present = \"TRUE\";nvme0:0.fileName = \"b.vmdk\"|-device nvme,drive=b,serial=vmplaybench"}

now() { date +%s.%N; }
seen() { grep -aq "VMPLAY-MARKER: diskbench $1" "$2" 2>/dev/null; }
# stamps SERIAL PID OUT: the host times of the four markers into OUT, until done or PID dies
stamps() {
    local serial=$1 pid=$2 out=$3 t0=$SECONDS m
    : > "$out"
    for m in "write start" "write done" "read start" "read done" ; do
        while ! seen "$m" "$serial"; do
            if ! kill -0 "$pid" 2>/dev/null || [ $((SECONDS - t0)) -ge "$TIMEOUT" ] ||
                seen "no disk" "$serial"; then return 1; fi
            sleep 0.1
        done
        echo "$m $(now)" >> "$out"
    done
}
# rate OUT WHAT: MB/s of the write or read stretch, "-" when the markers are not all there
rate() {
    awk -v w="$2" -v b=$((MIB << 20)) '$1 == w && $2 == "start" { s = $3 } $1 == w && $2 == "done" { e = $3 }
        END { if (s == "" || e == "" || e <= s) print "-"; else printf "%.1f\n", b / (e - s) / 1e6 }' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

bench_vmplay() { # name vmx-lines
    local d=$run/vmplay-$1
    mkdir -p "$d"
    cp "$img/diskbench.vmdk" "$d/"
    qemu-img create -q -f vmdk -o subformat=monolithicSparse "$d/b.vmdk" 300M
    sed -e '/^ide0:/d' -e 's/^serial0.fileName = .*/serial0.fileName = "serial.txt"/' "$img/test.vmx" > "$d/vm.vmx"
    { printf 'ide0:0.present = "TRUE"\nide0:0.fileName = "diskbench.vmdk"\n'; tr ';' '\n' <<<"$2"; echo; } >> "$d/vm.vmx"
    (cd "$d" && exec nice "$vmplay" --headless --cpu=soft --timeout="$TIMEOUT" vm.vmx >out.txt 2>&1) &
    local pid=$!
    stamps "$d/serial.txt" $pid "$d/stamps" || echo "disk guest: vmplay $1: not every marker ($(tail -1 "$d/out.txt"))" >&2
    wait $pid
}

bench_qemu() { # name qemu-args
    local d=$run/qemu-$1
    [ -n "$qemu" ] && [ -n "$2" ] || return 0
    mkdir -p "$d"
    qemu-img create -q -f vmdk -o subformat=monolithicSparse "$d/b.vmdk" 300M
    # shellcheck disable=SC2086 # the device arguments are words
    nice "$qemu" -accel tcg -M pc -m 256 -display none -no-reboot -nodefaults -vga std \
        -drive file="$run/boot.raw",format=raw,if=none,id=boot,snapshot=on -device ide-hd,drive=boot,bus=ide.0,unit=0 \
        -drive file="$d/b.vmdk",format=vmdk,if=none,id=b,cache=none,aio=threads $2 \
        -serial file:"$d/serial.txt" >"$d/out.txt" 2>&1 &
    local pid=$!
    stamps "$d/serial.txt" $pid "$d/stamps" || echo "disk guest: qemu $1: not every marker" >&2
    sleep 1
    kill $pid 2>/dev/null; wait $pid 2>/dev/null
}

echo "disk (guest): 256 MiB sequential, O_DIRECT, 1 MiB requests, guest driver per controller, MB/s (vmplay --cpu=soft vs QEMU TCG)"
while IFS='|' read -r name vmx qargs <&3; do
    [ -n "$name" ] || continue
    bench_vmplay "$name" "$vmx"
    bench_qemu "$name" "$qargs"
    drv=$(sed -n 's/.*VMPLAY-MARKER: diskbench disk [a-z0-9]* \([a-z_0-9]*\).*/\1/p' "$run/vmplay-$name/serial.txt" 2>/dev/null | tr -d '\r' | head -1)
    for w in write read; do
        v=$(rate "$run/vmplay-$name/stamps" $w)
        q=-; [ -f "$run/qemu-$name/stamps" ] && q=$(rate "$run/qemu-$name/stamps" $w)
        printf 'disk %-10s %-8s %-5s vmplay %7s MB/s   qemu %7s MB/s   vmplay/qemu %s\n' "$name" "${drv:-?}" "$w" "$v" "$q" "$(ratio "$v" "$q")"
    done
done 3<<<"$DISK_CTRLS"
