"""Idempotent sends (issue 14, item 5): a send may carry the client's own id (`clientMessageId` in the body of a REST
send, `/ws` or Socket.IO `message:send`, or an `Idempotency-Key` header on REST). A retry with the same id returns the
message already stored (same id; 200 instead of 201 over REST; the same ack over realtime) and fans out nothing new,
also after a server restart. A malformed id is a 400 naming its field."""

from __future__ import annotations

import time
import uuid

import requests

from conftest import _api, create_room, join_room, register_and_login
from realtime_clients import SioClient, WsClient


def post(srv, token: str, body: dict, headers: dict | None = None, path: str = "messages") -> requests.Response:
    return requests.post(f"{_api(srv.url)}/{path}", json=body, headers={"Authorization": f"Bearer {token}", **(headers or {})},
                         timeout=10)


def history(srv, token: str, room_id: str) -> list[dict]:
    response = requests.get(f"{_api(srv.url)}/messages/room/{room_id}?limit=100", headers={"Authorization": f"Bearer {token}"},
                            timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_retries_with_the_same_client_message_id_store_and_fan_out_once_across_a_restart(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    listener = WsClient(srv.port, bob["token"])
    ws = WsClient(srv.port, alice["token"])
    sio = SioClient(srv.url, alice["token"])
    sent: dict[str, str] = {}  # client id -> message id
    try:
        # REST: the body field, then the header.
        body = {"roomId": room["id"], "content": "rest body id", "clientMessageId": "rest-1"}
        first = post(srv, alice["token"], body)
        assert first.status_code == 201, first.text
        again = post(srv, alice["token"], body)
        assert again.status_code == 200, again.text
        assert again.json()["data"]["id"] == first.json()["data"]["id"] and again.json()["success"] is True
        sent["rest-1"] = first.json()["data"]["id"]

        key = str(uuid.uuid4())
        first = post(srv, alice["token"], {"roomId": room["id"], "content": "rest header id"}, {"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        again = post(srv, alice["token"], {"roomId": room["id"], "content": "rest header id"}, {"Idempotency-Key": key})
        assert again.status_code == 200 and again.json()["data"]["id"] == first.json()["data"]["id"], again.text
        # The header and the body naming the same id are one id.
        both = post(srv, alice["token"], {"roomId": room["id"], "content": "rest header id", "clientMessageId": key},
                    {"Idempotency-Key": key})
        assert both.status_code == 200 and both.json()["data"]["id"] == first.json()["data"]["id"], both.text
        sent[key] = first.json()["data"]["id"]

        # Realtime: the same ack both times, and `message:sent` again for the retrying connection.
        for client, client_id in ((ws, "ws-1"), (sio, "sio-1")):
            data = {"roomId": room["id"], "content": f"{client.label} id", "clientMessageId": client_id}
            kind, ack = client.call("message:send", data, timeout=10)
            assert kind == "ack", (client.label, ack)
            kind, retry = client.call("message:send", data, timeout=10)
            assert kind == "ack" and retry == ack, (client.label, ack, retry)
            sent[client_id] = ack["id"]

        # One id per sender: Bob may use Alice's ids for his own messages.
        mine = post(srv, bob["token"], {"roomId": room["id"], "content": "bob's own", "clientMessageId": "rest-1"})
        assert mine.status_code == 201 and mine.json()["data"]["id"] != sent["rest-1"], mine.text

        # Nothing was fanned out twice: Bob's connection heard of each message once.
        for message_id in sent.values():
            listener.wait_for("message:received", lambda m, i=message_id: m["id"] == i)
        time.sleep(0.3)
        received = [m["id"] for m in listener.of("message:received") if m["senderId"] == alice["id"]]
        assert sorted(received) == sorted(sent.values()), received
        stored = [m["id"] for m in history(srv, alice["token"], room["id"])]
        assert len(stored) == len(set(stored)) == len(sent) + 1
    finally:
        for client in (listener, ws, sio):
            client.close()

    # After a restart the ids still hold, on every transport.
    srv.restart()
    ws = WsClient(srv.port, alice["token"])
    sio = SioClient(srv.url, alice["token"])
    try:
        again = post(srv, alice["token"], {"roomId": room["id"], "content": "rest body id", "clientMessageId": "rest-1"})
        assert again.status_code == 200 and again.json()["data"]["id"] == sent["rest-1"], again.text
        again = post(srv, alice["token"], {"roomId": room["id"], "content": "rest header id"}, {"Idempotency-Key": key})
        assert again.status_code == 200 and again.json()["data"]["id"] == sent[key], again.text
        for client, client_id in ((ws, "ws-1"), (sio, "sio-1")):
            kind, ack = client.call("message:send", {"roomId": room["id"], "content": f"{client.label} id", "clientMessageId": client_id},
                                    timeout=10)
            assert kind == "ack" and ack["id"] == sent[client_id], (client.label, ack)
        assert len(history(srv, alice["token"], room["id"])) == len(sent) + 1
    finally:
        ws.close()
        sio.close()


def test_client_message_ids_are_validated_and_bound_to_one_conversation(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    other = create_room(srv.url, alice["token"])
    ws = WsClient(srv.port, alice["token"])
    sio = SioClient(srv.url, alice["token"])
    try:
        for bad in ["", "x" * 129, "has space", "caf\u00e9", "tab\there"]:
            response = post(srv, alice["token"], {"roomId": room["id"], "content": "hi", "clientMessageId": bad})
            assert response.status_code == 400, (bad, response.text)
            assert [e["field"] for e in response.json()["errors"]] == ["clientMessageId"], response.text
            for client in (ws, sio):
                kind, error = client.call("message:send", {"roomId": room["id"], "content": "hi", "clientMessageId": bad}, timeout=10)
                assert kind == "error" and error["errors"][0]["field"] == "clientMessageId", (client.label, error)
        response = post(srv, alice["token"], {"roomId": room["id"], "content": "hi"}, {"Idempotency-Key": "x" * 129})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "Idempotency-Key", response.text
        response = post(srv, alice["token"], {"roomId": room["id"], "content": "hi", "clientMessageId": "a"}, {"Idempotency-Key": "b"})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "Idempotency-Key", response.text
        response = post(srv, alice["token"], {"roomId": room["id"], "content": "hi", "clientMessageId": 7})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "clientMessageId", response.text
        # The longest id is fine.
        assert post(srv, alice["token"], {"roomId": room["id"], "content": "hi", "clientMessageId": "x" * 128}).status_code == 201

        # An id already used for another conversation is a conflict, not a silent answer about the other message.
        assert post(srv, alice["token"], {"roomId": room["id"], "content": "hi", "clientMessageId": "once"}).status_code == 201
        clash = post(srv, alice["token"], {"roomId": other["id"], "content": "hi", "clientMessageId": "once"})
        assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "clientMessageId", clash.text
        assert [m["content"] for m in history(srv, alice["token"], other["id"])] == []
        assert len(history(srv, alice["token"], room["id"])) == 2  # nothing stored by any refusal
    finally:
        ws.close()
        sio.close()


def test_per_conversation_sends_take_the_idempotency_key_too(server):
    srv = server(modules={"messaging": {}, "rooms": {}, "direct": {}, "groups": {}})
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    conversation = post(srv, alice["token"], {"userId": bob["id"]}, path="conversations").json()["data"]
    group = post(srv, alice["token"], {"name": "g"}, path="groups").json()["data"]
    for path, key in ((f"conversations/{conversation['id']}/messages", "k1"), (f"groups/{group['id']}/messages", "k2")):
        first = post(srv, alice["token"], {"content": "hello"}, {"Idempotency-Key": key}, path=path)
        assert first.status_code == 201, (path, first.text)
        again = post(srv, alice["token"], {"content": "hello", "clientMessageId": key}, path=path)
        assert again.status_code == 200 and again.json()["data"]["id"] == first.json()["data"]["id"], (path, again.text)
    # "k1" names Alice's message in the conversation: in the group it is a conflict.
    clash = post(srv, alice["token"], {"content": "hello"}, {"Idempotency-Key": "k1"}, path=f"groups/{group['id']}/messages")
    assert clash.status_code == 409, clash.text
