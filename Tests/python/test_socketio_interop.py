"""Interop tests: the real python-socketio client (Engine.IO v4 / Socket.IO v5) against the real `parley` binary.

Every wait is bounded (connect `wait_timeout`, `call(timeout=...)`, `Recorder.wait_for(timeout=...)`), and
conftest gives each test a hard time limit on top.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import socketio

from conftest import create_room, join_room, register_and_login

CONNECT_TIMEOUT = 5  # python-socketio's wait_timeout for the namespace CONNECT
CALL_TIMEOUT = 5
EVENT_TIMEOUT = 5


class Recorder:
    """Records everything one client sees: server events (catch-all), connects, disconnects, connect errors."""

    def __init__(self, sio: socketio.Client):
        self.sio = sio
        self.events: list[tuple[str, tuple]] = []
        self.connects = 0
        self.disconnects: list[tuple] = []
        self.connect_errors: list[tuple] = []
        self._cond = threading.Condition()

        sio.on("connect", self._on_connect)
        sio.on("disconnect", self._on_disconnect)
        sio.on("connect_error", self._on_connect_error)
        sio.on("*", self._on_event)

    def _notify(self, update):
        with self._cond:
            update()
            self._cond.notify_all()

    def _on_connect(self):
        def bump():
            self.connects += 1
        self._notify(bump)

    def _on_disconnect(self, *args):
        self._notify(lambda: self.disconnects.append(args))

    def _on_connect_error(self, *args):
        self._notify(lambda: self.connect_errors.append(args))

    def _on_event(self, event, *args):
        self._notify(lambda: self.events.append((event, args)))

    def of(self, event: str) -> list[tuple]:
        """The argument tuples of every `event` received so far."""
        with self._cond:
            return [args for name, args in self.events if name == event]

    def wait_until(self, condition, timeout: float, what: str):
        with self._cond:
            if not self._cond.wait_for(condition, timeout=timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; events so far: {self.events!r}")

    def wait_for(self, event: str, predicate=lambda args: True, count: int = 1, timeout: float = EVENT_TIMEOUT) -> list[tuple]:
        """Waits until `count` `event`s whose args satisfy `predicate` arrived; returns their argument tuples."""
        def matching():
            return [args for name, args in self.events if name == event and predicate(args)]
        self.wait_until(lambda: len(matching()) >= count, timeout, f"{count} x {event!r}")
        with self._cond:
            return matching()


@pytest.fixture
def client():
    """Factory: `client(**Client_kwargs)` → (socketio.Client, Recorder); every client is shut down at teardown.

    Reconnection is off unless asked for, so a failing test leaves no reconnect loop behind."""
    made: list[socketio.Client] = []

    def make(**kwargs):
        kwargs.setdefault("reconnection", False)
        sio = socketio.Client(handle_sigint=False, **kwargs)
        made.append(sio)
        return sio, Recorder(sio)

    yield make
    for sio in made:
        try:
            # Engine.IO close without waiting for an in-flight long-poll to return (a plain disconnect() joins the
            # polling thread, which can take a whole ping interval); then stop any reconnect loop.
            sio.eio.disconnect(abort=True)
            sio.shutdown()
        except Exception:  # noqa: BLE001 - teardown must reach every client
            pass


@pytest.fixture
def chat(server):
    """A messaging+rooms server with two users, alice and bob, both members of one room."""
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    return srv, alice, bob, room


def eventually(condition, timeout: float, what: str, interval: float = 0.05):
    """Polls `condition` until it is true; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def send(sio: socketio.Client, room_id: str, content: str) -> dict:
    """`message:send` with an ack; returns the stored message the server acked with."""
    message = sio.call("message:send", {"roomId": room_id, "content": content}, timeout=CALL_TIMEOUT)
    assert isinstance(message, dict), f"ack should be the stored message, got {message!r}"
    assert message["content"] == content and message["roomId"] == room_id and message["id"]
    return message


# --- transports ---------------------------------------------------------------------------------------------


def assert_round_trip(sio: socketio.Client, room_id: str, sender_id: str):
    message = send(sio, room_id, f"hello over {sio.transport()}")
    assert message["senderId"] == sender_id


def test_polling_only(chat, client):
    srv, alice, _, room = chat
    sio, rec = client()
    sio.connect(srv.url, auth={"token": alice["token"]}, transports=["polling"], wait_timeout=CONNECT_TIMEOUT)
    assert sio.connected and rec.connects == 1
    assert sio.transport() == "polling"
    assert_round_trip(sio, room["id"], alice["id"])
    time.sleep(0.5)  # a few long-poll cycles: still polling, still connected
    assert sio.transport() == "polling" and sio.connected and not rec.disconnects


