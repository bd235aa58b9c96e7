# vmplay.mode=netflood (sourced by init): the guest blasts zeros over TCP at
# the host's drain (10.0.2.2:18343) as fast as it can for 30 seconds while the
# host blasts UDP datagrams at the guest's port 7, where nothing listens (the
# guest's stack drops them). tests/guest/t_netflood.sh and bench/net.sh watch the
# player's memory meanwhile. Markers: netflood driver, lease, start, done.
ifconfig lo 127.0.0.1 up
n=0; while [ $n -lt 50 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 0.1; n=$((n+1)); done
drv=none
[ -e /sys/class/net/eth0/device/driver ] && drv=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
say "VMPLAY-MARKER: netflood driver $drv"
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
say "VMPLAY-MARKER: netflood lease $(cat /tmp/lease 2>/dev/null || echo none)"
say "VMPLAY-MARKER: netflood start"
timeout 30 nc 10.0.2.2 18343 < /dev/zero > /dev/null 2>&1
say "VMPLAY-MARKER: netflood done"
