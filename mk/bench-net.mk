# bench-net: TCP throughput per network card through NAT, vmplay against QEMU TCG on the
# same appliance image, and the player's memory under a guest flood (bench/net.sh).
# NET_CARDS / NET_BENCH_MIB choose the cards and the amount (tools/deps/bench-net.txt).
.PHONY: bench-net
bench-run: bench-net

bench-net: $(BIN)
	$(Q)tools/deps.sh bench
	$(Q)BUILD=$(abspath $(B)) bench/net.sh $(abspath $(BIN))
