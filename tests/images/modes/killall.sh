# vmplay.mode=killall (sourced by init): crash consistency on every controller.
# Every 128 MiB disk (262144 sectors; tests/guest/t_killall.sh puts one on each
# controller) gets R numbered 64 KiB records per boot, each written with
# conv=fsync (the write and a cache flush), and each record's line
# "VMPLAY-KREC <driver> <gen> <n>" goes to ttyS0 once dd has returned. Slot 0
# of each disk counts its boots (gen); boot gen writes slots 1+(gen-1)*R...
R=16
say "VMPLAY-KILL: start"
for d in /sys/block/*; do
    [ "$(cat "$d/size")" = 262144 ] || continue
    n=${d##*/}
    p=$(readlink -f "$d/device" 2>/dev/null || true)
    pci=$(echo "$p" | sed -n 's|.*/pci0000:00/\(0000:00:[0-9a-f][0-9a-f]\.[0-7]\).*|\1|p')
    drv=$(basename "$(readlink "/sys/bus/pci/devices/$pci/driver" 2>/dev/null)" 2>/dev/null)
    (
        g=$(head -c 64 /dev/$n | tr -dc 0-9)
        gen=$((${g:-0} + 1))
        printf 'VMPLAY-GEN %d\n' $gen | dd of=/dev/$n bs=512 conv=sync,notrunc,fsync 2>/dev/null
        say "VMPLAY-KILL: disk $drv $n gen $gen"
        first=$((1 + (gen - 1) * R))
        i=1
        while [ $i -le $R ]; do
            yes "$(printf '%-63s' "VMPLAY-KREC $drv $gen $i")" | head -c 65536 |
                dd of=/dev/$n bs=65536 count=1 seek=$((first + i - 1)) iflag=fullblock conv=notrunc,fsync \
                    2>/dev/null && echo "VMPLAY-KREC $drv $gen $i" > /dev/ttyS0
            i=$((i + 1))
        done
    ) &
done
wait
say "VMPLAY-KILL: done"
# The test kills the player; a guest that powered off first would leave a boot unkilled.
while :; do sleep 60; done
