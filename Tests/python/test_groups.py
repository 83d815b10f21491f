"""Seed 001's group flow end to end against the real `parley` binary: REST for the group's life, and live
Socket.IO and `/ws` clients for what members (and only members) hear. Membership changes take effect on open
connections at once: nobody reconnects in these tests.

Every wait is bounded (realtime_clients.py); "nothing arrives" is checked after a later event has arrived on the
same connection (frames are delivered in order) plus a short grace period.
"""

from __future__ import annotations

import time

from conftest import _call, register_and_login
from realtime_clients import SioClient, WsClient

GRACE = 0.3  # extra time for a stray event to show up before asserting it never did
MODULES = {"messaging": {}, "groups": {}}


def create_group(api: str, token: str, **body) -> dict:
    return _call("POST", f"{api}/groups", token=token, body=body, expect=(201,))["data"]


def add_member(api: str, token: str, group_id: str, user_id: str, role: str = "MEMBER") -> dict:
    return _call("POST", f"{api}/groups/{group_id}/members", token=token, body={"userId": user_id, "role": role}, expect=(200,))


def post_group(api: str, token: str, group_id: str, content: str) -> dict:
    return _call("POST", f"{api}/groups/{group_id}/messages", token=token, body={"content": content}, expect=(201,))["data"]


def in_group(group_id: str):
    return lambda data: isinstance(data, dict) and (data.get("groupId") == group_id or data.get("id") == group_id)


def test_group_flow_reaches_members_only_on_both_transports(server):
    srv = server(modules=MODULES)
    api = srv.api
    owner = register_and_login(srv.url, "owner")
    member = register_and_login(srv.url, "member")
    late = register_and_login(srv.url, "late")
    outsider = register_and_login(srv.url, "outsider")

    group = create_group(api, owner["token"], title="Project Team", description="Discussion", type="PRIVATE")
    gid = group["id"]
    assert group["myRole"] == "OWNER" and group["createdBy"] == owner["id"]
    add_member(api, owner["token"], gid, member["id"])

    sio = SioClient(srv.url, member["token"])
    late_ws = WsClient(srv.port, late["token"])
    outsider_ws = WsClient(srv.port, outsider["token"])
    try:
        # A member on Socket.IO hears group messages; nobody else does.
        first = post_group(api, owner["token"], gid, "hello team")
        got = sio.wait_for("message:received", lambda d: d["id"] == first["id"])
        assert got["groupId"] == gid and got["content"] == "hello team" and got["senderId"] == owner["id"]

        # Adding a user takes effect on their open connection: told once, then hears the group.
        add_member(api, owner["token"], gid, late["id"])
        added = late_ws.wait_for("group:member:added", in_group(gid))
        assert added["userId"] == late["id"] and added["role"] == "MEMBER" and added["addedBy"] == owner["id"]
        assert added["group"]["title"] == "Project Team"
        sio.wait_for("group:member:added", lambda d: d["userId"] == late["id"])
        second = post_group(api, owner["token"], gid, "welcome")
        got = late_ws.wait_for("message:received", lambda d: d["id"] == second["id"])
        assert got["groupId"] == gid
        assert late_ws.of("message:received", lambda d: d["id"] == first["id"]) == []  # sent before they joined
        assert len(late_ws.of("group:member:added")) == 1

        # The late member sends over /ws; the Socket.IO member hears it.
        kind, reply = late_ws.call("message:send", {"groupId": gid, "content": "from /ws"})
        assert kind == "ack" and reply["groupId"] == gid
        sio.wait_for("message:received", lambda d: d["id"] == reply["id"])

        # A removed member's live connection stops hearing the group.
        _call("DELETE", f"{api}/groups/{gid}/members/{member['id']}", token=owner["token"], expect=(200,))
        removed = sio.wait_for("group:member:removed", in_group(gid))
        assert removed["userId"] == member["id"] and removed["reason"] == "removed"
        late_ws.wait_for("group:member:removed", lambda d: d["userId"] == member["id"])
        after = post_group(api, owner["token"], gid, "after removal")
        late_ws.wait_for("message:received", lambda d: d["id"] == after["id"])
        time.sleep(GRACE)
        assert sio.of("message:received", lambda d: d["id"] == after["id"]) == []
        # ...and can no longer send there.
        kind, refused = sio.call("message:send", {"groupId": gid, "content": "let me back"})
        assert kind == "error" and refused["code"] == "FORBIDDEN"

        # Changes to the group reach its members.
        _call("PATCH", f"{api}/groups/{gid}", token=owner["token"], body={"title": "Renamed"}, expect=(200,))
        updated = late_ws.wait_for("group:updated", in_group(gid))
        assert updated["title"] == "Renamed" and "myRole" not in updated

        # Deleting the group: the remaining members are told.
        _call("DELETE", f"{api}/groups/{gid}", token=owner["token"], expect=(200,))
        deleted = late_ws.wait_for("group:deleted")
        assert deleted == {"groupId": gid, "deletedBy": owner["id"]}
        time.sleep(GRACE)
        assert sio.of("group:deleted") == []

        # The outsider's connection never saw anything of the group.
        assert outsider_ws.names() == [], outsider_ws.names()
    finally:
        late_ws.close()
        outsider_ws.close()
        sio.close()


