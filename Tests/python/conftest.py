"""Shared fixtures for the Python interop tests: the real `parley` binary on a free port, and REST helpers.

The binary comes from $PARLEY_BINARY (scripts/test sets it to `$(swift build --show-bin-path)/parley`), else
`.build/debug/parley` in the repository. Every server is started with its own manifest and SQLite file in a
temporary directory (or, on PostgreSQL, its own schema) and is always stopped (SIGTERM, then SIGKILL after a deadline) at teardown.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "Passw0rdTest"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0
TEST_TIMEOUT = 120  # seconds; pytest-timeout fails a test that runs longer (no test may hang CI)
LISTENING = re.compile(r"Parley listening on http://([^:\s]+):(\d+)")
SURFACE_LISTENING = r"Parley surface {name} listening on http://([^:\s]+):(\d+)"


def parley_binary() -> Path:
    path = Path(os.environ.get("PARLEY_BINARY") or REPO / ".build" / "debug" / "parley")
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeError(f"parley binary not found at {path}: build it (swift build) or set PARLEY_BINARY")
    return path


def _merge(base: dict, extra: dict) -> dict:
    """Deep-merges `extra` into a copy of `base` (mappings merge, anything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class ParleyServer:
    """One `parley serve` process. `stop()` then `start()` (or `restart()`) keeps the port and the database."""

    def __init__(self, directory: Path, manifest: dict):
        self.directory = directory
        self.manifest = manifest
        self.port = int(manifest["server"].get("port", 0))
        self.host = manifest["server"].get("host", "127.0.0.1")
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._runs = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def start(self) -> "ParleyServer":
        assert self.process is None or self.process.poll() is not None, "already running"
        self._runs += 1
        # JSON is YAML: the manifest is written as JSON so nested sections need no YAML library.
        manifest = _merge(self.manifest, {"server": {"port": self.port}})
        manifest_path = self.directory / f"parley-{self._runs}.yaml"
        manifest_path.write_text(json.dumps(manifest, indent=2))
        self.log_path = self.directory / f"server-{self._runs}.log"
        with open(self.log_path, "wb") as log:
            # Output goes to a file, not a pipe, so a chatty server can never block on a full pipe.
            self.process = subprocess.Popen(
                [str(parley_binary()), "serve", "--config", str(manifest_path)],
                cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log())
            if match:
                self.port = int(match.group(2))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"parley did not start (exit {self.process.returncode}); log:\n{self.log()}")

    def stop(self) -> int | None:
        """SIGTERM, wait for exit (SIGKILL after STOP_TIMEOUT); returns the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        return process.returncode

    def surface_url(self, name: str, timeout: float = START_TIMEOUT) -> str:
        """The base URL of a surface's own listener (e.g. `profile_simple`), from the startup log of this run."""
        pattern = re.compile(SURFACE_LISTENING.format(name=re.escape(name)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.log())
            if match:
                return f"http://{match.group(1)}:{match.group(2)}"
            time.sleep(0.05)
        raise AssertionError(f"no listener for surface {name} in the log:\n{self.log()}")

    def restart(self) -> "ParleyServer":
        self.stop()
        return self.start()


DEFAULT_MODULES = {"messaging": {}, "rooms": {}}


def storage_driver() -> str:
    """`postgres` when the suite runs on PostgreSQL (scripts/test sets PARLEY_STORAGE_DRIVER and _URL), else `sqlite`."""
    if os.environ.get("PARLEY_STORAGE_DRIVER") == "postgres" and os.environ.get("PARLEY_STORAGE_URL"):
        return "postgres"
    return "sqlite"


def storage_section(directory: Path) -> dict:
    """A SQLite file in `directory`, or on PostgreSQL a schema of its own (named after `directory`, so a
    restarted server finds its data and every other server starts empty)."""
    section = {"path": str(directory / "parley.sqlite")}
    if storage_driver() == "postgres":
        digest = hashlib.sha256(str(directory).encode()).hexdigest()[:24]
        section.update(driver="postgres", url=os.environ["PARLEY_STORAGE_URL"], schema=f"t_{digest}", pool_size=4)
    return section


@pytest.fixture
def server(tmp_path_factory):
    """Factory: `server(modules=None, **sections)` starts parley and returns a running `ParleyServer`.

    `modules` replaces the default `{messaging, rooms}`; every other keyword is a manifest section deep-merged
    over the defaults, e.g. `server(realtime={"ping_interval_seconds": 2})`.
    """
    started: list[ParleyServer] = []

    def start(modules: dict | None = None, **sections) -> ParleyServer:
        directory = tmp_path_factory.mktemp("parley")
        manifest = {
            # A short grace period keeps teardown quick when a long-poll is still open at SIGTERM.
            "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_seconds": 2},
            "storage": storage_section(directory),
            "auth": {"jwt_secret": JWT_SECRET, "bcrypt_cost": 4},
            "logging": {"level": "warning"},
            # Off unless a test is about them: suites send far more than the documents' default limits allow.
            "rate_limits": {"enabled": False},
        }
        manifest = _merge(manifest, sections)
        manifest["modules"] = copy.deepcopy(DEFAULT_MODULES if modules is None else modules)
        instance = ParleyServer(directory, manifest)
        started.append(instance)
        return instance.start()

    yield start
    for instance in started:
        instance.stop()


