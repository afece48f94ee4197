"""Polling for a condition that another process brings about (a server restarting, a worker being replaced)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout_s: float, every_s: float = 0.2) -> bool:
    """Whether `predicate` became true within `timeout_s`, asked every `every_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return False
