"""The moderation module end to end against the real `parley` binary, over REST, `/ws` and Socket.IO: the word
filter (block and mask, case- and accent-insensitive, whole words), slow mode, mutes, bans and reports, and every
admin-only action refused for a plain member.

"Nothing arrives" is checked after a later event has arrived on the same connection (frames are delivered in
order), plus a short grace period, as in the other suites.
"""

from __future__ import annotations

import re
import subprocess
import time
import unicodedata

import requests

from conftest import HTTP_TIMEOUT, _call, create_room, join_room, parley_binary, register_and_login, send_message
from realtime_clients import SioClient, WsClient

GRACE = 0.3
MODERATION = {"blocked_words": ["darn", "crème"], "masked_words": ["heck"]}
MODULES = {"messaging": {}, "rooms": {}, "moderation": MODERATION}


def call(method: str, url: str, token: str | None, body: dict | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url, json=body, headers=headers, timeout=HTTP_TIMEOUT)


def folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text.casefold()) if not unicodedata.combining(c))


def setup_room(srv, *names):
    owner = register_and_login(srv.url, "owner")
    room = create_room(srv.url, owner["token"])
    users = [register_and_login(srv.url, name) for name in names]
    for user in users:
        join_room(srv.url, user["token"], room["id"])
    return owner, room, users


def test_blocked_words_never_reach_storage_or_receivers_and_masked_words_are_starred(server):
    srv = server(modules=MODULES)
    owner, room, (member, listener) = setup_room(srv, "member", "listener")
    rid = room["id"]
    listen_ws = WsClient(srv.port, listener["token"])
    listen_sio = SioClient(srv.url, listener["token"])
    member_ws = WsClient(srv.port, member["token"])
    member_sio = SioClient(srv.url, member["token"])
    try:
        # REST: refused with a 400 naming `content`, whatever the case or accents; a longer word is not the word.
        for content in ["darn it", "DARN!", "well, Dârn.", "creme brulee", "CRÈME"]:
            refused = call("POST", f"{srv.api}/messages", member["token"], {"roomId": rid, "content": content})
            assert refused.status_code == 400, (content, refused.text)
            body = refused.json()
            assert body["success"] is False and [e["field"] for e in body["errors"]] == ["content"]
            assert "not allowed" in body["errors"][0]["message"]
        fine = send_message(srv.url, member["token"], rid, "darning socks, undarned")
        assert fine["content"] == "darning socks, undarned"
        masked = send_message(srv.url, member["token"], rid, "what the HÉCK, heck-yes")
        assert masked["content"] == "what the ****, ****-yes"

        # /ws and Socket.IO: an `error` event naming `content`; nothing is acknowledged.
        kind, error = member_ws.call("message:send", {"roomId": rid, "content": "oh DARN"})
        assert kind == "error" and error["code"] == "VALIDATION_ERROR" and error["errors"][0]["field"] == "content"
        kind, error = member_sio.call("message:send", {"roomId": rid, "content": "darn darn"})
        assert kind == "error" and error["code"] == "VALIDATION_ERROR" and error["errors"][0]["field"] == "content"
        kind, ack = member_sio.call("message:send", {"roomId": rid, "content": "heck over socket.io"})
        assert kind == "ack" and ack["content"] == "**** over socket.io"

        # An edit to a blocked word is refused too; to a masked word, starred.
        edited = call("PATCH", f"{srv.api}/messages/{fine['id']}", member["token"], {"content": "darn"})
        assert edited.status_code == 400 and edited.json()["errors"][0]["field"] == "content"

        sentinel = send_message(srv.url, owner["token"], rid, "sentinel")
        for client in (listen_ws, listen_sio):
            client.wait_for("message:received", lambda d: d["id"] == sentinel["id"])
        time.sleep(GRACE)
        for client in (listen_ws, listen_sio):
            received = [folded(d["content"]) for d in client.of("message:received")]
            assert received and not any(word in ("darn", "creme") for c in received for word in re.findall(r"\w+", c)), received
            assert "what the ****, ****-yes" in [d["content"] for d in client.of("message:received")]
        history = _call("GET", f"{srv.api}/messages/room/{rid}?limit=100", token=owner["token"])["data"]
        stored = [folded(m["content"]) for m in history]
        assert len(stored) == 4  # darning, masked, masked over socket.io, sentinel
        assert not any(word in c.split() for c in stored for word in ("darn", "creme", "heck")), stored
    finally:
        for client in (listen_ws, listen_sio, member_ws, member_sio):
            client.close()


