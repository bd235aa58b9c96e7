# vmplay.mode=tap (sourced by init): the data path of a host tap device, for
# tests/guest/t_tap.sh. No DHCP on a bare tap: the guest takes 10.77.0.2/24, the host's end
# of the tap is 10.77.0.1 (inside the test's own network namespace). The guest fetches
# http://10.77.0.1:18390/blob and says its size and md5, then sends 256 KiB of random bytes
# to 10.77.0.1:18391 with nc and says their md5. Markers: tap driver, wget, sent.
ifconfig lo 127.0.0.1 up
n=0; while [ $n -lt 50 ] && [ ! -e /sys/class/net/eth0 ]; do sleep 0.1; n=$((n+1)); done
drv=none
[ -e /sys/class/net/eth0/device/driver ] && drv=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
say "VMPLAY-MARKER: tap driver $drv"
ifconfig eth0 10.77.0.2 netmask 255.255.255.0 up
n=0
while [ $n -lt 20 ] && ! timeout 30 wget -q -O /tmp/got http://10.77.0.1:18390/blob 2>/dev/null; do
    sleep 1; n=$((n+1))
done
say "VMPLAY-MARKER: tap wget $(wc -c < /tmp/got 2>/dev/null || echo 0) $(md5sum < /tmp/got | cut -c1-32)"
dd if=/dev/urandom of=/tmp/up bs=1024 count=256 2>/dev/null
timeout 120 nc 10.77.0.1 18391 < /tmp/up > /dev/null 2>&1
say "VMPLAY-MARKER: tap sent $(wc -c < /tmp/up) $(md5sum < /tmp/up | cut -c1-32)"
