# Crash consistency of completed guest writes (issue 26): tests/guest/t_durable.sh
# runs in make check with 5 kills; make check-durable is the longer variant
# (DURABLE_KILLS=15, the most the appliance's data disks hold; DURABLE_SEED picks
# other kill moments).

.PHONY: check-durable
check-durable: $(BIN)
	$(Q)tools/deps.sh check
	$(Q)DURABLE_KILLS=$${DURABLE_KILLS:-15} BUILD=$(abspath $(B)) VMPLAY=$(abspath $(BIN)) \
		TOP=$(abspath .) bash tests/guest/t_durable.sh