def test_websocket_only(chat, client):
    srv, alice, _, room = chat
    sio, rec = client()
    sio.connect(srv.url, auth={"token": alice["token"]}, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
    assert sio.connected and rec.connects == 1
    assert sio.transport() == "websocket"
    assert_round_trip(sio, room["id"], alice["id"])


def test_default_upgrades_polling_to_websocket(chat, client):
    srv, alice, _, room = chat
    sio, rec = client()
    sio.connect(srv.url, auth={"token": alice["token"]}, wait_timeout=CONNECT_TIMEOUT)
    eventually(lambda: sio.transport() == "websocket", 5, "the upgrade from polling to websocket")
    assert_round_trip(sio, room["id"], alice["id"])
    assert rec.connects == 1 and not rec.disconnects, "the upgrade must not look like a reconnect"


# --- authentication -----------------------------------------------------------------------------------------


def test_auth_via_auth_payload(chat, client):
    srv, alice, _, room = chat
    sio, _ = client()
    sio.connect(srv.url, auth={"token": alice["token"]}, wait_timeout=CONNECT_TIMEOUT)
    assert_round_trip(sio, room["id"], alice["id"])


def test_auth_via_authorization_header(chat, client):
    srv, alice, _, room = chat
    sio, _ = client()
    sio.connect(srv.url, headers={"Authorization": f"Bearer {alice['token']}"}, wait_timeout=CONNECT_TIMEOUT)
    assert_round_trip(sio, room["id"], alice["id"])


def _forged(token: str) -> str:
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]], ids=["polling", "websocket"])
@pytest.mark.parametrize("bad_auth", ["garbage", "forged-signature", "missing"])
def test_rejected_token(chat, client, transports, bad_auth):
    srv, alice, _, _ = chat
    # Control: the same server and transport accept a good token, so the rejection below comes from the
    # namespace CONNECT being refused and not from a transport that does not work at all.
    good, _ = client()
    good.connect(srv.url, auth={"token": alice["token"]}, transports=transports, wait_timeout=CONNECT_TIMEOUT)
    assert good.connected

    auth = {"garbage": {"token": "not-a-jwt"}, "forged-signature": {"token": _forged(alice["token"])}, "missing": None}[bad_auth]
    sio, rec = client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(srv.url, auth=auth, transports=transports, wait_timeout=CONNECT_TIMEOUT)
    assert not sio.connected and rec.connects == 0, f"auth={auth!r} must not connect"
    # A CONNECT_ERROR packet carries the server's reason ({message: ...}) to the connect_error handler.
    assert rec.connect_errors, f"auth={auth!r}: expected a connect_error"
    reason = rec.connect_errors[-1][0] if rec.connect_errors[-1] else None
    assert isinstance(reason, dict) and reason.get("message"), f"auth={auth!r}: CONNECT_ERROR payload {reason!r}"


# --- messaging and acks -------------------------------------------------------------------------------------


def test_two_clients_message_send_ack_and_fanout(chat, client):
    srv, alice, bob, room = chat
    a, a_rec = client()
    b, b_rec = client()
    a.connect(srv.url, auth={"token": alice["token"]}, wait_timeout=CONNECT_TIMEOUT)
    b.connect(srv.url, auth={"token": bob["token"]}, wait_timeout=CONNECT_TIMEOUT)

    stored = send(a, room["id"], "hi bob")
    assert stored["senderId"] == alice["id"]
    (received,) = b_rec.wait_for("message:received", lambda args: args and args[0].get("id") == stored["id"])[0]
    assert received["content"] == "hi bob" and received["senderId"] == alice["id"] and received["roomId"] == room["id"]

    # And back the other way; the sender's own connection gets only the ack, never `message:received`.
    reply = send(b, room["id"], "hi alice")
    a_rec.wait_for("message:received", lambda args: args and args[0].get("id") == reply["id"])
    time.sleep(0.5)
    assert not [args for args in a_rec.of("message:received") if args[0].get("id") == stored["id"]]
    assert not [args for args in b_rec.of("message:received") if args[0].get("id") == reply["id"]]


def test_acks_room_join_leave_and_error_event(server, client):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    a, _ = client()
    b, b_rec = client()
    a.connect(srv.url, auth={"token": alice["token"]}, wait_timeout=CONNECT_TIMEOUT)
    b.connect(srv.url, auth={"token": bob["token"]}, transports=["polling"], wait_timeout=CONNECT_TIMEOUT)

    joined = b.call("room:join", {"roomId": room["id"]}, timeout=CALL_TIMEOUT)
    assert isinstance(joined, dict) and joined["id"] == room["id"] and joined["isMember"] is True
    # Joining over the socket subscribes this connection: it now receives the room's messages.
    stored = send(a, room["id"], "welcome")
    b_rec.wait_for("message:received", lambda args: args and args[0].get("id") == stored["id"])

    left = b.call("room:leave", {"roomId": room["id"]}, timeout=CALL_TIMEOUT)
    assert isinstance(left, dict) and left["id"] == room["id"] and left["isMember"] is False

    # A failing ack'd emit: an `error` event {message, code} and no ack.
    acks = []
    b.emit("message:send", {"roomId": str(uuid.uuid4()), "content": "nowhere"}, callback=lambda *args: acks.append(args))
    (error,) = b_rec.wait_for("error")[0]
    assert isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]
    assert isinstance(error.get("code"), str) and error["code"]
    time.sleep(0.5)
    assert acks == [], f"a failed emit must not be acked: {acks!r}"
    assert b.connected, "an error event must not end the connection"


