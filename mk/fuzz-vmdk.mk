# fuzz-vmdk: libFuzzer target for VMDK open + read (formats/vmdk*.c, raw.c,
# overlay.c, blockdev.c) with clang, ASan + UBSan, run for FUZZ_SECONDS (60).
# Seeds: the real samples in ../shared/samples/vmdk (read, never copied into
# the repo; afl9 is unpacked into the build folder) and small disks made by
# qemu-img when it is installed.
FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 60
FUZZ_VMDK_DIR  := $(B)/fuzz
FUZZ_VMDK_BIN  := $(FUZZ_VMDK_DIR)/fuzz_vmdk
FUZZ_VMDK_SRC  := tests/fuzz/fuzz_vmdk.c formats/vmdk.c formats/vmdk_desc.c formats/vmdk_sparse.c \
                  formats/raw.c formats/overlay.c formats/blockdev.c formats/error.c
FUZZ_VMDK_SEED := $(FUZZ_VMDK_DIR)/seeds-vmdk
FUZZ_SAMPLES   := ../shared/samples/vmdk

.PHONY: fuzz-vmdk fuzz-vmdk-deps
fuzz-run: fuzz-vmdk

fuzz-vmdk-deps:
	$(Q)tools/deps.sh fuzz

$(FUZZ_VMDK_BIN): $(FUZZ_VMDK_SRC) formats/vmdk.h formats/image.h formats/blockdev.h | fuzz-vmdk-deps
	$(call say,FUZZCC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -std=c11 -g -O1 -I. -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ $(FUZZ_VMDK_SRC) -lz

$(FUZZ_VMDK_SEED)/.done:
	@mkdir -p $(dir $@)
	$(Q)if [ -d $(FUZZ_SAMPLES) ]; then \
		cp $(FUZZ_SAMPLES)/*.vmdk $(dir $@) && chmod u+w $(dir $@)/*; \
		bzip2 -dc $(FUZZ_SAMPLES)/afl9.vmdk.bz2 > $(dir $@)/afl9.vmdk || true; fi
	$(Q)if command -v qemu-img >/dev/null; then cd $(dir $@) && \
		head -c 300000 /dev/urandom > r.raw && \
		qemu-img convert -O vmdk r.raw q-sparse.vmdk && \
		qemu-img convert -O vmdk -o subformat=streamOptimized r.raw q-stream.vmdk && \
		qemu-img create -q -f vmdk -o subformat=monolithicFlat q-flat.vmdk 1M && \
		rm -f r.raw q-flat-flat.vmdk; fi
	@touch $@

fuzz-vmdk: $(FUZZ_VMDK_BIN) $(FUZZ_VMDK_SEED)/.done
	@mkdir -p $(FUZZ_VMDK_DIR)/corpus-vmdk
	$(FUZZ_VMDK_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4000000 -rss_limit_mb=4096 \
		-artifact_prefix=$(FUZZ_VMDK_DIR)/crash-vmdk- -print_final_stats=1 \
		$(FUZZ_VMDK_DIR)/corpus-vmdk $(FUZZ_VMDK_SEED)
