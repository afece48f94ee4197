"""The replicated stack as real processes: N vLLM CPU engines, vllm-router in front of them, the gateway in front
of the router. Shared by tests/router and bench/router_affinity.py.

The router is vllm-router's own launcher (`python -m vllm_router.launch_router`, the `vllm-router` console script),
with the flags the compose profile and the Kubernetes Deployment use, except for faster health checks so a test
sees a killed replica within seconds.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from common.child_server import ChildServer, engine_python, engine_server, free_port
from devkit.processes import ENGINE_KEY, Gateway

# Health checks every second, one failure marks a replica down, one success brings it back; an open circuit
# (a replica that kept failing) is tried again after 3 s. Production values are in docker/compose.yaml and k8s.
FAST_FAILOVER = [
    "--health-check-interval-secs", "1",
    "--health-failure-threshold", "1",
    "--health-success-threshold", "1",
    "--cb-timeout-duration-secs", "3",
    "--worker-startup-check-interval", "1",
]


def start_all(servers: list[ChildServer]) -> None:
    """Start servers side by side (engines take most of a minute each on 2 cores)."""
    with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.start_and_wait(), servers))


def router_command(worker_urls: Sequence[str], policy: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """argv of vllm-router on 127.0.0.1:`port` over the given engines; its own metrics on another free port."""
    return [
        sys.executable, "-m", "vllm_router.launch_router",
        "--host", "127.0.0.1", "--port", str(port),
        "--worker-urls", *worker_urls,
        "--policy", policy,
        "--prometheus-host", "127.0.0.1", "--prometheus-port", str(free_port()),
        "--log-level", "warning",
        *extra,
    ]


def router_server(worker_urls: Sequence[str], policy: str, log_path: Path) -> ChildServer:
    """The router, ready when its /health says every engine is healthy."""
    port = free_port()
    argv = router_command(worker_urls, policy, port, FAST_FAILOVER)
    return ChildServer(argv, dict(os.environ), port, "/health", start_timeout_s=120, log_path=log_path)


def engine_replicas(model_dir: Path, logs: Path, count: int) -> list[ChildServer]:
    """`count` engines on the same model, not started yet, each requiring the key the gateway sends through the
    router (as in production: the router passes the gateway's Authorization header on to the replica)."""
    return [
        engine_server(engine_python(), model_dir, logs / f"engine-{i}.log", api_key=ENGINE_KEY) for i in range(count)
    ]


def gateway_for(engine_url: str, log_path: Path, **settings: str) -> Gateway:
    """A gateway on one engine URL (an engine or the router); the router's /readiness is 200 while one replica
    is, where its /health turns 503 as soon as any replica is down."""
    defaults = {
        "preprocess_workers": "1",
        "max_in_flight": "64",
        "default_max_tokens": "4",
        "engine_info_ttl_s": "0",
        "engine_health_path": "/readiness",
    }
    return Gateway(engine_url, log_path, **{**defaults, **settings})


# Short name -> (vLLM's Prometheus sample, labels it must carry).
ENGINE_COUNTERS: dict[str, tuple[str, dict[str, str]]] = {
    "requests": ("vllm:request_success_total", {}),
    "prompt_tokens": ("vllm:prompt_tokens_total", {}),
    "prefill_computed": ("vllm:prompt_tokens_by_source_total", {"source": "local_compute"}),
    "cache_queries": ("vllm:prefix_cache_queries_total", {}),
    "cache_hits": ("vllm:prefix_cache_hits_total", {}),
}


def engine_counters(engine_url: str) -> dict[str, float]:
    """The engine's own Prometheus counters that show where requests went and what their prefill cost."""
    text = httpx.get(f"{engine_url}/metrics", timeout=10).text
    totals = dict.fromkeys(ENGINE_COUNTERS, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for short, (name, labels) in ENGINE_COUNTERS.items():
                if sample.name == name and labels.items() <= sample.labels.items():
                    totals[short] += sample.value
    return totals


def counter_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}
