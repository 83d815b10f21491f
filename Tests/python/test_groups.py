"""Seed 001's group flow end to end against the real `parley` binary: REST for the group's life, and live
Socket.IO and `/ws` clients for what members (and only members) hear. Membership changes take effect on open
connections at once: nobody reconnects in these tests.

Every wait is bounded (EVENT_TIMEOUT); "nothing arrives" is checked after a later event has arrived on the
same connection (frames are delivered in order) plus a short grace period.
"""

from __future__ import annotations

import json
import threading
import time

import socketio
import websocket

from conftest import _call, register_and_login

EVENT_TIMEOUT = 5.0
GRACE = 0.3  # extra time for a stray event to show up before asserting it never did
MODULES = {"messaging": {}, "groups": {}}


class Events:
    """Thread-safe record of (event, data) pairs one connection received."""

    def __init__(self, label: str):
        self.label = label
        self.items: list[tuple[str, object]] = []
        self._cond = threading.Condition()

    def add(self, event: str, data) -> None:
        with self._cond:
            self.items.append((event, data))
            self._cond.notify_all()

    def of(self, event: str, predicate=lambda data: True) -> list:
        with self._cond:
            return [data for name, data in self.items if name == event and predicate(data)]

    def wait_for(self, event: str, predicate=lambda data: True, timeout: float = EVENT_TIMEOUT):
        with self._cond:
            found = self._cond.wait_for(lambda: any(n == event and predicate(d) for n, d in self.items), timeout=timeout)
            if not found:
                raise AssertionError(f"{self.label}: no {event!r} within {timeout}s; got {self.items!r}")
            return next(d for n, d in self.items if n == event and predicate(d))


class WSClient:
    """A `/ws` connection whose frames a background thread records; `call` sends an ack'd frame and waits."""

    def __init__(self, port: int, token: str, label: str):
        self.events = Events(label)
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws?token={token}", timeout=EVENT_TIMEOUT)
        self.ws.settimeout(0.2)
        self._closed = threading.Event()
        self._next_ack = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            if not text:
                continue
            frame = json.loads(text)
            if frame.get("ack") is not None:
                self.events.add(f"ack#{frame['ack']}", frame)
            else:
                self.events.add(frame.get("event"), frame.get("data"))

    def call(self, event: str, data: dict) -> dict:
        """The reply frame: {"event": "ack", "data": ...} or {"event": "error", "data": {message, code}}."""
        self._next_ack += 1
        ack = self._next_ack
        self.ws.send(json.dumps({"event": event, "data": data, "ack": ack}))
        return self.events.wait_for(f"ack#{ack}")

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self.ws.close()


GROUP_EVENTS = ["message:received", "group:member:added", "group:member:removed", "group:member:updated",
                "group:updated", "group:deleted", "error"]


