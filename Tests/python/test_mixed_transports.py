"""A client on Socket.IO and a client on the native `/ws` in the same room see each other's messages: both
transports dispatch into the same module handlers and receive the same broadcasts."""

from __future__ import annotations

import json
import threading
import time

import socketio
import websocket

from conftest import create_room, join_room, register_and_login


def test_socketio_and_native_websocket_clients_share_a_room(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])

    received: list = []
    arrived = threading.Event()
    sio = socketio.Client(reconnection=False)

    @sio.on("message:received")
    def on_message(data):
        received.append(data)
        arrived.set()

    bob_online = threading.Event()

    @sio.on("user:online")
    def on_online(data):
        if data.get("userId") == bob["id"]:
            bob_online.set()

    sio.connect(srv.url, auth={"token": alice["token"]}, wait_timeout=5)
    ws = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/ws?token={bob['token']}", timeout=5)
    # `/ws` answers 101 before the connection has joined its channels; bob coming online (announced once it has)
    # is the signal. Without it a busy machine could send before bob listens (seen once in ten under load).
    assert bob_online.wait(5), "bob's /ws connection never came online"
    try:
        # Socket.IO → /ws
        stored = sio.call("message:send", {"roomId": room["id"], "content": "from socket.io"}, timeout=5)
        deadline = time.time() + 5
        frame = None
        while time.time() < deadline:
            candidate = json.loads(ws.recv())
            if candidate.get("event") == "message:received":
                frame = candidate
                break
        assert frame is not None, "the /ws client never got the Socket.IO client's message"
        assert frame["data"]["id"] == stored["id"] and frame["data"]["content"] == "from socket.io"

        # /ws → Socket.IO, with the ack on the native socket
        ws.send(json.dumps({"event": "message:send", "data": {"roomId": room["id"], "content": "from /ws"}, "ack": 7}))
        ack = None
        while time.time() < deadline + 5:
            candidate = json.loads(ws.recv())
            if candidate.get("ack") == 7:
                ack = candidate
                break
        assert ack is not None and ack["event"] == "ack" and ack["data"]["content"] == "from /ws"
        assert arrived.wait(5), "the Socket.IO client never got the /ws client's message"
        assert received[-1]["id"] == ack["data"]["id"] and received[-1]["senderId"] == bob["id"]
    finally:
        ws.close()
        sio.disconnect()
