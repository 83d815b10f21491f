"""An authorization sweep generated from the server itself (issue 14): `parley routes` lists every HTTP route and
`parley events` every realtime event of the shipped manifest's modules; each one is tried as anonymous, as a
stranger to resources someone else created, as a member who was removed, and as a member of the wrong role, and
nothing may leak: no 2xx for a refusal the table expects, no response or realtime delivery carrying the owner's
secret text, no realtime delivery of the intruders' attempts.

The tables below say, per route and event, how to reach it and who may use it. A route or event the tables do not
know FAILS the sweep: a new route cannot ship without being added here (with who may use it and why)."""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from conftest import REPO, _call, create_room, join_room, parley_binary, register_and_login
from realtime_clients import WsClient

DENY = "deny"          # must be refused: 403 or 404, nothing leaked
ALLOW = "allow"        # permitted to this actor (the reason says why); reads are still checked for leaks
NA = "n/a"             # the actor does not apply to this route (the reason says why)


@dataclass
class Route:
    """How one route is reached and who may use it. `stranger`, `removed` and `member` are (DENY|ALLOW|NA, reason);
    `public` is the reason an anonymous caller may use it (None: anonymous gets 401). `params` picks, per path
    capture, which fixture fills it; `body` is a function of the fixture."""
    stranger: tuple = (DENY, "")
    removed: tuple = (DENY, "")
    member: tuple = (NA, "")
    public: str | None = None
    params: dict = field(default_factory=dict)
    body: object = None
    query: str = ""
    variants: list = field(default_factory=lambda: [{}])  # extra param choices (e.g. a message in each kind of channel)


def allow(reason: str) -> tuple:
    return (ALLOW, reason)


def na(reason: str) -> tuple:
    return (NA, reason)


SELF = dict(stranger=allow("acts on the caller's own account or lists"), removed=allow("acts on the caller's own account or lists"),
            member=na("no resource of someone else is named"))
ADMIN = dict(stranger=(DENY, "administrators only"), removed=(DENY, "administrators only"), member=(DENY, "administrators only"))
# Leaving is idempotent: a non-member's leave changes nothing and answers what anyone may see (a room's public card;
# nothing for a group, whose existence a PRIVATE group does not hide and a SECRET one answers 404 for).
LEAVE = dict(stranger=allow("a non-member's leave is a no-op"), removed=allow("a non-member's leave is a no-op"),
             member=allow("members leave"))
MESSAGE_VARIANTS = [{"messageID": "room_message"}, {"messageID": "group_message"}, {"messageID": "direct_message"}]