def sio_client(url: str, token: str, label: str) -> tuple[socketio.Client, Events]:
    sio = socketio.Client(reconnection=False)
    events = Events(label)
    for name in GROUP_EVENTS:
        sio.on(name, (lambda n: lambda data: events.add(n, data))(name))
    sio.connect(url, auth={"token": token}, wait_timeout=5)
    return sio, events


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

    sio, sio_events = sio_client(srv.url, member["token"], "member/socket.io")
    late_ws = WSClient(srv.port, late["token"], "late/ws")
    outsider_ws = WSClient(srv.port, outsider["token"], "outsider/ws")
    try:
        # A member on Socket.IO hears group messages; nobody else does.
        first = post_group(api, owner["token"], gid, "hello team")
        got = sio_events.wait_for("message:received", lambda d: d["id"] == first["id"])
        assert got["groupId"] == gid and got["content"] == "hello team" and got["senderId"] == owner["id"]

        # Adding a user takes effect on their open connection: told once, then hears the group.
        add_member(api, owner["token"], gid, late["id"])
        added = late_ws.events.wait_for("group:member:added", in_group(gid))
        assert added["userId"] == late["id"] and added["role"] == "MEMBER" and added["addedBy"] == owner["id"]
        assert added["group"]["title"] == "Project Team"
        sio_events.wait_for("group:member:added", lambda d: d["userId"] == late["id"])
        second = post_group(api, owner["token"], gid, "welcome")
        got = late_ws.events.wait_for("message:received", lambda d: d["id"] == second["id"])
        assert got["groupId"] == gid
        assert late_ws.events.of("message:received", lambda d: d["id"] == first["id"]) == []  # sent before they joined
        assert len(late_ws.events.of("group:member:added")) == 1

        # The late member sends over /ws; the Socket.IO member hears it.
        reply = late_ws.call("message:send", {"groupId": gid, "content": "from /ws"})
        assert reply["event"] == "ack" and reply["data"]["groupId"] == gid
        sio_events.wait_for("message:received", lambda d: d["id"] == reply["data"]["id"])

        # A removed member's live connection stops hearing the group.
        _call("DELETE", f"{api}/groups/{gid}/members/{member['id']}", token=owner["token"], expect=(200,))
        removed = sio_events.wait_for("group:member:removed", in_group(gid))
        assert removed["userId"] == member["id"] and removed["reason"] == "removed"
        late_ws.events.wait_for("group:member:removed", lambda d: d["userId"] == member["id"])
        after = post_group(api, owner["token"], gid, "after removal")
        late_ws.events.wait_for("message:received", lambda d: d["id"] == after["id"])
        time.sleep(GRACE)
        assert sio_events.of("message:received", lambda d: d["id"] == after["id"]) == []
        # ...and can no longer send there.
        sio.emit("message:send", {"groupId": gid, "content": "let me back"}, callback=lambda *args: sio_events.add("ack", args))
        assert sio_events.wait_for("error")["code"] == "FORBIDDEN"

        # Changes to the group reach its members.
        _call("PATCH", f"{api}/groups/{gid}", token=owner["token"], body={"title": "Renamed"}, expect=(200,))
        updated = late_ws.events.wait_for("group:updated", in_group(gid))
        assert updated["title"] == "Renamed" and "myRole" not in updated

        # Deleting the group: the remaining members are told.
        _call("DELETE", f"{api}/groups/{gid}", token=owner["token"], expect=(200,))
        deleted = late_ws.events.wait_for("group:deleted")
        assert deleted == {"groupId": gid, "deletedBy": owner["id"]}
        time.sleep(GRACE)
        assert sio_events.of("group:deleted") == []

        # The outsider's connection never saw anything of the group.
        assert outsider_ws.events.items == [], outsider_ws.events.items
    finally:
        late_ws.close()
        outsider_ws.close()
        sio.disconnect()


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

    owner_sio, owner_events = sio_client(srv.url, owner["token"], "owner/socket.io")
    ws = WSClient(srv.port, guest["token"], "guest/ws")
    try:
        joined = ws.call("group:join", {"groupId": public["id"]})
        assert joined["event"] == "ack" and joined["data"]["myRole"] == "MEMBER" and joined["data"]["memberCount"] == 2
        owner_events.wait_for("group:member:added", lambda d: d["userId"] == guest["id"] and d["addedBy"] == guest["id"])
        message = post_group(api, owner["token"], public["id"], "hi guest")
        ws.events.wait_for("message:received", lambda d: d["id"] == message["id"])

        # Closed groups refuse; secret ones do not exist; bad input names the field.
        refused = ws.call("group:join", {"groupId": private["id"]})
        assert refused["event"] == "error" and refused["data"]["code"] == "FORBIDDEN"
        hidden = ws.call("group:join", {"groupId": secret["id"]})
        assert hidden["event"] == "error" and hidden["data"]["code"] == "NOT_FOUND"
        bad = ws.call("group:join", {"groupId": "nope"})
        assert bad["event"] == "error" and bad["data"]["code"] == "VALIDATION_ERROR"

        left = ws.call("group:leave", {"groupId": public["id"]})
        assert left["event"] == "ack" and left["data"] == {"groupId": public["id"]}
        owner_events.wait_for("group:member:removed", lambda d: d["userId"] == guest["id"] and d["reason"] == "left")
        later = post_group(api, owner["token"], public["id"], "gone?")
        owner_events.wait_for("message:received", lambda d: d["id"] == later["id"])  # owner's own REST post
        time.sleep(GRACE)
        assert ws.events.of("message:received", lambda d: d["id"] == later["id"]) == []

        # Owner leaving hands the group over; with nobody left the group is kept, empty.
        owner_sio.call("group:leave", {"groupId": public["id"]}, timeout=5)
        details = _call("GET", f"{api}/groups/{public['id']}", token=guest["token"])["data"]
        assert details["memberCount"] == 0 and details["members"] == []
    finally:
        ws.close()
        owner_sio.disconnect()
