#!/usr/bin/env bash
# The disk-count limit (issue 15): the player holds every slot the .vmx families have, which
# are VMware's published maxima (IDE 2 channels x 2, 4 SCSI controllers x 15 targets with
# unit 7 the controller, 4 SATA x 30 ports, 4 NVMe x 15 namespaces, 2 floppies).
# Oracles: a VM with every slot filled (244 disks, 2 floppies, each its own file) passes
# --check with each disk listed and opened, and runs (with a spinning ROM for a BIOS) until
# --timeout=2 with no line but the timeout's: no disk is left out. A slot one past any limit
# is refused before anything runs: status 65 and one line naming the key.
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=${BUILD:-build}
run=$(mkdir -p "$BUILD/cli" && cd "$BUILD/cli" && pwd)/disk_limit
rm -rf "$run"; mkdir -p "$run"
command -v qemu-img >/dev/null || { echo "SKIP cli/disk_limit: qemu-img is not installed"; exit 0; }
. "$(dirname "$0")/lib.sh"
spin_vm "$run"
qemu-img create -q -f vmdk "$run/g.vmdk" 1M
base='.encoding = "UTF-8"\nconfig.version = "8"\nmemsize = "32"\n'

# disk KEYPREFIX: the two lines of a present disk in its own file
disk() { echo "$1.present = \"TRUE\""; echo "$1.fileName = \"${1/:/-}.vmdk\""; cp "$run/g.vmdk" "$run/full/${1/:/-}.vmdk"; }
mkdir -p "$run/full"
{
    printf "$base"
    for x in 0 1; do for y in 0 1; do disk "ide$x:$y"; done; done
    for x in 0 1 2 3; do
        echo "scsi$x.present = \"TRUE\""; echo "scsi$x.virtualDev = \"lsilogic\""
        for y in $(seq 0 15); do [ "$y" = 7 ] || disk "scsi$x:$y"; done
        echo "sata$x.present = \"TRUE\""
        for y in $(seq 0 29); do disk "sata$x:$y"; done
        echo "nvme$x.present = \"TRUE\""
        for y in $(seq 0 14); do disk "nvme$x:$y"; done
    done
    for i in 0 1; do
        head -c 1474560 /dev/zero > "$run/full/f$i.flp"
        printf 'floppy%s.present = "TRUE"\nfloppy%s.fileType = "file"\nfloppy%s.fileName = "f%s.flp"\n' $i $i $i $i
    done
} > "$run/full/vm.vmx"

(cd "$run/full" && timeout -s KILL 120 "$V" --check vm.vmx >check.out 2>check.err); rc=$?
n=$(grep -c '^  [a-z]*[0-9]:[0-9]*  *vmdk monolithicSparse, 1 MiB' "$run/full/check.out")
f=$(grep -c '^floppy[01]  *.*f[01].flp$' "$run/full/check.out")
if [ "$rc" = 0 ] && [ "$n" = 244 ] && [ "$f" = 2 ] && [ ! -s "$run/full/check.err" ]; then
    echo "PASS cli/disk_limit_check_every_slot (244 disks, 2 floppies)"
else
    echo "FAIL cli/disk_limit_check_every_slot: status $rc, $n disks and $f floppies listed (want 244, 2): $(head -c 300 "$run/full/check.err")"
fi
(cd "$run/full" && timeout -s KILL 120 "$V" --headless --cpu=soft --timeout=2 --bios="$run/spin.bin" vm.vmx \
    >run.out 2>run.err); rc=$?
if [ "$rc" = 124 ] && [ "$(cat "$run/full/run.err")" = "vmplay: --timeout: powering the guest off after 2 s" ]; then
    echo "PASS cli/disk_limit_runs_every_slot"
else
    echo "FAIL cli/disk_limit_runs_every_slot: status $rc (want 124), stderr: $(head -c 300 "$run/full/run.err")"
fi

# over NAME LINES PATTERN: a .vmx with one slot past a limit
over() {
    local d=$run/$1
    mkdir -p "$d"; cp "$run/g.vmdk" "$d/d.vmdk"
    printf "$base%b" "$2" > "$d/vm.vmx"
    (cd "$d" && timeout -s KILL 30 "$V" --headless --cpu=soft --timeout=2 --bios="$run/spin.bin" vm.vmx \
        >/dev/null 2>err); local rc=$?
    if [ "$rc" = 65 ] && [ "$(wc -l < "$d/err")" = 1 ] && grep -qE "^vmplay: vm.vmx:[0-9]+: $3" "$d/err"; then
        echo "PASS cli/disk_limit_$1"
    else
        echo "FAIL cli/disk_limit_$1: status $rc (want 65), stderr: $(head -c 300 "$d/err")"
    fi
}
over ide_channel_2 'ide2:0.present = "TRUE"\nide2:0.fileName = "d.vmdk"\n' 'ide2:0.present: no such slot \(ide0:0 to ide1:1\)'
over ide_unit_2 'ide0:2.present = "TRUE"\nide0:2.fileName = "d.vmdk"\n' 'ide0:2.present: no such slot'
over scsi_target_16 'scsi0.present = "TRUE"\nscsi0:16.present = "TRUE"\nscsi0:16.fileName = "d.vmdk"\n' 'scsi0:16.present: no such slot \(scsi0:0 to scsi3:15, unit 7 is the controller\)'
over scsi_target_7 'scsi0.present = "TRUE"\nscsi0:7.present = "TRUE"\nscsi0:7.fileName = "d.vmdk"\n' 'scsi0:7.present: no such slot'
over scsi_controller_4 'scsi4.present = "TRUE"\nscsi4:0.present = "TRUE"\nscsi4:0.fileName = "d.vmdk"\n' 'scsi4.present: no such slot \(scsi0:0 to scsi3:15'
over sata_port_30 'sata0.present = "TRUE"\nsata0:30.present = "TRUE"\nsata0:30.fileName = "d.vmdk"\n' 'sata0:30.present: no such slot \(sata0:0 to sata3:29\)'
over nvme_namespace_15 'nvme0.present = "TRUE"\nnvme0:15.present = "TRUE"\nnvme0:15.fileName = "d.vmdk"\n' 'nvme0:15.present: no such slot \(nvme0:0 to nvme3:14\)'
over floppy_2 'floppy2.present = "TRUE"\nfloppy2.fileName = "d.flp"\n' 'floppy2.present: no such device \(floppy0 to floppy1\)'
exit 0
