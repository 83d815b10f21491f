"""Bounds on what clients send (issue 14, item 3): JSON nesting depth is bounded on every request body and realtime
payload (`server.max_json_depth`, a 400 naming the limit), and free-text fields (names, descriptions, status
messages, search queries) are bounded in bytes as well as characters: one character may hold thousands of combining
marks."""

from __future__ import annotations

import requests

from conftest import _api, create_room, register_and_login
from realtime_clients import SioClient, WsClient

# One grapheme cluster ("e" and 5,000 combining acute accents): one character, 10,001 bytes.
ONE_HEAVY_CHARACTER = "e" + "\u0301" * 5000


def nested(depth: int) -> dict:
    value: dict = {"leaf": True}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def test_json_nesting_is_bounded_on_rest_ws_and_socketio(server):
    srv = server(server={"max_json_depth": 8})
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    headers = {"Authorization": f"Bearer {alice['token']}", "Content-Type": "application/json"}
    url = f"{_api(srv.url)}/messages"

    # The body is one level, metadata the rest: 7 levels of metadata is a body 8 deep (accepted), 8 is 9 (refused).
    ok = requests.post(url, json={"roomId": room["id"], "content": "fits", "metadata": nested(7)}, headers=headers, timeout=10)
    assert ok.status_code == 201, ok.text
    deep = requests.post(url, json={"roomId": room["id"], "content": "too deep", "metadata": nested(8)}, headers=headers, timeout=10)
    assert deep.status_code == 400, deep.text
    error = deep.json()
    assert error["code"] == "VALIDATION_ERROR" and error["errors"][0]["field"] == "body"
    assert "8 levels" in error["errors"][0]["message"] and "max_json_depth" in error["errors"][0]["message"], error
    # Far deeper than any decoder goes: still a 400, and the server is fine.
    abyss = requests.post(url, data="[" * 100_000 + "]" * 100_000, headers=headers, timeout=10)
    assert abyss.status_code == 400 and abyss.json()["errors"][0]["field"] == "body", abyss.text

    ws = WsClient(srv.port, alice["token"])
    sio = SioClient(srv.url, alice["token"])
    try:
        for client in (ws, sio):
            # `data` itself is the first level on realtime.
            kind, fits = client.call("message:send", {"roomId": room["id"], "content": "fits", "metadata": nested(7)}, timeout=10)
            assert kind == "ack", (client.label, fits)
            kind, refused = client.call("message:send", {"roomId": room["id"], "content": "deep", "metadata": nested(8)}, timeout=10)
            assert kind == "error" and refused["code"] == "VALIDATION_ERROR", (client.label, refused)
            assert refused["errors"][0]["field"] == "data" and "8 levels" in refused["errors"][0]["message"], (client.label, refused)
        # A frame nested beyond anything: refused, and the connection still works.
        ws.ws.send("[" * 100_000 + "]" * 100_000)
        kind, after = ws.call("message:send", {"roomId": room["id"], "content": "still here"}, timeout=10)
        assert kind == "ack", after
    finally:
        ws.close()
        sio.close()
    history = requests.get(f"{_api(srv.url)}/messages/room/{room['id']}?limit=100", headers=headers, timeout=10).json()["data"]
    assert sorted(m["content"] for m in history) == ["fits", "fits", "fits", "still here"]


