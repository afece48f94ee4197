"""Crops reach the engine bit-exact: decoded the way vLLM's loaders do (OpenCV for videos, PIL for images)."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from service.api.media_encoding import png_data_url, video_data_url


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
