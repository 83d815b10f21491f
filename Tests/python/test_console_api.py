"""The operator console's API (issue 16) against the real binary: overview (modules with secrets masked, live
connections by transport, rates), the route table, recent errors, rooms and groups for administrators — every
route refused to a plain user (403) and an anonymous caller (401) — and unread counts on room and group lists."""

from __future__ import annotations

import time

import requests

from conftest import HTTP_TIMEOUT, _api, _call, create_room, join_room, register_and_login, send_message
from realtime_clients import SioClient, WsClient
from test_admin import call, make_admin

MODULES = {"messaging": {}, "rooms": {}, "groups": {}, "direct": {},
           "calls": {"app_secret": "calls-secret-not-to-show-0123456789", "jitsi_domain": "meet.example.com"}}
JWT_SECRET = "jwt-secret-not-to-show-0123456789abcdef"


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_console_api_is_for_administrators_only(server):
    srv = server(modules=MODULES)
    make_admin(srv)
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    group = _call("POST", f"{srv.api}/groups", token=alice["token"], body={"name": "g", "type": "SECRET"}, expect=(201,))["data"]
    for method, path in [("GET", "/admin/overview"), ("GET", "/admin/routes"), ("GET", "/admin/errors"),
                         ("GET", "/admin/rooms"), ("DELETE", f"/admin/rooms/{room['id']}"),
                         ("GET", "/admin/groups"), ("DELETE", f"/admin/groups/{group['id']}")]:
        refused = call(srv, method, path, alice["token"])
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN", (path, refused.text)
        assert "data" not in refused.json()
        assert requests.request(method, f"{srv.api}{path}", timeout=HTTP_TIMEOUT).status_code == 401
    # Nothing was deleted by the refused calls.
    assert _call("GET", f"{srv.api}/rooms/{room['id']}", token=alice["token"])["data"]["id"] == room["id"]
    assert _call("GET", f"{srv.api}/groups/{group['id']}", token=alice["token"])["data"]["id"] == group["id"]


def test_overview_masks_secrets_and_counts_live_connections(server):
    srv = server(modules=MODULES, auth={"jwt_secret": JWT_SECRET})
    admin = make_admin(srv)
    alice = register_and_login(srv.url, "alice")

    overview = call(srv, "GET", "/admin/overview", admin["token"])
    assert overview.status_code == 200, overview.text
    text = overview.text
    data = overview.json()["data"]
    assert "calls-secret-not-to-show-0123456789" not in text and JWT_SECRET not in text
    modules = {m["id"]: m for m in data["modules"]}
    assert modules["calls"]["enabled"] is True and modules["calls"]["config"]["app_secret"] == "••••••"
    assert modules["calls"]["config"]["jitsi_domain"] == "meet.example.com"
    assert modules["messaging"]["config"]["max_content_length"] == 5000
    assert data["kernel"]["auth"]["jwt_secret"] == "••••••"
    assert isinstance(data["kernel"]["auth"]["access_token_ttl_seconds"], (int, float))  # numbers are not secrets
    disabled = [m for m in data["modules"] if not m["enabled"]]
    assert disabled and all(m["config"] is None for m in disabled)
    assert data["storage"]["driver"] in ("sqlite", "postgres") and data["version"]
    if data["storage"]["driver"] == "postgres":
        assert "••••••" in str(data["kernel"]["storage"]) or "@" not in str(data["kernel"]["storage"].get("url"))

    def connections():
        return call(srv, "GET", "/admin/overview", admin["token"]).json()["data"]["connections"]

    before = connections()
    sio = SioClient(srv.url, alice["token"])
    ws = WsClient(srv.port, alice["token"])
    try:
        during = _wait(lambda: (c := connections())["total"] == before["total"] + 2 and c)
        assert during["byTransport"]["socketio"] == before["byTransport"]["socketio"] + 1
        assert during["byTransport"]["ws"] == before["byTransport"]["ws"] + 1
    finally:
        sio.close()
        ws.close()
    _wait(lambda: connections()["total"] == before["total"])


