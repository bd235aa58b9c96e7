#!/usr/bin/env bash
# Packs files into one fuzz input for fuzz_vmdk (tests/fuzz/fuzz_vmdk.c):
#   tests/fuzz/pack.sh OUT FILE...      (the first FILE is the disk opened)
# "VMPF", then per file: name length (1 byte), name, length (4 bytes LE), bytes.
set -eu
out=$1; shift
byte() { printf "\\$(printf %03o "$1")"; }
{
    printf VMPF
    for f in "$@"; do
        n=$(basename "$f"); len=$(stat -c %s "$f")
        byte ${#n}; printf %s "$n"
        byte $((len & 255)); byte $((len >> 8 & 255)); byte $((len >> 16 & 255)); byte $((len >> 24 & 255))
        cat "$f"
    done
} > "$out"
