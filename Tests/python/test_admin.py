"""Administrators (issue 16): `parley admin create|promote` against the real database, the admin API refusing
everyone else, deactivation ending sessions and sockets at once, and `auth.registration: open|invite|closed`."""

from __future__ import annotations

import subprocess
import uuid

import requests
import websocket

from conftest import HTTP_TIMEOUT, PASSWORD, login, parley_binary, register_and_login

ADMIN_PASSWORD = "Admin-Passw0rd"


def manifest_path(srv):
    return sorted(srv.directory.glob("parley-*.yaml"))[-1]


def admin_cli(srv, *args, password: str | None = None):
    return subprocess.run([str(parley_binary()), "admin", *args, "--config", str(manifest_path(srv))], input=password,
                          capture_output=True, text=True, timeout=60)


def make_admin(srv) -> dict:
    name = f"root_{uuid.uuid4().hex[:6]}"
    created = admin_cli(srv, "create", "--username", name, "--email", f"{name}@example.com", password=ADMIN_PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    data = login(srv.url, f"{name}@example.com", ADMIN_PASSWORD)
    return {"id": data["user"]["id"], "token": data["accessToken"], "username": name}


def call(srv, method, path, token, body=None):
    return requests.request(method, f"{srv.api}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)


def test_admin_cli_api_and_who_may_use_it(server):
    srv = server()
    admin = make_admin(srv)
    alice = register_and_login(srv.url, "alice")
    bob = register_and_login(srv.url, "bob")

    # Every admin route refuses a plain user (403) and an anonymous caller (401), before reading anything.
    routes = [("GET", "/admin/users", None), ("PUT", f"/admin/users/{bob['id']}/role", {"role": "ADMIN"}),
              ("POST", f"/admin/users/{bob['id']}/deactivate", None), ("POST", f"/admin/users/{bob['id']}/reactivate", None),
              ("POST", "/admin/invites", {})]
    for method, path, body in routes:
        refused = call(srv, method, path, alice["token"], body)
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN", (path, refused.text)
        assert requests.request(method, f"{srv.api}{path}", json=body, timeout=HTTP_TIMEOUT).status_code == 401
    assert call(srv, "GET", f"/users/{bob['id']}", bob["token"]).json()["data"]["username"] == bob["username"]  # nothing changed

    listed = call(srv, "GET", "/admin/users?query=alice", admin["token"])
    assert listed.status_code == 200 and [u["id"] for u in listed.json()["data"]] == [alice["id"]]
    assert listed.json()["data"][0]["role"] == "USER" and listed.json()["data"][0]["deactivated"] is False

    # Promotion by the API and by the CLI.
    promoted = call(srv, "PUT", f"/admin/users/{alice['id']}/role", admin["token"], {"role": "ADMIN"})
    assert promoted.status_code == 200 and promoted.json()["data"]["role"] == "ADMIN"
    assert call(srv, "GET", "/admin/users", alice["token"]).status_code == 200
    assert call(srv, "PUT", f"/admin/users/{alice['id']}/role", admin["token"], {"role": "OWNER"}).status_code == 400
    cli = admin_cli(srv, "promote", bob["username"])
    assert cli.returncode == 0, cli.stderr
    assert call(srv, "GET", "/admin/users", bob["token"]).status_code == 200
    assert admin_cli(srv, "promote", "nobody-at-all").returncode != 0


def test_deactivation_ends_sessions_and_sockets_at_once(server):
    srv = server()
    admin = make_admin(srv)
    carol = register_and_login(srv.url, "carol")
    ws = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/ws?token={carol['token']}", timeout=5)
    deactivated = call(srv, "POST", f"/admin/users/{carol['id']}/deactivate", admin["token"])
    assert deactivated.status_code == 200 and deactivated.json()["data"]["deactivated"] is True
    ws.settimeout(5)
    closed = False
    try:
        while True:
            frame = ws.recv_data_frame(control_frame=True)[1]  # until the server closes it (not a timeout)
            if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                closed = True
                break
    except websocket.WebSocketTimeoutException:
        closed = False
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        closed = True
    assert closed, "the deactivated user's socket stayed open"
    assert call(srv, "GET", "/auth/me", carol["token"]).status_code == 401
    refused = requests.post(f"{srv.api}/auth/login", json={"email": carol["email"], "password": PASSWORD}, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 401
    assert call(srv, "POST", f"/admin/users/{carol['id']}/reactivate", admin["token"]).status_code == 200
    assert requests.post(f"{srv.api}/auth/login", json={"email": carol["email"], "password": PASSWORD}, timeout=HTTP_TIMEOUT).status_code == 200
    # An administrator cannot lock themself out.
    assert call(srv, "POST", f"/admin/users/{admin['id']}/deactivate", admin["token"]).status_code == 400


def test_registration_closed_and_by_invite(server):
    closed = server(auth={"registration": "closed"})
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    refused = requests.post(f"{closed.api}/auth/register", json=body, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 403 and "closed" in refused.json()["message"]
    make_admin(closed)  # the operator is never refused

    invite = server(auth={"registration": "invite"})
    admin = make_admin(invite)
    missing = requests.post(f"{invite.api}/auth/register", json=body, timeout=HTTP_TIMEOUT)
    assert missing.status_code == 400 and [e["field"] for e in missing.json()["errors"]] == ["inviteCode"]
    created = call(invite, "POST", "/admin/invites", admin["token"], {"expiresInHours": 2})
    assert created.status_code == 201
    code = created.json()["data"]["code"]
    accepted = requests.post(f"{invite.api}/auth/register", json={**body, "inviteCode": code}, timeout=HTTP_TIMEOUT)
    assert accepted.status_code == 201, accepted.text
    again = requests.post(f"{invite.api}/auth/register", json={**body, "username": "second", "email": "second@example.com",
                                                              "inviteCode": code}, timeout=HTTP_TIMEOUT)
    assert again.status_code == 400 and [e["field"] for e in again.json()["errors"]] == ["inviteCode"]
