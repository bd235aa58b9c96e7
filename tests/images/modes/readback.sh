# vmplay.mode=readback (sourced by init): reads the 16 MiB data disk (found by size)
# without writing it: every disk with its PCI driver (as the storage mode lists them),
# the md5 of the storage mode's pattern (the lines up to VMPLAY-DATA-END) and of the
# whole disk. tests/guest/t_ahci.sh boots it under QEMU on a disk vmplay wrote.
for d in /sys/block/*; do
    n=${d##*/}
    case "$n" in loop* | ram*) continue ;; esac
    p=$(readlink -f "$d/device" 2>/dev/null || true)
    pci=$(echo "$p" | sed -n 's|.*/pci0000:00/\(0000:00:[0-9a-f][0-9a-f]\.[0-7]\).*|\1|p')
    drv=none
    [ -n "$pci" ] && [ -e "/sys/bus/pci/devices/$pci/driver" ] &&
        drv=$(basename "$(readlink "/sys/bus/pci/devices/$pci/driver")")
    say "VMPLAY-MARKER: disk $n $(cat "$d/size") ${pci:-nopci} $drv"
done
data=
for d in /sys/block/*; do [ "$(cat "$d/size")" = 32768 ] && data=/dev/${d##*/}; done
if [ -n "$data" ]; then
    say "VMPLAY-MARKER: pattern $(sed -n '1,/^VMPLAY-DATA-END$/p; /^VMPLAY-DATA-END$/q' "$data" | md5sum | cut -c1-32)"
    say "VMPLAY-MARKER: whole disk $(md5sum < "$data" | cut -c1-32)"
else
    say "VMPLAY-MARKER: no data disk"
fi