ROUTES: dict[str, Route] = {
    # kernel
    "GET /api/docs": Route(public="the API reference page, public by design (README)"),
    "GET /api/openapi.json": Route(public="the API document, public by design (README)"),
    "GET /api/v1/health": Route(public="liveness probe for load balancers"),
    "GET /api/v1/health/ready": Route(public="readiness probe for load balancers"),
    "GET /api/v1/metrics": Route(public="document 001's JSON metrics, declared requiresAuth: false"),
    "GET /metrics": Route(public="Prometheus scrape endpoint"),
    "POST /api/v1/auth/login": Route(public="signing in"),
    "POST /api/v1/auth/register": Route(public="signing up (auth.registration: open)"),
    "POST /api/v1/auth/refresh": Route(public="takes a refresh token in the body, not an access token"),
    "POST /api/v1/auth/logout": Route(**SELF),
    "POST /api/v1/auth/logout-all": Route(**SELF),
    "GET /api/v1/auth/me": Route(**SELF),
    "GET /socket.io": Route(public="the Engine.IO handshake; the token is checked at the Socket.IO CONNECT (swept below)"),
    "POST /socket.io": Route(public="Engine.IO long-polling; the token is checked at the Socket.IO CONNECT"),
    "PUT /socket.io": Route(public="Engine.IO long-polling; the token is checked at the Socket.IO CONNECT"),
    "OPTIONS /socket.io": Route(public="CORS preflight for the Engine.IO endpoint"),
    "GET /ws": Route(**SELF),
    "POST /api/v1/admin/invites": Route(**ADMIN, body=lambda f: {}),
    "GET /api/v1/admin/users": Route(**ADMIN),
    "POST /api/v1/admin/users/{userID}/deactivate": Route(**ADMIN, params={"userID": "owner"}),
    "POST /api/v1/admin/users/{userID}/reactivate": Route(**ADMIN, params={"userID": "owner"}),
    "PUT /api/v1/admin/users/{userID}/role": Route(**ADMIN, params={"userID": "stranger"}, body=lambda f: {"role": "ADMIN"}),
    "GET /api/v1/users": Route(**SELF, query="?query=sweep"),
    "GET /api/v1/users/{userID}": Route(stranger=allow("public profiles"), removed=allow("public profiles"),
                                        member=allow("public profiles"), params={"userID": "owner"}),
    "GET /api/v1/users/{userID}/presence": Route(stranger=allow("presence is public, like the profile"),
                                                 removed=allow("presence is public, like the profile"),
                                                 member=allow("presence is public"), params={"userID": "owner"}),
    "PATCH /api/v1/users/{userID}": Route(member=(DENY, "own account only"), params={"userID": "owner"},
                                          body=lambda f: {"displayName": "hijacked"}),
    "DELETE /api/v1/users/{userID}": Route(member=(DENY, "own account only"), params={"userID": "owner"}),
    # messaging
    "POST /api/v1/messages": Route(member=allow("members send"), variants=[{"channel": "roomId"}, {"channel": "groupId"}],
                                   body=lambda f, v: {v["channel"]: f["room"] if v["channel"] == "roomId" else f["group"],
                                                      "content": f"intruder {uuid.uuid4().hex}"}),
    "GET /api/v1/messages/search": Route(**SELF, query="?query={secret}"),
    "GET /api/v1/messages/{messageID}": Route(member=allow("members read"), variants=MESSAGE_VARIANTS),
    "PATCH /api/v1/messages/{messageID}": Route(member=(DENY, "only the author edits"), variants=MESSAGE_VARIANTS,
                                                body=lambda f: {"content": "hijacked"}),
    "DELETE /api/v1/messages/{messageID}": Route(member=(DENY, "the author or a channel OWNER/ADMIN deletes"), variants=MESSAGE_VARIANTS),
    "POST /api/v1/messages/{messageID}/delivered": Route(member=allow("members report receipts"), variants=MESSAGE_VARIANTS),
    "POST /api/v1/messages/{messageID}/seen": Route(member=allow("members report receipts"), variants=MESSAGE_VARIANTS),
    "POST /api/v1/messages/{messageID}/react": Route(member=allow("members react"), variants=MESSAGE_VARIANTS,
                                                     body=lambda f: {"emoji": "👍"}),
    "DELETE /api/v1/messages/{messageID}/react": Route(member=allow("members react"), variants=MESSAGE_VARIANTS,
                                                       body=lambda f: {"emoji": "👍"}),
    "GET /api/v1/messages/{messageID}/replies": Route(member=allow("members read"), variants=MESSAGE_VARIANTS),
    # rooms
    "GET /api/v1/rooms": Route(**SELF),
    "POST /api/v1/rooms": Route(**SELF),
    "GET /api/v1/rooms/{roomID}": Route(stranger=allow("rooms are discoverable; recent messages only for members"),
                                        removed=allow("rooms are discoverable; recent messages only for members"),
                                        member=allow("members read")),
    "POST /api/v1/rooms/{roomID}/join": Route(stranger=allow("rooms are open to anyone"), removed=allow("rooms are open: rejoining is allowed"),
                                              member=allow("already a member")),
    "POST /api/v1/rooms/{roomID}/leave": Route(**LEAVE),
    "GET /api/v1/messages/room/{roomID}": Route(member=allow("members read")),
    # direct
    "GET /api/v1/conversations": Route(**SELF),
    "POST /api/v1/conversations": Route(**SELF),
    "GET /api/v1/conversations/{conversationID}": Route(removed=na("conversations have no removal: a non-participant is a stranger"),
                                                        member=allow("the other participant")),
    "GET /api/v1/conversations/{conversationID}/messages": Route(removed=na("conversations have no removal"),
                                                                 member=allow("the other participant")),
    "POST /api/v1/conversations/{conversationID}/messages": Route(removed=na("conversations have no removal"),
                                                                  member=allow("the other participant"),
                                                                  body=lambda f: {"content": f"intruder {uuid.uuid4().hex}"}),
    "POST /api/v1/conversations/{conversationID}/read": Route(removed=na("conversations have no removal"),
                                                              member=allow("the other participant")),
    "GET /api/v1/messages/direct/{userID}": Route(stranger=allow("the caller's own conversation with that user (empty here)"),
                                                  removed=allow("the caller's own conversation with that user (empty here)"),
                                                  member=allow("the caller's own conversation"), params={"userID": "owner"}),
    # groups (the swept group is PRIVATE)
    "GET /api/v1/groups": Route(**SELF, query="?discover=true"),
    "POST /api/v1/groups": Route(**SELF),
    "GET /api/v1/groups/{groupID}": Route(member=allow("members read")),
    "PATCH /api/v1/groups/{groupID}": Route(member=(DENY, "OWNER/ADMIN only"), body=lambda f: {"title": "hijacked"}),
    "DELETE /api/v1/groups/{groupID}": Route(member=(DENY, "OWNER only")),
    "POST /api/v1/groups/{groupID}/join": Route(member=allow("already a member")),
    "POST /api/v1/groups/{groupID}/leave": Route(**LEAVE),
    "POST /api/v1/groups/{groupID}/members": Route(member=(DENY, "OWNER/ADMIN add members"),
                                                   body=lambda f: {"userId": f["ids"]["stranger"], "role": "MEMBER"}),
    "DELETE /api/v1/groups/{groupID}/members/{userID}": Route(member=(DENY, "OWNER/ADMIN remove others"), params={"userID": "other_member"}),
    "PATCH /api/v1/groups/{groupID}/members/{userID}": Route(member=(DENY, "OWNER/ADMIN change roles"), params={"userID": "member"},
                                                         body=lambda f: {"role": "ADMIN"}),
    "GET /api/v1/groups/{groupID}/messages": Route(member=allow("members read")),
    "POST /api/v1/groups/{groupID}/messages": Route(member=allow("members send"), body=lambda f: {"content": f"intruder {uuid.uuid4().hex}"}),
    "GET /api/v1/messages/group/{groupID}": Route(member=allow("members read")),
    # files (the swept file is shared into the private group only)
    "GET /api/v1/files": Route(**SELF),
    "POST /api/v1/files": Route(**SELF),
    "POST /api/v1/files/upload": Route(**SELF),
    "GET /api/v1/files/{fileID}": Route(member=allow("shared into the member's group")),
    "GET /api/v1/files/{fileID}/meta": Route(member=allow("shared into the member's group")),
    "DELETE /api/v1/files/{fileID}": Route(member=(DENY, "only the uploader deletes")),
    # Routes added on main after this sweep was written (the operator console's data, the changes feed, the web
    # module's pages): listed ahead so the merge does not start with unknown routes.
    "GET /api/v1/admin/overview": Route(**ADMIN),
    "GET /api/v1/admin/routes": Route(**ADMIN),
    "GET /api/v1/admin/errors": Route(**ADMIN),
    "GET /api/v1/admin/rooms": Route(**ADMIN),
    "DELETE /api/v1/admin/rooms/{roomID}": Route(**ADMIN),
    "GET /api/v1/admin/groups": Route(**ADMIN),
    "DELETE /api/v1/admin/groups/{groupID}": Route(**ADMIN),
    "GET /api/v1/sync": Route(**SELF),  # the caller's own changes feed: checked for the owner's secret like every read
    "GET /": Route(public="the web app's page; its data comes from the API, swept here"),
    "GET /admin": Route(public="the operator console's page; its data comes from /api/v1/admin/..., administrators only"),
    "GET /web/{assetName}": Route(public="the web app's static assets"),
    # calls (off in the shipped manifest; swept with every module on). bob is the call's invitee.
    "GET /api/v1/calls": Route(**SELF),
    "POST /api/v1/calls": Route(**SELF),
    "GET /api/v1/calls/{callID}": Route(removed=na("calls have no removal: a non-participant is a stranger"), member=allow("a participant")),
    "POST /api/v1/calls/{callID}/join": Route(removed=na("calls have no removal"), member=allow("an invitee joins")),
    "POST /api/v1/calls/{callID}/leave": Route(removed=na("calls have no removal"), member=allow("a participant leaves")),
    "POST /api/v1/calls/{callID}/reject": Route(removed=na("calls have no removal"), member=allow("an invitee rejects")),
    "POST /api/v1/calls/{callID}/end": Route(removed=na("calls have no removal"), member=(DENY, "only the initiator ends a call")),
    # moderation (off in the shipped manifest). The channel is alice's room; bob is a plain member of it.
    "POST /api/v1/moderation/channels/{channelID}/bans": Route(member=(DENY, "channel OWNER/ADMIN only"),
                                                              body=lambda f: {"userId": f["ids"]["other_member"]}),
    "DELETE /api/v1/moderation/channels/{channelID}/bans/{userID}": Route(member=(DENY, "channel OWNER/ADMIN only"),
                                                                         params={"userID": "other_member"}),
    "POST /api/v1/moderation/channels/{channelID}/mutes": Route(member=(DENY, "channel OWNER/ADMIN only"),
                                                               body=lambda f: {"userId": f["ids"]["other_member"], "durationSeconds": 60}),
    "DELETE /api/v1/moderation/channels/{channelID}/mutes/{userID}": Route(member=(DENY, "channel OWNER/ADMIN only"),
                                                                          params={"userID": "other_member"}),
    "GET /api/v1/moderation/channels/{channelID}/sanctions": Route(member=(DENY, "channel OWNER/ADMIN only")),
    "GET /api/v1/moderation/channels/{channelID}/slow-mode": Route(member=allow("members see the channel's slow mode")),
    "PUT /api/v1/moderation/channels/{channelID}/slow-mode": Route(member=(DENY, "channel OWNER/ADMIN only"),
                                                                  body=lambda f: {"seconds": 10}),
    "GET /api/v1/moderation/reports": Route(stranger=(DENY, "channel OWNER/ADMIN or server admins only"),
                                            removed=(DENY, "channel OWNER/ADMIN or server admins only"),
                                            member=(DENY, "channel OWNER/ADMIN or server admins only")),
    "POST /api/v1/moderation/reports": Route(member=allow("members report messages"),
                                             body=lambda f: {"messageId": f["room_message"], "reason": "sweep"}),
    "POST /api/v1/moderation/reports/{reportID}/resolve": Route(member=(DENY, "channel OWNER/ADMIN or server admins only")),
}

