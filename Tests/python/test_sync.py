"""`GET /api/v1/sync`, the changes feed, against the real binary on both storage drivers: a client that was away
catches up on messages sent, edited, deleted and reacted to, read positions, and its joins and leaves, each once
in its final state; pages chain by cursor; strangers learn nothing; and a reader syncing while many senders
commit at once misses nothing (on PostgreSQL, transactions commit out of sequence order)."""

from __future__ import annotations

import copy
import sqlite3
import subprocess
import threading
import time
import uuid

import requests

from conftest import ParleyServer, _api, _call, create_room, join_room, register_and_login, send_message

MODULES = {"messaging": {}, "rooms": {}, "groups": {}, "direct": {}}


def _sync(srv, token, since=None, limit=None, expect=(200,)):
    params = {}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["limit"] = limit
    response = requests.get(f"{srv.api}/sync", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code in expect, response.text
    return response.json()


def _drain(srv, token, since, limit=None):
    """Follows the cursor until `hasMore` is false; returns (changes, last cursor)."""
    changes = []
    while True:
        data = _sync(srv, token, since, limit)["data"]
        changes += data["changes"]
        since = data["cursor"]
        if not data["hasMore"]:
            return changes, since


def _messages(changes):
    """Upserts message changes by id, as a client does."""
    state = {}
    for change in changes:
        if change["type"] == "message":
            state[change["message"]["id"]] = change["message"]
    return state


def test_a_client_that_was_away_catches_up_once_in_final_state(server):
    srv = server(modules=MODULES)
    api = _api(srv.url)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    carol = register_and_login(srv.url, "carol")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])

    start = _sync(srv, bob["token"])["data"]
    assert start["changes"] == [] and start["hasMore"] is False and start["cursor"]
    carol_start = _sync(srv, carol["token"])["data"]["cursor"]

    # Bob is away: alice sends three, edits one, deletes one, reacts to one, and replies.
    first = send_message(srv.url, alice["token"], room["id"], "first")
    second = send_message(srv.url, alice["token"], room["id"], "second")
    third = send_message(srv.url, alice["token"], room["id"], "third")
    _call("PATCH", f"{api}/messages/{first['id']}", token=alice["token"], body={"content": "first, edited"})
    _call("DELETE", f"{api}/messages/{second['id']}", token=alice["token"])
    _call("POST", f"{api}/messages/{third['id']}/react", token=alice["token"], body={"emoji": "🎉"})
    reply = _call("POST", f"{api}/messages", token=alice["token"],
                  body={"roomId": room["id"], "content": "a reply", "parentId": third["id"]}, expect=(201,))["data"]

    changes, cursor = _drain(srv, bob["token"], start["cursor"])
    messages = _messages(changes)
    ids = [c["message"]["id"] for c in changes if c["type"] == "message"]
    assert len(ids) == len(set(ids)), "a message named several times in one page appears once"
    assert set(messages) == {first["id"], second["id"], third["id"], reply["id"]}
    assert messages[first["id"]]["content"] == "first, edited" and messages[first["id"]]["editedAt"]
    assert messages[second["id"]]["isDeleted"] is True and messages[second["id"]]["content"] == ""
    assert messages[third["id"]]["reactions"] == [{"emoji": "🎉", "count": 1, "userIds": [alice["id"]]}]
    assert messages[third["id"]]["replyCount"] == 1
    assert messages[reply["id"]]["roomId"] == room["id"]
    # The same shape as GET /messages/{id}.
    assert messages[first["id"]] == _call("GET", f"{api}/messages/{first['id']}", token=bob["token"])["data"]
    # Sending marks the channel read for the sender: alice's read position is a change bob sees (seen ticks).
    reads = [c for c in changes if c["type"] == "read" and c["userId"] == alice["id"]]
    assert reads and reads[-1]["channel"] == {"kind": "room", "id": room["id"]}
    assert reads[-1]["lastReadMessageId"] == reply["id"]

    # Nothing new: nothing, and the cursor stays usable.
    again = _sync(srv, bob["token"], cursor)["data"]
    assert again["changes"] == [] and again["hasMore"] is False
    # Bob reads: his own position is a change for him and for alice.
    _call("POST", f"{api}/messages/{reply['id']}/seen", token=bob["token"])
    mine = [c for c in _sync(srv, bob["token"], again["cursor"])["data"]["changes"] if c["type"] == "read"]
    assert mine == [{"type": "read", "channel": {"kind": "room", "id": room["id"]}, "userId": bob["id"],
                     "lastReadMessageId": reply["id"], "lastDeliveredMessageId": reply["id"]}]

    # Carol is in no channel: she learns nothing of the room.
    assert _drain(srv, carol["token"], carol_start)[0] == []


