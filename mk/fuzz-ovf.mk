# fuzz-ovf: libFuzzer target for formats/ovf.c (the OVF envelope -> .vmx lines) with
# formats/vmx.c + formats/config.c behind it (clang, ASan + UBSan), run for FUZZ_SECONDS.
# Seeds: tests/fuzz/seeds/ovf. Packages: tools/deps/fuzz-vmx.txt plus libexpat1-dev.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_OVF_DIR  := $(B)/fuzz
FUZZ_OVF_BIN  := $(FUZZ_OVF_DIR)/fuzz_ovf
FUZZ_OVF_SRC  := tests/fuzz/fuzz_ovf.c formats/ovf.c formats/vmx.c formats/config.c \
                 formats/config_print.c formats/error.c

.PHONY: fuzz-ovf
fuzz-run: fuzz-ovf

$(FUZZ_OVF_BIN): $(FUZZ_OVF_SRC) formats/ovf.h formats/vmx.h formats/config.h formats/error.h | fuzz-vmx-deps
	$(call say,FUZZCC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -std=c11 -g -O1 -I. -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $(FUZZ_OVF_SRC) -lexpat

fuzz-ovf: $(FUZZ_OVF_BIN)
	@mkdir -p $(FUZZ_OVF_DIR)/corpus-ovf
	$(FUZZ_OVF_BIN) -fork=1 -ignore_crashes=1 -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(FUZZ_OVF_DIR)/crash-ovf- -print_final_stats=1 \
		$(FUZZ_OVF_DIR)/corpus-ovf tests/fuzz/seeds/ovf
	$(Q)n=$$(ls $(FUZZ_OVF_DIR)/crash-ovf-* 2>/dev/null | wc -l); \
		echo "  FUZZ    fuzz-ovf: $$n crash files in $(FUZZ_OVF_DIR)"; [ $$n = 0 ]
