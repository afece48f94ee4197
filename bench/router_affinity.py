"""vllm-router's consistent hashing against round robin, on the same multi-task workload over two engine replicas.

Two CPU engines on the tiny model, and two routers over the same two engines (policy consistent_hash, where the
gateway's per-face key picks the replica, and round_robin), each with a gateway of its own. A pass sends FACES
one-face photos at once, each one /analyze request asking every task; every pass uses new faces, so no pass
profits from the cache of an earlier one. After a warm-up pass per policy, the policies alternate for --repeats
passes each. Prints, consistent hashing over round robin: the engine prefill tokens computed (vLLM's
prompt_tokens_by_source{source="local_compute"}, both replicas, summed over the passes) and the wall time of a
pass (median).

    .venv/gateway/bin/python -m bench.router_affinity [--model DIR] [--faces 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from devkit.replicas import (
    counter_delta,
    engine_counters,
    engine_replicas,
    gateway_for,
    router_server,
    start_all,
)
from devkit.router_workload import analyze, distinct_faces
from service.stack import build_tiny_model

POLICIES = ("consistent_hash", "round_robin")


def one_pass(gateway_url: str, engine_urls: list[str], photos: list[bytes]) -> tuple[float, dict[str, float]]:
    """Wall seconds of the pass and the engines' summed counter deltas."""
    before = [engine_counters(url) for url in engine_urls]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(photos)) as pool:
        responses = list(pool.map(lambda photo: analyze(gateway_url, photo), photos))
    seconds = time.perf_counter() - started
    for response in responses:
        response.raise_for_status()
    deltas = [counter_delta(b, engine_counters(url)) for b, url in zip(before, engine_urls, strict=True)]
    return seconds, {name: sum(delta[name] for delta in deltas) for name in deltas[0]}


@contextlib.contextmanager
def running_policies(model: Path | None) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(engine URLs, gateway URL per policy): two engines, a router per policy over both, a gateway per router."""
    with tempfile.TemporaryDirectory(prefix="facellava-router-bench-") as scratch:
        folder = Path(scratch)
        engines = engine_replicas(model or build_tiny_model(folder / "model", quiet=True), folder, 2)
        servers = list(engines)
        try:
            start_all(engines)
            urls = [engine.url for engine in engines]
            gateways = {}
            for policy in POLICIES:
                router = router_server(urls, policy, folder / f"router-{policy}.log")
                servers.append(router)
                router.start_and_wait()
                gateway = gateway_for(router.url, folder / f"gateway-{policy}.log")
                servers.append(gateway)
                gateway.start_and_wait()
                gateways[policy] = gateway.url
            yield urls, gateways
        finally:
            for server in reversed(servers):
                server.stop()


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--model", type=Path, help="converted model folder; default: build the tiny one")
    arguments.add_argument("--faces", type=int, default=4, help="faces per pass, sent at once")
    arguments.add_argument("--repeats", type=int, default=3)
    args = arguments.parse_args()
    seconds: dict[str, list[float]] = {policy: [] for policy in POLICIES}
    totals = {policy: dict.fromkeys(("prefill_computed", "cache_hits", "cache_queries"), 0.0) for policy in POLICIES}
    with running_policies(args.model) as (urls, gateways):
        batch = 0
        for repeat in range(args.repeats + 1):
            for policy in POLICIES:
                photos = distinct_faces(args.faces, offset=batch * args.faces)
                batch += 1
                wall, counters = one_pass(gateways[policy], urls, photos)
                if repeat == 0:
                    continue  # warm-up
                seconds[policy].append(wall)
                for name in totals[policy]:
                    totals[policy][name] += counters[name]
    for policy in POLICIES:
        total, median = totals[policy], statistics.median(seconds[policy])
        print(
            f"{policy}: prefill tokens computed {total['prefill_computed']:.0f}, prefix-cache hit rate "
            f"{total['cache_hits'] / total['cache_queries']:.3f}, median pass {median:.2f} s"
        )
    hashing, robin = POLICIES
    print(f"round robin: 1.000 (baseline; {args.faces} faces x every task per pass, {args.repeats} passes each)")
    prefill_ratio = totals[hashing]["prefill_computed"] / totals[robin]["prefill_computed"]
    print(f"consistent hashing / round robin, prefill tokens computed: {prefill_ratio:.3f}")
    wall_ratio = statistics.median(seconds[hashing]) / statistics.median(seconds[robin])
    print(f"consistent hashing / round robin, wall time (median pass): {wall_ratio:.3f}")


if __name__ == "__main__":
    main()
