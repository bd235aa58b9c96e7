# fuzz-vmx: libFuzzer target for formats/vmx.c + formats/config.c (clang,
# ASan + UBSan), run for FUZZ_SECONDS (60). Seeds: tests/fuzz/seeds/vmx and,
# when present, the real samples in ../shared/samples/vmx (read, never copied).
# Packages: tools/deps/fuzz-vmx.txt (installed by tools/deps.sh fuzz).
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_VMX_DIR  := $(B)/fuzz
FUZZ_VMX_BIN  := $(FUZZ_VMX_DIR)/fuzz_vmx
# config.c asks a disk's descriptor for its adapter type (vmdk.c), so the VMDK
# reader links in too.
FUZZ_VMX_SRC  := tests/fuzz/fuzz_vmx.c formats/vmx.c formats/config.c formats/config_print.c formats/error.c \
                 formats/vmdk.c formats/vmdk_desc.c formats/vmdk_sparse.c formats/raw.c formats/overlay.c \
                 formats/blockdev.c formats/lock.c
FUZZ_VMX_SEED := tests/fuzz/seeds/vmx $(wildcard ../shared/samples/vmx)

.PHONY: fuzz-vmx fuzz-vmx-deps
fuzz-run: fuzz-vmx

fuzz-vmx-deps:
	$(Q)tools/deps.sh fuzz

$(FUZZ_VMX_BIN): $(FUZZ_VMX_SRC) formats/vmx.h formats/config.h formats/error.h | fuzz-vmx-deps
	$(call say,FUZZCC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -std=c11 -g -O1 -I. -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $(FUZZ_VMX_SRC) -lz

fuzz-vmx: $(FUZZ_VMX_BIN)
	@mkdir -p $(FUZZ_VMX_DIR)/corpus-vmx
	$(FUZZ_VMX_BIN) -fork=1 -ignore_crashes=1 -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-dict=tests/fuzz/vmx.dict -artifact_prefix=$(FUZZ_VMX_DIR)/crash-vmx- -print_final_stats=1 \
		$(FUZZ_VMX_DIR)/corpus-vmx $(FUZZ_VMX_SEED)
	$(Q)n=$$(ls $(FUZZ_VMX_DIR)/crash-vmx-* 2>/dev/null | wc -l); \
		echo "  FUZZ    fuzz-vmx: $$n crash files in $(FUZZ_VMX_DIR)"; [ $$n = 0 ]
