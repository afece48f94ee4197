"""End-to-end fixtures: one real engine and one real gateway for the session (the model is built once, or
taken from $FACELLAVA_TEST_MODEL), plus test media made from skimage's public-domain astronaut photograph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from common.child_server import ChildServer
from devkit.media import astronaut, coffee, encode_clip, encode_image, moving_face
from devkit.processes import Gateway, start_engine

API_KEY = "e2e-secret-key"


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def engine(tiny_model: Path, logs: Path) -> Iterator[ChildServer]:
    server = start_engine(tiny_model, logs / "engine.log")
    server.start_and_wait()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(engine: ChildServer, logs: Path) -> Iterator[Gateway]:
    server = Gateway(
        engine.url,
        logs / "gateway.log",
        api_keys=API_KEY,
        preprocess_workers="1",
        max_in_flight="8",
        default_max_tokens="12",
        max_body_bytes="5000000",
        engine_info_ttl_s="0",
        retry_after_s="2",
    )
    server.start_and_wait()
    yield server
    server.stop()


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=300, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        yield c


@pytest.fixture(scope="session")
def face_png() -> bytes:
    return encode_image(astronaut(), "png")


@pytest.fixture(scope="session")
def two_faces_jpeg() -> bytes:
    face = astronaut()
    return encode_image(np.concatenate([face, face[:, ::-1]], axis=1), "jpeg", quality=95)


@pytest.fixture(scope="session")
def no_face_png() -> bytes:
    return encode_image(coffee(), "png")


@pytest.fixture(scope="session")
def face_clip() -> bytes:
    return encode_clip(moving_face(), 16)
