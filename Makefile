# vmplay — a minimal VMware virtual machine player.
#
#   make            build ./vmplay
#   make check      install test dependencies, build, run every test
#   make demo       build the demo appliance and run it
#   make bench      speed against QEMU TCG and Bochs on the same images
#   make fuzz       libFuzzer targets (clang)
#   make install PREFIX=/usr/local (make uninstall; make deb: a Debian package; mk/install.mk)
#   make SAN=1 ...  AddressSanitizer + UndefinedBehaviorSanitizer build (separate build folder)
#   make V=1 ...    show commands

VERSION   := 0.1.0
PREFIX    ?= /usr/local
CC        ?= cc
PKG       := sdl2 libpng zlib json-c slirp expat nettle libvncserver
B         := build
ifeq ($(SAN),1)
O         := $(B)/san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
O         := $(B)/obj
SANFLAGS  :=
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKG) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKG) 2>/dev/null)

CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS  += -I. -D_GNU_SOURCE -DVMPLAY_VERSION='"$(VERSION)"'
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS    += $(PKG_LIBS) -lm -lpthread -lutil

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

# Every .c in these folders is part of the machine; player.c holds main().
# Binaries link the objects themselves, not an archive, so that backends
# found through weak references (cpu/backend.h) are always linked in.
LIB_SRC   := $(sort $(wildcard control/*.c cpu/*.c devices/*.c formats/*.c sdl/*.c vnc/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/%.o)
LIB       := $(O)/libvmplay.a
# tests/unit/test_<module>.c: one binary each, linked with the harness and the library.
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
HARNESS   := $(O)/tests/unit/harness.o

ifeq ($(SAN),1)
BIN := $(O)/vmplay
else
BIN := vmplay
endif

.PHONY: all check unit deps demo bench bench-run fuzz fuzz-run install clean distclean
# Every entry point a newcomer types installs what it needs first, then builds in a
# second make (which finds the freshly installed libraries through pkg-config).
all:
	$(Q)tools/deps.sh build
	$(Q)$(MAKE) --no-print-directory $(BIN)

$(BIN): $(O)/player.o $(LIB_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(O)/tests/%: $(O)/tests/unit/%.o $(HARNESS) $(LIB_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

# The interpreter's threaded dispatch: keep one indirect jump per form (GCC
# would otherwise merge them into one shared, badly predicted jump), and plain
# stores for the state it writes (SLP vectorization packs them through SSE).
$(O)/cpu/exec_fast.o: CFLAGS += -fno-gcse -fno-crossjumping -fno-tree-slp-vectorize

# Test binaries and the player, built in one go (make check runs them).
tests: $(BIN) $(UNIT_BIN)

# Per-area fragments (guest images, differential CPU runner, benchmarks...).
-include $(sort $(wildcard mk/*.mk))

deps:
	$(Q)tools/deps.sh check

# make check: dependencies, build, then every test; the last line is the summary.
check: deps
	$(Q)$(MAKE) --no-print-directory tests $(CHECK_PREREQS)
	$(Q)VMPLAY=$(abspath $(BIN)) UNITDIR=$(abspath $(O)/tests) BUILD=$(abspath $(B)) SAN=$(SAN) tests/run.sh

# Only the unit tests (what SAN=1 is for).
unit: $(UNIT_BIN)
	$(Q)UNITDIR=$(abspath $(O)/tests) ONLY=unit BUILD=$(abspath $(B)) tests/run.sh

# The demo appliance (Debian kernel + busybox on a VMDK) in a window, or on the
# terminal when there is no display.
demo:
	$(Q)tools/deps.sh demo
	$(Q)$(MAKE) --no-print-directory $(BIN)
	$(Q)BUILD=$(abspath $(B)) tools/demo.sh $(abspath $(BIN))

# Speed against QEMU TCG and Bochs; each area adds its part with `bench-run: bench-<area>`.
bench:
	$(Q)tools/deps.sh bench
	$(Q)$(MAKE) --no-print-directory bench-run

bench-run: $(BIN)
	$(Q)BUILD=$(abspath $(B)) bench/appliance.sh $(abspath $(BIN))
	$(Q)ARCH=amd64 BUILD=$(abspath $(B)) bench/appliance.sh $(abspath $(BIN))

# libFuzzer targets; each area adds its part with `fuzz-run: fuzz-<area>`.
fuzz:
	$(Q)tools/deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory fuzz-run

fuzz-run:

clean:
	rm -rf $(B)/obj $(B)/san vmplay

distclean:
	rm -rf $(B) vmplay

-include $(LIB_OBJ:.o=.d) $(O)/player.d $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%.d)
