# vmplay.mode=diskbench (sourced by init): sequential disk throughput for bench/diskguest.sh.
# The bench disk is found by size (614400 sectors, 300 MiB) on any controller; the guest
# writes 256 MiB of zeros to it with O_DIRECT (oflag=direct, then fsync) and reads them
# back with O_DIRECT (iflag=direct; when busybox refuses that flag, after dropping the page
# cache). The host times the stretch between the start and done markers it sees on serial.
# Markers: diskbench disk <dev> <driver>, write start/done, read start/done <MiB records>.
# (The read goes to /dev/null: a pipe would time the guest's CPU copying, not the disk.)
bdisk=
for d in /sys/block/*; do [ "$(cat "$d/size")" = 614400 ] && bdisk=${d##*/}; done
if [ -z "$bdisk" ]; then
    say "VMPLAY-MARKER: diskbench no disk"
else
    p=$(readlink -f "/sys/block/$bdisk/device" 2>/dev/null || true)
    pci=$(echo "$p" | sed -n 's|.*/pci0000:00/\(0000:00:[0-9a-f][0-9a-f]\.[0-7]\).*|\1|p')
    drv=none
    [ -n "$pci" ] && [ -e "/sys/bus/pci/devices/$pci/driver" ] &&
        drv=$(basename "$(readlink "/sys/bus/pci/devices/$pci/driver")")
    say "VMPLAY-MARKER: diskbench disk $bdisk $drv"
    say "VMPLAY-MARKER: diskbench write start"
    dd if=/dev/zero of="/dev/$bdisk" bs=1048576 count=256 oflag=direct conv=fsync 2>/tmp/dd-w
    say "VMPLAY-MARKER: diskbench write done"
    echo 3 > /proc/sys/vm/drop_caches
    say "VMPLAY-MARKER: diskbench read start"
    if ! dd if="/dev/$bdisk" of=/dev/null bs=1048576 count=256 iflag=direct 2>/tmp/dd-r; then
        echo 3 > /proc/sys/vm/drop_caches
        dd if="/dev/$bdisk" of=/dev/null bs=1048576 count=256 2>/tmp/dd-r
    fi
    say "VMPLAY-MARKER: diskbench read done $(sed -n 's/ records in$//p' /tmp/dd-r)"
    say "VMPLAY-MARKER: diskbench dd $(tr '\n' ' ' < /tmp/dd-w) / $(tr '\n' ' ' < /tmp/dd-r)"
fi
