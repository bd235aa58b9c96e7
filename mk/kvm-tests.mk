# Backend oracles (issue 8): small guest ROMs run on --cpu=soft and --cpu=kvm.
#   $(B)/kvm/roms/*.bin   64 KiB test ROMs from tests/kvm/*.asm (nasm, with tests/cpu/rom.inc)
#   make check-kvm        boots the test appliance with --cpu=kvm (hosts with hardware
#                         virtualization; not part of make check, see README)

KVM_ROM_SRC := $(sort $(wildcard tests/kvm/*.asm))
KVM_ROMS    := $(KVM_ROM_SRC:tests/kvm/%.asm=$(B)/kvm/roms/%.bin)

$(B)/kvm/roms/%.bin: tests/kvm/%.asm tests/kvm/real.inc tests/cpu/rom.inc
	$(call say,NASM,$@)
	@mkdir -p $(dir $@)
	$(Q)if command -v nasm >/dev/null; then nasm -f bin -i tests/cpu/ -i tests/kvm/ -o $@ $<; \
	else echo "  SKIP    $@: nasm is not installed"; fi

CHECK_PREREQS += $(KVM_ROMS)

.PHONY: check-kvm
check-kvm: $(BIN)
	$(Q)tools/deps.sh check
	$(Q)BUILD=$(abspath $(B)) VMPLAY=$(abspath $(BIN)) tests/kvm/appliance_kvm.sh