def test_default_json_depth_is_32(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    headers = {"Authorization": f"Bearer {alice['token']}"}
    deep = requests.post(f"{_api(srv.url)}/messages", json={"roomId": room["id"], "content": "x", "metadata": nested(40)},
                         headers=headers, timeout=10)
    assert deep.status_code == 400 and "32 levels" in deep.json()["errors"][0]["message"], deep.text


def test_free_text_fields_are_bounded_in_bytes(server):
    srv = server(modules={"messaging": {}, "rooms": {}, "groups": {}})
    alice = register_and_login(srv.url, "alice")
    headers = {"Authorization": f"Bearer {alice['token']}"}
    api = _api(srv.url)
    assert len(ONE_HEAVY_CHARACTER) == 5001 and len(ONE_HEAVY_CHARACTER.encode()) == 10_001

    cases = [
        ("POST", "rooms", {"name": ONE_HEAVY_CHARACTER}, "name"),
        ("POST", "rooms", {"name": "ok", "description": ONE_HEAVY_CHARACTER}, "description"),
        ("POST", "groups", {"title": ONE_HEAVY_CHARACTER}, "title"),
        ("POST", "groups", {"title": "ok", "description": ONE_HEAVY_CHARACTER}, "description"),
        ("PATCH", f"users/{alice['id']}", {"statusMessage": ONE_HEAVY_CHARACTER}, "statusMessage"),
    ]
    for method, path, body, field in cases:
        response = requests.request(method, f"{api}/{path}", json=body, headers=headers, timeout=10)
        assert response.status_code == 400, (path, field, response.status_code, response.text[:200])
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == [field] and "bytes" in errors[0]["message"], (path, errors)
    # Queries travel in the URL: a lighter character (1,001 bytes, 3 KB escaped) keeps it under max_uri_bytes.
    heavy_query = "e" + "\u0301" * 500
    for path in (f"messages/search?query={heavy_query}", f"users?query={heavy_query}"):
        response = requests.get(f"{api}/{path}", headers=headers, timeout=10)
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "query", (path, response.text[:200])

    # Ordinary text at the character limits still fits.
    assert requests.post(f"{api}/rooms", json={"name": "é" * 100, "description": "日本" * 250}, headers=headers, timeout=10).status_code == 201
    assert requests.patch(f"{api}/users/{alice['id']}", json={"statusMessage": "🙂" * 200}, headers=headers, timeout=10).status_code == 200


def test_socketio_connect_auth_is_held_to_the_json_depth_limit(server):
    """The CONNECT packet's `auth` is client JSON too: deeper than `server.max_json_depth`, the namespace refuses it
    with CONNECT_ERROR naming the limit before anything decodes it; at the limit it connects."""
    import socketio

    srv = server(server={"max_json_depth": 8})
    alice = register_and_login(srv.url, "alice")

    def connect(auth: dict):
        errors: list = []
        client = socketio.Client(reconnection=False)
        client.on("connect_error", lambda data=None: errors.append(data))
        try:
            client.connect(srv.url, auth=auth, wait_timeout=5, transports=["websocket"])
            return client, None
        except socketio.exceptions.ConnectionError as error:
            client.disconnect()
            return None, (errors[0] if errors else str(error))

    # `auth` itself is the first level: 7 more fit, 8 more do not.
    fits, refused = connect({"token": alice["token"], "extra": nested(7)})
    assert fits is not None and fits.connected, refused
    fits.disconnect()
    client, refused = connect({"token": alice["token"], "extra": nested(8)})
    assert client is None, "a CONNECT whose auth nests 9 levels deep was accepted"
    assert isinstance(refused, dict), refused
    assert "8 levels" in refused["message"] and "max_json_depth" in refused["message"], refused
    assert refused.get("data", {}).get("code") == "VALIDATION_ERROR", refused
    # Deeper than a client library builds (raw Engine.IO over WebSocket), up to where JSON itself stops (512 levels,
    # as JSONDecoder): refused the same way, and the same session may then connect.
    import json

    import websocket

    def raw_session():
        raw = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/socket.io/?EIO=4&transport=websocket", timeout=10)
        assert raw.recv().startswith("0{")
        return raw

    raw = raw_session()
    try:
        raw.send('40{"token":' + json.dumps(alice["token"]) + ',"extra":' + "[" * 500 + "]" * 500 + "}")
        reply = raw.recv()
        assert reply.startswith("44"), reply
        assert "max_json_depth" in json.loads(reply[2:])["message"], reply
        raw.send("40" + json.dumps({"token": alice["token"]}))
        assert raw.recv().startswith("40{"), "a CONNECT after the refusal did not connect"
    finally:
        raw.close()
    # Beyond what JSON allows at all, the packet is malformed like any other: the session ends, the server goes on.
    raw = raw_session()
    try:
        raw.send('40{"token":' + json.dumps(alice["token"]) + ',"extra":' + "[" * 100_000 + "]" * 100_000 + "}")
        assert raw.recv() == "", "a malformed CONNECT packet was answered"
    finally:
        raw.close()
    assert requests.get(f"{srv.url}/api/v1/health", timeout=10).status_code == 200
