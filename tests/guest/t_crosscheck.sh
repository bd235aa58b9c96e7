#!/usr/bin/env bash
# Cross-check of the appliance's oracle: the same images under QEMU TCG print
# the marker lines tests/guest/expected/ holds (what t_appliance.sh demands of vmplay).
set -u
BUILD=${BUILD:-build}
ok() { echo "PASS crosscheck/$1"; }
bad() { echo "FAIL crosscheck/$1: $2"; }
command -v qemu-system-i386 >/dev/null || { echo "SKIP crosscheck/qemu: qemu-system-i386 not installed"; exit 0; }
img=$(tests/images/appliance.sh 2>/dev/null) || { bad image_build "tests/images/appliance.sh failed"; exit 0; }
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/crosscheck
rm -rf "$run"; mkdir -p "$run"
cp "$img/data.vmdk" "$run/data.vmdk"
q() { timeout 300 qemu-system-i386 -accel tcg -M pc -m 256 -nodefaults -vga std -display none -no-reboot "$@"; }
q -drive file="$img/test.vmdk",format=vmdk,if=ide,index=0,snapshot=on \
  -drive file="$run/data.vmdk",format=vmdk,if=ide,index=1 -serial file:"$run/test-serial.txt"
got=$(grep -a '^VMPLAY-MARKER' "$run/test-serial.txt" | tr -d '\r' | sed 's/ *$//')
exp=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
[ "$got" = "$exp" ] && ok qemu_tcg_disk_markers || bad qemu_tcg_disk_markers "$(echo "$got" | tr '\n' '|')"
q -drive file="$img/test.iso",media=cdrom,if=ide,index=2 -boot d -serial file:"$run/cd-serial.txt"
got=$(grep -a '^VMPLAY-MARKER' "$run/cd-serial.txt" | tr -d '\r' | sed 's/ *$//')
exp=$(sed "s/@KVER@/$kver/" tests/guest/expected/cdrom-markers.txt)
[ "$got" = "$exp" ] && ok qemu_tcg_cdrom_markers || bad qemu_tcg_cdrom_markers "$(echo "$got" | tr '\n' '|')"
