"""A cooperative time budget: long loops (demuxing, decoding) call check() so a slow upload stops with a typed
error instead of holding a worker; the pool kills a worker that stops answering altogether."""

from __future__ import annotations

import time

from service.preprocess.error_codes import fail


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self._end:
            raise fail("decode_timeout", f"processing took longer than {self._seconds:g} s")
