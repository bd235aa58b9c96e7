# vmplay.mode=storage (sourced by init): every disk with the PCI driver behind it,
# then the data pattern on the 16 MiB data disk (found by size on any controller:
# sd*, nvme*n*, fd*), read back. tests/guest/t_storage.sh reads the markers.
for d in /sys/block/*; do
    n=${d##*/}
    case "$n" in loop* | ram*) continue ;; esac
    p=$(readlink -f "$d/device" 2>/dev/null || true)
    pci=$(echo "$p" | sed -n 's|.*/pci0000:00/\(0000:00:[0-9a-f][0-9a-f]\.[0-7]\).*|\1|p')
    drv=none
    [ -n "$pci" ] && [ -e "/sys/bus/pci/devices/$pci/driver" ] &&
        drv=$(basename "$(readlink "/sys/bus/pci/devices/$pci/driver")")
    [ -z "$pci" ] && case "$n" in fd*) drv=floppy ;; esac
    say "VMPLAY-MARKER: disk $n $(cat "$d/size") ${pci:-nopci} $drv"
done
data=
for d in /sys/block/*; do [ "$(cat "$d/size")" = 32768 ] && data=/dev/${d##*/}; done
if [ -n "$data" ]; then
    { echo "VMPLAY-DATA-BEGIN"; seq 1 2000; echo "VMPLAY-DATA-END"; } > /tmp/data
    dd if=/tmp/data of="$data" bs=512 conv=sync,notrunc 2>/dev/null
    sync
    say "VMPLAY-MARKER: wrote data disk $(md5sum < /tmp/data | cut -c1-32)"
    echo 3 > /proc/sys/vm/drop_caches
    say "VMPLAY-MARKER: read data disk $(head -c "$(wc -c < /tmp/data)" "$data" | md5sum | cut -c1-32)"
else
    say "VMPLAY-MARKER: no data disk"
fi
for c in /dev/sr*; do
    [ -e "$c" ] && say "VMPLAY-MARKER: cdrom ${c#/dev/} $(head -c 2048 "$c" | wc -c)"
done