# Realtime events: data for the attempt (a function of the fixture), and who may send it.
EVENTS: dict[str, Route] = {
    "message:send": Route(member=allow("members send"), variants=[{"channel": "roomId"}, {"channel": "groupId"}],
                          body=lambda f, v: {v["channel"]: f["room"] if v["channel"] == "roomId" else f["group"],
                                             "content": f"intruder {uuid.uuid4().hex}"}),
    "message:edit": Route(member=(DENY, "only the author edits"), variants=MESSAGE_VARIANTS,
                          body=lambda f, v: {"messageId": f[v["messageID"]], "content": "hijacked"}),
    "message:delete": Route(member=(DENY, "the author or a channel OWNER/ADMIN deletes"), variants=MESSAGE_VARIANTS,
                            body=lambda f, v: {"messageId": f[v["messageID"]]}),
    "message:reaction": Route(member=allow("members react"), variants=MESSAGE_VARIANTS,
                              body=lambda f, v: {"messageId": f[v["messageID"]], "emoji": "👍", "action": "add"}),
    "message:read": Route(member=allow("members report receipts"), variants=MESSAGE_VARIANTS,
                          body=lambda f, v: {"messageId": f[v["messageID"]], "status": "SEEN"}),
    "typing:start": Route(member=allow("members type"), variants=[{"channel": "roomId"}, {"channel": "groupId"}],
                          body=lambda f, v: {v["channel"]: f["room"] if v["channel"] == "roomId" else f["group"]}),
    "typing:stop": Route(member=allow("members type"), variants=[{"channel": "roomId"}, {"channel": "groupId"}],
                         body=lambda f, v: {v["channel"]: f["room"] if v["channel"] == "roomId" else f["group"]}),
    "room:join": Route(stranger=allow("rooms are open to anyone"), removed=allow("rooms are open: rejoining is allowed"),
                       member=allow("already a member"), body=lambda f, v: {"roomId": f["room"]}),
    "room:leave": Route(**LEAVE, body=lambda f, v: {"roomId": f["room"]}),
    "group:join": Route(member=allow("already a member"), body=lambda f, v: {"groupId": f["group"]}),
    "group:leave": Route(**LEAVE, body=lambda f, v: {"groupId": f["group"]}),
    "conversation:open": Route(stranger=allow("anyone may open a conversation with a user"),
                               removed=allow("anyone may open a conversation with a user"),
                               member=allow("anyone may open a conversation"), body=lambda f, v: {"userId": f["ids"]["owner"]}),
    "call:initiate": Route(stranger=allow("anyone may call a user, as anyone may open a conversation"),
                           removed=allow("anyone may call a user"), member=allow("anyone may call a user"),
                           body=lambda f, v: {"type": "AUDIO", "participantIds": [f["ids"]["owner"]]}),
    "call:answer": Route(removed=na("calls have no removal"), member=allow("an invitee answers"), body=lambda f, v: {"callId": f["call"]}),
    "call:reject": Route(removed=na("calls have no removal"), member=allow("an invitee rejects"), body=lambda f, v: {"callId": f["call"]}),
    "call:end": Route(removed=na("calls have no removal"), member=(DENY, "only the initiator ends a call"),
                      body=lambda f, v: {"callId": f["call"]}),
    "call:participant:leave": Route(removed=na("calls have no removal"), member=allow("a participant leaves"),
                                    body=lambda f, v: {"callId": f["call"]}),
    "moderation:report": Route(member=allow("members report messages"),
                               body=lambda f, v: {"messageId": f["room_message"], "reason": "sweep"}),
    "conversation:read": Route(removed=na("conversations have no removal"), member=allow("the other participant"),
                               body=lambda f, v: {"conversationId": f["conversation"]}),
}

