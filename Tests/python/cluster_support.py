"""Three `parley` nodes on one PostgreSQL schema with the postgres backplane (test_cluster, test_nginx)."""

from __future__ import annotations

import copy

import pytest

from conftest import JWT_SECRET, ParleyServer, _merge, storage_section

WAIT = 10.0
HEARTBEAT_SECONDS = 1
TIMEOUT_SECONDS = 4


@pytest.fixture
def cluster_of(tmp_path_factory):
    """Factory: `cluster_of(modules=None, **sections)` starts three nodes on one schema (each its own port, log and
    manifest; same JWT secret) and returns them; sections are deep-merged over the defaults. All stopped at teardown."""
    nodes: list[ParleyServer] = []

    def start(modules: dict | None = None, **sections) -> list[ParleyServer]:
        storage = storage_section(tmp_path_factory.mktemp("cluster"))
        started = []
        for index in range(3):
            manifest = {
                "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_seconds": 2},
                "storage": copy.deepcopy(storage),
                "auth": {"jwt_secret": JWT_SECRET, "bcrypt_cost": 4},
                "logging": {"level": "warning"},
                "rate_limits": {"enabled": False},
                "realtime": {"backplane": "postgres", "node_heartbeat_seconds": HEARTBEAT_SECONDS,
                             "node_timeout_seconds": TIMEOUT_SECONDS},
            }
            manifest = _merge(manifest, sections)
            manifest["modules"] = copy.deepcopy(modules if modules is not None else {"messaging": {}, "rooms": {}})
            node = ParleyServer(tmp_path_factory.mktemp(f"node{index}"), manifest)
            nodes.append(node)
            started.append(node.start())
        return started

    try:
        yield start
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def cluster(cluster_of):
    """Three nodes with messaging and rooms."""
    return cluster_of()
