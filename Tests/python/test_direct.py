"""Direct messages end to end against the real binary: document 003's conversation flow over REST, Socket.IO
and `/ws` together, and document 004's conversation API (create-or-get by user id, cursor-paged history).

Every wait is bounded (connect `wait_timeout`, `call(timeout=...)`, the recorders' `wait_for(timeout=...)`), and
conftest gives each test a hard time limit on top.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import socketio
import websocket

from conftest import _api, _call, register_and_login

MODULES = {"messaging": {}, "direct": {}}
TIMEOUT = 5
SETTLE = 0.5  # how long a connection that must receive nothing is watched after the others got theirs


class Events:
    """Thread-safe list of (event, data) pairs one connection received, with bounded waits."""

    def __init__(self):
        self.items: list[tuple[str, object]] = []
        self._cond = threading.Condition()

    def add(self, event: str, data) -> None:
        with self._cond:
            self.items.append((event, data))
            self._cond.notify_all()

    def of(self, event: str) -> list:
        with self._cond:
            return [data for name, data in self.items if name == event]

    def wait_for(self, event: str, predicate=lambda data: True, timeout: float = TIMEOUT):
        def found():
            return next((data for name, data in self.items if name == event and predicate(data)), None)
        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout=timeout):
                raise AssertionError(f"no {event!r} within {timeout}s; received: {self.items!r}")
            return found()


def socketio_client(srv, user) -> tuple[socketio.Client, Events]:
    events = Events()
    sio = socketio.Client(reconnection=False)
    sio.on("*", lambda event, *args: events.add(event, args[0] if args else None))
    sio.connect(srv.url, auth={"token": user["token"]}, wait_timeout=TIMEOUT)
    return sio, events


class WsClient:
    """A native `/ws` connection whose frames are read on a thread into `events`; acks are matched by id."""

    def __init__(self, srv, user):
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/ws?token={user['token']}", timeout=TIMEOUT)
        self.events = Events()
        self.acks = Events()
        self._next_ack = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                frame = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            if "ack" in frame:
                self.acks.add(str(frame["ack"]), frame)
            else:
                self.events.add(frame.get("event"), frame.get("data"))

    def call(self, event: str, data: dict) -> dict:
        """Sends an ack'd frame and returns the reply frame (`event` is `ack` or `error`)."""
        self._next_ack += 1
        ack = self._next_ack
        self.ws.send(json.dumps({"event": event, "data": data, "ack": ack}))
        return self.acks.wait_for(str(ack))

    def close(self):
        self.ws.close()


@pytest.fixture
def connections():
    """Closes every realtime client a test opened, whatever happened."""
    opened: list = []
    yield opened
    for conn in opened:
        try:
            conn.disconnect() if isinstance(conn, socketio.Client) else conn.close()
        except Exception:
            pass


