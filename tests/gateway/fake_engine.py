"""A small stand-in for vLLM's OpenAI server with the Face-LLaVA plugin, for the gateway's unit tests.

It answers like the real model does (label first, then reasoning, in the phrasings the paper's site shows),
with per-token log-probabilities, streams like vLLM (SSE chunks, then [DONE]), and validates what the
gateway sends the way the engine's processor does: a 256 px PNG crop or an 8-frame video, landmarks of the
right shape.
Tests read what it received and change how it behaves (delay, errors, landmark mode) through its attributes.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from PIL import Image

from service.tasks.registry import REGISTRY

MODEL = "facellava"
ANSWERS = {
    "expression": "The subject's facial expression strongly indicates happiness. The corners of the mouth "
    "are pulled upward and the cheeks are raised, which suggests genuine joy.",
    "action_units": "AU6 (Cheek Raiser): the cheeks are lifted.\nAU12 (Lip Corner Puller): the lip corners "
    "are pulled up.\nAU25 (Lips Part): the lips are slightly parted.",
    "age": "32 years old is a reasonable estimate, given the smooth skin and the absence of deep wrinkles.",
    "deepfake": "Fake: the blending boundary around the jaw flickers between frames and the skin texture is "
    "unnaturally smooth.",
    "attributes": "This young woman has black hair and arched eyebrows. She is wearing lipstick and "
    "earrings, and she is smiling.",
}
# What the model writes when its answer is constrained to the label (the same labels as ANSWERS).
LABEL_ANSWERS = {
    "expression": "happy",
    "action_units": "AU6, AU12, AU25",
    "age": "32",
    "deepfake": "fake",
    "attributes": "Young, Black_Hair, Arched_Eyebrows, Wearing_Lipstick, Wearing_Earrings, Smiling",
}
_TASK_WORDS = [
    ("action_units", re.compile(r"action units|muscle movements", re.I)),
    (
        "deepfake",
        re.compile(r"authentic|fake|manipulat|tamper|genuine|fabricated|artificial|hoax|suspicious", re.I),
    ),
    ("age", re.compile(r"\bage\b|how old", re.I)),
    ("expression", re.compile(r"emotion|feeling", re.I)),
]
_TOKEN = re.compile(r"\s?\w+|\s?[^\w\s]|\s+")


def task_of(question: str) -> str:
    return next((task for task, words in _TASK_WORDS if words.search(question)), "attributes")


def tokens_of(text: str) -> list[dict[str, Any]]:
    """Word-piece-like tokens that spell the text exactly, with deterministic log-probabilities."""
    pieces = _TOKEN.findall(text)
    assert "".join(pieces) == text
    return [
        {"token": piece, "logprob": -0.05 * (i % 4), "bytes": list(piece.encode())}
        for i, piece in enumerate(pieces)
    ]


@dataclass
class FakeEngineState:
    landmark_conditioning: str = "on"
    delay_s: float = 0.0
    fail_status: int | None = None  # answer chat requests with this HTTP status
    answer_override: str | None = None
    label_override: str | None = None  # the constrained answer; refused (400) if the request's regex rejects it
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    cancelled: int = 0

    def reset(self) -> None:
        self.__init__()


def _decode_media(part: dict[str, Any]) -> np.ndarray:
    kind = part["type"]
    url = part[kind]["url"]
    header, _, data = url.partition(",")
    raw = base64.b64decode(data)
    if kind == "image_url":
        assert header == "data:image/png;base64", header
        return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))[None]
    with av.open(io.BytesIO(raw)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def _check_request(body: dict[str, Any]) -> str | None:
    """What the engine's processor would refuse (its 400 message), or None."""
    media = [
        p
        for m in body["messages"]
        if isinstance(m["content"], list)
        for p in m["content"]
        if p["type"] in ("image_url", "video_url")
    ]
    if len(media) > 1:
        return "at most 1 image or video"
    kwargs = body.get("mm_processor_kwargs", {})
    if media:
        frames = _decode_media(media[0])
        expected_frames = 1 if media[0]["type"] == "image_url" else 8
        if frames.shape != (expected_frames, 256, 256, 3):
            return f"bad media shape {frames.shape}"
        key = "landmarks" if media[0]["type"] == "image_url" else "landmarks_videos"
        if key in kwargs:
            shape = np.asarray(kwargs[key]).shape
            if shape != (1, 68, 2) and shape != (1, 8, 68, 2):
                return f"{key} has shape {shape}"
    return None