def test_slow_mode_set_by_the_owner_enforced_and_explained_on_every_transport(server):
    srv = server(modules=MODULES)
    owner, room, (member, other) = setup_room(srv, "member", "other")
    rid = room["id"]
    slow = f"{srv.api}/moderation/channels/{rid}/slow-mode"
    assert call("PUT", slow, member["token"], {"seconds": 60}).status_code == 403
    assert call("PUT", slow, owner["token"], {"seconds": -1}).json()["errors"][0]["field"] == "seconds"
    assert call("PUT", slow, owner["token"], {}).json()["errors"][0]["field"] == "seconds"
    outsider = register_and_login(srv.url, "outsider")
    assert call("PUT", slow, outsider["token"], {"seconds": 60}).status_code == 404
    assert call("GET", slow, outsider["token"]).status_code == 404

    ws = WsClient(srv.port, member["token"])
    sio = SioClient(srv.url, member["token"])
    try:
        set_ = call("PUT", slow, owner["token"], {"seconds": 60})
        assert set_.status_code == 200 and set_.json()["data"] == {"channelId": rid, "seconds": 60}
        heard = ws.wait_for("moderation:slow_mode", lambda d: d["channelId"] == rid)
        assert heard["seconds"] == 60 and heard["setBy"] == owner["id"]
        assert call("GET", slow, member["token"]).json()["data"]["seconds"] == 60

        first = call("POST", f"{srv.api}/messages", member["token"], {"roomId": rid, "content": "first", "clientMessageId": "slow-1"})
        assert first.status_code == 201
        # A retry of the stored send is answered with it (200, same id), not refused by slow mode; over /ws too.
        retry = call("POST", f"{srv.api}/messages", member["token"], {"roomId": rid, "content": "first", "clientMessageId": "slow-1"})
        assert retry.status_code == 200 and retry.json()["data"]["id"] == first.json()["data"]["id"]
        kind, acked = ws.call("message:send", {"roomId": rid, "content": "first", "clientMessageId": "slow-1"})
        assert kind == "ack" and acked["id"] == first.json()["data"]["id"]
        again = call("POST", f"{srv.api}/messages", member["token"], {"roomId": rid, "content": "second"})
        assert again.status_code == 429 and again.json()["code"] == "SLOW_MODE"
        assert "post again in" in again.json()["message"] and 0 < int(again.headers["Retry-After"]) <= 60
        kind, error = ws.call("message:send", {"roomId": rid, "content": "second over /ws"})
        assert kind == "error" and error["code"] == "SLOW_MODE" and "post again in" in error["message"]
        kind, error = sio.call("message:send", {"roomId": rid, "content": "second over socket.io"})
        assert kind == "error" and error["code"] == "SLOW_MODE"
        # Per member: another member still has their turn; the owner is exempt.
        send_message(srv.url, other["token"], rid, "my turn")
        send_message(srv.url, owner["token"], rid, "owner 1")
        send_message(srv.url, owner["token"], rid, "owner 2")

        assert call("PUT", slow, owner["token"], {"seconds": 0}).status_code == 200
        send_message(srv.url, member["token"], rid, "free again")
        history = _call("GET", f"{srv.api}/messages/room/{rid}?limit=100", token=owner["token"])["data"]
        assert not any(m["content"].startswith("second") for m in history)
    finally:
        ws.close()
        sio.close()


