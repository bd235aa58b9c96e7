# vmplay.mode=netbench (sourced by init): TCP throughput through the NAT with
# busybox nc, for bench/net.sh. After a DHCP lease the guest sends 256 MiB of
# zeros to the host's sink at 10.0.2.2:18341 (the host times it), then reads
# what the host's source at 10.0.2.2:18342 sends and counts it (the host times
# that too). Markers: netbench driver, lease, tx done, rx <bytes>.
ifconfig lo 127.0.0.1 up
n=0; while [ $n -lt 50 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 0.1; n=$((n+1)); done
drv=none
[ -e /sys/class/net/eth0/device/driver ] && drv=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
say "VMPLAY-MARKER: netbench driver $drv"
cat > /tmp/dhcp.sh <<'EOF'
#!/bin/sh
case "$1" in
deconfig) ifconfig "$interface" 0.0.0.0 up ;;
bound | renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    [ -n "$router" ] && route add default gw "${router%% *}" dev "$interface"
    echo "$ip" > /tmp/lease ;;
esac
EOF
chmod +x /tmp/dhcp.sh
timeout 60 udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 10 -T 2 >/dev/null 2>&1
say "VMPLAY-MARKER: netbench lease $(cat /tmp/lease 2>/dev/null || echo none)"
dd if=/dev/zero bs=65536 count=4096 2>/dev/null | timeout 1200 nc 10.0.2.2 18341
say "VMPLAY-MARKER: netbench tx done"
say "VMPLAY-MARKER: netbench rx $(timeout 1200 nc 10.0.2.2 18342 < /dev/null | wc -c)"
