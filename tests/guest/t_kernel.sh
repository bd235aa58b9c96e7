#!/usr/bin/env bash
# Direct kernel boot: --kernel/--initrd/--append with the appliance's own
# vmlinuz and initrd.gz (read out of its boot disk's FAT partition), for the
# i386 and the amd64 kernel on the software core, with the VM's disks attached.
# Oracles: SeaBIOS's "Booting from ROM" (the linuxboot_dma.bin option ROM, not
# the disk) on the debug port, and the appliance's test markers — the same
# lines the disk boot prints (tests/guest/expected/test-markers.txt).
# An ELF without a multiboot header and a file that is no bzImage are refused with 65.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS kernel/$1"; }
bad() { echo "FAIL kernel/$1: $2"; }
run=$BUILD/guest/kernel
rm -rf "$run"; mkdir -p "$run"

if [ ! -f /usr/share/qemu/linuxboot_dma.bin ]; then
    echo "SKIP kernel/boot: /usr/share/qemu/linuxboot_dma.bin missing (Debian qemu-system-data)"
    exit 0
fi
for arch in i386 amd64; do
    img=$(ARCH=$arch tests/images/appliance.sh 2>"$BUILD/appliance-$arch-build.log") || {
        bad "image_build_$arch" "ARCH=$arch tests/images/appliance.sh failed"; continue; }
    kver=$(cat "$img/kernel-version")
    d=$run/$arch
    mkdir -p "$d"
    cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$d/"
    mcopy -n -i "$img/test.img@@1M" ::vmlinuz "$d/vmlinuz" &&
        mcopy -n -i "$img/test.img@@1M" ::initrd.gz "$d/initrd.gz" ||
        { bad "extract_$arch" "mcopy from $img/test.img failed"; continue; }
    # the i386 kernel on the translator (the interpreter boots it from disk in t_appliance;
    # the translator leaves long mode to the interpreter, so amd64 runs there)
    jit=off; [ $arch = i386 ] && jit=on
    (cd "$d" && timeout 1500 "$V" --headless --cpu=soft --jit=$jit --timeout=1200 --debugcon=debugcon.txt \
        --kernel=vmlinuz --initrd=initrd.gz \
        --append='console=ttyS0,115200 vmplay.mode=test quiet loglevel=4 panic=-1 tsc=unstable' \
        test.vmx >stdout.txt 2>stderr.txt; echo $? > status)
    st=$(cat "$d/status")
    [ "$st" = 0 ] && ok "exit_status_poweroff_$arch" ||
        bad "exit_status_poweroff_$arch" "status $st: $(head -c 300 "$d/stderr.txt")"
    grep -aq 'Booting from ROM' "$d/debugcon.txt" && ! grep -aq 'Booting from Hard Disk' "$d/debugcon.txt" &&
        ok "seabios_boots_the_rom_$arch" || bad "seabios_boots_the_rom_$arch" "$(grep -a 'Booting' "$d/debugcon.txt" | head -2 | tr '\n' '|')"
    expected=$(sed "s/@KVER@/$kver/" tests/guest/expected/test-markers.txt)
    got=$(grep -a '^VMPLAY-MARKER' "$d/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
    [ "$got" = "$expected" ] && ok "markers_$arch" ||
        bad "markers_$arch" "$(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | head -4 | tr '\n' '|') last serial: $(tail -c 200 "$d/test-serial.txt" 2>/dev/null | tr '\n' '|')"
done

# Refusals: an ELF without a multiboot header and a file with no setup header.
img=$(tests/images/appliance.sh 2>/dev/null) && cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/" 2>/dev/null
printf '\177ELF\001\001\001' > "$run/mb.elf"; head -c 8192 /dev/zero >> "$run/mb.elf"
head -c 8192 /dev/zero > "$run/zero.bin"
"$V" --headless --cpu=soft --timeout=5 --kernel="$run/mb.elf" "$run/test.vmx" >/dev/null 2>"$run/mb.err"
st=$?
[ $st = 65 ] && grep -q "multiboot" "$run/mb.err" && ok refuses_plain_elf_65 || bad refuses_plain_elf_65 "status $st: $(head -c 200 "$run/mb.err")"
"$V" --headless --cpu=soft --timeout=5 --kernel="$run/zero.bin" "$run/test.vmx" >/dev/null 2>"$run/zero.err"
st=$?
[ $st = 65 ] && grep -q 'bzImage' "$run/zero.err" && ok refuses_non_bzimage_65 || bad refuses_non_bzimage_65 "status $st: $(head -c 200 "$run/zero.err")"