def test_mute_and_ban_enforced_explained_and_admin_only(server):
    srv = server(modules=MODULES)
    owner, room, (member, other, target) = setup_room(srv, "member", "other", "target")
    rid = room["id"]
    base = f"{srv.api}/moderation/channels/{rid}"

    # A plain member may do none of it.
    for method, path, body in [("POST", "mutes", {"userId": target["id"]}), ("POST", "bans", {"userId": target["id"]}),
                               ("DELETE", f"mutes/{target['id']}", None), ("DELETE", f"bans/{target['id']}", None),
                               ("GET", "sanctions", None)]:
        refused = call(method, f"{base}/{path}", member["token"], body)
        assert refused.status_code == 403, (method, path, refused.text)
    assert call("POST", f"{base}/bans", owner["token"], {"userId": "nope"}).json()["errors"][0]["field"] == "userId"
    assert call("POST", f"{base}/mutes", owner["token"], {"userId": target["id"], "durationSeconds": 0}).json()["errors"][0]["field"] \
        == "durationSeconds"
    assert call("POST", f"{base}/bans", owner["token"], {"userId": owner["id"]}).status_code == 400
    assert call("POST", f"{base}/bans", member["token"], {"userId": owner["id"]}).status_code == 403

    target_ws = WsClient(srv.port, target["token"])
    target_sio = SioClient(srv.url, target["token"])
    other_ws = WsClient(srv.port, other["token"])
    try:
        # Mute: told, cannot post on any transport (and the refusal says why), still reads and hears.
        muted = call("POST", f"{base}/mutes", owner["token"], {"userId": target["id"], "durationSeconds": 3600, "reason": "cool off"})
        assert muted.status_code == 201 and muted.json()["data"]["kind"] == "mute" and muted.json()["data"]["expiresAt"]
        target_sio.wait_for("moderation:muted", lambda d: d["channelId"] == rid)
        refused = call("POST", f"{srv.api}/messages", target["token"], {"roomId": rid, "content": "let me talk"})
        assert refused.status_code == 403 and refused.json()["code"] == "MUTED" and "muted" in refused.json()["message"]
        kind, error = target_ws.call("message:send", {"roomId": rid, "content": "ws"})
        assert kind == "error" and error["code"] == "MUTED"
        kind, error = target_sio.call("message:send", {"roomId": rid, "content": "sio"})
        assert kind == "error" and error["code"] == "MUTED"
        heard = send_message(srv.url, owner["token"], rid, "you can still read this")
        target_ws.wait_for("message:received", lambda d: d["id"] == heard["id"])
        assert _call("GET", f"{srv.api}/messages/room/{rid}", token=target["token"])["data"]
        sanctions = _call("GET", f"{base}/sanctions", token=owner["token"])["data"]
        assert [(s["userId"], s["kind"]) for s in sanctions] == [(target["id"], "mute")]
        assert call("DELETE", f"{base}/mutes/{target['id']}", owner["token"]).status_code == 200
        target_ws.wait_for("moderation:unmuted", lambda d: d["channelId"] == rid)
        send_message(srv.url, target["token"], rid, "thanks")

        # Ban: removed at once; the live sockets leave the channel's topic; cannot rejoin; the refusal says why.
        banned = call("POST", f"{base}/bans", owner["token"], {"userId": target["id"], "reason": "spam"})
        assert banned.status_code == 201 and banned.json()["data"]["expiresAt"] is None
        for client in (target_ws, target_sio):
            client.wait_for("moderation:banned", lambda d: d["channelId"] == rid and d["userId"] == target["id"])
        other_ws.wait_for("moderation:banned", lambda d: d["userId"] == target["id"])
        after = send_message(srv.url, owner["token"], rid, "after the ban")
        other_ws.wait_for("message:received", lambda d: d["id"] == after["id"])
        rejoin = call("POST", f"{srv.api}/rooms/{rid}/join", target["token"])
        assert rejoin.status_code == 403 and rejoin.json()["code"] == "BANNED" and "banned" in rejoin.json()["message"]
        kind, error = target_ws.call("room:join", {"roomId": rid})
        assert kind == "error" and error["code"] == "BANNED"
        assert call("POST", f"{srv.api}/messages", target["token"], {"roomId": rid, "content": "hi"}).status_code == 403
        assert call("GET", f"{srv.api}/messages/room/{rid}", target["token"]).status_code == 403

        # Lifting the ban tells them (a later event on the same sockets), and they never heard the message between.
        assert call("DELETE", f"{base}/bans/{target['id']}", owner["token"]).status_code == 200
        for client in (target_ws, target_sio):
            client.wait_for("moderation:unbanned", lambda d: d["channelId"] == rid)
        time.sleep(GRACE)
        for client in (target_ws, target_sio):
            assert client.of("message:received", lambda d: d["id"] == after["id"]) == []
        join_room(srv.url, target["token"], rid)
        assert call("DELETE", f"{base}/bans/{target['id']}", owner["token"]).status_code == 404

        # A ban with an expiry ends by itself.
        assert call("POST", f"{base}/bans", owner["token"], {"userId": target["id"], "durationSeconds": 1}).status_code == 201
        deadline = time.time() + 30
        while call("POST", f"{srv.api}/rooms/{rid}/join", target["token"]).status_code != 200:
            assert time.time() < deadline, "the ban did not expire"
            time.sleep(0.5)
    finally:
        for client in (target_ws, target_sio, other_ws):
            client.close()