def _constrained_text(body: dict[str, Any], task: str, override: str | None) -> str | None:
    """The answer under vLLM's `structured_outputs` (exactly one of its kinds; this fake knows `regex`), or
    None when the constraint cannot produce it: the engine could never write text its grammar rejects."""
    constraint = body["structured_outputs"]
    if set(constraint) != {"regex"}:
        return None
    text = override if override is not None else LABEL_ANSWERS[task]
    return text if re.fullmatch(constraint["regex"], text) else None


def _with_alternatives(tokens: list[dict[str, Any]], regex: str, task: str, top: int) -> None:
    """Top log-probabilities as vLLM reports them under a grammar: at the first position the chosen token
    (probability 0.6) and the other labels the grammar allows (sharing 0.4), later only the chosen token."""
    others = [label for label in REGISTRY[task].labels if re.fullmatch(regex, label) and label != tokens[0]["token"]]
    others = others[: top - 1]
    share = math.log(0.4 / len(others)) if others else None
    tokens[0]["logprob"] = math.log(0.6) if others else 0.0
    tokens[0]["top_logprobs"] = [{"token": tokens[0]["token"], "logprob": tokens[0]["logprob"]}] + [
        {"token": label, "logprob": share} for label in others
    ]
    for token in tokens[1:]:
        token["top_logprobs"] = [{"token": token["token"], "logprob": token["logprob"]}]


def _completion(body: dict[str, Any], text: str, tokens: list[dict[str, Any]], cut: bool) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "length" if cut else "stop",
    }
    if body.get("logprobs"):
        choice["logprobs"] = {"content": tokens}
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [choice],
        "usage": {"prompt_tokens": 300, "completion_tokens": len(tokens), "total_tokens": 300 + len(tokens)},
    }


def _stream(body: dict[str, Any], tokens: list[dict[str, Any]]):
    created = int(time.time())

    def event(delta: dict[str, str], finish_reason: str | None) -> str:
        chunk = {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    async def events():
        for token in tokens:
            yield event({"content": token["token"]}, None)
        yield event({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def create_fake_engine(state: FakeEngineState) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {}

    @app.get("/v1/models")
    async def models() -> dict:
        return {
            "object": "list",
            "data": [
                {
                    "id": MODEL,
                    "object": "model",
                    "created": 1764200000,
                    "owned_by": "vllm",
                    "root": "/models/tiny",
                }
            ],
        }

    @app.get("/facellava/info")
    async def info() -> dict:
        return {"landmark_conditioning": state.landmark_conditioning, "model_revision": "fake-rev-1"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        state.received.append(body)
        state.headers.append(dict(request.headers))
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            # Like vLLM: a client that hangs up aborts the generation.
            deadline = time.monotonic() + state.delay_s
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    state.cancelled += 1
                    return JSONResponse({}, status_code=499)
                await asyncio.sleep(0.02)
        finally:
            state.in_flight -= 1
        if state.fail_status is not None:
            return JSONResponse(
                {"error": {"message": "injected failure", "code": state.fail_status}},
                status_code=state.fail_status,
            )
        problem = _check_request(body)
        if problem:
            return JSONResponse(
                {"error": {"message": problem, "type": "BadRequestError", "code": 400}}, status_code=400
            )
        question = next(
            (
                p["text"]
                for m in body["messages"]
                if isinstance(m["content"], list)
                for p in m["content"]
                if p["type"] == "text"
            ),
            str(body["messages"][-1]["content"]),
        )
        if "structured_outputs" in body:
            text = _constrained_text(body, task_of(question), state.label_override)
            if text is None:
                return JSONResponse(
                    {"error": {"message": "constraint rejects the answer", "code": 400}}, status_code=400
                )
        else:
            text = state.answer_override or ANSWERS[task_of(question)]
        all_tokens = tokens_of(text)
        if body.get("top_logprobs") and "structured_outputs" in body and all_tokens:
            _with_alternatives(all_tokens, body["structured_outputs"]["regex"], task_of(question), body["top_logprobs"])
        tokens = all_tokens[: body.get("max_tokens") or None]
        text = "".join(t["token"] for t in tokens)
        if body.get("stream"):
            return _stream(body, tokens)
        return _completion(body, text, tokens, cut=len(tokens) < len(all_tokens))

    return app
