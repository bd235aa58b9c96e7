#!/usr/bin/env bash
# Crash consistency as a guest sees it (issue 26): the appliance's durable mode
# writes numbered 64 KiB records to three sparse data disks and prints each
# record's line once dd has returned; the player is SIGKILLed in the middle of
# the writes, the disks are checked, and the VM boots again for the next kill.
#   A: the guest turns the write cache off (sysfs cache_type, SET FEATURES 82h)
#      and writes with fsync: every printed record must be on the disk.
#   B: write cache on, O_DIRECT writes and no flush: records may be lost.
#   C: ide1:1.writeThrough = "TRUE" in the .vmx (the drive powers on with its
#      cache off), O_DIRECT writes and no flush: every printed record must be there.
# Oracles: qemu-img check on every disk after every kill, every slot read back
# through qemu-img convert (each one holds its own record or zeros, never
# anything else), the guest's cache_type for each disk, and vmplay --check
# opening the disks the kills left behind.
# Even-numbered boots run with --disk-sync=never: stable writes then only reach
# the files, which is all a SIGKILL needs, so the same records must survive.
# The kill moments come from a fixed seed (DURABLE_SEED, default 26) as a
# number of disk A records to wait for; DURABLE_KILLS kills (default 5; `make
# check-durable` runs 15, the most the data disks hold).
set -u
V=${VMPLAY:-./vmplay}
BUILD=${BUILD:-build}
KILLS=${DURABLE_KILLS:-5}
RANDOM=${DURABLE_SEED:-26}
R=96 # records per boot and disk, as the appliance's durable mode writes them
ok() { echo "PASS guest/durable_$1"; }
bad() { echo "FAIL guest/durable_$1: $2"; }
skip() { echo "SKIP guest/durable_$1: $2"; }

command -v qemu-img >/dev/null || { skip all "qemu-img missing (qemu-utils)"; exit 0; }
[ "$KILLS" -ge 1 ] && [ "$KILLS" -le 15 ] || { bad setup "DURABLE_KILLS is 1 to 15, not $KILLS"; exit 0; }
img=$(tests/images/appliance.sh 2>"$BUILD/appliance-build.log") || {
    bad image_build "tests/images/appliance.sh failed: $(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"
    exit 0
}
run=$BUILD/guest/durable
rm -rf "$run"; mkdir -p "$run"
cp "$img/durable.vmx" "$img/durable.vmdk" "$img"/dur-[abc].vmdk "$run/"
: > "$run/reported.txt"

# check_disk LETTER: every slot written so far holds its own record, zeros, or (a record
# in flight at the kill, split into several writes) part of its record and zeros;
# prints the counts: reported records present, reported records lost, other slots.
check_disk() {
    local l=$1 f=$run/dur-${1,,}.vmdk slots=$((gen * R))
    qemu-img convert -O raw "$f" "$run/$l.raw" || { echo "x x x convert-failed"; return; }
    dd if="$run/$l.raw" bs=65536 skip=1 count=$slots 2>/dev/null | tr '\0' Z | fold -w 64 |
        awk -v L="$l" -v R=$R -v rep="$run/reported.txt" '
        BEGIN {
            while ((getline x < rep) > 0) {
                split(x, f, " ")
                if (f[2] == L) want[(f[3] - 1) * R + f[4]] = 1
            }
            z = sprintf("%64s", ""); gsub(/ /, "Z", z)
        }
        {
            s = int((NR - 1) / 1024) + 1
            if ((NR - 1) % 1024 == 0) {
                rec = sprintf("%-63s", "VMPLAY-REC " L " " (int((s - 1) / R) + 1) " " ((s - 1) % R + 1))
                nr = nz = no = 0
            }
            if ($0 == rec) nr++; else if ($0 == z) nz++; else no++
            if (NR % 1024) next
            if (nr == 1024) { if (s in want) present++; else extra++ }
            else if (s in want) { lost++; if (!fl) fl = s }
            else if (no) { garbage++; if (!fg) fg = s }
        }
        END { printf "%d %d %d first-lost:%d first-other:%d unreported-present:%d\n", present, lost, garbage, fl, fg, extra }'
}