def test_pages_chain_by_cursor_and_joins_and_leaves_are_reported(server):
    srv = server(modules=MODULES)
    api = _api(srv.url)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    cursor = _sync(srv, bob["token"])["data"]["cursor"]

    join_room(srv.url, bob["token"], room["id"])
    sent = [send_message(srv.url, alice["token"], room["id"], f"m{i}")["id"] for i in range(7)]
    _call("POST", f"{api}/rooms/{room['id']}/leave", token=bob["token"])
    after_leaving = send_message(srv.url, alice["token"], room["id"], "after bob left")

    # A group bob is added to and that is then deleted: joined, then left with the channel's kind.
    group = _call("POST", f"{api}/groups", token=alice["token"], body={"name": "g", "type": "PRIVATE"}, expect=(201,))["data"]
    _call("POST", f"{api}/groups/{group['id']}/members", token=alice["token"], body={"userId": bob["id"]}, expect=(200, 201))
    _call("DELETE", f"{api}/groups/{group['id']}", token=alice["token"])

    pages = 0
    changes = []
    since = cursor
    while True:
        data = _sync(srv, bob["token"], since, limit=2)["data"]
        pages += 1
        assert len(data["changes"]) <= 2
        changes += data["changes"]
        since = data["cursor"]
        if not data["hasMore"]:
            break
    assert pages >= 2
    membership = [(c["type"], c["channel"]["kind"], c["channel"]["id"]) for c in changes if c["type"].startswith("channel:")]
    assert membership == [("channel:joined", "room", room["id"]), ("channel:left", "room", room["id"]),
                          ("channel:joined", "group", group["id"]), ("channel:left", "group", group["id"])]
    # Bob is no longer in the room: its messages are not reported to him any more, before or after he left.
    assert after_leaving["id"] not in _messages(changes)
    assert not set(sent) & set(_messages(changes))


def test_bad_cursors_and_limits_are_400s_naming_the_field_and_anonymous_is_401(server):
    srv = server(modules=MODULES)
    bob = register_and_login(srv.url, "bob")
    for bad in ["nonsense", "1", "1.2.3", "-1.5", "1.-5", "99999999999999999999.1", ".1", "1."]:
        body = _sync(srv, bob["token"], since=bad, expect=(400,))
        assert body["success"] is False and body["errors"][0]["field"] == "since", bad
    for bad in ["0", "501", "x", "-3"]:
        body = _sync(srv, bob["token"], since="0.0", limit=bad, expect=(400,))
        assert body["errors"][0]["field"] == "limit", bad
    response = requests.get(f"{srv.api}/sync", timeout=10)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


def test_a_reader_syncing_while_many_senders_commit_misses_nothing(server, tmp_path):
    srv = server(modules=MODULES)
    # A second node on the same database: its transactions commit concurrently with the first node's, so on
    # PostgreSQL a change logged early may commit after one logged later (what the feed's positions must survive).
    node_b = ParleyServer(tmp_path, copy.deepcopy(srv.manifest)).start()
    try:
        _many_senders(srv, node_b)
    finally:
        node_b.stop()


def _many_senders(srv, node_b):
    alice = register_and_login(srv.url, "alice")
    senders = [register_and_login(srv.url, f"s{i}") for i in range(8)]
    room = create_room(srv.url, alice["token"])
    for sender in senders:
        join_room(srv.url, sender["token"], room["id"])
    cursor = _sync(srv, alice["token"])["data"]["cursor"]

    sent: list[str] = []
    lock = threading.Lock()

    def send_many(sender, node):
        session = requests.Session()
        for i in range(30):
            response = session.post(f"{node.api}/messages", headers={"Authorization": f"Bearer {sender['token']}"},
                                    json={"roomId": room["id"], "content": f"{sender['username']} {i}",
                                          "clientMessageId": uuid.uuid4().hex}, timeout=30)
            assert response.status_code == 201, response.text
            with lock:
                sent.append(response.json()["data"]["id"])

    threads = [threading.Thread(target=send_many, args=(s, (srv, node_b)[i % 2])) for i, s in enumerate(senders)]
    for thread in threads:
        thread.start()
    seen: set[str] = set()
    # Sync in small pages all the while the senders commit, then once more after they are done.
    while any(thread.is_alive() for thread in threads):
        changes, cursor = _drain(srv, alice["token"], cursor, limit=7)
        seen |= set(_messages(changes))
    for thread in threads:
        thread.join()
    changes, cursor = _drain(srv, alice["token"], cursor, limit=7)
    seen |= set(_messages(changes))
    assert len(sent) == 240
    assert set(sent) <= seen, f"{len(set(sent) - seen)} committed messages never reached the feed"


def _age_the_log(srv, days: int) -> None:
    """Makes every logged change `days` older, in the server's own database (sqlite3, or psql on PostgreSQL)."""
    storage = srv.manifest["storage"]
    sql = f"UPDATE sync_changes SET at = at - {days} * 86400000"
    if storage.get("driver") == "postgres":
        subprocess.run(["psql", storage["url"], "-v", "ON_ERROR_STOP=1", "-q", "-c",
                        f"SET search_path TO {storage['schema']}; {sql}"], check=True)
    else:
        with sqlite3.connect(storage["path"]) as db:
            db.execute(sql)


def test_a_cursor_older_than_the_retention_is_410_and_a_fresh_one_works(server):
    srv = server(modules={**MODULES, "messaging": {"sync_retention_days": 7}})
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    old = _sync(srv, alice["token"])["data"]["cursor"]
    send_message(srv.url, alice["token"], room["id"], "long ago")
    srv.stop()
    _age_the_log(srv, 8)
    srv.start()  # the log is pruned at boot (in the background, as the server starts taking requests), then hourly

    deadline = time.monotonic() + 15
    while (expired := _sync(srv, alice["token"], old, expect=(200, 410)))["success"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert expired["code"] == "CURSOR_EXPIRED" and expired["errors"][0]["field"] == "since"
    fresh = _sync(srv, alice["token"])["data"]["cursor"]
    recent = send_message(srv.url, alice["token"], room["id"], "just now")
    assert set(_messages(_drain(srv, alice["token"], fresh)[0])) == {recent["id"]}
