"""Direct messages end to end against the real binary: document 003's conversation flow over REST, Socket.IO
and `/ws` together, and document 004's conversation API (create-or-get by user id, cursor-paged history).

Every wait is bounded (the clients of realtime_clients.py), and
conftest gives each test a hard time limit on top.
"""

from __future__ import annotations

import time

import pytest

from conftest import _api, _call, register_and_login
from realtime_clients import SioClient, WsClient

MODULES = {"messaging": {}, "direct": {}}
SETTLE = 0.5  # how long a connection that must receive nothing is watched after the others got theirs


@pytest.fixture
def connections():
    """Closes every realtime client a test opened, whatever happened."""
    opened: list = []
    yield opened
    for conn in opened:
        try:
            conn.close()
        except Exception:
            pass


def test_document_003_conversation_flow_over_rest_and_realtime(server, connections):
    srv = server(modules=MODULES)
    api = _api(srv.url)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    eve = register_and_login(srv.url, "eve")

    alice_sio = SioClient(srv.url, alice["token"])
    connections.append(alice_sio)
    bob_ws = WsClient(srv.port, bob["token"])
    connections.append(bob_ws)
    eve_sio = SioClient(srv.url, eve["token"])
    connections.append(eve_sio)

    # Start a conversation by e-mail (document 003's "start"), over Socket.IO; REST finds the same one after.
    kind, conversation = alice_sio.call("conversation:open", {"email": bob["email"]})
    assert kind == "ack", conversation
    conversation_id = conversation["id"]
    assert sorted(p["id"] for p in conversation["participants"]) == sorted([alice["id"], bob["id"]])
    assert all("email" not in p for p in conversation["participants"])
    assert conversation["lastMessage"] is None and conversation["unreadCount"] == 0
    again = _call("POST", f"{api}/conversations", alice["token"], {"email": bob["email"]}, expect=(200,))
    assert again["data"]["id"] == conversation_id

    # Send over Socket.IO with an ack: Bob (on /ws) receives it, Alice's connection gets `message:sent`.
    kind, stored = alice_sio.call("message:send", {"receiverId": bob["id"], "content": "Hello there!"})
    assert kind == "ack", stored
    assert stored["conversationId"] == conversation_id and stored["receiverId"] == bob["id"]
    received = bob_ws.wait_for("message:received", lambda m: m["id"] == stored["id"])
    assert received["content"] == "Hello there!" and received["senderId"] == alice["id"]
    assert alice_sio.wait_for("message:sent", lambda m: m["id"] == stored["id"])["conversationId"] == conversation_id

    # Bob's list shows one unread message; he marks the conversation read over /ws and Alice is told.
    listed = _call("GET", f"{api}/conversations", bob["token"])
    assert [c["id"] for c in listed["data"]] == [conversation_id]
    assert listed["data"][0]["unreadCount"] == 1 and listed["data"][0]["lastMessage"]["id"] == stored["id"]
    kind, reply = bob_ws.call("conversation:read", {"conversationId": conversation_id})
    assert kind == "ack" and reply["unreadCount"] == 0
    assert reply["receipt"]["messageId"] == stored["id"]
    read = alice_sio.wait_for("message:read", lambda r: r["userId"] == bob["id"])
    assert read["messageId"] == stored["id"] and read["status"] == "SEEN" and read["channelId"] == conversation_id
    assert _call("GET", f"{api}/conversations/{conversation_id}", bob["token"])["data"]["unreadCount"] == 0

    # Bob answers over REST; Alice's unread count rises, and REST "mark read" clears it.
    answer = _call("POST", f"{api}/conversations/{conversation_id}/messages", bob["token"], {"content": "Hi! How are you?",
                   "parentId": stored["id"]}, expect=(201,))["data"]
    assert alice_sio.wait_for("message:received", lambda m: m["id"] == answer["id"])["parentId"] == stored["id"]
    assert _call("GET", f"{api}/conversations", alice["token"])["data"][0]["unreadCount"] == 1
    marked = _call("POST", f"{api}/conversations/{conversation_id}/read", alice["token"], expect=(200,))
    assert marked["success"] is True and marked["data"]["unreadCount"] == 0
    bob_ws.wait_for("message:read", lambda r: r["userId"] == alice["id"] and r["messageId"] == answer["id"])

    # Eve is in none of it: nothing reached her connection, and the conversation is a 404 to her.
    time.sleep(SETTLE)
    leaked = [name for name in eve_sio.names() if name.startswith("message:") or name.startswith("typing:")]
    assert leaked == [], f"eve received {eve_sio.names()!r}"
    assert not [m for m in alice_sio.of("message:received") if m["id"] == stored["id"]], "the sending connection got its own message back"
    _call("GET", f"{api}/conversations/{conversation_id}", eve["token"], expect=(404,))
    _call("GET", f"{api}/conversations/{conversation_id}/messages", eve["token"], expect=(404,))
    _call("GET", f"{api}/messages/{stored['id']}", eve["token"], expect=(404,))
    kind, refused = eve_sio.call("conversation:read", {"conversationId": conversation_id})
    assert kind == "error" and refused["code"] == "NOT_FOUND"
    assert _call("GET", f"{api}/conversations", eve["token"])["data"] == []


