"""Calls end to end against the real binary: the Jitsi JWT each participant gets (every claim Prosody's token
plugin checks, decoded and verified with PyJWT), the room URL, ring timeouts (also across a restart), boot
errors for a bad `modules.calls` block, and the realtime flow over Socket.IO and `/ws` (ringing, answer, join,
reject, end), with an outsider's connections receiving none of it.

Every wait is bounded (the recorders' `wait_for(timeout=...)`), and conftest gives each test a time limit.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from conftest import _api, _call, register_and_login
from realtime_clients import SioClient, WsClient

SECRET = "calls-python-secret-0123456789abcdef"
DOMAIN = "meet.example.com"
SETTLE = 0.5  # how long a connection that must receive nothing is watched after the others got theirs


def calls_server(server, **options):
    calls = {"app_secret": SECRET, "jitsi_domain": DOMAIN, "app_id": "parleytest", **options}
    return server(modules={"messaging": {}, "calls": calls})


def create_call(srv, user, invitees, call_type="VIDEO") -> dict:
    body = {"type": call_type, "participantIds": [u["id"] for u in invitees]}
    return _call("POST", f"{_api(srv.url)}/calls", token=user["token"], body=body, expect=(201,))["data"]


def decode(token: str, **options) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi", issuer="parleytest", **options)


def check_token(token: str, room_url: str, room: str, user: dict, moderator: bool, lifetime: int, sub: str = DOMAIN,
                path_prefix: str = "") -> dict:
    """Every claim of one participant's token, and that its room URL is `https://domain/[tenant/]room?jwt=token`."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["typ"] == "JWT"
    now = time.time()
    claims = decode(token)
    assert claims["iss"] == "parleytest" and claims["aud"] == "jitsi" and claims["sub"] == sub
    assert claims["room"] == room
    assert all(isinstance(claims[k], int) for k in ("exp", "nbf", "iat"))
    assert abs(claims["exp"] - (now + lifetime)) <= 5
    assert claims["nbf"] <= now and abs(claims["iat"] - now) <= 5
    assert claims["moderator"] is moderator
    context_user = claims["context"]["user"]
    assert all(isinstance(value, str) for value in context_user.values()), context_user
    profile = user["user"]
    assert context_user["id"] == profile["id"] and context_user["name"] == profile["username"]
    assert context_user["email"] == profile["email"]
    assert context_user["avatar"] == (profile.get("avatar") or "")
    assert context_user["moderator"] == ("true" if moderator else "false")

    url = urlsplit(room_url)
    assert url.scheme == "https" and url.netloc == DOMAIN and url.path == f"/{path_prefix}{room}"
    assert parse_qs(url.query) == {"jwt": [token]}
    assert room_url == f"https://{DOMAIN}/{path_prefix}{room}?jwt={token}"
    # Signed with the configured secret only.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "some-other-secret-0123456789abcdef", algorithms=["HS256"], audience="jitsi")
    return claims


def test_each_participant_gets_their_own_jitsi_token(server):
    srv = calls_server(server, token_lifetime_seconds=3600)
    api = _api(srv.url)
    alice, bob, carol = (register_and_login(srv.url, name) for name in ("alice", "bob", "carol"))
    # Bob has an avatar, so the token must carry it; the others have none and get "".
    avatar = "https://cdn.example.com/bob.png"
    bob["user"] = _call("PATCH", f"{api}/users/{bob['id']}", token=bob["token"], body={"avatar": avatar})["data"]
    assert bob["user"]["avatar"] == avatar
    for user in (alice, bob, carol):
        user["user"]["email"] = user["email"]

    created = create_call(srv, alice, [bob, carol])
    call = created["call"]
    room = call["roomId"]
    assert room.startswith("parley-") and len(room) == len("parley-") + 32 and room == room.lower()
    check_token(created["token"], created["roomUrl"], room, alice, moderator=True, lifetime=3600)

    joined = _call("POST", f"{api}/calls/{call['id']}/join", token=bob["token"])["data"]
    assert joined["call"]["status"] == "ONGOING"
    bob_claims = check_token(joined["token"], joined["roomUrl"], room, bob, moderator=False, lifetime=3600)
    assert bob_claims["context"]["user"]["avatar"] == avatar

    details = _call("GET", f"{api}/calls/{call['id']}", token=carol["token"])["data"]
    assert details["roomId"] == room
    check_token(details["token"], details["roomUrl"], room, carol, moderator=False, lifetime=3600)
    # The initiator reading the call again is still its moderator.
    again = _call("GET", f"{api}/calls/{call['id']}", token=alice["token"])["data"]
    assert decode(again["token"])["moderator"] is True

    # A second call has its own room; no token issued for it names the first call's room, or vice versa.
    second = create_call(srv, alice, [bob])
    assert second["call"]["roomId"] != room and second["token"] != created["token"]
    second_bob = _call("POST", f"{api}/calls/{second['call']['id']}/join", token=bob["token"])["data"]
    assert decode(second_bob["token"])["room"] == second["call"]["roomId"] != decode(joined["token"])["room"]

    # Outsiders get a 404 and no token.
    eve = register_and_login(srv.url, "eve")
    response = _call("GET", f"{api}/calls/{call['id']}", token=eve["token"], expect=(404,))
    assert "token" not in str(response.get("data")) and room not in str(response)

    # Once the call is over, nobody is handed a fresh token for it.
    _call("POST", f"{api}/calls/{call['id']}/end", token=alice["token"])
    over = _call("GET", f"{api}/calls/{call['id']}", token=bob["token"])["data"]
    assert over["status"] == "ENDED" and over["token"] is None and over["roomUrl"] is None


