"""Two real CPU engine replicas on the tiny model, vllm-router (consistent hashing) in front of them, a real gateway
in front of the router: started once for tests/router, stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.child_server import ChildServer
from devkit.processes import Gateway
from devkit.replicas import engine_replicas, gateway_for, router_server, start_all


@dataclass
class ReplicatedStack:
    engines: list[ChildServer]
    router: ChildServer
    gateway: Gateway
    logs: Path


@pytest.fixture(scope="session")
def stack(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedStack]:
    logs = tmp_path_factory.mktemp("router-logs")
    engines = engine_replicas(tiny_model, logs, 2)
    started: list[ChildServer] = []
    try:
        start_all(engines)
        started += engines
        router = router_server([engine.url for engine in engines], "consistent_hash", logs / "router.log")
        router.start_and_wait()
        started.append(router)
        gateway = gateway_for(router.url, logs / "gateway.log")
        gateway.start_and_wait()
        started.append(gateway)
        yield ReplicatedStack(engines, router, gateway, logs)
    finally:
        for server in reversed(started or engines):
            server.stop()
