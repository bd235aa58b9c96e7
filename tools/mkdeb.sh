#!/usr/bin/env bash
# Builds the Debian package from a staged `make install` tree (make deb runs it).
# Environment: B (build folder), BIN, VERSION, ARCH, STAGE (scratch folder), OUT (.deb), MAKE.
set -eu
cd "$(dirname "$0")/.."
STAGE=$(realpath -m "$STAGE"); root=$STAGE/root
rm -rf "$STAGE"
mkdir -p "$root/DEBIAN" "$STAGE/src/debian"
$MAKE --no-print-directory -s install DESTDIR="$root" PREFIX=/usr SYSTEMD_UNITDIR=/lib/systemd/system BIN="$BIN" >/dev/null
# What dh_strip and dh_installman would do: no debugging symbols, a compressed man page.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/vmplay"
gzip -9n "$root/usr/share/man/man1/vmplay.1"
doc=$root/usr/share/doc/vmplay
install -d "$doc"
printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: vmplay\n\nFiles: *\nCopyright: the vmplay authors\nLicense: unstated\n The vmplay sources state no license.\n' > "$doc/copyright"
printf 'vmplay (%s) unstable; urgency=low\n\n  * Built from the vmplay tree with make deb.\n\n -- vmplay maintainers <vmplay@localhost>  %s\n' \
    "$VERSION" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
    | gzip -9n > "$doc/changelog.gz"
chmod 644 "$doc/copyright" "$doc/changelog.gz"
# Depends: what the binary's shared libraries belong to, with their minimum versions.
printf 'Source: vmplay\n\nPackage: vmplay\nArchitecture: any\n' > "$STAGE/src/debian/control"
depends=$(cd "$STAGE/src" && dpkg-shlibdeps -O -e "../root/usr/bin/vmplay" 2>"../shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies:" >&2; cat "$STAGE/shlibdeps.log" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: vmplay
Version: $VERSION
Architecture: $ARCH
Maintainer: vmplay maintainers <vmplay@localhost>
Installed-Size: $size
Depends: $depends
Suggests: ovmf, ipxe-qemu
Section: otherosfs
Priority: optional
Description: minimal player for VMware virtual machines
 vmplay runs an existing VMware virtual machine (a .vmx with its .vmdk
 disks, or an .ova/.ovf package) with SeaBIOS, an i440FX/PIIX board and a
 software x86 core or KVM, in an SDL2 window, headless or over VNC.
 .
 The systemd unit template vmplay@.service starts a VM at boot, restarts it
 when it exits and stops it with a clean ACPI shutdown.
CONTROL
# Tell a running systemd about the unit (not inside another root: dpkg --root/--instdir).
for s in postinst postrm; do
    printf '#!/bin/sh\nset -e\nif [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then\n    systemctl daemon-reload >/dev/null 2>&1 || true\nfi\nexit 0\n' > "$root/DEBIAN/$s"
    chmod 755 "$root/DEBIAN/$s"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT" >/dev/null
echo "$OUT"
