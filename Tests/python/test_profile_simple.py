"""Document 004 served by the `profile_simple` module: a client written to that document works unchanged, with
its own request shapes, `{error}` bodies and plain-WebSocket frames, on the same users and channels as /api/v1.

Every endpoint and frame the document shows is walked here with python `requests` and `websocket-client`, and
each response is compared with the document's example: its keys present with their types (extra keys allowed).
"""

from __future__ import annotations

import socket
import time
import uuid
from urllib.parse import urlparse

import pytest
import requests

from conftest import HTTP_TIMEOUT, register_and_login
from realtime_clients import FrameWsClient, SioClient

MODULES = {"messaging": {}, "direct": {}, "groups": {}, "rooms": {}, "profile_simple": {"listen": "127.0.0.1:0"}}


def shape(value, example, path="body"):
    """Asserts `value` has every key of the document's `example`, with the example's JSON type (null allowed
    where the example shows null; a list's items checked against the example's first item)."""
    if example is None:
        return
    if isinstance(example, dict):
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        for key, sub in example.items():
            assert key in value, f"{path}: missing key {key!r} in {value!r}"
            shape(value[key], sub, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(value, list), f"{path}: expected an array, got {value!r}"
        if example:
            for index, item in enumerate(value):
                shape(item, example[0], f"{path}[{index}]")
    elif isinstance(example, bool):
        assert isinstance(value, bool), f"{path}: expected a boolean, got {value!r}"
    elif isinstance(example, int):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected a number, got {value!r}"
    else:
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"


# The document's examples, as written there.
USER = {"id": "uuid", "username": "johndoe", "email": "john@example.com"}
REGISTERED = {"user": {**USER, "created_at": "2024-01-01T00:00:00Z"}, "access_token": "eyJhbGc...", "refresh_token": "eyJhbGc..."}
LOGGED_IN = {"user": USER, "access_token": "eyJhbGc...", "refresh_token": "eyJhbGc..."}
CONVERSATION = {"id": "uuid", "participants": ["user_id_1", "user_id_2"], "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z"}
MESSAGE = {"id": "uuid", "sender_id": "uuid", "conversation_id": "uuid", "content": "Hello!", "created_at": "2024-01-01T00:00:00Z"}
GROUP_MESSAGE = {"id": "uuid", "sender_id": "uuid", "group_id": "uuid", "content": "Hello team!", "created_at": "2024-01-01T00:00:00Z"}
GROUP = {"id": "uuid", "name": "Team Chat", "created_by": "uuid", "members": ["user_id_1"], "created_at": "2024-01-01T00:00:00Z"}
WS_MESSAGE = {"id": "uuid", "sender_id": "uuid", "conversation_id": None, "group_id": None, "content": "Hello!",
              "created_at": "2024-01-01T00:00:00Z"}
ERROR = {"error": "Invalid request body"}


class Client:
    """A document-004 client: base URL plus a bearer token."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body=None, expect: int | None = None, token: str | None = None):
        headers = {}
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = requests.request(method, self.base + path, json=body, headers=headers, timeout=HTTP_TIMEOUT)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path} -> {response.status_code}: {response.text}"
        return response

    def ws(self) -> FrameWsClient:
        host = urlparse(self.base).netloc
        return FrameWsClient(f"ws://{host}/ws?token={self.token}")


def signup(base: str, name: str) -> tuple[Client, dict]:
    username = f"{name}_{uuid.uuid4().hex[:6]}"
    client = Client(base)
    body = client.call("POST", "/api/auth/register",
                       {"username": username, "email": f"{username}@example.com", "password": "securepassword123"}, expect=200).json()
    client.token = body["access_token"]
    return client, body


@pytest.fixture
def simple(server):
    srv = server(modules=MODULES)
    return srv, srv.surface_url("profile_simple")


def test_document_walk_auth_conversations_groups_and_websocket(simple):
    srv, base = simple
    anonymous = Client(base)

    # POST /api/auth/register with the document's own example body (its password has no capital letter).
    registered = anonymous.call("POST", "/api/auth/register",
                                {"username": "johndoe", "email": "john@example.com", "password": "securepassword123"}, expect=200).json()
    shape(registered, REGISTERED)
    assert registered["user"]["username"] == "johndoe" and registered["user"]["email"] == "john@example.com"

    # POST /api/auth/login by username.
    logged_in = anonymous.call("POST", "/api/auth/login", {"username": "johndoe", "password": "securepassword123"}, expect=200).json()
    shape(logged_in, LOGGED_IN)
    assert logged_in["user"]["id"] == registered["user"]["id"]
    john = Client(base, logged_in["access_token"])

    # POST /api/auth/refresh: the document returns no new refresh token, so clients reuse the first one.
    for _ in range(2):
        refreshed = anonymous.call("POST", "/api/auth/refresh", {"refresh_token": logged_in["refresh_token"]}, expect=200).json()
        shape(refreshed, {"access_token": "eyJhbGc..."})
        john.call("GET", "/api/conversations", expect=200, token=refreshed["access_token"])

    jane, jane_body = signup(base, "jane")
    jane_id = jane_body["user"]["id"]

    # POST /api/conversations: create or get, 200 both times, the same conversation.
    created = john.call("POST", "/api/conversations", {"user_id": jane_id}, expect=200).json()
    shape(created, {"conversation": CONVERSATION})
    conversation_id = created["conversation"]["id"]
    assert sorted(created["conversation"]["participants"]) == sorted([registered["user"]["id"], jane_id])
    again = jane.call("POST", "/api/conversations", {"user_id": registered["user"]["id"]}, expect=200).json()
    assert again["conversation"]["id"] == conversation_id

    listed = john.call("GET", "/api/conversations", expect=200).json()
    shape(listed, {"conversations": [CONVERSATION]})
    assert [c["id"] for c in listed["conversations"]] == [conversation_id]
    one = john.call("GET", f"/api/conversations/{conversation_id}", expect=200).json()
    shape(one, {"conversation": {"id": "uuid", "participants": ["user_id_1", "user_id_2"], "created_at": "2024-01-01T00:00:00Z"}})

    # The WebSocket: both participants connected before anything is sent.
    john_ws, jane_ws = john.ws(), jane.ws()
    try:
        sent = john.call("POST", f"/api/conversations/{conversation_id}/messages", {"content": "Hello, how are you?"}, expect=201).json()
        shape(sent, {"message": MESSAGE})
        assert sent["message"]["conversation_id"] == conversation_id and sent["message"]["content"] == "Hello, how are you?"
        for ws in (john_ws, jane_ws):
            frame = ws.wait_for("message", lambda d: d["id"] == sent["message"]["id"])
            shape(frame, WS_MESSAGE)
            assert frame["conversation_id"] == conversation_id and frame["group_id"] is None

        # An outgoing frame exactly as the document writes it.
        jane_ws.send({"type": "message", "conversation_id": conversation_id, "group_id": None, "content": "Hello!"})
        for ws in (john_ws, jane_ws):
            frame = ws.wait_for("message", lambda d: d["content"] == "Hello!")
            shape(frame, WS_MESSAGE)
            assert frame["sender_id"] == jane_id

        # Groups: create, add a member, read, send over REST and the socket, history, remove.
        group = john.call("POST", "/api/groups", {"name": "Team Chat"}, expect=201).json()
        shape(group, {"group": GROUP})
        group_id = group["group"]["id"]
        assert group["group"]["members"] == [registered["user"]["id"]] and group["group"]["name"] == "Team Chat"
        added = john.call("POST", f"/api/groups/{group_id}/members", {"user_id": jane_id}, expect=200).json()
        assert added == {"message": "Member added successfully"}
        details = jane.call("GET", f"/api/groups/{group_id}", expect=200).json()
        shape(details, {"group": GROUP})
        assert sorted(details["group"]["members"]) == sorted([registered["user"]["id"], jane_id])
        mine = jane.call("GET", "/api/groups", expect=200).json()
        shape(mine, {"groups": [GROUP]})
        assert group_id in [g["id"] for g in mine["groups"]]

        group_sent = jane.call("POST", f"/api/groups/{group_id}/messages", {"content": "Hello team!"}, expect=201).json()
        shape(group_sent, {"message": GROUP_MESSAGE})
        for ws in (john_ws, jane_ws):
            frame = ws.wait_for("message", lambda d: d["id"] == group_sent["message"]["id"])
            assert frame["group_id"] == group_id and frame["conversation_id"] is None
        john_ws.send({"type": "message", "group_id": group_id, "content": "from the socket"})
        jane_ws.wait_for("message", lambda d: d["content"] == "from the socket" and d["group_id"] == group_id)

        history = jane.call("GET", f"/api/groups/{group_id}/messages", expect=200).json()
        shape(history, {"messages": [GROUP_MESSAGE], "next_cursor": None})  # present, null on the last page
        assert [m["content"] for m in history["messages"]] == ["from the socket", "Hello team!"]
        assert history["next_cursor"] is None

        removed = john.call("DELETE", f"/api/groups/{group_id}/members/{jane_id}", expect=200).json()
        assert removed == {"message": "Member removed successfully"}
        assert jane.call("GET", f"/api/groups/{group_id}/messages").status_code in (403, 404)
    finally:
        john_ws.close()
        jane_ws.close()

    # GET /api/conversations/:id/messages: the document's shape.
    page = jane.call("GET", f"/api/conversations/{conversation_id}/messages", expect=200).json()
    shape(page, {"messages": [MESSAGE], "next_cursor": None})

    # POST /api/auth/logout, then the session's tokens stop working.
    logout = john.call("POST", "/api/auth/logout", expect=200).json()
    assert logout == {"message": "Logged out successfully"}
    assert john.call("GET", "/api/conversations").status_code == 401
    assert anonymous.call("POST", "/api/auth/refresh", {"refresh_token": logged_in["refresh_token"]}).status_code == 401


def test_cursor_pages_return_every_message_once(simple):
    _, base = simple
    alice, _ = signup(base, "alice")
    bob, bob_body = signup(base, "bob")
    conversation_id = alice.call("POST", "/api/conversations", {"user_id": bob_body["user"]["id"]}, expect=200).json()["conversation"]["id"]
    sent = [alice.call("POST", f"/api/conversations/{conversation_id}/messages", {"content": f"m{i}"}, expect=201).json()["message"]["id"]
            for i in range(12)]
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = bob.call("GET", f"/api/conversations/{conversation_id}/messages{query}", expect=200).json()
        pages += 1
        assert len(page["messages"]) <= 5
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor.endswith("Z")
        assert pages < 20
    assert sorted(seen) == sorted(sent) and len(seen) == len(set(seen))
    # Newest first within and across pages.
    assert seen == sorted(sent, reverse=True)
    assert bob.call("GET", f"/api/conversations/{conversation_id}/messages?cursor=yesterday").json()["error"]
    assert bob.call("GET", f"/api/conversations/{conversation_id}/messages?limit=0").status_code == 400


def test_errors_are_in_the_documents_envelope_and_strangers_get_nothing(simple):
    _, base = simple
    anonymous = Client(base)
    alice, _ = signup(base, "alice")
    bob, bob_body = signup(base, "bob")
    mallory, _ = signup(base, "mallory")
    conversation_id = alice.call("POST", "/api/conversations", {"user_id": bob_body["user"]["id"]}, expect=200).json()["conversation"]["id"]
    group_id = alice.call("POST", "/api/groups", {"name": "private"}, expect=201).json()["group"]["id"]

    bad = anonymous.call("POST", "/api/auth/register", {"username": "x", "email": "nope", "password": "short"}, expect=400).json()
    shape(bad, ERROR)
    assert "password" in bad["error"] and "email" in bad["error"]
    shape(anonymous.call("POST", "/api/auth/login", {"username": "ghost", "password": "whatever1"}, expect=401).json(), ERROR)
    shape(anonymous.call("GET", "/api/conversations", expect=401).json(), ERROR)
    shape(alice.call("POST", "/api/conversations", {"user_id": str(uuid.uuid4())}, expect=404).json(), ERROR)
    body = requests.post(base + "/api/groups", data="{not json", headers={"Authorization": f"Bearer {alice.token}",
                                                                         "Content-Type": "application/json"}, timeout=HTTP_TIMEOUT)
    assert body.status_code == 400 and set(body.json()) == {"error"}
    assert alice.call("POST", f"/api/conversations/{conversation_id}/messages", {"content": ""}, expect=400).json()["error"]

    # A stranger: no conversation, no group, no history, no sends; over REST and the socket.
    mallory_ws = mallory.ws()
    try:
        for path in (f"/api/conversations/{conversation_id}", f"/api/conversations/{conversation_id}/messages"):
            shape(mallory.call("GET", path, expect=404).json(), ERROR)
        assert mallory.call("POST", f"/api/conversations/{conversation_id}/messages", {"content": "hi"}).status_code == 404
        for method, path, payload in (("GET", f"/api/groups/{group_id}", None), ("GET", f"/api/groups/{group_id}/messages", None),
                                      ("POST", f"/api/groups/{group_id}/messages", {"content": "hi"}),
                                      ("POST", f"/api/groups/{group_id}/members", {"user_id": bob_body["user"]["id"]})):
            response = mallory.call(method, path, payload)
            assert response.status_code in (403, 404), (path, response.status_code)
            shape(response.json(), ERROR)
        mallory_ws.send({"type": "message", "conversation_id": conversation_id, "content": "let me in"})
        error = mallory_ws.wait_for("error")
        assert error["type"] == "error" and isinstance(error["message"], str) and error["message"]
        mallory_ws.send({"type": "message", "group_id": group_id, "content": "let me in"})
        mallory_ws.wait_for("error", lambda e: e is not error)
        mallory_ws.send({"type": "nonsense"})
        mallory_ws.ws.send("not json")
        deadline = time.time() + 5
        while len(mallory_ws.of("error")) < 4 and time.time() < deadline:
            time.sleep(0.05)
        assert len(mallory_ws.of("error")) == 4

        # Members talk; the stranger's socket receives none of it, and their attempts stored nothing.
        alice.call("POST", f"/api/conversations/{conversation_id}/messages", {"content": "private"}, expect=201)
        alice.call("POST", f"/api/groups/{group_id}/messages", {"content": "private too"}, expect=201)
        history = bob.call("GET", f"/api/conversations/{conversation_id}/messages", expect=200).json()["messages"]
        assert [m["content"] for m in history] == ["private"]
        time.sleep(0.3)
        assert mallory_ws.of("message") == []
    finally:
        mallory_ws.close()

    # A bad token on the socket is refused with the document's error body.
    with pytest.raises(Exception) as refused:
        FrameWsClient(f"ws://{urlparse(base).netloc}/ws?token=nonsense")
    assert "401" in str(refused.value)


def test_logout_closes_the_sessions_socket(simple):
    _, base = simple
    alice, _ = signup(base, "alice")
    ws = alice.ws()
    try:
        alice.call("POST", "/api/auth/logout", expect=200)
        assert ws.closed_by_server.wait(5)
    finally:
        ws.close()


def test_same_data_as_api_v1_and_a_profile_turned_off(server):
    """A message sent in dialect 004 reaches a /api/v1 Socket.IO client as `message:received`, and one sent on
    /api/v1 reaches the 004 socket; with the profile off its listener is closed and the data stays on /api/v1."""
    srv = server(modules=MODULES)
    base = srv.surface_url("profile_simple")
    v1 = register_and_login(srv.url, "v1user")
    simple_user, simple_body = signup(base, "simple")
    conversation_id = simple_user.call("POST", "/api/conversations", {"user_id": v1["id"]}, expect=200).json()["conversation"]["id"]

    sio = SioClient(srv.url, v1["token"])
    ws = simple_user.ws()
    try:
        sent = simple_user.call("POST", f"/api/conversations/{conversation_id}/messages", {"content": "from 004"}, expect=201).json()
        received = sio.wait_for("message:received", lambda d: d["id"] == sent["message"]["id"])
        assert received["conversationId"] == conversation_id and received["content"] == "from 004"
        reply = requests.post(f"{srv.api}/messages", json={"receiverId": simple_body["user"]["id"], "content": "from 001"},
                              headers={"Authorization": f"Bearer {v1['token']}"}, timeout=HTTP_TIMEOUT)
        assert reply.status_code == 201, reply.text
        frame = ws.wait_for("message", lambda d: d["content"] == "from 001")
        assert frame["conversation_id"] == conversation_id and frame["sender_id"] == v1["id"]
    finally:
        sio.close()
        ws.close()

    port = urlparse(base).port
    srv.manifest["modules"] = {"messaging": {}, "direct": {}, "groups": {}}
    srv.restart()
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the profile's listener is still open"
    history = requests.get(f"{srv.api}/conversations/{conversation_id}/messages", headers={"Authorization": f"Bearer {v1['token']}"},
                           timeout=HTTP_TIMEOUT)
    assert history.status_code == 200, history.text
    assert {m["content"] for m in history.json()["data"]} == {"from 004", "from 001"}


def test_routes_command_shows_each_routes_listener(tmp_path):
    import json
    import subprocess

    from conftest import parley_binary

    manifest = tmp_path / "parley.yaml"
    manifest.write_text(json.dumps({"server": {"host": "127.0.0.1", "port": 3999}, "storage": {"path": str(tmp_path / "p.sqlite")},
                                    "modules": {"messaging": {}, "direct": {}, "profile_simple": {"listen": "127.0.0.1:8089"}}}))
    out = subprocess.run([str(parley_binary()), "routes", "--config", str(manifest)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    assert ["127.0.0.1:8089", "GET", "/ws", "profile_simple"] in lines
    assert ["127.0.0.1:8089", "POST", "/api/auth/register", "profile_simple"] in lines
    assert ["127.0.0.1:3999", "POST", "/api/v1/auth/register", "kernel"] in lines
    checked = subprocess.run([str(parley_binary()), "check-config", str(manifest)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