def test_rates_routes_and_errors(server):
    srv = server(modules=MODULES)
    admin = make_admin(srv)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    listener = WsClient(srv.port, bob["token"])
    try:
        for i in range(20):
            send_message(srv.url, alice["token"], room["id"], f"m{i}")
        listener.wait_for("message:received", lambda d: d["content"] == "m19")

        def rates():
            r = call(srv, "GET", "/admin/overview", admin["token"]).json()["data"]["rates"]
            return r if r["perSecond"].get("messages", 0) > 0 and r["deliveriesPerSecond"] > 0 else None

        seen = _wait(rates, timeout=5)
        assert seen["deliveryLatencyMs"]["p99"] is not None and seen["deliveryLatencyMs"]["p99"] >= seen["deliveryLatencyMs"]["p50"]
    finally:
        listener.close()

    routes = call(srv, "GET", "/admin/routes", admin["token"]).json()["data"]
    owners = {(r["method"], r["path"]): r["owner"] for r in routes}
    assert owners[("POST", "/api/v1/messages")] == "messaging" and owners[("GET", "/api/v1/admin/routes")] == "kernel"
    assert owners[("DELETE", "/api/v1/admin/rooms/{roomID}")] == "rooms"

    errors = call(srv, "GET", "/admin/errors?limit=5", admin["token"])
    assert errors.status_code == 200 and isinstance(errors.json()["data"], list) and len(errors.json()["data"]) <= 5
    bad = call(srv, "GET", "/admin/errors?limit=0", admin["token"])
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "limit"


def test_rooms_and_groups_for_administrators_and_unread_counts(server):
    srv = server(modules=MODULES)
    admin = make_admin(srv)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"], name="Tea_100% club")
    other = create_room(srv.url, alice["token"], name="coffee")
    join_room(srv.url, bob["token"], room["id"])
    group = _call("POST", f"{srv.api}/groups", token=alice["token"], body={"name": "Hidden", "type": "SECRET"}, expect=(201,))["data"]
    _call("POST", f"{srv.api}/groups/{group['id']}/members", token=alice["token"], body={"userId": bob["id"]}, expect=(200, 201))

    # Unread counts on lists: bob has three unread in the room and one in the group; alice none (she sent them).
    for i in range(3):
        send_message(srv.url, alice["token"], room["id"], f"r{i}")
    _call("POST", f"{srv.api}/messages", token=alice["token"], body={"groupId": group["id"], "content": "g"}, expect=(201,))
    rooms = {r["id"]: r for r in _call("GET", f"{srv.api}/rooms", token=bob["token"])["data"]}
    assert rooms[room["id"]]["unreadCount"] == 3 and rooms[room["id"]]["isMember"] is True
    assert rooms[other["id"]]["unreadCount"] == 0 and rooms[other["id"]]["isMember"] is False
    mine = _call("GET", f"{srv.api}/rooms?joined=true", token=bob["token"])["data"]
    assert [r["id"] for r in mine] == [room["id"]]
    assert _call("GET", f"{srv.api}/groups", token=bob["token"])["data"][0]["unreadCount"] == 1
    assert _call("GET", f"{srv.api}/rooms", token=alice["token"])["data"][0]["unreadCount"] == 0
    bad = requests.get(f"{srv.api}/rooms?joined=maybe", headers={"Authorization": f"Bearer {bob['token']}"}, timeout=HTTP_TIMEOUT)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "joined"

    # The administrator searches literally (% and _ are not wildcards) and sees SECRET groups.
    found = call(srv, "GET", "/admin/rooms?query=_100%25", admin["token"]).json()["data"]
    assert [r["id"] for r in found] == [room["id"]]
    assert [r["id"] for r in call(srv, "GET", "/admin/rooms?query=%25", admin["token"]).json()["data"]] == [room["id"]]
    assert [g["id"] for g in call(srv, "GET", "/admin/groups?query=hidd", admin["token"]).json()["data"]] == [group["id"]]

    # Deleting: members hear it live, and the room and group are gone.
    ws = WsClient(srv.port, bob["token"])
    try:
        assert call(srv, "DELETE", f"/admin/rooms/{room['id']}", admin["token"]).status_code == 200
        assert ws.wait_for("room:deleted")["roomId"] == room["id"]
        assert call(srv, "DELETE", f"/admin/groups/{group['id']}", admin["token"]).status_code == 200
        assert ws.wait_for("group:deleted")["groupId"] == group["id"]
    finally:
        ws.close()
    assert requests.get(f"{srv.api}/rooms/{room['id']}", headers={"Authorization": f"Bearer {bob['token']}"},
                        timeout=HTTP_TIMEOUT).status_code == 404
    assert call(srv, "DELETE", f"/admin/rooms/{room['id']}", admin["token"]).status_code == 404
    assert call(srv, "DELETE", "/admin/groups/not-an-id", admin["token"]).status_code in (400, 404)
