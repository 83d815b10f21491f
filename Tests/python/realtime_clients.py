"""Two realtime clients with one interface, for tests that must hold on both transports: the real python-socketio
client and a native `/ws` client (websocket-client). Each records every server event it receives; waits are
bounded."""

from __future__ import annotations

import itertools
import json
import threading
import time

import socketio
import websocket

WAIT = 5.0


class _Recorder:
    def __init__(self):
        self.events: list[tuple[str, object]] = []
        self._cond = threading.Condition()

    def _record(self, event: str, data) -> None:
        with self._cond:
            self.events.append((event, data))
            self._cond.notify_all()

    def of(self, event: str, predicate=lambda data: True) -> list:
        with self._cond:
            return [data for name, data in self.events if name == event and predicate(data)]

    def names(self) -> list[str]:
        with self._cond:
            return [name for name, _ in self.events]

    def wait_for(self, event: str, predicate=lambda data: True, timeout: float = WAIT):
        """The first `event` whose data satisfies `predicate`; AssertionError after `timeout`."""
        deadline = time.time() + timeout
        with self._cond:
            while True:
                for name, data in self.events:
                    if name == event and predicate(data):
                        return data
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise AssertionError(f"{self.label}: no {event!r} within {timeout}s; got {self.names()}")
                self._cond.wait(remaining)

    def count(self, event: str, predicate=lambda data: True) -> int:
        return len([d for d in self.of(event) if predicate(d)])


class SioClient(_Recorder):
    label = "socket.io"

    def __init__(self, url: str, token: str):
        super().__init__()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda event, *args: self._record(event, args[0] if args else None))
        self.sio.connect(url, auth={"token": token}, wait_timeout=5)

    def call(self, event: str, data: dict, timeout: float = WAIT):
        """Emits with an ack and returns ("ack", data), or ("error", data) when the server answered with `error`."""
        errors_before = len(self.of("error"))
        result: dict = {}
        done = threading.Event()

        def on_ack(*args):
            result["data"] = args[0] if args else None
            done.set()

        self.sio.emit(event, data, callback=on_ack)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if done.wait(0.05):
                return "ack", result.get("data")
            errors = self.of("error")
            if len(errors) > errors_before:
                return "error", errors[-1]
        raise AssertionError(f"socket.io: no reply to {event!r}")

    def close(self) -> None:
        self.sio.disconnect()


class WsClient(_Recorder):
    label = "/ws"

    def __init__(self, port: int, token: str):
        super().__init__()
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws?token={token}", timeout=5)
        self._acks: dict[int, tuple[str, object]] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                frame = json.loads(self.ws.recv())
            except Exception:
                return
            if "ack" in frame:
                with self._cond:
                    self._acks[frame["ack"]] = (frame["event"], frame.get("data"))
                    self._cond.notify_all()
            else:
                self._record(frame["event"], frame.get("data"))

    def call(self, event: str, data: dict, timeout: float = WAIT):
        ack = next(self._ids)
        self.ws.send(json.dumps({"event": event, "data": data, "ack": ack}))
        deadline = time.time() + timeout
        with self._cond:
            while ack not in self._acks:
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise AssertionError(f"/ws: no reply to {event!r}")
                self._cond.wait(remaining)
            return self._acks.pop(ack)

    def close(self) -> None:
        self._closed = True
        try:
            self.ws.close()
        except Exception:
            pass


def connect_both(srv, token: str) -> tuple[SioClient, WsClient]:
    return SioClient(srv.url, token), WsClient(srv.port, token)


class FrameWsClient(_Recorder):
    """A plain WebSocket client of a profile that frames events as `{"type": ..., "data": ...}` (document 004).
    Records each frame under its `type`, with its `data` (an `error` frame is recorded whole)."""

    label = "profile /ws"

    def __init__(self, url: str):
        super().__init__()
        self.ws = websocket.create_connection(url, timeout=5)
        self._closed = False
        self.closed_by_server = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                text = self.ws.recv()
            except Exception:
                self.closed_by_server.set()
                return
            if not text:
                self.closed_by_server.set()
                return
            frame = json.loads(text)
            self._record(frame.get("type"), frame if frame.get("type") == "error" else frame.get("data"))

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def close(self) -> None:
        self._closed = True
        try:
            self.ws.close()
        except Exception:
            pass