REFUSED = (403, 404)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def shipped_modules() -> dict:
    return yaml.safe_load((REPO / "config" / "parley.yaml").read_text())["modules"]


def listing(srv, command: str) -> list[list[str]]:
    """`parley routes` / `parley events` for the running server's own manifest."""
    manifest = sorted(srv.directory.glob("parley-*.yaml"))[-1]
    result = subprocess.run([str(parley_binary()), command, "--config", str(manifest)], capture_output=True, text=True,
                            timeout=60, cwd=srv.directory)
    assert result.returncode == 0, result.stderr
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


def png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# The shipped manifest's modules, and every feature module (calls and moderation are off in the shipped manifest):
# a route of a module the operator may turn on cannot skip the sweep either. API profiles serve other documents'
# APIs with their own auth and are not swept here.
# (JWTKit wants an HMAC key of at least 32 bytes: a shorter one, which the manifest accepts from 16, trips an
# assertion in debug builds on the first call.)
EVERY_MODULE = {"calls": {"app_secret": "sweep-secret-0123456789abcdef-0123456789"}, "moderation": {}}


@pytest.fixture(params=["shipped", "every module"])
def world(server, request):
    """The shipped modules; alice owns a room, a PRIVATE group, a conversation with bob and a file shared into the
    group, each message holding a secret. bob is a plain member everywhere (the wrong role for owner actions), dave
    another group member, carol a member removed from the group and gone from the room, mallory a stranger."""
    modules = shipped_modules() if request.param == "shipped" else {**shipped_modules(), **EVERY_MODULE}
    srv = server(modules=modules)
    users = {name: register_and_login(srv.url, name) for name in ("alice", "bob", "carol", "dave", "mallory")}
    api = srv.api
    secret = f"SECRET{uuid.uuid4().hex}"
    room = create_room(srv.url, users["alice"]["token"], name=f"sweep-room-{uuid.uuid4().hex[:6]}")
    for name in ("bob", "carol"):
        join_room(srv.url, users[name]["token"], room["id"])
    group = _call("POST", f"{api}/groups", users["alice"]["token"], {"title": f"{secret} group", "type": "PRIVATE"}, expect=(201,))["data"]
    for name in ("bob", "carol", "dave"):
        _call("POST", f"{api}/groups/{group['id']}/members", users["alice"]["token"], {"userId": users[name]["id"], "role": "MEMBER"})
    conversation = _call("POST", f"{api}/conversations", users["alice"]["token"], {"userId": users["bob"]["id"]}, expect=(200, 201))["data"]
    room_message = _call("POST", f"{api}/messages", users["alice"]["token"], {"roomId": room["id"], "content": f"{secret} room"}, expect=(201,))["data"]
    group_message = _call("POST", f"{api}/groups/{group['id']}/messages", users["alice"]["token"], {"content": f"{secret} group"}, expect=(201,))["data"]
    direct_message = _call("POST", f"{api}/conversations/{conversation['id']}/messages", users["alice"]["token"],
                           {"content": f"{secret} direct"}, expect=(201,))["data"]
    uploaded = requests.post(f"{api}/files", headers={"Authorization": f"Bearer {users['alice']['token']}"},
                             files={"file": (f"{secret}.png", png(), "image/png")}, timeout=10)
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["data"]["id"]
    _call("POST", f"{api}/messages", users["alice"]["token"], {"groupId": group["id"], "content": f"{secret} file", "type": "FILE",
                                                              "metadata": {"fileId": file_id}}, expect=(201,))
    call = report = None
    if "calls" in modules:
        call = _call("POST", f"{api}/calls", users["alice"]["token"], {"type": "VIDEO", "participantIds": [users["bob"]["id"]]},
                     expect=(201,))["data"]["call"]["id"]
    if "moderation" in modules:
        report = _call("POST", f"{api}/moderation/reports", users["bob"]["token"], {"messageId": room_message["id"], "reason": secret},
                       expect=(201,))["data"]["id"]
    # carol was a member: removed from the group by its owner, and gone from the room.
    _call("DELETE", f"{api}/groups/{group['id']}/members/{users['carol']['id']}", users["alice"]["token"])
    _call("POST", f"{api}/rooms/{room['id']}/leave", users["carol"]["token"])
    return {
        "srv": srv, "users": users, "secret": secret, "room": room["id"], "group": group["id"],
        "conversation": conversation["id"], "room_message": room_message["id"], "group_message": group_message["id"],
        "direct_message": direct_message["id"], "file": file_id, "call": call, "report": report,
        "ids": {"owner": users["alice"]["id"], "member": users["bob"]["id"], "other_member": users["dave"]["id"],
                "stranger": users["mallory"]["id"], "removed": users["carol"]["id"]},
    }


