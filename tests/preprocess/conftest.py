"""Shared fixtures: encoded test media (made once per session) and a preprocess() shortcut."""

from __future__ import annotations

import pytest

from devkit.media import astronaut, coffee, encode_clip, encode_image, face_from_halfway, moving_face
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.pipeline import preprocess
from service.preprocess.types import ImageResult, PreprocessOptions, VideoResult


def run(data: bytes, limits: PreprocessLimits | None = None, **options: object) -> ImageResult | VideoResult:
    return preprocess(data, PreprocessOptions(**options), limits=limits)


@pytest.fixture(scope="session")
def astronaut_jpeg() -> bytes:
    return encode_image(astronaut(), "JPEG", quality=95)


@pytest.fixture(scope="session")
def coffee_png() -> bytes:
    return encode_image(coffee(), "PNG")


@pytest.fixture(scope="session")
def moving_clip() -> bytes:
    """1.5 s of 640 x 480 H.264 at 30 fps, the face sliding left to right, a keyframe every 10 frames."""
    return encode_clip(moving_face(), 45, gop=10)


@pytest.fixture(scope="session")
def halfway_clip() -> bytes:
    return encode_clip(face_from_halfway(), 40)
