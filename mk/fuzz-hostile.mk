# fuzz-hostile: the hostile-guest campaign (tests/hostile/t_hostile.sh) on the
# ASan/UBSan build, HOSTILE_SEEDS (2000) seeds from HOSTILE_FIRST (1000, past
# the 30 that make check runs); fails on any failing seed.
HOSTILE_LONG_SEEDS ?= 2000

.PHONY: fuzz-hostile
fuzz-run: fuzz-hostile

fuzz-hostile:
	$(Q)tools/deps.sh check
	$(Q)$(MAKE) --no-print-directory SAN=1 $(B)/san/vmplay
	$(Q)out=$$(HOSTILE_SEEDS=$${HOSTILE_SEEDS:-$(HOSTILE_LONG_SEEDS)} HOSTILE_FIRST=$${HOSTILE_FIRST:-1000} \
		HOSTILE_NAME=hostile-san BUILD=$(abspath $(B)) VMPLAY=$(abspath $(B))/san/vmplay TOP=$(abspath .) \
		bash tests/hostile/t_hostile.sh); echo "$$out"; ! echo "$$out" | grep -q '^FAIL'
