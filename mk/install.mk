# make install / make uninstall / make deb.
#   make install [PREFIX=/usr/local] [DESTDIR=stage]: the binary, the man page and
#     the systemd unit template vmplay@.service (its ExecStart names $(BINDIR)/vmplay)
#   make deb: build/vmplay_$(VERSION)_$(DEB_ARCH).deb, made with dpkg-deb from a
#     staged tree (PREFIX=/usr, the unit in /lib/systemd/system as Debian 12 puts
#     units); Depends computed by dpkg-shlibdeps from the binary's shared libraries.
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
DEB_ARCH  := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB       := $(B)/vmplay_$(VERSION)_$(DEB_ARCH).deb
DEB_STAGE := $(B)/deb

.PHONY: install uninstall deb deb-run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMD_UNITDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/vmplay
	install -m 644 man/vmplay.1 $(DESTDIR)$(MANDIR)/man1/vmplay.1
	sed 's|@BINDIR@|$(BINDIR)|g' dist/vmplay@.service.in > $(DESTDIR)$(SYSTEMD_UNITDIR)/vmplay@.service
	chmod 644 $(DESTDIR)$(SYSTEMD_UNITDIR)/vmplay@.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vmplay $(DESTDIR)$(MANDIR)/man1/vmplay.1 \
	  $(DESTDIR)$(SYSTEMD_UNITDIR)/vmplay@.service

deb:
	$(Q)tools/deps.sh deb
	$(Q)$(MAKE) --no-print-directory deb-run

deb-run: $(BIN)
	$(call say,DEB,$(DEB))
	$(Q)B=$(B) BIN=$(BIN) VERSION=$(VERSION) ARCH=$(DEB_ARCH) STAGE=$(DEB_STAGE) OUT=$(DEB) \
	  MAKE="$(MAKE)" tools/mkdeb.sh
