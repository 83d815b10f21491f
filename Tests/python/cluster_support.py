"""Three `parley` nodes on one PostgreSQL schema with the postgres backplane (test_cluster, test_nginx)."""

from __future__ import annotations

import copy

import pytest

from conftest import JWT_SECRET, ParleyServer, storage_section

WAIT = 10.0
HEARTBEAT_SECONDS = 1
TIMEOUT_SECONDS = 4


@pytest.fixture
def cluster(tmp_path_factory):
    """Three nodes, one schema: each its own port, log and manifest; same JWT secret."""
    shared = tmp_path_factory.mktemp("cluster")
    storage = storage_section(shared)
    nodes: list[ParleyServer] = []
    try:
        yield _start(tmp_path_factory, storage, nodes)
    finally:
        for node in nodes:
            node.stop()


def _start(tmp_path_factory, storage: dict, nodes: list) -> list:
    for index in range(3):
        directory = tmp_path_factory.mktemp(f"node{index}")
        manifest = {
            "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_seconds": 2},
            "storage": copy.deepcopy(storage),
            "auth": {"jwt_secret": JWT_SECRET, "bcrypt_cost": 4},
            "logging": {"level": "warning"},
            "rate_limits": {"enabled": False},
            "realtime": {"backplane": "postgres", "node_heartbeat_seconds": HEARTBEAT_SECONDS,
                         "node_timeout_seconds": TIMEOUT_SECONDS},
            "modules": {"messaging": {}, "rooms": {}},
        }
        node = ParleyServer(directory, manifest)
        nodes.append(node)
        node.start()
    return nodes
