"""Everything the gateway needs from an engine works through vllm-router: the model list, the Face-LLaVA info
route (not an OpenAI route: the router forwards unknown paths to a replica), streamed and whole chat completions,
and a video's routing key (the same clip twice lands on one replica)."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from devkit.media import encode_clip, moving_face
from devkit.replicas import counter_delta, engine_counters
from devkit.router_workload import distinct_faces
from tests.router.conftest import ReplicatedStack

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def chat_message(data: bytes, kind: str, mime: str) -> list[dict]:
    url = f"data:{mime};base64," + base64.b64encode(data).decode()
    return [{"role": "user", "content": [{"type": kind, kind: {"url": url}}, {"type": "text", "text": "Emotion?"}]}]


def test_info_route_reaches_a_replica_through_the_router(stack: ReplicatedStack):
    through_router = httpx.get(f"{stack.router.url}/facellava/info", timeout=10)
    assert through_router.status_code == 200
    assert through_router.json() in [httpx.get(f"{e.url}/facellava/info", timeout=10).json() for e in stack.engines]


def test_openai_chat_and_stream_through_the_router(stack: ReplicatedStack):
    sdk = openai.OpenAI(base_url=f"{stack.gateway.url}/v1", api_key="unused", max_retries=0, timeout=300)
    assert [model.id for model in sdk.models.list()] == ["facellava"]
    messages = chat_message(distinct_faces(1, offset=40)[0], "image_url", "image/png")
    whole = sdk.chat.completions.create(model="facellava", messages=messages, max_tokens=6, temperature=0)
    stream = sdk.chat.completions.create(
        model="facellava", messages=messages, max_tokens=6, temperature=0, stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == (
        whole.choices[0].message.content
    )


def test_the_same_clip_twice_lands_on_one_replica(stack: ReplicatedStack):
    sdk = openai.OpenAI(base_url=f"{stack.gateway.url}/v1", api_key="unused", max_retries=0, timeout=300)
    messages = chat_message(encode_clip(moving_face(), 16), "video_url", "video/mp4")
    urls = [engine.url for engine in stack.engines]
    served = []
    for _ in range(2):
        before = [engine_counters(url) for url in urls]
        sdk.chat.completions.create(model="facellava", messages=messages, max_tokens=2, temperature=0)
        served.append([counter_delta(b, engine_counters(url))["requests"] for b, url in zip(before, urls, strict=True)])
    assert served[0] == served[1] and sorted(served[0]) == [0, 1], served
