"""Media by URL: refused unless enabled, then only from allow-listed hosts, without following redirects, and
within the size and time limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from tests.gateway.fake_preprocessor import describe
from tests.gateway.servers import ThreadedServer


def _media_app() -> FastAPI:
    app = FastAPI()

    @app.get("/face.png")
    async def face() -> Response:
        return Response(describe(kind="image"), media_type="image/png")

    @app.get("/moved.png")
    async def moved() -> RedirectResponse:
        return RedirectResponse("/face.png")

    @app.get("/huge.png")
    async def huge() -> StreamingResponse:
        async def chunks():
            for _ in range(100):
                yield b"x" * 1000

        return StreamingResponse(chunks(), media_type="image/png")

    @app.get("/slow.png")
    async def slow() -> Response:
        await asyncio.sleep(3)
        return Response(describe(kind="image"))

    return app


@pytest.fixture(scope="module")
def media_server() -> Iterator[ThreadedServer]:
    server = ThreadedServer(_media_app()).start()
    yield server
    server.stop()


@pytest.fixture
def fetching_gateway(start_gateway, monkeypatch):
    monkeypatch.setenv("FACELLAVA_PREPROCESS_MAX_BYTES", "50000")  # downloads share the uploads' media limit
    return start_gateway(url_fetch_enabled=True, url_allowlist="127.0.0.1", url_fetch_timeout_s=1)


def analyze_url(client, url: str):
    return client.post("/analyze", json={"media": {"url": url}, "tasks": ["age"]})


def test_allowed_host(fetching_gateway, media_server):
    response = analyze_url(fetching_gateway, f"{media_server.url}/face.png")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path_or_url", "status", "code"),
    [
        ("/moved.png", 400, "url_fetch_failed"),
        ("/huge.png", 413, "too_large"),
        ("/slow.png", 400, "url_fetch_failed"),
        ("/missing.png", 400, "url_fetch_failed"),
        ("http://localhost:9/face.png", 400, "url_not_allowed"),
        ("file:///etc/passwd", 400, "invalid_url"),
    ],
)
def test_refused_urls(fetching_gateway, media_server, path_or_url, status, code):
    url = media_server.url + path_or_url if path_or_url.startswith("/") else path_or_url
    response = analyze_url(fetching_gateway, url)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_chat_image_by_url(fetching_gateway, media_server, engine_state):
    body = {
        "model": "facellava",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"{media_server.url}/face.png"}},
                    {"type": "text", "text": "How old is this person?"},
                ],
            }
        ],
    }
    response = fetching_gateway.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert engine_state.received[-1]["messages"][0]["content"][0]["image_url"]["url"].startswith(
        "data:image/png"
    )