# --- binary payloads (socketio_conformance module) ----------------------------------------------------------

CONFORMANCE = {"socketio_conformance": {}}


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_binary_payloads(server, client, transports):
    srv = server(modules=CONFORMANCE)
    sio, rec = client()
    sio.connect(srv.url, transports=transports, wait_timeout=CONNECT_TIMEOUT)

    payload = {"blob": b"\x00\x01\x02\xff", "nested": {"list": [b"abc", 1, "two", {"deep": b"\xfe" * 300}]}}
    sio.emit("message", payload)
    (back,) = rec.wait_for("message-back")[0]
    assert back == payload
    assert isinstance(back["blob"], bytes) and isinstance(back["nested"]["list"][0], bytes)

    # Several arguments, binary at the top level and inside a list.
    sio.emit("message", (b"\x01", [b"\x02", {"x": b"\x03"}], "text"))
    args = rec.wait_for("message-back", lambda a: len(a) == 3)[0]
    assert args == (b"\x01", [b"\x02", {"x": b"\x03"}], "text")

    assert sio.call("message-with-ack", b"\x01\x02", timeout=CALL_TIMEOUT) == b"\x01\x02"
    assert sio.call("message-with-ack", {"a": [b"\x00", b"\xff"]}, timeout=CALL_TIMEOUT) == {"a": [b"\x00", b"\xff"]}


def test_conformance_handshake_auth_and_plain_acks(server, client):
    srv = server(modules=CONFORMANCE)
    sio, rec = client()
    auth = {"token": "abc", "n": 1}
    sio.connect(srv.url, auth=auth, wait_timeout=CONNECT_TIMEOUT)
    (echoed,) = rec.wait_for("auth")[0]
    assert echoed == auth
    assert sio.call("message-with-ack", ("a", 1, {"k": [1, 2, None]}), timeout=CALL_TIMEOUT) == ("a", 1, {"k": [1, 2, None]})
    assert sio.call("message-with-ack", "only", timeout=CALL_TIMEOUT) == "only"


# --- load: a burst to a polling client ----------------------------------------------------------------------


def test_burst_of_40_to_polling_client(chat, client):
    srv, alice, bob, room = chat
    a, _ = client()
    b, b_rec = client()
    a.connect(srv.url, auth={"token": alice["token"]}, wait_timeout=CONNECT_TIMEOUT)
    b.connect(srv.url, auth={"token": bob["token"]}, transports=["polling"], wait_timeout=CONNECT_TIMEOUT)

    acked: list[dict] = []
    acked_lock = threading.Condition()

    def on_ack(message=None, *_):
        with acked_lock:
            acked.append(message)
            acked_lock.notify_all()

    for i in range(40):
        a.emit("message:send", {"roomId": room["id"], "content": f"burst {i}"}, callback=on_ack)

    with acked_lock:
        assert acked_lock.wait_for(lambda: len(acked) == 40, timeout=20), f"only {len(acked)}/40 acks"
    assert all(isinstance(m, dict) and m.get("id") for m in acked), acked
    ids = {m["id"] for m in acked}
    assert len(ids) == 40

    received = b_rec.wait_for("message:received", lambda args: args and args[0].get("id") in ids, count=40, timeout=20)
    assert {args[0]["id"] for args in received} == ids
    assert sorted(args[0]["content"] for args in received) == sorted(f"burst {i}" for i in range(40))
    assert b.connected and b.transport() == "polling" and not b_rec.disconnects


# --- reconnection -------------------------------------------------------------------------------------------


def test_reconnects_after_server_restart(server, client):
    srv = server(server={"shutdown_grace_seconds": 2})
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    port = srv.port

    sio, rec = client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=1, randomization_factor=0)
    # A callable auth is evaluated on every (re)connection attempt.
    sio.connect(srv.url, auth=lambda: {"token": alice["token"]}, wait_timeout=CONNECT_TIMEOUT)
    assert rec.connects == 1
    send(sio, room["id"], "before restart")

    srv.restart()  # same port, same database: the access token stays valid
    assert srv.port == port
    rec.wait_until(lambda: rec.disconnects, 15, "the disconnect handler")
    rec.wait_until(lambda: rec.connects >= 2, 15, "the connect handler to fire again")
    eventually(lambda: sio.connected, 5, "the client to report connected")
    send(sio, room["id"], "after restart")
