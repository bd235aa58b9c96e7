#!/usr/bin/env bash
# --kernel with a multiboot 1 kernel: tests/guest/mb/mbinfo.asm, built as an
# ELF32 and as a flat binary with the header's load addresses (a.out kludge),
# prints the multiboot information it was handed on serial and powers off.
# Modules from --initrd, comma-separated with arguments after a space and
# ",," for a comma in a name, as QEMU's -initrd takes them.
# Oracles: the module sizes and FNV-1a hashes the guest computed equal the
# host's of the files; EAX and the flags are what the Multiboot spec
# requires; every field but the memory map, mem_upper and the boot loader
# name equals what the same kernel prints under qemu-system-i386 -kernel
# (the maps differ as the boards' e820 tables do); mem_lower and mem_upper
# agree with the guest's own map (spec 3.3: KiB below 640 K, KiB from 1 MiB
# to the first hole). A 64-bit ELF with a multiboot header is refused (65).
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS multiboot/$1"; }
bad() { echo "FAIL multiboot/$1: $2"; }
run=$BUILD/guest/multiboot
rm -rf "$run"; mkdir -p "$run"
for t in nasm ld python3; do
    command -v $t >/dev/null || { echo "SKIP multiboot/boot: no $t"; exit 0; }
done
[ -f /usr/share/qemu/multiboot_dma.bin ] ||
    { echo "SKIP multiboot/boot: /usr/share/qemu/multiboot_dma.bin missing (Debian qemu-system-data)"; exit 0; }
src=$PWD/tests/guest/mb/mbinfo.asm
(cd "$run" && nasm -f bin -DAOUT -o mb-aout.bin "$src" && nasm -f elf32 -o mb.o "$src" &&
    ld -m elf_i386 -N -Ttext=0x100000 -e _start -o mb-elf.elf mb.o 2>/dev/null &&
    nasm -f elf64 -o mb64.o "$src" && ld -m elf_x86_64 -N -Ttext=0x100000 -e _start -o mb64.elf mb64.o 2>/dev/null) ||
    { bad build "nasm/ld failed"; exit 1; }
echo "module one" > "$run/m1"
head -c 5000 /dev/urandom > "$run/m2"
head -c 12345 /dev/urandom > "$run/c,d"
mods='m1 arg1 arg2,m2,c,,d x=1'
cat > "$run/mb.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
guestOS = "other"
memsize = "256"
numvcpus = "1"
serial0.present = "TRUE"
serial0.fileType = "file"
serial0.fileName = "serial.txt"
VMX
# the module lines the host expects: index, size, FNV-1a 32, string
expect_mods=$(cd "$run" && python3 - <<'PY'
import os
for i, (f, s) in enumerate([("m1", "m1 arg1 arg2"), ("m2", "m2"), ("c,d", "c,d x=1")]):
    h = 0x811C9DC5
    for b in open(f, "rb").read():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    print("MB mod %08x size %08x fnv %08x cmdline %s" % (i, os.path.getsize(f), h, s))
PY
)
common() { grep -a '^MB' "$1" | tr -d '\r' | grep -v '^MB mmap\|^MB mem_upper\|^MB loader'; }
for kind in elf aout; do
    [ $kind = elf ] && k=mb-elf.elf
    [ $kind = aout ] && k=mb-aout.bin
    rm -f "$run/serial.txt"
    jit=off; [ $kind = aout ] && jit=on # the a.out kludge kernel on the translator
    (cd "$run" && timeout 900 "$V" --headless --cpu=soft --jit=$jit --timeout=600 --kernel="$k" \
        --initrd="$mods" --append="hello multiboot" mb.vmx >stdout-$kind.txt 2>stderr-$kind.txt; echo $? > status-$kind)
    cp "$run/serial.txt" "$run/vmplay-$kind.txt" 2>/dev/null || touch "$run/vmplay-$kind.txt"
    out=$run/vmplay-$kind.txt
    st=$(cat "$run/status-$kind")
    [ "$st" = 0 ] && grep -aq '^MB end' "$out" && ok "${kind}_boots_and_powers_off" ||
        bad "${kind}_boots_and_powers_off" "status $st: $(head -c 200 "$run/stderr-$kind.txt") serial: $(tail -c 200 "$out" | tr '\n' '|')"
    grep -aq '^MB magic 2badb002' "$out" && grep -aq '^MB flags 0000024f' "$out" &&
        grep -aq "^MB cmdline $k hello multiboot\$" "$out" && grep -aq '^MB mods_count 00000003' "$out" &&
        grep -aq '^MB loader vmplay' "$out" && ok "${kind}_magic_flags_cmdline" ||
        bad "${kind}_magic_flags_cmdline" "$(grep -a '^MB' "$out" | head -7 | tr '\n' '|')"
    got=$(grep -a '^MB mod ' "$out" | tr -d '\r')
    [ "$got" = "$expect_mods" ] && ok "${kind}_module_contents" ||
        bad "${kind}_module_contents" "$(diff <(echo "$expect_mods") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|')"
    # spec 3.3: mem_lower from the map's entry at 0, mem_upper from the one at 1 MiB
    python3 - "$out" <<'PY' && ok "${kind}_mem_fields_match_the_map" || bad "${kind}_mem_fields_match_the_map" "$(grep -a 'mem_\|mmap' "$out" | tr '\n' '|')"
import sys
f = {}
ram = {}
for l in open(sys.argv[1], errors="replace"):
    w = l.split()
    if l.startswith("MB mem_"):
        f[w[1]] = int(w[2], 16)
    elif l.startswith("MB mmap") and int(w[7], 16) == 1:
        ram[int(w[3], 16)] = int(w[5], 16)
ok = ram.get(0, 0) // 1024 == f.get("mem_lower", -1) and ram.get(0x100000, 0) // 1024 == f.get("mem_upper", -1)
sys.exit(0 if ok else 1)
PY
    if command -v qemu-system-i386 >/dev/null; then
        (cd "$run" && timeout 300 qemu-system-i386 -m 256 -display none -no-reboot \
            -serial file:qemu-$kind.txt -kernel "$k" -initrd "$mods" -append "hello multiboot" \
            >/dev/null 2>&1)
        if [ "$(common "$run/qemu-$kind.txt")" = "$(common "$out")" ] && grep -aq '^MB end' "$run/qemu-$kind.txt"; then
            ok "${kind}_same_fields_as_qemu"
        else
            bad "${kind}_same_fields_as_qemu" "$(diff <(common "$run/qemu-$kind.txt") <(common "$out") | grep '^[<>]' | head -4 | tr '\n' '|')"
        fi
    else
        echo "SKIP multiboot/${kind}_same_fields_as_qemu: no qemu-system-i386"
    fi
done

"$V" --headless --cpu=soft --timeout=5 --kernel="$run/mb64.elf" "$run/mb.vmx" >/dev/null 2>"$run/mb64.err"
st=$?
[ $st = 65 ] && grep -q 'multiboot.*64-bit' "$run/mb64.err" && ok refuses_elf64_65 ||
    bad refuses_elf64_65 "status $st: $(head -c 200 "$run/mb64.err")"
