"""Crops reach the engine bit-exact: decoded the way vLLM's loaders do (OpenCV for videos, PIL for images); and
base64 media from clients is read in every standard form (line breaks, whitespace, no padding), nothing else."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from service.api.analysis.analyze_input import decode_base64
from service.api.analysis.media_encoding import png_data_url, video_data_url
from service.api.error_responses import ApiError


def crops(n: int) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 256, (n, 256, 256, 3), dtype=np.uint8)


def test_png_round_trip_is_exact():
    crop = crops(1)[0]
    url = png_data_url(crop)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert("RGB"))
    np.testing.assert_array_equal(decoded, crop)


def test_video_round_trip_is_exact_through_opencv(tmp_path):
    frames = crops(8)
    url = video_data_url(frames)
    assert url.startswith("data:video/x-matroska;base64,")
    path = tmp_path / "v.mkv"
    path.write_bytes(base64.b64decode(url.partition(",")[2]))
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    np.testing.assert_array_equal(np.stack(decoded), frames)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((255, 256, 3), np.uint8), np.zeros((256, 256, 3), np.float32), np.zeros((256, 256), np.uint8)],
)
def test_bad_crops_are_refused(bad):
    with pytest.raises(ValueError, match="crop"):
        png_data_url(bad)


def test_video_needs_eight_crops():
    with pytest.raises(ValueError, match="8 crops"):
        video_data_url(crops(7))


PAYLOAD = bytes(range(256)) * 3  # every byte value, long enough for several 76-column lines


def wrapped(text: str, width: int = 76, newline: str = "\n") -> str:
    return newline.join(text[i : i + width] for i in range(0, len(text), width))


@pytest.mark.parametrize(
    "form",
    [
        lambda b64: wrapped(b64) + "\n",  # `base64 FILE` (GNU coreutils): 76-column lines, final newline
        lambda b64: wrapped(b64, newline="\r\n"),  # RFC 2045's CRLF line breaks
        lambda b64: f"  \t{b64}\n\n",  # surrounding whitespace
        lambda b64: b64.rstrip("="),  # RFC 4648 without padding
        lambda b64: "data:image/png;base64," + wrapped(b64, 64),  # a data URL with PEM-style lines
    ],
    ids=["base64-cli", "crlf", "surrounding", "unpadded", "data-url"],
)
def test_base64_accepts_every_standard_form(form):
    assert decode_base64(form(base64.b64encode(PAYLOAD).decode())) == PAYLOAD


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("!!not base64!!", "invalid_base64"),
        (base64.urlsafe_b64encode(b"\xfb\xff" * 9).decode(), "invalid_base64"),  # another alphabet
        ("QUJD" + "Q", "invalid_base64"),  # a length no base64 text has
        ("data:image/png,%89PNG", "invalid_base64"),  # a data URL that is not base64
        (" \n ", "empty_media"),
        ("data:image/png;base64,", "empty_media"),
    ],
)
def test_base64_refuses_what_is_not_base64_naming_the_field(text, code):
    with pytest.raises(ApiError) as refused:
        decode_base64(text, "messages[0].content[1].image_url.url")
    assert (refused.value.status_code, refused.value.code) == (400, code)
    assert refused.value.message.startswith("messages[0].content[1].image_url.url")
