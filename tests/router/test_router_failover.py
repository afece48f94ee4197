"""(b) Failover through vllm-router: one engine replica SIGKILLed under load. Every client request either succeeds
or gets the gateway's typed 503 (none is lost or hangs), the dead replica's faces are served by the survivor,
and they go back to their replica once it is restarted."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from devkit.replicas import engine_counters
from devkit.router_workload import analyze, distinct_faces, served_by
from devkit.waiting import wait_for
from tests.router.conftest import ReplicatedStack

pytestmark = [pytest.mark.engine, pytest.mark.slow]

FACES = 6
CLIENTS = 4
TYPED_503 = {"engine_unavailable", "engine_error"}



class Load:
    """CLIENTS threads sending two-task requests round the faces until stopped; every outcome is recorded."""

    def __init__(self, gateway_url: str, photos: list[bytes]) -> None:
        self.gateway_url, self.photos = gateway_url, photos
        self.outcomes: list[tuple[float, int, str]] = []  # (start time, face, "200" | error code | "lost: ...")
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=300)

    def _client(self, n: int) -> None:
        face = n
        while not self._stop.is_set():
            face = (face + 1) % len(self.photos)
            started = time.monotonic()
            try:
                response = analyze(self.gateway_url, self.photos[face], ("age", "expression"))
                if response.status_code == 200:
                    outcome = "200"
                elif response.status_code == 503 and response.headers.get("Retry-After"):
                    outcome = response.json()["error"]["code"]
                else:
                    outcome = f"lost: HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                outcome = f"lost: {type(exc).__name__}"
            self.outcomes.append((started, face, outcome))


def test_a_killed_replica_costs_at_most_typed_503s_and_its_faces_come_back(stack: ReplicatedStack):
    urls = [engine.url for engine in stack.engines]
    photos = distinct_faces(FACES)
    placements = [served_by(urls, stack.gateway.url, photo)[0] for photo in photos]
    home = [per_engine.index(max(per_engine)) for per_engine in placements]
    victim = Counter(home).most_common(1)[0][0]
    survivor = 1 - victim
    victims_faces = [face for face, replica in enumerate(home) if replica == victim]

    with Load(stack.gateway.url, photos) as load:
        time.sleep(4)
        survivor_before = engine_counters(urls[survivor])["requests"]
        killed_at = time.monotonic()
        stack.engines[victim].kill()
        time.sleep(10)
        assert httpx.get(f"{stack.gateway.url}/readyz").status_code == 200  # one replica is enough to be ready
    outcomes = Counter(outcome for _, _, outcome in load.outcomes)
    print(f"client outcomes with replica {victim} killed under load: {dict(outcomes)}")
    assert set(outcomes) <= {"200"} | TYPED_503, outcomes
    assert outcomes["200"] > 0
    moved = [o for started, face, o in load.outcomes if started > killed_at + 3 and face in victims_faces]
    assert moved and set(moved) == {"200"}, f"the dead replica's faces were not served by the survivor: {moved}"
    after_kill = sum(1 for started, _, o in load.outcomes if started > killed_at and o == "200")
    assert engine_counters(urls[survivor])["requests"] - survivor_before >= 2 * after_kill

    stack.engines[victim].start_and_wait()
    back = lambda: served_by(urls, stack.gateway.url, photos[victims_faces[0]])[0][victim] > 0  # noqa: E731
    assert wait_for(back, 30), "the restarted replica got its faces back within 30 s"
