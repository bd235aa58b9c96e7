# fuzz-vmdk: libFuzzer target for VMDK open, read and write-back (formats/vmdk*.c,
# raw.c, overlay.c, blockdev.c) with clang, ASan + UBSan, run for FUZZ_SECONDS
# (60; the campaign before a release: FUZZ_SECONDS=600) in fork mode, going on
# past a crash; the corpus stays in $(B)/fuzz/corpus-vmdk, crashes are
# $(B)/fuzz/crash-vmdk-*, and the target fails when there is one.
# Seeds: the real samples in ../shared/samples/vmdk (read, never copied into
# the repo; afl9 is unpacked into the build folder) and small disks made by
# qemu-img when it is installed: sparse, stream, flat, split (two sparse
# extents, two flat extents) and a snapshot chain, the multi-file ones packed
# by tests/fuzz/pack.sh.
FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 60
FUZZ_VMDK_DIR  := $(B)/fuzz
FUZZ_VMDK_BIN  := $(FUZZ_VMDK_DIR)/fuzz_vmdk
FUZZ_VMDK_SRC  := tests/fuzz/fuzz_vmdk.c formats/vmdk.c formats/vmdk_desc.c formats/vmdk_sparse.c \
                  formats/raw.c formats/overlay.c formats/blockdev.c formats/error.c formats/lock.c
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
		rm -f q-flat-flat.vmdk && mkdir -p mk && cd mk && \
		head -c 200704 ../r.raw > base.raw && qemu-img convert -O vmdk base.raw base.vmdk && \
		qemu-img create -q -f vmdk -b base.vmdk -F vmdk child.vmdk && \
		$(abspath tests/fuzz/pack.sh) ../q-chain.vmdk child.vmdk base.vmdk && \
		qemu-img convert -O vmdk -o subformat=twoGbMaxExtentSparse base.raw a.vmdk && \
		qemu-img convert -O vmdk -o subformat=twoGbMaxExtentSparse base.raw b.vmdk && \
		printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="twoGbMaxExtentSparse"\nRW 392 SPARSE "a-s001.vmdk"\nRW 392 SPARSE "b-s001.vmdk"\n' > split.vmdk && \
		$(abspath tests/fuzz/pack.sh) ../q-split.vmdk split.vmdk a-s001.vmdk b-s001.vmdk && \
		head -c 65536 base.raw > f1 && head -c 65536 ../r.raw | tail -c 32768 > f2 && \
		printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\nRW 128 FLAT "f1" 0\nRW 64 FLAT "f2" 0\n' > flat.vmdk && \
		$(abspath tests/fuzz/pack.sh) ../q-splitflat.vmdk flat.vmdk f1 f2 && \
		cd .. && rm -rf mk r.raw; fi
	@touch $@

fuzz-vmdk: $(FUZZ_VMDK_BIN) $(FUZZ_VMDK_SEED)/.done
	@mkdir -p $(FUZZ_VMDK_DIR)/corpus-vmdk
	$(FUZZ_VMDK_BIN) -fork=1 -ignore_crashes=1 -max_total_time=$(FUZZ_SECONDS) \
		-max_len=4000000 -rss_limit_mb=4096 -artifact_prefix=$(FUZZ_VMDK_DIR)/crash-vmdk- \
		-print_final_stats=1 $(FUZZ_VMDK_DIR)/corpus-vmdk $(FUZZ_VMDK_SEED)
	$(Q)n=$$(ls $(FUZZ_VMDK_DIR)/crash-vmdk-* 2>/dev/null | wc -l); \
		echo "  FUZZ    fuzz-vmdk: $$n crash files in $(FUZZ_VMDK_DIR)"; [ $$n = 0 ]
