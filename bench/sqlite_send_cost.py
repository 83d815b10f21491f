"""What one send's SQLite transaction costs, apart from the server (BENCHMARKS.md, "Fifth round").

Copies a database that `bench/run` left behind (default: parley-sio's) and runs a send's statements through
Python's sqlite3 (the same system libsqlite3 as Parley) in WAL mode with synchronous=NORMAL, as GRDB opens it:
the membership check, the insert, the sender's read position, and, where the label says "fts", the message's
FTS5 row in the same transaction (what the insert trigger did before the deferred index). Sends per transaction
vary as group commit would batch them. Prints wall and CPU microseconds per send.

    taskset -c 1 python3 bench/sqlite_send_cost.py [path/to/parley.sqlite]
"""
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid

SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/tmp/parley-bench/parley-sio-fanout/parley.sqlite"


def run(label, fts=True, batch=1, n=4000, savepoints=False):
    work = tempfile.mkdtemp(prefix="parley-sqlite-cost-")
    try:
        for suffix in ["", "-wal", "-shm"]:
            if os.path.exists(SOURCE + suffix):
                shutil.copy(SOURCE + suffix, os.path.join(work, "db" + suffix))
        db = sqlite3.connect(os.path.join(work, "db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        # Whatever the database's migrations installed, the FTS5 row is written here explicitly (or not).
        db.execute("DROP TRIGGER IF EXISTS messages_fts_insert")
        channel, user = db.execute("SELECT channel_id, user_id FROM channel_members LIMIT 1").fetchone()
        wall, cpu = time.perf_counter(), time.process_time()
        sent = 0
        while sent < n:
            db.execute("BEGIN IMMEDIATE")
            for k in range(batch):
                if savepoints:
                    db.execute(f"SAVEPOINT s{k}")
                db.execute("SELECT role FROM channel_members WHERE channel_id = ? AND user_id = ?", (channel, user)).fetchone()
                mid, now = str(uuid.uuid4()), int(time.time() * 1000)
                content = f"{now} hello world message payload number {sent} abcdefghijklmnop"
                db.execute("INSERT INTO messages (id, channel_id, sender_id, receiver_id, content, type, parent_id, metadata,"
                           " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (mid, channel, user, None, content, "TEXT", None, "{}", now, now))
                if fts:
                    db.execute("INSERT INTO messages_fts(rowid, content) VALUES (last_insert_rowid(), ?)", (content,))
                db.execute("UPDATE channel_members SET last_read_id = ?, last_delivered_id = ? WHERE channel_id = ? AND user_id = ?"
                           " AND (last_read_id IS NULL OR last_read_id < ?)", (mid, mid, channel, user, mid))
                if savepoints:
                    db.execute(f"RELEASE s{k}")
                sent += 1
            db.execute("COMMIT")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{label:44s} {wall / n * 1e6:7.1f} µs/send wall {cpu / n * 1e6:7.1f} µs/send CPU", flush=True)
        db.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


run("fts, 1 send per transaction")
run("no fts, 1 send per transaction", fts=False)
run("fts, 5 sends per transaction", batch=5)
run("fts, 5 per transaction, a savepoint each", batch=5, savepoints=True)
run("fts, 20 sends per transaction", batch=20)
