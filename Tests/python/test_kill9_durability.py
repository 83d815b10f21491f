"""kill -9 mid-burst (issue 14): clients pipeline sends on `/ws` and on Socket.IO over WebSocket; the server is
killed with SIGKILL while sends and acks are in flight, started again on the same data (the same SQLite file, or on
PostgreSQL the same schema), and every id it acknowledged must be in the room's history. On SQLite the database must
also pass `PRAGMA integrity_check`, and the file must be in WAL mode (read back from the file while the server has
it open). A client that retries every send with its `clientMessageId` after the restart creates no duplicate."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path


from conftest import create_room, join_room, register_and_login, storage_driver
from realtime_clients import WsClient
from test_shutdown_drain import PipeliningSio, PipeliningWs, stored_messages


def sqlite_file(srv) -> Path:
    return Path(srv.manifest["storage"]["path"])


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def test_sqlite_file_is_in_wal_mode_while_the_server_runs(server):
    if storage_driver() != "sqlite":
        return  # the setting belongs to the SQLite file; PostgreSQL's durability is its own server's configuration
    srv = server()
    alice = register_and_login(srv.url, "alice")
    create_room(srv.url, alice["token"])
    path = sqlite_file(srv)
    connection = read_only(path)
    try:
        # journal_mode is kept in the file itself: this reads what the server set, not a per-connection default.
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert Path(f"{path}-wal").exists()
    finally:
        connection.close()


def test_kill_9_mid_burst_loses_no_acknowledged_message(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])

    ws = PipeliningWs(srv.port, alice["token"], room["id"])
    sio = PipeliningSio(srv.url, bob["token"], room["id"])

    stop = threading.Event()
    senders = [threading.Thread(target=ws.send_until, args=(stop,)), threading.Thread(target=sio.send_until, args=(stop,))]
    for thread in senders:
        thread.start()
    deadline = time.time() + 30
    while (len(ws.acked) < 300 or len(sio.acked) < 300) and time.time() < deadline:
        time.sleep(0.01)
    try:
        assert len(ws.acked) >= 300 and len(sio.acked) >= 300, "the burst never got going"
    finally:
        # Mid-burst: both senders are still pipelining, so sends and acks are in flight when the process dies.
        srv.process.send_signal(signal.SIGKILL)
        assert srv.process.wait(timeout=30) == -signal.SIGKILL
        stop.set()
        for thread in senders:
            thread.join(timeout=10)
        ws.reader.join(timeout=10)
        sio.disconnect()
    with sio.lock:
        sio_acks = dict(sio.acked)
    ws_acks = dict(ws.acked)
    assert ws.sent > len(ws_acks) or sio.sent > len(sio_acks), "nothing was in flight at the kill"

    # The server recovers the database itself (WAL replay) when it starts again on the same file.
    srv.start()
    if storage_driver() == "sqlite":
        # A reader beside the running server: WAL mode lets it see what the server recovered.
        connection = sqlite3.connect(str(sqlite_file(srv)), timeout=10)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            connection.close()
    stored = stored_messages(srv, alice["token"], room["id"])
    ids = {m["id"] for m in stored}
    lost_ws = {i: id for i, id in ws_acks.items() if id not in ids}
    lost_sio = {i: id for i, id in sio_acks.items() if id not in ids}
    assert not lost_ws and not lost_sio, (f"acknowledged but lost after kill -9: {len(lost_ws)} of {len(ws_acks)} /ws, "
                                          f"{len(lost_sio)} of {len(sio_acks)} Socket.IO")
    by_content = {m["content"]: m["id"] for m in stored}
    assert all(by_content.get(f"ws {i}") == id for i, id in ws_acks.items())
    assert all(by_content.get(f"sio {i}") == id for i, id in sio_acks.items())

    # Retrying every send (answered or not) with its clientMessageId stores nothing twice and returns the ids acked.
    retry = WsClient(srv.port, alice["token"])
    try:
        for index in range(1, ws.sent + 1):
            kind, ack = retry.call("message:send", {"roomId": room["id"], "content": f"ws {index}", "clientMessageId": f"ws-{index}"},
                                   timeout=10)
            assert kind == "ack", ack
            if index in ws_acks:
                assert ack["id"] == ws_acks[index], (index, ack)
    finally:
        retry.close()
    contents = [m["content"] for m in stored_messages(srv, alice["token"], room["id"]) if m["content"].startswith("ws ")]
    assert len(contents) == len(set(contents)) == ws.sent, (len(contents), len(set(contents)), ws.sent)

    srv.stop()
    if storage_driver() == "sqlite":
        connection = sqlite3.connect(str(sqlite_file(srv)), timeout=10)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            connection.close()
