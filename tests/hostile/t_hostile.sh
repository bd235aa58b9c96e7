#!/usr/bin/env bash
# The hostile guest (issue 14): for each seed, tests/hostile/gen.py writes a
# ROM (hostile.asm) that the player runs as its BIOS, on a VM with a disk on
# every controller (IDE, PVSCSI, LSI Logic, LSI SAS, AHCI, NVMe), CD-ROMs on IDE,
# SCSI and SATA, a floppy and one card of each kind (e1000, e1000e, vlance,
# vmxnet3) on a host-only network (nothing leaves the host), and SVGA II; the ROM
# maps every BAR and then throws random port, memory-mapped, PCI configuration,
# RAM (ring and descriptor contents), IOAPIC and VMware backdoor traffic at them
# (with whole sequences per device: SVGA FIFO commands, backdoor RPC exchanges).
# Oracles, per seed: the guest reaches its end and exits through the
# debug-exit port (status 85: no crash, no hang, no internal error, no reset
# loop), stderr carries no sanitizer report and at most a few lines (a guest
# cannot flood the log), and every disk still passes `qemu-img check`.
# make check runs HOSTILE_SEEDS (default 30) seeds from HOSTILE_FIRST (1);
# make fuzz-hostile runs 2,000 on the ASan/UBSan build. A failing seed is
# replayed with the command the FAIL line gives.
set -u
V=$(realpath "${VMPLAY:-./vmplay}")
BUILD=${BUILD:-build}
TOP=${TOP:-.}
SEEDS=${HOSTILE_SEEDS:-30}
FIRST=${HOSTILE_FIRST:-1}
OPS=${HOSTILE_OPS:-3000}
name=${HOSTILE_NAME:-hostile}
command -v nasm >/dev/null || { echo "SKIP $name/all: nasm is not installed"; exit 0; }
command -v qemu-img >/dev/null || { echo "SKIP $name/all: qemu-img is not installed"; exit 0; }
run=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)/$name
rm -rf "$run"; mkdir -p "$run"
nasm -f bin -o "$run/template.bin" "$TOP/tests/hostile/hostile.asm" || { echo "FAIL $name/assemble"; exit 0; }
disks="ide scsi0 scsi1 scsi2 sata nvme"
cat > "$run/vm.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
memsize = "64"
ide0:0.present = "TRUE"
ide0:0.fileName = "ide.vmdk"
ide1:0.present = "TRUE"
ide1:0.deviceType = "cdrom-image"
ide1:0.fileName = "cd.iso"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "scsi0.vmdk"
scsi1.present = "TRUE"
scsi1.virtualDev = "lsilogic"
scsi1:0.present = "TRUE"
scsi1:0.fileName = "scsi1.vmdk"
scsi2.present = "TRUE"
scsi2.virtualDev = "lsisas1068"
scsi2:0.present = "TRUE"
scsi2:0.fileName = "scsi2.vmdk"
sata0.present = "TRUE"
sata0:0.present = "TRUE"
sata0:0.fileName = "sata.vmdk"
nvme0.present = "TRUE"
nvme0:0.present = "TRUE"
nvme0:0.fileName = "nvme.vmdk"
floppy0.present = "TRUE"
floppy0.fileType = "file"
floppy0.fileName = "fd.img"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "e1000"
ethernet0.connectionType = "hostonly"
ethernet1.present = "TRUE"
ethernet1.virtualDev = "e1000e"
ethernet1.connectionType = "hostonly"
ethernet2.present = "TRUE"
ethernet2.virtualDev = "vlance"
ethernet2.connectionType = "hostonly"
ethernet3.present = "TRUE"
ethernet3.virtualDev = "vmxnet3"
ethernet3.connectionType = "hostonly"
svga.present = "TRUE"
guestinfo.ci.marker = "hostile"
scsi0:1.present = "TRUE"
scsi0:1.deviceType = "cdrom-image"
scsi0:1.fileName = "cd.iso"
sata0:1.present = "TRUE"
sata0:1.deviceType = "cdrom-image"
sata0:1.fileName = "cd.iso"
VMX
truncate -s 1474560 "$run/fd.img"
head -c 1048576 /dev/urandom > "$run/cd.iso"
fails=0
for ((s = FIRST; s < FIRST + SEEDS; s++)); do
    for d in $disks; do qemu-img create -q -f vmdk "$run/$d.vmdk" 16M; done
    python3 "$TOP/tests/hostile/gen.py" "$run/template.bin" "$run/rom.bin" "$s" "$OPS"
    (cd "$run" && timeout -s KILL 120 "$V" --headless --cpu=soft --timeout=60 --debug-exit \
        --bios=rom.bin vm.vmx >/dev/null 2>"$run/stderr"); rc=$?
    why=
    [ $rc = 85 ] || why="status $rc (85: the guest's end; 137: killed after 120 s)"
    grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' "$run/stderr" && why="$why; sanitizer report"
    [ "$(wc -l < "$run/stderr")" -le 5 ] || why="$why; $(wc -l < "$run/stderr") lines on stderr"
    for d in $disks; do
        qemu-img check -q "$run/$d.vmdk" >/dev/null 2>&1 || why="$why; $d.vmdk fails qemu-img check"
    done
    if [ -n "$why" ]; then
        fails=$((fails + 1))
        cp "$run/stderr" "$run/stderr.$s"
        echo "FAIL $name/seed_$s: $why: $(head -c 300 "$run/stderr" | tr '\n' '|') (replay: HOSTILE_FIRST=$s HOSTILE_SEEDS=1 tests/hostile/t_hostile.sh)"
    fi
done
[ $fails = 0 ] && echo "PASS $name/seeds ($SEEDS seeds from $FIRST, $OPS operations each, 0 failures)"
