#!/usr/bin/env bash
# Fetches the socket.io-client browser bundle (v4.8.1) used by Tests/js/interop.cjs.
#
# There is no npm registry access here, so the bundle comes from the PyPI wheel `nicegui`, which vendors it
# as `nicegui/static/socket.io.min.js`. The wheel is downloaded once (pip download --no-deps), only that one
# file is extracted into the cache directory, and nothing is done when it is already there.
#
# Usage: Tests/js/fetch-client.sh [CACHE_DIR]   (default: <repo>/.cache/socketio-js)
# Prints the path of the bundle on stdout. Env: PYTHON (interpreter with pip; default .venv's, else python3).
set -euo pipefail

NICEGUI_VERSION=3.18.0          # vendors socket.io-client 4.8.1
EXPECTED_CLIENT_VERSION=4.8.1
MEMBER=nicegui/static/socket.io.min.js

repo="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${1:-$repo/.cache/socketio-js}"
bundle="$cache/socket.io.min.js"

header_ok() {
  head -c 200 "$1" 2>/dev/null | grep -q "Socket.IO v${EXPECTED_CLIENT_VERSION//./\\.}\b"
}

if [ -s "$bundle" ] && header_ok "$bundle"; then
  echo "$bundle"
  exit 0
fi

python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
command -v unzip >/dev/null || { echo "fetch-client.sh: unzip is required" >&2; exit 1; }

mkdir -p "$cache"
work="$(mktemp -d "$cache/download.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  "nicegui==$NICEGUI_VERSION" -d "$work" >&2
wheel="$(ls "$work"/nicegui-"$NICEGUI_VERSION"-*.whl 2>/dev/null | head -n 1)"
[ -n "$wheel" ] || { echo "fetch-client.sh: pip did not produce a nicegui $NICEGUI_VERSION wheel" >&2; exit 1; }

unzip -q -o -j "$wheel" "$MEMBER" -d "$work"
if ! header_ok "$work/socket.io.min.js"; then
  echo "fetch-client.sh: $MEMBER in nicegui $NICEGUI_VERSION is not Socket.IO v$EXPECTED_CLIENT_VERSION:" >&2
  head -c 200 "$work/socket.io.min.js" >&2; echo >&2
  exit 1
fi
mv -f "$work/socket.io.min.js" "$bundle"   # atomic within the cache dir
echo "$bundle"
