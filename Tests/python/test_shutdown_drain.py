"""A clean drain on SIGTERM (issue 14, item 5): from the first moment readiness answers 503 and new sends are refused;
every send received before that is committed, acknowledged and fanned out before the going-away close. Tested with
clients that pipeline sends (they do not wait for acks) on `/ws` and on Socket.IO over WebSocket, so that sends are
in flight when the signal lands: no message may be stored without its ack having reached its sender, every send the
server read before the drain began is acknowledged (the acks are the first k sends, none refused), and what arrived
after it was not taken."""

from __future__ import annotations

import json
import signal
import threading
import time

import requests
import socketio
import websocket

from conftest import _call, create_room, join_room, register_and_login
from realtime_clients import WsClient


class PipeliningWs:
    """Sends `message:send` frames back to back on `/ws`; records acks, errors and the close code."""

    def __init__(self, port: int, token: str, room_id: str):
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws?token={token}", timeout=30)
        self.room_id = room_id
        self.acked: dict[int, str] = {}
        self.refused: dict[int, str] = {}
        self.sent = 0
        self.close_code: int | None = None
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                opcode, frame = self.ws.recv_data_frame(True)
            except Exception:
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else 1005
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            message = json.loads(frame.data)
            if "ack" not in message:
                continue
            with self.lock:
                if message["event"] == "ack":
                    self.acked[message["ack"]] = message["data"]["id"]
                else:
                    self.refused[message["ack"]] = message["data"]["code"]

    def send_until(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.close_code is None:
            self.sent += 1
            frame = {"event": "message:send", "ack": self.sent,
                     "data": {"roomId": self.room_id, "content": f"ws {self.sent}", "clientMessageId": f"ws-{self.sent}"}}
            try:
                self.ws.send(json.dumps(frame))
            except Exception:
                self.sent -= 1
                return
            time.sleep(0.001)


class PipeliningSio:
    """Emits `message:send` back to back over Socket.IO (WebSocket transport); records acks and `error` codes."""

    def __init__(self, url: str, token: str, room_id: str):
        self.client = socketio.Client(reconnection=False)
        self.room_id = room_id
        self.acked: dict[int, str] = {}
        self.refused: list[str] = []
        self.sent = 0
        self.lock = threading.Lock()
        self.client.on("error", lambda data: self.refused.append(data.get("code")) if isinstance(data, dict) else None)
        self.client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)

    def send_until(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.client.connected:
            self.sent += 1
            index = self.sent

            def on_ack(data=None, index=index):
                if isinstance(data, dict) and data.get("id"):
                    with self.lock:
                        self.acked[index] = data["id"]

            try:
                self.client.emit("message:send", {"roomId": self.room_id, "content": f"sio {index}",
                                                  "clientMessageId": f"sio-{index}"}, callback=on_ack)
            except Exception:
                return
            time.sleep(0.001)

    def disconnect(self) -> None:
        try:
            self.client.disconnect()
        except Exception:
            pass


def stored_messages(srv, token: str, room_id: str) -> list[dict]:
    stored, before = [], None
    while True:
        query = f"?limit=100&before={before}" if before else "?limit=100"
        page = _call("GET", f"{srv.api}/messages/room/{room_id}{query}", token=token)
        stored += page["data"]
        before = page["pagination"].get("nextCursor")
        if not before:
            return stored


def test_sigterm_during_a_burst_acknowledges_every_send_received_before_the_close(server):
    srv = server(server={"shutdown_grace_seconds": 8})
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])

    ws = PipeliningWs(srv.port, alice["token"], room["id"])
    sio = PipeliningSio(srv.url, bob["token"], room["id"])

    # A socket that never reads: the server waits (bounded) for its close handshake, which keeps the drain
    # observable from outside for a few seconds.
    silent = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/ws?token={alice['token']}", timeout=30)

    stop = threading.Event()
    senders = [threading.Thread(target=ws.send_until, args=(stop,)), threading.Thread(target=sio.send_until, args=(stop,))]
    for thread in senders:
        thread.start()
    deadline = time.time() + 15
    while (len(ws.acked) < 100 or len(sio.acked) < 100) and time.time() < deadline:
        time.sleep(0.01)
    assert len(ws.acked) >= 100 and len(sio.acked) >= 100, "the burst never got going"

    srv.process.send_signal(signal.SIGTERM)
    # Readiness turns 503 while the server drains (it is still serving HTTP then).
    readiness = []
    while srv.process.poll() is None and time.time() < deadline + 30:
        try:
            readiness.append(requests.get(f"{srv.api}/health/ready", timeout=2).status_code)
        except requests.RequestException:
            break
        if readiness[-1] == 503:
            break
        time.sleep(0.01)
    # While it drains, REST writes are refused too (reads go on).
    refused_write = None
    if readiness and readiness[-1] == 503:
        try:
            refused_write = requests.post(f"{srv.api}/messages", json={"roomId": room["id"], "content": "late"},
                                          headers={"Authorization": f"Bearer {alice['token']}"}, timeout=5)
        except requests.RequestException:
            pass
    exit_code = srv.process.wait(timeout=30)
    stop.set()
    for thread in senders:
        thread.join(timeout=10)
    ws.reader.join(timeout=10)
    silent.close()
    sio.disconnect()
    assert exit_code == 0, srv.log()
    assert readiness and readiness[-1] == 503, readiness
    assert refused_write is not None and refused_write.status_code == 503, refused_write
    assert refused_write.json()["code"] == "SERVICE_UNAVAILABLE"
    assert ws.close_code == 1001, ws.close_code
    # What the server read before the drain began it handled; what came after it did not take (no answer at all,
    # the client retries with the same clientMessageId): so nothing is refused, and the acks are the first k sends.
    assert not ws.refused and not sio.refused, (ws.refused, sio.refused)
    assert set(ws.acked) == set(range(1, len(ws.acked) + 1)), sorted(set(range(1, max(ws.acked) + 1)) - set(ws.acked))[:10]
    assert set(sio.acked) == set(range(1, len(sio.acked) + 1)), sorted(set(range(1, max(sio.acked) + 1)) - set(sio.acked))[:10]

    srv.start()
    stored = stored_messages(srv, alice["token"], room["id"])
    by_content = {m["content"]: m["id"] for m in stored}
    ws_stored = {content: id for content, id in by_content.items() if content.startswith("ws ")}
    sio_stored = {content: id for content, id in by_content.items() if content.startswith("sio ")}
    # Nothing committed without its ack having reached the sender (the bug: acks lost at shutdown) ...
    unacked_ws = set(ws_stored.values()) - set(ws.acked.values())
    unacked_sio = set(sio_stored.values()) - set(sio.acked.values())
    assert not unacked_ws and not unacked_sio, (f"{len(unacked_ws)} /ws and {len(unacked_sio)} Socket.IO messages stored "
                                                f"but never acknowledged (of {len(ws_stored)} and {len(sio_stored)})")
    # ... and nothing acknowledged that was not stored.
    assert set(ws.acked.values()) <= set(ws_stored.values()) and set(sio.acked.values()) <= set(sio_stored.values())

    # The client retries every send it made, answered or not, with the same ids: nothing is stored twice.
    retry = WsClient(srv.port, alice["token"])
    try:
        for index in range(1, ws.sent + 1):
            kind, ack = retry.call("message:send", {"roomId": room["id"], "content": f"ws {index}", "clientMessageId": f"ws-{index}"},
                                   timeout=10)
            assert kind == "ack", ack
            if index in ws.acked:
                assert ack["id"] == ws.acked[index], (index, ack)
    finally:
        retry.close()
    contents = [m["content"] for m in stored_messages(srv, alice["token"], room["id"]) if m["content"].startswith("ws ")]
    assert len(contents) == len(set(contents)) == ws.sent, (len(contents), len(set(contents)), ws.sent)



