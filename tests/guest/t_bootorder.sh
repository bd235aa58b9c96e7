#!/usr/bin/env bash
# bios.bootOrder / bios.hddOrder pick the boot disk (issue 15), passed to SeaBIOS as fw_cfg
# "bootorder" device paths at the board's PCI slots (pciSlotNumber followed on bus 0). Two
# bootable disks on two controllers: the appliance's test.vmdk on scsi0:0 (lsilogic) and its
# storage.vmdk on nvme0:0 (nvme0.pciSlotNumber = "9": 00:09.0). Oracle: the mode the booted
# disk's kernel command line names, in the first serial marker ("init started mode=..."),
# must be the disk hddOrder lists first, in both orders; the storage mode's markers also
# name the PCI address Linux found each controller at.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS bootorder/$1"; }
bad() { echo "FAIL bootorder/$1: $2"; }

img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/bootorder
rm -rf "$run"; mkdir -p "$run"
markers() { grep -a '^VMPLAY-MARKER' "$1" 2>/dev/null | tr -d '\r' | sed 's/ *$//'; }

# boot NAME HDDORDER: a VM with both disks; prints the first marker's mode.
boot() {
    local d=$run/$1
    mkdir -p "$d"
    cp "$img/test.vmdk" "$img/storage.vmdk" "$d/"
    cat > "$d/$1.vmx" <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay boot order $1"
guestOS = "debian12"
memsize = "256"
numvcpus = "1"
pciBridge0.present = "TRUE"
floppy0.present = "FALSE"
scsi0.virtualDev = "lsilogic"
scsi0.present = "TRUE"
scsi0.pciSlotNumber = "16"
scsi0:0.fileName = "test.vmdk"
scsi0:0.present = "TRUE"
nvme0.present = "TRUE"
nvme0.pciSlotNumber = "9"
nvme0:0.fileName = "storage.vmdk"
nvme0:0.present = "TRUE"
bios.bootOrder = "hdd,cdrom"
bios.hddOrder = "$2"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
EOF
    (cd "$d" && timeout 900 "$V" --headless --cpu=soft --timeout=600 "$1.vmx" >stdout.txt 2>stderr.txt
     echo $? > status)
}

boot nvme_first "nvme0:0,scsi0:0"
got=$(markers "$run/nvme_first/serial.txt")
if [ "$(echo "$got" | head -1)" = "VMPLAY-MARKER: init started mode=storage" ] &&
    [ "$(cat "$run/nvme_first/status")" = 0 ]; then ok hdd_order_nvme_first_boots_nvme
else bad hdd_order_nvme_first_boots_nvme "status $(cat "$run/nvme_first/status"): $(echo "$got" | head -2 | tr '\n' '|')"; fi
# pciSlotNumber 9 on bus 0 is followed, 16 (VMware's own scsi0 slot) is the default anyway.
if echo "$got" | grep -q '^VMPLAY-MARKER: disk nvme0n1 131072 0000:00:09.0 nvme$' &&
    echo "$got" | grep -q '^VMPLAY-MARKER: disk sda [0-9]* 0000:00:10.0 mptspi$'; then
    ok pci_slot_numbers_followed
else bad pci_slot_numbers_followed "$(echo "$got" | grep 'disk ' | tr '\n' '|')"; fi

boot scsi_first "scsi0:0,nvme0:0"
got=$(markers "$run/scsi_first/serial.txt")
if [ "$(echo "$got" | head -1)" = "VMPLAY-MARKER: init started mode=test" ] &&
    [ "$(cat "$run/scsi_first/status")" = 0 ]; then ok hdd_order_scsi_first_boots_scsi
else bad hdd_order_scsi_first_boots_scsi "status $(cat "$run/scsi_first/status"): $(echo "$got" | head -2 | tr '\n' '|')"; fi
exit 0
