#!/usr/bin/env bash
# Installs the Debian packages a make target needs when they are missing.
#   tools/deps.sh check|demo|bench|fuzz
# Package lists: tools/deps/<target>-*.txt (one package per line, # comments).
# Runs apt-get as root, or through sudo; says what it installs.
set -u
target=${1:-check}
cd "$(dirname "$0")/.."
want=()
for f in tools/deps/"$target"-*.txt tools/deps/build.txt; do
    [ -f "$f" ] || continue
    while read -r p _; do
        case "$p" in ''|'#'*) continue ;; esac
        want+=("$p")
    done < "$f"
done
missing=()
for p in "${want[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in *" installed") ;; *) missing+=("$p") ;; esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "vmplay: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
fi
echo "  DEPS    installing ${missing[*]}"
for p in "${missing[@]}"; do
    case "$p" in *:i386) $SUDO dpkg --add-architecture i386; break ;; esac
done
export DEBIAN_FRONTEND=noninteractive
# A partial index failure (a mirror mid-sync) is not fatal: install from what we have.
$SUDO apt-get update -qq >/dev/null 2>&1 || true
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "vmplay: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
