#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# reproduce-cross-ns.sh - blocksnoop with the real Austin against a Python
# that lives in its own PID and mount namespaces (a container made with
# unshare, no Docker), attached from the host by its host PID.
#
#   sudo examples/reproduce-cross-ns.sh           run it; exit status 0 only
#                                                 if events arrive with stacks
#                                                 holding the target's frames
#   sudo examples/reproduce-cross-ns.sh --rootfs  only make sure the Debian 13
#                                                 root exists; print its path
#
# Environment: BLOCKSNOOP (default: build/blocksnoop of this checkout),
# BLOCKSNOOP_ROOTFS (the shared root; default build/rootfs-trixie).
# Needs: root, mmdebstrap and Debian's mirror the first time, util-linux.
#
# 1. A Debian 13 root file system with Python 3.13 and Austin 3.7.0, made
#    with mmdebstrap once and cached: build/rootfs-trixie if it holds Austin
#    (it is shared with other tests: reused if present, never deleted), else
#    build/rootfs-trixie-austin. It is built in a temporary directory and
#    moved into place under a lock, so concurrent runs never race.
# 2. The target: /app/app.py, an asyncio loop that blocks in handler(), run by
#    the root's /usr/bin/python3 as PID 1 of a new PID namespace, in a new
#    mount namespace whose root is a read-only overlay of the app and the
#    Debian root: nothing is written into the cached root, and the mount goes
#    away with the namespace.
# 3. blocksnoop --sampler austin --austin-root <root> --json <host PID>: the
#    Austin of that root (it needs glibc 2.38, newer than Debian 12's) runs
#    through its own loader inside the target's namespaces.
# 4. The JSON events must carry python_stacks with /app/app.py:handler.
# Everything started is killed by PID on exit.
set -eu

HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$HERE/build"
SHARED=${BLOCKSNOOP_ROOTFS:-$BUILD/rootfs-trixie}
OWN="$BUILD/rootfs-trixie-austin"
BLOCKSNOOP=${BLOCKSNOOP:-$BUILD/blocksnoop}

say() { echo "reproduce-cross-ns: $*" >&2; }

# Whether $1 is a root whose Austin (3 or later) starts through its loader.
has_austin() {
    [ -x "$1/usr/bin/austin" ] && [ -x "$1/usr/bin/python3" ] &&
        "$1/lib64/ld-linux-x86-64.so.2" --library-path "$1/lib/x86_64-linux-gnu" \
            "$1/usr/bin/austin" -V 2>/dev/null | grep -q '^austin [3-9]\.'
}

# build_root DIR LOCK: make DIR (Debian 13 + python3 + austin) unless it is
# there; never touches an existing DIR.
build_root() {
    mkdir -p "$BUILD"
    (
        flock 9
        if has_austin "$1"; then exit 0; fi
        if [ -e "$1" ]; then say "$1 exists but holds no usable Austin: not touching it"; exit 1; fi
        command -v mmdebstrap >/dev/null || { say "mmdebstrap is needed: apt-get install mmdebstrap"; exit 1; }
        tmp=$(mktemp -d "$1.tmp.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT INT TERM
        say "building $1 (Debian 13, python3, austin; about a minute)"
        mmdebstrap --quiet --variant=apt --include=python3,austin \
            --aptopt='Acquire::Check-Valid-Until "false"' stable "$tmp" >&2
        chmod 755 "$tmp"
        mv "$tmp" "$1"
        trap - EXIT INT TERM
    ) 9>"$2"
    has_austin "$1"
}

rootfs() {
    if has_austin "$SHARED"; then echo "$SHARED"; return; fi
    if [ ! -e "$SHARED" ]; then
        build_root "$SHARED" "$BUILD/rootfs-trixie.lock" && { echo "$SHARED"; return; }
    fi
    # The shared root exists without Austin (another test made it so): ours.
    build_root "$OWN" "$BUILD/rootfs-trixie-austin.lock"
    echo "$OWN"
}

ROOTFS=$(rootfs)
if [ "${1:-}" = "--rootfs" ]; then
    echo "$ROOTFS"
    exit 0
fi
[ "$(id -u)" = 0 ] || { say "run as root"; exit 1; }
[ -x "$BLOCKSNOOP" ] || { say "no blocksnoop at $BLOCKSNOOP (run make)"; exit 1; }

TMP=$(mktemp -d)
US=""
cleanup() {
    # The inner unshare has --kill-child: ending it ends the target, and the
    # overlay mount disappears with the last process of its namespace.
    if [ -n "$US" ]; then kill -9 "$US" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir -p "$TMP/layer/app" "$TMP/merged"
cat > "$TMP/layer/app/app.py" <<'EOF'
import asyncio
import time


def handler():
    time.sleep(0.2)  # the call that blocks the loop


async def main():
    while True:
        handler()
        await asyncio.sleep(0.3)


asyncio.run(main())
EOF

# The overlay has no upper layer, so it is read-only.
unshare --mount --propagation private sh -c '
    mount -t overlay overlay -o "lowerdir=$1:$2" "$3" &&
    exec unshare --pid --fork --kill-child --mount-proc --root="$3" /usr/bin/python3 /app/app.py
' sh "$TMP/layer" "$ROOTFS" "$TMP/merged" &
US=$!

TARGET=""
for _ in $(seq 100); do
    for kid in $(cat /proc/"$US"/task/*/children 2>/dev/null); do
        case "$({ tr '\0' ' ' < /proc/"$kid"/cmdline; } 2>/dev/null)" in
            "/usr/bin/python3 /app/app.py "*) TARGET=$kid ;;
        esac
    done
    [ -n "$TARGET" ] && break
    sleep 0.1
done
[ -n "$TARGET" ] || { say "the target did not start"; exit 1; }
say "target: host PID $TARGET, NSpid $(awk '/^NSpid:/ { $1 = ""; print }' /proc/"$TARGET"/status), root $ROOTFS (read-only)"
sleep 1 # let it reach its loop

status=0
timeout 60 "$BLOCKSNOOP" --json --sampler austin --austin-root "$ROOTFS" -t 100 --duration 6 \
    "$TARGET" > "$TMP/out.json" 2> "$TMP/err.txt" || status=$?
cat "$TMP/err.txt" >&2
[ "$status" = 0 ] || { say "blocksnoop exited with status $status"; exit 1; }

python3 - "$TMP/out.json" <<'EOF'
import json
import sys

events = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "blocking_event"]
with_stack = [e for e in events if e.get("python_stacks") and
              any(f["file"] == "/app/app.py" and f["function"] == "handler"
                  for f in e["python_stacks"][0])]
for e in events[:3]:
    frames = e["python_stacks"][0] if e.get("python_stacks") else []
    print("event %.1f ms: %s" % (e["duration_ms"], " <- ".join(
        "%s (%s:%d)" % (f["function"], f["file"], f["line"]) for f in frames[:3]) or "no stack"))
print("%d events, %d with the target's handler() in their stack" % (len(events), len(with_stack)))
sys.exit(0 if events and len(with_stack) == len(events) else 1)
EOF
