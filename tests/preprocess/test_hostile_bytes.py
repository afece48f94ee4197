"""Whatever the bytes, preprocess() either returns a result or raises a PreprocessError with a known code."""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from devkit.media import astronaut, canvas_with_face, encode_image, mjpeg_clip
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.error_codes import ERRORS, fail
from service.preprocess.pipeline import _face, _landmarks, _models
from service.preprocess.types import ImageResult, PreprocessError, PreprocessOptions, VideoResult

from .conftest import run

PREFIXES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"RIFF\0\0\0\0WEBP",
            b"RIFF\0\0\0\0AVI ", b"\0\0\0\x18ftypisom", b"\0\0\0\x14ftypqt  ", b"\x1a\x45\xdf\xa3",
            b"\0\0\0\x1cftypheic\0\0\0\0mif1heic", b"\0\0\0\x20ftypavif\0\0\0\0avifmif1", b"P6\n", b"P5 "]
DAMAGEABLE = {fmt: encode_image(astronaut()[::4, ::4].copy(), fmt) for fmt in ("JPEG", "HEIF")}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=2048))
def test_random_bytes_behind_real_magic_numbers(prefix: bytes, tail: bytes) -> None:
    _assert_handled(prefix + tail)


@settings(max_examples=80, deadline=None)
@given(fmt=st.sampled_from(sorted(DAMAGEABLE)), data=st.data())
def test_truncated_and_bit_flipped_images(fmt: str, data: st.DataObject) -> None:
    original = DAMAGEABLE[fmt]
    cut = data.draw(st.integers(0, len(original)))
    flips = data.draw(st.lists(st.integers(0, len(original) - 1), max_size=8))
    damaged = bytearray(original)
    for position in flips:
        damaged[position] ^= 0xFF
    _assert_handled(bytes(damaged[: max(cut, 1)]))


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


def _small_face() -> Image.Image:
    return Image.fromarray(canvas_with_face(64, 64, 60, 2, 2))


@pytest.mark.parametrize("container", ["avi", "matroska"])
def test_a_giant_frame_behind_a_small_header_is_refused_before_it_is_decoded(container: str) -> None:
    """Issue 10 point 2: 64 x 64 in the header, a 4200 x 4200 frame later (over the 4K frame limit)."""
    giant = Image.new("RGB", (4200, 4200), (90, 90, 90))
    clip = mjpeg_clip(container, [_small_face()] * 3 + [giant] + [_small_face()] * 3)
    assert len(clip) < 1_000_000
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(PreprocessError) as refusal:
        run(clip)
    assert refusal.value.code == "too_large"
    assert time.monotonic() - started < 5
    # A decoded 4200 x 4200 frame alone is 26 MB (YUV) and 53 MB as RGB; the peak must not grow by one.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 20_000  # KiB


@pytest.mark.parametrize("container", ["avi", "matroska"])
def test_a_frame_size_change_within_the_limits_is_a_typed_refusal(container: str) -> None:
    """Frames that change size mid-clip would put one frame's face box on another frame: refused, never a
    crop failure (500)."""
    clip = mjpeg_clip(container, [_small_face()] * 4 + [Image.new("RGB", (400, 400))] * 4)
    with pytest.raises(PreprocessError) as refusal:
        run(clip)
    assert refusal.value.code == "corrupt_media"


def test_the_decoded_pixels_are_bounded() -> None:
    clip = mjpeg_clip("avi", [_small_face()] * 40)
    with pytest.raises(PreprocessError) as refusal:
        run(clip, limits=PreprocessLimits(max_decoded_video_pixels=64 * 64 * 5))
    assert refusal.value.code == "too_large"


@pytest.mark.parametrize("box", [(300.0, 300.0, 300.0, 300.0), (900.0, 900.0, 990.0, 990.0)])
def test_crop_and_landmark_failures_are_typed_refusals(box: tuple[float, float, float, float]) -> None:
    """A degenerate box, or one off the picture (as a frame of another size would give), is a 422, never a 500."""
    picture = canvas_with_face(640, 480, 300, 170, 90)
    with pytest.raises(PreprocessError) as refusal:
        points = _landmarks(_models()[1], picture, box)
        _face(picture, box, 0.0, np.zeros((68, 2), np.float32) if points is None else points, False,
              PreprocessOptions(), {})
    assert refusal.value.code == "corrupt_media"
