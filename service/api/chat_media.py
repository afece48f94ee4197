"""The face pipeline for OpenAI chat requests: the one image or video in the messages is replaced by the crop
(or eight crops) of its main face, and that face's landmarks are attached for the engine.

So any OpenAI client gets what Face-LLaVA was trained on (a 256 px square face crop) without knowing about it.
The medium's kind is decided by its decoded content, not by the part type the client used.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.tasks import MediaKind
from service.api.analyze_input import decode_base64
from service.api.engine_payloads import landmark_kwargs, media_part
from service.api.errors import ApiError
from service.api.media_encoding import png_data_url, video_data_url
from service.api.preprocessing import Preprocessor, require_faces, run_preprocess
from service.api.schemas import ChatMessage, ImagePart, VideoPart
from service.api.settings import Settings
from service.api.url_fetch import fetch_media
from service.preprocess.types import ImageResult, PreprocessOptions, VideoResult


@dataclass(frozen=True)
class PreparedChat:
    messages: list[dict[str, Any]]
    extra: dict[str, Any]  # mm_processor_kwargs with the landmarks, when sent


async def prepare_chat(
    messages: list[ChatMessage], preprocessor: Preprocessor, settings: Settings, with_landmarks: bool
) -> PreparedChat:
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
        raise ApiError(400, "too_many_media", "send one image or one video per request")
    m, p = located[0]
    part = messages[m].content[p]
    assert isinstance(part, ImagePart | VideoPart)
    url = part.image_url.url if isinstance(part, ImagePart) else part.video_url.url
    data = decode_base64(url) if url.startswith("data:") else await fetch_media(url, settings)
    result = await run_preprocess(preprocessor, data, PreprocessOptions(max_faces=1), None, settings)
    require_faces(result)
    kind, cropped_url, crop_landmarks = await asyncio.to_thread(_encode_main_face, result)
    dumped[m]["content"][p] = media_part(kind, cropped_url)
    return PreparedChat(dumped, landmark_kwargs(kind, crop_landmarks) if with_landmarks else {})


def _encode_main_face(result: ImageResult | VideoResult) -> tuple[MediaKind, str, np.ndarray]:
    """The main face's crop (video: the primary track's 8 crops) as a data URL, with its crop landmarks."""
    if isinstance(result, ImageResult):
        face = result.faces[0]
        return "image", png_data_url(face.crop), face.crop_landmarks
    track = result.tracks[0]
    if track.tower == "image":  # seen in too few frames for the video tower: its best frame, as an image
        face = track.faces[track.best_frame]
        return "image", png_data_url(face.crop), face.crop_landmarks
    return "video", video_data_url(track.crops), track.crop_landmarks
