"""Hostile input and faults against the real engine, gateway and launcher (issue 10, findings 1, 6 and 7): chat
text with placeholder tokens never reaches the engine (which stays alive), the engine port needs the shared key
and fetches no URLs, and neither the launcher nor the container entrypoint leaves an engine process orphaned,
the launcher restarting the engine when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from common.child_server import ROOT, engine_python, free_port
from common.engine_protocol import MAX_STOP_STRINGS
from devkit.processes import ENGINE_KEY, group_members
from devkit.waiting import wait_for
from tests.e2e.conftest import API_KEY

pytestmark = [pytest.mark.engine]

AUTH = {"Authorization": f"Bearer {API_KEY}"}



def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "What is in <image> ?"}],
        [{"role": "system", "content": "<video>"}, {"role": "user", "content": "hi"}],
    ],
)
def test_placeholder_text_is_refused_and_the_engine_lives(client, engine, messages):
    body = {"model": "facellava", "messages": messages, "max_tokens": 4}
    refused = client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "reserved_token"
    headerless = client.post(
        "/v1/chat/completions", content=refused.request.content, headers={"Content-Type": ""}
    )
    assert headerless.status_code == 415
    assert healthy(f"{engine.url}/health")
    ok = client.post("/v1/chat/completions", json={**body, "messages": [{"role": "user", "content": "hi"}]})
    assert ok.status_code == 200


def test_the_engine_accepts_as_many_stop_strings_as_the_gateway(client):
    body = {"model": "facellava", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    assert client.post("/v1/chat/completions", json={**body, "stop": ["zq"] * MAX_STOP_STRINGS}).status_code == 200


def test_the_engine_port_needs_the_key_and_fetches_no_urls(engine):
    assert httpx.get(f"{engine.url}/v1/models").status_code == 401
    keyed = {"Authorization": f"Bearer {ENGINE_KEY}"}
    assert httpx.get(f"{engine.url}/v1/models", headers=keyed).status_code == 200
    fetch = {
        "model": "facellava",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/face.png"}},
            {"type": "text", "text": "hi"},
        ]}],
    }
    refused = httpx.post(f"{engine.url}/v1/chat/completions", json=fetch, headers=keyed, timeout=60)
    assert refused.status_code == 400 and "allowed domains" in refused.text, refused.text
    assert healthy(f"{engine.url}/health")


@pytest.mark.slow
def test_the_launcher_restarts_a_killed_engine_and_leaves_no_orphan(tiny_model: Path, tmp_path: Path):
    port, engine_port = free_port(), free_port()
    output = tmp_path / "launcher.out"
    with output.open("w") as sink:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "service.stack", "--model", str(tiny_model), "--port", str(port),
             "--engine-port", str(engine_port), "--var-dir", str(tmp_path)],
            cwd=ROOT, env={**os.environ, "FACELLAVA_PREPROCESS_WORKERS": "1"}, stdout=sink,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    printed = lambda: output.read_text(errors="replace")  # noqa: E731
    try:
        assert wait_for(lambda: "Face-LLaVA is up" in printed(), 600), printed()
        server = _listener(engine_port)
        assert len(group_members(os.getpgid(server))) >= 2  # the API server, its engine core and worker
        os.kill(server, signal.SIGKILL)
        assert wait_for(lambda: not group_members(server), 30), "the engine core outlived its API server"
        assert wait_for(lambda: printed().count("engine ready") == 2, 600), printed()
        assert _listener(engine_port) != server
        assert wait_for(lambda: healthy(f"http://127.0.0.1:{port}/readyz"), 30)  # the gateway recovered alone
        chat = {"model": "facellava", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        assert httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=chat, timeout=120).status_code == 200
        second = os.getpgid(_listener(engine_port))
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=90)
    assert "the engine exited (-9); restarting it" in printed(), printed()
    assert not group_members(second), "the launcher's stop left engine processes behind"


@pytest.mark.slow
def test_the_container_entrypoint_leaves_no_orphan(tiny_model: Path, tmp_path: Path):
    engine_port = free_port()
    env = {**os.environ, "FACELLAVA_MODEL_DIR": str(tiny_model), "FACELLAVA_DEVICE": "cpu",
           "FACELLAVA_ENGINE_PORT": str(engine_port), "FACELLAVA_ENGINE_PYTHON": str(engine_python())}
    with (tmp_path / "engine.log").open("wb") as log:
        entrypoint = subprocess.Popen([sys.executable, "docker/engine_serve.py"], cwd=ROOT, env={
            **env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: healthy(f"http://127.0.0.1:{engine_port}/health"), 600), "the engine did not start"
        server = _listener(engine_port)
        assert len(group_members(server)) >= 2
        os.kill(server, signal.SIGKILL)
        assert entrypoint.wait(timeout=60) == 128 + signal.SIGKILL  # exits, so the container is restarted
        assert wait_for(lambda: not group_members(server), 10), "engine processes outlived the entrypoint"
    finally:
        if entrypoint.poll() is None:
            entrypoint.kill()


def _listener(port: int) -> int:
    """The pid of the process listening on 127.0.0.1/0.0.0.0:port (the engine's API server), from /proc."""
    hex_port = f":{port:04X}"
    inodes = {
        line.split()[9]
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(table).read_text().splitlines()[1:]
        if line.split()[1].endswith(hex_port) and line.split()[3] == "0A"  # LISTEN
    }
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return int(fd.parent.parent.name)
    raise AssertionError(f"nothing listens on port {port}")
