"""The edges a first-time operator hits (issue 16): CORS for the REST API and `/ws`, `parley --version`, and
`logging.format: json`."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
import websocket

from conftest import HTTP_TIMEOUT, parley_binary, register_and_login

ALLOWED = "https://chat.example.com"


def test_cors_preflight_and_responses_for_allowed_origins_only(server):
    srv = server(server={"cors": {"allowed_origins": [ALLOWED]}})
    preflight = requests.options(f"{srv.api}/messages", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type",
    }, timeout=HTTP_TIMEOUT)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    health = requests.get(f"{srv.api}/health", headers={"Origin": ALLOWED}, timeout=HTTP_TIMEOUT)
    assert health.headers["Access-Control-Allow-Origin"] == ALLOWED and "X-Request-Id" in health.headers["Access-Control-Expose-Headers"]
    # Errors carry them too, so a page can read the envelope.
    missing = requests.get(f"{srv.api}/nowhere", headers={"Origin": ALLOWED}, timeout=HTTP_TIMEOUT)
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == ALLOWED
    # Another origin gets no CORS headers (the browser blocks it); no Origin at all is a non-browser client.
    other = requests.get(f"{srv.api}/health", headers={"Origin": "https://evil.example"}, timeout=HTTP_TIMEOUT)
    assert "Access-Control-Allow-Origin" not in other.headers
    refused = requests.options(f"{srv.api}/messages", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
                               timeout=HTTP_TIMEOUT)
    assert "Access-Control-Allow-Origin" not in refused.headers

    # /ws: a page of an allowed origin, or of this server itself, may open it; any other page may not.
    user = register_and_login(srv.url, "cors")
    url = f"ws://127.0.0.1:{srv.port}/ws?token={user['token']}"
    websocket.create_connection(url, origin=ALLOWED, timeout=5).close()
    websocket.create_connection(url, origin=f"http://127.0.0.1:{srv.port}", timeout=5).close()
    websocket.create_connection(url, suppress_origin=True, timeout=5).close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused_ws:
        websocket.create_connection(url, origin="https://evil.example", timeout=5)
    assert refused_ws.value.status_code == 403


def test_cors_off_by_default_and_star_warns(server):
    srv = server()
    assert "Access-Control-Allow-Origin" not in requests.get(f"{srv.api}/health", headers={"Origin": ALLOWED}, timeout=HTTP_TIMEOUT).headers
    star = server(server={"cors": {"allowed_origins": ["*"]}}, logging={"level": "warning"})
    assert requests.get(f"{star.api}/health", headers={"Origin": ALLOWED}, timeout=HTTP_TIMEOUT).headers["Access-Control-Allow-Origin"] == "*"
    assert "allowed_origins has '*'" in star.log()


def test_version_and_bad_cors_origin():
    out = subprocess.run([str(parley_binary()), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip().count(".") == 2


def test_json_logging_has_one_object_per_line_with_fields(server):
    srv = server(logging={"level": "info", "format": "json"})
    requests.get(f"{srv.api}/health", headers={"X-Request-Id": "trace-me-123"}, timeout=HTTP_TIMEOUT)
    lines = [line for line in srv.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is a JSON object
    assert all({"time", "level", "label", "message"} <= set(e) for e in entries)
    request = next(e for e in entries if e.get("request") == "trace-me-123")
    assert "GET /api/v1/health 200" in request["message"]


def test_serve_raises_its_open_file_limit_to_the_hard_limit(server):
    """Each connection is a descriptor: started with a soft limit of 256, the server raises it to the hard limit
    and holds more connections than the limit it was started with."""
    import resource
    import socket

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"hard open-file limit {hard} leaves nothing to show")
    # The server inherits the soft limit of this process at spawn; restored right after.
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        srv = server()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limits = open(f"/proc/{srv.process.pid}/limits").read()
    line = next(l for l in limits.splitlines() if l.startswith("Max open files"))
    served_soft, served_hard = line.split()[3:5]
    assert served_soft == served_hard, line
    # More connections than the limit it started with, each answered.
    sockets = []
    try:
        for _ in range(400):
            s = socket.create_connection((srv.host, srv.port), timeout=10)
            sockets.append(s)
        for s in sockets[-20:]:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(64).startswith(b"HTTP/1.1 200"), "a connection past the old limit went unanswered"
    finally:
        for s in sockets:
            s.close()
