#!/usr/bin/env bash
# The AHCI controller (sataN) under a real guest: SeaBIOS boots the test appliance's
# storage mode from sata0:0 and Linux 6.1's ahci driver (it binds by class) drives
# both disks, the data disk on sata0:1. Oracles: the guest's markers (each disk with
# the PCI driver behind it; the pattern it wrote and read back, equal to the pattern's
# md5 computed here), qemu-img compare of the data disk against the expected image
# (the pattern padded to 512-byte sectors over 16 MiB of zeros, built here), QEMU's
# own AHCI (qemu-system-i386 -device ahci) reading the same data disk back through
# the appliance's readback mode, and the appliance's test.iso on sata0:1 as a
# cdrom-image booting with bios.bootOrder = "cdrom" to the markers it prints on IDE.
# The .vmx files are written as VMware Workstation writes them.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS ahci/$1"; }
bad() { echo "FAIL ahci/$1: $2"; }
skip() { echo "SKIP ahci/$1: $2"; }

img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/ahci
rm -rf "$run"; mkdir -p "$run/vm" "$run/cd"

vmx() { # file display-name extra-lines...: the header appliance.sh's write_vmx writes
    local f=$1 name=$2; shift 2
    {
        echo '.encoding = "UTF-8"'
        echo 'config.version = "8"'
        echo 'virtualHW.version = "19"'
        echo "displayName = \"$name\""
        echo 'guestOS = "debian12"'
        echo 'memsize = "256"'
        echo 'numvcpus = "1"'
        echo 'uuid.bios = "56 4d 5a 0b 8c 27 13 37-a0 1b 7c 4d 2e 6f 90 12"'
        echo 'pciBridge0.present = "TRUE"'
        echo 'vmci0.present = "TRUE"'
        echo 'floppy0.present = "FALSE"'
        echo 'serial0.present = "TRUE"'
        echo 'serial0.fileType = "file"'
        echo 'serial0.fileName = "serial.txt"'
        echo 'sata0.present = "TRUE"'
        echo 'sata0.pciSlotNumber = "33"'
        printf '%s\n' "$@"
    } > "$f"
}
markers() { grep -a '^VMPLAY-MARKER' "$1" 2>/dev/null | tr -d '\r' | sed 's/ *$//'; }

# ---- the storage mode on sata0:0 (boot) and sata0:1 (data) ----
cp "$img/storage.vmdk" "$img/data.vmdk" "$run/vm/"
vmx "$run/vm/sata.vmx" "vmplay storage on SATA" \
    'sata0:0.present = "TRUE"' 'sata0:0.fileName = "storage.vmdk"' \
    'sata0:1.present = "TRUE"' 'sata0:1.fileName = "data.vmdk"'
# --check presents what the run presents: the controller and both disks, nothing left out.
chk=$(cd "$run/vm" && "$V" --check sata.vmx 2>&1)
if echo "$chk" | grep -q '^sata0 *controller ahci$' && echo "$chk" | grep -q '^sata0:1 *disk ' &&
    ! echo "$chk" | grep -q 'NOT PRESENTED'; then
    ok check_presents_the_sata_disks
else
    bad check_presents_the_sata_disks "$(echo "$chk" | grep sata | tr '\n' '|')"
