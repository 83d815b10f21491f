"""The peer reference: python-socketio AsyncServer on aiohttp doing the same room broadcast as Parley.

From /work/shared/research/peers.md (sio_peer.py), with one change for parity: the broadcast skips the
sender's own connection (skip_sid), as Parley and bench-ceiling do.
usage: python sio_peer.py aiohttp PORT
"""
import sys, socketio
mode, port = sys.argv[1], int(sys.argv[2])
sio = socketio.AsyncServer(async_mode="asgi" if mode == "asgi" else "aiohttp", cors_allowed_origins="*")
@sio.event
async def connect(sid, environ, auth):
    await sio.save_session(sid, {"user": (auth or {}).get("user", "anon")})
@sio.event
async def joinRoom(sid, room):
    await sio.enter_room(sid, room); return {"ok": True}
@sio.event
async def leaveRoom(sid, room):
    await sio.leave_room(sid, room)
@sio.event
async def message(sid, data):
    s = await sio.get_session(sid)
    await sio.emit("message", {"room": data["room"], "from": s["user"], "content": data["content"],
                               "ts": data.get("ts")}, room=data["room"], skip_sid=sid)
if mode == "asgi":
    import uvicorn
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning",
                loop="uvloop", http="httptools", ws="websockets")
else:
    from aiohttp import web
    app = web.Application(); sio.attach(app); web.run_app(app, host="127.0.0.1", port=port, print=None)
