# Embedded firmware: when the build host has SeaBIOS (Debian's seabios package, or
# FIRMWARE_SRC=DIR), bios-256k.bin and vgabios-stdvga.bin go into the binary
# (.incbin in a generated assembler file: the same input bytes give the same object),
# so vmplay runs without /usr/share/seabios. devices/firmware.c finds them through weak
# symbols; without them it reads the files at run time as before.
FIRMWARE_SRC ?= /usr/share/seabios
FW_FILES     := $(FIRMWARE_SRC)/bios-256k.bin $(FIRMWARE_SRC)/vgabios-stdvga.bin
FW_EMBED     := $(if $(and $(wildcard $(FIRMWARE_SRC)/bios-256k.bin),$(wildcard $(FIRMWARE_SRC)/vgabios-stdvga.bin)),$(O)/gen/firmware_embedded.o)

ifneq ($(FW_EMBED),)
$(BIN) $(UNIT_BIN): $(FW_EMBED)

$(O)/gen/firmware_embedded.S: $(FW_FILES) mk/firmware.mk
	$(call say,GEN,$@)
	@mkdir -p $(dir $@)
	$(Q){ printf '\t.section .rodata\n\t.balign 16\n'; \
	  for s in bios:bios-256k.bin vga:vgabios-stdvga.bin; do n=$${s%%:*}; f=$${s#*:}; \
	    printf '\t.globl vmplay_fw_%s, vmplay_fw_%s_end\nvmplay_fw_%s:\n\t.incbin "%s"\nvmplay_fw_%s_end:\n\t.balign 16\n' \
	      $$n $$n $$n "$(abspath $(FIRMWARE_SRC))/$$f" $$n; done; \
	  printf '\t.globl vmplay_fw_from\nvmplay_fw_from:\n\t.asciz "%s"\n' "$(abspath $(FIRMWARE_SRC))"; \
	  printf '\t.section .note.GNU-stack,"",@progbits\n'; } > $@

$(O)/gen/firmware_embedded.o: $(O)/gen/firmware_embedded.S
	$(call say,AS,$@)
	$(Q)$(CC) -c -o $@ $<
endif

# OVMF the same way (OVMF_SRC=DIR, default Debian's ovmf): OVMF_CODE_4M.fd and the
# variable store template OVMF_VARS_4M.fd, for firmware = "efi" (devices/firmware_efi.c).
OVMF_SRC   ?= /usr/share/OVMF
OVMF_FILES := $(OVMF_SRC)/OVMF_CODE_4M.fd $(OVMF_SRC)/OVMF_VARS_4M.fd
OVMF_EMBED := $(if $(and $(wildcard $(OVMF_SRC)/OVMF_CODE_4M.fd),$(wildcard $(OVMF_SRC)/OVMF_VARS_4M.fd)),$(O)/gen/ovmf_embedded.o)

ifneq ($(OVMF_EMBED),)
$(BIN) $(UNIT_BIN): $(OVMF_EMBED)

$(O)/gen/ovmf_embedded.S: $(OVMF_FILES) mk/firmware.mk
	$(call say,GEN,$@)
	@mkdir -p $(dir $@)
	$(Q){ printf '\t.section .rodata\n\t.balign 4096\n'; \
	  for s in code:OVMF_CODE_4M.fd vars:OVMF_VARS_4M.fd; do n=$${s%%:*}; f=$${s#*:}; \
	    printf '\t.globl vmplay_ovmf_%s, vmplay_ovmf_%s_end\nvmplay_ovmf_%s:\n\t.incbin "%s"\nvmplay_ovmf_%s_end:\n\t.balign 16\n' \
	      $$n $$n $$n "$(abspath $(OVMF_SRC))/$$f" $$n; done; \
	  printf '\t.globl vmplay_ovmf_from\nvmplay_ovmf_from:\n\t.asciz "%s"\n' "$(abspath $(OVMF_SRC))"; \
	  printf '\t.section .note.GNU-stack,"",@progbits\n'; } > $@

$(O)/gen/ovmf_embedded.o: $(O)/gen/ovmf_embedded.S
	$(call say,AS,$@)
	$(Q)$(CC) -c -o $@ $<
endif
