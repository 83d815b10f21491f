"""The webhooks module end to end against the real `parley` binary: outgoing deliveries to a real HTTP receiver
started by the test (signature checked with the documented recipe), a retry after a 500, a restart while a retry
is pending, a hanging receiver that does not slow sends, incoming webhook posts heard live over `/ws` and
Socket.IO, SSRF refusals, and every admin-only action refused for a plain member and a stranger.

Waits are bounded conditions (generous timeouts), never timed assertions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import HTTP_TIMEOUT, _call, create_room, join_room, parley_binary, register_and_login, send_message
from realtime_clients import SioClient, WsClient

GRACE = 0.5
WAIT = 20.0
# Loopback receivers need the SSRF guard relaxed; short retries keep the suite quick.
WEBHOOKS = {"allow_private_addresses": True, "retry_initial_seconds": 1, "retry_max_seconds": 2, "request_timeout_seconds": 3,
            "max_attempts": 4}
ALL_EVENTS = ["message.posted", "message.edited", "message.deleted", "member.joined", "member.left"]


def modules(**options) -> dict:
    return {"messaging": {}, "rooms": {}, "webhooks": {**WEBHOOKS, **options}}


def call(method: str, url: str, token: str | None, body: dict | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url, json=body, headers=headers, timeout=HTTP_TIMEOUT)


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The verification recipe documented in MODULES.md, as a receiver would write it."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    timestamp = parts["t"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(timestamp)) <= tolerance


def wait_until(condition, timeout: float = WAIT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """A real HTTP server on a free loopback port, recording every POST. `answers` is consumed one status per
    request (then `default`); the status "hang" holds the request open until `release()`."""

    def __init__(self, answers=(), default=200):
        self.answers = list(answers)
        self.default = default
        self.requests: list[dict] = []
        self.open = 0
        self._lock = threading.Condition()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                    record = {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "answer": answer,
                              "at": time.monotonic(), "path": self.path}
                    receiver.requests.append(record)
                    receiver.open += 1
                    receiver._lock.notify_all()
                try:
                    if answer == "hang":
                        receiver._released.wait(60)
                        answer = 200
                    try:
                        self.send_response(answer)
                        self.send_header("Content-Length", "2")
                        self.end_headers()
                        self.wfile.write(b"ok")
                    except OSError:
                        pass  # the sender gave up (its timeout)
                finally:
                    with receiver._lock:
                        receiver.open -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def set_default(self, status) -> None:
        with self._lock:
            self.default = status

    def received(self, predicate=lambda r: True) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def wait_for(self, predicate, count: int = 1, timeout: float = WAIT) -> list[dict]:
        return wait_until(lambda: (lambda found: found if len(found) >= count else None)(self.received(predicate)),
                          timeout, f"{count} matching deliveries; got {[json.loads(r['body'])['event'] for r in self.received()]}")

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def payload(record) -> dict:
    return json.loads(record["body"])


def of_event(event: str):
    return lambda r: r["headers"].get("parley-event") == event


def register_outgoing(srv, token, channel_id, url, events=ALL_EVENTS, expect=201) -> dict:
    response = call("POST", f"{srv.api}/webhooks/outgoing", token, {"channelId": channel_id, "url": url, "events": events})
    assert response.status_code == expect, response.text
    return response.json()["data"]


def deliveries(srv, token, webhook_id, status="all") -> list[dict]:
    return _call("GET", f"{srv.api}/webhooks/outgoing/{webhook_id}/deliveries?status={status}&limit=100", token=token)["data"]


def promote(srv, user) -> None:
    manifest = sorted(srv.directory.glob("parley-*.yaml"))[-1]
    done = subprocess.run([str(parley_binary()), "admin", "promote", user["id"], "--config", str(manifest)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_event_is_delivered_signed_and_logged(server):
    srv = server(modules=modules())
    receiver = Receiver()
    try:
        owner = register_and_login(srv.url, "owner")
        room = create_room(srv.url, owner["token"])
        rid = room["id"]
        hook = register_outgoing(srv, owner["token"], rid, receiver.url)
        secret = hook["secret"]
        assert secret and hook["channelId"] == rid and hook["events"] == ALL_EVENTS and hook["active"] is True
        # Only the answer that made it shows the secret.
        assert "secret" not in _call("GET", f"{srv.api}/webhooks/outgoing/{hook['id']}", token=owner["token"])["data"]
        posts_only = register_outgoing(srv, owner["token"], rid, receiver.url + "?only=posts", events=["message.posted"])

        member = register_and_login(srv.url, "member")
        join_room(srv.url, member["token"], rid)
        message = send_message(srv.url, member["token"], rid, "hello hooks")
        edited = _call("PATCH", f"{srv.api}/messages/{message['id']}", token=member["token"], body={"content": "hello, edited"})["data"]
        _call("DELETE", f"{srv.api}/messages/{message['id']}", token=member["token"])
        _call("POST", f"{srv.api}/rooms/{rid}/leave", token=member["token"])

        full = lambda r: r["path"] == "/hook"  # noqa: E731
        for event in ALL_EVENTS:
            receiver.wait_for(lambda r, e=event: full(r) and of_event(e)(r))
        for record in receiver.received(full):
            body = payload(record)
            headers = record["headers"]
            assert verify_signature(secret, headers["parley-signature"], record["body"]), headers
            assert not verify_signature("whsec_wrong", headers["parley-signature"], record["body"])
            assert headers["content-type"] == "application/json"
            assert body["id"] == headers["parley-delivery-id"] and body["event"] == headers["parley-event"]
            assert body["webhookId"] == hook["id"] == headers["parley-webhook-id"] and body["channelId"] == rid
        by_event = {payload(r)["event"]: payload(r)["data"] for r in receiver.received(full)}
        assert by_event["member.joined"] == {"channelId": rid, "userId": member["id"], "role": "MEMBER"}
        assert by_event["message.posted"]["message"]["id"] == message["id"]
        assert by_event["message.posted"]["message"]["content"] == "hello hooks"
        assert by_event["message.edited"]["message"]["content"] == edited["content"] == "hello, edited"
        assert by_event["message.edited"]["editedBy"] == member["id"]
        assert by_event["message.deleted"]["message"]["isDeleted"] is True and by_event["message.deleted"]["deletedBy"] == member["id"]
        assert by_event["member.left"] == {"channelId": rid, "userId": member["id"], "role": None}
        assert len(receiver.received(full)) == len(ALL_EVENTS)  # each once

        # The second webhook chose posts only.
        receiver.wait_for(lambda r: r["path"] != "/hook")
        time.sleep(GRACE)
        assert [payload(r)["event"] for r in receiver.received(lambda r: r["path"] != "/hook")] == ["message.posted"]

        # The delivery log: every delivery delivered on its first attempt, with the receiver's status.
        log = wait_until(lambda: (lambda d: d if len(d) == len(ALL_EVENTS) and all(x["status"] == "delivered" for x in d) else None)(
            deliveries(srv, owner["token"], hook["id"])), what="a delivered log")
        assert sorted(d["event"] for d in log) == sorted(ALL_EVENTS)
        assert all(d["attempts"] == 1 and d["attemptLog"][0]["statusCode"] == 200 and d["lastError"] is None for d in log)
        one = _call("GET", f"{srv.api}/webhooks/outgoing/{hook['id']}/deliveries/{log[0]['id']}", token=owner["token"])["data"]
        sent = [payload(r) for r in receiver.received(full) if payload(r)["id"] == one["id"]]
        assert one["payload"] == sent[0]

        # A failed edit (not the sender) announces nothing.
        other = send_message(srv.url, owner["token"], rid, "owner's")
        intruder = register_and_login(srv.url, "intruder")
        join_room(srv.url, intruder["token"], rid)
        assert call("PATCH", f"{srv.api}/messages/{other['id']}", intruder["token"], {"content": "hijack"}).status_code in (403, 404)
        receiver.wait_for(lambda r: full(r) and of_event("member.joined")(r) and payload(r)["data"]["userId"] == intruder["id"])
        time.sleep(GRACE)
        assert [payload(r)["data"]["message"]["id"] for r in receiver.received(lambda r: full(r) and of_event("message.edited")(r))] \
            == [message["id"]]
    finally:
        receiver.close()


def test_a_receiver_answering_500_then_200_gets_the_event_once_after_a_retry(server):
    srv = server(modules=modules())
    receiver = Receiver(answers=[500])
    try:
        owner = register_and_login(srv.url, "owner")
        rid = create_room(srv.url, owner["token"])["id"]
        hook = register_outgoing(srv, owner["token"], rid, receiver.url, events=["message.posted"])
        message = send_message(srv.url, owner["token"], rid, "retry me")
        first, second = receiver.wait_for(lambda r: True, count=2)
        assert first["answer"] == 500 and second["answer"] == 200
        # The same delivery both times (receivers drop repeats by its id), the attempt counted, signed anew.
        assert payload(first)["id"] == payload(second)["id"] == second["headers"]["parley-delivery-id"]
        assert first["body"] == second["body"] and payload(second)["data"]["message"]["id"] == message["id"]
        assert (first["headers"]["parley-delivery-attempt"], second["headers"]["parley-delivery-attempt"]) == ("1", "2")
        assert verify_signature(hook["secret"], second["headers"]["parley-signature"], second["body"])
        log = wait_until(lambda: (lambda d: d if d and d[0]["status"] == "delivered" else None)(deliveries(srv, owner["token"], hook["id"])))
        assert len(log) == 1 and log[0]["attempts"] == 2
        metrics = requests.get(f"{srv.url}/metrics", timeout=HTTP_TIMEOUT).text
        assert 'parley_webhook_attempts_total{outcome="retry"} 1' in metrics
        assert 'parley_webhook_attempts_total{outcome="delivered"} 1' in metrics
        assert [a["statusCode"] for a in log[0]["attemptLog"]] == [500, 200] and log[0]["attemptLog"][0]["error"] == "HTTP 500"
        time.sleep(GRACE + 2)  # longer than the retry step: nothing more comes once it was accepted
        assert len(receiver.received()) == 2
    finally:
        receiver.close()


def test_failures_stop_after_max_attempts_and_are_marked_failed(server):
    srv = server(modules=modules(max_attempts=2))
    receiver = Receiver(default=503)
    try:
        owner = register_and_login(srv.url, "owner")
        rid = create_room(srv.url, owner["token"])["id"]
        hook = register_outgoing(srv, owner["token"], rid, receiver.url, events=["message.posted"])
        send_message(srv.url, owner["token"], rid, "never accepted")
        failed = wait_until(lambda: deliveries(srv, owner["token"], hook["id"], status="failed"), what="a failed delivery")
        assert failed[0]["attempts"] == 2 and failed[0]["lastStatusCode"] == 503 and failed[0]["nextAttemptAt"] is None
        time.sleep(GRACE + 2)
        assert len(receiver.received()) == 2
        assert deliveries(srv, owner["token"], hook["id"], status="pending") == []
    finally:
        receiver.close()


def test_a_restart_while_a_retry_is_pending_still_delivers(server):
    # A long first backoff: the retry is certainly still pending when the server stops.
    srv = server(modules=modules(retry_initial_seconds=6, retry_max_seconds=6))
    receiver = Receiver(default=500)
    try:
        owner = register_and_login(srv.url, "owner")
        rid = create_room(srv.url, owner["token"])["id"]
        hook = register_outgoing(srv, owner["token"], rid, receiver.url, events=["message.posted"])
        message = send_message(srv.url, owner["token"], rid, "survive a restart")
        pending = wait_until(lambda: [d for d in deliveries(srv, owner["token"], hook["id"], status="pending") if d["attempts"] == 1],
                             what="a pending retry")
        assert pending[0]["nextAttemptAt"] is not None and pending[0]["lastStatusCode"] == 500
        srv.stop()
        receiver.set_default(200)
        stopped_at = time.monotonic()
        srv.start()
        accepted = receiver.wait_for(lambda r: r["answer"] == 200, timeout=30)[0]
        assert accepted["at"] > stopped_at
        assert payload(accepted)["id"] == pending[0]["id"] and payload(accepted)["data"]["message"]["id"] == message["id"]
        assert verify_signature(hook["secret"], accepted["headers"]["parley-signature"], accepted["body"])
        log = wait_until(lambda: (lambda d: d if d and d[0]["status"] == "delivered" else None)(deliveries(srv, owner["token"], hook["id"])))
        assert log[0]["attempts"] >= 2 and log[0]["attemptLog"][-1]["statusCode"] == 200
        assert len(receiver.received(lambda r: r["answer"] == 200)) == 1
    finally:
        receiver.close()


def test_a_hanging_receiver_does_not_slow_sends_or_fan_out(server):
    srv = server(modules=modules(request_timeout_seconds=20))
    receiver = Receiver(default="hang")
    try:
        owner = register_and_login(srv.url, "owner")
        listener = register_and_login(srv.url, "listener")
        rid = create_room(srv.url, owner["token"])["id"]
        join_room(srv.url, listener["token"], rid)
        ws = WsClient(srv.port, listener["token"])
        try:
            def timed_sends(label: str, count: int = 8) -> list[float]:
                latencies = []
                for index in range(count):
                    started = time.monotonic()
                    sent = send_message(srv.url, owner["token"], rid, f"{label} {index}")
                    latencies.append(time.monotonic() - started)
                    ws.wait_for("message:received", lambda d, i=sent["id"]: d["id"] == i)
                return latencies

            baseline = timed_sends("no webhook")
            register_outgoing(srv, owner["token"], rid, receiver.url, events=["message.posted"])
            with_hanging = timed_sends("hanging receiver")
            # Every send returned (and was heard live) while the receiver still held deliveries open, unanswered.
            receiver.wait_for(lambda r: True, count=1)
            assert receiver.open > 0
            baseline_median = sorted(baseline)[len(baseline) // 2]
            hanging_median = sorted(with_hanging)[len(with_hanging) // 2]
            print(f"send latency median: {baseline_median * 1000:.1f} ms without a webhook, "
                  f"{hanging_median * 1000:.1f} ms with a hanging receiver ({receiver.open} requests held open)")
            # Generous: a send that waited for the receiver would take the 20 s timeout.
            assert max(with_hanging) < 10
        finally:
            ws.close()
    finally:
        receiver.close()


def test_incoming_webhook_posts_live_for_members_and_can_be_revoked(server):
    srv = server(modules=modules())
    owner = register_and_login(srv.url, "owner")
    member = register_and_login(srv.url, "member")
    rid = create_room(srv.url, owner["token"])["id"]
    join_room(srv.url, member["token"], rid)
    ws = WsClient(srv.port, member["token"])
    sio = SioClient(srv.url, member["token"])
    try:
        made = call("POST", f"{srv.api}/webhooks/incoming", owner["token"], {"channelId": rid, "name": "CI bot"})
        assert made.status_code == 201, made.text
        hook = made.json()["data"]
        assert hook["name"] == "CI bot" and hook["channelId"] == rid and hook["revokedAt"] is None
        url = srv.url + hook["path"]
        assert _call("GET", f"{srv.api}/rooms/{rid}", token=owner["token"])["data"]["memberCount"] == 3
        assert hook["token"] in url
        listed = _call("GET", f"{srv.api}/webhooks/incoming?channelId={rid}", token=owner["token"])["data"]
        assert [h["id"] for h in listed] == [hook["id"]] and "token" not in listed[0]

        posted = requests.post(url, json={"text": "deploy finished", "username": "deployer"}, timeout=HTTP_TIMEOUT)
        assert posted.status_code == 201, posted.text
        message = posted.json()["data"]
        assert message["senderId"] == hook["botUserId"] and message["roomId"] == rid
        assert message["metadata"]["webhook"] == {"id": hook["id"], "name": "CI bot", "username": "deployer"}
        for client in (ws, sio):
            heard = client.wait_for("message:received", lambda d: d["id"] == message["id"])
            assert heard["content"] == "deploy finished" and heard["senderId"] == hook["botUserId"]
        history = _call("GET", f"{srv.api}/messages/room/{rid}?limit=10", token=member["token"])["data"]
        assert [m["content"] for m in history] == ["deploy finished"]

        # Bad input names the field; a wrong token is a 404; no bearer token is needed or used.
        for body, field in [({}, "text"), ({"text": "   "}, "text"), ({"text": "x", "username": ""}, "username")]:
            refused = requests.post(url, json=body, timeout=HTTP_TIMEOUT)
            assert refused.status_code == 400 and [e["field"] for e in refused.json()["errors"]] == [field], refused.text
        assert requests.post(srv.url + hook["path"][:-4] + "0000", json={"text": "x"}, timeout=HTTP_TIMEOUT).status_code == 404
        assert requests.post(f"{srv.api}/webhooks/hooks/not-a-token", json={"text": "x"}, timeout=HTTP_TIMEOUT).status_code == 404

        revoked = call("DELETE", f"{srv.api}/webhooks/incoming/{hook['id']}", owner["token"])
        assert revoked.status_code == 200 and revoked.json()["data"]["revokedAt"] is not None
        assert requests.post(url, json={"text": "after revoke"}, timeout=HTTP_TIMEOUT).status_code == 404
        assert call("DELETE", f"{srv.api}/webhooks/incoming/{hook['id']}", owner["token"]).status_code == 409
        # The bot left the room with the revocation (it had joined it to post).
        assert _call("GET", f"{srv.api}/rooms/{rid}", token=owner["token"])["data"]["memberCount"] == 2
    finally:
        ws.close()
        sio.close()


def test_incoming_posts_are_rate_limited(server):
    srv = server(modules=modules(), rate_limits={"enabled": True, "policies": {"webhooks_incoming": {"limit": 2, "window_seconds": 60, "per": "ip"}}})
    owner = register_and_login(srv.url, "owner")
    rid = create_room(srv.url, owner["token"])["id"]
    hook = _call("POST", f"{srv.api}/webhooks/incoming", token=owner["token"], body={"channelId": rid, "name": "noisy"})["data"]
    statuses = [requests.post(srv.url + hook["path"], json={"text": f"n{i}"}, timeout=HTTP_TIMEOUT).status_code for i in range(3)]
    assert statuses == [201, 201, 429]


def test_admin_only_actions_are_refused_for_a_plain_member_and_strangers(server):
    srv = server(modules=modules())
    receiver = Receiver()
    try:
        owner = register_and_login(srv.url, "owner")
        member = register_and_login(srv.url, "member")
        stranger = register_and_login(srv.url, "stranger")
        staff = register_and_login(srv.url, "staff")
        rid = create_room(srv.url, owner["token"])["id"]
        join_room(srv.url, member["token"], rid)
        hook = register_outgoing(srv, owner["token"], rid, receiver.url)
        incoming = _call("POST", f"{srv.api}/webhooks/incoming", token=owner["token"], body={"channelId": rid, "name": "bot"})["data"]
        send_message(srv.url, owner["token"], rid, "something to deliver")
        delivery = wait_until(lambda: deliveries(srv, owner["token"], hook["id"]))[0]

        out, inc = f"{srv.api}/webhooks/outgoing", f"{srv.api}/webhooks/incoming"
        actions = [
            ("POST", out, {"channelId": rid, "url": receiver.url, "events": ["message.posted"]}),
            ("GET", f"{out}?channelId={rid}", None),
            ("GET", f"{out}/{hook['id']}", None),
            ("PATCH", f"{out}/{hook['id']}", {"active": False}),
            ("POST", f"{out}/{hook['id']}/secret", None),
            ("GET", f"{out}/{hook['id']}/deliveries", None),
            ("GET", f"{out}/{hook['id']}/deliveries/{delivery['id']}", None),
            ("DELETE", f"{out}/{hook['id']}", None),
            ("POST", inc, {"channelId": rid, "name": "mine"}),
            ("GET", f"{inc}?channelId={rid}", None),
            ("GET", f"{inc}/{incoming['id']}", None),
            ("DELETE", f"{inc}/{incoming['id']}", None),
        ]
        for method, url, body in actions:
            assert call(method, url, member["token"], body).status_code == 403, (method, url)
            assert call(method, url, stranger["token"], body).status_code == 404, (method, url)
            assert call(method, url, None, body).status_code == 401, (method, url)
        # Lists without a channel: a user who administers none is refused.
        assert call("GET", out, member["token"]).status_code == 403 and call("GET", inc, member["token"]).status_code == 403
        # A webhook for every channel: server admins only.
        every = {"url": receiver.url, "events": ["message.posted"]}
        assert call("POST", out, owner["token"], every).status_code == 403
        promote(srv, staff)
        made = call("POST", out, staff["token"], every)
        assert made.status_code == 201 and made.json()["data"]["channelId"] is None
        # A server admin manages any channel's webhooks without being a member, and sees every webhook.
        assert call("GET", f"{out}/{hook['id']}/deliveries", staff["token"]).status_code == 200
        assert {h["id"] for h in _call("GET", out, token=staff["token"])["data"]} == {hook["id"], made.json()["data"]["id"]}
        assert call("GET", f"{out}/{made.json()['data']['id']}", owner["token"]).status_code == 403
        # Still everything intact after the refusals.
        assert _call("GET", f"{out}/{hook['id']}", token=owner["token"])["data"]["active"] is True
        # The global webhook hears the room too.
        send_message(srv.url, member["token"], rid, "for everyone")
        receiver.wait_for(lambda r: payload(r)["webhookId"] == made.json()["data"]["id"])
    finally:
        receiver.close()


def test_private_addresses_are_refused_at_registration_and_at_delivery(server):
    receiver = Receiver()
    srv = server(modules={"messaging": {}, "rooms": {}, "webhooks": {}})
    try:
        owner = register_and_login(srv.url, "owner")
        rid = create_room(srv.url, owner["token"])["id"]
        for url in [receiver.url, "http://localhost:9/x", "http://[::1]:9/", "http://10.0.0.5/", "http://169.254.169.254/latest/meta-data"]:
            refused = call("POST", f"{srv.api}/webhooks/outgoing", owner["token"], {"channelId": rid, "url": url, "events": ["message.posted"]})
            assert refused.status_code == 400, (url, refused.text)
            assert [e["field"] for e in refused.json()["errors"]] == ["url"] and "private" in refused.json()["errors"][0]["message"]

        # Allowed while the option is on; switched off later, the delivery itself is refused (checked per attempt).
        srv.manifest["modules"]["webhooks"] = {"allow_private_addresses": True, "max_attempts": 1}
        srv.restart()
        hook = register_outgoing(srv, owner["token"], rid, receiver.url, events=["message.posted"])
        srv.manifest["modules"]["webhooks"] = {"max_attempts": 1}
        srv.restart()
        send_message(srv.url, owner["token"], rid, "to a private address")
        failed = wait_until(lambda: deliveries(srv, owner["token"], hook["id"], status="failed"), what="a refused delivery")
        assert "not sent" in failed[0]["lastError"] and "127.0.0.1" in failed[0]["lastError"] and failed[0]["lastStatusCode"] is None
        assert receiver.received() == []
        bad = call("PATCH", f"{srv.api}/webhooks/outgoing/{hook['id']}", owner["token"], {"url": receiver.url})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "url"
    finally:
        receiver.close()


def test_bad_input_names_the_field(server):
    srv = server(modules=modules())
    owner = register_and_login(srv.url, "owner")
    rid = create_room(srv.url, owner["token"])["id"]
    out = f"{srv.api}/webhooks/outgoing"
    cases = [
        ({"channelId": rid, "events": ["message.posted"]}, ["url"]),
        ({"channelId": rid, "url": "ftp://example.com/x", "events": ["message.posted"]}, ["url"]),
        ({"channelId": rid, "url": "not a url", "events": ["message.posted"]}, ["url"]),
        ({"channelId": rid, "url": "https://user:pw@example.com/", "events": ["message.posted"]}, ["url"]),
        ({"channelId": rid, "url": "https://example.com/"}, ["events"]),
        ({"channelId": rid, "url": "https://example.com/", "events": []}, ["events"]),
        ({"channelId": rid, "url": "https://example.com/", "events": ["message.sent"]}, ["events"]),
        ({"channelId": "nope", "url": "https://example.com/", "events": ["message.posted"]}, ["channelId"]),
        ({"channelId": rid, "url": "https://example.com/", "events": ["message.posted"], "description": "x" * 600}, ["description"]),
    ]
    for body, fields in cases:
        refused = call("POST", out, owner["token"], body)
        assert refused.status_code == 400, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == fields, (body, refused.text)
    wrong_type = call("POST", out, owner["token"], {"channelId": rid, "url": "https://example.com/", "events": "message.posted"})
    assert wrong_type.status_code == 400 and "events" in wrong_type.text
    hook = register_outgoing(srv, owner["token"], rid, "http://127.0.0.1:9/hook", events=["message.posted"])
    assert call("PATCH", f"{out}/{hook['id']}", owner["token"], {"events": ["nope"]}).json()["errors"][0]["field"] == "events"
    assert call("GET", f"{out}/{hook['id']}/deliveries?status=bogus", owner["token"]).json()["errors"][0]["field"] == "status"
    assert call("GET", f"{out}?channelId=zzz", owner["token"]).json()["errors"][0]["field"] == "channelId"
    assert call("GET", f"{out}/{uuid.uuid4()}", owner["token"]).status_code == 404
    inc = f"{srv.api}/webhooks/incoming"
    assert [e["field"] for e in call("POST", inc, owner["token"], {"channelId": rid}).json()["errors"]] == ["name"]
    assert [e["field"] for e in call("POST", inc, owner["token"], {"name": "x"}).json()["errors"]] == ["channelId"]
    assert [e["field"] for e in call("POST", inc, owner["token"], {"channelId": rid, "name": "x" * 81}).json()["errors"]] == ["name"]
    patched = call("PATCH", f"{out}/{hook['id']}", owner["token"], {"description": "ci", "active": False})
    assert patched.status_code == 200 and patched.json()["data"]["description"] == "ci" and patched.json()["data"]["active"] is False
    rotated = call("POST", f"{out}/{hook['id']}/secret", owner["token"])
    assert rotated.status_code == 200 and rotated.json()["data"]["secret"].startswith("whsec_")
    assert call("DELETE", f"{out}/{hook['id']}", owner["token"]).status_code == 200
    assert call("GET", f"{out}/{hook['id']}", owner["token"]).status_code == 404


def test_check_config_accepts_the_module_and_names_bad_options(tmp_path):
    manifest = tmp_path / "parley.yaml"
    for options, key in [({"max_attempts": 0}, "max_attempts"), ({"request_timeout_seconds": 0}, "request_timeout_seconds"),
                         ({"retry_initial_seconds": 10, "retry_max_seconds": 5}, "retry_max_seconds"), ({"allow_private": True}, "allow_private")]:
        manifest.write_text(json.dumps({"storage": {"path": str(tmp_path / "p.sqlite")}, "modules": {"messaging": {}, "webhooks": options}}))
        checked = subprocess.run([str(parley_binary()), "check-config", str(manifest)], capture_output=True, text=True, timeout=30)
        assert checked.returncode != 0 and f"modules.webhooks.{key}" in checked.stdout + checked.stderr, checked.stdout + checked.stderr
    manifest.write_text(json.dumps({"storage": {"path": str(tmp_path / "p.sqlite")}, "modules": {"messaging": {}, "webhooks": {}}}))
    checked = subprocess.run([str(parley_binary()), "check-config", str(manifest)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = subprocess.run([str(parley_binary()), "modules", "--config", str(manifest)], capture_output=True, text=True, timeout=30)
    assert any(line.split()[:2] == ["webhooks", "enabled"] for line in listed.stdout.splitlines()), listed.stdout
