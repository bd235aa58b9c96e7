#!/usr/bin/env bash
# NVMe end to end: the appliance's storage mode with storage.vmdk on nvme0:0 (SeaBIOS
# boots it through its NVMe driver) and data.vmdk on nvme0:1, in a .vmx as VMware writes
# it. Oracles: Linux's nvme driver binds (the markers name the driver behind each disk),
# its MSI-X messages reach the local APIC (pci trace), the pattern the guest wrote and
# read back, the data disk compared by qemu-img against the expected raw image (the
# pattern padded to 512-byte sectors over 16 MiB of zeros), and the same image under
# QEMU's own NVMe controller (qemu-system-i386 -device nvme) giving the same markers.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS nvme/$1"; }
bad() { echo "FAIL nvme/$1: $2"; }
skip() { echo "SKIP nvme/$1: $2"; }

img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/nvme
rm -rf "$run"; mkdir -p "$run/vmplay" "$run/qemu"
cp "$img/storage.vmdk" "$img/data.vmdk" "$run/vmplay/"
cp "$img/data.vmdk" "$run/qemu/"

# The keys VMware Workstation 17 writes for a VM with an NVMe controller and two disks.
cat > "$run/vmplay/storage.vmx" <<'EOF'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay storage on NVMe"
guestOS = "debian12"
memsize = "256"
numvcpus = "1"
uuid.bios = "56 4d 5a 0b 8c 27 13 37-a0 1b 7c 4d 2e 6f 90 12"
pciBridge0.present = "TRUE"
pciBridge4.present = "TRUE"
pciBridge4.virtualDev = "pcieRootPort"
pciBridge4.functions = "8"
vmci0.present = "TRUE"
floppy0.present = "FALSE"
nvme0.present = "TRUE"
nvme0:0.fileName = "storage.vmdk"
nvme0:0.present = "TRUE"
nvme0:1.fileName = "data.vmdk"
nvme0:1.present = "TRUE"
nvme0.pciSlotNumber = "224"
nvme0.subnqnUUID = "52 b5 e3 65 2c 9a 4b 11-8f 52 31 0e 0b 51 4d 8c"
nvme0:0.redo = ""
nvme0:1.redo = ""
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "storage-serial.txt"
EOF

(cd "$run/vmplay" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --trace=pci storage.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/vmplay/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(grep -v '^pci\|nvme' "$run/vmplay/stderr.txt" | head -c 300)"

markers() { grep -a '^VMPLAY-MARKER' "$1" 2>/dev/null | tr -d '\r' | sed 's/ *$//'; }
got=$(markers "$run/vmplay/storage-serial.txt")
pattern_md5=$({ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } | md5sum | cut -c1-32)
exp="VMPLAY-MARKER: init started mode=storage
VMPLAY-MARKER: kernel $kver
VMPLAY-MARKER: disks nvme0n1 nvme0n2
VMPLAY-MARKER: disk nvme0n1 131072 @PCI@ nvme
VMPLAY-MARKER: disk nvme0n2 32768 @PCI@ nvme
VMPLAY-MARKER: wrote data disk $pattern_md5
VMPLAY-MARKER: read data disk $pattern_md5
VMPLAY-MARKER: poweroff"
norm() { sed 's/0000:00:[0-9a-f][0-9a-f]\.[0-7]/@PCI@/'; }
if [ "$(echo "$got" | norm)" = "$exp" ]; then ok markers_nvme_driver_pattern
else bad markers_nvme_driver_pattern "$(diff <(echo "$exp") <(echo "$got" | norm) | grep '^[<>]' | head -4 | tr '\n' '|')"; fi
echo "$got" | grep -q 'disk nvme0n1 131072 0000:00:18.0 nvme' && ok pci_slot_24 ||
    bad pci_slot_24 "nvme0 is not at 00:18.0"

# Linux's nvme driver uses MSI-X: its messages are writes to the local APIC's window.
nmsg=$(grep -c 'nvme: message 0xfee' "$run/vmplay/stderr.txt")
[ "$nmsg" -gt 10 ] && ok msix_messages_to_apic || bad msix_messages_to_apic "$nmsg MSI messages"

# The data disk, read by qemu-img, against the expected raw image.
{ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > "$run/pattern"
truncate -s 16M "$run/expected.raw"
dd if="$run/pattern" of="$run/expected.raw" bs=512 conv=sync,notrunc 2>/dev/null
if qemu-img compare -q -f vmdk -F raw "$run/vmplay/data.vmdk" "$run/expected.raw"; then ok data_disk_qemu_img_compare
else bad data_disk_qemu_img_compare "$(qemu-img compare -f vmdk -F raw "$run/vmplay/data.vmdk" "$run/expected.raw" 2>&1 | head -2 | tr '\n' ' ')"; fi

# The same image under QEMU's NVMe controller: the same markers.
if ! command -v qemu-system-i386 >/dev/null; then
    skip qemu_tcg_nvme "qemu-system-i386 not installed"
elif ! qemu-system-i386 -device help 2>/dev/null | grep -q '"nvme-ns"'; then
    skip qemu_tcg_nvme "this qemu-system-i386 has no nvme-ns device"
else
    timeout 600 qemu-system-i386 -accel tcg -M pc -m 256 -nodefaults -vga std -display none -no-reboot \
        -drive file="$img/storage.vmdk",format=vmdk,if=none,id=d0,snapshot=on \
        -drive file="$run/qemu/data.vmdk",format=vmdk,if=none,id=d1 \
        -device nvme,id=nvme0,serial=vmplay0 -device nvme-ns,drive=d0,bus=nvme0,nsid=1 \
        -device nvme-ns,drive=d1,bus=nvme0,nsid=2 \
        -serial file:"$run/qemu/storage-serial.txt" >"$run/qemu/stdout.txt" 2>&1
    qgot=$(markers "$run/qemu/storage-serial.txt")
    if [ "$(echo "$qgot" | norm)" = "$exp" ]; then ok qemu_tcg_nvme_same_markers
    else bad qemu_tcg_nvme_same_markers "$(diff <(echo "$exp") <(echo "$qgot" | norm) | grep '^[<>]' | head -4 | tr '\n' '|')"; fi
    qemu-img compare -q -f vmdk -F raw "$run/qemu/data.vmdk" "$run/expected.raw" &&
        ok qemu_data_disk_compare || bad qemu_data_disk_compare "QEMU's data disk differs from the expected image"
fi
