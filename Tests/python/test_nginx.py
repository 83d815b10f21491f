"""Debian's nginx in front of three `parley` nodes on one PostgreSQL (the README's configuration, `ip_hash`
stickiness): a python-socketio client on long-polling only completes a session through it, exchanging messages
with clients connected straight to each node, and `/ws` works through it too. PostgreSQL pass only."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import socketio

from cluster_support import WAIT, cluster, cluster_of  # noqa: F401 (fixtures)
from conftest import create_room, join_room, register_and_login, storage_driver
from realtime_clients import WsClient

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

pytestmark = [
    pytest.mark.skipif(storage_driver() != "postgres",
                       reason="three nodes need the postgres backplane (run with PARLEY_STORAGE_DRIVER=postgres)"),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/test installs it for the PostgreSQL pass)"),
]

# The README's example, with the ports and the prefix filled in.
CONFIG = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;

    upstream parley {{
        ip_hash;  # Socket.IO long-polling: every request of a session must reach the node that holds it
{servers}
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def nginx(cluster):  # noqa: F811
    # Outside pytest's private temp folder: nginx's workers (user nobody when started by root) use the temp paths.
    prefix = Path(tempfile.mkdtemp(prefix="parley-nginx-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir()
    (prefix / "tmp").chmod(0o777)
    port = _free_port()
    servers = "\n".join(f"        server 127.0.0.1:{node.port};" for node in cluster)
    (prefix / "nginx.conf").write_text(CONFIG.format(prefix=prefix, port=port, servers=servers))
    log = open(prefix / "stdout.log", "wb")
    # -e: the startup error log too (the default under /var/log is not writable when not root).
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(prefix / 'stdout.log').read_text()} {(prefix / 'error.log').read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", port, cluster
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop of master and workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(prefix, ignore_errors=True)


def test_long_polling_session_through_nginx_in_front_of_three_nodes(nginx):
    url, port, nodes = nginx
    alice = register_and_login(url, "alice")
    bob = register_and_login(url, "bob")
    room = create_room(url, alice["token"])
    join_room(url, bob["token"], room["id"])

    received: list = []
    polling = socketio.Client(reconnection=False)
    polling.on("message:received", lambda data: received.append(data))
    polling.connect(url, auth={"token": alice["token"]}, transports=["polling"], wait_timeout=10)
    # Bob straight on every node: whichever node nginx picked for alice, two of these are elsewhere.
    direct = [WsClient(node.port, bob["token"]) for node in nodes]
    through_nginx = WsClient(port, bob["token"])  # /ws through nginx needs no stickiness
    try:
        assert polling.transport() == "polling"
        for index in range(5):
            stored = polling.call("message:send", {"roomId": room["id"], "content": f"polled {index}"}, timeout=WAIT)
            for client in direct + [through_nginx]:
                client.wait_for("message:received", lambda d, id=stored["id"]: d["id"] == id, timeout=WAIT)
        for index, client in enumerate(direct):
            _, sent = client.call("message:send", {"roomId": room["id"], "content": f"from node {index}"})
            deadline = time.time() + WAIT
            while not any(m["id"] == sent["id"] for m in received) and time.time() < deadline:
                time.sleep(0.05)
            assert any(m["id"] == sent["id"] for m in received), f"the polling client never got node {index}'s message"
    finally:
        polling.disconnect()
        for client in direct + [through_nginx]:
            client.close()
