#!/usr/bin/env bash
# make install / make uninstall, the systemd unit template and make deb (issue 22).
#   install: make install DESTDIR=stage lists exactly the binary, the man page and
#     vmplay@.service under PREFIX; the unit's ExecStart names PREFIX/bin/vmplay;
#     make uninstall leaves no file behind
#   unit: systemd-analyze verify accepts vmplay@.service installed under a real
#     prefix (the binary and the man page where it looks), with no warning
#   deb: the package's file list is the staged tree's; Depends covers every shared
#     library ldd shows; dpkg -i and dpkg -r into a throwaway root (--instdir and
#     --admindir; the admin dir's status copied from the host so that Depends is
#     judged against installed packages) install and remove cleanly; lintian's
#     verdict is reported, not judged
set -u
cd "${TOP:-.}"
BUILD=${BUILD:-$PWD/build}
t=$(mktemp -d "${TMPDIR:-/tmp}/vmplay-install.XXXXXX")
trap 'rm -rf "$t"' EXIT
make_q() { nice make --no-print-directory -s "$@" >"$t/make.log" 2>&1; }

# ---- make install / uninstall ----
if ! make_q install DESTDIR="$t/stage" PREFIX=/usr/local; then
    echo "FAIL cli/install_files: make install failed: $(tail -c 300 "$t/make.log" | tr '\n' ' ')"
else
    got=$(cd "$t/stage" && find . -mindepth 1 ! -type d | LC_ALL=C sort | tr '\n' ' ')
    want="./usr/local/bin/vmplay ./usr/local/lib/systemd/system/vmplay@.service ./usr/local/share/man/man1/vmplay.1 "
    if [ "$got" = "$want" ]; then
        echo "PASS cli/install_files (${want% })"
    else
        echo "FAIL cli/install_files: installed '$got', expected '$want'"
    fi
    exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$t/stage/usr/local/lib/systemd/system/vmplay@.service")
    if [ "$exe" = /usr/local/bin/vmplay ] && [ -x "$t/stage$exe" ] && "$t/stage$exe" --version | grep -q '^vmplay '; then
        echo "PASS cli/install_unit_execstart ($exe runs)"
    else
        echo "FAIL cli/install_unit_execstart: ExecStart names '$exe'"
    fi
    make_q uninstall DESTDIR="$t/stage" PREFIX=/usr/local
    left=$(cd "$t/stage" && find . -mindepth 1 ! -type d | tr '\n' ' ')
    if [ -z "$left" ]; then
        echo "PASS cli/uninstall_files"
    else
        echo "FAIL cli/uninstall_files: left $left"
    fi
fi

# ---- systemd-analyze verify ----
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP cli/unit_verify: systemd-analyze is not installed (Debian systemd)"
elif ! command -v man >/dev/null; then
    echo "SKIP cli/unit_verify: man is not installed (systemd-analyze checks Documentation=man:vmplay(1) with it)"
elif ! make_q install PREFIX="$t/prefix"; then
    echo "FAIL cli/unit_verify: make install PREFIX=$t/prefix failed"
else
    out=$(MANPATH="$t/prefix/share/man" systemd-analyze verify "$t/prefix/lib/systemd/system/vmplay@.service" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then
        echo "PASS cli/unit_verify (systemd $(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'))"
    else
        echo "FAIL cli/unit_verify: status $rc: $(printf '%s' "$out" | tr '\n' ' ')"
    fi
fi

# ---- make deb, dpkg -i / -r ----
if ! command -v dpkg-deb >/dev/null; then
    echo "SKIP cli/deb_build: dpkg-deb is not installed (not a Debian host)"
    exit 0
fi
if ! make_q deb; then
    echo "FAIL cli/deb_build: make deb failed: $(tail -c 300 "$t/make.log" | tr '\n' ' ')"
    exit 0
fi
deb=$(ls "$BUILD"/vmplay_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)
want="./lib/systemd/system/vmplay@.service ./usr/bin/vmplay ./usr/share/doc/vmplay/changelog.gz ./usr/share/doc/vmplay/copyright ./usr/share/man/man1/vmplay.1.gz "
got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | LC_ALL=C sort | tr '\n' ' ')
if [ "$got" = "$want" ] && [ "$(dpkg-deb -f "$deb" Package)" = vmplay ]; then
    echo "PASS cli/deb_build ($(basename "$deb"), $(stat -c %s "$deb") bytes)"
