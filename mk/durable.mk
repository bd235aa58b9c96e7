# Crash consistency of completed guest writes (issue 26): tests/guest/t_durable.sh
# runs in make check with 5 kills; make check-durable is the longer variant
# (DURABLE_KILLS=15, the most the appliance's data disks hold; DURABLE_SEED picks
# other kill moments).

.PHONY: check-durable
check-durable: $(BIN)
	$(Q)tools/deps.sh check
	$(Q)DURABLE_KILLS=$${DURABLE_KILLS:-15} BUILD=$(abspath $(B)) VMPLAY=$(abspath $(BIN)) \
		TOP=$(abspath .) bash tests/guest/t_durable.sh

# SIGKILL while the guest writes to a disk on every controller (issue 14):
# tests/guest/t_killall.sh runs 3 kills in make check; make check-killall 100
# (KILLALL_KILLS, up to 127; KILLALL_SEED picks other kill moments).
.PHONY: check-killall
check-killall: $(BIN)
	$(Q)tools/deps.sh check
	$(Q)KILLALL_KILLS=$${KILLALL_KILLS:-100} BUILD=$(abspath $(B)) VMPLAY=$(abspath $(BIN)) \
		TOP=$(abspath .) bash tests/guest/t_killall.sh
