#!/usr/bin/env bash
# A full host file system while the guest writes (issue 14): the appliance's
# fill mode writes 256 KiB chunks, each followed by a flush, to a sparse data
# disk that lives on a 3 MiB tmpfs, until a write fails. Oracles: the guest
# sees an I/O error (its dd fails); the player says so in one line naming the
# slot, the file and ENOSPC, and ends with status 73 (EX_CANTCREAT); the disk
# passes `qemu-img check`; and every chunk the guest saw flushed reads back,
# through qemu-img, with the md5 the guest printed for it.
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
ok() { echo "PASS guest/fullfs_$1${2:+ $2}"; }
bad() { echo "FAIL guest/fullfs_$1: $2"; }
command -v qemu-img >/dev/null || { echo "SKIP guest/fullfs: qemu-img missing (qemu-utils)"; exit 0; }
if ! unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs -o size=1m tmpfs /mnt' 2>/dev/null; then
    echo "SKIP guest/fullfs: cannot mount a small tmpfs in a private mount namespace (needs root and CAP_SYS_ADMIN)"
    exit 0
fi
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
run=$(cd "$BUILD" && pwd)/guest/fullfs
rm -rf "$run"; mkdir -p "$run/fs"
cp "$img/fill.vmdk" "$run/"
qemu-img create -q -f vmdk "$run/data.vmdk" 16M
sed -e 's/"storage.vmdk"/"fill.vmdk"/' -e "s|\"data.vmdk\"|\"$run/fs/data.vmdk\"|" \
    -e 's/storage-ide-serial/fill-serial/' -e 's/on IDE/fill a full disk/' "$img/storage-ide.vmx" > "$run/fill.vmx"
# The whole run in a mount namespace of its own: the tmpfs goes away with it, after the
# disk has been checked and copied out.
(cd "$run" && unshare -m sh -c '
    mount --make-rprivate / && mount -t tmpfs -o size=3m tmpfs "$1/fs" || exit 99
    cp "$1/data.vmdk" "$1/fs/"
    timeout -s KILL 900 "$2" --headless --cpu=soft --timeout=600 fill.vmx >/dev/null 2>"$1/stderr"
    echo $? > "$1/status"
    qemu-img check "$1/fs/data.vmdk" > "$1/check.txt" 2>&1; echo $? > "$1/check.status"
    qemu-img convert -O raw "$1/fs/data.vmdk" "$1/data.raw"' sh "$run" "$(realpath "$V")")
status=$(cat "$run/status" 2>/dev/null || echo none)
serial=$run/fill-serial.txt
[ "$status" = 73 ] && ok status_73 || bad status_73 "status $status: $(head -c 300 "$run/stderr")"
if [ "$(wc -l < "$run/stderr")" = 1 ] &&
    grep -q "^vmplay: ide0:1: a guest write to $run/fs/data.vmdk failed (No space left on device)" "$run/stderr"; then
    ok one_line_names_disk
else
    bad one_line_names_disk "stderr: $(head -c 400 "$run/stderr")"
fi
grep -q '^VMPLAY-FILL: write error at chunk [1-9]' "$serial" && ok guest_saw_error ||
    bad guest_saw_error "$(grep VMPLAY-FILL "$serial" | tail -2 | tr '\n' '|')"
[ "$(cat "$run/check.status" 2>/dev/null)" = 0 ] && ok qemu_img_check ||
    bad qemu_img_check "$(tail -3 "$run/check.txt" 2>/dev/null | tr '\n' ' ')"
n=0 lost=
while read -r _ _ i sum; do
    got=$(dd if="$run/data.raw" bs=262144 skip="$i" count=1 2>/dev/null | md5sum | cut -c1-32)
    [ "$got" = "$sum" ] || lost="$lost $i"
    n=$((n + 1))
done < <(grep -a '^VMPLAY-FILL: flushed ' "$serial" | tr -d '\r')
if [ "$n" -ge 1 ] && [ -z "$lost" ]; then
    ok flushed_chunks_read_back "($n chunks)"
else
    bad flushed_chunks_read_back "$n flushed, lost:${lost:- none}"
fi
