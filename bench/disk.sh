#!/usr/bin/env bash
# make bench (disk part): vmplay's VMDK code (tests/bench/bench_disk.c) against
# `qemu-img bench` on the same files: sequential 1 MiB reads of a 1 GiB
# monolithicSparse disk full of data, allocating sequential 64 KiB writes to
# a fresh disk (vmplay's time includes its final flush; qemu-img's includes
# its close), the same writes with the drive's write cache off (each one stable
# before the next: fdatasync'd, against qemu-img bench -t writethrough; and
# only into the file, --disk-sync=never, vmplay alone), and 4 KiB reads
# striding across the disk by a prime number of 4 KiB blocks (scattered over
# every grain table; queue depth 1 for both).
# Prints MB/s or IOPS for both and the ratio vmplay/qemu (higher is better).
#   bench/disk.sh BENCH_DISK_BINARY
set -u
drv=$1
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
run=$BUILD/bench/disk
mkdir -p "$run"
cd "$run" || exit 1
command -v qemu-img >/dev/null || { echo "bench-disk: qemu-img missing (qemu-utils)" >&2; exit 1; }
if [ ! -f full.vmdk ]; then
    head -c 1G /dev/urandom > full.raw && qemu-img convert -O vmdk full.raw full.vmdk && rm full.raw
fi
cat full.vmdk > /dev/null

# qemu_secs ARGS...: seconds reported by qemu-img bench
qemu_bench() { local t; t=$(qemu-img bench -f vmdk -d 1 "$@" 2>&1 | sed -n 's/.*completed in \([0-9.]*\) seconds.*/\1/p'); echo "$t"; }
best() { sort -g | head -1; }   # best of the runs given on stdin
fresh() { rm -f "$1"; qemu-img create -q -f vmdk "$1" 1G; }

MiB=1048576
seq_n=1024; wr_n=8192; wt_n=2048; rr_n=50000; stride=$((7919 * 4096))

v_seq=$(for i in 1 2 3; do "$drv" read full.vmdk $MiB $seq_n $MiB; done | best)
q_seq=$(for i in 1 2 3; do qemu_bench -c $seq_n -s $MiB -S $MiB full.vmdk; done | best)
v_wr=$(for i in 1 2 3; do fresh w.vmdk; "$drv" write w.vmdk 65536 $wr_n 65536; done | best)
q_wr=$(for i in 1 2 3; do fresh w.vmdk; qemu_bench -w -c $wr_n -s 65536 -S 65536 w.vmdk; done | best)
v_wt=$(for i in 1 2 3; do fresh w.vmdk; "$drv" write-stable w.vmdk 65536 $wt_n 65536; done | best)
q_wt=$(for i in 1 2 3; do fresh w.vmdk; qemu_bench -w -t writethrough -c $wt_n -s 65536 -S 65536 w.vmdk; done | best)
v_wf=$(for i in 1 2 3; do fresh w.vmdk; "$drv" write-stable-file w.vmdk 65536 $wr_n 65536; done | best)
v_rr=$(for i in 1 2 3; do "$drv" read full.vmdk 4096 $rr_n $stride; done | best)
q_rr=$(for i in 1 2 3; do qemu_bench -c $rr_n -s 4096 -S $stride full.vmdk; done | best)
rm -f w.vmdk

line() { # name unit vmplay_value qemu_value
    printf '  %-40s vmplay %10.1f %-5s qemu-img %10.1f %-5s ratio %.2f\n' "$1" "$3" "$2" "$4" "$2" \
        "$(echo "$3 / $4" | bc -l)"
}
echo "disk (VMDK monolithicSparse, 1 GiB, page cache warm, best of 3):"
line "sequential read, 1 MiB" MB/s "$(echo "$seq_n / $v_seq" | bc -l)" "$(echo "$seq_n / $q_seq" | bc -l)"
line "allocating write 64 KiB, cache on (512 MiB)" MB/s "$(echo "$wr_n / 16 / $v_wr" | bc -l)" "$(echo "$wr_n / 16 / $q_wr" | bc -l)"
line "  cache off, fdatasync'd (128 MiB)" MB/s "$(echo "$wt_n / 16 / $v_wt" | bc -l)" "$(echo "$wt_n / 16 / $q_wt" | bc -l)"
printf '  %-40s vmplay %10.1f %-5s\n' "  cache off, --disk-sync=never (512 MiB)" "$(echo "$wr_n / 16 / $v_wf" | bc -l)" MB/s
line "4 KiB strided reads" IOPS "$(echo "$rr_n / $v_rr" | bc -l)" "$(echo "$rr_n / $q_rr" | bc -l)"
