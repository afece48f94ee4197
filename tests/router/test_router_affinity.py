"""(a) Affinity through vllm-router, read from each engine's own Prometheus counters: every five-task request on
a face lands whole on one replica (and a repeated upload on the same one), the prefix-cache hit rate over the
batch equals a single engine's on the same kind of batch, and distinct keys spread over both replicas."""

from __future__ import annotations

import httpx
import pytest

from devkit.processes import ENGINE_KEY
from devkit.replicas import counter_delta, engine_counters, gateway_for
from devkit.router_workload import distinct_faces, served_by
from service.api.engine.payloads import ROUTING_KEY_HEADER
from service.tasks.registry import REGISTRY
from tests.router.conftest import ReplicatedStack

pytestmark = [pytest.mark.engine, pytest.mark.slow]

FACES = 6


def hit_rate(counters: list[dict[str, float]]) -> float:
    return sum(c["cache_hits"] for c in counters) / sum(c["cache_queries"] for c in counters)


def test_each_face_stays_on_one_replica_with_a_single_engines_hit_rate(stack: ReplicatedStack):
    urls = [engine.url for engine in stack.engines]
    photos = distinct_faces(FACES)
    placements, routed = [], []
    for photo in photos:
        per_engine, summed = served_by(urls, stack.gateway.url, photo)
        placements.append(per_engine)
        routed.append(summed)
    for face, per_engine in enumerate(placements):
        assert sorted(per_engine) == [0, len(REGISTRY.names)], f"face {face} was split over replicas: {per_engine}"
    replica_of = [per_engine.index(len(REGISTRY.names)) for per_engine in placements]

    # The same upload again: the same crop, the same key, the same replica.
    again, _ = served_by(urls, stack.gateway.url, photos[0])
    assert again.index(len(REGISTRY.names)) == replica_of[0]

    # One engine alone (replica 0, through a gateway of its own) on the same number of other faces.
    single = gateway_for(urls[0], stack.logs / "gateway-single.log", engine_health_path="/health")
    single.start_and_wait()
    try:
        alone = [served_by(urls, single.url, photo)[1] for photo in distinct_faces(FACES, offset=FACES)]
    finally:
        single.stop()
    routed_rate, single_rate = hit_rate(routed), hit_rate(alone)
    print(f"prefix-cache hit rate: router {routed_rate:.3f}, single engine {single_rate:.3f}; replicas {replica_of}")
    assert routed_rate > 0.5
    assert abs(routed_rate - single_rate) < 0.02


def test_the_router_spreads_distinct_keys_over_both_replicas(stack: ReplicatedStack):
    """Six faces may all hash to one replica (the ring depends on the engines' ports); forty keys do not (a chance
    of 2**-39): the affinity above is per key, not everything on one replica."""
    urls = [engine.url for engine in stack.engines]
    before = [engine_counters(url) for url in urls]
    for n in range(40):
        response = httpx.post(
            f"{stack.router.url}/v1/chat/completions",
            headers={ROUTING_KEY_HEADER: f"key-{n}", "Authorization": f"Bearer {ENGINE_KEY}"},
            json={"model": "facellava", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
            timeout=60,
        )
        assert response.status_code == 200, response.text
    per_engine = [counter_delta(b, engine_counters(url))["requests"] for b, url in zip(before, urls, strict=True)]
    assert sum(per_engine) == 40 and min(per_engine) > 0, per_engine
