#!/usr/bin/env bash
# numvcpus above one: vmplay runs one vCPU and tells the guest of one, so SeaBIOS
# waits for no second CPU and boots. Oracles: SeaBIOS's own "Found N cpu(s)" line
# and its boot line on the debug port, the appliance's markers on serial, one
# warning line on stderr and the same note in --check.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS vcpus/$1"; }
bad() { echo "FAIL vcpus/$1: $2"; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed"; exit 0; }
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/vcpus
rm -rf "$run"; mkdir -p "$run"
cp "$img/test.vmdk" "$img/data.vmdk" "$run/"
sed 's/^numvcpus = .*/numvcpus = "2"/' "$img/test.vmx" > "$run/two.vmx"
grep -q '^numvcpus = "2"' "$run/two.vmx" || { bad vmx "could not write numvcpus = 2"; exit 0; }
"$V" --check "$run/two.vmx" > "$run/check.txt" 2>&1
grep -q '^CPUs *2 ' "$run/check.txt" && grep -q 'note: runs 1 vCPU' "$run/check.txt" &&
    ok check_note || bad check_note "$(grep -A1 '^CPUs' "$run/check.txt" | tr '\n' '|')"
(cd "$run" && timeout 1500 "$V" --headless --cpu=soft --timeout=1200 --debugcon=debugcon.txt \
    two.vmx >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
n=$(grep -c 'numvcpus = "2": running 1 vCPU' "$run/stderr.txt")
[ "$n" = 1 ] && ok one_warning_line || bad one_warning_line "$n warning lines: $(head -c 300 "$run/stderr.txt")"
grep -aq 'Found 1 cpu(s)' "$run/debugcon.txt" && ok seabios_found_one_cpu ||
    bad seabios_found_one_cpu "$(grep -a 'cpu(s)' "$run/debugcon.txt" | head -1)"
grep -aq 'Booting from Hard Disk' "$run/debugcon.txt" && ok seabios_boot_line ||
    bad seabios_boot_line "no 'Booting from Hard Disk' on the debug port"
expected=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
got=$(grep -a '^VMPLAY-MARKER' "$run/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
[ "$got" = "$expected" ] && ok markers ||
    bad markers "$(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|')"
