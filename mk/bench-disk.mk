# bench-disk: sequential read, allocating write (write cache on and off) and 4 KiB scattered reads
# through vmplay's VMDK code against `qemu-img bench` on the same files
# (bench/disk.sh). Needs qemu-img (tools/deps/bench-disk.txt).
BENCH_DISK_BIN := $(O)/bench/bench_disk

.PHONY: bench-disk
bench-run: bench-disk

$(BENCH_DISK_BIN): tests/bench/bench_disk.c $(LIB_OBJ)
	$(call say,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

bench-disk: $(BENCH_DISK_BIN)
	$(Q)tools/deps.sh bench
	$(Q)BUILD=$(abspath $(B)) bench/disk.sh $(abspath $(BENCH_DISK_BIN))

# The guest stage: the appliance's own drivers on each controller, vmplay against QEMU TCG
# (bench/diskguest.sh).
.PHONY: bench-disk-guest
bench-run: bench-disk-guest

bench-disk-guest: $(BIN)
	$(Q)BUILD=$(abspath $(B)) bench/diskguest.sh $(abspath $(BIN))
