# vmplay.mode=fill (sourced by init): a disk whose host file system fills up.
# Writes 64 chunks of 256 KiB, each its own text, to the 16 MiB data disk,
# each with O_SYNC-like conv=fsync, and prints each chunk's md5 once dd has
# returned (the write and its flush completed); stops at the first failing
# write. tests/guest/t_fullfs.sh reads the markers.
data=
for d in /sys/block/*; do [ "$(cat "$d/size")" = 32768 ] && data=/dev/${d##*/}; done
if [ -z "$data" ]; then
    say "VMPLAY-FILL: no data disk"
else
    i=0
    while [ $i -lt 64 ]; do
        yes "VMPLAY-FILL chunk $i" | head -c 262144 > /tmp/chunk
        if dd if=/tmp/chunk of="$data" bs=65536 seek=$((i * 4)) conv=fsync,notrunc 2>/tmp/dd.err; then
            say "VMPLAY-FILL: flushed $i $(md5sum < /tmp/chunk | cut -c1-32)"
        else
            say "VMPLAY-FILL: write error at chunk $i: $(head -1 /tmp/dd.err)"
            break
        fi
        i=$((i + 1))
    done
    say "VMPLAY-FILL: done $i"
fi
