#!/usr/bin/env bash
# Runs every test and prints the closing summary line.
#   unit:    $UNITDIR/test_* binaries (tests/unit/test_<module>.c)
#   scripts: tests/*/t_*.sh, each printing PASS/FAIL/SKIP lines like the unit harness
# Environment: VMPLAY (the player binary), UNITDIR, BUILD (build folder), ONLY=unit|scripts.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-$PWD/build}
export BUILD VMPLAY=${VMPLAY:-$PWD/vmplay} TOP=$PWD
log=$BUILD/test-results.txt
mkdir -p "$BUILD"
: > "$log"

run_one() { # name, command...
    local name=$1; shift
    local out rc
    out=$("$@" 2>"$BUILD/last-stderr.txt"); rc=$?
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) ' | tee -a "$log"
    if ! printf '%s\n' "$out" | grep -qE '^(PASS|FAIL|SKIP) '; then
        echo "FAIL $name: printed no results (status $rc): $(tail -c 300 "$BUILD/last-stderr.txt" | tr '\n' ' ')" | tee -a "$log"
    elif [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
        echo "FAIL $name: exited with status $rc: $(tail -c 300 "$BUILD/last-stderr.txt" | tr '\n' ' ')" | tee -a "$log"
    elif printf '%s\n' "$out" | grep -q '^FAIL '; then
        tail -n 20 "$BUILD/last-stderr.txt" | sed 's/^/    | /'
    fi
}

if [ "${ONLY:-}" != scripts ]; then
    for t in "${UNITDIR:-$BUILD/obj/tests}"/test_*; do
        [ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
        run_one "$(basename "$t")" "$t"
    done
fi
if [ "${ONLY:-}" != unit ]; then
    for t in tests/*/t_*.sh; do
        [ -f "$t" ] || continue
        run_one "${t#tests/}" bash "$t"
    done
fi

pass=$(grep -c '^PASS ' "$log")
fail=$(grep -c '^FAIL ' "$log")
skip=$(grep -c '^SKIP ' "$log")
if [ "$skip" -gt 0 ]; then
    echo "skipped:"; grep '^SKIP ' "$log" | sed 's/^SKIP /  /'
fi
if [ "$fail" -gt 0 ]; then
    echo "failed:"; grep '^FAIL ' "$log" | sed 's/^FAIL /  /'
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