def test_long_polling_client_collects_the_acks_of_what_was_drained(server):
    """Over long-polling, acks reach the client only through its GETs. A client that posted sends and had no GET
    parked when the server closed its session still gets their acks on its next GET, and the close on the one after
    (clients handle messages asynchronously and drop what is left once they see the close). Raw Engine.IO requests,
    so no GET is parked unless the test sends one."""
    srv = server(server={"shutdown_grace_seconds": 8})
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    http = requests.Session()
    base = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(http.get(base, timeout=10).text[1:])["sid"]
    url = f"{base}&sid={sid}"
    assert http.post(url, data="40" + json.dumps({"token": alice["token"]}), timeout=10).text == "ok"
    assert http.get(url, timeout=10).text.startswith("40")  # the CONNECT reply

    sends = [f"42{index}" + json.dumps(["message:send", {"roomId": room["id"], "content": f"poll {index}", "clientMessageId": f"poll-{index}"}])
             for index in range(1, 11)]
    assert http.post(url, data="\x1e".join(sends), timeout=10).text == "ok"  # handled (and committed) before "ok"
    srv.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the server drains and closes the session meanwhile; no GET is parked

    packets = http.get(url, timeout=10).text.split("\x1e")
    acks = {int(p[2:p.index("[")]): json.loads(p[p.index("["):])[0] for p in packets if p.startswith("43")}
    assert sorted(acks) == list(range(1, 11)), packets
    assert "1" not in packets, packets  # the close comes on its own poll
    assert http.get(url, timeout=10).text == "1"
    assert srv.process.wait(timeout=30) == 0, srv.log()

    srv.start()
    stored = {m["content"]: m["id"] for m in stored_messages(srv, alice["token"], room["id"])}
    assert {acks[i]["id"] for i in acks} == set(stored.values()) and len(stored) == 10
