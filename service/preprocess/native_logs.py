"""Drop MediaPipe's known-harmless native log lines; pass every other line through.

MediaPipe's C++ side writes straight to file descriptor 2 through absl logging, which no Python logger, GLOG_* or
TF_CPP_* variable reaches, so a user sees lines that read like failures. The ones dropped here, and why they are
harmless for us:
- "Feedback manager requires a model with a single signature inference": TFLite's feedback tensors are only used
  by models with recurrent state; BlazeFace and FaceMesh are single-shot, so nothing is disabled that they use.
- "Using NORM_RECT without IMAGE_DIMENSIONS is only supported for the square ROI": FaceMesh projects its points
  from a normalised rectangle, which is exact when that rectangle is square in pixels. We only ever give FaceMesh
  a square 256 x 256 patch (landmarks.py) with a square face rectangle in it, so the projection is exact; the
  tests check the points against hand labels and under mirroring (tests/preprocess/test_landmarks_truth.py,
  test_faces.py).
- TFLite's "Created TensorFlow Lite XNNPACK delegate for CPU" and absl's "All log messages before
  absl::InitializeLog() is called are written to STDERR": start-up notices.
A solution's graph opens its models on threads of its own after its constructor returns, and logs as it does:
`started_quietly` builds one and runs it once on a blank picture, which waits for that. Descriptor 2 is pointed
at a pipe only while a MediaPipe call runs; what else arrives there meanwhile (another
thread's output, a real MediaPipe error) is written on to the real stderr when the call ends, never lost.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

_Solution = TypeVar("_Solution", bound=Any)

_HARMLESS = (
    b"Feedback manager requires a model with a single signature",
    b"Using NORM_RECT without IMAGE_DIMENSIONS",
    b"Created TensorFlow Lite XNNPACK delegate for CPU",
    b"All log messages before absl::InitializeLog() is called",
)
_lock = threading.Lock()  # one redirection at a time: descriptor 2 is process-wide


@contextlib.contextmanager
def harmless_native_logs_dropped() -> Iterator[None]:
    with _lock:
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        saved = os.dup(2)
        os.dup2(write_end, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(write_end)
            _forward(read_end, saved)
            os.close(read_end)
            os.close(saved)


def started_quietly(build: Callable[[], _Solution]) -> _Solution:
    """A MediaPipe solution built and run once, with the harmless lines of its start-up dropped."""
    with harmless_native_logs_dropped():
        solution = build()
        solution.process(np.zeros((64, 64, 3), dtype=np.uint8))
    return solution


def _forward(read_end: int, stderr: int) -> None:
    captured = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(read_end, 65536):
            captured += chunk
    kept = [line for line in captured.splitlines(keepends=True) if not any(h in line for h in _HARMLESS)]
    if kept:
        os.write(stderr, b"".join(kept))