ACTORS = {"stranger": "mallory", "removed": "carol", "member": "bob"}
CAPTURES = {"roomID": "room", "groupID": "group", "conversationID": "conversation", "fileID": "file", "callID": "call",
            "channelID": "room", "reportID": "report"}


def fill(path: str, route: Route, variant: dict, world: dict) -> str:
    out = path
    for capture in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        if capture in variant:
            value = world[variant[capture]]
        elif capture in route.params:
            value = world["ids"][route.params[capture]]
        elif capture in CAPTURES:
            value = world[CAPTURES[capture]]
        else:
            raise AssertionError(f"{path}: the sweep does not know how to fill {{{capture}}}: add it to CAPTURES or the route's params")
        out = out.replace("{" + capture + "}", value)
    return out


def body_of(route: Route, world: dict, variant: dict):
    if route.body is None:
        return None
    try:
        return route.body(world, variant)
    except TypeError:
        return route.body(world)


def known_or_fail(kind: str, found: list[str], table: dict) -> None:
    unknown = sorted(set(found) - set(table))
    assert not unknown, (f"the authorization sweep does not know these {kind}: {unknown}. Add each to "
                         f"Tests/python/test_authorization_sweep.py ({'ROUTES' if kind == 'routes' else 'EVENTS'}) with who may "
                         f"use it and how to reach it, so it is swept like the others")


