#!/usr/bin/env bash
# The differential CPU suite: every opcode group on the host CPU (32-bit
# runner) and on the software core, compared case by case (tests/cpu/cpudiff.c).
# Where this kernel cannot execute the 32-bit runner, the core is compared
# against the host answers recorded in tests/cpu/recorded/diff32.rec.gz
# instead; where it can, that recording is checked against this host too, and
# the replay is run as well (what a host without 32-bit execution does).
# Either way a core with planted wrong results (cpudiff-planted) must fail.
# CPUDIFF_ARGS passes options through (e.g. "--seed 7" or "--scale 500").
set -u
if [ "${SAN:-}" = 1 ]; then o=$BUILD/san; else o=$BUILD/obj; fi
drv=$o/cpu-tests/cpudiff
rec=${TOP:-.}/tests/cpu/recorded/diff32.rec.gz
if [ ! -x "$drv" ]; then
    echo "SKIP cpu/diff: $drv not built (make check builds it)"
    exit 0
fi
out=$("$drv" "$BUILD/cpu/runner32" --recorded "$rec" ${CPUDIFF_ARGS:-}); rc=$?
printf '%s\n' "$out"
live=1
printf '%s\n' "$out" | grep -q 'replayed against the recorded answers' && live=0
if [ $live = 1 ] && [ -z "${CPUDIFF_ARGS:-}" ]; then
    "$drv" "$BUILD/cpu/runner32" --replay --recorded "$rec" | sed 's,^\(....\) cpu/diff/,\1 cpu/diff-replay-sim/,'
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
# The planted bugs: ADD*S/D and FADD give wrong results; the replay must see both.
pl=$o/cpu-tests/cpudiff-planted
if [ -x "$pl" ]; then
    for g in ssefp x87; do
        p=$("$pl" "$BUILD/cpu/runner32" --replay --recorded "$rec" --group $g 2>&1)
        if printf '%s\n' "$p" | grep -q "^FAIL cpu/diff/$g: [0-9]* of [0-9]* cases differ"; then
            echo "PASS cpu/diff-planted/$g: a core with a planted wrong result fails the replay ($(printf '%s\n' "$p" | grep -o '[0-9]* of [0-9]* cases differ'))"
        else
            echo "FAIL cpu/diff-planted/$g: the planted wrong result went unseen: $(printf '%s' "$p" | head -c 300)"
        fi
    done
else
    echo "FAIL cpu/diff-planted: $pl not built"
fi
exit $rc
