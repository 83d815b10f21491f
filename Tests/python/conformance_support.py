"""What the Engine.IO and Socket.IO conformance suites share: the target server (Parley, or the python reference
server with CONFORMANCE_REFERENCE=1), the suites' timings, and HTTP/WebSocket helpers. Each suite module sets
`PATH` (its endpoint) and imports everything from here, fixtures included."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import websocket

PING_INTERVAL = 300  # ms, as in the suite
PING_TIMEOUT = 200  # ms
MAX_PAYLOAD = 1_000_000
SEP = "\x1e"  # Engine.IO v4 polling payload separator

TEST_TIMEOUT = 2.0  # mocha's default per-test timeout, seconds
HEARTBEAT_TIMEOUT = 5.0  # the heartbeat blocks' `this.timeout(5000)`
TIMING_SLACK = 0.05  # seconds; see module docstring

REFERENCE_SERVER = Path(__file__).resolve().parent / "conformance_reference_server.py"
REFERENCE_LISTENING = re.compile(r"listening on (http://\S+)")

# Parley manifest sections enabling the conformance module with the suites' timings.
PARLEY_REALTIME = {
    "socketio": {
        "ping_interval_ms": PING_INTERVAL,
        "ping_timeout_ms": PING_TIMEOUT,
        "connect_timeout_ms": 1000,
        "max_payload_bytes": MAX_PAYLOAD,
        "allowed_origins": ["*"],
    }
}
PARLEY_MODULES = {"socketio_conformance": {}}


# --- target selection -----------------------------------------------------------------------------------------


class Target:
    """The server under test: an `http://host:port` base URL plus the WebSockets opened by one test."""

    def __init__(self, base_url: str, path: str):
        self.path = path
        self.http = base_url.rstrip("/")
        self.ws = "ws" + self.http[len("http"):]
        self._sockets: list[websocket.WebSocket] = []

    def url(self, query: str) -> str:
        return f"{self.http}{self.path}?{query}"

    def ws_url(self, query: str) -> str:
        return f"{self.ws}{self.path}?{query}"

    def open_ws(self, query: str, timeout: float = TEST_TIMEOUT) -> websocket.WebSocket:
        ws = websocket.create_connection(self.ws_url(query), timeout=timeout)
        self._sockets.append(ws)
        return ws

    def close(self) -> None:
        for ws in self._sockets:
            try:
                ws.close(timeout=0.2)
            except Exception:
                pass


@pytest.fixture(scope="module")
def reference_server():
    """Starts conformance_reference_server.py once per module (only when CONFORMANCE_REFERENCE=1)."""
    if os.environ.get("CONFORMANCE_REFERENCE") != "1":
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="conformance-ref-") as directory:
        log_path = Path(directory) / "server.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(REFERENCE_SERVER), "--host", "127.0.0.1", "--port", "0"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            deadline = time.monotonic() + 15
            url = None
            while time.monotonic() < deadline and url is None:
                match = REFERENCE_LISTENING.search(log_path.read_text(errors="replace"))
                if match:
                    url = match.group(1)
                elif process.poll() is not None:
                    break
                else:
                    time.sleep(0.05)
            if url is None:
                raise RuntimeError(f"reference server did not start; log:\n{log_path.read_text(errors='replace')}")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def target(request, reference_server):
    """The server under test: the reference server if CONFORMANCE_REFERENCE=1, else a fresh `parley`."""
    path = request.module.PATH  # each suite's endpoint: /engine.io/ or /socket.io/
    if reference_server is not None:
        t = Target(reference_server, path)
    else:
        server = request.getfixturevalue("server")(modules=PARLEY_MODULES, realtime=PARLEY_REALTIME)
        t = Target(server.url, path)
    yield t
    t.close()


# --- helpers --------------------------------------------------------------------------------------------------

CLOSED = object()  # ws_recv's result once the WebSocket is closed


def http_get(target: Target, query: str, timeout: float = TEST_TIMEOUT) -> requests.Response:
    return requests.get(target.url(query), timeout=timeout)


def http_post(target: Target, query: str, body: str | None = None, timeout: float = TEST_TIMEOUT) -> requests.Response:
    # Same Content-Type as fetch() gives a string body.
    headers = {"Content-Type": "text/plain;charset=UTF-8"} if body is not None else {}
    data = body.encode("utf-8") if body is not None else None
    return requests.post(target.url(query), data=data, headers=headers, timeout=timeout)


def init_long_polling_session(target: Target) -> str:
    response = http_get(target, "EIO=4&transport=polling")
    assert response.status_code == 200, response.text
    assert response.text.startswith("0"), response.text
    return parse_open_packet(response.text)["sid"]


def parse_open_packet(text: str) -> dict:
    import json

    return json.loads(text[1:])


def assert_open_packet(text, upgrades: list) -> None:
    assert isinstance(text, str), f"expected a text frame, got {text!r}"
    assert text.startswith("0"), text
    value = parse_open_packet(text)
    assert set(value.keys()) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}, value
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == upgrades
    assert value["pingInterval"] == PING_INTERVAL
    assert value["pingTimeout"] == PING_TIMEOUT
    assert value["maxPayload"] == MAX_PAYLOAD


def ws_recv(ws: websocket.WebSocket, timeout: float = TEST_TIMEOUT):
    """Next message: `str` (text frame), `bytes` (binary frame) or CLOSED. Fails the test on timeout."""
    ws.settimeout(max(timeout, 0.001))
    try:
        opcode, data = ws.recv_data()
    except (websocket.WebSocketTimeoutException, socket.timeout, TimeoutError):
        pytest.fail(f"no WebSocket message within {timeout:.2f} s")
    except (websocket.WebSocketException, OSError):
        return CLOSED  # connection closed / reset without (or after) a close frame
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        return CLOSED
    if opcode == websocket.ABNF.OPCODE_TEXT:
        return data.decode("utf-8")
    return bytes(data)


def ws_recv_until(ws: websocket.WebSocket, deadline: float):
    return ws_recv(ws, deadline - time.monotonic())


def wait_for_close(ws: websocket.WebSocket, timeout: float = TEST_TIMEOUT) -> None:
    """Reads (and ignores) messages until the server closes the socket; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"WebSocket not closed within {timeout:.2f} s")
        if ws_recv(ws, remaining) is CLOSED:
            return


def assert_ws_refused_or_closed(target: Target, query: str, timeout: float = TEST_TIMEOUT) -> None:
    """The WebSocket handshake is refused, or the opened socket is closed by the server within `timeout`."""
    try:
        ws = target.open_ws(query, timeout=timeout)
    except (websocket.WebSocketException, OSError):
        return  # upgrade refused (e.g. HTTP 400) or connection dropped: the browser sees `close`
    wait_for_close(ws, timeout)


def send_text(ws: websocket.WebSocket, text: str) -> None:
    ws.send(text)

