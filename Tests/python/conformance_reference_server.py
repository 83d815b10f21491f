"""Reference server for the Engine.IO / Socket.IO conformance tests.

A small aiohttp application built on python-engineio and python-socketio that is configured the way the
official conformance suites require (see shared research notes, section 4.1):

* ``/engine.io/``  raw Engine.IO server that echoes every message back unchanged (text or binary);
* ``/socket.io/``  Socket.IO server with the suite handlers:
    - on connection to ``/`` and ``/custom``: ``emit("auth", <handshake auth>)``;
    - ``message`` -> ``emit("message-back", *args)``;
    - ``message-with-ack`` -> ack with the same args;
    - every other namespace is unknown;
* ping interval 300 ms, ping timeout 200 ms, max payload 1 000 000 bytes, CORS ``*``.

It exists only to validate the Python conformance tests before Parley's own Engine.IO/Socket.IO server is
ready; python-socketio deviates from the reference (JS) server in several places, so some conformance
cases are expected to fail against it (recorded in the test modules' docstrings).

Run:  python conformance_reference_server.py [--host 127.0.0.1] [--port 0]
It prints ``Reference conformance server listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import engineio
import socketio
from aiohttp import web

PING_INTERVAL_S = 0.3
PING_TIMEOUT_S = 0.2
MAX_PAYLOAD = 1_000_000


def build_app() -> web.Application:
    app = web.Application()

    # --- Engine.IO: raw echo at /engine.io/ ------------------------------------------------------------
    eio = engineio.AsyncServer(
        async_mode="aiohttp",
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_TIMEOUT_S,
        max_http_buffer_size=MAX_PAYLOAD,
        cors_allowed_origins="*",
    )

    @eio.on("message")
    async def eio_message(sid, data):  # noqa: ANN001 - python-engineio handler signature
        await eio.send(sid, data)

    eio.attach(app, engineio_path="engine.io")

    # --- Socket.IO at /socket.io/ --------------------------------------------------------------------------
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_TIMEOUT_S,
        max_http_buffer_size=MAX_PAYLOAD,
        cors_allowed_origins="*",
        namespaces=["/", "/custom"],
    )

    @sio.on("connect")
    async def sio_connect(sid, environ, auth):  # noqa: ANN001
        await sio.emit("auth", auth if auth is not None else {}, to=sid)

    @sio.on("connect", namespace="/custom")
    async def sio_connect_custom(sid, environ, auth):  # noqa: ANN001
        await sio.emit("auth", auth if auth is not None else {}, to=sid, namespace="/custom")

    @sio.on("message")
    async def sio_message(sid, *args):  # noqa: ANN001
        await sio.emit("message-back", args, to=sid)

    @sio.on("message-with-ack")
    async def sio_message_with_ack(sid, *args):  # noqa: ANN001
        return args

    sio.attach(app, socketio_path="socket.io")
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(build_app())
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    actual_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"Reference conformance server listening on http://{host}:{actual_port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