def test_tenant_sets_sub_and_url_path(server):
    srv = calls_server(server, tenant="acme", audience="jitsi")
    alice, bob = register_and_login(srv.url, "alice"), register_and_login(srv.url, "bob")
    alice["user"]["email"] = alice["email"]
    created = create_call(srv, alice, [bob])
    check_token(created["token"], created["roomUrl"], created["call"]["roomId"], alice, moderator=True, lifetime=7200,
                sub="acme", path_prefix="acme/")


def test_token_lifetime_is_honoured(server):
    srv = calls_server(server, token_lifetime_seconds=1)
    alice, bob = register_and_login(srv.url, "alice"), register_and_login(srv.url, "bob")
    token = create_call(srv, alice, [bob])["token"]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi", options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == 1
    time.sleep(2)
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(token)


def test_realtime_ring_answer_join_end(server):
    srv = calls_server(server, ring_timeout_seconds=30)
    alice, bob, eve = (register_and_login(srv.url, name) for name in ("alice", "bob", "eve"))
    alice_sio = SioClient(srv.url, alice["token"])
    bob_sio, bob_ws = SioClient(srv.url, bob["token"]), WsClient(srv.port, bob["token"])
    eve_sio, eve_ws = SioClient(srv.url, eve["token"]), WsClient(srv.port, eve["token"])
    clients = (alice_sio, bob_sio, bob_ws, eve_sio, eve_ws)
    try:
        kind, created = alice_sio.call("call:initiate", {"type": "AUDIO", "participantIds": [bob["id"]], "groupId": None})
        assert kind == "ack", created
        call = created["call"]
        call_id = call["id"]
        assert call["status"] == "RINGING" and call["type"] == "AUDIO"
        assert decode(created["token"])["moderator"] is True
        assert alice_sio.wait_for("call:initiate", lambda d: d["call"]["id"] == call_id)["token"] == created["token"]

        # The invitee is rung on every connection, with a token of their own for the same room.
        for client in (bob_sio, bob_ws):
            ringing = client.wait_for("call:ringing", lambda d: d["call"]["id"] == call_id)
            assert ringing["initiatorId"] == alice["id"] and ringing["call"]["initiatorId"] == alice["id"]
            claims = decode(ringing["token"])
            assert claims["room"] == call["roomId"] and claims["context"]["user"]["id"] == bob["id"]
            assert claims["moderator"] is False
            assert ringing["roomUrl"] == f"https://{DOMAIN}/{call['roomId']}?jwt={ringing['token']}"

        # An outsider cannot answer (the call does not exist for them).
        kind, error = eve_sio.call("call:answer", {"callId": call_id})
        assert kind == "error" and error["code"] == "NOT_FOUND"
        kind, error = eve_ws.call("call:answer", {"callId": "nope"})
        assert kind == "error" and error.get("errors", [{}])[0].get("field") == "callId"

        # Bob answers over /ws: his ack carries his credentials; Alice hears that he joined.
        kind, answered = bob_ws.call("call:answer", {"callId": call_id})
        assert kind == "ack", answered
        assert answered["call"]["status"] == "ONGOING" and decode(answered["token"])["context"]["user"]["id"] == bob["id"]
        joined = alice_sio.wait_for("call:participant:join", lambda d: d["callId"] == call_id)
        assert joined["userId"] == bob["id"] and joined["callStatus"] == "ONGOING"

        # Only the initiator may end it.
        kind, error = bob_sio.call("call:end", {"callId": call_id})
        assert kind == "error" and error["code"] == "FORBIDDEN"
        kind, ended = alice_sio.call("call:end", {"callId": call_id})
        assert kind == "ack" and ended["status"] == "ENDED"
        for client in (alice_sio, bob_sio, bob_ws):
            event = client.wait_for("call:end", lambda d: d["callId"] == call_id)
            assert event["status"] == "ENDED" and event["endedBy"] == alice["id"]

        time.sleep(SETTLE)
        for client in (eve_sio, eve_ws):
            assert not [name for name in client.names() if name.startswith("call:")], client.names()
    finally:
        for client in clients:
            client.close()


