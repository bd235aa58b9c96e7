#!/usr/bin/env bash
# Floppy end to end: a 1.44 MB FAT image made here with mkfs.fat and syslinux, as
# floppy0 of a .vmx, booted by SeaBIOS through the 82077AA and the 8237 (DMA channel 2,
# IRQ 6). syslinux's cat.c32 prints a 25 KB text file from the floppy to serial0, then
# poweroff.c32 powers the machine off through APM. Oracles: the lines on serial0 equal
# the file (it spans three tracks and both heads), exit status 0, SeaBIOS's "Booting
# from Floppy", and QEMU booting the same image printing the same serial output.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS floppy/$1"; }
bad() { echo "FAIL floppy/$1: $2"; }
skip() { echo "SKIP floppy/$1: $2"; }
mods=/usr/lib/syslinux/modules/bios
for t in mkfs.fat syslinux mcopy; do
    command -v $t >/dev/null || { skip boot "$t not installed (dosfstools, syslinux, mtools)"; exit 0; }
done
[ -e $mods/cat.c32 ] && [ -e $mods/poweroff.c32 ] || { skip boot "no $mods (Debian syslinux-common)"; exit 0; }
run=$BUILD/guest/floppy
rm -rf "$run"; mkdir -p "$run"
seq -f 'VMPLAY-FLOPPY-LINE %05g' 1 1000 > "$run/lines.txt"
cat > "$run/syslinux.cfg" <<'CFG'
SERIAL 0 115200
PROMPT 0
TIMEOUT 1
DEFAULT show
ONTIMEOUT off
LABEL show
  COM32 cat.c32
  APPEND lines.txt
LABEL off
  COM32 poweroff.c32
CFG
img=$run/floppy.flp
mkfs.fat -C "$img" 1440 >/dev/null && syslinux --install "$img" &&
    mcopy -i "$img" "$run/syslinux.cfg" "$run/lines.txt" $mods/cat.c32 $mods/poweroff.c32 \
        $mods/libcom32.c32 $mods/libutil.c32 :: || { bad image_build "mkfs.fat/syslinux/mcopy failed"; exit 0; }
[ "$(stat -c %s "$img")" = 1474560 ] && ok image_1440k || bad image_1440k "$(stat -c %s "$img") bytes"
cp "$img" "$run/qemu.flp"
cat > "$run/floppy.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "vmplay floppy boot"
guestOS = "other"
memsize = "64"
floppy0.present = "TRUE"
floppy0.fileType = "file"
floppy0.fileName = "floppy.flp"
floppy0.clientDevice = "FALSE"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
VMX
(cd "$run" && timeout 600 "$V" --headless --cpu=soft --timeout=300 --debugcon=debugcon.txt floppy.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
grep -aq 'Booting from Floppy' "$run/debugcon.txt" && ok seabios_floppy_boot ||
    bad seabios_floppy_boot "no 'Booting from Floppy' on the debug port"
got=$(grep -a '^VMPLAY-FLOPPY-LINE' "$run/serial.txt" | tr -d '\r')
if [ "$got" = "$(cat "$run/lines.txt")" ]; then ok serial_lines_equal_file
else bad serial_lines_equal_file "$(echo "$got" | wc -l) lines; first difference: $(diff <(echo "$got") "$run/lines.txt" | head -2 | tr '\n' '|')"; fi
if ! command -v qemu-system-i386 >/dev/null; then
    skip qemu_same_serial "qemu-system-i386 not installed"
else
    timeout 300 qemu-system-i386 -accel tcg -M pc -m 64 -nodefaults -vga std -display none -no-reboot \
        -drive file="$run/qemu.flp",format=raw,if=floppy -serial file:"$run/qemu-serial.txt" >/dev/null 2>&1
    cmp -s "$run/serial.txt" "$run/qemu-serial.txt" && ok qemu_same_serial ||
        bad qemu_same_serial "QEMU's serial output differs: $(cmp "$run/serial.txt" "$run/qemu-serial.txt" 2>&1)"
fi

# Linux's floppy driver probes the controller (VERSION, DUMPREG, PERPENDICULAR, UNLOCK,
# PARTID, CONFIGURE) and finds drive A: from CMOS: the storage mode lists fd0, with size 0
# until it is opened (QEMU 7.2 with the same image and kernel prints the same line).
img=$(tests/images/appliance.sh 2>/dev/null) || { bad image_build "tests/images/appliance.sh failed"; exit 0; }
mkdir -p "$run/linux"
cp "$img/storage.vmdk" "$img/data.vmdk" "$run/floppy.flp" "$run/linux/"
sed -e 's/floppy.flp/floppy.flp/' -e 's/serial.txt/storage-serial.txt/' -e 's/memsize = "64"/memsize = "256"/' \
    -e 's/guestOS = "other"/guestOS = "debian12"/' "$run/floppy.vmx" > "$run/linux/storage.vmx"
printf '%s\n' 'ide0:0.present = "TRUE"' 'ide0:0.fileName = "storage.vmdk"' 'ide0:1.present = "TRUE"' \
    'ide0:1.fileName = "data.vmdk"' 'bios.bootOrder = "hdd"' >> "$run/linux/storage.vmx"
(cd "$run/linux" && timeout 900 "$V" --headless --cpu=soft --timeout=600 storage.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/linux/status")
grep -a '^VMPLAY-MARKER' "$run/linux/storage-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//' > "$run/linux/markers"
[ "$st" = 0 ] && grep -qx 'VMPLAY-MARKER: disk fd0 0 nopci floppy' "$run/linux/markers" &&
    grep -qx 'VMPLAY-MARKER: poweroff' "$run/linux/markers" && ok linux_floppy_driver_lists_fd0 ||
    bad linux_floppy_driver_lists_fd0 "status $st; markers: $(tr '\n' '|' < "$run/linux/markers")"
