"""Whatever the bytes, preprocess() either returns a result or raises a PreprocessError with a known code."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.preprocess.errors import ERRORS, fail
from service.preprocess.types import ImageResult, PreprocessError, VideoResult

from .conftest import run
from .media import astronaut, encode_image

PREFIXES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"RIFF\0\0\0\0WEBP",
            b"RIFF\0\0\0\0AVI ", b"\0\0\0\x18ftypisom", b"\0\0\0\x14ftypqt  ", b"\x1a\x45\xdf\xa3"]
JPEG = encode_image(astronaut()[::4, ::4].copy(), "JPEG")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=2048))
def test_random_bytes_behind_real_magic_numbers(prefix: bytes, tail: bytes) -> None:
    _assert_handled(prefix + tail)


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, len(JPEG)), flips=st.lists(st.integers(0, len(JPEG) - 1), max_size=8))
def test_truncated_and_bit_flipped_jpeg(cut: int, flips: list[int]) -> None:
    data = bytearray(JPEG)
    for position in flips:
        data[position] ^= 0xFF
    _assert_handled(bytes(data[: max(cut, 1)]))


def _assert_handled(data: bytes) -> None:
    try:
        result = run(data)
    except PreprocessError as exc:
        assert exc.code in ERRORS
        return
    assert isinstance(result, ImageResult | VideoResult)


def test_unknown_codes_cannot_be_raised() -> None:
    try:
        fail("made_up", "x")
    except ValueError:
        return
    raise AssertionError("fail() accepted an unknown code")


def test_every_code_maps_to_an_error_status_and_a_distinct_exit_status() -> None:
    assert all(400 <= spec.http_status < 600 for spec in ERRORS.values())
    exits = [spec.exit_status for spec in ERRORS.values()]
    assert len(set(exits)) == len(exits) and 0 not in exits and 2 not in exits
