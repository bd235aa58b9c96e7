#!/usr/bin/env bash
# Both CPU backends against one oracle: every backend test ROM (tests/kvm/*.asm:
# port I/O, MMIO, PIT/UART interrupts through the 8259, HLT, the A20 wrap,
# mode transitions, CPUID) and every CPU test ROM (tests/cpu/*.asm) runs
# with `vmplay --bios=ROM --debugcon=FILE --debug-exit`, on --cpu=soft and
# on --cpu=kvm; each output must equal its expected file (and so each
# other) and end with status 1.
# serial0 is stdin holding one byte (irq.asm's received-data interrupt);
# --timeout makes a triple fault end the run (status 70) instead of a reset.
# KVM runs SKIP visibly where /dev/kvm is unusable; ROMs marked "kvm-needs:
# full" (and the tests/cpu ROMs, which need protected-mode IRET and paging)
# SKIP where KVM passes only the real-mode probe, saying what the run did. A
# tests/cpu ROM with a "; kvm-skip: REASON" line is the software core's alone.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
run=$BUILD/kvm/run
rm -rf "$run"; mkdir -p "$run"
cp tests/kvm/rom.vmx "$run/rom.vmx"

any=$(ls "$BUILD"/kvm/roms/*.bin 2>/dev/null | head -1)
[ -n "$any" ] || { echo "SKIP backends/all: no ROMs under $BUILD/kvm/roms (nasm missing?)"; exit 0; }
kvm_why=$("$V" --check -v --cpu=kvm --bios="$any" "$run/rom.vmx" 2>&1 >/dev/null)
kvm_ok=$?
auto=$("$V" --check -v --cpu=auto --bios="$any" "$run/rom.vmx" 2>&1 | sed -n 's/^cpu backend: //p')
case $auto in kvm*) full=1 ;; *) full=0 ;; esac

play() { # backend rom out -> status
    printf R | timeout 120 "$V" --headless --timeout=30 --cpu="$1" --serial=stdio --bios="$2" --debugcon="$3" \
        --debug-exit "$run/rom.vmx" >/dev/null 2>"$3.err"
}

check() { # name rom expected needs-full [why the ROM is the software core's alone]
    local name=$1 rom=$2 exp=$3 needs=$4 only_soft=${5:-} st
    if [ ! -f "$rom" ]; then echo "SKIP backends/$name: $rom not built (nasm missing?)"; return; fi
    play soft "$rom" "$run/$name.soft"; st=$?
    if [ $st -ne 1 ]; then echo "FAIL backends/$name-soft: status $st: $(head -c 200 "$run/$name.soft.err")"
    elif ! cmp -s "$exp" "$run/$name.soft"; then echo "FAIL backends/$name-soft: output differs from $exp"
    else echo "PASS backends/$name-soft"; fi
    if [ -n "$only_soft" ]; then echo "SKIP backends/$name-kvm: $only_soft"; return; fi
    if [ $kvm_ok -ne 0 ]; then echo "SKIP backends/$name-kvm: $kvm_why"; return; fi
    play kvm "$rom" "$run/$name.kvm"; st=$?
    if [ "$needs" = 1 ] && [ $full = 0 ]; then
        local same=no; [ $st -eq 1 ] && cmp -s "$exp" "$run/$name.kvm" && same=yes
        echo "SKIP backends/$name-kvm: needs a full KVM; here $auto; this run: status $st," \
            "$(wc -l < "$run/$name.kvm" 2>/dev/null || echo 0) of $(wc -l < "$exp") lines, matches: $same"
        return
    fi
    if [ $st -ne 1 ]; then echo "FAIL backends/$name-kvm: status $st: $(head -c 200 "$run/$name.kvm.err")"
    elif ! cmp -s "$exp" "$run/$name.kvm"; then
        echo "FAIL backends/$name-kvm: output differs from $exp: $(diff "$exp" "$run/$name.kvm" | grep '^[<>]' | head -2 | tr '\n' '|')"
    else echo "PASS backends/$name-kvm"; fi
}

# Without a usable /dev/kvm: --cpu=kvm is one line and status 69, --cpu=auto says
# why it took soft. Both ways are made on every host, in a private mount namespace
# with a /dev of its own: /dev/kvm absent, and /dev/kvm present but unusable
# (/dev/null bound over it). Where no namespace can be made, only the way this
# host already is can be checked.
no_kvm() { # missing|unusable: prints vmplay's lines and "status N"
    local how=$1 script='"$1" --headless --cpu=kvm --bios="$2" "$3" 2>&1 >/dev/null; echo "status $?"
        "$1" --check -v --cpu=auto --bios="$2" "$3" | grep "^cpu backend"'
    if [ $have_ns = 1 ]; then
        mkdir -p "$run/dev"
        unshare -m sh -c 'mount --make-rprivate / && mount --bind /dev "$5" && mount -t tmpfs none /dev || exit 99
            for n in null zero full random urandom tty; do
                [ -e "$5/$n" ] || continue; touch /dev/$n; mount --bind "$5/$n" /dev/$n; done
            if [ "$1" = unusable ]; then touch /dev/kvm && mount --bind /dev/null /dev/kvm || exit 99; fi
            shift; '"$script" sh "$how" "$V" "$any" "$run/rom.vmx" "$run/dev"
    else
        sh -c "$script" sh "$V" "$any" "$run/rom.vmx"
    fi
}
have_ns=0
command -v unshare >/dev/null && unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs none /dev' 2>/dev/null && have_ns=1
for how in missing unusable; do
    here=missing; [ -e /dev/kvm ] && here=unusable
    if [ $have_ns = 0 ] && [ $how != $here ]; then
        echo "SKIP backends/kvm_${how}_is_one_line_status_69: no private mount namespace (unshare -m) to make /dev/kvm $how"
        continue
    fi
    out=$(no_kvm $how)
    lines=$(printf '%s\n' "$out" | grep -c '^vmplay: --cpu=kvm: /dev/kvm')
    if printf '%s\n' "$out" | grep -q '^status 69$' && [ "$lines" = 1 ]; then echo "PASS backends/kvm_${how}_is_one_line_status_69"
    else echo "FAIL backends/kvm_${how}_is_one_line_status_69: $(printf '%s' "$out" | tr '\n' '|')"; fi
    if printf '%s\n' "$out" | grep -q '^cpu backend: soft (/dev/kvm[: ]'; then echo "PASS backends/auto_with_kvm_${how}_says_soft_and_why"
    else echo "FAIL backends/auto_with_kvm_${how}_says_soft_and_why: $(printf '%s' "$out" | tr '\n' '|')"; fi
done
if [ $kvm_ok -eq 0 ]; then
    "$V" --check -v --cpu=kvm --bios="$any" "$run/rom.vmx" | grep -qx 'cpu backend: kvm (--cpu=kvm)' &&
        echo "PASS backends/check_names_kvm" || echo "FAIL backends/check_names_kvm: --check -v --cpu=kvm does not say kvm"
fi
if "$V" --headless --deterministic --cpu=kvm --bios="$any" "$run/rom.vmx" >/dev/null 2>"$run/det.err"; then st=0; else st=$?; fi
[ $st = 64 ] && [ "$(wc -l < "$run/det.err")" = 1 ] && echo "PASS backends/deterministic_kvm_is_usage_error" ||
    echo "FAIL backends/deterministic_kvm_is_usage_error: status $st: $(head -c 200 "$run/det.err")"

for src in tests/kvm/*.asm; do
    name=$(basename "$src" .asm)
    needs=0; grep -q '^; kvm-needs: full' "$src" && needs=1
    exp=tests/kvm/expected/$name.txt
    # The model advertises SSE4.1, SSE4.2 and POPCNT (leaf 1 ECX bits 19, 20, 23) only
    # where the host has them: on a host without all three the expectation loses them.
    if [ "$name" = cpuid ] && ! { grep -qw sse4_1 /proc/cpuinfo && grep -qw sse4_2 /proc/cpuinfo &&
                                  grep -qw popcnt /proc/cpuinfo; }; then
        sed 's/^\(00000001: [0-9a-f]* [0-9a-f]* \)80d82201/\180402201/' "$exp" > "$run/cpuid.expected"
        exp=$run/cpuid.expected
    fi
    check "$name" "$BUILD/kvm/roms/$name.bin" "$exp" $needs
done
for exp in tests/cpu/expected/*.txt; do
    name=$(basename "$exp" .txt)
    check "cpu-$name" "$BUILD/cpu/roms/$name.bin" "$exp" 1 \
        "$(sed -n 's/^; kvm-skip: //p' "tests/cpu/$name.asm" 2>/dev/null)"
done
