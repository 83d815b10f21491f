"""The WebSocket layer itself (RFC 6455), as both `/ws` and Socket.IO's WebSocket use it: fragments, control frames,
the close handshake, UTF-8, size limits, server pings and read pressure. A raw socket client, so every byte is ours."""

import base64
import json
import os
import socket
import struct
import threading
import time

import pytest

from conftest import create_room, join_room, register_and_login, send_message


class RawWebSocket:
    def __init__(self, host: str, port: int, path: str, receive_buffer: int | None = None):
        if receive_buffer:
            # Set before connecting, so the TCP window starts (and stays) small.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            self.sock.settimeout(10)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            assert chunk, "connection closed during the handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        self.buffer = b""

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        mask = os.urandom(4)
        first = (0x80 if fin else 0) | opcode
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text: str) -> None:
        self.send_frame(0x1, text.encode())

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        assert not second & 0x80, "server frames are never masked"
        return first & 0x0F, self._read(length)

    def read_until(self, opcode: int) -> bytes:
        while True:
            got, payload = self.read_frame()
            if got == opcode:
                return payload

    def read_json(self) -> dict:
        return json.loads(self.read_until(0x1))

    def is_closed(self, timeout: float = 5) -> bool:
        """True once the server has closed the TCP connection (frames still in flight are skipped)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (ConnectionResetError, socket.timeout):
            return False


def close_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0]


@pytest.fixture
def ws_server(server):
    instance = server(realtime={"max_frame_bytes": 4096, "ping_interval_seconds": 1})
    user = register_and_login(instance.url, "wire")
    return instance, user


def open_ws(instance, user) -> RawWebSocket:
    return RawWebSocket(instance.host, instance.port, f"/ws?token={user['token']}")


def test_fragmented_message_is_reassembled(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    frame = json.dumps({"event": "no:such:event", "ack": 7}).encode()
    ws.send_frame(0x1, frame[:5], fin=False)
    ws.send_frame(0x9, b"between")  # a control frame may come between fragments
    ws.send_frame(0x0, frame[5:12], fin=False)
    ws.send_frame(0x0, frame[12:], fin=True)
    assert ws.read_until(0xA) == b"between"
    reply = ws.read_json()
    assert reply["event"] == "error" and reply["ack"] == 7, reply
    assert "no:such:event" in reply["data"]["message"]


def test_a_continuation_without_a_start_is_a_protocol_error(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    ws.send_frame(0x0, b"orphan", fin=True)
    assert close_code(ws.read_until(0x8)) == 1002
    assert ws.is_closed()


def test_ping_is_answered_with_the_same_payload(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    ws.send_frame(0x9, b"hello")
    assert ws.read_until(0xA) == b"hello"


def test_client_close_is_echoed_then_the_socket_closes(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    ws.send_frame(0x8, struct.pack("!H", 1000) + b"bye")
    assert close_code(ws.read_until(0x8)) == 1000
    assert ws.is_closed()


def test_invalid_utf8_text_closes_with_1007(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    ws.send_frame(0x1, b'{"event":"\xff\xfe"}')
    assert close_code(ws.read_until(0x8)) == 1007
    ws.send_frame(0x8, struct.pack("!H", 1007))
    assert ws.is_closed()


def test_oversized_message_closes_with_1009(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    ws.send_text(json.dumps({"event": "x", "data": {"pad": "a" * 5000}}))
    assert close_code(ws.read_until(0x8)) == 1009
    assert ws.is_closed()
    # Fragments count together.
    ws = open_ws(instance, user)
    for _ in range(3):
        ws.send_frame(0x1 if _ == 0 else 0x0, b"a" * 2000, fin=False)
    assert close_code(ws.read_until(0x8)) == 1009


def test_server_pings_and_drops_a_client_that_never_answers(ws_server):
    instance, user = ws_server
    silent = open_ws(instance, user)
    lively = open_ws(instance, user)
    started = time.monotonic()
    # The silent client reads pings but never answers; the lively one answers each.
    pings = 0
    lively.sock.settimeout(0.2)
    while time.monotonic() - started < 3.5:
        try:
            opcode, payload = lively.read_frame()
            if opcode == 0x9:
                pings += 1
                lively.send_frame(0xA, payload)
        except socket.timeout:
            pass
    assert pings >= 2
    assert close_code(silent.read_until(0x8)) == 1001
    assert silent.is_closed()
    # The lively one is still served.
    lively.sock.settimeout(10)
    lively.send_text(json.dumps({"event": "no:such:event", "ack": 1}))
    while True:
        opcode, payload = lively.read_frame()
        if opcode == 0x1:
            assert json.loads(payload)["ack"] == 1
            break


def test_a_burst_is_handled_in_order(ws_server):
    """More frames than the inbound limit at once: reads pause and resume, nothing is dropped or reordered."""
    instance, user = ws_server
    ws = open_ws(instance, user)
    count = 500
    ws.sock.sendall(b"".join(_masked_text(json.dumps({"event": "no:such:event", "ack": i})) for i in range(count)))
    acks = []
    while len(acks) < count:
        opcode, payload = ws.read_frame()
        if opcode == 0x9:
            ws.send_frame(0xA, payload)
        elif opcode == 0x1:
            acks.append(json.loads(payload)["ack"])
    assert acks == list(range(count))


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_socketio_websocket_uses_the_same_layer(server):
    """Engine.IO over WebSocket: the open packet first, an oversized frame refused, the close answered."""
    instance = server(realtime={"socketio": {"max_payload_bytes": 1024}})
    ws = RawWebSocket(instance.host, instance.port, "/socket.io/?EIO=4&transport=websocket")
    opcode, payload = ws.read_frame()
    assert opcode == 0x1 and payload.startswith(b'0{"sid":')
    ws.send_frame(0x9, b"p")
    assert ws.read_until(0xA) == b"p"
    ws.send_text("4" + "x" * 2000)
    assert close_code(ws.read_until(0x8)) == 1009
    assert ws.is_closed()


def _connections(instance, transport: str) -> float:
    import urllib.request
    text = urllib.request.urlopen(f"{instance.url}/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith(f'parley_realtime_connections{{transport="{transport}"}}'):
            return float(line.split()[-1])
    return 0.0


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_client_that_half_closes_is_gone(ws_server):
    """A client that shuts its side (FIN, no close frame) is disconnected at once, not at the next ping."""
    instance, user = ws_server
    ws = open_ws(instance, user)
    sio = RawWebSocket(instance.host, instance.port, "/socket.io/?EIO=4&transport=websocket")
    sio.read_frame()  # open packet
    sio.send_text('40{"token":"%s"}' % user["token"])
    assert sio.read_until(0x1).startswith(b"40")
    assert _wait_for(lambda: _connections(instance, "ws") == 1 and _connections(instance, "socketio") == 1)
    for client in (ws, sio):
        client.sock.shutdown(socket.SHUT_WR)
        assert client.is_closed()
    assert _wait_for(lambda: _connections(instance, "ws") == 0 and _connections(instance, "socketio") == 0)


def test_a_client_that_stops_reading_is_disconnected_and_the_room_goes_on(server):
    """A receiver that never reads fills its socket, then the server's bounded queue: it is dropped, while the
    other members keep being served."""
    instance = server(realtime={"outbound_queue_limit": 16})
    sender, stalled, reader = (register_and_login(instance.url, name) for name in ("sender", "stalled", "reader"))
    room = create_room(instance.url, sender["token"])
    for user in (stalled, reader):
        join_room(instance.url, user["token"], room["id"])
    slow = RawWebSocket(instance.host, instance.port, f"/ws?token={stalled['token']}", receive_buffer=4096)
    live = open_ws(instance, reader)
    assert _wait_for(lambda: _connections(instance, "ws") == 2)
    # More than the kernel's socket buffers hold (tcp_wmem's maximum is 4 MiB): 1,200 messages of 5,000 characters,
    # sent over REST while the live member reads in a thread.
    count, content = 1200, "x" * 5000
    received = []

    def drain():
        live.sock.settimeout(60)
        while len(received) < count:
            frame = json.loads(live.read_until(0x1))
            if frame["event"] == "message:received":
                received.append(frame["data"]["id"])

    reader_thread = threading.Thread(target=drain)
    reader_thread.start()
    sent = [send_message(instance.url, sender["token"], room["id"], content)["id"] for _ in range(count)]
    reader_thread.join(90)
    assert received == sent
    # The stalled one was dropped; the live one is still connected.
    assert _wait_for(lambda: _connections(instance, "ws") == 1)
    assert slow.is_closed(timeout=10)


def test_batched_flushes_reach_every_connection(server):
    """With a long write batch, the busy connections of a loop are flushed by one shared timer: every member
    still gets every message, in order, and nothing waits for a later frame to push it out."""
    instance = server(realtime={"write_batch_ms": 100})
    sender = register_and_login(instance.url, "batch-sender")
    room = create_room(instance.url, sender["token"])
    members = [register_and_login(instance.url, f"batch-{index}") for index in range(12)]
    for member in members:
        join_room(instance.url, member["token"], room["id"])
    sockets = [open_ws(instance, member) for member in members]
    assert _wait_for(lambda: _connections(instance, "ws") == len(members))
    sent = [send_message(instance.url, sender["token"], room["id"], f"batch {index}")["id"] for index in range(40)]
    for ws in sockets:
        ws.sock.settimeout(5)
        received = []
        while len(received) < len(sent):
            frame = json.loads(ws.read_until(0x1))
            if frame["event"] == "message:received":
                received.append(frame["data"]["id"])
        assert received == sent


def _send_custom_frame(ws: RawWebSocket, first_byte: int, payload: bytes, masked: bool = True) -> None:
    """A frame with the first byte as given (FIN, RSV bits, opcode) and the payload masked or not."""
    assert len(payload) < 126
    if masked:
        mask = os.urandom(4)
        body = mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        ws.sock.sendall(struct.pack("!BB", first_byte, 0x80 | len(payload)) + body)
    else:
        ws.sock.sendall(struct.pack("!BB", first_byte, len(payload)) + payload)


def test_an_unmasked_client_frame_fails_the_connection_with_1002(ws_server):
    instance, user = ws_server
    ws = open_ws(instance, user)
    _send_custom_frame(ws, 0x81, json.dumps({"event": "no:such:event", "ack": 1}).encode(), masked=False)
    assert close_code(ws.read_until(0x8)) == 1002
    assert ws.is_closed()


def test_reserved_bits_fail_the_connection_with_1002(ws_server):
    instance, user = ws_server
    for first_byte in (0x81 | 0x40, 0x81 | 0x20, 0x81 | 0x10):  # RSV1, RSV2, RSV3 on a text frame
        ws = open_ws(instance, user)
        _send_custom_frame(ws, first_byte, b'{"event":"no:such:event"}')
        assert close_code(ws.read_until(0x8)) == 1002, hex(first_byte)
        assert ws.is_closed()


def test_invalid_close_codes_are_a_protocol_error_not_an_echo(ws_server):
    instance, user = ws_server
    for code in (999, 1004, 1005, 1006, 1015, 2999, 5000):
        ws = open_ws(instance, user)
        ws.send_frame(0x8, struct.pack("!H", code))
        assert close_code(ws.read_until(0x8)) == 1002, code
        assert ws.is_closed()
    # A one-byte close body is malformed too; a valid application code is echoed.
    ws = open_ws(instance, user)
    ws.send_frame(0x8, b"\x03")
    assert close_code(ws.read_until(0x8)) == 1002
    ws = open_ws(instance, user)
    ws.send_frame(0x8, struct.pack("!H", 3000) + "bye".encode())
    assert close_code(ws.read_until(0x8)) == 3000
    assert ws.is_closed()
    # A close reason that is not UTF-8: 1007.
    ws = open_ws(instance, user)
    ws.send_frame(0x8, struct.pack("!H", 1000) + b"\xff\xfe")
    assert close_code(ws.read_until(0x8)) == 1007


@pytest.mark.parametrize("key", ["abc", "not base64 at all!!", base64.b64encode(b"fifteen bytes!!").decode()])
def test_an_invalid_websocket_key_is_refused_with_400(ws_server, key):
    instance, user = ws_server
    sock = socket.create_connection((instance.host, instance.port), timeout=10)
    sock.sendall(
        f"GET /ws?token={user['token']} HTTP/1.1\r\nHost: {instance.host}:{instance.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, "closed without an answer"
        response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(4096)
    error = json.loads(body)
    assert error["code"] == "VALIDATION_ERROR" and error["errors"][0]["field"] == "Sec-WebSocket-Key"
    sock.close()


def test_ws_receives_what_is_sent_right_after_its_101(server):
    """`/ws` is reachable from the moment its client reads the 101: a room message sent right then arrives
    (the connection used to be admitted, its channels looked up, only after the 101, and missed it)."""
    import json as _json

    from conftest import _call, create_room, join_room, register_and_login

    srv = server(modules={"messaging": {}, "rooms": {}})
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    missed = []
    for attempt in range(20):
        ws = RawWebSocket("127.0.0.1", srv.port, f"/ws?token={bob['token']}")
        sent = _call("POST", f"{srv.api}/messages", alice["token"], {"roomId": room["id"], "content": f"right away {attempt}"},
                     expect=(201,))["data"]
        ws.sock.settimeout(5)
        try:
            while True:
                opcode, payload = ws.read_frame()
                frame = _json.loads(payload)
                if frame.get("event") == "message:received" and frame["data"]["id"] == sent["id"]:
                    break
        except (TimeoutError, OSError):
            missed.append(attempt)
        ws.sock.close()
    assert missed == []
