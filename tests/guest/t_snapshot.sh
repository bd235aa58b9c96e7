#!/usr/bin/env bash
# --snapshot: the test appliance writes its data disk through a copy-on-write
# overlay and reads it back (its serial markers say both), and afterwards every
# disk file is byte-identical (sha256). Where a private mount namespace can be
# made, the VM's folder is mounted read-only for the run: without --snapshot
# the player says "read-only: use --snapshot ..." in one line (status 73), with
# it the guest runs as before.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS snapshot/$1"; }
bad() { echo "FAIL snapshot/$1: $2"; }
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/snapshot
rm -rf "$run"; mkdir -p "$run/vm"
cp "$img/test.vmx" "$img/test.vmdk" "$img/data.vmdk" "$run/vm/"
sed -i 's/^serial0.fileName = .*/serial0.fileName = "..\/test-serial.txt"/' "$run/vm/test.vmx"
sums() { (cd "$run/vm" && sha256sum test.vmdk data.vmdk); }
before=$(sums)
ns=0
unshare -m sh -c 'mount --make-rprivate / && mount --bind -o ro "$1" "$1"' sh "$run/vm" 2>/dev/null && ns=1
play() { # extra args...: runs test.vmx, read-only where it can be
    if [ $ns = 1 ]; then
        unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
            cd "$1" && shift && exec "$@"' sh "$run/vm" timeout 900 "$V" --headless --cpu=soft --timeout=600 "$@" test.vmx
    else
        (cd "$run/vm" && timeout 900 "$V" --headless --cpu=soft --timeout=600 "$@" test.vmx)
    fi
}
if [ $ns = 1 ]; then
    play >/dev/null 2>"$run/ro.err"; st=$?
    if [ $st = 73 ] && [ "$(wc -l < "$run/ro.err")" = 1 ] && grep -q 'read-only.*use --snapshot, or mode = independent-nonpersistent' "$run/ro.err"; then
        ok read_only_disk_points_to_snapshot
    else
        bad read_only_disk_points_to_snapshot "status $st: $(head -c 300 "$run/ro.err" | tr '\n' '|')"
    fi
else
    echo "SKIP snapshot/read_only_disk_points_to_snapshot: no private mount namespace (unshare -m) to mount the VM read-only"
fi
play --snapshot >/dev/null 2>"$run/snap.err"; st=$?
w=$(grep -a 'VMPLAY-MARKER: wrote data disk' "$run/test-serial.txt" 2>/dev/null | tr -d '\r' | awk '{print $NF}')
r=$(grep -a 'VMPLAY-MARKER: read data disk' "$run/test-serial.txt" 2>/dev/null | tr -d '\r' | awk '{print $NF}')
if [ $st = 0 ] && [ -n "$w" ] && [ "$w" = "$r" ]; then ok guest_writes_and_reads_back
else bad guest_writes_and_reads_back "status $st, wrote '$w' read '$r': $(head -c 300 "$run/snap.err")"; fi
[ "$(sums)" = "$before" ] && ok disks_byte_identical || bad disks_byte_identical "$(sums | tr '\n' ' ')"