fi
(cd "$run/vm" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --debugcon=debugcon.txt \
    sata.vmx >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/vm/status")
got=$(markers "$run/vm/serial.txt")
[ "$st" = 0 ] && echo "$got" | grep -qx 'VMPLAY-MARKER: poweroff' && ok exit_status_poweroff ||
    bad exit_status_poweroff "status $st: $(head -c 300 "$run/vm/stderr.txt")"
grep -aq 'AHCI/0: registering: "AHCI/0: VMware Virtual SATA Hard Drive' "$run/vm/debugcon.txt" &&
    grep -aq 'Booting from Hard Disk' "$run/vm/debugcon.txt" && ok seabios_boots_the_sata_disk ||
    bad seabios_boots_the_sata_disk "$(grep -a 'AHCI\|Boot' "$run/vm/debugcon.txt" | head -5 | tr '\n' '|')"
if echo "$got" | grep -qE '^VMPLAY-MARKER: disk sd[a-z] 131072 0000:00:[0-9a-f]{2}\.0 ahci$' &&
    echo "$got" | grep -qE '^VMPLAY-MARKER: disk sd[a-z] 32768 0000:00:[0-9a-f]{2}\.0 ahci$' &&
    [ "$(echo "$got" | grep -c '^VMPLAY-MARKER: disk ')" = 2 ]; then
    ok guest_lists_both_disks_on_ahci
else
    bad guest_lists_both_disks_on_ahci "$(echo "$got" | grep 'disk' | tr '\n' '|')"
fi
{ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > "$run/pattern"
want=$(md5sum < "$run/pattern" | cut -c1-32)
w=$(echo "$got" | sed -n 's/^VMPLAY-MARKER: wrote data disk //p')
r=$(echo "$got" | sed -n 's/^VMPLAY-MARKER: read data disk //p')
[ "$w" = "$want" ] && [ "$r" = "$want" ] && ok pattern_written_and_read_back_equal ||
    bad pattern_written_and_read_back_equal "want $want, wrote '$w', read '$r'"

# The data disk holds exactly the pattern, padded to sectors, over zeros.
truncate -s 16M "$run/expected.raw"
dd if="$run/pattern" of="$run/expected.raw" bs=512 conv=sync,notrunc status=none
if ! command -v qemu-img >/dev/null; then
    skip data_disk_equals_expected_image "qemu-img not installed"
elif out=$(qemu-img compare -f vmdk -F raw "$run/vm/data.vmdk" "$run/expected.raw" 2>&1); then
    ok data_disk_equals_expected_image
else
    bad data_disk_equals_expected_image "$(echo "$out" | tail -2 | tr '\n' ' ')"
fi

# ---- QEMU's AHCI reads the same data disk (the appliance's readback mode) ----
if ! command -v qemu-system-i386 >/dev/null; then
    skip qemu_ahci_reads_the_same "qemu-system-i386 not installed"
elif ! qemu-system-i386 -device help 2>/dev/null | grep -q '"ahci"'; then
    skip qemu_ahci_reads_the_same "this qemu-system-i386 has no ahci device"
else
    timeout 600 qemu-system-i386 -accel tcg -M pc -m 256 -nodefaults -vga std -display none \
        -no-reboot -device ahci,id=ahci \
        -drive file="$img/readback.vmdk",format=vmdk,if=none,id=boot,snapshot=on \
        -device ide-hd,drive=boot,bus=ahci.0,bootindex=0 \
        -drive file="$run/vm/data.vmdk",format=vmdk,if=none,id=data,snapshot=on \
        -device ide-hd,drive=data,bus=ahci.1 \
        -serial file:"$run/qemu-serial.txt" >/dev/null 2>"$run/qemu.err"
    q=$(markers "$run/qemu-serial.txt")
    whole=$(md5sum < "$run/expected.raw" | cut -c1-32)
    if echo "$q" | grep -qx "VMPLAY-MARKER: pattern $want" &&
        echo "$q" | grep -qx "VMPLAY-MARKER: whole disk $whole" &&
        echo "$q" | grep -qE '^VMPLAY-MARKER: disk sd[a-z] 32768 0000:00:[0-9a-f]{2}\.0 ahci$'; then
        ok qemu_ahci_reads_the_same
    else
        bad qemu_ahci_reads_the_same "want pattern $want, disk $whole: $(echo "$q" | tr '\n' '|') $(head -c 200 "$run/qemu.err")"
    fi
fi

# ---- test.iso on sata0:1 as a CD image, the boot order saying cdrom ----
cp "$img/test.iso" "$img/storage.vmdk" "$run/cd/"
vmx "$run/cd/cd.vmx" "vmplay CD-ROM boot on SATA" \
    'sata0:0.present = "TRUE"' 'sata0:0.fileName = "storage.vmdk"' \
    'sata0:1.present = "TRUE"' 'sata0:1.fileName = "test.iso"' \
    'sata0:1.deviceType = "cdrom-image"' 'bios.bootOrder = "cdrom"'
(cd "$run/cd" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --debugcon=debugcon.txt \
    cd.vmx >stdout.txt 2>stderr.txt; echo $? > status)
got=$(markers "$run/cd/serial.txt")
exp=$(sed "s/@KVER@/$kver/; s/^VMPLAY-MARKER: disks sr0$/VMPLAY-MARKER: disks sda sr0/" \
    tests/guest/expected/cdrom-markers.txt)
if [ "$got" = "$exp" ] && [ "$(cat "$run/cd/status")" = 0 ] &&
    grep -aq 'Booting from DVD/CD' "$run/cd/debugcon.txt"; then
    ok cdrom_image_boots_with_boot_order_cdrom
else
    bad cdrom_image_boots_with_boot_order_cdrom "status $(cat "$run/cd/status"): $(diff <(echo "$exp") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|')"
fi
