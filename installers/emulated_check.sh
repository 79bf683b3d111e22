#!/bin/sh
# The aarch64 release archive installed and run on an x86-64 PC, by emulation (`make check-aarch64`).
#
#   installers/emulated_check.sh ARCHIVE [ROOT]
#
# Township PCs are ARM too (飞腾/鲲鹏 under 麒麟 or 统信UOS), and `make dist` builds their archive from wheels we
# otherwise never execute. This makes a Debian 12 arm64 root (debootstrap: python3.11 and its venv, nothing
# else) in ROOT, default /var/tmp/onetrip-arm64-root, kept for the next run; registers qemu-aarch64 with the
# kernel (binfmt_misc, flag F, so the emulator is found inside the chroot and every aarch64 program pip or
# the node starts is emulated too); then inside the chroot runs the archive's install.sh --prefix
# /opt/onetrip (timed), imports every compiled extension module the wheels brought, `onetrip init`s a
# village station and `onetrip serve`s it on loopback, and asks for /healthz from outside (a chroot shares
# the host's network).
#
# Needs root, qemu-user-static, debootstrap, curl and Debian's mirror (the one apt uses; MIRROR=… to
# choose another) for the first run; minutes each run: everything inside is emulated, several times slower
# than on the real PC. It shows that the wheels are the right ones and that the node runs on aarch64, not how
# fast: measure that on the PC. Not part of `make test`. PORT (default 18790) is where the node listens.
set -eu

archive=${1:?usage: installers/emulated_check.sh ARCHIVE [ROOT]}
root=${2:-/var/tmp/onetrip-arm64-root}
root=${root%/}
port=${PORT:-18790}
includes=python3.11,python3.11-venv,python3-distutils  # python3.11-venv needs the virtual python3.11-distutils,
# which debootstrap does not resolve by itself: python3-distutils provides it.

fail() {
    echo "emulated_check: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, binfmt_misc)"
for tool in qemu-aarch64-static debootstrap curl; do
    command -v "$tool" >/dev/null || fail "needs $tool (apt-get install qemu-user-static debootstrap curl)"
done
[ -f "$archive" ] || fail "no archive $archive (make dist first)"
case "$archive" in *-linux-aarch64.tar.gz) ;; *) fail "$archive is not an aarch64 release archive" ;; esac
archive=$(cd "$(dirname "$archive")" && pwd)/$(basename "$archive")

# binfmt_misc: mounted, and aarch64 ELF files handed to qemu. Registered here with F (the kernel opens the
# emulator now, so the chroot needs no copy of it); one registered before without F gets its copy in ROOT.
binfmt=/proc/sys/fs/binfmt_misc
[ -f "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" ||
    fail "binfmt_misc cannot be mounted here: aarch64 programs cannot be started from one another (pip needs it)"
if [ ! -f "$binfmt/qemu-aarch64" ]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || fail "no $conf (qemu-user-static's)"
    cat "$conf" >"$binfmt/register" || fail "qemu-aarch64 could not be registered with binfmt_misc"
fi
grep -q '^enabled' "$binfmt/qemu-aarch64" || fail "qemu-aarch64 is registered but disabled ($binfmt/qemu-aarch64)"
interpreter=$(sed -n 's/^interpreter //p' "$binfmt/qemu-aarch64")

if [ ! -f "$root/.onetrip-arm64-root" ]; then
    mirror=${MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n \
        -e 's|^URIs:[[:space:]]*\([^[:space:]]*/debian\)/*$|\1|p' \
        -e 's|^deb[[:space:]]\{1,\}\([^[:space:]]*/debian\)/*[[:space:]].*|\1|p' | head -n 1)}
    mirror=${mirror:-http://deb.debian.org/debian}
    echo "== debootstrap bookworm arm64 into $root from $mirror (a few minutes)"
    case "$root" in / | "") fail "ROOT must be a folder of its own, not '$root'" ;; esac
    ! mountpoint -q "$root/proc" || umount "$root/proc"  # a run cut short: never rm -rf through /proc
    rm -rf "$root"
    debootstrap --arch=arm64 --variant=minbase --include="$includes" bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
        fail "debootstrap failed, see $root.log and $root/debootstrap/debootstrap.log"
    touch "$root/.onetrip-arm64-root"
fi
if ! grep -q '^flags:.*F' "$binfmt/qemu-aarch64" && [ ! -x "$root$interpreter" ]; then
    mkdir -p "$(dirname "$root$interpreter")"
    cp "$(command -v qemu-aarch64-static)" "$root$interpreter"
fi

