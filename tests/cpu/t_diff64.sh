#!/usr/bin/env bash
# The 64-bit differential CPU suite: the integer groups and SSE..SSSE3 (XMM0-15,
# REX.W forms, RIP-relative and SIB operands, #XM, FXSAVE64) in 64-bit mode on
# the host CPU (runner64, CPL 3) and on the software core, compared case by
# case (tests/cpu/cpudiff64.c). CPUDIFF64_ARGS passes options ("--seed 7",
# "--group ssefp", "--scale 20").
set -u
if [ "${SAN:-}" = 1 ]; then o=$BUILD/san; else o=$BUILD/obj; fi
drv=$o/cpu-tests/cpudiff64
if [ ! -x "$drv" ]; then
    echo "SKIP cpu/diff64: $drv not built (make check builds it)"
    exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
    echo "SKIP cpu/diff64: the host is not x86-64"
    exit 0
fi
# Compatibility-mode code has no host-CPU oracle here: runner64 runs 64-bit code only, and
# this host kernel runs no 32-bit programs. Those cases are tests/cpu/compat.asm's (SDM, QEMU TCG).
echo "SKIP cpu/diff64/compat: no 32-bit runner on this host; compatibility mode is checked by tests/cpu/compat.asm"
# shellcheck disable=SC2086
exec "$drv" "$BUILD/cpu/runner64" ${CPUDIFF64_ARGS:-}
