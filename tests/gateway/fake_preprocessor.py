"""A stand-in for the preprocessing pool in unit tests: the "upload" is a small JSON description of what the
real pool would find ({"kind": "image", "faces": 2} or {"kind": "video", "tracks": 1} or {"error": code},
or {"bug": true} for an unexpected exception),
so gateway tests control faces, tracks and refusals without decoding real media."""

from __future__ import annotations

import json

import httpx
import numpy as np

from service.preprocess.error_codes import fail
from service.preprocess.types import (
    CROP_SIZE,
    NUM_VIDEO_FRAMES,
    Face,
    FrameFaces,
    ImageResult,
    MediaInfo,
    PreprocessOptions,
    Track,
    VideoResult,
)


def describe(**spec: object) -> bytes:
    return json.dumps(spec).encode()


def upload(client: httpx.Client, spec: bytes, **fields: str) -> httpx.Response:
    """POST /analyze with a described upload as the multipart file and `fields` as form fields."""
    return client.post("/analyze", files={"file": ("face.png", spec, "image/png")}, data=fields)


def _face(seed: int, x: float) -> Face:
    rng = np.random.default_rng(seed)
    crop = rng.integers(0, 256, (CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    crop_points = rng.uniform(40, 216, (68, 2)).astype(np.float32)
    # float32 values, as the real detector and landmarker give them (so the API's rounding is exercised)
    box = tuple(float(v) for v in np.array([x, 50.0, x + 120.0, 170.0], dtype=np.float32) + np.float32(0.337))
    points = (crop_points * 120 / CROP_SIZE + np.array([x, 50.0])).astype(np.float32)
    return Face(box, float(np.float32(0.9 - seed * 0.01)), points, crop, crop_points)


class FakePreprocessor:
    def __init__(self) -> None:
        self.calls: list[PreprocessOptions] = []
        self.closed = False

    async def submit(
        self, data: bytes, options: PreprocessOptions, filename: str | None = None
    ) -> ImageResult | VideoResult:
        self.calls.append(options)
        try:
            spec = json.loads(data)
        except ValueError:
            raise fail("unsupported_media", "not an image or video") from None
        if "error" in spec:
            raise fail(spec["error"], "refused by the fake preprocessor")
        if "bug" in spec:  # an unexpected exception, as a bug in the gateway's own code would raise
            raise RuntimeError("a bug")
        timings = {"decode": 0.001, "detect": 0.002, "landmarks": 0.003, "crop": 0.0005}
        if spec["kind"] == "image":
            faces = [_face(i, 10.0 + 150 * i) for i in range(spec.get("faces", 1))][: options.max_faces]
            return ImageResult(MediaInfo("image", "png", 640, 480, len(data)), faces, timings)
        indices = [0, 4, 8, 12, 17, 21, 25, 29]
        times = [i / 10 for i in indices]
        tracks = [
            Track(t, [_face(10 * t + f, 10.0 + 150 * t) for f in range(NUM_VIDEO_FRAMES)], 3, 1.0, indices, times)
            for t in range(spec.get("tracks", 1))
        ][: options.max_faces]
        media = MediaInfo("video", "mp4", 640, 480, len(data), 30, 10.0, 3.0, indices, times, "h264")
        frames = [
            FrameFaces(i, t, [tr.faces[n] for tr in tracks])
            for n, (i, t) in enumerate(zip(indices, times, strict=True))
        ]
        return VideoResult(media, frames, tracks, timings)

    def alive(self) -> bool:
        return not self.closed

    def repairable(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True
