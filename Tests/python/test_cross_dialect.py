"""One deployment, four dialects: a user on /api/v1 (document 001, Socket.IO), one on documents 000/002
(`profile_rooms`, Socket.IO), one on document 003 (`profile_conversations`, Socket.IO) and one on document 004
(`profile_simple`, plain WebSocket). Each receives the others' messages, typing and read events in its own
dialect, whether they were sent over REST or realtime, in every channel the two share and their documents know:
a room (000 and 001), conversations (001, 003, 004) and a group (001 and 004)."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import requests

from conftest import HTTP_TIMEOUT, _call, register_and_login
from realtime_clients import FrameWsClient, SioClient

MODULES = {
    "messaging": {}, "rooms": {}, "groups": {}, "direct": {}, "files": {},
    "profile_rooms": {"listen": "127.0.0.1:0"}, "profile_conversations": {"listen": "127.0.0.1:0"},
    "profile_simple": {"listen": "127.0.0.1:0"},
}
PASSWORD = "Dialects-pass-1"


def post(url: str, token: str | None = None, expect: int = 200, **kwargs) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.post(url, headers=headers, timeout=HTTP_TIMEOUT, **kwargs)
    assert response.status_code == expect, f"POST {url} -> {response.status_code}: {response.text}"
    return response.json()


def test_four_dialects_hear_each_other(server):
    srv = server(modules=MODULES)
    rooms_url, conv_url, simple_url = (srv.surface_url(name) for name in ("profile_rooms", "profile_conversations", "profile_simple"))
    api = srv.api

    # A on /api/v1; B signs up on 000; C logs in on 003; D registers on 004.
    a = register_and_login(srv.url, "alice")
    b_name = f"bob_{uuid.uuid4().hex[:6]}"
    b_id = post(f"{rooms_url}/api/auth/signup", json={"username": b_name, "email": f"{b_name}@example.com", "password": PASSWORD},
                expect=201)["data"]["userId"]
    b_token = post(f"{rooms_url}/api/auth/login", json={"username": b_name, "password": PASSWORD})["data"]["accessToken"]
    c_email = f"carol.{uuid.uuid4().hex[:6]}@example.com"
    c_token = post(f"{conv_url}/api/auth/login", data={"email": c_email, "name": "Carol", "password": PASSWORD})["access_token"]
    d_name = f"dave_{uuid.uuid4().hex[:6]}"
    d = post(f"{simple_url}/api/auth/register", json={"username": d_name, "email": f"{d_name}@example.com", "password": "lowercase-ok"})
    d_id, d_token = d["user"]["id"], d["access_token"]
    # C opens the conversation with A by e-mail (003); A finds C's id in it (001).
    ac = post(f"{conv_url}/api/conversations/start", c_token, data={"to_email": a["email"]})["conversation_id"]
    participants = _call("GET", f"{api}/conversations/{ac}", a["token"])["data"]["participants"]
    c_id = next(p["id"] for p in participants if p["id"] != a["id"])

    a_sio = SioClient(srv.url, a["token"])
    b_sio = SioClient(rooms_url, b_token)
    c_sio = SioClient(conv_url, c_token)
    d_ws = FrameWsClient(f"ws://{urlparse(simple_url).netloc}/ws?token={d_token}")
    try:
        # --- A room: 001 and 000. ---
        room_id = _call("POST", f"{api}/rooms", a["token"], {"name": "lobby"}, expect=(201,))["data"]["id"]
        kind, _ = b_sio.call("joinRoom", {"roomId": room_id})
        assert kind == "ack"
        over_rest = _call("POST", f"{api}/messages", a["token"], {"roomId": room_id, "content": "A to the room (REST)"}, expect=(201,))["data"]
        assert b_sio.wait_for("message", lambda m: m["_id"] == over_rest["id"])["sender"]["_id"] == a["id"]
        a_sio.sio.emit("message:send", {"roomId": room_id, "content": "A to the room (realtime)"})
        b_sio.wait_for("message", lambda m: m["content"] == "A to the room (realtime)")
        b_sio.sio.emit("message", {"roomId": room_id, "content": "B to the room (realtime)"})
        assert a_sio.wait_for("message:received", lambda m: m["content"] == "B to the room (realtime)")["roomId"] == room_id
        post(f"{rooms_url}/api/messages", b_token, json={"roomId": room_id, "content": "B to the room (REST)"}, expect=201)
        assert a_sio.wait_for("message:received", lambda m: m["content"] == "B to the room (REST)")["senderId"] == b_id

        # --- Conversations: 001 with 003, 003 with 004, 001 with 004. ---
        a_sio.sio.emit("message:send", {"receiverId": c_id, "content": "A to C (realtime)"})
        assert c_sio.wait_for("new_message", lambda m: m["message"] == "A to C (realtime)")["sender_email"] == a["email"]
        assert c_sio.wait_for("message_notification", lambda m: m["message"] == "A to C (realtime)")["conversation_id"] == ac
        _call("POST", f"{api}/conversations/{ac}/messages", a["token"], {"content": "A to C (REST)"}, expect=(201,))
        c_sio.wait_for("new_message", lambda m: m["message"] == "A to C (REST)")
        c_sio.sio.emit("send_message", {"to_email": a["email"], "message": "C to A (realtime)", "message_type": "text"})
        assert a_sio.wait_for("message:received", lambda m: m["content"] == "C to A (realtime)")["conversationId"] == ac
        post(f"{conv_url}/api/messages/send", c_token, json={"to_email": a["email"], "message": "C to A (REST)"})
        a_sio.wait_for("message:received", lambda m: m["content"] == "C to A (REST)")
        # Typing and reads, both ways.
        c_sio.sio.emit("typing_start", {"conversation_id": ac})
        assert a_sio.wait_for("typing:start", lambda t: t.get("conversationId") == ac)["userId"] == c_id
        a_sio.sio.emit("typing:start", {"receiverId": c_id})
        assert c_sio.wait_for("user_typing", lambda t: t["typing"]) == {"conversation_id": ac, "user_email": a["email"], "typing": True}
        _call("POST", f"{api}/conversations/{ac}/read", a["token"], expect=(200,))
        assert c_sio.wait_for("marked_as_read", lambda r: r["user_email"] == a["email"])["conversation_id"] == ac
        # (C's own sends moved C's read position; something new from A makes the next read move it again.)
        _call("POST", f"{api}/conversations/{ac}/messages", a["token"], {"content": "read me"}, expect=(201,))
        c_sio.wait_for("new_message", lambda m: m["message"] == "read me")
        c_sio.sio.emit("mark_as_read", {"conversation_id": ac})
        assert a_sio.wait_for("message:read", lambda r: r["userId"] == c_id)["channelId"] == ac

        cd = post(f"{conv_url}/api/conversations/start", c_token, data={"to_email": f"{d_name}@example.com"})["conversation_id"]
        c_sio.sio.emit("send_message", {"to_email": f"{d_name}@example.com", "message": "C to D (realtime)"})
        assert d_ws.wait_for("message", lambda m: m["content"] == "C to D (realtime)")["conversation_id"] == cd
        d_ws.send({"type": "message", "conversation_id": cd, "content": "D to C (realtime)"})
        assert c_sio.wait_for("new_message", lambda m: m["message"] == "D to C (realtime)")["sender_email"] == f"{d_name}@example.com"
        post(f"{simple_url}/api/conversations/{cd}/messages", d_token, json={"content": "D to C (REST)"}, expect=201)
        c_sio.wait_for("message_notification", lambda m: m["message"] == "D to C (REST)")
        c_sio.sio.emit("typing_start", {"conversation_id": cd})
        assert d_ws.wait_for("typing", lambda t: t["conversation_id"] == cd and t["typing"])["user_id"] == c_id
        d_ws.send({"type": "message", "conversation_id": cd, "content": "read me too"})
        c_sio.wait_for("new_message", lambda m: m["message"] == "read me too")
        c_sio.sio.emit("mark_as_read", {"conversation_id": cd})
        assert d_ws.wait_for("read", lambda r: r["conversation_id"] == cd)["user_id"] == c_id

        ad = post(f"{simple_url}/api/conversations", d_token, json={"user_id": a["id"]})["conversation"]["id"]
        a_sio.sio.emit("message:send", {"receiverId": d_id, "content": "A to D (realtime)"})
        assert d_ws.wait_for("message", lambda m: m["content"] == "A to D (realtime)")["conversation_id"] == ad
        d_ws.send({"type": "message", "conversation_id": ad, "content": "D to A (realtime)"})
        assert a_sio.wait_for("message:received", lambda m: m["content"] == "D to A (realtime)")["conversationId"] == ad
        a_sio.sio.emit("typing:start", {"receiverId": d_id})
        d_ws.wait_for("typing", lambda t: t["conversation_id"] == ad and t["user_id"] == a["id"])

        # --- A group: 001 and 004. ---
        group_id = _call("POST", f"{api}/groups", a["token"], {"title": "crew", "type": "PRIVATE"}, expect=(201,))["data"]["id"]
        _call("POST", f"{api}/groups/{group_id}/members", a["token"], {"userId": d_id, "role": "MEMBER"}, expect=(200,))
        _call("POST", f"{api}/groups/{group_id}/messages", a["token"], {"content": "A to the group (REST)"}, expect=(201,))
        assert d_ws.wait_for("message", lambda m: m["content"] == "A to the group (REST)")["group_id"] == group_id
        post(f"{simple_url}/api/groups/{group_id}/messages", d_token, json={"content": "D to the group (REST)"}, expect=201)
        assert a_sio.wait_for("message:received", lambda m: m["content"] == "D to the group (REST)")["groupId"] == group_id
        d_ws.send({"type": "message", "group_id": group_id, "content": "D to the group (realtime)"})
        a_sio.wait_for("message:received", lambda m: m["content"] == "D to the group (realtime)")
        a_sio.sio.emit("typing:start", {"groupId": group_id})
        d_ws.wait_for("typing", lambda t: t["group_id"] == group_id and t["user_id"] == a["id"])

        # Nobody heard a channel they are not in: B (rooms only) got no conversation or group traffic; C none
        # of the room's or group's; D none of the room's.
        assert all(m["room"] == room_id for m in b_sio.of("message"))
        assert all(m["conversation_id"] in (ac, cd) for m in c_sio.of("new_message"))
        assert all(m["conversation_id"] in (cd, ad) or m["group_id"] == group_id for m in d_ws.of("message"))
    finally:
        for client in (a_sio, b_sio, c_sio, d_ws):
            client.close()
