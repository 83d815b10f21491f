"""Orderings the official Engine.IO / Socket.IO suites rely on, which a multi-threaded server must make true by
design rather than by luck (the re-implemented suites in test_engineio_conformance.py and
test_socketio_conformance.py wait 50 ms at the first point; these tests do not):

* a polling client's close that overtakes its own GET still answers that GET with a noop (the reference
  server keeps the polling transport until the next GET);
* of two GETs that arrive together, one is the duplicate: it gets 400 and the other `1` (close), whichever
  the server looked at first;
* the Socket.IO CONNECT reply leaves in its own write, ahead of what the namespace emits on connect (the
  official v5 suite, under `ws` >= 8.17, starts listening for that emit only once it has seen the reply)."""

from __future__ import annotations

from conformance_support import *  # noqa: F401,F403 (fixtures and helpers)
from test_websocket_wire import RawWebSocket

PATH = "/engine.io/"


def test_a_close_that_overtakes_the_poll_still_answers_it(target):
    sid = init_long_polling_session(target)
    query = f"EIO=4&transport=polling&sid={sid}"
    assert http_post(target, query, "1").status_code == 200  # no GET is parked
    owed = http_get(target, query)
    assert (owed.status_code, owed.text) == (200, "6")
    assert http_get(target, query).status_code == 400  # only that one GET
    assert http_post(target, query, "4x").status_code == 400


def test_two_polls_at_once_close_the_session_whichever_came_first(target):
    # Each pair sent at the same moment from two threads; the order they are handled in varies between pairs.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(40):
            sid = init_long_polling_session(target)
            query = f"EIO=4&transport=polling&sid={sid}"
            responses = list(pool.map(lambda _: http_get(target, query), range(2)))
            outcomes = sorted((r.status_code, r.text if r.status_code == 200 else "") for r in responses)
            assert outcomes == [(200, "1"), (400, "")], outcomes
            assert http_get(target, query).status_code == 400


def test_the_connect_reply_is_written_alone(server):
    # A long write batch: without its own flush the reply would wait for, and share a write with, the
    # `auth` event the conformance namespace emits on connect.
    instance = server(modules=PARLEY_MODULES, realtime={**PARLEY_REALTIME, "write_batch_ms": 300})
    ws = RawWebSocket(instance.host, instance.port, "/socket.io/?EIO=4&transport=websocket")
    opcode, payload = ws.read_frame()
    assert opcode == 0x1 and payload.startswith(b"0{")
    ws.send_text("40")
    opcode, payload = ws.read_frame()
    assert opcode == 0x1 and payload.startswith(b'40{"sid":'), payload
    # Nothing else came with it: the socket holds no more bytes yet.
    ws.sock.setblocking(False)
    try:
        extra = ws.sock.recv(65536)
    except BlockingIOError:
        extra = b""
    ws.sock.setblocking(True)
    ws.sock.settimeout(5)
    assert ws.buffer + extra == b"", ws.buffer + extra
    opcode, payload = ws.read_frame()
    assert (opcode, payload) == (0x1, b'42["auth",{}]')


def test_the_connect_reply_comes_first_when_a_room_connects_at_once(server):
    """Twenty members of one room connect together, five times: each one's first packet after the open is its
    CONNECT reply, never another member's `user:online` (a broadcast written on the event loop used to overtake
    a reply handed over from the handshake's task)."""
    import threading

    from conftest import create_room, join_room, register_and_login

    srv = server(modules={"messaging": {}, "rooms": {}})
    users = [register_and_login(srv.url, f"member{i}") for i in range(20)]
    room = create_room(srv.url, users[0]["token"])
    for user in users[1:]:
        join_room(srv.url, user["token"], room["id"])
    first_packets: list[bytes] = []
    lock = threading.Lock()

    for _ in range(5):
        sockets = [RawWebSocket(srv.host, srv.port, "/socket.io/?EIO=4&transport=websocket") for _ in users]
        for ws in sockets:
            assert ws.read_frame()[1].startswith(b"0{")
        barrier = threading.Barrier(len(users))

        def connect(ws, token):
            barrier.wait()
            ws.send_text('40{"token":"%s"}' % token)
            packet = ws.read_frame()[1]
            with lock:
                first_packets.append(packet)

        threads = [threading.Thread(target=connect, args=(ws, user["token"])) for ws, user in zip(sockets, users)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        for ws in sockets:
            ws.sock.close()
    assert len(first_packets) == 100
    assert [p[:60] for p in first_packets if not p.startswith(b'40{"sid":')] == []


def test_no_connect_within_the_connect_timeout_closes_and_a_connect_keeps_it(target):
    """The Socket.IO connect timeout (1 s in the suites' manifest) runs on an event-loop timer: a session that
    never sends CONNECT is closed after it; one that does is not."""
    sio = Target(target.http, "/socket.io/")
    try:
        silent = sio.open_ws("EIO=4&transport=websocket", timeout=10)
        assert silent.recv().startswith("0{")
        connected = sio.open_ws("EIO=4&transport=websocket", timeout=10)
        assert connected.recv().startswith("0{")
        connected.send("40")
        assert connected.recv().startswith("40{")
        # Both watched at once, the connected one's pings answered (the suites' heartbeat is 300 ms / 200 ms): the
        # silent one is closed by the server after the timeout (generous slack for a loaded machine); past that,
        # the connected one stays open and keeps pinging.
        silent_closed_at = None
        pings_after_timeout = 0
        started = time.monotonic()
        while time.monotonic() - started < 12:
            for ws in (silent, connected):
                ws.settimeout(0.05)
                try:
                    frame = ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                except websocket.WebSocketConnectionClosedException:
                    frame = ""
                if ws is connected:
                    assert frame not in ("", None), "the server closed a connected session"
                    if frame == "2":
                        connected.send("3")
                        pings_after_timeout += silent_closed_at is not None
                elif frame in ("", None) and silent_closed_at is None:
                    silent_closed_at = time.monotonic()
            if silent_closed_at is not None and time.monotonic() - silent_closed_at > 1.5:
                break
        assert silent_closed_at is not None, "a session without CONNECT was not closed"
        assert pings_after_timeout >= 2
    finally:
        sio.close()
