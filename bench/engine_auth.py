"""The engine's bearer key for a benchmark that calls a running engine itself: FACELLAVA_ENGINE_API_KEY, the
variable the gateway reads for the same purpose (so a gateway a benchmark starts sends it too). An engine started
without a key accepts any request; one started with a key (as `make serve`, compose and Kubernetes start it)
refuses a request without it."""

from __future__ import annotations

import os


def engine_headers() -> dict[str, str]:
    key = os.environ.get("FACELLAVA_ENGINE_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}
