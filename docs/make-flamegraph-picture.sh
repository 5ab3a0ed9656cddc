#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Make README's flame graph picture, docs/images/flamegraph.png, from a real
# run: the demo of `make demo` (examples/blocking_demo.py) under blocksnoop
# with --speedscope, drawn by speedscope's own page (from the speedscope npm
# package the tests install into build/k8s-models) in headless Chromium.
#
#   sudo make all build/k8s-models/installed && sudo docs/make-flamegraph-picture.sh
#
# Needs root (blocksnoop), /usr/bin/python3 and chromium (make deps-test).
set -eu

cd "$(dirname "$0")/.."
BLOCKSNOOP=${BLOCKSNOOP:-build/blocksnoop}
SPEEDSCOPE=${SPEEDSCOPE:-build/k8s-models/node_modules/speedscope/dist/release}
PORT=${PORT:-18080}
OUT=docs/images/flamegraph.png

work=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The demo from a fixed place, so that the picture shows
# /tmp/blocksnoop/examples/blocking_demo.py whoever makes it, wherever
# this checkout lives.
demo=/tmp/blocksnoop
if [ -e "$demo" ]; then
	echo "$demo exists: remove it first" >&2
	exit 1
fi
mkdir -p "$demo/examples"
cp examples/blocking_demo.py "$demo/examples/"
"$BLOCKSNOOP" -t 50 --duration 8 --summary-only --speedscope "$work/demo.speedscope.json" \
	-- /usr/bin/python3 "$demo/examples/blocking_demo.py" 2>/dev/null
rm -rf "$demo"

cp -r "$SPEEDSCOPE" "$work/www"
cp "$work/demo.speedscope.json" "$work/www/profile.json"
(cd "$work/www" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1) >/dev/null 2>&1 &
server=$!
sleep 1
chromium --headless --no-sandbox --disable-gpu --enable-unsafe-swiftshader --hide-scrollbars \
	--user-data-dir="$work/chromium" --window-size=1200,520 --virtual-time-budget=8000 \
	--screenshot="$work/shot.png" "http://127.0.0.1:$PORT/index.html#profileURL=profile.json" \
	>/dev/null 2>&1
mkdir -p docs/images
mv "$work/shot.png" "$OUT"
echo "wrote $OUT"