# --- REST helpers -------------------------------------------------------------------------------------------


def _api(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/api/v1") else f"{base}/api/v1"


def _call(method: str, url: str, token: str | None = None, body: dict | None = None, expect=(200, 201)) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, url, json=body, headers=headers, timeout=HTTP_TIMEOUT)
    if response.status_code not in expect:
        raise AssertionError(f"{method} {url} -> {response.status_code}: {response.text}")
    return response.json() if response.content else {}


def register_and_login(base_url: str, name: str) -> dict:
    """Registers a fresh user (name plus a random suffix) and logs in.

    Returns dict(id, username, email, password, token, refresh_token, user)."""
    username = f"{re.sub(r'[^A-Za-z0-9_]', '_', name)[:30]}_{uuid.uuid4().hex[:8]}"
    email = f"{username.lower()}@example.com"
    api = _api(base_url)
    _call("POST", f"{api}/auth/register", body={"username": username, "email": email, "password": PASSWORD}, expect=(201,))
    data = login(base_url, email)
    return {
        "id": data["user"]["id"],
        "username": username,
        "email": email,
        "password": PASSWORD,
        "token": data["accessToken"],
        "refresh_token": data.get("refreshToken"),
        "user": data["user"],
    }


def login(base_url: str, email: str, password: str = PASSWORD) -> dict:
    """POST auth/login; returns the envelope's data (user, accessToken, refreshToken)."""
    return _call("POST", f"{_api(base_url)}/auth/login", body={"email": email, "password": password}, expect=(200,))["data"]


def logout(base_url: str, token: str) -> None:
    _call("POST", f"{_api(base_url)}/auth/logout", token=token, expect=(200, 204))


def create_room(base_url: str, token: str, name: str | None = None) -> dict:
    """Creates a room (its creator is a member); returns the room object."""
    name = name or f"room-{uuid.uuid4().hex[:8]}"
    return _call("POST", f"{_api(base_url)}/rooms", token=token, body={"name": name}, expect=(201, 200))["data"]


def join_room(base_url: str, token: str, room_id: str) -> dict:
    return _call("POST", f"{_api(base_url)}/rooms/{room_id}/join", token=token, expect=(200, 201))["data"]


def send_message(base_url: str, token: str, room_id: str, content: str) -> dict:
    return _call("POST", f"{_api(base_url)}/messages", token=token,
                 body={"roomId": room_id, "content": content}, expect=(201,))["data"]


# --- bounded tests ------------------------------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """Every Python test gets a hard time limit unless it sets its own `@pytest.mark.timeout`."""
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))
