#!/usr/bin/env bash
# --kernel with an initrd larger than the 16 MiB that firmware ROMs may have:
# the appliance's i386 vmlinuz and initrd.gz, with an uncompressed cpio
# appended that carries a 20 MiB file of random bytes and a mode script
# (the kernel unpacks concatenated archives). Oracle: the guest's md5sum and
# size of that file, printed on serial, equal the host's. The same initrd
# in a VM of 24 MiB is refused (status 65) with a line naming memsize.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS bigrd/$1"; }
bad() { echo "FAIL bigrd/$1: $2"; }
run=$BUILD/guest/bigrd
rm -rf "$run"; mkdir -p "$run/cpio/modes"

if [ ! -f /usr/share/qemu/linuxboot_dma.bin ]; then
    echo "SKIP bigrd/boot: /usr/share/qemu/linuxboot_dma.bin missing (Debian qemu-system-data)"
    exit 0
fi
command -v cpio >/dev/null || { echo "SKIP bigrd/boot: no cpio"; exit 0; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-bigrd-build.log") || {
    bad image_build "tests/images/appliance.sh failed"; exit 1; }
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/"
mcopy -n -i "$img/test.img@@1M" ::vmlinuz "$run/vmlinuz" &&
    mcopy -n -i "$img/test.img@@1M" ::initrd.gz "$run/initrd.gz" ||
    { bad extract "mcopy from $img/test.img failed"; exit 1; }
head -c $((20 << 20)) /dev/urandom > "$run/cpio/big.bin"
cat > "$run/cpio/modes/bigrd.sh" <<'MODE'
say "VMPLAY-MARKER: bigrd $(md5sum /big.bin | cut -d' ' -f1) $(wc -c < /big.bin)"
MODE
(cd "$run/cpio" && find modes big.bin | cpio -o -H newc --quiet) > "$run/extra.cpio"
# the kernel takes an uncompressed archive only at a 4-byte aligned offset; zeros between are skipped
gz=$(stat -c %s "$run/initrd.gz")
{ cat "$run/initrd.gz"; head -c $(( (512 - gz % 512) % 512 )) /dev/zero; cat "$run/extra.cpio"; } > "$run/initrd-big"
size=$(stat -c %s "$run/initrd-big")
want="VMPLAY-MARKER: bigrd $(md5sum < "$run/cpio/big.bin" | cut -d' ' -f1) $((20 << 20))"
[ "$size" -gt $((16 << 20)) ] || { bad initrd_size "only $size bytes"; exit 1; }

(cd "$run" && timeout 1500 "$V" --headless --cpu=soft --timeout=1200 --debugcon=debugcon.txt \
    --kernel=vmlinuz --initrd=initrd-big \
    --append='console=ttyS0,115200 vmplay.mode=bigrd quiet loglevel=4 panic=-1 tsc=unstable' \
    test.vmx >stdout.txt 2>stderr.txt; echo $? > status)
st=$(cat "$run/status")
[ "$st" = 0 ] && ok exit_status_poweroff || bad exit_status_poweroff "status $st: $(head -c 300 "$run/stderr.txt")"
got=$(grep -a '^VMPLAY-MARKER: bigrd' "$run/test-serial.txt" 2>/dev/null | tr -d '\r' | sed 's/ *$//')
[ "$got" = "$want" ] && ok "initrd_of_${size}_bytes_md5" ||
    bad "initrd_of_${size}_bytes_md5" "want '$want', got '$got'; last serial: $(tail -c 200 "$run/test-serial.txt" 2>/dev/null | tr '\n' '|')"

# The same initrd in 24 MiB of RAM: refused before the guest starts, with a line that says why.
sed 's/^memsize = .*/memsize = "24"/' "$run/test.vmx" > "$run/small.vmx"
"$V" --headless --cpu=soft --timeout=5 --kernel="$run/vmlinuz" --initrd="$run/initrd-big" \
    "$run/small.vmx" >/dev/null 2>"$run/small.err"
st=$?
[ $st = 65 ] && grep -q 'do not fit.*memsize' "$run/small.err" && ok refuses_too_big_65 ||
    bad refuses_too_big_65 "status $st: $(head -c 300 "$run/small.err")"