def test_first_direct_message_reaches_a_recipient_already_connected(server, connections):
    """No conversation exists yet: the first `message:send` opens it and subscribes both sides' live connections,
    so the recipient hears it (and typing) without reconnecting."""
    srv = server(modules=MODULES)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    bob_sio = SioClient(srv.url, bob["token"])
    connections.append(bob_sio)
    alice_ws = WsClient(srv.port, alice["token"])
    connections.append(alice_ws)

    kind, message = alice_ws.call("message:send", {"receiverId": bob["id"], "content": "first contact"})
    assert kind == "ack", message
    assert bob_sio.wait_for("message:received", lambda m: m["id"] == message["id"])["conversationId"] == message["conversationId"]
    assert alice_ws.wait_for("message:sent", lambda m: m["id"] == message["id"])

    bob_sio.sio.emit("typing:start", {"receiverId": alice["id"]})
    typing = alice_ws.wait_for("typing:start")
    assert typing["userId"] == bob["id"] and typing["conversationId"] == message["conversationId"]

    kind, unknown = alice_ws.call("message:send", {"receiverId": "00000000-0000-7000-8000-000000000000", "content": "anyone?"})
    assert kind == "error" and unknown["code"] == "NOT_FOUND"
    kind, bad = alice_ws.call("conversation:open", {"userId": bob["id"], "email": bob["email"]})
    assert kind == "error" and bad["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in bad["errors"]] == ["email"]
    kind, opened = alice_ws.call("conversation:open", {"userId": bob["id"]})
    assert kind == "ack" and opened["id"] == message["conversationId"]
    assert opened["lastMessage"]["id"] == message["id"]


def test_document_004_conversation_api(server):
    srv = server(modules=MODULES)
    api = _api(srv.url)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")

    created = _call("POST", f"{api}/conversations", alice["token"], {"userId": bob["id"]}, expect=(201,))
    conversation_id = created["data"]["id"]
    assert created["success"] is True
    assert _call("POST", f"{api}/conversations", bob["token"], {"userId": alice["id"]}, expect=(200,))["data"]["id"] == conversation_id
    _call("POST", f"{api}/conversations", alice["token"], {"user_id": bob["id"]}, expect=(400,))
    _call("POST", f"{api}/conversations", alice["token"], {"userId": "00000000-0000-7000-8000-000000000000"}, expect=(404,))

    detail = _call("GET", f"{api}/conversations/{conversation_id}", bob["token"])["data"]
    assert set(detail) >= {"id", "participants", "lastMessage", "unreadCount", "createdAt", "updatedAt"}

    sent = []
    for index in range(12):
        token = alice["token"] if index % 2 == 0 else bob["token"]
        message = _call("POST", f"{api}/conversations/{conversation_id}/messages", token, {"content": f"m{index}"}, expect=(201,))["data"]
        assert message["conversationId"] == conversation_id and message["content"] == f"m{index}"
        sent.append(message["id"])

    # Walk the history newest first with `cursor` (document 004) until `nextCursor` runs out.
    seen, cursor = [], None
    while True:
        query = f"?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = _call("GET", f"{api}/conversations/{conversation_id}/messages{query}", alice["token"])
        assert page["pagination"]["total"] == 12 and page["pagination"]["limit"] == 5
        seen += [m["id"] for m in page["data"]]
        cursor = page["pagination"].get("nextCursor")
        if not cursor:
            break
    assert seen == list(reversed(sent))
    # The seed-001 route reads the same conversation from either side.
    direct = _call("GET", f"{api}/messages/direct/{alice['id']}?limit=100", bob["token"])
    assert [m["id"] for m in direct["data"]] == list(reversed(sent))

    listed = _call("GET", f"{api}/conversations", alice["token"])
    assert listed["pagination"]["total"] == 1
    assert listed["data"][0]["lastMessage"]["id"] == sent[-1] and listed["data"][0]["unreadCount"] == 1
    _call("POST", f"{api}/conversations/{conversation_id}/messages", alice["token"], {"content": ""}, expect=(400,))
    _call("GET", f"{api}/conversations/{conversation_id}/messages?cursor=yesterday", alice["token"], expect=(400,))
