#!/usr/bin/env bash
# 32-bit programs under a 64-bit kernel on the software core: the amd64
# appliance's compat mode runs Debian's busybox-static:i386 (/bin/busybox32)
# for echo, uname under linux32, shell loops, forks, ls, /proc reads, md5sum,
# a signal handler and a pipe, each system call entering the kernel from
# compatibility mode (the vDSO's SYSENTER on the Intel model vmplay presents)
# and returning to it. Oracles: the marker lines in
# tests/guest/expected/compat-markers.txt, which the same image prints under
# qemu-system-x86_64 -accel tcg (checked here too when QEMU is installed).
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS compat/$1"; }
bad() { echo "FAIL compat/$1: $2"; }
markers() { grep -a '^VMPLAY-COMPAT' "$1" 2>/dev/null | tr -d '\r' | sed 's/ *$//'; }

img=$(ARCH=amd64 tests/images/appliance.sh 2>"$BUILD/appliance64-build.log") || {
    bad image_build "ARCH=amd64 tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance64-build.log" | tr '\n' ' ')"
    exit 0
}
expected=$(cat tests/guest/expected/compat-markers.txt)
run=$BUILD/guest/compat
rm -rf "$run"; mkdir -p "$run"
cp "$img/compat.vmdk" "$run/"
sed 's/"test\.vmdk"/"compat.vmdk"/; s/"test-serial\.txt"/"compat-serial.txt"/; /^ide0:1\./d' \
    "$img/test.vmx" > "$run/compat.vmx"
(cd "$run" && timeout 1500 "$V" --headless --cpu=soft --timeout=1200 compat.vmx \
    >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
got=$(markers "$run/compat-serial.txt")
if [ "$got" = "$expected" ]; then ok soft_markers
else
    bad soft_markers "differ: $(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|') last serial: $(tail -c 300 "$run/compat-serial.txt" 2>/dev/null | tr '\n' '|')"
fi
grep -aq 'double fault' "$run/compat-serial.txt" && bad no_double_fault "the kernel reports a double fault" ||
    ok no_double_fault

if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "SKIP compat/qemu_tcg_markers: qemu-system-x86_64 not installed"
    exit 0
fi
# The same image under QEMU TCG, with an Intel vendor (the vDSO's SYSENTER path, as
# under vmplay) and with QEMU's default AMD one (SYSCALL through IA32_CSTAR).
for cpu in qemu64,vendor=GenuineIntel qemu64; do
    n=${cpu//[,=]/-}
    timeout 300 qemu-system-x86_64 -accel tcg -M pc -m 256 -cpu "$cpu" -nodefaults -vga std \
        -display none -no-reboot -drive file="$img/compat.vmdk",format=vmdk,if=ide,index=0,snapshot=on \
        -serial file:"$run/qemu-$n.txt"
    got=$(markers "$run/qemu-$n.txt")
    [ "$got" = "$expected" ] && ok "qemu_tcg_markers_$n" ||
        bad "qemu_tcg_markers_$n" "$(echo "$got" | tr '\n' '|' | head -c 300)"
done
