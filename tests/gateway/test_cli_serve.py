"""`facellava serve` as a user runs it: settings from FACELLAVA_* variables, the real preprocessing workers,
JSON logs on stderr; here in front of the fake engine, so it needs no vLLM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from common.child_server import ROOT, free_port
from common.engine_protocol import LANDMARK_RANGE_PX
from devkit.media import astronaut, encode_image


@pytest.fixture
def served(engine, engine_state, tmp_path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    env = {
        **os.environ,
        "FACELLAVA_ENGINE_URL": engine.url,
        "FACELLAVA_PREPROCESS_WORKERS": "1",
        "FACELLAVA_API_KEYS": "cli-key",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    yield url, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_serve_with_real_preprocessing(served, engine_state):
    url, process = served
    photo = encode_image(astronaut(), "png")
    response = httpx.post(
        f"{url}/analyze",
        files={"file": ("a.png", photo)},
        data={"tasks": "expression"},
        headers={"Authorization": "Bearer cli-key", "X-Request-ID": "cli-run-1"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    (face,) = response.json()["faces"]
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    (sent,) = engine_state.received
    landmarks = np.asarray(sent["mm_processor_kwargs"]["landmarks"])
    low, high = LANDMARK_RANGE_PX  # crop pixels; the official crop may cut the chin, so a little outside
    assert landmarks.shape == (1, 68, 2) and (landmarks > low).all() and (landmarks < high).all()
    assert ((landmarks > 0) & (landmarks < 256)).all(axis=-1).mean() > 0.8

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in (
        0,
        -signal.SIGTERM,
    )  # uvicorn re-raises the signal after shutting down
    lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
    assert any(line["message"] == "Application shutdown complete." for line in lines)  # graceful
    access = [line for line in lines if line.get("logger") == "facellava.access"]
    assert any(line["request_id"] == "cli-run-1" and line["status"] == 200 for line in access)
    assert "cli-key" not in json.dumps(lines)
