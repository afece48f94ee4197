"""The multi-task workload of tests/router and bench/router_affinity.py: one /analyze request per face asking every
task, with each engine's counters read before and after it. The faces are made from skimage's public-domain
astronaut photograph."""

from __future__ import annotations

import httpx
import numpy as np

from devkit.media import canvas_with_face, encode_image
from devkit.replicas import counter_delta, engine_counters
from service.tasks.registry import REGISTRY


def analyze(gateway_url: str, photo: bytes, tasks: tuple[str, ...] = REGISTRY.names) -> httpx.Response:
    """One /analyze request on a one-face photo: 200 with that face, or the gateway's typed error."""
    return httpx.post(
        f"{gateway_url}/analyze",
        files={"file": ("face.png", photo)},
        data={"tasks": ",".join(tasks), "max_tokens": "4"},
        timeout=300,
    )


def served_by(engine_urls: list[str], gateway_url: str, photo: bytes) -> tuple[list[float], dict[str, float]]:
    """Send one every-task request; per engine, how many requests it completed for it, and the summed counters."""
    before = [engine_counters(url) for url in engine_urls]
    response = analyze(gateway_url, photo)
    assert response.status_code == 200, response.text
    assert len(response.json()["faces"]) == 1
    deltas = [counter_delta(b, engine_counters(url)) for b, url in zip(before, engine_urls, strict=True)]
    summed = {name: sum(delta[name] for delta in deltas) for name in deltas[0]}
    return [delta["requests"] for delta in deltas], summed


def distinct_faces(count: int, offset: int = 0) -> list[bytes]:
    """`count` one-face photos whose crops all differ from each other and from those of any other offset: the
    astronaut at 16 sizes and places on a grey canvas, each series of 16 a little darker than the one before."""
    photos = []
    for i in range(offset, offset + count):
        place = i % 16
        frame = canvas_with_face(640, 480, 240 + 9 * place, (20 + 53 * place) % (380 - 9 * place), 20 + 5 * place)
        photos.append(encode_image((frame * (1 - 0.04 * (i // 16))).astype(np.uint8), "png"))
    return photos
