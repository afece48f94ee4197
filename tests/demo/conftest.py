"""Fixtures: the gateway with the demo page, on real uvicorn, behind the fake engine of tests/gateway.

The static-page tests use the fake preprocessor (no media is decoded); the browser test uploads a real photo,
so its gateway runs the real one-worker preprocessing pool and the faces drawn are really found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from service.api.analysis.preprocessing import Preprocessor
from service.api.app import create_app
from service.api.settings import Settings
from tests.gateway.fake_engine import FakeEngineState, create_fake_engine
from tests.gateway.fake_preprocessor import FakePreprocessor
from tests.gateway.servers import ThreadedServer


@pytest.fixture(scope="session")
def engine_state() -> FakeEngineState:
    return FakeEngineState()


@pytest.fixture(scope="session")
def engine(engine_state: FakeEngineState) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_fake_engine(engine_state)).start()
    yield server
    server.stop()


@pytest.fixture
def start_demo_gateway(engine: ThreadedServer) -> Iterator[Callable[..., ThreadedServer]]:
    """Start a gateway (settings overrides as keywords); create_app serves the demo page."""
    started: list[ThreadedServer] = []

    def start(preprocessor: Preprocessor | None = None, **overrides: object) -> ThreadedServer:
        settings = Settings(**{"engine_url": engine.url, "engine_info_ttl_s": 0, **overrides})
        app = create_app(settings, preprocessor=preprocessor or FakePreprocessor())
        server = ThreadedServer(app).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def demo_client(start_demo_gateway: Callable[..., ThreadedServer]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=start_demo_gateway().url, timeout=10) as client:
        yield client
