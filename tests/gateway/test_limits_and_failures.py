"""Backpressure, body limits, API keys, engine failures, timeouts: every refusal is typed, none is a 500."""

from __future__ import annotations

import base64
import concurrent.futures
import socket
import tempfile
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from service.api.settings import ENVELOPE_BYTES, Settings, body_bytes_for
from service.preprocess.decode_limits import PreprocessLimits
from tests.gateway.fake_preprocessor import describe, upload


def raw_reply(client: httpx.Client, *writes: bytes) -> bytes:
    """Send raw bytes to the gateway and read its answer without ever finishing the request: a reply that only
    comes once the whole body is read times the socket out and fails the test."""
    port = httpx.URL(str(client.base_url)).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for data in writes:
            sock.sendall(data)
        reply = b""
        while not reply.endswith(b"}}"):  # headers and the JSON error body may arrive separately
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply


def test_declared_body_over_the_limit_is_refused_before_it_is_sent(start_gateway):
    client = start_gateway(max_body_bytes=1000)
    # Announce 10 MB, send none of it: the answer must come at once, without waiting for the body.
    reply = raw_reply(
        client,
        b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b'"code":"too_large"' in reply


def test_streamed_body_over_the_limit_is_refused(start_gateway):
    client = start_gateway(max_body_bytes=1000)

    def chunks():
        for _ in range(100):
            yield b"x" * 100

    response = client.post("/analyze", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_multipart_over_the_limit(start_gateway):
    client = start_gateway(max_body_bytes=1000)
    response = upload(client, b"x" * 5000)
    assert response.status_code == 413


def test_streamed_multipart_over_the_limit_is_refused_before_it_is_read_whole(start_gateway):
    """A chunked multipart upload (no Content-Length to refuse it by) gets 413 as soon as it passes the limit:
    the client sends twice the limit and then nothing more, and the answer comes without the rest."""
    client = start_gateway(max_body_bytes=50_000)
    part_head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.png"\r\n\r\n'
    chunks = [b"%x\r\n%b\r\n" % (len(data), data) for data in [part_head] + [b"\0" * 10_000] * 10]
    reply = raw_reply(
        client,
        b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        *chunks,  # 100 kB of a body that never ends
    )
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b'"code":"too_large"' in reply


def test_overload_gets_429_with_retry_after(start_gateway, engine_state):
    client = start_gateway(max_in_flight=2, retry_after_s=3)
    engine_state.delay_s = 0.5
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(
                upload,
                httpx.Client(base_url=client.base_url, timeout=30),
                describe(kind="image"),
                tasks="age",
            )
            for _ in range(8)
        ]
        responses = [f.result() for f in futures]
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and set(statuses) <= {200, 429}, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "3" and refused.json()["error"]["code"] == "overloaded"
    # Probes are never throttled.
    assert client.get("/healthz").status_code == 200


def test_api_keys(start_gateway, tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("# comment\nfile-key\n")
    client = start_gateway(api_keys="env-key", api_keys_file=key_file)
    assert upload(client, describe(kind="image"), tasks="age").status_code == 401
    wrong = client.post("/analyze", headers={"Authorization": "Bearer nope"}, files={"file": ("f", b"1")})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["error"]["code"] == "unauthorized"
    non_ascii = client.get("/v1/models", headers={"Authorization": "Bearer cl\u00e9".encode()})
    assert non_ascii.status_code == 401
    for key in ("env-key", "file-key"):
        ok = client.post(
            "/analyze",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("f", describe(kind="image"))},
            data={"tasks": "age"},
        )
        assert ok.status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/v1/models").status_code == 401
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_cors_is_off_by_default(gateway):
    response = gateway.options(
        "/analyze", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_cors_when_configured(start_gateway):
    client = start_gateway(cors_origins="https://app.example")
    response = client.options(
        "/analyze", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example"


@pytest.mark.parametrize(
    ("engine_status", "status", "code"),
    [(400, 400, "engine_rejected"), (500, 503, "engine_error"), (429, 429, "engine_overloaded")],
)
def test_engine_errors_are_typed(gateway, engine_state, engine_status, status, code):
    engine_state.fail_status = engine_status
    response = upload(gateway, describe(kind="image"), tasks="age")
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_engine_unreachable_is_503(start_gateway):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    client = start_gateway(engine_url=f"http://127.0.0.1:{dead_port}", retry_after_s=4)
    response = upload(client, describe(kind="image"), tasks="age")
    assert response.status_code == 503 and response.headers["retry-after"] == "4"
    assert response.json()["error"]["code"] == "engine_unavailable"


def test_request_timeout_cancels_the_engine_request(start_gateway, engine_state):
    client = start_gateway(request_timeout_s=0.5)
    engine_state.delay_s = 5
    started = time.monotonic()
    response = upload(client, describe(kind="image"), tasks="age")
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 3
    deadline = time.monotonic() + 3
    while engine_state.cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine_state.cancelled == 1  # the engine saw the request go away and stopped generating


def test_engine_timeout_is_504(start_gateway, engine_state):
    client = start_gateway(engine_timeout_s=0.3)
    engine_state.delay_s = 3
    response = upload(client, describe(kind="image"), tasks="age")
    assert response.status_code == 504 and response.json()["error"]["code"] == "engine_timeout"


def test_unknown_route_and_method(gateway):
    assert gateway.get("/nope").json()["error"]["code"] == "not_found"
    response = gateway.get("/analyze")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_uploads_never_touch_the_disk(gateway, monkeypatch, tmp_path):
    """A 3 MB upload (over Starlette's 1 MB spooling threshold) stays in memory: no temporary file is made.

    Spooling rolls over through tempfile.TemporaryFile, which on Linux makes an unnamed file no directory
    listing would show, so that call itself is refused; any named temporary file would land in tmp_path."""
    opened: list[object] = []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def no_temporary_files(*args, **kwargs):
        opened.append(args)
        raise AssertionError("an upload was spooled to disk")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temporary_files)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_temporary_files)
    response = upload(gateway, b"\x89PNG" + b"\0" * 3_000_000)
    assert response.status_code == 415  # the fake preprocessor refuses it, after reading it all from memory
    assert opened == [] and list(tmp_path.iterdir()) == []


def test_cors_exposes_the_headers_a_script_needs(start_gateway):
    client = start_gateway(cors_origins="https://app.example")
    response = client.get("/healthz", headers={"Origin": "https://app.example"})
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed


def test_a_refused_preflight_gets_the_json_error_body(start_gateway):
    client = start_gateway(cors_origins="https://app.example")
    response = client.options(
        "/analyze", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    assert response.json()["error"] == {
        "code": "cors_refused",
        "message": "Disallowed CORS origin",
        "request_id": response.headers["x-request-id"],
    }
    assert "access-control-allow-origin" not in response.headers


def _requests_counted(client: httpx.Client, route: str, status: str) -> float:
    wanted = {"route": route, "method": "POST", "status": status}
    samples = [s for f in text_string_to_metric_families(client.get("/metrics").text) for s in f.samples]
    return sum(s.value for s in samples if s.name == "facellava_requests_total" and s.labels == wanted)


def test_requests_refused_before_routing_are_counted_under_their_route(start_gateway, engine_state):
    client = start_gateway(max_body_bytes=1000, max_in_flight=1)
    assert upload(client, b"x" * 5000).status_code == 413
    engine_state.delay_s = 0.5
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(upload, client, describe(kind="image"), tasks="age")
        time.sleep(0.2)
        assert upload(client, describe(kind="image"), tasks="age").status_code == 429
        assert first.result().status_code == 200
    over = client.post("/nowhere", content=b"x" * 5000)  # an unknown path stays unmatched
    assert over.status_code == 413
    assert _requests_counted(client, "/analyze", "413") == 1
    assert _requests_counted(client, "/analyze", "429") == 1
    assert _requests_counted(client, "unmatched", "413") == 1


def test_the_default_body_limit_admits_every_medium_the_pipeline_accepts(monkeypatch):
    """FACELLAVA_MAX_BODY_BYTES follows FACELLAVA_PREPROCESS_MAX_BYTES: the largest accepted file, base64-encoded
    in JSON, still fits in a body, so the media limit (which also guards `facellava faces`) is the one that
    applies."""
    monkeypatch.delenv("FACELLAVA_MAX_BODY_BYTES", raising=False)
    monkeypatch.delenv("FACELLAVA_PREPROCESS_MAX_BYTES", raising=False)
    assert Settings().max_body_bytes >= body_bytes_for(PreprocessLimits().max_bytes) > PreprocessLimits().max_bytes
    monkeypatch.setenv("FACELLAVA_PREPROCESS_MAX_BYTES", "3000")
    assert Settings().max_body_bytes == 4000 + ENVELOPE_BYTES
    monkeypatch.setenv("FACELLAVA_MAX_BODY_BYTES", "2500")  # an explicit setting still wins
    assert Settings().max_body_bytes == 2500


def test_media_over_the_pipeline_limit_is_refused_by_that_limit(monkeypatch, start_gateway, engine_state, preprocessor):
    monkeypatch.setenv("FACELLAVA_PREPROCESS_MAX_BYTES", "3000")
    client = start_gateway()
    calls = len(preprocessor.calls)
    media = base64.b64encode(b"\0" * 3001).decode()  # 4 kB of base64: within the body limit
    response = client.post("/analyze", json={"media": {"base64": media}})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == {
        "code": "too_large",
        "message": "the media is over the 3000-byte limit",
        "request_id": response.headers["x-request-id"],
    }
    assert len(preprocessor.calls) == calls  # refused before a worker got the bytes


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"default_max_tokens": 2000}, "default_max_tokens"), ({"default_max_faces": 11}, "default_max_faces")],
)
def test_a_default_over_its_limit_is_refused_at_start(overrides, named):
    with pytest.raises(ValidationError, match=named):
        Settings(**overrides)
