"""Presence against the real binary: `isOnline` stays true while any of a user's connections (on either
transport) is open, `user:online` / `user:offline` go to people who share a channel once per transition, and
after a restart nobody is online, whatever the database said when the process stopped."""

from __future__ import annotations

import time

from conftest import _api, _call, create_room, join_room, register_and_login
from realtime_clients import SioClient, WsClient


def _presence(srv, token, user_id):
    return _call("GET", f"{_api(srv.url)}/users/{user_id}/presence", token=token)["data"]


def test_presence_across_connections_and_restarts(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])

    watcher = WsClient(srv.port, alice["token"])
    bob_sio = SioClient(srv.url, bob["token"])
    bob_ws = WsClient(srv.port, bob["token"])
    try:
        watcher.wait_for("user:online", lambda d: d["userId"] == bob["id"])
        first_seen = _presence(srv, alice["token"], bob["id"])
        assert first_seen["isOnline"] is True

        bob_sio.close()  # one of two connections gone: still online, no offline event
        time.sleep(0.5)
        assert _presence(srv, alice["token"], bob["id"])["isOnline"] is True
        assert watcher.count("user:offline") == 0

        bob_ws.close()
        watcher.wait_for("user:offline", lambda d: d["userId"] == bob["id"])
        gone = _presence(srv, alice["token"], bob["id"])
        assert gone["isOnline"] is False and gone["lastSeen"] >= first_seen["lastSeen"]
        assert watcher.count("user:online", lambda d: d["userId"] == bob["id"]) == 1
    finally:
        for client in (watcher, bob_sio, bob_ws):
            client.close()

    # Bob connected when the server stops; after the restart he is offline until he connects again.
    bob_ws = WsClient(srv.port, bob["token"])
    deadline = time.time() + 5
    while not _presence(srv, alice["token"], bob["id"])["isOnline"] and time.time() < deadline:
        time.sleep(0.05)
    srv.restart()
    bob_ws.close()
    assert _presence(srv, alice["token"], bob["id"])["isOnline"] is False