total_a=0 total_c=0 total_b=0 lost_b=0 kills=0 failed=0
for k in $(seq 1 "$KILLS"); do
    want=$((4 + RANDOM % 37)) # disk A records to see before the kill
    sync=--disk-sync=flush
    [ $((k % 2)) = 0 ] && sync=--disk-sync=never
    (cd "$run" && exec "$V" --headless --cpu=soft --timeout=600 $sync durable.vmx >stdout.txt 2>stderr.txt) &
    pid=$!
    n=0 waited=0
    while kill -0 $pid 2>/dev/null && [ "$n" -lt "$want" ] && [ $waited -lt 3000 ]; do
        sleep 0.1; waited=$((waited + 1))
        n=$(grep -ac '^VMPLAY-REC A ' "$run/durable-serial.txt" 2>/dev/null)
    done
    if ! kill -KILL $pid 2>/dev/null; then
        wait $pid; bad kill_$k "the player ended (status $?) before $want records: $(tail -c 300 "$run/stderr.txt")"
        failed=1; break
    fi
    wait $pid 2>/dev/null
    cp "$run/durable-serial.txt" "$run/serial-$k.txt"
    s=$(tr -d '\r' < "$run/serial-$k.txt")
    gen=$(printf '%s\n' "$s" | sed -n 's/^VMPLAY-DUR: gen \([0-9]*\) writing.*/\1/p')
    caches=$(printf '%s\n' "$s" | sed -n 's/^VMPLAY-DUR: disk \(.\) \(.*\)/\1=\2/p' | tr '\n' ' ')
    if [ "$gen" != "$k" ] || [ "$caches" != "A=write through B=write back C=write through " ]; then
        bad boot_$k "gen '$gen' (boot $k), caches '$caches'"; failed=1; break
    fi
    printf '%s\n' "$s" | grep -a "^VMPLAY-REC [ABC] $gen " >> "$run/reported.txt"
    kills=$((kills + 1))
    for l in A B C; do
        if ! qemu-img check -q "$run/dur-${l,,}.vmdk" > "$run/check-$l.txt" 2>&1; then
            bad qemu_img_check "after kill $k, disk $l: $(head -c 300 "$run/check-$l.txt")"; failed=1
        fi
        read -r present lost garbage detail <<<"$(check_disk $l)"
        reported=$(grep -ac "^VMPLAY-REC $l " "$run/reported.txt")
        echo "kill $k ($sync, after $want A records): disk $l: $reported reported, $present present, $lost lost, $garbage other ($detail)" >&2
        if [ "$garbage" != 0 ]; then
            bad readback "after kill $k, disk $l: $garbage slots hold neither their record nor zeros ($detail)"; failed=1
        elif [ "$l" != B ] && [ "$lost" != 0 ]; then
            bad readback "after kill $k, disk $l: $lost of $reported completed records lost ($detail)"; failed=1
        fi
        case $l in A) total_a=$present ;; B) total_b=$reported lost_b=$lost ;; C) total_c=$present ;; esac
    done
    [ $failed = 0 ] || break
done
if [ $failed = 0 ]; then
    [ "$total_a" -gt 0 ] && [ "$total_c" -gt 0 ] || bad readback "no records reported (A $total_a, C $total_c)"
    [ "$total_a" -gt 0 ] && [ "$total_c" -gt 0 ] &&
        ok "write_through_records ($kills kills: disk A $total_a and disk C $total_c completed records, all present)"
    ok "write_back_no_flush_consistent ($total_b completed records, $lost_b lost, disk clean)"
    ok qemu_img_check
    if (cd "$run" && "$V" --check durable.vmx > check.txt 2>&1) &&
        [ "$(grep -c 'not closed cleanly' "$run/check.txt")" = 3 ]; then
        ok vmplay_check_after_kills
    else
        bad vmplay_check_after_kills "$(grep -a 'dur-\|vmplay:' "$run/check.txt" | head -5 | tr '\n' ' ')"
    fi
fi
