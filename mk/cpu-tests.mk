# CPU test oracles (issue 4): the differential suite against the host CPU and
# the system-level test ROMs.
#   $(B)/cpu/runner32          native runner, 32-bit (gcc -m32: Debian gcc-multilib)
#   $(O)/cpu-tests/cpudiff     driver: generates cases, runs them natively and on the core
#   $(B)/cpu/runner64          native runner, 64-bit mode at CPL 3 (the host's gcc)
#   $(O)/cpu-tests/cpudiff64   driver of the 64-bit groups (integer, SSE..SSSE3)
#   $(B)/cpu/roms/*.bin        64 KiB test ROMs from tests/cpu/*.asm (nasm)
#   $(O)/cpu-tests/cpudiff-planted  the same driver over a core with known-wrong results
#                              (tests/cpu/planted.c): the suite must catch them
#   tests/cpu/recorded/diff32.rec.gz  the host's answers, replayed where runner32 cannot run
#   make cpu-record            records this host's answers into it (needs a host that
#                              executes 32-bit programs; review, then commit)
#   make cpu-bochs             runs the ROMs with a "; bochs-cpu:" line under Bochs and
#                              compares (tests/cpu/t_roms_bochs.sh; not in make check)
#   make cpu-expected          runs every ROM under QEMU TCG into $(B)/cpu/qemu/ (to review
#                              and copy into tests/cpu/expected/); a ROM's "; qemu-args:"
#                              line adds options (a CPU model with the feature it tests),
#                              a "; qemu-bin:" line another QEMU (qemu-system-x86_64)

CC32        ?= gcc
CPU_ROM_SRC := $(sort $(wildcard tests/cpu/*.asm))
CPU_ROMS    := $(CPU_ROM_SRC:tests/cpu/%.asm=$(B)/cpu/roms/%.bin)
CPUDIFF_OBJ := $(O)/tests/cpu/cpudiff.o $(O)/tests/cpu/cpudiff_gen.o $(O)/tests/cpu/sse_ops.o \
               $(O)/tests/cpu/cpudiff_rec.o
CPUDIFF_REC := tests/cpu/recorded/diff32.rec.gz

# Without gcc -m32 the runner is not built and the suite SKIPs visibly.
$(B)/cpu/runner32: tests/cpu/runner32.c tests/cpu/cpudiff.h tests/cpu/runner_faults.h
	$(call say,CC32,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC32) -m32 -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -fno-pie -no-pie \
		-o $@ $< || echo "  SKIP    $@: $(CC32) -m32 failed (install gcc-multilib)"

$(B)/cpu/runner64: tests/cpu/runner64.c tests/cpu/cpudiff64.h tests/cpu/runner_faults.h
	$(call say,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -O2 -Wall -Wextra -Werror -fno-pie -no-pie -o $@ $< || \
		echo "  SKIP    $@: $(CC) cannot build a native x86-64 runner"

$(O)/cpu-tests/cpudiff64: $(O)/tests/cpu/cpudiff64.o $(O)/tests/cpu/sse_ops.o $(LIB_OBJ)
	$(call say,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(O)/cpu-tests/cpudiff: $(CPUDIFF_OBJ) $(LIB_OBJ)
	$(call say,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(O)/cpu-tests/cpudiff-planted: $(CPUDIFF_OBJ) $(O)/tests/cpu/planted.o $(LIB_OBJ)
	$(call say,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -Wl,--wrap=sse_host,--wrap=fpu_exec -o $@ $^ $(LDLIBS)

$(B)/cpu/roms/%.bin: tests/cpu/%.asm tests/cpu/rom.inc
	$(call say,NASM,$@)
	@mkdir -p $(dir $@)
	$(Q)if command -v nasm >/dev/null; then nasm -f bin -i tests/cpu/ -o $@ $<; \
	else echo "  SKIP    $@: nasm is not installed"; fi

# The ROM unit test finds the images under $(B)/cpu/roms (order-only: not linked).
$(O)/tests/test_cpu_roms: | $(CPU_ROMS)

CHECK_PREREQS += $(B)/cpu/runner32 $(O)/cpu-tests/cpudiff $(O)/cpu-tests/cpudiff-planted $(CPU_ROMS)
CHECK_PREREQS += $(B)/cpu/runner64 $(O)/cpu-tests/cpudiff64

.PHONY: cpu-record
cpu-record: $(B)/cpu/runner32 $(O)/cpu-tests/cpudiff
	$(Q)mkdir -p $(dir $(CPUDIFF_REC))
	$(Q)$(O)/cpu-tests/cpudiff $(B)/cpu/runner32 --record $(CPUDIFF_REC).new \
		--source "make cpu-record at $$(git describe --always --dirty 2>/dev/null)" >/dev/null && \
		mv $(CPUDIFF_REC).new $(CPUDIFF_REC) && echo "  RECORD  $(CPUDIFF_REC)" || \
		{ rm -f $(CPUDIFF_REC).new; echo "cpu-record: this host cannot run the 32-bit runner" >&2; exit 1; }

# The second oracle: the ROMs with a "; bochs-cpu:" line under Debian's Bochs (a few
# seconds each, so not in make check).
.PHONY: cpu-bochs
cpu-bochs: $(CPU_ROMS)
	$(Q)BUILD=$(B) bash tests/cpu/t_roms_bochs.sh

.PHONY: cpu-expected
cpu-expected: $(CPU_ROMS)
	$(Q)mkdir -p $(B)/cpu/qemu
	$(Q)for r in $(CPU_ROMS); do n=$$(basename $$r .bin); \
		rm -f $(B)/cpu/qemu/$$n.txt; \
		grep -q '^; qemu-skip:' tests/cpu/$$n.asm && continue; \
		args=$$(sed -n 's/^; qemu-args: //p' tests/cpu/$$n.asm); \
		qemu=$$(sed -n 's/^; qemu-bin: //p' tests/cpu/$$n.asm); \
		timeout 20 $${qemu:-qemu-system-i386} -accel tcg -M pc -m 8 $$args -bios $$r -display none \
			-debugcon file:$(B)/cpu/qemu/$$n.txt \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot; \
		echo "  QEMU    $$n: exit $$?"; done

-include $(CPUDIFF_OBJ:.o=.d) $(O)/tests/cpu/cpudiff64.d $(O)/tests/cpu/planted.d
