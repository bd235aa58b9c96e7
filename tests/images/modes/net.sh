# vmplay.mode=net (sourced by init): the network card's driver, a DHCP lease,
# a file fetched from the host's loopback through the NAT gateway (10.0.2.2),
# and a file served by busybox httpd for the host to fetch through a forward.
# tests/guest/t_net.sh reads the markers and runs the host side.
ifconfig lo 127.0.0.1 up
n=0; while [ $n -lt 50 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 0.1; n=$((n+1)); done
drv=none
[ -e /sys/class/net/eth0/device/driver ] && drv=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
say "VMPLAY-MARKER: net driver $drv"
cat > /tmp/dhcp.sh <<'EOS'
#!/bin/sh
case "$1" in
deconfig) ifconfig "$interface" 0.0.0.0 up ;;
bound | renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    [ -n "$router" ] && route add default gw "${router%% *}" dev "$interface"
    echo "$ip" > /tmp/lease ;;
esac
EOS
chmod +x /tmp/dhcp.sh
timeout 60 udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 10 -T 2 >/dev/null 2>&1
say "VMPLAY-MARKER: net lease $(cat /tmp/lease 2>/dev/null || echo none)"
# The host's server listens on the first free one of these ports (the guest cannot be told).
for p in 18321 28321 38321; do
    if timeout 60 wget -q -O /tmp/got "http://10.0.2.2:$p/blob" 2>/dev/null; then
        say "VMPLAY-MARKER: net wget $p $(wc -c < /tmp/got) $(md5sum < /tmp/got | cut -c1-32)"
        break
    fi
done
mkdir -p /www
dd if=/dev/urandom of=/www/out bs=1024 count=512 2>/dev/null
httpd -p 80 -h /www
say "VMPLAY-MARKER: net serving $(wc -c < /www/out) $(md5sum < /www/out | cut -c1-32)"
# The host says it is done by connecting to port 81 (its second forward).
timeout 300 nc -l -p 81 > /tmp/sig 2>/dev/null < /dev/null || sleep 5
say "VMPLAY-MARKER: net host said $(cat /tmp/sig 2>/dev/null)"
