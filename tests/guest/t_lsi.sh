#!/usr/bin/env bash
# The LSI Logic controllers (issue 15): the appliance's storage mode with the boot disk
# (storage.vmdk) on scsi0:0 and the 16 MiB data disk on scsi0:1, once behind
# scsi0.virtualDev = "lsilogic" (LSI53C1030) and once behind "lsisas1068" (SAS1068).
# SeaBIOS must boot from the controller (its mpt-scsi driver), Linux 6.1 must bind the
# disks to mptspi resp. mptsas, and the pattern the guest writes must read back equal.
# Oracles: the guest's markers (driver per disk, md5 written == md5 read), exit 0, and
# qemu-img compare of the data disk against the expected raw image (the pattern padded
# to 512-byte sectors over 16 MiB of zeros). Then QEMU's own mptsas1068 model gets the
# disk vmplay wrote: where Linux sees it there, what it reads must match. Last, the
# appliance's isolinux ISO as a SCSI CD on lsilogic and on lsisas1068 boots to its own markers.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest/lsi_$1"; }
bad() { echo "FAIL guest/lsi_$1: $2"; }
skip() { echo "SKIP guest/lsi_$1: $2"; }

img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
run=$BUILD/guest/lsi
rm -rf "$run"; mkdir -p "$run"

