"""Three real `parley` nodes on one PostgreSQL database with `realtime.backplane: postgres`: every realtime event
crosses nodes (messages over `/ws` and Socket.IO, typing, receipts, presence, room joins and leaves, session
revocation), and a node killed with SIGKILL loses no acknowledged message while its users go offline once its
heartbeat is older than the timeout. PostgreSQL pass only: the backplane rides on the storage database."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import requests

import pytest

from cluster_support import TIMEOUT_SECONDS, WAIT, cluster, cluster_of  # noqa: F401 (fixtures)
from conftest import _api, _call, create_room, join_room, login, register_and_login, send_message, storage_driver
from realtime_clients import SioClient, WsClient

pytestmark = pytest.mark.skipif(
    storage_driver() != "postgres",
    reason="the postgres backplane needs storage.driver: postgres (run with PARLEY_STORAGE_DRIVER=postgres)")

def _presence(node, token, user_id):
    return _call("GET", f"{_api(node.url)}/users/{user_id}/presence", token=token)["data"]


def _wait(condition, what: str, timeout: float = WAIT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _history(node, token, room_id) -> list[dict]:
    stored, before = [], None
    while True:
        query = f"?limit=100&before={before}" if before else "?limit=100"
        page = _call("GET", f"{_api(node.url)}/messages/room/{room_id}{query}", token=token)
        stored += page["data"]
        before = page["pagination"].get("nextCursor")
        if not before:
            return stored


def test_messages_typing_receipts_and_presence_cross_nodes(cluster):
    a, b, c = cluster
    alice = register_and_login(a.url, "alice")
    bob = register_and_login(b.url, "bob")
    room = create_room(a.url, alice["token"])
    join_room(b.url, bob["token"], room["id"])

    alice_sio = SioClient(a.url, alice["token"])
    bob_ws = WsClient(c.port, bob["token"])
    clients = [alice_sio, bob_ws]
    try:
        # Presence: bob connecting on C reaches alice on A.
        alice_sio.wait_for("user:online", lambda d: d["userId"] == bob["id"], timeout=WAIT)
        assert _presence(b, alice["token"], bob["id"])["isOnline"] is True

        # Socket.IO on A -> /ws on C, and back.
        kind, sent = alice_sio.call("message:send", {"roomId": room["id"], "content": "from A over socket.io"})
        assert kind == "ack"
        got = bob_ws.wait_for("message:received", lambda d: d["id"] == sent["id"], timeout=WAIT)
        assert got["content"] == "from A over socket.io" and got["senderId"] == alice["id"]
        # A read receipt on C reaches the sender on A (before bob sends: his own message moves his position on).
        kind, receipt = bob_ws.call("message:read", {"messageId": sent["id"], "status": "SEEN"})
        assert receipt.get("status") == "SEEN", receipt
        read = alice_sio.wait_for("message:read", timeout=WAIT)
        assert read["userId"] == bob["id"] and read["messageStatus"] == "SEEN"
        _, reply = bob_ws.call("message:send", {"roomId": room["id"], "content": "from C over /ws"})
        assert reply.get("id"), reply
        assert alice_sio.wait_for("message:received", lambda d: d["content"] == "from C over /ws", timeout=WAIT)["senderId"] == bob["id"]

        # Typing (the others only) crosses nodes.
        bob_ws.call("typing:start", {"roomId": room["id"]})
        assert alice_sio.wait_for("typing:start", timeout=WAIT)["userId"] == bob["id"]
        assert bob_ws.count("typing:start") == 0

        # Bob also connects on A: closing his C connection keeps him online; closing the last one on A ends it.
        bob_sio = SioClient(a.url, bob["token"])
        clients.append(bob_sio)
        _wait(lambda: bob_sio.sio.connected, "bob's Socket.IO connection on A")
        # A records the connection in cluster_presence just after answering CONNECT (nothing a client can observe
        # while he is online already): a moment for it before C's connection goes.
        time.sleep(1.0)
        bob_ws.close()
        time.sleep(1.0)
        assert _presence(b, alice["token"], bob["id"])["isOnline"] is True
        assert alice_sio.count("user:offline", lambda d: d["userId"] == bob["id"]) == 0
        bob_sio.close()
        alice_sio.wait_for("user:offline", lambda d: d["userId"] == bob["id"], timeout=WAIT)
        assert _presence(c, alice["token"], bob["id"])["isOnline"] is False
        assert alice_sio.count("user:online", lambda d: d["userId"] == bob["id"]) == 1
    finally:
        for client in clients:
            client.close()


def test_logout_on_one_node_closes_the_sessions_connections_on_the_others(cluster):
    a, b, c = cluster
    carol = register_and_login(a.url, "carol")
    on_a = SioClient(a.url, carol["token"])
    on_c = WsClient(c.port, carol["token"])
    # Another session of carol's stays connected: only the revoked session's connections close.
    other = login(b.url, carol["email"])
    survivor = WsClient(c.port, other["accessToken"])
    try:
        _wait(lambda: on_a.sio.connected, "carol's Socket.IO connection")
        time.sleep(0.5)
        _call("POST", f"{_api(b.url)}/auth/logout", token=carol["token"], expect=(200, 204))
        _wait(lambda: not on_a.sio.connected, "the Socket.IO connection on A to close")
        _wait(lambda: not on_c._reader.is_alive(), "the /ws connection on C to close")
        time.sleep(0.5)
        assert survivor._reader.is_alive()
    finally:
        for client in (on_a, on_c, survivor):
            client.close()


def test_room_join_and_leave_on_one_node_apply_to_connections_on_another(cluster):
    a, b, c = cluster
    alice = register_and_login(a.url, "alice")
    dave = register_and_login(a.url, "dave")
    room = create_room(a.url, alice["token"])
    # A second room dave stays in: its messages, sent from A after the room's, arrive after them (A's backplane
    # sends in order), so once one is seen, a room message that should have come would have.
    marker_room = create_room(a.url, alice["token"])
    join_room(a.url, dave["token"], marker_room["id"])
    dave_ws = WsClient(c.port, dave["token"])
    dave_sio = SioClient(c.url, dave["token"])
    try:
        _wait(lambda: dave_sio.sio.connected, "dave's Socket.IO connection on C")
        first = send_message(a.url, alice["token"], marker_room["id"], "marker 1")
        for client in (dave_ws, dave_sio):
            client.wait_for("message:received", lambda d: d["id"] == first["id"], timeout=WAIT)

        join_room(b.url, dave["token"], room["id"])
        sent = send_message(a.url, alice["token"], room["id"], "after the join")
        for client in (dave_ws, dave_sio):
            assert client.wait_for("message:received", lambda d: d["id"] == sent["id"], timeout=WAIT)["content"] == "after the join"

        _call("POST", f"{_api(b.url)}/rooms/{room['id']}/leave", token=dave["token"])
        after = send_message(a.url, alice["token"], room["id"], "after the leave")
        marker = send_message(a.url, alice["token"], marker_room["id"], "marker 2")
        for client in (dave_ws, dave_sio):
            client.wait_for("message:received", lambda d: d["id"] == marker["id"], timeout=WAIT)
            assert client.count("message:received", lambda d: d["id"] == after["id"]) == 0
    finally:
        dave_ws.close()
        dave_sio.close()


def test_a_killed_node_loses_no_acknowledged_message_and_its_users_go_offline(cluster):
    a, b, c = cluster
    alice = register_and_login(a.url, "alice")
    bob = register_and_login(a.url, "bob")
    erin = register_and_login(a.url, "erin")
    room = create_room(a.url, alice["token"])
    for user in (bob, erin):
        join_room(a.url, user["token"], room["id"])

    watcher = SioClient(a.url, alice["token"])
    bob_ws = WsClient(b.port, bob["token"])
    erin_sio = SioClient(b.url, erin["token"])
    clients = [watcher, bob_ws, erin_sio]
    acked: list[str] = []
    try:
        for user in (bob, erin):
            watcher.wait_for("user:online", lambda d, u=user: d["userId"] == u["id"], timeout=WAIT)

        stop = threading.Event()

        def send_until_dead():
            index = 0
            while not stop.is_set():
                index += 1
                try:
                    kind, data = bob_ws.call("message:send", {"roomId": room["id"], "content": f"burst {index}"}, timeout=3)
                except AssertionError:
                    return  # the node died with this send in flight: not acknowledged, nothing promised
                if isinstance(data, dict) and data.get("id"):
                    acked.append(data["id"])

        sender = threading.Thread(target=send_until_dead, daemon=True)
        sender.start()
        _wait(lambda: len(acked) >= 20, "twenty acknowledged sends")
        b.process.send_signal(signal.SIGKILL)
        b.process.wait(timeout=10)
        stop.set()
        sender.join(timeout=10)
        assert acked, "nothing was acknowledged before the kill"

        # Bob's client reconnects to C and goes on; erin's does not come back.
        bob_again = WsClient(c.port, bob["token"])
        clients.append(bob_again)
        kind, data = bob_again.call("message:send", {"roomId": room["id"], "content": "after the failover"})
        assert data.get("id"), data
        acked.append(data["id"])
        assert watcher.wait_for("message:received", lambda d: d["id"] == data["id"], timeout=WAIT)

        stored = {message["id"] for message in _history(a, alice["token"], room["id"])}
        missing = [id for id in acked if id not in stored]
        assert not missing, f"{len(missing)} acknowledged messages are not in history"

        # Erin's only node died without a goodbye: a survivor marks her offline once B's heartbeat is too old.
        watcher.wait_for("user:offline", lambda d: d["userId"] == erin["id"], timeout=TIMEOUT_SECONDS + WAIT)
        assert _presence(c, alice["token"], erin["id"])["isOnline"] is False
        # Bob is held by C: online, and never announced offline.
        assert _presence(a, alice["token"], bob["id"])["isOnline"] is True
    finally:
        for client in clients:
            client.close()


def test_a_node_restarting_marks_offline_only_the_users_of_dead_nodes(cluster):
    a, b, c = cluster
    alice = register_and_login(a.url, "alice")
    bob = register_and_login(a.url, "bob")
    room = create_room(a.url, alice["token"])
    join_room(a.url, bob["token"], room["id"])
    watcher = SioClient(b.url, alice["token"])
    bob_sio = SioClient(c.url, bob["token"])  # Socket.IO: it answers pings, so it stays up through the quiet wait
    try:
        watcher.wait_for("user:online", lambda d: d["userId"] == bob["id"], timeout=WAIT)
        a.restart()  # a single node would mark everyone offline here
        assert _presence(a, alice["token"], bob["id"])["isOnline"] is True
        # Still held by C after a heartbeat timeout has passed: nobody reaped him.
        time.sleep(TIMEOUT_SECONDS + 1)
        assert _presence(a, alice["token"], bob["id"])["isOnline"] is True
        assert watcher.count("user:offline", lambda d: d["userId"] == bob["id"]) == 0
        # And the restarted node takes part: a message sent there reaches bob on C.
        sent = send_message(a.url, alice["token"], room["id"], "after the restart")
        bob_sio.wait_for("message:received", lambda d: d["id"] == sent["id"], timeout=WAIT)
    finally:
        watcher.close()
        bob_sio.close()


def test_the_auth_rate_limit_holds_across_nodes(cluster_of):
    nodes = cluster_of(rate_limits={"enabled": True, "policies": {"auth": {"limit": 4, "window_seconds": 600, "per": "ip"}}})
    # Sign-up on one node, then sign-ins in turn on each: the fifth attempt is refused, on whichever node it lands.
    username = f"frank_{uuid.uuid4().hex[:8]}"
    email = f"{username}@example.com"
    _call("POST", f"{_api(nodes[0].url)}/auth/register", body={"username": username, "email": email, "password": "Passw0rdTest"},
          expect=(201,))
    statuses = []
    for index in range(5):
        response = requests.post(f"{_api(nodes[(index + 1) % 3].url)}/auth/login",
                                 json={"email": email, "password": "Passw0rdTest"}, timeout=10)
        statuses.append(response.status_code)
    assert statuses[:3] == [200, 200, 200], statuses
    assert statuses[3:] == [429, 429], statuses
    refused = requests.post(f"{_api(nodes[0].url)}/auth/login", json={"email": email, "password": "Passw0rdTest"}, timeout=10)
    assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMIT_EXCEEDED" and "Retry-After" in refused.headers


def test_a_dialect_on_one_node_names_a_user_who_only_acted_on_another(cluster_of):
    """Document 003's events name people by e-mail from the user directory: node C renders the message of a user
    it has never seen (he signed in and sent on node A)."""
    nodes = cluster_of(modules={"messaging": {}, "direct": {}, "profile_conversations": {"listen": "127.0.0.1:0"}})
    a, c = nodes[0].surface_url("profile_conversations"), nodes[2].surface_url("profile_conversations")

    def form_login(base, name):
        email = f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.com"
        response = requests.post(f"{base}/api/auth/login", data={"email": email, "name": name, "password": "conversations-pass-1"},
                                 timeout=10)
        assert response.status_code == 200, response.text
        return email, response.json()["access_token"]

    john_email, john_token = form_login(a, "John")
    jane_email, jane_token = form_login(c, "Jane")
    jane = SioClient(c, jane_token)
    try:
        started = requests.post(f"{a}/api/conversations/start", data={"to_email": jane_email},
                                headers={"Authorization": f"Bearer {john_token}"}, timeout=10)
        assert started.status_code == 200, started.text
        sent = requests.post(f"{a}/api/messages/send", json={"to_email": jane_email, "message": "hello across nodes", "message_type": "text"},
                             headers={"Authorization": f"Bearer {john_token}"}, timeout=10)
        assert sent.status_code == 200, sent.text
        received = jane.wait_for("new_message", lambda d: d["message"] == "hello across nodes", timeout=WAIT)
        assert received["sender_email"] == john_email and received["sender_name"] == "John"
        assert jane.wait_for("message_notification", timeout=WAIT)["sender_email"] == john_email
    finally:
        jane.close()


def test_group_role_change_and_kick_on_one_node_reach_connections_on_others(cluster_of):
    a, b, c = cluster_of(modules={"messaging": {}, "groups": {}})
    owner = register_and_login(a.url, "owner")
    gina = register_and_login(a.url, "gina")
    group = _call("POST", f"{_api(a.url)}/groups", token=owner["token"], body={"title": f"g-{uuid.uuid4().hex[:6]}"},
                  expect=(201,))["data"]
    other = _call("POST", f"{_api(a.url)}/groups", token=owner["token"], body={"title": f"g-{uuid.uuid4().hex[:6]}"},
                  expect=(201,))["data"]
    for each in (group, other):
        _call("POST", f"{_api(a.url)}/groups/{each['id']}/members", token=owner["token"], body={"userId": gina["id"]},
              expect=(201, 200))
    owner_sio = SioClient(a.url, owner["token"])
    gina_ws = WsClient(c.port, gina["token"])
    gina_sio = SioClient(c.url, gina["token"])
    try:
        owner_sio.wait_for("user:online", lambda d: d["userId"] == gina["id"], timeout=WAIT)
        first = _call("POST", f"{_api(a.url)}/groups/{group['id']}/messages", token=owner["token"],
                      body={"content": "before"}, expect=(201,))["data"]
        for client in (gina_ws, gina_sio):
            client.wait_for("message:received", lambda d: d["id"] == first["id"], timeout=WAIT)

        # Role change on B: gina's connections on C hear of it.
        _call("PATCH", f"{_api(b.url)}/groups/{group['id']}/members/{gina['id']}", token=owner["token"], body={"role": "ADMIN"})
        for client in (gina_ws, gina_sio):
            assert client.wait_for("group:member:updated", timeout=WAIT)["role"] == "ADMIN"

        # Kick on B: her connections on C are told and no longer receive the group's messages.
        _call("DELETE", f"{_api(b.url)}/groups/{group['id']}/members/{gina['id']}", token=owner["token"], expect=(200, 204))
        for client in (gina_ws, gina_sio):
            client.wait_for("group:member:removed", lambda d: d.get("userId") == gina["id"], timeout=WAIT)
        after = _call("POST", f"{_api(a.url)}/groups/{group['id']}/messages", token=owner["token"],
                      body={"content": "after the kick"}, expect=(201,))["data"]
        # A message of a group she is still in, sent from A after that one, arrives after it would have.
        marker = _call("POST", f"{_api(a.url)}/groups/{other['id']}/messages", token=owner["token"],
                       body={"content": "marker"}, expect=(201,))["data"]
        for client in (gina_ws, gina_sio):
            client.wait_for("message:received", lambda d: d["id"] == marker["id"], timeout=WAIT)
            assert client.count("message:received", lambda d: d["id"] == after["id"]) == 0
    finally:
        for client in (gina_ws, gina_sio, owner_sio):
            client.close()