def test_every_route_refuses_anonymous_strangers_removed_members_and_the_wrong_role(world):
    srv = world["srv"]
    routes = [f"{method} {path}" for listener, method, path, owner in listing(srv, "routes")]
    known_or_fail("routes", routes, ROUTES)
    secret = world["secret"]
    problems: list[str] = []

    # Anonymous: every route but the documented public ones answers 401, before touching anything.
    for key in routes:
        route = ROUTES[key]
        if route.public:
            continue
        method, path = key.split(" ", 1)
        for variant in route.variants:
            url = srv.url + fill(path, route, variant, world)
            response = requests.request(method, url, json=body_of(route, world, variant), timeout=10)
            if response.status_code != 401 or secret in response.text:
                problems.append(f"anonymous {method} {url}: {response.status_code} {response.text[:200]}")

    # Stranger, removed member, wrong role. Writes an actor may make are not made (they would change who is who);
    # refusals are tried, and every answer is checked for the owner's secret.
    for actor, name in ACTORS.items():
        token = world["users"][name]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for key in routes:
            route = ROUTES[key]
            expectation, reason = getattr(route, actor)
            method, path = key.split(" ", 1)
            if route.public or expectation == NA or key == "GET /ws":
                continue
            if expectation == ALLOW and method in WRITE_METHODS:
                continue
            for variant in route.variants:
                url = srv.url + fill(path, route, variant, world) + route.query.replace("{secret}", secret)
                response = requests.request(method, url, json=body_of(route, world, variant), headers=headers, timeout=10)
                if expectation == DENY and response.status_code not in REFUSED:
                    problems.append(f"{actor} {method} {url} ({reason or 'not theirs'}): expected 403/404, got "
                                    f"{response.status_code} {response.text[:200]}")
                if secret in response.text and not (actor == "member" and expectation == ALLOW):
                    problems.append(f"{actor} {method} {url}: the owner's secret leaked: {response.text[:300]}")
    assert not problems, "\n".join(problems)

    # The owner's resources are untouched by all of the above.
    alice = world["users"]["alice"]["token"]
    for message in ("room_message", "group_message", "direct_message"):
        data = _call("GET", f"{srv.api}/messages/{world[message]}", alice)["data"]
        assert data["content"].startswith(secret) and not data.get("isDeleted"), data
    group = _call("GET", f"{srv.api}/groups/{world['group']}", alice)["data"]
    assert group["title"].startswith(secret), group


