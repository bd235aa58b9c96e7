#!/usr/bin/env bash
# The 64-bit appliance on the software core: Debian 12's amd64 kernel and a
# busybox-static:amd64 initramfs from a VMDK, through SeaBIOS and syslinux,
# in long mode to the appliance's last marker and ACPI power-off.
# Oracles: the marker lines the appliance's init prints (the same lines
# qemu-system-x86_64 -accel tcg prints for the same image, checked in
# t_crosscheck.sh), SeaBIOS's boot line on the debug port, and the second
# disk read back through qemu-img.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest64/$1"; }
bad() { echo "FAIL guest64/$1: $2"; }

img=$(ARCH=amd64 tests/images/appliance.sh 2>"$BUILD/appliance64-build.log") || {
    bad image_build "ARCH=amd64 tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance64-build.log" | tr '\n' ' ')"
    exit 0
}
ok image_build
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/appliance64
rm -rf "$run"; mkdir -p "$run"
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/"
(cd "$run" && timeout 1500 "$V" --headless --cpu=soft --timeout=1200 --deterministic \
    --debugcon=debugcon.txt test.vmx >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
expected=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
got=$(grep -a '^VMPLAY-MARKER' "$run/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
if [ "$got" = "$expected" ]; then ok markers
else
    bad markers "serial markers differ: $(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|') last serial: $(tail -c 300 "$run/test-serial.txt" 2>/dev/null | tr '\n' '|')"
fi
case "$kver" in *-amd64) ok kernel_is_amd64 ;; *) bad kernel_is_amd64 "kernel $kver" ;; esac
grep -aq 'Booting from Hard Disk' "$run/debugcon.txt" 2>/dev/null && ok seabios_boot_line ||
    bad seabios_boot_line "no 'Booting from Hard Disk' on the debug port"
qemu-img check -q "$run/data.vmdk" && qemu-img convert -O raw "$run/data.vmdk" "$run/data.raw" &&
{ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > "$run/data.expected" &&
cmp -s -n "$(stat -c %s "$run/data.expected")" "$run/data.expected" "$run/data.raw" &&
    ok second_disk_readback || bad second_disk_readback "data.vmdk does not hold the guest's pattern"
