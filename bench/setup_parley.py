#!/usr/bin/env python3
"""Prepare a running Parley for parley-bench: register users, create rooms, join, write tokens + room ids.

usage: setup_parley.py BASE_URL OUT.json --users N --rooms R [--idle-users K] [--rooms-per-user P]
                      [--room-sizes A,B,..] [--parallel T]
User i joins room i % R, so the generator's client i (token i) is a member of rooms[i % R].
--rooms-per-user P: user i joins rooms (P*i + j) % R for j < P (parley-bench --rooms-per-user uses the same rule).
--room-sizes A,B: rooms by index ranges: users 0..A-1 in room 0, the next B in room 1 (--users is their sum).
The idle users join no room (for the idle-connection RSS measurement: no presence fan-out).
Standard library only (urllib), so the system python3 runs it.
"""
import argparse, json, sys, urllib.request, uuid
from concurrent.futures import ThreadPoolExecutor

def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code} {e.read()[:300]!r}")

def user(base, tag, i):
    name = f"b{tag}_{i}"
    email = f"{name}@bench.local"
    call(base, "POST", "/auth/register", {"username": name, "email": email, "password": "Bench1234"})
    return call(base, "POST", "/auth/login", {"email": email, "password": "Bench1234"})["data"]["accessToken"]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base"); ap.add_argument("out")
    ap.add_argument("--users", type=int, default=50); ap.add_argument("--rooms", type=int, default=1)
    ap.add_argument("--idle-users", type=int, default=1)
    ap.add_argument("--rooms-per-user", type=int, default=1)
    ap.add_argument("--room-sizes", default=None)
    ap.add_argument("--parallel", type=int, default=8)
    a = ap.parse_args()
    sizes = [int(x) for x in a.room_sizes.split(",")] if a.room_sizes else None
    if sizes:
        a.rooms, a.users = len(sizes), sum(sizes)
    def rooms_of(i):
        # Must match parley-bench's roomsOf(user:).
        if sizes:
            for r, end in enumerate(__import__("itertools").accumulate(sizes)):
                if i < end: return [r]
        return list(dict.fromkeys((a.rooms_per_user * i + j) % a.rooms for j in range(a.rooms_per_user)))
    tag = uuid.uuid4().hex[:6]
    with ThreadPoolExecutor(a.parallel) as pool:
        tokens = list(pool.map(lambda i: user(a.base, tag, i), range(a.users)))
        idle = list(pool.map(lambda i: user(a.base, tag + "i", i), range(a.idle_users)))
    # Each room is created by one of its own members (the creator is a member; the join below then gets a 409).
    creator = {}
    for i in range(a.users):
        for r in rooms_of(i): creator.setdefault(r, i)
    rooms = [call(a.base, "POST", "/rooms", {"name": f"bench-{tag}-{r}"}, tokens[creator.get(r, r % len(tokens))])["data"]["id"]
             for r in range(a.rooms)]
    def join(pair):
        i, r = pair
        # the creator may already be a member; joining again is harmless or a CONFLICT we ignore
        req = urllib.request.Request(f"{a.base}/api/v1/rooms/{rooms[r]}/join", data=b"{}", method="POST")
        req.add_header("Content-Type", "application/json"); req.add_header("Authorization", "Bearer " + tokens[i])
        try:
            urllib.request.urlopen(req, timeout=30).read()
        except urllib.error.HTTPError as e:
            if e.code != 409:
                sys.exit(f"join: HTTP {e.code} {e.read()[:300]!r}")
    with ThreadPoolExecutor(a.parallel) as pool:
        list(pool.map(join, [(i, r) for i in range(a.users) for r in rooms_of(i)]))
    json.dump({"tokens": tokens, "rooms": rooms, "idleTokens": idle}, open(a.out, "w"))
    print(f"setup: {a.users} users in {a.rooms} rooms, {a.idle_users} idle users -> {a.out}")

if __name__ == "__main__":
    main()
