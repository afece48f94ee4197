"""Per-stage wall time, summed over the frames of a video, for the gateway's facellava_*_seconds metrics.
Stages: decode, detect, landmarks, crop, and for videos track; the pool adds queue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