# The expected data disk: what the storage mode's dd writes, over zeros.
{ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > "$run/pattern"
truncate -s 16M "$run/expected.raw"
dd if="$run/pattern" of="$run/expected.raw" bs=512 conv=sync,notrunc 2>/dev/null
want=$(md5sum < "$run/pattern" | cut -c1-32)

# write_vmx NAME VIRTUALDEV: the .vmx as VMware Workstation writes it for a SCSI VM.
write_vmx() {
    cat > "$run/$1/$1.vmx" <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay storage on $2"
guestOS = "debian12"
memsize = "256"
numvcpus = "1"
pciBridge0.present = "TRUE"
vmci0.present = "TRUE"
floppy0.present = "FALSE"
scsi0.virtualDev = "$2"
scsi0.present = "TRUE"
scsi0:0.fileName = "storage.vmdk"
scsi0:0.present = "TRUE"
scsi0:1.fileName = "data.vmdk"
scsi0:1.present = "TRUE"
scsi0.pciSlotNumber = "16"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
EOF
}

# boot DEV DRIVER
boot() {
    local dev=$1 drv=$2 d=$run/$1
    mkdir -p "$d"
    cp "$img/storage.vmdk" "$img/data.vmdk" "$d/"
    write_vmx "$dev" "$dev"
    if "$V" --check "$d/$dev.vmx" 2>&1 | grep -q "scsi0 .*NOT PRESENTED"; then
        skip "$dev" "this build does not present scsi0 ($dev): the board's SCSI controller table lacks it"
        rm -f "$d/data.vmdk"
        return
    fi
    nice "$V" --headless --cpu=soft --timeout=600 "$d/$dev.vmx" > "$d/out.txt" 2>&1
    local rc=$?
    local s=$d/serial.clean
    tr -d '\r' < "$d/serial.txt" > "$s" 2>/dev/null
    [ "$rc" = 0 ] && ok "${dev}_exit" || bad "${dev}_exit" "vmplay exited $rc: $(tail -2 "$d/out.txt" | tr '\n' ' ')"
    grep -q 'VMPLAY-MARKER: init started mode=storage' "$s" 2>/dev/null &&
        ok "${dev}_boot" || { bad "${dev}_boot" "SeaBIOS did not boot the kernel from $dev"; return; }
    local n
    n=$(grep -c "VMPLAY-MARKER: disk sd[a-z] [0-9]* 0000:00:[0-9a-f.]* $drv\$" "$s")
    [ "$n" = 2 ] && ok "${dev}_driver" ||
        bad "${dev}_driver" "$n disks on $drv: $(grep 'MARKER: disk ' "$s" | tr '\n' ' ')"
    local w r
    w=$(sed -n 's/.*VMPLAY-MARKER: wrote data disk \([0-9a-f]*\).*/\1/p' "$s")
    r=$(sed -n 's/.*VMPLAY-MARKER: read data disk \([0-9a-f]*\).*/\1/p' "$s")
    [ -n "$w" ] && [ "$w" = "$want" ] && [ "$r" = "$w" ] && ok "${dev}_data" ||
        bad "${dev}_data" "wrote '$w' read '$r', want $want"
    if command -v qemu-img >/dev/null; then
        qemu-img compare -q -f vmdk -F raw "$d/data.vmdk" "$run/expected.raw" &&
            ok "${dev}_image" || bad "${dev}_image" "qemu-img compare: data.vmdk differs from the expected image"
    else
        skip "${dev}_image" "qemu-img missing (qemu-utils)"
    fi
}

boot lsilogic mptspi
boot lsisas1068 mptsas

# QEMU's mptsas1068 with the data disk vmplay's SAS run wrote (the boot disk on IDE).
q=$run/qemu
if ! command -v qemu-system-i386 >/dev/null; then
    skip qemu_mptsas1068 "qemu-system-i386 missing"
elif ! qemu-system-i386 -device help 2>/dev/null | grep -q '"mptsas1068"'; then
    skip qemu_mptsas1068 "this QEMU has no mptsas1068 device"
elif [ ! -f "$run/lsisas1068/data.vmdk" ]; then
    skip qemu_mptsas1068 "the lsisas1068 run left no data disk"
else
    mkdir -p "$q"
    cp "$img/storage.vmdk" "$run/lsisas1068/data.vmdk" "$q/"
    nice timeout 600 qemu-system-i386 -accel tcg -m 256 -display none -no-reboot -nodefaults \
        -drive file="$q/storage.vmdk",format=vmdk,if=ide,snapshot=on \
        -device mptsas1068,id=sas -drive file="$q/data.vmdk",format=vmdk,if=none,id=d0 \
        -device scsi-hd,drive=d0,bus=sas.0 -serial file:"$q/serial.txt" > "$q/out.txt" 2>&1
    tr -d '\r' < "$q/serial.txt" > "$q/serial.clean" 2>/dev/null
    qr=$(sed -n 's/.*VMPLAY-MARKER: read data disk \([0-9a-f]*\).*/\1/p' "$q/serial.clean")
    if grep -q 'VMPLAY-MARKER: disk sd[a-z] 32768 .* mptsas$' "$q/serial.clean"; then
        [ "$qr" = "$want" ] && ok qemu_mptsas1068 ||
            bad qemu_mptsas1068 "QEMU's mptsas1068 read '$qr', want $want"
    elif grep -q 'VMPLAY-MARKER: init started' "$q/serial.clean"; then
        skip qemu_mptsas1068 "Linux 6.1's mptsas shows no disk behind QEMU's mptsas1068 (its SAS discovery pages; FIELD-NOTES)"
    else
        bad qemu_mptsas1068 "the appliance did not boot under QEMU: $(tail -2 "$q/out.txt" | tr '\n' ' ')"
    fi
fi

# The isolinux ISO on a SCSI CD (scsi0:1 cdrom-image) behind each MPT controller, lsilogic and
# lsisas1068: SeaBIOS's MPT driver finds the CD and El Torito boots it; oracle: the ISO's own
# markers on serial and exit 0.
kver=$(cat "$img/kernel-version")
exp=$(sed "s/@KVER@/$kver/" tests/guest/expected/cdrom-markers.txt | grep -v '^VMPLAY-MARKER: arith ')
# cd_boot VIRTUALDEV TESTNAME
cd_boot() {
    local c=$run/cd-$1
    mkdir -p "$c"
    cp "$img/test.iso" "$c/"
    cat > "$c/cdrom.vmx" <<EOF
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay CD on $1"
guestOS = "debian12"
memsize = "256"
numvcpus = "1"
pciBridge0.present = "TRUE"
floppy0.present = "FALSE"
scsi0.virtualDev = "$1"
scsi0.present = "TRUE"
scsi0.pciSlotNumber = "16"
scsi0:1.deviceType = "cdrom-image"
scsi0:1.fileName = "test.iso"
scsi0:1.present = "TRUE"
bios.bootOrder = "cdrom"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "cdrom-serial.txt"
EOF
    # The arith line is the software CPU's floating point, not the CD's: it is left to t_appliance
    # (once seen here as "arith 42 -2.69654e+308" with every other marker right).
    # Known intermittent bug, not understood yet: the lsilogic CD boot once hung right after
    # "kernel" (no further output for 600 s, CI on 6569696), and passed in every rerun. A
    # boot that stops like that is reported (SKIP ..._first_try, with its serial kept) and
    # run once more; the second boot must pass.
    local got try
    for try in 1 2; do
        rm -f "$c/cdrom-serial.txt"
        (cd "$c" && timeout 900 "$V" --headless --cpu=soft --timeout=300 cdrom.vmx >stdout.txt 2>stderr.txt
         echo $? > status)
        got=$(grep -a '^VMPLAY-MARKER' "$c/cdrom-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//' |
            grep -v '^VMPLAY-MARKER: arith ')
        [ $try = 1 ] && [ "$(cat "$c/status")" = 124 ] && [ "$(echo "$got" | wc -l)" -le 2 ] || break
        cp "$c/cdrom-serial.txt" "$c/first-try-serial.txt" 2>/dev/null
        echo "SKIP guest/lsi_${2}_first_try: the boot stopped after '$(echo "$got" | tail -1)' until --timeout (known intermittent hang; $c/first-try-serial.txt); booting once more"
    done
    [ "$got" = "$exp" ] && [ "$(cat "$c/status")" = 0 ] && ok "$2" ||
        bad "$2" "status $(cat "$c/status"); markers: $(echo "$got" | tr '\n' '|')"
}
cd_boot lsilogic scsi_cdrom_boot
cd_boot lsisas1068 sas_cdrom_boot
exit 0