def test_document_003_conversation_flow_over_rest_and_realtime(server, connections):
    srv = server(modules=MODULES)
    api = _api(srv.url)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    eve = register_and_login(srv.url, "eve")

    alice_sio, alice_events = socketio_client(srv, alice)
    connections.append(alice_sio)
    bob_ws = WsClient(srv, bob)
    connections.append(bob_ws)
    eve_sio, eve_events = socketio_client(srv, eve)
    connections.append(eve_sio)

    # Start a conversation by e-mail (document 003's "start"), over Socket.IO; REST finds the same one after.
    conversation = alice_sio.call("conversation:open", {"email": bob["email"]}, timeout=TIMEOUT)
    conversation_id = conversation["id"]
    assert sorted(p["id"] for p in conversation["participants"]) == sorted([alice["id"], bob["id"]])
    assert all("email" not in p for p in conversation["participants"])
    assert conversation["lastMessage"] is None and conversation["unreadCount"] == 0
    again = _call("POST", f"{api}/conversations", alice["token"], {"email": bob["email"]}, expect=(200,))
    assert again["data"]["id"] == conversation_id

    # Send over Socket.IO with an ack: Bob (on /ws) receives it, Alice's connection gets `message:sent`.
    stored = alice_sio.call("message:send", {"receiverId": bob["id"], "content": "Hello there!"}, timeout=TIMEOUT)
    assert stored["conversationId"] == conversation_id and stored["receiverId"] == bob["id"]
    received = bob_ws.events.wait_for("message:received", lambda m: m["id"] == stored["id"])
    assert received["content"] == "Hello there!" and received["senderId"] == alice["id"]
    assert alice_events.wait_for("message:sent", lambda m: m["id"] == stored["id"])["conversationId"] == conversation_id

    # Bob's list shows one unread message; he marks the conversation read over /ws and Alice is told.
    listed = _call("GET", f"{api}/conversations", bob["token"])
    assert [c["id"] for c in listed["data"]] == [conversation_id]
    assert listed["data"][0]["unreadCount"] == 1 and listed["data"][0]["lastMessage"]["id"] == stored["id"]
    reply = bob_ws.call("conversation:read", {"conversationId": conversation_id})
    assert reply["event"] == "ack" and reply["data"]["unreadCount"] == 0
    assert reply["data"]["receipt"]["messageId"] == stored["id"]
    read = alice_events.wait_for("message:read", lambda r: r["userId"] == bob["id"])
    assert read["messageId"] == stored["id"] and read["status"] == "SEEN" and read["channelId"] == conversation_id
    assert _call("GET", f"{api}/conversations/{conversation_id}", bob["token"])["data"]["unreadCount"] == 0

    # Bob answers over REST; Alice's unread count rises, and REST "mark read" clears it.
    answer = _call("POST", f"{api}/conversations/{conversation_id}/messages", bob["token"], {"content": "Hi! How are you?",
                   "parentId": stored["id"]}, expect=(201,))["data"]
    assert alice_events.wait_for("message:received", lambda m: m["id"] == answer["id"])["parentId"] == stored["id"]
    assert _call("GET", f"{api}/conversations", alice["token"])["data"][0]["unreadCount"] == 1
    marked = _call("POST", f"{api}/conversations/{conversation_id}/read", alice["token"], expect=(200,))
    assert marked["success"] is True and marked["data"]["unreadCount"] == 0
    bob_ws.events.wait_for("message:read", lambda r: r["userId"] == alice["id"] and r["messageId"] == answer["id"])

    # Eve is in none of it: nothing reached her connection, and the conversation is a 404 to her.
    time.sleep(SETTLE)
    leaked = [name for name, _ in eve_events.items if name.startswith("message:") or name.startswith("typing:")]
    assert leaked == [], f"eve received {eve_events.items!r}"
    assert not [m for m in alice_events.of("message:received") if m["id"] == stored["id"]], "the sending connection got its own message back"
    _call("GET", f"{api}/conversations/{conversation_id}", eve["token"], expect=(404,))
    _call("GET", f"{api}/conversations/{conversation_id}/messages", eve["token"], expect=(404,))
    _call("GET", f"{api}/messages/{stored['id']}", eve["token"], expect=(404,))
    eve_sio.emit("conversation:read", {"conversationId": conversation_id})
    assert eve_events.wait_for("error")["code"] == "NOT_FOUND"
    assert _call("GET", f"{api}/conversations", eve["token"])["data"] == []


def test_first_direct_message_reaches_a_recipient_already_connected(server, connections):
    """No conversation exists yet: the first `message:send` opens it and subscribes both sides' live connections,
    so the recipient hears it (and typing) without reconnecting."""
    srv = server(modules=MODULES)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    bob_sio, bob_events = socketio_client(srv, bob)
    connections.append(bob_sio)
    alice_ws = WsClient(srv, alice)
    connections.append(alice_ws)

    reply = alice_ws.call("message:send", {"receiverId": bob["id"], "content": "first contact"})
    assert reply["event"] == "ack", reply
    message = reply["data"]
    assert bob_events.wait_for("message:received", lambda m: m["id"] == message["id"])["conversationId"] == message["conversationId"]
    assert alice_ws.events.wait_for("message:sent", lambda m: m["id"] == message["id"])

    bob_sio.emit("typing:start", {"receiverId": alice["id"]})
    typing = alice_ws.events.wait_for("typing:start")
    assert typing["userId"] == bob["id"] and typing["conversationId"] == message["conversationId"]

    unknown = alice_ws.call("message:send", {"receiverId": "00000000-0000-7000-8000-000000000000", "content": "anyone?"})
    assert unknown["event"] == "error" and unknown["data"]["code"] == "NOT_FOUND"
    bad = alice_ws.call("conversation:open", {"userId": bob["id"], "email": bob["email"]})
    assert bad["event"] == "error" and bad["data"]["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in bad["data"]["errors"]] == ["email"]
    opened = alice_ws.call("conversation:open", {"userId": bob["id"]})
    assert opened["event"] == "ack" and opened["data"]["id"] == message["conversationId"]
    assert opened["data"]["lastMessage"]["id"] == message["id"]


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