def test_realtime_join_and_leave_public_groups(server):
    srv = server(modules=MODULES)
    api = srv.api
    owner = register_and_login(srv.url, "owner")
    guest = register_and_login(srv.url, "guest")
    public = create_group(api, owner["token"], name="Open", type="PUBLIC")
    private = create_group(api, owner["token"], title="Closed")
    secret = create_group(api, owner["token"], title="Hidden", type="SECRET")

    listed = _call("GET", f"{api}/groups?discover=true", token=guest["token"])
    assert [g["id"] for g in listed["data"]] == [public["id"]]

    owner_sio = SioClient(srv.url, owner["token"])
    ws = WsClient(srv.port, guest["token"])
    try:
        kind, joined = ws.call("group:join", {"groupId": public["id"]})
        assert kind == "ack" and joined["myRole"] == "MEMBER" and joined["memberCount"] == 2
        owner_sio.wait_for("group:member:added", lambda d: d["userId"] == guest["id"] and d["addedBy"] == guest["id"])
        message = post_group(api, owner["token"], public["id"], "hi guest")
        ws.wait_for("message:received", lambda d: d["id"] == message["id"])

        # Closed groups refuse; secret ones do not exist; bad input names the field.
        kind, refused = ws.call("group:join", {"groupId": private["id"]})
        assert kind == "error" and refused["code"] == "FORBIDDEN"
        kind, hidden = ws.call("group:join", {"groupId": secret["id"]})
        assert kind == "error" and hidden["code"] == "NOT_FOUND"
        kind, bad = ws.call("group:join", {"groupId": "nope"})
        assert kind == "error" and bad["code"] == "VALIDATION_ERROR"

        kind, left = ws.call("group:leave", {"groupId": public["id"]})
        assert kind == "ack" and left == {"groupId": public["id"]}
        owner_sio.wait_for("group:member:removed", lambda d: d["userId"] == guest["id"] and d["reason"] == "left")
        later = post_group(api, owner["token"], public["id"], "gone?")
        owner_sio.wait_for("message:received", lambda d: d["id"] == later["id"])  # owner's own REST post
        time.sleep(GRACE)
        assert ws.of("message:received", lambda d: d["id"] == later["id"]) == []

        # Owner leaving hands the group over; with nobody left the group is kept, empty.
        kind, _ = owner_sio.call("group:leave", {"groupId": public["id"]})
        assert kind == "ack"
        details = _call("GET", f"{api}/groups/{public['id']}", token=guest["token"])["data"]
        assert details["memberCount"] == 0 and details["members"] == []
    finally:
        ws.close()
        owner_sio.close()