server=
cleanup() {
    [ -z "$server" ] || kill -TERM "$server" 2>/dev/null || true
    [ -z "$server" ] || wait "$server" 2>/dev/null || true
    ! mountpoint -q "$root/proc" || umount "$root/proc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"

top=$(basename "$archive" .tar.gz)
rm -rf "$root/opt/src" "$root/opt/onetrip" "$root/var/lib/onetrip-check"
mkdir -p "$root/opt/src"
tar -xzf "$archive" -C "$root/opt/src"
version=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' "$root/opt/src/$top/manifest.json" | head -n 1)

echo "== install.sh --prefix /opt/onetrip (emulated)"
load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
started=$(date +%s.%N)
# `times` after it: the CPU time of install.sh and everything it started (pip, the compiler of .pyc files),
# which says more than the wall time on a PC busy with something else.
times=$(sh -c 'chroot "$1" /bin/sh -c "cd /opt/src/$2 && ./install.sh --prefix /opt/onetrip" >&2 && times' \
    sh "$root" "$top") || fail "install.sh failed"
install_s=$(echo "$(date +%s.%N) $started" | awk '{printf "%.1f", $1 - $2}')
install_cpu=$(echo "$times" | tail -n 1 | tr 'ms' '  ' | awk '{printf "%.1f", $1 * 60 + $2 + $3 * 60 + $4}')
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

echo "== every compiled extension module the wheels installed"
cat >"$root/tmp/onetrip-imports.py" <<'EOF'
import importlib
import platform
import sys
import sysconfig
from pathlib import Path

# Pillow's Tk bridge needs tkinter (python3-tk), which OneTrip never uses and the node's Python need not have.
UNUSED = {"PIL._imagingtk"}
site = Path(sysconfig.get_paths()["purelib"])
imported, failed = [], []
for library in sorted(site.rglob("*.so")):
    parts = library.relative_to(site).parts
    if any(part.endswith(".libs") for part in parts):
        continue  # the shared libraries auditwheel bundles (libjpeg, libpq, …): loaded by the modules
    module = ".".join([*parts[:-1], parts[-1].split(".")[0]])
    if module in UNUSED:
        continue
    try:
        importlib.import_module(module)
        imported.append(module)
    except Exception as exc:
        failed.append(f"{module}: {exc!r}")
print(f"platform.machine()={platform.machine()} python={sys.version.split()[0]} imported={len(imported)}")
print(" ".join(imported))
for line in failed:
    print(f"FAILED {line}", file=sys.stderr)
sys.exit(1 if failed or not imported else 0)
EOF
imports=$(chroot "$root" /opt/onetrip/venv/bin/python /tmp/onetrip-imports.py) || fail "an extension module did not import"
echo "$imports"

echo "== onetrip init, onetrip serve on 127.0.0.1:$port, /healthz from the host"
! curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/" || fail "port $port is taken (PORT=… to choose another)"
chroot "$root" /opt/onetrip/venv/bin/onetrip init --data /var/lib/onetrip-check --level village \
    --name 青山村便民服务代办点 --region 511302001001 || fail "onetrip init failed"
started=$(date +%s.%N)
chroot "$root" /opt/onetrip/venv/bin/onetrip serve --data /var/lib/onetrip-check --host 127.0.0.1 --port "$port" &
server=$!
healthz=
for _ in $(seq 1 240); do
    healthz=$(curl -s -m 5 "http://127.0.0.1:$port/healthz") && break
    kill -0 "$server" 2>/dev/null || fail "onetrip serve stopped before answering"
    sleep 0.5
done
serve_s=$(echo "$(date +%s.%N) $started" | awk '{printf "%.1f", $1 - $2}')
case "$healthz" in *'"status":"ok"'*"\"version\":\"$version\""*) ;; *) fail "/healthz answered '$healthz'" ;; esac
page=$(curl -s -L -m 10 "http://127.0.0.1:$port/" | sed -n 's/.*<title>\([^<]*\)<.*/\1/p' | head -n 1)

echo
echo "aarch64 release checked by emulation (qemu-user $(qemu-aarch64-static --version | sed -n 's/.*version \([^ ]*\).*/\1/p'), host $(uname -m), $(nproc) cores)"
echo "archive         $(basename "$archive")  $(stat -c %s "$archive") bytes"
echo "uname -m        $(chroot "$root" uname -m) (inside the chroot)"
echo "python          $(echo "$imports" | head -n 1)"
echo "install.sh      ${install_s} s wall, ${install_cpu} s CPU, emulated (load average before $load_before, after $load_after)"
echo "serve           /healthz $healthz after ${serve_s} s; / -> $page"
