"""The message model's realtime side against the real binary, on both transports: `message:sent`, edits,
deletes, reactions, receipts (`message:read`) and typing indicators reach the channel's members and nobody
else; refusals come back as `error` with the documented code."""

from __future__ import annotations

import time

from conftest import _api, _call, create_room, join_room, register_and_login
from realtime_clients import SioClient, WsClient

QUIET = 0.5  # how long to keep listening before concluding something was not delivered


def _room_with_two(srv):
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    carol = register_and_login(srv.url, "carol")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    return alice, bob, carol, room


def test_message_lifecycle_events_on_both_transports(server):
    srv = server()
    alice, bob, carol, room = _room_with_two(srv)
    a = SioClient(srv.url, alice["token"])
    b = WsClient(srv.port, bob["token"])
    outsider = [SioClient(srv.url, carol["token"]), WsClient(srv.port, carol["token"])]
    try:
        kind, sent = a.call("message:send", {"roomId": room["id"], "content": "hello", "type": "TEXT"})
        assert kind == "ack" and sent["content"] == "hello" and sent["roomId"] == room["id"]
        assert a.wait_for("message:sent")["id"] == sent["id"]
        assert b.wait_for("message:received")["id"] == sent["id"]

        # Only the sender may edit; the refusal names the code.
        kind, refused = b.call("message:edit", {"messageId": sent["id"], "content": "hijacked"})
        assert kind == "error" and refused["code"] == "FORBIDDEN"
        kind, edited = a.call("message:edit", {"messageId": sent["id"], "content": "hello, edited"})
        assert kind == "ack" and edited["editedAt"]
        assert b.wait_for("message:edit")["content"] == "hello, edited"

        # Reactions over REST and realtime both fan out as message:reaction.
        _call("POST", f"{_api(srv.url)}/messages/{sent['id']}/react", token=bob["token"], body={"emoji": "👍"})
        assert a.wait_for("message:reaction")["reactions"][0] == {"emoji": "👍", "count": 1, "userIds": [bob["id"]]}
        kind, change = a.call("message:reaction", {"messageId": sent["id"], "emoji": "🎉"})
        assert kind == "ack" and change["action"] == "added"
        assert b.wait_for("message:reaction", lambda d: d["emoji"] == "🎉")["userId"] == alice["id"]

        # Receipts: bob's SEEN reaches alice with the message's new status.
        kind, receipt = b.call("message:read", {"messageId": sent["id"], "status": "SEEN"})
        assert kind == "ack" and receipt["status"] == "SEEN" and receipt["unreadCount"] == 0
        read = a.wait_for("message:read")
        assert read["userId"] == bob["id"] and read["messageStatus"] == "SEEN"
        fetched = _call("GET", f"{_api(srv.url)}/messages/{sent['id']}", token=alice["token"])["data"]
        assert fetched["status"] == "SEEN"

        # Deleting: another member may not; the sender may, and everyone in the room hears of it.
        kind, refused = b.call("message:delete", {"messageId": sent["id"]})
        assert kind == "error" and refused["code"] == "FORBIDDEN"
        kind, deleted = a.call("message:delete", {"messageId": sent["id"]})
        assert kind == "ack" and deleted["messageId"] == sent["id"]
        assert b.wait_for("message:delete")["messageId"] == sent["id"]

        # An outsider can't touch the message at all: it doesn't exist for them.
        for client in outsider:
            kind, refused = client.call("message:edit", {"messageId": sent["id"], "content": "x"})
            assert kind == "error" and refused["code"] == "NOT_FOUND"

        time.sleep(QUIET)
        for client in outsider:
            leaked = [name for name in client.names() if name.startswith(("message:", "typing:"))]
            assert leaked == [], f"{client.label} outsider received {leaked}"
    finally:
        for client in [a, b, *outsider]:
            client.close()


def test_typing_reaches_the_others_only_and_stops_by_itself(server):
    srv = server(modules={"messaging": {"typing_timeout_seconds": 0.6, "typing_throttle_ms": 1000}, "rooms": {}})
    alice, bob, carol, room = _room_with_two(srv)
    a_sio = SioClient(srv.url, alice["token"])
    a_ws = WsClient(srv.port, alice["token"])
    b = SioClient(srv.url, bob["token"])
    c = WsClient(srv.port, carol["token"])
    try:
        for _ in range(5):  # a burst is forwarded once (throttled)
            kind, _ = a_sio.call("typing:start", {"roomId": room["id"]})
            assert kind == "ack"
        start = b.wait_for("typing:start")
        assert start["userId"] == alice["id"] and start["roomId"] == room["id"] and start["typing"] is True
        # Nobody sent typing:stop: the server announces it after the timeout of silence.
        began = time.time()
        stop = b.wait_for("typing:stop", timeout=5)
        assert stop["userId"] == alice["id"] and stop["typing"] is False
        assert time.time() - began < 3
        assert b.count("typing:start") == 1

        # An explicit stop is forwarded once; a second stop (not typing any more) is not.
        a_ws.call("typing:start", {"roomId": room["id"]})
        deadline = time.time() + 5
        while b.count("typing:start") < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert b.count("typing:start") == 2
        a_ws.call("typing:stop", {"roomId": room["id"]})
        a_ws.call("typing:stop", {"roomId": room["id"]})
        deadline = time.time() + 5
        while b.count("typing:stop") < 2 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(QUIET + 0.6)  # past the timeout: no extra automatic stop either
        assert b.count("typing:stop") == 2

        # Typing where you are not a member is refused; nothing reaches the outsider or the typist's own sockets.
        kind, refused = c.call("typing:start", {"roomId": room["id"]})
        assert kind == "error" and refused["code"] == "FORBIDDEN"
        kind, refused = c.call("typing:start", {})
        assert kind == "error" and refused["code"] == "VALIDATION_ERROR"
        time.sleep(QUIET)
        assert [n for n in c.names() if n.startswith("typing:")] == []
        assert [n for n in a_sio.names() + a_ws.names() if n.startswith("typing:")] == []
    finally:
        for client in [a_sio, a_ws, b, c]:
            client.close()


def test_search_and_replies_over_rest(server):
    srv = server()
    alice, bob, carol, room = _room_with_two(srv)
    api = _api(srv.url)
    root = _call("POST", f"{api}/messages", token=alice["token"], body={"roomId": room["id"], "content": "Deploy plan for Tuesday"})["data"]
    _call("POST", f"{api}/messages", token=bob["token"], body={"roomId": room["id"], "content": "Tuesday works", "parentId": root["id"]})
    assert _call("GET", f"{api}/messages/{root['id']}", token=bob["token"])["data"]["replyCount"] == 1
    found = _call("GET", f"{api}/messages/search?query=tuesday", token=bob["token"])
    assert {m["content"] for m in found["data"]} == {"Deploy plan for Tuesday", "Tuesday works"}
    assert _call("GET", f"{api}/messages/search?query=tuesday", token=carol["token"])["data"] == []
