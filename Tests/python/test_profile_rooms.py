"""Documents 000/002 served by the `profile_rooms` module: a client written to them works unchanged
(`{success, message, data}` bodies, `_id` keys, page/limit/sort/order, multipart uploads, Socket.IO `joinRoom`,
`leaveRoom`, `message`, `fileUpload`), on the same users, rooms and files as /api/v1. Every endpoint and event
the documents show is walked with python `requests` and python-socketio; each response is compared with the
document's example (its keys present with their types; extra keys allowed).
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT
from realtime_clients import SioClient
from test_files import png_bytes
from test_profile_simple import shape

MODULES = {"messaging": {}, "rooms": {}, "files": {}, "profile_rooms": {"listen": "127.0.0.1:0"}}
PASSWORD = "securePassword123"

SIGNUP = {"success": True, "message": "User registered successfully.", "data": {"userId": "64f8"}}
LOGIN = {"success": True, "message": "Login successful",
         "data": {"id": "64f8", "username": "john_doe", "email": "john@example.com", "accessToken": "eyJ", "createdAt": "2024-01-01T00:00:00.000Z"}}
ROOM = {"_id": "64f8", "name": "General Discussion", "description": "A room for general conversations", "createdBy": "64f8",
        "createdAt": "2024-01-01T00:00:00.000Z"}
ROOM_ITEM = {k: v for k, v in ROOM.items() if k != "createdBy"}
ROOM_DETAILS = {**ROOM_ITEM, "messages": []}
SENT = {"_id": "64f8", "content": "Hello everyone!", "sender": "64f8", "room": "64f8", "createdAt": "2024-01-01T00:00:00.000Z"}
LISTED_MESSAGE = {"_id": "64f8", "content": "Hello everyone!", "sender": {"_id": "64f8", "username": "john_doe"},
                  "createdAt": "2024-01-01T00:00:00.000Z"}
UPLOADED = {"_id": "64f8", "filename": "document.pdf", "originalName": "my-document.pdf", "mimetype": "application/pdf",
            "size": 1024000, "url": "/uploads/document-1234567890.pdf", "uploadedBy": "64f8", "createdAt": "2024-01-01T00:00:00.000Z"}
FILE_ITEM = {"_id": "64f8", "filename": "document.pdf", "originalName": "my-document.pdf", "size": 1024000, "createdAt": "2024-01-01T00:00:00.000Z"}
FAILURE = {"success": False, "message": "Error description", "errors": ["Detailed error messages"]}


class Member:
    def __init__(self, base: str, name: str):
        self.base = base
        self.username = f"{name}_{uuid.uuid4().hex[:6]}"
        self.email = f"{self.username}@example.com"
        signup = requests.post(f"{base}/api/auth/signup", json={"username": self.username, "email": self.email, "password": PASSWORD},
                               timeout=HTTP_TIMEOUT)
        assert signup.status_code == 201, signup.text
        self.signup = signup.json()
        login = requests.post(f"{base}/api/auth/login", json={"email": self.email, "password": PASSWORD}, timeout=HTTP_TIMEOUT)
        assert login.status_code == 200, login.text
        self.login = login.json()
        self.id = self.login["data"]["id"]
        self.token = self.login["data"]["accessToken"]

    def call(self, method: str, path: str, expect: int | None = None, **kwargs):
        response = requests.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"},
                                    timeout=HTTP_TIMEOUT, **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path} -> {response.status_code}: {response.text}"
        return response


@pytest.fixture
def rooms(server):
    srv = server(modules=MODULES)
    return srv, srv.surface_url("profile_rooms")


def ack(client: SioClient, event: str, data: dict):
    kind, reply = client.call(event, data)
    assert kind == "ack", (event, reply)
    return reply


def test_document_walk_rooms_messages_files_and_socketio(rooms):
    _, base = rooms
    john = Member(base, "john")
    shape(john.signup, SIGNUP)
    shape(john.login, LOGIN)
    assert john.signup["data"]["userId"] == john.id and john.login["data"]["username"] == john.username
    # 002: login by username as well.
    by_username = requests.post(f"{base}/api/auth/login", json={"username": john.username, "password": PASSWORD}, timeout=HTTP_TIMEOUT)
    assert by_username.status_code == 200 and by_username.json()["data"]["id"] == john.id
    duplicate = requests.post(f"{base}/api/auth/signup", json={"username": "someone_else", "email": john.email, "password": PASSWORD},
                              timeout=HTTP_TIMEOUT)
    assert duplicate.status_code == 400  # the document: "Validation failed or email already exists"
    shape(duplicate.json(), FAILURE)
    assert any("email" in e for e in duplicate.json()["errors"])
    wrong = requests.post(f"{base}/api/auth/login", json={"email": john.email, "password": "not-the-password"}, timeout=HTTP_TIMEOUT)
    assert wrong.status_code == 401 and wrong.json()["success"] is False

    created = john.call("POST", "/api/rooms", json={"name": "General Discussion", "description": "A room for general conversations"},
                        expect=201).json()
    shape(created, {"success": True, "message": "Room created successfully", "data": ROOM})
    room_id = created["data"]["_id"]
    john.call("POST", "/api/rooms", json={"name": "Another room"}, expect=201)
    listed = john.call("GET", "/api/rooms", params={"page": 1, "limit": 50, "sort": "name", "order": "asc"}, expect=200).json()
    shape(listed, {"success": True, "message": "Rooms retrieved successfully", "data": [ROOM_ITEM]})
    assert [r["name"] for r in listed["data"]] == sorted(r["name"] for r in listed["data"])
    details = john.call("GET", f"/api/rooms/{room_id}", expect=200).json()
    shape(details, {"success": True, "message": "Room details retrieved successfully", "data": ROOM_DETAILS})
    assert details["data"]["messages"] == []

    jane = Member(base, "jane")
    john_sio, jane_sio = SioClient(base, john.token), SioClient(base, jane.token)
    try:
        assert ack(jane_sio, "joinRoom", {"roomId": room_id})["roomId"] == room_id

        sent = john.call("POST", "/api/messages", json={"roomId": room_id, "content": "Hello everyone!"}, expect=201).json()
        shape(sent, {"success": True, "message": "Message sent successfully", "data": SENT})
        assert sent["data"]["sender"] == john.id and sent["data"]["room"] == room_id
        heard = jane_sio.wait_for("message", lambda d: d["_id"] == sent["data"]["_id"])
        shape(heard, LISTED_MESSAGE)
        assert heard["sender"] == {"_id": john.id, "username": john.username} and heard["room"] == room_id

        jane_sio.sio.emit("message", {"roomId": room_id, "content": "Hello!"})
        for client in (john_sio, jane_sio):
            assert client.wait_for("message", lambda d: d["content"] == "Hello!")["sender"]["_id"] == jane.id

        history = john.call("GET", f"/api/messages/{room_id}", params={"page": 1, "limit": 50, "sort": "createdAt", "order": "asc"},
                            expect=200).json()
        shape(history, {"success": True, "message": "Messages retrieved successfully", "data": [LISTED_MESSAGE]})
        assert [m["content"] for m in history["data"]] == ["Hello everyone!", "Hello!"]
        newest = john.call("GET", f"/api/messages/{room_id}", params={"limit": 1}, expect=200).json()["data"]
        assert [m["content"] for m in newest] == ["Hello!"]  # default order: desc
        assert john.call("GET", f"/api/messages/{room_id}", params={"limit": 101}).status_code == 400
        details = jane.call("GET", f"/api/rooms/{room_id}", expect=200).json()["data"]
        assert [m["content"] for m in details["messages"]] == ["Hello everyone!", "Hello!"]

        # Files: upload (libmagic decides the type), list, download at the url given, then share in the room.
        png = png_bytes(8, 8)
        uploaded = john.call("POST", "/api/files/upload", files={"file": ("my-picture.png", png, "application/octet-stream")},
                             expect=201).json()
        shape(uploaded, {"success": True, "message": "File uploaded successfully", "data": UPLOADED})
        file = uploaded["data"]
        assert file["mimetype"] == "image/png" and file["size"] == len(png) and file["originalName"] == "my-picture.png"
        listed_files = john.call("GET", "/api/files", expect=200).json()
        shape(listed_files, {"success": True, "message": "Files retrieved successfully", "data": [FILE_ITEM]})
        downloaded = john.call("GET", file["url"], expect=200)
        assert downloaded.content == png and downloaded.headers["content-type"].startswith("image/png")
        assert "attachment" in downloaded.headers["content-disposition"]
        assert jane.call("GET", file["url"]).status_code == 404  # not shared with her yet

        reply = ack(john_sio, "fileUpload", {"roomId": room_id, "fileId": file["_id"]})
        assert reply["success"] is True
        shared = jane_sio.wait_for("fileUpload")
        assert shared["roomId"] == room_id and shared["file"]["_id"] == file["_id"] and shared["file"]["originalName"] == "my-picture.png"
        assert shared["sender"] == {"_id": john.id, "username": john.username}
        assert jane.call("GET", shared["file"]["url"], expect=200).content == png  # a room member may now read it
        time.sleep(0.2)
        assert john_sio.of("fileUpload") == []  # relayed to the others

        # leaveRoom: no more posting or reading.
        ack(jane_sio, "leaveRoom", {"roomId": room_id})
        assert jane.call("POST", "/api/messages", json={"roomId": room_id, "content": "still here?"}).status_code == 403
    finally:
        john_sio.close()
        jane_sio.close()

    out = john.call("GET", "/api/auth/logout", expect=200).json()
    assert out == {"success": True, "message": "User logged out successfully."}
    assert john.call("GET", "/api/rooms").status_code == 401


def test_strangers_get_403_and_nothing_over_rest_and_socketio(rooms):
    _, base = rooms
    owner, stranger = Member(base, "owner"), Member(base, "stranger")
    room_id = owner.call("POST", "/api/rooms", json={"name": "Members only"}, expect=201).json()["data"]["_id"]
    for method, path, body in (("GET", f"/api/messages/{room_id}", None), ("POST", "/api/messages", {"roomId": room_id, "content": "hi"})):
        response = stranger.call(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
        shape(response.json(), FAILURE)
    assert stranger.call("GET", f"/api/rooms/{room_id}", expect=200).json()["data"]["messages"] == []
    assert stranger.call("GET", f"/api/messages/{uuid.uuid4()}").status_code == 404
    bad = stranger.call("POST", "/api/rooms", json={"description": "no name"})
    assert bad.status_code == 400 and any("name" in e for e in bad.json()["errors"])
    assert requests.get(f"{base}/api/rooms", timeout=HTTP_TIMEOUT).status_code == 401

    sio = SioClient(base, stranger.token)
    try:
        kind, reply = sio.call("message", {"roomId": room_id, "content": "let me in"})
        assert reply["success"] is False
        sio.wait_for("error", lambda e: e["success"] is False)
        kind, reply = sio.call("fileUpload", {"roomId": room_id, "fileId": str(uuid.uuid4())})
        assert reply["success"] is False
        owner.call("POST", "/api/messages", json={"roomId": room_id, "content": "secret"}, expect=201)
        time.sleep(0.3)
        assert sio.of("message") == []
    finally:
        sio.close()


def test_the_documents_rate_limits(server):
    srv = server(modules=MODULES, rate_limits={"enabled": True})
    base = srv.surface_url("profile_rooms")
    statuses = [requests.post(f"{base}/api/auth/login", json={"email": "nobody@example.com", "password": "whatever-it-is"},
                              timeout=HTTP_TIMEOUT) for _ in range(6)]
    assert [r.status_code for r in statuses[:5]] == [401] * 5
    assert statuses[5].status_code == 429
    shape(statuses[5].json(), FAILURE)