def test_reports_reach_channel_admins_only_and_server_admins_list_them(server):
    srv = server(modules=MODULES)
    owner, room, (member, reporter, staff) = setup_room(srv, "member", "reporter", "staff")
    rid = room["id"]
    # `staff` is a server admin (users.role, set by the operator's CLI on either storage driver); no channel role in
    # this room beyond MEMBER.
    manifest = sorted(srv.directory.glob("parley-*.yaml"))[-1]
    promoted = subprocess.run([str(parley_binary()), "admin", "promote", staff["id"], "--config", str(manifest)],
                              capture_output=True, text=True, timeout=60)
    assert promoted.returncode == 0, promoted.stderr
    bad = send_message(srv.url, member["token"], rid, "buy cheap stuff")

    owner_ws = WsClient(srv.port, owner["token"])
    member_sio = SioClient(srv.url, member["token"])
    reporter_ws = WsClient(srv.port, reporter["token"])
    reporter_sio = SioClient(srv.url, reporter["token"])
    try:
        # Bad input names the field; nobody reports their own message or one they cannot read.
        missing = call("POST", f"{srv.api}/moderation/reports", reporter["token"], {"messageId": bad["id"]})
        assert missing.status_code == 400 and [e["field"] for e in missing.json()["errors"]] == ["reason"]
        assert call("POST", f"{srv.api}/moderation/reports", reporter["token"], {"messageId": "x", "reason": "r"}).json()["errors"][0]["field"] \
            == "messageId"
        assert call("POST", f"{srv.api}/moderation/reports", member["token"], {"messageId": bad["id"], "reason": "me"}).status_code == 400
        outsider = register_and_login(srv.url, "outsider")
        assert call("POST", f"{srv.api}/moderation/reports", outsider["token"], {"messageId": bad["id"], "reason": "r"}).status_code == 404

        filed = call("POST", f"{srv.api}/moderation/reports", reporter["token"], {"messageId": bad["id"], "reason": "spam"})
        assert filed.status_code == 201
        report = filed.json()["data"]
        assert report["status"] == "open" and report["message"]["content"] == "buy cheap stuff" and report["reporterId"] == reporter["id"]
        heard = owner_ws.wait_for("moderation:report:created", lambda d: d["id"] == report["id"])
        assert heard["reason"] == "spam"
        assert call("POST", f"{srv.api}/moderation/reports", reporter["token"], {"messageId": bad["id"], "reason": "again"}).status_code == 409

        # The realtime twins: /ws and Socket.IO.
        second = send_message(srv.url, member["token"], rid, "second offence")
        kind, by_ws = reporter_ws.call("moderation:report", {"messageId": second["id"], "reason": "via ws"})
        assert kind == "ack" and by_ws["messageId"] == second["id"]
        owner_ws.wait_for("moderation:report:created", lambda d: d["id"] == by_ws["id"])
        kind, error = reporter_sio.call("moderation:report", {"messageId": second["id"]})
        assert kind == "error" and error["errors"][0]["field"] == "reason"
        third = send_message(srv.url, owner["token"], rid, "owner says")
        kind, by_sio = member_sio.call("moderation:report", {"messageId": third["id"], "reason": "via socket.io"})
        assert kind == "ack"
        owner_ws.wait_for("moderation:report:created", lambda d: d["id"] == by_sio["id"])

        # Nobody but the channel's admins heard of any report.
        sentinel = send_message(srv.url, owner["token"], rid, "sentinel")
        for client in (member_sio, reporter_ws, reporter_sio):
            client.wait_for("message:received", lambda d: d["id"] == sentinel["id"])
        time.sleep(GRACE)
        for client in (member_sio, reporter_ws, reporter_sio):
            assert client.of("moderation:report:created") == []

        # Listing and resolving: refused for plain members; the owner sees this channel's, a server admin all.
        for token in (member["token"], reporter["token"]):
            assert call("GET", f"{srv.api}/moderation/reports", token).status_code == 403
            assert call("GET", f"{srv.api}/moderation/reports?channelId={rid}", token).status_code == 403
            assert call("POST", f"{srv.api}/moderation/reports/{report['id']}/resolve", token).status_code == 403
        assert call("GET", f"{srv.api}/moderation/reports?status=maybe", owner["token"]).json()["errors"][0]["field"] == "status"
        listed = _call("GET", f"{srv.api}/moderation/reports", token=owner["token"])
        assert {r["id"] for r in listed["data"]} == {report["id"], by_ws["id"], by_sio["id"]}
        other_room = create_room(srv.url, reporter["token"])
        elsewhere = send_message(srv.url, reporter["token"], other_room["id"], "elsewhere")
        join_room(srv.url, member["token"], other_room["id"])
        _call("POST", f"{srv.api}/moderation/reports", token=member["token"], body={"messageId": elsewhere["id"], "reason": "r"})
        assert len(_call("GET", f"{srv.api}/moderation/reports", token=owner["token"])["data"]) == 3
        assert len(_call("GET", f"{srv.api}/moderation/reports", token=staff["token"])["data"]) == 4

        resolved = call("POST", f"{srv.api}/moderation/reports/{report['id']}/resolve", owner["token"], {"resolution": "warned"})
        assert resolved.status_code == 200 and resolved.json()["data"]["status"] == "resolved"
        reporter_ws.wait_for("moderation:report:resolved", lambda d: d["id"] == report["id"])
        assert call("POST", f"{srv.api}/moderation/reports/{report['id']}/resolve", owner["token"]).status_code == 409
        by_staff = call("POST", f"{srv.api}/moderation/reports/{by_ws['id']}/resolve", staff["token"])
        assert by_staff.status_code == 200 and by_staff.json()["data"]["resolvedBy"] == staff["id"]
        open_ids = {r["id"] for r in _call("GET", f"{srv.api}/moderation/reports", token=owner["token"])["data"]}
        assert open_ids == {by_sio["id"]}
        assert len(_call("GET", f"{srv.api}/moderation/reports?status=all", token=owner["token"])["data"]) == 3
    finally:
        for client in (owner_ws, member_sio, reporter_ws, reporter_sio):
            client.close()


def test_bad_manifest_options_are_refused(tmp_path):
    import json
    import subprocess

    from conftest import parley_binary

    manifest = tmp_path / "parley.yaml"
    for options, key in [({"blocked_words": ["two words"]}, "blocked_words"), ({"max_slow_mode_seconds": 0}, "max_slow_mode_seconds")]:
        manifest.write_text(json.dumps({"storage": {"path": str(tmp_path / "p.sqlite")},
                                        "modules": {"messaging": {}, "moderation": options}}))
        checked = subprocess.run([str(parley_binary()), "check-config", str(manifest)], capture_output=True, text=True, timeout=30)
        assert checked.returncode != 0 and f"modules.moderation.{key}" in checked.stdout + checked.stderr
    manifest.write_text(json.dumps({"storage": {"path": str(tmp_path / "p.sqlite")}, "modules": {"messaging": {}, "moderation": {}}}))
    checked = subprocess.run([str(parley_binary()), "check-config", str(manifest)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
