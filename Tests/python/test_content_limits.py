"""Message content is bounded in bytes as well as characters (issue 14, item 3): one "character" (grapheme cluster)
of 300,001 code points is 600 KB of UTF-8, under every transport's size limit; it must be refused on REST, `/ws`
and Socket.IO, stored nowhere and fanned out to nobody."""

from __future__ import annotations

import time

import requests

from conftest import _api, create_room, join_room, register_and_login
from realtime_clients import SioClient, WsClient

# "e" followed by 300,000 combining acute accents: one grapheme cluster, 300,001 code points, 600,001 bytes.
ONE_HUGE_CHARACTER = "e" + "\u0301" * 300_000


def test_one_character_of_many_code_points_is_refused_everywhere(server):
    # The clients escape every combining mark as `\u0301` (1.8 MB of JSON): transport limits large enough that only
    # the content check can refuse it.
    big = 4 << 20
    srv = server(server={"max_body_bytes": big}, realtime={"max_frame_bytes": big, "socketio": {"max_payload_bytes": big}})
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    assert len(ONE_HUGE_CHARACTER.encode()) == 600_001

    listener = WsClient(srv.port, bob["token"])
    sio = SioClient(srv.url, alice["token"])
    ws = WsClient(srv.port, alice["token"])
    try:
        body = {"roomId": room["id"], "content": ONE_HUGE_CHARACTER}
        rest = requests.post(f"{_api(srv.url)}/messages", json=body, headers={"Authorization": f"Bearer {alice['token']}"}, timeout=10)
        assert rest.status_code == 400
        error = rest.json()
        assert error["code"] == "VALIDATION_ERROR" and [e["field"] for e in error["errors"]] == ["content"]
        assert "20000 bytes" in error["errors"][0]["message"]

        for client in (ws, sio):
            kind, refused = client.call("message:send", body, timeout=10)
            assert kind == "error" and refused["code"] == "VALIDATION_ERROR", (client.label, refused)
            assert refused["errors"][0]["field"] == "content"

        # Content at the character limit but within the byte limit still goes through.
        kind, sent = ws.call("message:send", {"roomId": room["id"], "content": "é" * 5000})
        assert kind == "ack" and len(sent["content"]) == 5000
        listener.wait_for("message:received", lambda m: m["id"] == sent["id"])
        time.sleep(0.3)
        assert [m["id"] for m in listener.of("message:received")] == [sent["id"]]  # nothing else was fanned out
        history = requests.get(f"{_api(srv.url)}/messages/room/{room['id']}", headers={"Authorization": f"Bearer {alice['token']}"},
                               timeout=10).json()["data"]
        assert [m["id"] for m in history] == [sent["id"]]
    finally:
        for client in (listener, sio, ws):
            client.close()
