#!/usr/bin/env bash
# make check-kvm (not part of make check): the test appliance (SeaBIOS,
# syslinux, Debian's i386 kernel from a VMDK) booted with --cpu=kvm in
# realtime mode, to the same serial markers as tests/guest/t_appliance.sh
# and ACPI power-off. Needs a KVM that passes vmplay's full probe (hardware
# virtualization): nested or emulating KVMs that fail it SKIP, because
# their guests cannot page in 32-bit mode (VMPLAY_KVM_FORCE=1 runs it anyway).
set -u
cd "$(dirname "$0")/../.."
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS kvm-appliance/$1"; }
bad() { echo "FAIL kvm-appliance/$1: $2"; fail=1; }
fail=0

probe=$("$V" --check -v --cpu=auto tests/kvm/rom.vmx 2>&1 | sed -n 's/^cpu backend: //p')
case ${VMPLAY_KVM_FORCE:-0}$probe in
kvm* | 1*) ;;
*) echo "SKIP kvm-appliance/all: --cpu=auto does not pick KVM here: ${probe:-no answer}"; exit 0 ;;
esac
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 1
}
kver=$(cat "$img/kernel-version")
run=$BUILD/kvm/appliance
rm -rf "$run"; mkdir -p "$run"
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/"
(cd "$run" && timeout 600 "$V" --headless --cpu=kvm --timeout=300 --debugcon=debugcon.txt test.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
expected=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
got=$(grep -a '^VMPLAY-MARKER' "$run/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
[ "$got" = "$expected" ] && ok markers ||
    bad markers "serial markers differ: $(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|')"
grep -aq 'SeaBIOS (version' "$run/debugcon.txt" 2>/dev/null && ok seabios_banner ||
    bad seabios_banner "no 'SeaBIOS (version' on the debug port"
exit $fail
