"""Interop with the real JS client: socket.io-client 4.8.1 (browser bundle) under node, against the real binary.

There is no npm here: Tests/js/fetch-client.sh takes the bundle out of the PyPI wheel `nicegui` into
.cache/socketio-js/ (once), Tests/js/xhr-polyfill.cjs gives it XMLHttpRequest/FileReader under Node 20, and
Tests/js/interop.cjs runs every check for one transport mode and prints one JSON line of results. Nothing is
skipped: a missing node, a node without WebSocket, or an unobtainable bundle fails the test with the reason.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import create_room, join_room, register_and_login

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "Tests" / "js"
STEP_TIMEOUT_MS = 5000  # every step of the node script; it bounds its own whole run at 12x this
NODE_TIMEOUT = 90  # seconds; the hard limit on the node process
FETCH_TIMEOUT = 180

EXPECTED_CHECKS = [
    "A connects (auth payload)",
    "B connects ({b_auth})",
    "A message:send ack is the stored message",
    "B receives message:received with the same id",
    "both still on the expected transport",
    "bad token -> connect_error mentioning the token",
    "conformance: connects without a token",
    "binary: emit message {bin:[1,2,3]} -> message-back with equal bytes",
    "binary: emitWithAck message-with-ack [4,5] -> same bytes",
    "binary: nested binary in an ack",
]


@functools.cache
def node_command() -> list[str]:
    """`node` (Node >= 20), with --experimental-websocket where WebSocket is not yet global (Node 20/21)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (or not on PATH): the JS client interop test needs Node.js >= 20", pytrace=False)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < 20:
        pytest.fail(f"node {version or '(unknown version)'} at {node} is too old: the JS client interop test needs Node.js >= 20", pytrace=False)
    command = [node] + (["--experimental-websocket"] if int(match.group(1)) < 22 else [])
    probe = subprocess.run(command + ["-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.fail(f"{' '.join(command)} has no global WebSocket ({probe.stderr.strip()})", pytrace=False)
    return command


@functools.cache
def js_bundle() -> Path:
    """The socket.io-client 4.8.1 bundle, fetched into .cache/socketio-js/ on first use."""
    result = subprocess.run(["bash", str(JS / "fetch-client.sh")], capture_output=True, text=True,
                            timeout=FETCH_TIMEOUT, cwd=REPO)
    if result.returncode != 0:
        pytest.fail(f"Tests/js/fetch-client.sh failed (exit {result.returncode}); the bundle comes from the PyPI wheel "
                    f"nicegui, so pip must reach PyPI once:\n{result.stderr}", pytrace=False)
    bundle = Path(result.stdout.strip().splitlines()[-1])
    assert bundle.is_file(), f"fetch-client.sh printed {bundle}, which does not exist"
    return bundle


@pytest.mark.parametrize("mode", ["websocket", "polling", "default"])
def test_js_client(mode, server):
    # Prerequisites first: each fails this test (never skips) with the reason. Cached across the three modes.
    command = node_command()
    bundle = js_bundle()
    chat = server()
    conformance = server(modules={"socketio_conformance": {}})
    alice = register_and_login(chat.url, "js_alice")
    bob = register_and_login(chat.url, "js_bob")
    room = create_room(chat.url, alice["token"])
    join_room(chat.url, bob["token"], room["id"])

    config = {
        "bundle": str(bundle),
        "mode": mode,
        "chatUrl": chat.url,
        "conformanceUrl": conformance.url,
        "tokenA": alice["token"],
        "tokenB": bob["token"],
        "roomId": room["id"],
        "timeoutMs": STEP_TIMEOUT_MS,
    }
    try:
        run = subprocess.run(command + [str(JS / "interop.cjs"), json.dumps(config)], capture_output=True,
                             text=True, timeout=NODE_TIMEOUT, cwd=REPO)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"node interop script ({mode}) still running after {NODE_TIMEOUT}s; stdout: {e.stdout!r} "
                    f"stderr: {e.stderr!r}\nchat server log:\n{chat.log()}", pytrace=False)

    context = (f"node exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}\n"
               f"chat server log:\n{chat.log()[-4000:]}\nconformance server log:\n{conformance.log()[-4000:]}")
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert lines, f"the node script printed no result\n{context}"
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"the node script's last line is not JSON\n{context}", pytrace=False)

    failures = result.get("failures") or []
    assert run.returncode == 0 and result.get("ok") is True and not failures, \
        "JS client failures:\n  " + "\n  ".join(failures) + f"\n{context}"

    b_auth = "auth payload" if mode == "websocket" else "Authorization header"
    checks = {c["name"]: c for c in result["checks"]}
    expected = [name.replace("{b_auth}", b_auth) for name in EXPECTED_CHECKS]
    assert [c["name"] for c in result["checks"]] == expected, f"checks run: {list(checks)}\n{context}"
    assert all(c["ok"] for c in result["checks"])

    # The transport each client ended on: polling mode never upgrades, default mode did upgrade.
    final = "polling" if mode == "polling" else "websocket"
    assert checks["A connects (auth payload)"]["detail"]["transport"] == final
    assert checks[f"B connects ({b_auth})"]["detail"]["transport"] == final
    assert checks["conformance: connects without a token"]["detail"]["transport"] == final
    upgraded = "websocket" if mode == "default" else None  # only default mode starts on polling and upgrades
    for name in ("A connects (auth payload)", f"B connects ({b_auth})", "conformance: connects without a token"):
        assert checks[name]["detail"]["upgradedTo"] == upgraded, f"{name}: {checks[name]['detail']}"

    stored = checks["A message:send ack is the stored message"]["detail"]
    assert stored["content"] == f"hi from js ({mode})" and stored["id"]
    assert checks["B receives message:received with the same id"]["detail"]["id"] == stored["id"]
    assert "token" in checks["bad token -> connect_error mentioning the token"]["detail"]["message"].lower()
    assert checks["binary: emit message {bin:[1,2,3]} -> message-back with equal bytes"]["detail"]["bytes"] == [1, 2, 3]
    assert checks["binary: emitWithAck message-with-ack [4,5] -> same bytes"]["detail"]["bytes"] == [4, 5]
