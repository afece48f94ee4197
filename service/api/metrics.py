"""Prometheus metrics of the gateway, in a registry of its own (one per app, so tests can run several apps).

Per-stage latency (decode, detect, landmarks, crop, encode, engine, parse) shows where a slow request spent
its time; queue depth and engine errors are what an autoscaler and an on-call engineer look at first.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "facellava_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "facellava_request_seconds",
            "Whole-request latency by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "facellava_stage_seconds",
            "Latency of one pipeline stage of one request",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.faces = Histogram(
            "facellava_faces_per_request",
            "Faces (video: tracks) analysed per request",
            buckets=(0, 1, 2, 3, 5, 10, 20),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "facellava_in_flight_requests",
            "Analysis and chat requests being served (queue depth)",
            registry=self.registry,
        )
        self.rejected = Counter(
            "facellava_rejected_requests",
            "Requests refused before work: overload (429) or too large (413)",
            ["reason"],
            registry=self.registry,
        )
        self.engine_errors = Counter(
            "facellava_engine_errors", "Failed engine calls by kind", ["kind"], registry=self.registry
        )
        self.uncertain = Counter(
            "facellava_uncertain_answers",
            "Answers that named no label, by task",
            ["task"],
            registry=self.registry,
        )

    def observe_stages(self, timings: dict[str, float]) -> None:
        for stage, seconds in timings.items():
            if stage != "total":
                self.stage_seconds.labels(stage).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
