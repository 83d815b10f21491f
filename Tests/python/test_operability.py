"""Operability against the real binary: rate limits (headers, 429, recovery, one bucket for a REST send and its
realtime twin, X-Forwarded-For only from trusted proxies), Prometheus metrics that parse and move, document
001's health and JSON metrics, and SIGTERM during a burst of sends losing no acknowledged message."""

from __future__ import annotations

import re
import signal
import threading
import time

import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families

from conftest import HTTP_TIMEOUT, PASSWORD, _api, _call, create_room, join_room, register_and_login, storage_driver
from realtime_clients import SioClient

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def limited(**policies):
    return {"enabled": True, "policies": policies}


def login_request(srv, email, headers=None):
    return requests.post(f"{srv.api}/auth/login", json={"email": email, "password": PASSWORD}, headers=headers or {},
                         timeout=HTTP_TIMEOUT)


def test_rate_limit_headers_429_and_recovery(server):
    srv = server(rate_limits=limited(auth={"limit": 3, "window_seconds": 3, "per": "ip"}))
    # Registration itself is an auth request: register with limits off would hide that; instead use them up here.
    email = "limits@example.com"
    first = requests.post(f"{srv.api}/auth/register", json={"username": "limits", "email": email, "password": PASSWORD},
                          timeout=HTTP_TIMEOUT)
    assert first.status_code == 201
    assert first.headers["X-RateLimit-Limit"] == "3" and first.headers["X-RateLimit-Remaining"] == "2"
    assert first.headers["RateLimit-Policy"] == '"auth";q=3;w=3'
    assert re.fullmatch(r'"auth";r=2;t=\d+', first.headers["RateLimit"])
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 5  # a Unix time, as document 001 shows it

    remaining = [login_request(srv, email).headers["X-RateLimit-Remaining"] for _ in range(2)]
    assert remaining == ["1", "0"]
    refused = login_request(srv, email)
    assert refused.status_code == 429
    body = refused.json()
    assert body == {"success": False, "message": body["message"], "code": "RATE_LIMIT_EXCEEDED", "errors": []}
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 3
    assert refused.headers["X-RateLimit-Remaining"] == "0" and "RateLimit" in refused.headers

    # Other routes use other buckets: the default policy still answers.
    assert requests.get(f"{srv.api}/health", timeout=HTTP_TIMEOUT).status_code == 200

    time.sleep(retry_after + 0.1)
    recovered = login_request(srv, email)
    assert recovered.status_code == 200, recovered.text


def test_rest_send_and_realtime_twin_share_one_bucket_per_user(server):
    srv = server(rate_limits=limited(messages={"limit": 3, "window_seconds": 60, "per": "user"}))
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    client = SioClient(srv.url, alice["token"])
    try:
        for index in range(2):
            _call("POST", f"{srv.api}/messages", token=alice["token"], body={"roomId": room["id"], "content": f"rest {index}"})
        kind, _ = client.call("message:send", {"roomId": room["id"], "content": "third"})
        assert kind == "ack"
        kind, error = client.call("message:send", {"roomId": room["id"], "content": "fourth"})
        assert kind == "error" and error["code"] == "RATE_LIMIT_EXCEEDED" and 0 < error["retry_after_ms"] <= 20_000
        rest = requests.post(f"{srv.api}/messages", json={"roomId": room["id"], "content": "fifth"},
                             headers={"Authorization": f"Bearer {alice['token']}"}, timeout=HTTP_TIMEOUT)
        assert rest.status_code == 429 and rest.headers["RateLimit-Policy"] == '"messages";q=3;w=60'
        # Per user: Bob still has his whole bucket.
        _call("POST", f"{srv.api}/messages", token=bob["token"], body={"roomId": room["id"], "content": "bob's turn"})
        history = _call("GET", f"{srv.api}/messages/room/{room['id']}", token=bob["token"])
        assert [m["content"] for m in history["data"]] == ["bob's turn", "third", "rest 1", "rest 0"]
    finally:
        client.close()


def test_forwarded_for_counts_only_behind_a_trusted_proxy(server):
    policy = {"limit": 2, "window_seconds": 60, "per": "ip"}
    untrusted = server(rate_limits=limited(default=policy))
    statuses = [requests.get(f"{untrusted.api}/rooms", headers={"X-Forwarded-For": f"198.51.100.{i}"}, timeout=HTTP_TIMEOUT).status_code
                for i in range(3)]
    assert statuses == [401, 401, 429]  # a client can't mint fresh addresses with a header

    trusted = server(rate_limits={**limited(default=policy), "trusted_proxies": ["127.0.0.1"]})
    statuses = [requests.get(f"{trusted.api}/rooms", headers={"X-Forwarded-For": f"198.51.100.{i}"}, timeout=HTTP_TIMEOUT).status_code
                for i in range(3)]
    assert statuses == [401, 401, 401]  # behind our proxy, each forwarded client has its own bucket


