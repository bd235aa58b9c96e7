#!/usr/bin/env bash
# The translator (--jit=on, cpu/jit.c) on real guest code. Oracles: the system
# ROM tests (tests/unit/test_cpu_roms: their own pass/fail reports) with every
# block translated at its first entry, and the i386 appliance's serial markers
# with --jit=on --deterministic, which must equal the expected markers and the
# interpreter's run byte for byte (the JIT leaves the interpreter's block
# boundaries and instruction counts alone, so virtual time is the same).
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
UNITDIR=${UNITDIR:-$BUILD/obj/tests}
ok() { echo "PASS jit/$1"; }
bad() { echo "FAIL jit/$1: $2"; }
skip() { echo "SKIP jit/$1: $2"; }

if [ -x "$UNITDIR/test_cpu_roms" ]; then
    out=$(VMPLAY_JIT=on VMPLAY_JIT_THRESHOLD=1 "$UNITDIR/test_cpu_roms" 2>&1)
    if echo "$out" | grep -q '^FAIL'; then bad roms "$(echo "$out" | grep '^FAIL' | head -2 | tr '\n' ' ')"
    elif echo "$out" | grep -q '^PASS'; then ok roms
    else skip roms "test_cpu_roms ran nothing: $(echo "$out" | head -2 | tr '\n' ' ')"; fi
else
    skip roms "no $UNITDIR/test_cpu_roms"
fi

img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    skip appliance "tests/images/appliance.sh failed"
    exit 0
}
kver=$(cat "$img/kernel-version")
run=$BUILD/guest/jit
rm -rf "$run"; mkdir -p "$run/on"
expected=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/on/"
(cd "$run/on" && VMPLAY_JIT_STATS=1 timeout 900 "$V" --headless --cpu=soft --timeout=600 --jit=on \
    --deterministic test.vmx >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/on/status")
[ "$st" = 0 ] && ok appliance_poweroff || bad appliance_poweroff "status $st: $(head -c 300 "$run/on/stderr.txt")"
got=$(grep -a '^VMPLAY-MARKER' "$run/on/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
if [ "$got" = "$expected" ]; then ok appliance_markers
else bad appliance_markers "$(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|')"; fi
grep -q 'ran in translated' "$run/on/stderr.txt" && ok appliance_translated ||
    bad appliance_translated "no translator statistics: was the JIT on?"
# The interpreter's deterministic run of the same image (t_appliance.sh's run b) when present.
ref=$BUILD/guest/appliance/b/test-serial.txt
if [ -f "$ref" ]; then
    cmp -s "$ref" "$run/on/test-serial.txt" && ok same_as_interpreter ||
        bad same_as_interpreter "serial output differs from the interpreter's --deterministic run"
else
    skip same_as_interpreter "no $ref (run t_appliance.sh first)"
fi
