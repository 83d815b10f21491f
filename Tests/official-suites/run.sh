#!/usr/bin/env bash
# Runs the official Engine.IO v4 / Socket.IO v5 test suites, unchanged, against the parley binary.
# The suites' own files are not in this repository (see README.md): pass their paths.
#
#   Tests/official-suites/run.sh path/to/engine.io/test-suite.js path/to/socket.io/test-suite.js
#
# PARLEY_BINARY (default: the debug build) is started on port 3000 (the suites' fixed URL) with the
# `socketio_conformance` module and the suites' timings. WS_DISPATCH=task delivers each WebSocket event in
# its own macrotask (browser semantics) instead of undici's same-tick dispatch (as `ws` >= 8.17).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 SUITE_FILE..." >&2; exit 2; }
binary="${PARLEY_BINARY:-$(cd "$here/../.." && swift build --show-bin-path)/parley}"
work="$(mktemp -d)"
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cp -r "$here/shim" "$here/package.json" "$work/"
mkdir "$work/data"
cat > "$work/parley.yaml" <<YAML
server: {host: 127.0.0.1, port: 3000}
storage: {path: $work/data/parley.sqlite}
auth: {jwt_secret: "official-suite-secret-0123456789abcdef0123456789", bcrypt_cost: 4}
logging: {level: warning}
rate_limits: {enabled: false}
realtime:
  socketio:
    ping_interval_ms: 300
    ping_timeout_ms: 200
    connect_timeout_ms: 1000
    max_payload_bytes: 1000000
    allowed_origins: ["*"]
modules:
  socketio_conformance: {}
YAML
"$binary" serve --config "$work/parley.yaml" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null 'http://localhost:3000/engine.io/?EIO=4&transport=polling' && break
  sleep 0.1
done

node "$work/shim/selftest.mjs" > /dev/null
status=0
index=0
for suite in "$@"; do
  index=$((index + 1))
  # Each suite imports ./node-imports.js from its own folder; ours stands in for upstream's.
  mkdir "$work/suite$index"
  cp "$suite" "$work/suite$index/test-suite.js"
  cp "$work/shim/node-imports.js" "$work/suite$index/node-imports.js"
  echo "== $suite"
  node --experimental-websocket "$work/shim/mocha-lite.mjs" "$work/suite$index/test-suite.js" || status=1
done
exit $status
