"""Document 003 served by the `profile_conversations` module: a client written to that document works unchanged
(form logins, people by e-mail, `{detail}` errors, its Socket.IO events), on the same users and conversations as
/api/v1. Every endpoint and event the document shows is walked with python `requests` and python-socketio, and
each response is compared with the document's example (its keys present with their types; extra keys allowed).
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests

from conftest import HTTP_TIMEOUT, register_and_login
from realtime_clients import SioClient
from test_profile_simple import shape

MODULES = {"messaging": {}, "direct": {}, "profile_conversations": {"listen": "127.0.0.1:0"}}
PASSWORD = "conversations-pass-1"

# The document's examples.
LOGIN = {"access_token": "eyJ0eXAi...", "token_type": "bearer",
         "user": {"email": "user@example.com", "name": "John Doe", "profile_image": "https://example.com/profile.jpg"}}
ME = {"email": "user@example.com", "name": "John Doe", "profile_image": "https://example.com/profile.jpg", "is_online": True,
      "last_seen": "2023-12-07T10:30:00.000Z"}
SEARCH_HIT = {"email": "john.doe@example.com", "name": "John Doe", "profile_image": None, "is_online": True}
CONVERSATION = {"conversation_id": "64f1", "participants": ["user@example.com"], "last_message": "Hello there!",
                "last_message_time": "2023-12-07T10:30:00.000Z", "last_message_sender": "other@example.com", "unread_count": 3}
STARTED = {"conversation_id": "64f1", "participants": ["user@example.com"]}
MESSAGE = {"id": "64f1", "conversation_id": "64f1", "sender_email": "other@example.com", "sender_name": "Jane Doe",
           "message": "Hello there!", "timestamp": "2023-12-07T10:30:00.000Z", "message_type": "text", "edited": False, "reply_to": None}
SENT = {k: v for k, v in MESSAGE.items() if k != "edited"}
NOTIFICATION = {"conversation_id": "64f1", "sender_email": "sender@example.com", "sender_name": "Jane Doe", "message": "Hello there!"}
DETAIL = {"detail": "Error message description"}


class Person:
    def __init__(self, base: str, email: str, token: str, name: str):
        self.base, self.email, self.token, self.name = base, email, token, name

    def call(self, method: str, path: str, expect: int | None = None, **kwargs):
        response = requests.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"},
                                    timeout=HTTP_TIMEOUT, **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path} -> {response.status_code}: {response.text}"
        return response


def login(base: str, name: str, **extra) -> tuple[Person, dict]:
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.com"
    form = {"email": email, "name": name, "password": PASSWORD, **extra}
    response = requests.post(f"{base}/api/auth/login", data=form, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    return Person(base, email, body["access_token"], name), body


@pytest.fixture
def conversations(server):
    srv = server(modules=MODULES)
    return srv, srv.surface_url("profile_conversations")


def test_document_walk_rest_and_socketio(conversations):
    srv, base = conversations
    # POST /api/auth/login as a form, with the document's fields (plus the password Parley requires).
    john, body = login(base, "John Doe", profile_image="https://example.com/profile.jpg")
    shape(body, LOGIN)
    assert body["token_type"] == "bearer" and body["user"] == {"email": john.email, "name": "John Doe",
                                                               "profile_image": "https://example.com/profile.jpg"}
    claims = jwt.decode(john.token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == pytest.approx(86400, abs=2)  # valid for 24 hours, as the document says
    # Logging in again signs in the same account (by e-mail and password); a wrong password is refused.
    again = requests.post(f"{base}/api/auth/login", data={"email": john.email, "password": PASSWORD}, timeout=HTTP_TIMEOUT)
    assert again.status_code == 200 and again.json()["user"]["name"] == "John Doe"
    wrong = requests.post(f"{base}/api/auth/login", data={"email": john.email, "password": "not-it-at-all"}, timeout=HTTP_TIMEOUT)
    assert wrong.status_code == 401
    shape(wrong.json(), DETAIL)
    jane, _ = login(base, "Jane Doe")

    me = john.call("GET", "/api/users/me", expect=200).json()
    shape(me, ME)
    assert me["email"] == john.email and me["name"] == "John Doe"
    hits = jane.call("GET", "/api/users/search", params={"query": "john doe"}, expect=200).json()
    assert hits and all(set(SEARCH_HIT) <= set(hit) for hit in hits)
    assert john.email in [hit["email"] for hit in hits]
    shape(hits, [SEARCH_HIT])

    started = john.call("POST", "/api/conversations/start", data={"to_email": jane.email}, expect=200).json()
    shape(started, STARTED)
    conversation_id = started["conversation_id"]
    assert sorted(started["participants"]) == sorted([john.email, jane.email])
    assert jane.call("POST", "/api/conversations/start", data={"to_email": john.email}, expect=200).json()["conversation_id"] == conversation_id

    john_sio, jane_sio = SioClient(base, john.token), SioClient(base, jane.token)
    try:
        jane_sio.sio.emit("join_conversation", {"conversation_id": conversation_id})
        assert jane_sio.wait_for("joined_conversation")["conversation_id"] == conversation_id

        # send_message over Socket.IO: new_message to both, message_notification to the recipient only.
        john_sio.sio.emit("send_message", {"to_email": jane.email, "message": "Hello there!", "message_type": "text"})
        received = jane_sio.wait_for("new_message", lambda d: d["message"] == "Hello there!")
        shape(received, {k: v for k, v in MESSAGE.items() if k != "edited"})
        assert received["sender_email"] == john.email and received["sender_name"] == "John Doe"
        assert received["conversation_id"] == conversation_id and received["message_type"] == "text"
        notification = jane_sio.wait_for("message_notification")
        shape(notification, NOTIFICATION)
        assert notification["sender_email"] == john.email and notification["message"] == "Hello there!"
        john_sio.wait_for("new_message", lambda d: d["id"] == received["id"])
        time.sleep(0.2)
        assert john_sio.of("message_notification") == []

        # POST /api/messages/send, with a reply_to.
        sent = jane.call("POST", "/api/messages/send", json={"to_email": john.email, "message": "Hi! How are you?",
                                                             "message_type": "text", "reply_to": received["id"]}, expect=200).json()
        shape(sent, SENT)
        assert sent["reply_to"] == received["id"] and sent["sender_email"] == jane.email
        john_sio.wait_for("new_message", lambda d: d["id"] == sent["id"])
        john_sio.wait_for("message_notification", lambda d: d["message"] == "Hi! How are you?")

        listed = john.call("GET", "/api/conversations", expect=200).json()
        shape(listed, [CONVERSATION])
        mine = next(c for c in listed if c["conversation_id"] == conversation_id)
        assert mine["unread_count"] == 1 and mine["last_message"] == "Hi! How are you?" and mine["last_message_sender"] == jane.email

        page = john.call("GET", f"/api/conversations/{conversation_id}/messages", params={"skip": 0, "limit": 20}, expect=200).json()
        shape(page, [MESSAGE])
        assert [m["message"] for m in page] == ["Hello there!", "Hi! How are you?"]  # chronological within the page
        newest = john.call("GET", f"/api/conversations/{conversation_id}/messages", params={"skip": 0, "limit": 1}, expect=200).json()
        older = john.call("GET", f"/api/conversations/{conversation_id}/messages", params={"skip": 1, "limit": 1}, expect=200).json()
        assert [m["message"] for m in newest] == ["Hi! How are you?"] and [m["message"] for m in older] == ["Hello there!"]

        # Typing, both ways of it.
        john_sio.sio.emit("typing_start", {"conversation_id": conversation_id})
        typing = jane_sio.wait_for("user_typing", lambda d: d["typing"] is True)
        assert typing == {"conversation_id": conversation_id, "user_email": john.email, "typing": True}
        john_sio.sio.emit("typing_stop", {"conversation_id": conversation_id})
        jane_sio.wait_for("user_typing", lambda d: d["typing"] is False)

        # mark_as_read: both sides hear it; the unread count drops.
        john_sio.sio.emit("mark_as_read", {"conversation_id": conversation_id})
        for client in (john_sio, jane_sio):
            assert client.wait_for("marked_as_read") == {"conversation_id": conversation_id, "user_email": john.email}
        assert next(c for c in john.call("GET", "/api/conversations").json() if c["conversation_id"] == conversation_id)["unread_count"] == 0
        assert jane.call("POST", f"/api/conversations/{conversation_id}/mark-read", expect=200).json() == {"message": "Conversation marked as read"}

        jane_sio.sio.emit("get_online_users")
        assert jane_sio.wait_for("online_users") == {"users": [john.email]}
        jane_sio.sio.emit("leave_conversation", {"conversation_id": conversation_id})
        assert jane_sio.wait_for("left_conversation")["conversation_id"] == conversation_id

        # Presence by e-mail, to the people one shares a conversation with.
        john_sio.close()
        assert jane_sio.wait_for("user_offline") == {"email": john.email}
        john_sio = SioClient(base, john.token)
        assert jane_sio.wait_for("user_online") == {"email": john.email}
    finally:
        john_sio.close()
        jane_sio.close()

    health = requests.get(f"{base}/health", timeout=HTTP_TIMEOUT)
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    docs = requests.get(f"{base}/docs", timeout=HTTP_TIMEOUT)
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"] and "send_message" in docs.text


def test_errors_validation_and_strangers(conversations):
    _, base = conversations
    missing = requests.post(f"{base}/api/auth/login", data={"email": "x@example.com"}, timeout=HTTP_TIMEOUT)
    assert missing.status_code == 422 and "password" in missing.json()["detail"]
    shape(missing.json(), DETAIL)
    # Query fields and JSON bodies work as well as forms.
    by_query = requests.post(f"{base}/api/auth/login", params={"email": f"q{uuid.uuid4().hex[:6]}@example.com", "name": "Q",
                                                               "password": PASSWORD}, timeout=HTTP_TIMEOUT)
    assert by_query.status_code == 200, by_query.text
    by_json = requests.post(f"{base}/api/auth/login", json={"email": f"j{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD},
                            timeout=HTTP_TIMEOUT)
    assert by_json.status_code == 200, by_json.text
    assert requests.get(f"{base}/api/users/me", timeout=HTTP_TIMEOUT).status_code == 401

    alice, _ = login(base, "Alice")
    bob, _ = login(base, "Bob")
    mallory, _ = login(base, "Mallory")
    assert alice.call("GET", "/api/users/search").status_code == 422
    unknown = alice.call("POST", "/api/conversations/start", data={"to_email": "nobody@example.com"})
    assert unknown.status_code == 404
    shape(unknown.json(), DETAIL)
    assert alice.call("POST", "/api/messages/send", json={"to_email": "nobody@example.com", "message": "x"}).status_code == 404
    assert alice.call("POST", "/api/messages/send", json={"to_email": bob.email, "message": ""}).status_code in (400, 422)
    conversation_id = alice.call("POST", "/api/conversations/start", data={"to_email": bob.email}, expect=200).json()["conversation_id"]

    # A stranger reads, marks and joins nothing, over REST and Socket.IO, and receives nothing of it.
    for method, path in (("GET", f"/api/conversations/{conversation_id}/messages"), ("POST", f"/api/conversations/{conversation_id}/mark-read")):
        response = mallory.call(method, path)
        assert response.status_code == 404, (path, response.status_code)
        shape(response.json(), DETAIL)
    sio = SioClient(base, mallory.token)
    try:
        for event in ("join_conversation", "mark_as_read", "typing_start"):
            before = len(sio.of("error"))
            sio.sio.emit(event, {"conversation_id": conversation_id})
            deadline = time.time() + 5
            while len(sio.of("error")) == before and time.time() < deadline:
                time.sleep(0.05)
            assert len(sio.of("error")) == before + 1, event
            assert isinstance(sio.of("error")[-1]["message"], str)
        sio.sio.emit("send_message", {"to_email": "nobody@example.com", "message": "hi"})
        sio.wait_for("error", lambda e: "not found" in e["message"].lower())
        alice.call("POST", "/api/messages/send", json={"to_email": bob.email, "message": "private"}, expect=200)
        time.sleep(0.3)
        assert sio.of("new_message") == [] and sio.of("message_notification") == [] and sio.of("joined_conversation") == []
    finally:
        sio.close()
    # A bad token is refused at CONNECT.
    with pytest.raises(Exception):
        SioClient(base, "nonsense")


def test_passwordless_only_when_the_operator_says_so(server):
    srv = server(modules={**MODULES, "profile_conversations": {"listen": "127.0.0.1:0", "passwordless": True}})
    base = srv.surface_url("profile_conversations")
    email = f"proxy.{uuid.uuid4().hex[:6]}@example.com"
    first = requests.post(f"{base}/api/auth/login", data={"email": email, "name": "Via Proxy"}, timeout=HTTP_TIMEOUT)
    assert first.status_code == 200, first.text
    second = requests.post(f"{base}/api/auth/login", data={"email": email}, timeout=HTTP_TIMEOUT)
    assert second.status_code == 200 and second.json()["user"]["name"] == "Via Proxy"


def test_logout_on_api_v1_kills_a_profile_token_and_data_is_shared(server):
    """The same accounts as /api/v1: a 003 user signs in on /api/v1 with the same e-mail and password, sees the
    conversation there, and logging that session out leaves the 003 token working (another session) until it
    is itself revoked by deleting the account, which ends it at once."""
    srv = server(modules=MODULES)
    base = srv.surface_url("profile_conversations")
    v1 = register_and_login(srv.url, "v1user")
    carol, _ = login(base, "Carol")
    conversation_id = carol.call("POST", "/api/conversations/start", data={"to_email": v1["email"]}, expect=200).json()["conversation_id"]
    carol.call("POST", "/api/messages/send", json={"to_email": v1["email"], "message": "from 003"}, expect=200)
    history = requests.get(f"{srv.api}/conversations/{conversation_id}/messages", headers={"Authorization": f"Bearer {v1['token']}"},
                           timeout=HTTP_TIMEOUT)
    assert history.status_code == 200 and [m["content"] for m in history.json()["data"]] == ["from 003"]
    v1_login = requests.post(f"{srv.api}/auth/login", json={"email": carol.email, "password": PASSWORD}, timeout=HTTP_TIMEOUT)
    assert v1_login.status_code == 200, v1_login.text
    carol_id = v1_login.json()["data"]["user"]["id"]
    v1_token = v1_login.json()["data"]["accessToken"]
    deleted = requests.delete(f"{srv.api}/users/{carol_id}", headers={"Authorization": f"Bearer {v1_token}"}, timeout=HTTP_TIMEOUT)
    assert deleted.status_code in (200, 204), deleted.text
    assert carol.call("GET", "/api/users/me").status_code == 401  # the 24-hour token died with the account