def metric_samples(srv) -> dict:
    response = requests.get(f"{srv.url}/metrics", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_parse_and_move_when_messages_flow(server):
    srv = server()
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")
    room = create_room(srv.url, alice["token"])
    join_room(srv.url, bob["token"], room["id"])
    before = metric_samples(srv)
    listener = SioClient(srv.url, bob["token"])
    try:
        for index in range(5):
            _call("POST", f"{srv.api}/messages", token=alice["token"], body={"roomId": room["id"], "content": f"m{index}"})
        for index in range(5):
            listener.wait_for("message:received", lambda d, i=index: d["content"] == f"m{i}")
        after = metric_samples(srv)
        assert value(after, "parley_messages_received_total", kind="message") - value(before, "parley_messages_received_total", kind="message") == 5
        assert value(after, "parley_messages_delivered_total") - value(before, "parley_messages_delivered_total") >= 5
        route = dict(route="/api/v1/messages", method="POST", status="201")
        assert value(after, "parley_http_request_duration_seconds_count", **route) == 5
        assert value(after, "parley_message_delivery_seconds_count") >= 5
        assert value(after, "parley_broadcast_duration_seconds_count") >= 5
        assert value(after, "parley_realtime_connections", transport="socketio") == 1
        assert value(after, "parley_realtime_connections_opened_total", transport="socketio") >= 1
        assert value(after, "parley_storage_query_duration_seconds_count", operation="write", backend=storage_driver()) > 0
        assert value(after, "process_resident_memory_bytes") > 1_000_000 and value(after, "process_open_fds") > 0
        assert value(after, "parley_build_info", version=next(l for (n, l) in after if n == "parley_build_info")[0][1]) == 1
        # No user, room or e-mail ever becomes a label.
        for (name, labels) in after:
            for _, label_value in labels:
                assert not UUID.search(label_value) and "@" not in label_value, (name, labels)
    finally:
        listener.close()
    time.sleep(0.5)
    closed = metric_samples(srv)
    assert value(closed, "parley_realtime_connections", transport="socketio") == 0
    assert sum(v for (n, _), v in closed.items() if n == "parley_realtime_disconnects_total") >= 1

    health = _call("GET", f"{srv.api}/health")["data"]
    assert health["status"] == "healthy" and health["uptime"] >= 0
    ready = _call("GET", f"{srv.api}/health/ready")["data"]
    assert ready["status"] == "ready" and ready["checks"]["database"] == "connected"
    process = _call("GET", f"{srv.api}/metrics")
    assert process["success"] is True and process["data"]["process"]["memory"]["rss"] > 0


def test_sigterm_during_a_burst_loses_no_acknowledged_message(server):
    srv = server(server={"shutdown_grace_seconds": 5})
    alice = register_and_login(srv.url, "alice")
    room = create_room(srv.url, alice["token"])
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    # Realtime senders (acks) and REST senders (201s) both hammer the server while it is told to stop.
    sio = socketio.Client(reconnection=False)
    sio.connect(srv.url, auth={"token": alice["token"]}, transports=["websocket"], wait_timeout=5)

    def on_ack(data=None):
        if isinstance(data, dict) and data.get("id"):
            with lock:
                acked.append(data["id"])

    def realtime_sender():
        index = 0
        while not stop.is_set() and sio.connected:
            try:
                sio.emit("message:send", {"roomId": room["id"], "content": f"sio {index}"}, callback=on_ack)
            except Exception:
                return
            index += 1
            time.sleep(0.002)

    def rest_sender(worker):
        session = requests.Session()
        index = 0
        while not stop.is_set():
            try:
                response = session.post(f"{srv.api}/messages", json={"roomId": room["id"], "content": f"rest {worker}.{index}"},
                                        headers={"Authorization": f"Bearer {alice['token']}"}, timeout=5)
            except requests.RequestException:
                return
            if response.status_code == 201:
                with lock:
                    acked.append(response.json()["data"]["id"])
            index += 1

    threads = [threading.Thread(target=realtime_sender)] + [threading.Thread(target=rest_sender, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.time() + 10
    while len(acked) < 60 and time.time() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 60, "the burst never got going"
    srv.process.send_signal(signal.SIGTERM)
    exit_code = srv.process.wait(timeout=20)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    try:
        sio.disconnect()
    except Exception:
        pass
    assert exit_code == 0, srv.log()
    with lock:
        confirmed = set(acked)

    srv.start()
    stored = set()
    before = None
    while True:
        query = f"?limit=100&before={before}" if before else "?limit=100"
        page = _call("GET", f"{srv.api}/messages/room/{room['id']}{query}", token=alice["token"])
        stored.update(m["id"] for m in page["data"])
        before = page["pagination"].get("nextCursor")
        if not before:
            break
    missing = confirmed - stored
    assert not missing, f"{len(missing)} acknowledged messages lost of {len(confirmed)}"
