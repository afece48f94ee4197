"""Probes (engine down and back without a gateway restart), Prometheus metrics and JSON logs."""

from __future__ import annotations

import json
import logging
import re
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.api.app import create_app
from service.api.request_logging import JsonFormatter
from service.api.settings import Settings
from tests.gateway.fake_engine import FakeEngineState, create_fake_engine
from tests.gateway.fake_preprocessor import FakePreprocessor, describe
from tests.gateway.servers import ThreadedServer


def test_healthz(gateway):
    assert gateway.get("/healthz").json() == {"status": "ok", "checks": {"preprocess_pool_repairable": True}}


def test_readyz_follows_the_engine_and_recovers_without_restart():
    engine = ThreadedServer(create_fake_engine(FakeEngineState())).start()
    gateway = ThreadedServer(
        create_app(
            Settings(engine_url=engine.url, engine_info_ttl_s=0, retry_after_s=5),
            preprocessor=FakePreprocessor(),
        )
    ).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            assert client.get("/readyz").status_code == 200
            engine.stop()
            down = client.get("/readyz")
            assert down.status_code == 503 and down.headers["retry-after"] == "5"
            assert down.json()["checks"] == {"engine": False, "preprocess_workers": True}
            refused = client.post("/analyze", files={"file": ("f", describe(kind="image"))})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "engine_unavailable"
            engine.start()  # same port
            assert client.get("/readyz").status_code == 200
            again = client.post(
                "/analyze", files={"file": ("f", describe(kind="image"))}, data={"tasks": "age"}
            )
            assert again.status_code == 200
    finally:
        gateway.stop()
        engine.stop()


def test_readyz_reports_dead_workers(start_gateway, preprocessor):
    client = start_gateway()
    preprocessor.closed = True
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["checks"]["preprocess_workers"] is False
    finally:
        preprocessor.closed = False


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name} {labels} not in the metrics")


def test_metrics(start_gateway, engine_state):
    client = start_gateway()
    assert client.post("/analyze", files={"file": ("f", describe(kind="image", faces=2))}).status_code == 200
    assert client.post("/analyze", files={"file": ("f", describe(kind="image", faces=0))}).status_code == 422
    engine_state.fail_status = 500
    assert client.post("/analyze", files={"file": ("f", describe(kind="image"))}).status_code == 503
    text = client.get("/metrics").text
    assert _metric(text, "facellava_requests_total", route="/analyze", method="POST", status="200") == 1
    assert _metric(text, "facellava_requests_total", route="/analyze", method="POST", status="422") == 1
    for stage in ("decode", "detect", "landmarks", "encode", "engine", "parse"):
        assert _metric(text, "facellava_stage_seconds_count", stage=stage) == 1
    assert _metric(text, "facellava_faces_per_request_sum") == 2
    assert _metric(text, "facellava_engine_errors_total", kind="failed") >= 1
    assert _metric(text, "facellava_in_flight_requests") == 0


def test_json_logs_carry_the_request_id_and_no_media(gateway, caplog: pytest.LogCaptureFixture):
    spec = describe(kind="image")
    formatter = JsonFormatter()

    def access_lines() -> tuple[list[dict], list[dict]]:
        lines = [json.loads(formatter.format(record)) for record in caplog.records]
        ours = [line for line in lines if line["logger"] == "facellava.access" and line["request_id"] == "log-test-1"]
        return lines, ours

    # INFO is captured only inside this block, and the access line is written once the response's last byte is
    # sent, so it may trail the client by a moment: the wait for it stays inside the block.
    with caplog.at_level(logging.INFO):
        response = gateway.post(
            "/analyze",
            headers={"X-Request-ID": "log-test-1"},
            files={"file": ("f", spec)},
            data={"tasks": "age"},
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 5
        while not access_lines()[1] and time.monotonic() < deadline:
            time.sleep(0.05)
    lines, access = access_lines()
    assert access and access[0]["status"] == 200 and access[0]["route"] == "/analyze"
    dumped = "\n".join(json.dumps(line) for line in lines)
    assert "base64" not in dumped and re.search(r"[A-Za-z0-9+/]{200,}", dumped) is None
