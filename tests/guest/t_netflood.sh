#!/usr/bin/env bash
# A guest that floods its network card (vmplay.mode=netflood: 30 s of TCP at
# full speed from the guest to the host, while the host blasts UDP datagrams
# at a guest port where nothing listens) must not hurt the player: it keeps running
# through the flood, the guest powers off afterwards (status 0), and the
# player's resident memory outside guest RAM does not grow beyond the network
# seam's documented queue bound (NET_QUEUE_MAX_BYTES of frames plus
# NET_QUEUE_MAX_FRAMES frame headers, read from devices/net.h) over what it
# was when the flood started, plus ALLOC_SLACK_KB for the allocator and
# libslirp's own buffers. Once per card of CARDS. Only 127.0.0.1 is contacted.
set -u
V=${VMPLAY:-./vmplay}
ok() { echo "PASS netflood/$1"; }
bad() { echo "FAIL netflood/$1: $2"; }
skip() { echo "SKIP netflood/$1: $2"; }
CARDS=${CARDS:-"e1000
vlance
e1000e
vmxnet3"}
ALLOC_SLACK_KB=${ALLOC_SLACK_KB:-1024}
qbytes=$(sed -n 's/^#define NET_QUEUE_MAX_BYTES (\([0-9]*\)u << \([0-9]*\)).*/\1 \2/p' devices/net.h | awk '{print $1 * 2^$2}')
qframes=$(sed -n 's/^#define NET_QUEUE_MAX_FRAMES \([0-9]*\).*/\1/p' devices/net.h)
[ -n "$qbytes" ] && [ -n "$qframes" ] || { bad queue_limits "cannot read the queue limits from devices/net.h"; exit 0; }
bound_kb=$(( (qbytes + qframes * 64) / 1024 + ALLOC_SLACK_KB ))
img=$(BUILD=$BUILD tests/images/appliance.sh 2>"$BUILD/appliance-build.log") ||
    { bad image_build "$(tail -3 "$BUILD/appliance-build.log" | tr '\n' ' ')"; exit 0; }
run=$BUILD/guest/netflood
rm -rf "$run"; mkdir -p "$run"
cp "$img/netflood.vmdk" "$run/"
host=bench/nethost.py
python3 -c 'import socket; socket.socket().bind(("127.0.0.1",18343))' 2>/dev/null ||
    { skip flood "TCP port 18343 on 127.0.0.1 is taken"; exit 0; }
python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("127.0.0.1",18344))' 2>/dev/null ||
    { skip flood "UDP port 18344 on 127.0.0.1 is taken"; exit 0; }
marker() { grep -a "VMPLAY-MARKER: $1" "$2" 2>/dev/null | tr -d '\r' | tail -1; }
wait_marker() { # serial pid text limit-seconds
    local t0=$SECONDS
    while [ -z "$(marker "$3" "$1")" ]; do
        kill -0 "$2" 2>/dev/null || return 1
        [ $((SECONDS - t0)) -lt "$4" ] || return 1
        sleep 0.5
    done
}

flood() { # card
    local card=$1 f=$run/flood-$1.vmx serial=$run/flood-$1.serial
    sed -e '/^ide0:/d' -e "s/^serial0.fileName = .*/serial0.fileName = \"flood-$card.serial\"/" "$img/test.vmx" > "$f"
    cat >> "$f" <<EOV
ide0:0.present = "TRUE"
ide0:0.fileName = "netflood.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "$card"
ethernet0.connectionType = "nat"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:6f:90:12"
ethernet0.generatedAddressOffset = "0"
EOV
    local ram_kb=$(( $(sed -n 's/^memsize = "\([0-9]*\)"/\1/p' "$f") * 1024 ))
    python3 "$host" drain 18343 >"$run/drain-$card.out" & local sink=$!
    (cd "$run" && exec timeout 900 "$V" --headless --cpu=soft --timeout=600 --forward=udp:18344:7 "flood-$card.vmx" \
        >"$run/vmplay-$card.out" 2>"$run/vmplay-$card.err") &
    local pid=$!
    python3 "$host" rss $pid "$ram_kb" "$run/rss-$card.txt" & local sampler=$!
    python3 "$host" udpblast 18344 "$serial" "netflood start" 30 >"$run/udpblast-$card.out" & local blast=$!
    local alive=yes t_start st
    if ! wait_marker "$serial" $pid "netflood start" 600; then
        kill $sink $blast 2>/dev/null; wait $pid; st=$?
        wait $sink $blast $sampler 2>/dev/null
        bad "${card}_flood_starts" "no 'netflood start' marker (status $st): $(head -c 300 "$run/vmplay-$card.err" | tr '\n' '|')"
        return
    fi
    t_start=$(tail -1 "$run/rss-$card.txt" | awk '{print $1}')
    wait_marker "$serial" $pid "netflood done" 300 || alive=no
    kill -0 $pid 2>/dev/null || [ -n "$(marker 'netflood done' "$serial")" ] || alive=no
    wait $pid; st=$?
    kill $sink $blast 2>/dev/null; wait $sink $blast $sampler 2>/dev/null
    [ $alive = yes ] && ok "${card}_player_runs_through_flood" ||
        bad "${card}_player_runs_through_flood" "no 'netflood done' marker (status $st)"
    [ "$st" = 0 ] && ok "${card}_powers_off_after_flood" || bad "${card}_powers_off_after_flood" "status $st"
    local bytes; bytes=$(cat "$run/drain-$card.out" 2>/dev/null)
    [ "${bytes:-0}" -gt 1000000 ] && ok "${card}_guest_flood_reached_host" ||
        bad "${card}_guest_flood_reached_host" "host received '${bytes}' bytes"
    local verdict
    verdict=$(awk -v t="$t_start" -v bound="$bound_kb" '
        $2 < 0 { print "nomap"; exit }
        $1 <= t { base = $2 } $1 > t && $2 > peak { peak = $2 }
        END { if (base == "") print "nobase"; else printf "%d %d %d\n", base, peak, (peak - base <= bound) }' "$run/rss-$card.txt")
    set -- $verdict
    case "$1" in
    nomap) skip "${card}_rss_bounded" "no mapping of guest RAM's size in /proc/PID/smaps" ;;
    nobase) bad "${card}_rss_bounded" "no RSS sample before the flood" ;;
    *) if [ "$3" = 1 ]; then ok "${card}_rss_bounded"
       else bad "${card}_rss_bounded" "RSS outside guest RAM ${1} kB at the start, peak ${2} kB: +$(( $2 - $1 )) kB > ${bound_kb} kB"; fi
       echo "  netflood $card: RSS outside guest RAM ${1} kB at the start, peak ${2} kB (+$(( $2 - $1 )) kB, bound ${bound_kb} kB), $(cat "$run/udpblast-$card.out" 2>/dev/null) datagrams blasted at the guest, ${bytes} bytes received from it" ;;
    esac
}

while read -r card <&3; do [ -n "$card" ] && flood "$card"; done 3<<<"$CARDS"
