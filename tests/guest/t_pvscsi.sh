#!/usr/bin/env bash
# PVSCSI end to end: the appliance's storage mode with storage.vmdk (the boot
# disk, through SeaBIOS's pvscsi driver) on scsi0:0 and data.vmdk on scsi0:1,
# scsi0.virtualDev = "pvscsi", the .vmx as VMware writes one. Oracles: the
# guest's markers (both disks behind PCI 00:10.0 with Linux's vmw_pvscsi
# driver, the data pattern read back equal to what was written), power-off
# status 0, qemu-img compare of the data disk with the expected raw image (the
# pattern padded to 512-byte sectors over 16 MiB of zeros), and the same disks
# under QEMU's own pvscsi (qemu-system-i386 -device pvscsi) listing the same
# disks and reading the same data. Then the isolinux ISO on a SCSI CD
# (scsi0:1 cdrom-image, bios.bootOrder = "cdrom") boots to the CD markers.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS pvscsi/$1"; }
bad() { echo "FAIL pvscsi/$1: $2"; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/pvscsi
rm -rf "$run"; mkdir -p "$run/vm" "$run/cd" "$run/qemu"
cp "$img/storage.vmdk" "$img/data.vmdk" "$run/vm/"

vmx_head() { # name
    cat <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
pciBridge0.present = "TRUE"
pciBridge4.present = "TRUE"
pciBridge4.virtualDev = "pcieRootPort"
pciBridge4.functions = "8"
vmci0.present = "TRUE"
hpet0.present = "TRUE"
nvram = "$1.nvram"
virtualHW.productCompatibility = "hosted"
powerType.powerOff = "soft"
powerType.powerOn = "soft"
powerType.suspend = "soft"
powerType.reset = "soft"
displayName = "vmplay $1"
guestOS = "other5xlinux"
memsize = "256"
numvcpus = "1"
scsi0.virtualDev = "pvscsi"
scsi0.present = "TRUE"
floppy0.present = "FALSE"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "$1-serial.txt"
uuid.bios = "56 4d 5a 0b 8c 27 13 37-a0 1b 7c 4d 2e 6f 90 13"
scsi0.pciSlotNumber = "160"
scsi0.sasWWID = "50 05 05 6b 8c 27 13 30"
EOF
}
{
    vmx_head storage
    cat <<'EOF'
scsi0:0.fileName = "storage.vmdk"
scsi0:0.present = "TRUE"
scsi0:1.fileName = "data.vmdk"
scsi0:1.present = "TRUE"
scsi0:0.redo = ""
scsi0:1.redo = ""
EOF
} > "$run/vm/storage.vmx"

# --check names the controller and each disk on it.
chk=$("$V" --check "$run/vm/storage.vmx" 2>&1)
if echo "$chk" | grep -q '^scsi0 *controller pvscsi$' && echo "$chk" | grep -q '^scsi0:0 .*storage.vmdk on pvscsi$' &&
    echo "$chk" | grep -q '^scsi0:1 .*data.vmdk on pvscsi$'; then ok check_shows_controller
else bad check_shows_controller "$(echo "$chk" | grep -i scsi | tr '\n' '|')"; fi

start=$(date +%s.%N)
(cd "$run/vm" && timeout 900 "$V" --headless --cpu=soft --timeout=600 storage.vmx >stdout.txt 2>stderr.txt
 echo $? > status)
end=$(date +%s.%N)
st=$(cat "$run/vm/status")
markers() { grep -a '^VMPLAY-MARKER' "$1" 2>/dev/null | tr -d '\r' | sed 's/ *$//'; }
got=$(markers "$run/vm/storage-serial.txt")
# disk names: sd probes asynchronously, so sda may be either; sizes decide
disk_list() { grep '^VMPLAY-MARKER: disk ' | awk '{print $4, $5, $6}' | sort; }
disks=$(echo "$got" | disk_list)
# storage.vmdk's size in sectors, as the guest must see it
boot_sectors=$(qemu-img info --output=json "$img/storage.vmdk" 2>/dev/null |
    sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p' | head -1)
boot_sectors=$((${boot_sectors:-0} / 512))
want_disks=$(printf '%s 0000:00:10.0 vmw_pvscsi\n' "$boot_sectors" 32768 | sort)
if [ "$st" = 0 ] && [ "$disks" = "$want_disks" ]; then ok disks_on_vmw_pvscsi
else bad disks_on_vmw_pvscsi "status $st; markers: $(echo "$got" | tr '\n' '|') $(head -c 300 "$run/vm/stderr.txt")"; fi
w=$(echo "$got" | sed -n 's/^VMPLAY-MARKER: wrote data disk //p')
r=$(echo "$got" | sed -n 's/^VMPLAY-MARKER: read data disk //p')
[ -n "$w" ] && [ "$w" = "$r" ] && ok data_written_and_read_back ||
    bad data_written_and_read_back "wrote '$w' read '$r'"
echo "$got" | grep -q '^VMPLAY-MARKER: poweroff' && [ "$st" = 0 ] && ok power_off_status_0 ||
    bad power_off_status_0 "status $st"
echo "INFO pvscsi/boot_seconds $(echo "$end - $start" | bc 2>/dev/null)" >&2

# The data disk against the pattern padded to sectors over 16 MiB of zeros.
{ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > "$run/pattern"
truncate -s 16M "$run/expected.raw"
dd if="$run/pattern" of="$run/expected.raw" bs=512 conv=sync,notrunc status=none
if command -v qemu-img >/dev/null; then
    if out=$(qemu-img compare -f vmdk -F raw "$run/vm/data.vmdk" "$run/expected.raw" 2>&1); then
        ok data_disk_equals_expected_image
    else bad data_disk_equals_expected_image "$out"; fi
else
    echo "SKIP pvscsi/data_disk_equals_expected_image: qemu-img not installed (qemu-utils)"
fi

# The same disks under QEMU's pvscsi: the same disk list, the same data read.
if ! command -v qemu-system-i386 >/dev/null; then
    echo "SKIP pvscsi/qemu_pvscsi_reads_the_same: qemu-system-i386 not installed"
elif ! qemu-system-i386 -device help 2>/dev/null | grep -q '"pvscsi"'; then
    echo "SKIP pvscsi/qemu_pvscsi_reads_the_same: this QEMU has no pvscsi device"
else
    cp "$run/vm/data.vmdk" "$run/qemu/data.vmdk"
    timeout 900 qemu-system-i386 -accel tcg -M pc -m 256 -nodefaults -vga std -display none -no-reboot \
        -device pvscsi,id=hba,addr=0x10 \
        -drive file="$img/storage.vmdk",format=vmdk,if=none,id=d0,snapshot=on \
        -device scsi-hd,drive=d0,bus=hba.0,scsi-id=0,lun=0,bootindex=0 \
        -drive file="$run/qemu/data.vmdk",format=vmdk,if=none,id=d1 \
        -device scsi-hd,drive=d1,bus=hba.0,scsi-id=1,lun=0 \
        -serial file:"$run/qemu/serial.txt" >/dev/null 2>"$run/qemu/stderr.txt"
    qgot=$(markers "$run/qemu/serial.txt")
    qdisks=$(echo "$qgot" | disk_list)
    qr=$(echo "$qgot" | sed -n 's/^VMPLAY-MARKER: read data disk //p')
    if [ "$qdisks" = "$want_disks" ] && [ -n "$qr" ] && [ "$qr" = "$r" ]; then ok qemu_pvscsi_reads_the_same
    else bad qemu_pvscsi_reads_the_same "QEMU markers: $(echo "$qgot" | tr '\n' '|')"; fi
fi

# The isolinux ISO on a SCSI CD.
cp "$img/test.iso" "$run/cd/"
{
    vmx_head cdrom
    cat <<'EOF'
scsi0:1.deviceType = "cdrom-image"
scsi0:1.fileName = "test.iso"
scsi0:1.present = "TRUE"
bios.bootOrder = "cdrom"
EOF
} > "$run/cd/cdrom.vmx"
(cd "$run/cd" && timeout 900 "$V" --headless --cpu=soft --timeout=600 cdrom.vmx >stdout.txt 2>stderr.txt
 echo $? > status)
got=$(markers "$run/cd/cdrom-serial.txt")
exp=$(sed "s/@KVER@/$kver/" tests/guest/expected/cdrom-markers.txt)
[ "$got" = "$exp" ] && [ "$(cat "$run/cd/status")" = 0 ] && ok scsi_cdrom_boot ||
    bad scsi_cdrom_boot "status $(cat "$run/cd/status"); markers: $(echo "$got" | tr '\n' '|')"