def test_every_realtime_event_refuses_strangers_removed_members_and_the_wrong_role(world):
    srv = world["srv"]
    events = [line[0] for line in listing(srv, "events")]
    known_or_fail("events", events, EVENTS)
    secret = world["secret"]
    problems: list[str] = []

    # Anonymous: neither transport admits a connection without a valid token.
    anonymous = requests.get(f"{srv.url}/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    import socketio
    refused = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect(srv.url, auth={"token": "not-a-token"}, transports=["websocket"], wait_timeout=5)

    # The owner and a legitimate member listen: nothing an intruder tries may reach them.
    alice = WsClient(srv.port, world["users"]["alice"]["token"])
    dave = WsClient(srv.port, world["users"]["dave"]["token"])
    clients = {actor: WsClient(srv.port, world["users"][name]["token"]) for actor, name in ACTORS.items()}
    try:
        for actor in ("stranger", "removed", "member"):
            client = clients[actor]
            for event in events:
                route = EVENTS[event]
                expectation, reason = getattr(route, actor)
                if expectation != DENY:
                    continue
                for variant in route.variants:
                    data = body_of(route, world, variant)
                    kind, reply = client.call(event, data, timeout=10)
                    if kind != "error" or reply.get("code") not in ("FORBIDDEN", "NOT_FOUND"):
                        problems.append(f"{actor} {event} {json.dumps(data)} ({reason or 'not theirs'}): expected a FORBIDDEN/NOT_FOUND "
                                        f"error, got {kind} {reply}")
        # Anything delivered to the listeners since must not come from an intruder; intruders hear no secret.
        # A sentinel from the owner, after every attempt: once the listeners have it, whatever an attempt fanned out
        # (in order, on the same connections) has arrived too.
        for channel in ("roomId", "groupId"):
            kind, sentinel = alice.call("message:send", {channel: world["room" if channel == "roomId" else "group"], "content": "sentinel"},
                                        timeout=10)
            assert kind == "ack", sentinel
            if channel == "groupId":
                dave.wait_for("message:received", lambda d, id=sentinel["id"]: d.get("id") == id, timeout=10)
        intruder_ids = {world["ids"]["stranger"], world["ids"]["removed"], world["ids"]["member"]}
        for listener_name, listener in (("alice", alice), ("dave", dave)):
            for name, data in list(listener.events):
                text = json.dumps(data)
                if any(identifier in text for identifier in intruder_ids) and name not in ("user:online", "user:offline"):
                    problems.append(f"{listener_name} received {name} caused by an intruder: {text[:300]}")
        for actor in ("stranger", "removed"):
            for name, data in list(clients[actor].events):
                if secret in json.dumps(data):
                    problems.append(f"{actor} received {name} carrying the owner's secret: {json.dumps(data)[:300]}")
    finally:
        for client in (alice, dave, *clients.values()):
            client.close()
    assert not problems, "\n".join(problems)
