"""The per-face routing key the gateway sends with every engine request (no engine needed).

It must be equal for every task on one face and for a repeated upload of the same media (so vllm-router's
consistent hashing sends them to the replica that has the face in its prefix cache), and differ between faces.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np

from service.api.analysis.media_encoding import png_data_url, video_data_url
from service.api.engine.client import EngineClient
from service.api.engine.payloads import ROUTING_KEY_HEADER, Sampling, routing_key, task_payload
from service.api.metrics import GatewayMetrics
from service.api.settings import Settings

SAMPLING = Sampling(max_tokens=4)


def crops(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 256, 256, 3), dtype=np.uint8)


def key_for(kind: str, url: str, question: str) -> str:
    return routing_key(task_payload("m", kind, url, question, SAMPLING, None))


def test_every_task_on_one_image_shares_a_key_and_faces_differ():
    face, other = crops(1, 1)[0], crops(2, 1)[0]
    keys = {key_for("image", png_data_url(face), question) for question in ("age?", "expression?", "AUs?")}
    assert len(keys) == 1
    assert keys != {key_for("image", png_data_url(other), "age?")}


def test_a_video_encoded_twice_gives_the_same_key():
    """The same crops, encoded for a repeated request: the container carries no random id or date."""
    frames = crops(3, 8)
    first, again = video_data_url(frames), video_data_url(frames)
    assert first == again
    assert key_for("video", first, "expression?") == key_for("video", again, "deepfake?")
    assert key_for("video", first, "x") != key_for("video", video_data_url(crops(4, 8)), "x")


def test_text_only_chat_keys_on_its_first_message():
    """A conversation keeps its replica as it grows (its earlier turns are that replica's cached prefix)."""
    opening = {"role": "user", "content": "hello"}
    turn_one = {"messages": [opening]}
    turn_two = {"messages": [opening, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "more"}]}
    assert routing_key(turn_one) == routing_key(turn_two)
    assert routing_key(turn_one) != routing_key({"messages": [{"role": "user", "content": "bye"}]})


def test_the_engine_client_sends_the_key_in_the_header_the_router_reads():
    seen: list[httpx.Request] = []

    def engine(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [], "data": []})

    payload = task_payload("m", "image", png_data_url(crops(5, 1)[0]), "age?", SAMPLING, None)

    async def call() -> None:
        client = EngineClient(Settings(engine_url="http://engine"), GatewayMetrics(), httpx.MockTransport(engine))
        try:
            await client.chat(payload, "req-1")
            await client.chat(payload, "req-2")
            await client.models()
        finally:
            await client.aclose()

    asyncio.run(call())
    chats, models = seen[:2], seen[2]
    assert [r.headers[ROUTING_KEY_HEADER] for r in chats] == [routing_key(payload)] * 2
    assert [r.headers["X-Request-ID"] for r in chats] == ["req-1", "req-2"]
    assert ROUTING_KEY_HEADER not in models.headers  # no body, no face: the router may pick any replica
    assert json.loads(seen[0].content) == payload  # the body is untouched: no field vLLM would not know
