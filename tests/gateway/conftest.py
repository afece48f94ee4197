"""Fixtures: a fake engine and the gateway, each a real uvicorn server on a free port.

The engine and a default gateway are shared by the whole session (the engine's behaviour is reset before each
test, and the gateway never caches the engine's info); tests that need other settings start their own gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from service.api.app import create_app
from service.api.settings import Settings
from tests.gateway.fake_engine import FakeEngineState, create_fake_engine
from tests.gateway.fake_preprocessor import FakePreprocessor
from tests.gateway.servers import ThreadedServer

_SHARED_STATE = FakeEngineState()


@pytest.fixture(scope="session")
def engine() -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_fake_engine(_SHARED_STATE)).start()
    yield server
    server.stop()


@pytest.fixture
def engine_state(engine: ThreadedServer) -> FakeEngineState:
    _SHARED_STATE.reset()
    return _SHARED_STATE


@pytest.fixture(scope="session")
def preprocessor() -> FakePreprocessor:
    return FakePreprocessor()


@pytest.fixture(scope="session")
def gateway_settings(engine: ThreadedServer) -> Callable[..., Settings]:
    """Settings for a test gateway: the fake engine, no caching of its info, and the given overrides."""

    def settings(**overrides: object) -> Settings:
        return Settings(**{"engine_url": engine.url, "engine_info_ttl_s": 0, **overrides})

    return settings


@pytest.fixture(scope="session")
def _shared_gateway(
    gateway_settings: Callable[..., Settings], preprocessor: FakePreprocessor
) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_app(gateway_settings(), preprocessor=preprocessor)).start()
    yield server
    server.stop()


@pytest.fixture
def gateway(_shared_gateway: ThreadedServer, engine_state: FakeEngineState) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_shared_gateway.url, timeout=30) as client:
        yield client


@pytest.fixture
def start_gateway(
    gateway_settings: Callable[..., Settings], engine_state: FakeEngineState, preprocessor: FakePreprocessor
) -> Iterator[Callable[..., httpx.Client]]:
    """Start a gateway of its own with settings overrides; returns an httpx client bound to it."""
    started: list[tuple[ThreadedServer, httpx.Client]] = []

    def start(**overrides: object) -> httpx.Client:
        server = ThreadedServer(create_app(gateway_settings(**overrides), preprocessor=preprocessor)).start()
        client = httpx.Client(base_url=server.url, timeout=30)
        started.append((server, client))
        return client

    yield start
    for server, client in started:
        client.close()
        server.stop()


@pytest.fixture
def fuzz_schema(_shared_gateway: ThreadedServer, engine_state: FakeEngineState):
    """The running gateway's own OpenAPI schema, for schemathesis."""
    import schemathesis

    return schemathesis.openapi.from_url(f"{_shared_gateway.url}/openapi.json")
