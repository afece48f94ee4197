"""Chat requests for the engine, in the shape common/engine_protocol.py fixes: one face medium (a crop or
eight crops) first, then the question, and the crop-pixel landmarks in mm_processor_kwargs.

Putting the medium before the text makes every task on one face share the same prompt prefix (system prompt,
image tokens), which vLLM's prefix cache computes once. With several engine replicas behind vLLM's router, that
cache lives in one replica: routing_key() names the face medium so the router sends its requests to one replica.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from common.engine_protocol import LANDMARKS_IMAGES_KEY, LANDMARKS_VIDEOS_KEY
from common.tasks import MediaKind

# greedy: deterministic, the same answer every time (best for labels); official: what the official inference.py
# does (model.generate with do_sample=True, temperature=0.1, max_new_tokens=1024 and transformers' default
# top_k=50), for answers as the authors' demo gives them.
Decoding = Literal["greedy", "official"]
OFFICIAL_TEMPERATURE = 0.1
OFFICIAL_TOP_K = 50
OFFICIAL_MAX_TOKENS = 1024

# The first header vllm-router's consistent_hash policy reads for its key (before X-Request-ID, which is per call).
ROUTING_KEY_HEADER = "X-Session-ID"
_MEDIA_PART_TYPES = ("image_url", "video_url")


@dataclass(frozen=True)
class Sampling:
    """Decoding parameters of one request (greedy unless the caller asks otherwise)."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        optional = {"top_p": self.top_p, "top_k": self.top_k, "seed": self.seed}
        params.update({name: value for name, value in optional.items() if value is not None})
        return params


def media_part(kind: MediaKind, url: str) -> dict[str, Any]:
    key = "image_url" if kind == "image" else "video_url"
    return {"type": key, key: {"url": url}}


def landmark_kwargs(kind: MediaKind, crop_landmarks: np.ndarray) -> dict[str, Any]:
    """mm_processor_kwargs for one medium: [68, 2] (image) or [8, 68, 2] (video) crop-pixel points."""
    key = LANDMARKS_IMAGES_KEY if kind == "image" else LANDMARKS_VIDEOS_KEY
    return {"mm_processor_kwargs": {key: [np.asarray(crop_landmarks, dtype=float).round(3).tolist()]}}


def task_payload(
    model: str,
    kind: MediaKind,
    url: str,
    question: str,
    sampling: Sampling,
    crop_landmarks: np.ndarray | None,
    structured_outputs: dict[str, Any] | None = None,
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    """One task on one face; token log-probabilities are asked for, to give each label a confidence.
    `structured_outputs` (vLLM's field) constrains the answer, e.g. {"regex": ...}; `top_logprobs` asks for
    the most likely alternatives at each position too (per-class scores read them)."""
    payload: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "user", "content": [media_part(kind, url), {"type": "text", "text": question}]}
        ],
        "logprobs": True,
        **sampling.as_params(),
    }
    if crop_landmarks is not None:
        payload.update(landmark_kwargs(kind, crop_landmarks))
    if structured_outputs is not None:
        payload["structured_outputs"] = structured_outputs
    if top_logprobs:
        payload["top_logprobs"] = top_logprobs
    return payload


def routing_key(payload: dict[str, Any]) -> str:
    """A digest of the request's first medium (the face crop or crops), else of its first message.

    Every task on one face sends the same medium, and the same upload always gives the same crops and the same
    bytes (the encoders are deterministic), so all of them, and a client's repeated requests for the same media,
    share a key and thus a replica: the one whose prefix cache holds that face. A digest of content rather than a
    request id keeps the mapping stable across gateway pods and restarts.
    """
    messages = payload.get("messages") or []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            kind = part.get("type")
            if kind in _MEDIA_PART_TYPES and isinstance(part.get(kind), dict):
                return media_key(str(part[kind].get("url", "")))
    return media_key(json.dumps(messages[:1], sort_keys=True, default=str))


def media_key(url: str) -> str:
    """The routing key of one medium (its data URL): what routing_key() derives, and what /analyze sends for every
    task of a face, whichever of the face's media (crop or 8-frame clip) a task is asked about."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]
