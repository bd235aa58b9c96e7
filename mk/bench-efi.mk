# bench-efi: the EFI appliance's boot (GRUB, init, power-off) under vmplay's interpreter
# and translator against qemu-system-x86_64 -accel tcg with the same OVMF (bench/efi.sh).
.PHONY: bench-efi
bench-run: bench-efi

bench-efi: $(BIN)
	$(Q)tools/deps.sh bench
	$(Q)BUILD=$(abspath $(B)) bench/efi.sh $(abspath $(BIN))
