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

# report NAME STATUS OUTFILE ERRFILE: the results of one test program, into the log
report() {
    local name=$1 rc=$2 out=$3 err=$4
    grep -E '^(PASS|FAIL|SKIP) ' "$out" | tee -a "$log"
    if ! grep -qE '^(PASS|FAIL|SKIP) ' "$out"; then
        echo "FAIL $name: printed no results (status $rc): $(tail -c 300 "$err" | tr '\n' ' ')" | tee -a "$log"
    elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        echo "FAIL $name: exited with status $rc: $(tail -c 300 "$err" | tr '\n' ' ')" | tee -a "$log"
    elif grep -q '^FAIL ' "$out"; then
        tail -n 20 "$err" | sed 's/^/    | /'
    fi
}
run_one() { # name, command...
    local name=$1; shift
    "$@" >"$BUILD/last-stdout.txt" 2>"$BUILD/last-stderr.txt"
    report "$name" $? "$BUILD/last-stdout.txt" "$BUILD/last-stderr.txt"
}

if [ "${ONLY:-}" != scripts ]; then
    for t in "${UNITDIR:-$BUILD/obj/tests}"/test_*; do
        [ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
        run_one "$(basename "$t")" "$t"
    done
fi
# The scripts run JOBS at a time (default: the host's processors, at most 4):
# each guest boot is one busy thread. The test appliances are built first, once,
# so that no two scripts build them at the same time; results print in order.
if [ "${ONLY:-}" != unit ]; then
    jobs=${JOBS:-$(nproc 2>/dev/null || echo 1)}
    [ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
    [ "$jobs" -le 4 ] || jobs=4
    tests/images/appliance.sh >/dev/null 2>"$BUILD/appliance-build.log" || true
    ARCH=amd64 tests/images/appliance.sh >/dev/null 2>"$BUILD/appliance64-build.log" || true
    res=$BUILD/results
    rm -rf "$res"; mkdir -p "$res"
    scripts=()
    for t in tests/*/t_*.sh; do [ -f "$t" ] && scripts+=("$t"); done
    i=0
    for t in "${scripts[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        (bash "$t" >"$res/$i.out" 2>"$res/$i.err"; echo $? >"$res/$i.rc") &
        i=$((i + 1))
    done
    wait
    i=0
    for t in "${scripts[@]}"; do
        report "${t#tests/}" "$(cat "$res/$i.rc" 2>/dev/null || echo 1)" "$res/$i.out" "$res/$i.err"
        i=$((i + 1))
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
