#!/usr/bin/env bash
# SIGKILL on every controller (issue 14): the appliance's killall mode writes
# numbered 64 KiB records, each with a flush, to a 128 MiB data disk on each of
# IDE, LSI Logic, LSI SAS, PVSCSI, AHCI and NVMe at once, and prints each
# record once its dd has returned. The player is SIGKILLed after a random
# number of printed records (seed KILLALL_SEED), then boots again, KILLALL_KILLS
# times (make check: 3; make check-killall: 100). KILLALL_JIT=on boots on the translator.
# Oracles: after every kill `qemu-img check` passes on every disk and every
# record the guest printed in that boot reads back through qemu-img; at the
# end every record printed in any boot is still there; the guest found its
# disk behind each controller's own driver.
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=${BUILD:-build}
KILLS=${KILLALL_KILLS:-3}
RANDOM=${KILLALL_SEED:-14}
R=16
ok() { echo "PASS guest/killall_$1${2:+ $2}"; }
bad() { echo "FAIL guest/killall_$1: $2"; }
command -v qemu-img >/dev/null || { echo "SKIP guest/killall: qemu-img missing (qemu-utils)"; exit 0; }
[ "$KILLS" -ge 1 ] && [ "$KILLS" -le 127 ] || { bad setup "KILLALL_KILLS is 1 to 127 (the disks hold 127 boots), not $KILLS"; exit 0; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
run=$(cd "$BUILD" && pwd)/guest/killall
rm -rf "$run"; mkdir -p "$run"
cp "$img/killall.vmdk" "$run/"
declare -A file=([ata_piix]=d-ide [mptspi]=d-lsilogic [mptsas]=d-lsisas [vmw_pvscsi]=d-pvscsi [ahci]=d-ahci [nvme]=d-nvme)
for f in "${file[@]}"; do qemu-img create -q -f vmdk "$run/$f.vmdk" 128M; done
{
    sed -e 's/"storage.vmdk"/"killall.vmdk"/' -e 's/"data.vmdk"/"d-ide.vmdk"/' \
        -e 's/storage-ide-serial/killall-serial/' -e 's/on IDE/killed on every controller/' "$img/storage-ide.vmx"
    printf '%s\n' 'scsi0.present = "TRUE"' 'scsi0.virtualDev = "lsilogic"' 'scsi0:0.present = "TRUE"' \
        'scsi0:0.fileName = "d-lsilogic.vmdk"' 'scsi1.present = "TRUE"' 'scsi1.virtualDev = "lsisas1068"' \
        'scsi1:0.present = "TRUE"' 'scsi1:0.fileName = "d-lsisas.vmdk"' 'scsi2.present = "TRUE"' \
        'scsi2.virtualDev = "pvscsi"' 'scsi2:0.present = "TRUE"' 'scsi2:0.fileName = "d-pvscsi.vmdk"' \
        'sata0.present = "TRUE"' 'sata0:0.present = "TRUE"' 'sata0:0.fileName = "d-ahci.vmdk"' \
        'nvme0.present = "TRUE"' 'nvme0:0.present = "TRUE"' 'nvme0:0.fileName = "d-nvme.vmdk"'
} > "$run/killall.vmx"
: > "$run/reported.txt"

# check_records FROM_GEN TO_GEN: every reported record of those boots reads back; prints "present lost"
check_records() {
    local lo=$1 hi=$2 drv f
    for drv in "${!file[@]}"; do
        f=${file[$drv]}
        qemu-img convert -O raw "$run/$f.vmdk" "$run/$f.raw" || echo "unreadable $f" >&2
    done
    python3 - "$run" "$lo" "$hi" "$R" <<'PY'
import sys
run, lo, hi, R = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = {'ata_piix': 'd-ide', 'mptspi': 'd-lsilogic', 'mptsas': 'd-lsisas', 'vmw_pvscsi': 'd-pvscsi',
         'ahci': 'd-ahci', 'nvme': 'd-nvme'}
parts = {}
present = lost = 0
for line in open(run + '/reported.txt'):
    w = line.split()
    if len(w) != 4 or w[1] not in files:
        continue
    drv, gen, n = w[1], int(w[2]), int(w[3])
    if not lo <= gen <= hi:
        continue
    if drv not in parts:
        try:
            with open('%s/%s.raw' % (run, files[drv]), 'rb') as f:
                f.seek((1 + (lo - 1) * R) * 65536)
                parts[drv] = f.read((hi - lo + 1) * R * 65536)
        except OSError:
            parts[drv] = b''
    slot = (gen - lo) * R + n - 1
    want = ('%-63s\n' % ('VMPLAY-KREC %s %d %d' % (drv, gen, n))).encode() * 1024
    if parts[drv][slot * 65536:(slot + 1) * 65536] == want:
        present += 1
    else:
        lost += 1
        print('lost: %s gen %d record %d' % (drv, gen, n), file=sys.stderr)
print(present, lost)
PY
}

gen=0 kills=0 checkfail= lostall=0 seen_all=
for ((k = 1; k <= KILLS; k++)); do
    gen=$((gen + 1))
    rm -f "$run/killall-serial.txt"
    target=$((RANDOM % (6 * R - 8) + 4))
    (cd "$run" && exec "$V" --headless --cpu=soft --jit="${KILLALL_JIT:-off}" --timeout=900 killall.vmx >/dev/null 2>>"$run/stderr.txt") &
    pid=$!
    for ((t = 0; t < 1800; t++)); do
        n=$(grep -a -c '^VMPLAY-KREC ' "$run/killall-serial.txt" 2>/dev/null)
        [ "${n:-0}" -ge $target ] && break
        grep -aq 'VMPLAY-KILL: done' "$run/killall-serial.txt" 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.5
    done
    if kill -KILL $pid 2>/dev/null; then
        kills=$((kills + 1)); wait $pid 2>/dev/null
    else
        wait $pid; st=$?
        echo "boot $k: the player exited by itself (status $st) before the kill: $(tail -2 "$run/stderr.txt" | tr '\n' ' ')" >> "$run/early.txt"
    fi
    tr -d '\r' < "$run/killall-serial.txt" | grep -a '^VMPLAY-KREC ' >> "$run/reported.txt"
    if [ $k = 1 ]; then
        got=$(tr -d '\r' < "$run/killall-serial.txt" | sed -n 's/^VMPLAY-KILL: disk \([a-z_]*\) .*/\1/p' | sort | tr '\n' ' ')
        [ "$got" = "ahci ata_piix mptsas mptspi nvme vmw_pvscsi " ] && seen_all=1 ||
            bad disks_found "the guest found disks behind: ${got:-nothing} ($(grep -a 'VMPLAY-KILL' "$run/killall-serial.txt" | head -3 | tr '\n' '|'))"
    fi
    for f in "${file[@]}"; do
        qemu-img check -q "$run/$f.vmdk" >/dev/null 2>&1 || checkfail="$checkfail $f@$k"
    done
    read -r p l < <(check_records $gen $gen 2>>"$run/lost.txt")
    lostall=$((lostall + ${l:-999}))
done
[ -n "$seen_all" ] && ok disks_found "(ata_piix mptspi mptsas vmw_pvscsi ahci nvme)"
[ $kills = "$KILLS" ] && ok killed "($kills SIGKILLs)" || bad killed "$kills of $KILLS boots were still running to be killed: $(head -2 "$run/early.txt" 2>/dev/null | tr '\n' ' ')"
[ -z "$checkfail" ] && ok qemu_img_check "(6 disks after each of $kills kills)" || bad qemu_img_check "failed:$checkfail"
total=$(wc -l < "$run/reported.txt")
[ $lostall = 0 ] && [ "$total" -gt 0 ] && ok flushed_records_after_each_kill "($total records)" ||
    bad flushed_records_after_each_kill "$lostall of $total printed records missing: $(head -3 "$run/lost.txt" | tr '\n' ' ')"
read -r p l < <(check_records 1 $gen 2>>"$run/lost.txt")
[ "${l:-1}" = 0 ] && [ "${p:-0}" = "$total" ] && ok every_record_at_the_end "($p records in $gen boots)" ||
    bad every_record_at_the_end "present ${p:-?}, lost ${l:-?} of $total"
