#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes a Debian 13 ("stable") root file system holding Austin 3.7.0 and
# Python 3.13 for bench/sampler_bench.py, and prints its path.
#
#   sudo bench/sampler_rootfs.sh            -> build/bench-rootfs-trixie
#
# Reuses build/rootfs-trixie if another job already made one *with* austin
# (never touches or deletes it); otherwise builds build/bench-rootfs-trixie
# under an flock, so two benchmark runs never build it at the same time.
# Needs mmdebstrap (apt-get install mmdebstrap) and Debian's mirror.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED="$ROOT/build/rootfs-trixie"
OWN="$ROOT/build/bench-rootfs-trixie"

works() {
    "$1/lib64/ld-linux-x86-64.so.2" --library-path "$1/lib/x86_64-linux-gnu" \
        "$1/usr/bin/austin" -V 2>/dev/null | grep -q '^austin 3\.'
}

if [ -x "$SHARED/usr/bin/austin" ] && works "$SHARED"; then
    echo "$SHARED"; exit 0
fi
mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/bench-rootfs-trixie.lock"
flock 9
if [ -x "$OWN/usr/bin/austin" ] && works "$OWN"; then
    echo "$OWN"; exit 0
fi
command -v mmdebstrap >/dev/null || { echo "sampler_rootfs: apt-get install mmdebstrap" >&2; exit 1; }
TMP="$OWN.tmp.$$"
trap 'rm -rf "$TMP"' EXIT INT TERM
mmdebstrap --quiet --variant=apt --include=python3,austin \
    --aptopt='Acquire::Check-Valid-Until "false"' stable "$TMP" >&2
rm -rf "$OWN"
mv "$TMP" "$OWN"
trap - EXIT INT TERM
works "$OWN" || { echo "sampler_rootfs: austin in $OWN does not start" >&2; exit 1; }
echo "$OWN"
