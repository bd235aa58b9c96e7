#!/usr/bin/env bash
# Cross-check of the appliance's oracle: the same images under QEMU TCG print
# the marker lines tests/guest/expected/ holds (what t_appliance.sh and, for
# the amd64 image under qemu-system-x86_64, t_appliance64.sh demand of vmplay).
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

# The 64-bit appliance under qemu-system-x86_64.
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP crosscheck/qemu64: qemu-system-x86_64 not installed"; exit 0; }
img64=$(ARCH=amd64 tests/images/appliance.sh 2>/dev/null) || { bad image64_build "ARCH=amd64 tests/images/appliance.sh failed"; exit 0; }
kver64=$(cat "$img64/kernel-version")
cp "$img64/data.vmdk" "$run/data64.vmdk"
timeout 300 qemu-system-x86_64 -accel tcg -M pc -m 256 -nodefaults -vga std -display none -no-reboot \
  -drive file="$img64/test.vmdk",format=vmdk,if=ide,index=0,snapshot=on \
  -drive file="$run/data64.vmdk",format=vmdk,if=ide,index=1 -serial file:"$run/test64-serial.txt"
got=$(grep -a '^VMPLAY-MARKER' "$run/test64-serial.txt" | tr -d '\r' | sed 's/ *$//')
exp=$(sed "s/@KVER@/$kver64/" tests/guest/expected/test-markers.txt)
[ "$got" = "$exp" ] && ok qemu64_tcg_disk_markers || bad qemu64_tcg_disk_markers "$(echo "$got" | tr '\n' '|')"
