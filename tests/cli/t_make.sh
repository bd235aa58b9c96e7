#!/usr/bin/env bash
# The first commands on a bare machine install their Debian packages before
# anything is compiled: for make, make demo, make bench and make fuzz, the
# dependency step comes before the first compiler command in what make would
# run (make -n -B: every target out of date, as on a fresh clone).
set -u
cd "${TOP:-.}"
for target in all demo bench fuzz; do
    want=$target; [ $target = all ] && want=build
    out=$(make -n -B --no-print-directory $target V=1 2>&1)
    dep=$(printf '%s\n' "$out" | grep -n "tools/deps.sh $want" | head -1 | cut -d: -f1)
    cc=$(printf '%s\n' "$out" | grep -nE '^[[:space:]]*(cc|gcc|clang)(-[0-9]+)? ' | head -1 | cut -d: -f1)
    if [ -z "$dep" ]; then
        echo "FAIL cli/make_${target}_installs_first: make -n $target runs no tools/deps.sh $want"
    elif [ -z "$cc" ]; then
        echo "FAIL cli/make_${target}_installs_first: make -n -B $target compiles nothing (the check cannot see the order)"
    elif [ "$dep" -lt "$cc" ]; then
        echo "PASS cli/make_${target}_installs_first (dependency step at line $dep, first compile at line $cc)"
    else
        echo "FAIL cli/make_${target}_installs_first: the first compile (line $cc) comes before tools/deps.sh $want (line $dep)"
    fi
done
