#!/usr/bin/env bash
# make bench (network part): TCP throughput through user-mode NAT with busybox
# nc in the test appliance (vmplay.mode=netbench), guest -> host and host ->
# guest, 256 MiB each way (NET_BENCH_MIB), per card, under vmplay (software CPU) and QEMU TCG
# (-nic user,model=...) on the same image; MB/s (10^6 bytes per second, timed
# on the host from first to last byte) and the ratio vmplay/QEMU. Then the
# player's resident memory outside guest RAM while the guest floods
# (vmplay.mode=netflood): at the flood's start and its peak. Not a test:
# nothing here passes or fails (tests/guest/t_netflood.sh asserts the bound).
#   bench/net.sh VMPLAY
# NET_CARDS: one line per card, .vmx virtualDev and QEMU's -nic model; a card
# the binary does not emulate is reported and skipped.
set -u
vmplay=$1
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
NET_CARDS=${NET_CARDS:-"e1000 e1000
vlance pcnet
e1000e e1000e
vmxnet3 vmxnet3"}
MIB=${NET_BENCH_MIB:-256}
TIMEOUT=${BENCH_TIMEOUT:-1800}
host=$top/bench/nethost.py
img=$(BUILD=$BUILD "$top/tests/images/appliance.sh") || exit 1
run=$BUILD/bench/net
rm -rf "$run"; mkdir -p "$run"
qemu=$(command -v qemu-system-i386)
for p in 18341 18342 18343; do
    python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1",int(sys.argv[1])))' $p 2>/dev/null ||
        { echo "net: port $p on 127.0.0.1 is taken; no network bench"; exit 0; }
done

marker() { grep -a "VMPLAY-MARKER: $1" "$2" 2>/dev/null | tr -d '\r' | tail -1; }

write_vmx() { # mode card -> $run/<mode>-<card>.vmx
    local mode=$1 card=$2 f=$run/$1-$2.vmx
    cp -n "$img/$mode.vmdk" "$run/"
    sed -e '/^ide0:/d' -e "s/^serial0.fileName = .*/serial0.fileName = \"$mode-$card.serial\"/" \
        -e 's/^memsize = .*/memsize = "256"/' "$img/test.vmx" > "$f"
    cat >> "$f" <<EOV
ide0:0.present = "TRUE"
ide0:0.fileName = "$mode.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "$card"
ethernet0.connectionType = "nat"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:6f:90:12"
ethernet0.generatedAddressOffset = "0"
EOV
}

# wait_marker SERIAL PID TEXT: until the marker shows, PID dies or TIMEOUT passes
wait_marker() {
    local t0=$SECONDS
    while [ -z "$(marker "$3" "$1")" ]; do
        kill -0 "$2" 2>/dev/null || return 1
        [ $((SECONDS - t0)) -lt "$TIMEOUT" ] || return 1
        sleep 0.5
    done
}

rate() { # result-file -> MB/s or "-"
    [ -s "$1" ] || { echo -; return; }
    awk -v want=$((MIB << 20)) '{ if ($1 < want || $2 <= 0) print "-"; else printf "%.2f\n", want / $2 / 1e6 }' "$1"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

unsupported() { grep -q "card is not emulated" "$1" 2>/dev/null; }

bench_one() { # who card model -> $run/<who>-<card>.{tx,rx}
    local who=$1 card=$2 model=$3 pid serial
    rm -f "$run/$who-$card.tx" "$run/$who-$card.rx"
    python3 "$host" sink 18341 $((MIB << 20)) "$run/$who-$card.tx" & local s1=$!
    python3 "$host" source 18342 $((MIB << 20)) "$run/$who-$card.rx" & local s2=$!
    sleep 0.5
    if [ "$who" = vmplay ]; then
        write_vmx netbench "$card"
        serial=$run/netbench-$card.serial
        (cd "$run" && exec nice "$vmplay" --headless --cpu=soft netbench-$card.vmx \
            >"$run/vmplay-$card.log" 2>&1) &
        pid=$!
        sleep 3
        if unsupported "$run/vmplay-$card.log"; then
            kill $pid $s1 $s2 2>/dev/null; wait $pid $s1 $s2 2>/dev/null
            return 2
        fi
    else
        serial=$run/qemu-$card.serial
        qemu-img convert -O raw "$img/netbench.vmdk" "$run/netbench.raw" 2>/dev/null
        nice "$qemu" -accel tcg -M pc -m 256 -display none -no-reboot \
            -drive file="$run/netbench.raw",format=raw,if=ide -nic user,model=$model \
            -serial file:"$serial" >"$run/qemu-$card.log" 2>&1 &
        pid=$!
    fi
    wait_marker "$serial" $pid "netbench rx" || echo "net: $who $card: no 'netbench rx' marker" >&2
    sleep 1
    kill $pid $s1 $s2 2>/dev/null; wait $pid $s1 $s2 2>/dev/null
    return 0
}

echo "net: TCP through NAT, busybox nc, $MIB MiB each way, MB/s (vmplay --cpu=soft vs QEMU TCG)"
while read -r card model <&3; do
    [ -n "$card" ] || continue
    bench_one vmplay "$card" "$model"
    if [ $? = 2 ]; then echo "net $card: not emulated by this vmplay; skipped"; continue; fi
    if [ -n "$qemu" ]; then bench_one qemu "$card" "$model"; fi
    for d in tx rx; do
        v=$(rate "$run/vmplay-$card.$d"); q=$(rate "$run/qemu-$card.$d")
        [ $d = tx ] && dir="guest->host" || dir="host->guest"
        printf 'net %-7s %-11s vmplay %8s MB/s   qemu %8s MB/s   vmplay/qemu %s\n' "$card" "$dir" "$v" "$q" "$(ratio "$v" "$q")"
    done
done 3<<<"$NET_CARDS"

# ---- memory during a flood ----
while read -r card model <&3; do
    [ -n "$card" ] || continue
    write_vmx netflood "$card"
    serial=$run/netflood-$card.serial
    python3 "$host" drain 18343 >"$run/drain-$card.out" & sink=$!
    (cd "$run" && exec nice "$vmplay" --headless --cpu=soft --forward=udp:18344:7 netflood-$card.vmx \
        >"$run/flood-$card.log" 2>&1) &
    pid=$!
    python3 "$host" rss $pid 262144 "$run/rss-$card.txt" & sampler=$!
    python3 "$host" udpblast 18344 "$serial" "netflood start" 30 >"$run/udpblast-$card.out" & blast=$!
    sleep 3
    if unsupported "$run/flood-$card.log"; then
        kill $pid $sink $blast 2>/dev/null; wait $pid $sink $blast $sampler 2>/dev/null
        echo "net $card flood: not emulated by this vmplay; skipped"; continue
    fi
    wait_marker "$serial" $pid "netflood start"
    t_start=$(tail -1 "$run/rss-$card.txt" | awk '{print $1}')
    wait_marker "$serial" $pid "netflood done"
    wait $pid 2>/dev/null; st=$?
    kill $sink $blast 2>/dev/null; wait $sink $blast $sampler 2>/dev/null
    awk -v t="$t_start" -v card="$card" -v st="$st" '
        $2 < 0 { nomap = 1 }
        $1 <= t { base = $2 } $1 > t && $2 > peak { peak = $2 }
        END { if (nomap) { print "net " card " flood: guest RAM mapping not found"; exit }
              printf "net %-7s flood 30 s: player RSS outside guest RAM %d kB at start, peak %d kB (+%d kB); exit %d\n", card, base, peak, peak - base, st }' \
        "$run/rss-$card.txt"
done 3<<<"$NET_CARDS"