else
    echo "FAIL cli/deb_build: $deb holds '$got', expected '$want'"
fi
# Depends against ldd: every library the binary names (DT_NEEDED), where ldd finds it,
# belongs to a package named in Depends.
deps=$(dpkg-deb -f "$deb" Depends)
missing=
needed=$(objdump -p "$PWD/vmplay" | awk '$1 == "NEEDED" {print $2}')
for so in $needed; do
    lib=$(ldd "$PWD/vmplay" | awk -v so="$so" '$1 == so && $3 ~ /^\// {print $3}')
    [ -n "$lib" ] || { missing="$missing $so(not found by ldd)"; continue; }
    real=$(readlink -f "$lib")
    pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "$lib" 2>/dev/null)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || { missing="$missing $lib(no package)"; continue; }
    case ", $deps," in *", $pkg "*|*", $pkg,"*) ;; *) missing="$missing $lib($pkg)" ;; esac
done
if [ -z "$missing" ]; then
    echo "PASS cli/deb_depends ($(echo $needed | wc -w) libraries; Depends: $deps)"
else
    echo "FAIL cli/deb_depends: not in Depends:$missing (Depends: $deps)"
fi
root=$t/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
cp /var/lib/dpkg/status "$root/var/lib/dpkg/status"
: > "$root/var/lib/dpkg/available"
# --force-script-chrootless: the maintainer scripts run here with DPKG_ROOT set (they skip
# systemctl then), instead of chrooted into a root that has no /bin/sh.
dpkg_r() { dpkg --instdir="$root" --admindir="$root/var/lib/dpkg" --force-script-chrootless "$@"; }
if ! dpkg_r -i "$deb" >"$t/dpkg.log" 2>&1; then
    echo "FAIL cli/deb_install: dpkg -i: $(tail -c 400 "$t/dpkg.log" | tr '\n' ' ')"
    exit 0
fi
status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' vmplay 2>/dev/null)
listed=$(dpkg-query --admindir="$root/var/lib/dpkg" -L vmplay | while read -r f; do [ -d "$root$f" ] || echo ".$f"; done | LC_ALL=C sort | tr '\n' ' ')
if [ "$status" = "install ok installed" ] && [ "$listed" = "$want" ] && "$root/usr/bin/vmplay" --version >/dev/null; then
    echo "PASS cli/deb_install (dpkg: $status)"
else
    echo "FAIL cli/deb_install: status '$status', files '$listed'"
fi
if ! dpkg_r -r vmplay >"$t/dpkg.log" 2>&1; then
    echo "FAIL cli/deb_remove: dpkg -r: $(tail -c 400 "$t/dpkg.log" | tr '\n' ' ')"
else
    left=$(cd "$root" && find . -mindepth 1 ! -type d ! -path './var/lib/dpkg/*' | tr '\n' ' ')
    status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' vmplay 2>/dev/null)
    dpkg_r -P vmplay >>"$t/dpkg.log" 2>&1
    purged=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Abbrev}' vmplay 2>/dev/null)
    if [ -z "$left" ] && [ "${status%% *}" = deinstall ] && case "${purged:-pn}" in i*|r*|h*) false ;; esac &&
        [ ! -e "$root/var/lib/dpkg/info/vmplay.list" ]; then
        echo "PASS cli/deb_remove (left no file; dpkg -r: $status; dpkg -P: ${purged:-gone})"
    else
        echo "FAIL cli/deb_remove: left '$left', status '$status'"
    fi
fi
# lintian: reported for the record, never a failure (no maintainer address, no license yet).
if command -v lintian >/dev/null; then
    tags=$(nice lintian "$deb" 2>/dev/null | grep -E '^[EW]: ' | cut -d' ' -f3 | sort -u | tr '\n' ' ')
    echo "lintian: ${tags:-clean}" >&2
fi
exit 0
