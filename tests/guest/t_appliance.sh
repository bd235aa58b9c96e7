#!/usr/bin/env bash
# The first slice end to end: SeaBIOS, syslinux and Debian's i386 kernel from a
# VMDK on the software core, to the appliance's last marker and ACPI power-off.
# Oracles: the marker lines the appliance's init prints (the same lines QEMU TCG
# prints for the same image, checked in t_crosscheck.sh), SeaBIOS's banner on
# the debug port, the kernel's console on the VGA text screen, the second disk
# read back through qemu-img, identical serial output of two deterministic runs,
# and an isolinux ISO booting as ide1:0.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest/$1"; }
bad() { echo "FAIL guest/$1: $2"; }
skip() { echo "SKIP guest/$1: $2"; }

img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
ok image_build
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/appliance
rm -rf "$run"; mkdir -p "$run"

expected_test=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)

boot() { # dir name extra-args... -> runs test.vmx in dir, status in $dir/status
    local dir=$1; shift
    mkdir -p "$dir"
    cp "$img/test.vmx" "$img/test.vmdk" "$dir/"
    cp "$img/data.vmdk" "$dir/data.vmdk"
    (cd "$dir" && timeout 900 "$V" --headless --cpu=soft --timeout=600 "$@" test.vmx \
        >stdout.txt 2>stderr.txt; echo $? > status)
}

boot "$run/a" --deterministic --debugcon=debugcon.txt --screen-text=screen.txt \
    --screenshot=screen.png
st=$(cat "$run/a/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/a/stderr.txt")"
got=$(grep -a '^VMPLAY-MARKER' "$run/a/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
if [ "$got" = "$expected_test" ]; then ok markers
else bad markers "serial markers differ: $(diff <(echo "$expected_test") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|')"; fi
# The kernel runs with loglevel=4: every line it prints on ttyS0 is a warning or worse, but
# the power-down line (issue 24: "mce: Unable to init MCE device" was the last one).
warn=$(grep -a '^\[ *[0-9]*\.[0-9]*\] ' "$run/a/test-serial.txt" 2>/dev/null | tr -d '\r' |
    grep -v '\] reboot: Power down$')
[ -z "$warn" ] && ok no_kernel_warnings ||
    bad no_kernel_warnings "the kernel printed: $(echo "$warn" | head -3 | tr '\n' '|')"
grep -aq 'SeaBIOS (version' "$run/a/debugcon.txt" 2>/dev/null && ok seabios_banner ||
    bad seabios_banner "no 'SeaBIOS (version' on the debug port"
grep -aq 'Booting from Hard Disk' "$run/a/debugcon.txt" 2>/dev/null && ok seabios_boot_line ||
    bad seabios_boot_line "no 'Booting from Hard Disk' on the debug port"
grep -q 'VMPLAY-MARKER: poweroff' "$run/a/screen.txt" 2>/dev/null && ok screen_text ||
    bad screen_text "the text screen lacks the console lines: $(head -c 200 "$run/a/screen.txt" 2>/dev/null)"
[ -s "$run/a/screen.png" ] && file "$run/a/screen.png" | grep -q 'PNG image data, 720 x 400' &&
    ok screenshot || bad screenshot "$(file "$run/a/screen.png" 2>&1)"
# The guest wrote the pattern to the data disk; qemu-img (an independent reader) sees it.
qemu-img check -q "$run/a/data.vmdk" && qemu-img convert -O raw "$run/a/data.vmdk" "$run/a/data.raw" &&
{ echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > "$run/a/data.expected" &&
cmp -s -n "$(stat -c %s "$run/a/data.expected")" "$run/a/data.expected" "$run/a/data.raw" &&
    ok second_disk_readback || bad second_disk_readback "data.vmdk does not hold the guest's pattern"

boot "$run/b" --deterministic
if cmp -s "$run/a/test-serial.txt" "$run/b/test-serial.txt"; then ok deterministic_twice
else bad deterministic_twice "two --deterministic runs printed different serial output"; fi

# An isolinux ISO as ide1:0 cdrom-image.
mkdir -p "$run/cd"; cp "$img/cdrom.vmx" "$img/test.iso" "$run/cd/"
(cd "$run/cd" && timeout 900 "$V" --headless --cpu=soft --timeout=600 --deterministic cdrom.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status)
got=$(grep -a '^VMPLAY-MARKER' "$run/cd/cdrom-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
exp=$(sed "s/@KVER@/$kver/" tests/guest/expected/cdrom-markers.txt)
[ "$got" = "$exp" ] && [ "$(cat "$run/cd/status")" = 0 ] && ok cdrom_boot ||
    bad cdrom_boot "status $(cat "$run/cd/status"); markers: $(echo "$got" | tr '\n' '|')"
