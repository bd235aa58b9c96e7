# vmplay.mode=netirq: Linux's e1000e under each of its interrupt modes, loaded
# with IntMode=2 (MSI-X, its default; at boot), 1 (MSI) and 0 (INTx, what
# pci=nomsi leaves it). For each: the eth0 lines of /proc/interrupts (name,
# controller, count), a DHCP lease and a file fetched from the host's loopback
# (10.0.2.2). tests/guest/t_e1000e.sh runs the host side and reads the markers.
ifconfig lo 127.0.0.1 up
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
for m in 2 1 0; do
    if [ $m != 2 ]; then
        ifconfig eth0 down 2>/dev/null
        busybox rmmod e1000e
        insmod /lib/modules/e1000e.ko IntMode=$m
    fi
    n=0; while [ $n -lt 50 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 0.1; n=$((n+1)); done
    rm -f /tmp/lease /tmp/got
    timeout 60 udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 10 -T 2 >/dev/null 2>&1
    md5=none
    for p in 18321 28321 38321; do
        if timeout 60 wget -q -O /tmp/got "http://10.0.2.2:$p/blob" 2>/dev/null; then
            md5=$(md5sum < /tmp/got | cut -c1-32)
            break
        fi
    done
    # "NN: COUNT CHIP HWIRQ NAME" -> NAME:CHIP:COUNT, one CPU
    irqs=$(grep 'eth0' /proc/interrupts | awk '{printf "%s:%s:%s ", $NF, $3, $2}')
    say "VMPLAY-MARKER: netirq mode=$m lease=$(cat /tmp/lease 2>/dev/null || echo none) md5=$md5 irqs=$irqs"
done
