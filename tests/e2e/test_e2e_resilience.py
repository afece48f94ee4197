"""Load and failure end to end: 50 requests at once (only 200 or 429, nothing left in flight), a
request timeout that aborts the engine's generation, and the engine killed mid-request then restarted, with
the gateway recovering by itself. The engine restart makes this the slowest module; it runs last."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devkit.processes import Gateway
from devkit.waiting import wait_for
from tests.e2e.conftest import API_KEY

pytestmark = [pytest.mark.engine, pytest.mark.slow]

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def metric(text: str, name: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )



def slow_analysis(url: str, face_png: bytes, timeout_s: float) -> httpx.Response:
    """The longest answer the model can give (1024 tokens of attributes): still running when the test acts."""
    return httpx.post(
        f"{url}/analyze",
        files={"file": ("f.png", face_png)},
        data={"tasks": "attributes", "max_tokens": "1024"},
        headers=AUTH,
        timeout=timeout_s,
    )


def test_fifty_concurrent_requests(gateway, face_png):
    def one(_: int) -> int:
        with httpx.Client(base_url=gateway.url, timeout=300, headers=AUTH) as client:
            return client.post(
                "/analyze", files={"file": ("f.png", face_png)}, data={"tasks": "age", "max_tokens": "4"}
            ).status_code

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) >= 8  # at least the in-flight bound got through
    metrics = httpx.get(f"{gateway.url}/metrics", headers=AUTH).text
    assert metric(metrics, "facellava_in_flight_requests") == 0
    assert httpx.get(f"{gateway.url}/readyz").status_code == 200


def test_timeout_aborts_the_engine_request(engine, logs, face_png):
    impatient = Gateway(
        engine.url, logs / "impatient.log", api_keys=API_KEY, preprocess_workers="1", request_timeout_s="1.5"
    )
    impatient.start_and_wait()
    try:
        response = slow_analysis(impatient.url, face_png, timeout_s=60)
        assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
        running = lambda: metric(httpx.get(f"{engine.url}/metrics").text, "vllm:num_requests_running") == 0  # noqa: E731
        assert wait_for(running, 10), "the engine kept generating after the gateway gave up"
    finally:
        impatient.stop()


def test_engine_killed_mid_request_then_restarted(gateway, engine, face_png):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pending = [pool.submit(slow_analysis, gateway.url, face_png, 300) for _ in range(2)]
        time.sleep(3)
        engine.kill()
        responses = [future.result() for future in pending]
    for response in responses:
        assert response.status_code in (503, 200), response.text  # never a 500
        if response.status_code == 503:
            assert response.json()["error"]["code"] in ("engine_unavailable", "engine_error")
    ready = httpx.get(f"{gateway.url}/readyz")
    assert ready.status_code == 503 and int(ready.headers["retry-after"]) > 0
    refused = httpx.post(f"{gateway.url}/analyze", files={"file": ("f.png", face_png)}, headers=AUTH)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "engine_unavailable"

    engine.start_and_wait()  # same port, no gateway restart
    assert wait_for(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 200, 30)
    again = httpx.post(
        f"{gateway.url}/analyze",
        files={"file": ("f.png", face_png)},
        data={"tasks": "age"},
        headers=AUTH,
        timeout=300,
    )
    assert again.status_code == 200, again.text