def test_realtime_reject_and_missed(server):
    srv = calls_server(server, ring_timeout_seconds=1)
    api = _api(srv.url)
    alice, bob, carol, eve = (register_and_login(srv.url, name) for name in ("alice", "bob", "carol", "eve"))
    alice_ws, bob_sio, carol_sio, eve_sio = (WsClient(srv.port, alice["token"]), SioClient(srv.url, bob["token"]),
                                             SioClient(srv.url, carol["token"]), SioClient(srv.url, eve["token"]))
    clients = (alice_ws, bob_sio, carol_sio, eve_sio)
    try:
        # Nobody answers: the timer flips it to MISSED and tells everyone, with no request needed.
        missed = create_call(srv, alice, [bob])["call"]["id"]
        bob_sio.wait_for("call:ringing", lambda d: d["call"]["id"] == missed)
        for client in (alice_ws, bob_sio):
            assert client.wait_for("call:end", lambda d: d["callId"] == missed, timeout=5)["status"] == "MISSED"
        assert _call("GET", f"{api}/calls/{missed}", token=bob["token"])["data"]["status"] == "MISSED"

        # Both invitees decline: each decline is announced, then the call ends as REJECTED.
        srv_call = _call("POST", f"{api}/calls", token=alice["token"],
                         body={"type": "VIDEO", "participantIds": [bob["id"], carol["id"]]}, expect=(201,))["data"]["call"]["id"]
        kind, first = bob_sio.call("call:reject", {"callId": srv_call})
        assert kind == "ack" and first["status"] == "RINGING"
        assert alice_ws.wait_for("call:reject", lambda d: d["callId"] == srv_call)["userId"] == bob["id"]
        kind, last = carol_sio.call("call:reject", {"callId": srv_call})
        assert kind == "ack" and last["status"] == "REJECTED"
        assert alice_ws.wait_for("call:end", lambda d: d["callId"] == srv_call)["status"] == "REJECTED"
        assert carol_sio.wait_for("call:end", lambda d: d["callId"] == srv_call)["status"] == "REJECTED"

        time.sleep(SETTLE)
        assert not [name for name in eve_sio.names() if name.startswith("call:")], eve_sio.names()
    finally:
        for client in clients:
            client.close()


def test_restart_cannot_leave_a_call_ringing(server):
    srv = calls_server(server, ring_timeout_seconds=2)
    alice, bob = register_and_login(srv.url, "alice"), register_and_login(srv.url, "bob")
    call_id = create_call(srv, alice, [bob])["call"]["id"]
    srv.stop()
    time.sleep(2.5)
    srv.start()
    for user in (alice, bob):
        history = _call("GET", f"{_api(srv.url)}/calls", token=user["token"])
        assert [(c["id"], c["status"]) for c in history["data"]] == [(call_id, "MISSED")]


def test_bad_configuration_refuses_to_boot(server, monkeypatch):
    with pytest.raises(RuntimeError) as missing:
        server(modules={"messaging": {}, "calls": {}})
    assert "modules.calls.app_secret" in str(missing.value)
    with pytest.raises(RuntimeError) as short:
        server(modules={"messaging": {}, "calls": {"app_secret": "short-secret"}})
    assert "modules.calls.app_secret" in str(short.value) and "short-secret" not in str(short.value)
    # Shorter than HS256's digest (32 bytes): refused at boot (JWTKit asserts it when it signs the first token).
    with pytest.raises(RuntimeError) as weak:
        server(modules={"messaging": {}, "calls": {"app_secret": "twenty-four-bytes-secret"}})
    assert "at least 32 bytes" in str(weak.value)

    # The documented way: the secret comes from the environment and never appears in the log.
    monkeypatch.setenv("JITSI_APP_SECRET", SECRET)
    srv = server(modules={"messaging": {}, "calls": {"app_secret": "${JITSI_APP_SECRET}", "jitsi_domain": DOMAIN,
                                                      "app_id": "parleytest"}})
    alice, bob = register_and_login(srv.url, "alice"), register_and_login(srv.url, "bob")
    decode(create_call(srv, alice, [bob])["token"])
    assert SECRET not in srv.log()


def test_calls_off_means_no_routes_and_no_events(server):
    srv = server(modules={"messaging": {}})
    alice, bob = register_and_login(srv.url, "alice"), register_and_login(srv.url, "bob")
    _call("POST", f"{_api(srv.url)}/calls", token=alice["token"], body={"type": "VIDEO", "participantIds": [bob["id"]]},
          expect=(404,))
    client = SioClient(srv.url, alice["token"])
    try:
        kind, error = client.call("call:initiate", {"type": "VIDEO", "participantIds": [bob["id"]]})
        assert kind == "error" and error["code"] == "NOT_FOUND"
    finally:
        client.close()
