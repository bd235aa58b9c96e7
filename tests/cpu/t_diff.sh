#!/usr/bin/env bash
# The differential CPU suite: every opcode group on the host CPU (32-bit
# runner) and on the software core, compared case by case (tests/cpu/cpudiff.c).
# CPUDIFF_ARGS passes options through (e.g. "--seed 7" or "--scale 500").
set -u
if [ "${SAN:-}" = 1 ]; then o=$BUILD/san; else o=$BUILD/obj; fi
drv=$o/cpu-tests/cpudiff
if [ ! -x "$drv" ]; then
    echo "SKIP cpu/diff: $drv not built (make check builds it)"
    exit 0
fi
# shellcheck disable=SC2086
exec "$drv" "$BUILD/cpu/runner32" ${CPUDIFF_ARGS:-}
