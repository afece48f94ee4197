"""The face pipeline for OpenAI chat requests: the one image or video in the messages is replaced by the crop
(or eight crops) of one face, the main one unless the request's `face` names another, and that face's landmarks
are attached for the engine. Which face was used, of how many, goes back to the client (media with several faces
would otherwise leave it guessing whom the answer is about).

So any OpenAI client gets what Face-LLaVA was trained on (a 256 px square face crop) without knowing about it.
The medium's kind is decided by its decoded content, not by the part type the client used.

Client text never reaches the engine carrying one of the model's control tokens: "<image>" or "<video>" in text
would become a placeholder token with no medium behind it, and "<s>", "</s>" or "<unk>" would forge the prompt's
structure (the tokenizer turns those strings into their special ids wherever they appear). Such a request is
refused with 400 `reserved_token` (refused, not rewritten: a silently edited message would answer another
question than the one asked).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.engine_protocol import IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER
from common.tasks import MediaKind
from service.api.analysis.analyze_input import decode_base64
from service.api.analysis.media_encoding import png_data_url, video_data_url
from service.api.analysis.preprocessing import Preprocessor, require_faces, run_preprocess
from service.api.engine.payloads import landmark_kwargs, media_part
from service.api.error_responses import ApiError
from service.api.schemas import ChatMessage, ImagePart, TextPart, VideoPart
from service.api.settings import Settings
from service.api.url_fetch import fetch_media
from service.preprocess.types import ImageResult, PreprocessOptions, VideoResult

# The strings the served tokenizer turns into special ids: the two placeholders and LLaMA's BOS, EOS and UNK.
RESERVED_TOKENS = (IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER, "<s>", "</s>", "<unk>")


@dataclass(frozen=True)
class PreparedChat:
    messages: list[dict[str, Any]]
    extra: dict[str, Any]  # mm_processor_kwargs with the landmarks, when sent
    face: int | None = None  # the face (video: track) used, in /analyze's order; None without media
    faces: int = 0  # faces (tracks) found, up to FACELLAVA_MAX_FACES_LIMIT


async def prepare_chat(
    messages: list[ChatMessage], preprocessor: Preprocessor, settings: Settings, with_landmarks: bool, face: int = 0
) -> PreparedChat:
    refuse_reserved_tokens(messages)
    located = [
        (m, p)
        for m, message in enumerate(messages)
        if isinstance(message.content, list)
        for p, part in enumerate(message.content)
        if isinstance(part, ImagePart | VideoPart)
    ]
    dumped = [message.model_dump(exclude_none=True) for message in messages]
    if not located:
        return PreparedChat(dumped, {})
    if len(located) > 1:
        raise ApiError("too_many_media", "send one image or one video per request")
    if face >= settings.max_faces_limit:
        raise ApiError("invalid_request", f"face: at most {settings.max_faces_limit - 1} on this server")
    m, p = located[0]
    part = messages[m].content[p]
    assert isinstance(part, ImagePart | VideoPart)
    field = "image_url" if isinstance(part, ImagePart) else "video_url"
    url = getattr(part, field).url
    where = f"messages[{m}].content[{p}].{field}.url"
    data = decode_base64(url, where) if url.startswith("data:") else await fetch_media(url, settings)
    options = PreprocessOptions(max_faces=settings.max_faces_limit)
    result = await run_preprocess(preprocessor, data, options, None, settings)
    require_faces(result)
    found = len(result.subjects)
    if face >= found:
        raise ApiError("invalid_request", f"face: {face} asked, the media has {found} (the first is 0)")
    kind, cropped_url, crop_landmarks = await asyncio.to_thread(_encode_face, result, face)
    dumped[m]["content"][p] = media_part(kind, cropped_url)
    extra = landmark_kwargs(kind, crop_landmarks) if with_landmarks else {}
    return PreparedChat(dumped, extra, face, found)


def refuse_reserved_tokens(messages: list[ChatMessage]) -> None:
    """400 reserved_token when any client text (every role, and the optional name) holds a control token."""
    for index, message in enumerate(messages):
        if isinstance(message.content, str):
            texts = [message.content]
        else:
            texts = [part.text for part in message.content if isinstance(part, TextPart)]
        texts.append(message.name or "")
        found = sorted({token for text in texts for token in RESERVED_TOKENS if token in text})
        if found:
            raise ApiError(
                "reserved_token",
                f"messages.{index}: text may not contain the model's control tokens {', '.join(found)}; "
                "send media as image_url or video_url parts",
            )


def _encode_face(result: ImageResult | VideoResult, index: int) -> tuple[MediaKind, str, np.ndarray]:
    """Face `index`'s crop (video: that track's 8 crops) as a data URL, with its crop landmarks."""
    if isinstance(result, ImageResult):
        face = result.faces[index]
        return "image", png_data_url(face.crop), face.crop_landmarks
    track = result.tracks[index]
    if track.tower == "image":  # seen in too few frames for the video tower: its best frame, as an image
        face = track.faces[track.best_frame]
        return "image", png_data_url(face.crop), face.crop_landmarks
    return "video", video_data_url(track.crops), track.crop_landmarks
