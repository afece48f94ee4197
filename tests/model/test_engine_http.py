"""The engine as deployed: vLLM's OpenAI server (`python -m vllm.entrypoints.openai.api_server`, the project's
engine command and environment) on the converted oracle, driven over real HTTP.

- The served chat path builds exactly the official token ids (the served chat template + the processor),
  checked with vLLM's `return_token_ids`, and answers with the official greedy tokens, for image and video
  data URLs with and without landmarks (both bit-exact video transports: FFV1-in-Matroska and a `video/jpeg`
  list of PNGs).
- Every malformed request is an HTTP 400 naming the problem, and the engine keeps serving afterwards.
- GET /facellava/info reports the landmark-conditioning mode and model revision of the served config.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import tempfile
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from engine_support import Oracle, case_tag, is_healthy, landmarks_key, served_ids
from PIL import Image

from common.child_server import ChildServer
from common.engine_protocol import (
    FRAMES_PER_VIDEO,
    INFO_PATH,
    LANDMARK_POINTS,
    LANDMARKS_IMAGES_KEY,
    LANDMARKS_VIDEOS_KEY,
    EngineInfo,
)
from model.config import FaceLlavaConfig
from model.plugin import model_revision

pytestmark = [pytest.mark.engine, pytest.mark.slow]

REQUEST_TIMEOUT_S = 120


def _png_b64(rgb: np.ndarray | Image.Image) -> str:
    buffer = io.BytesIO()
    (rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def image_url(image: Image.Image) -> str:
    return f"data:image/png;base64,{_png_b64(image)}"


def png_list_video_url(frames: np.ndarray) -> str:
    """vLLM's `video/jpeg` transport: comma-separated base64 images (PIL sniffs PNG), lossless."""
    return "data:video/jpeg;base64," + ",".join(_png_b64(frame) for frame in frames)


def ffv1_video_url(frames: np.ndarray) -> str:
    """FFV1 in Matroska, the gateway's transport: lossless, decoded by vLLM's OpenCV loader."""
    with tempfile.NamedTemporaryFile(suffix=".mkv") as file:
        height, width = frames.shape[1:3]
        writer = cv2.VideoWriter(file.name, cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"FFV1"), 8.0, (width, height))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        data = Path(file.name).read_bytes()
    return "data:video/x-matroska;base64," + base64.b64encode(data).decode()


def chat_body(media_part: dict, question: str, *, max_tokens: int = 1, mm_kwargs: dict | None = None) -> dict:
    body = {
        "model": "facellava",
        "messages": [{"role": "user", "content": [media_part, {"type": "text", "text": question}]}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "return_token_ids": True,
    }
    if mm_kwargs is not None:
        body["mm_processor_kwargs"] = mm_kwargs
    return body


def post_chat(server: ChildServer, body: dict) -> httpx.Response:
    # allow_nan: the NaN case must reach the engine as a JSON NaN literal, as a careless client would send it.
    payload = json.dumps(body, allow_nan=True)
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        content=payload,
        headers={"content-type": "application/json"},
        timeout=REQUEST_TIMEOUT_S,
    )


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def video_part(url: str) -> dict:
    return {"type": "video_url", "video_url": {"url": url}}


CHAT_CASES = [
    ("image", False, "png"),
    ("image", True, "png"),
    ("video", False, "png-list"),
    ("video", True, "ffv1"),
]


@pytest.mark.parametrize(("kind", "landmarks", "transport"), CHAT_CASES)
def test_chat_builds_official_ids_and_answers_officially(
    engine_server: ChildServer, oracle: Oracle, serving_config: FaceLlavaConfig, kind, landmarks, transport
):
    if kind == "image":
        part = image_part(image_url(oracle.image_crop()))
    else:
        frames = oracle.video_frames()
        part = video_part(ffv1_video_url(frames) if transport == "ffv1" else png_list_video_url(frames))
    expected_answer = oracle.array(f"{case_tag(kind, landmarks)}_generated_ids")[0].tolist()
    mm_kwargs = {landmarks_key(kind): [oracle.landmarks_px(kind)]} if landmarks else None
    body = chat_body(part, oracle.question(kind), max_tokens=len(expected_answer), mm_kwargs=mm_kwargs)
    response = post_chat(engine_server, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["prompt_token_ids"] == served_ids(oracle.official_ids(kind, landmarks), kind, serving_config)
    assert result["choices"][0]["token_ids"] == expected_answer


def test_info_reports_landmark_mode_and_revision(engine_server: ChildServer, serving_config: FaceLlavaConfig):
    """The mode in effect: the folder says off (the converter's default), the engine was started with the
    override on, and /facellava/info reports the override."""
    response = httpx.get(f"{engine_server.url}{INFO_PATH}", timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, response.text
    info = EngineInfo.model_validate(response.json())
    assert serving_config.landmark_conditioning == "off"
    assert info.landmark_conditioning == "on"
    assert info.model_revision == model_revision(serving_config)
    assert info.model_revision != "unrecorded"


def _image_landmarks(oracle: Oracle, change) -> dict:
    array = np.asarray(oracle.landmarks_px("image"), dtype=np.float64)
    return {LANDMARKS_IMAGES_KEY: [change(array).tolist()]}


def _set(value: float):
    def change(array: np.ndarray) -> np.ndarray:
        array.flat[3] = value
        return array

    return change


BAD_IMAGE_REQUESTS = {
    "landmarks one point short": (
        lambda o: _image_landmarks(o, lambda a: a[:-1]),
        re.escape(f"must have shape [{LANDMARK_POINTS}, 2]"),
    ),
    "landmarks NaN": (lambda o: _image_landmarks(o, _set(math.nan)), "NaN or infinite"),
    "landmarks out of range": (lambda o: _image_landmarks(o, _set(1e5)), "must lie in"),
    "landmarks for two images": (
        lambda o: {LANDMARKS_IMAGES_KEY: [o.landmarks_px("image")] * 2},
        "has 2 entries but the prompt has 1",
    ),
    "unknown kwarg": (lambda o: {"landmarkz": []}, "unknown mm_processor_kwargs"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGE_REQUESTS))
def test_bad_landmarks_are_400_and_engine_keeps_serving(engine_server: ChildServer, oracle: Oracle, case: str):
    make_kwargs, message = BAD_IMAGE_REQUESTS[case]
    body = chat_body(
        image_part(image_url(oracle.image_crop())), oracle.question("image"), mm_kwargs=make_kwargs(oracle)
    )
    response = post_chat(engine_server, body)
    assert response.status_code == 400, response.text
    assert message_matches(response, message)
    _assert_still_serving(engine_server, oracle)


def test_video_landmarks_for_seven_frames_are_400(engine_server: ChildServer, oracle: Oracle):
    landmarks = oracle.landmarks_px("video")[:-1]
    part = video_part(png_list_video_url(oracle.video_frames()))
    body = chat_body(part, oracle.question("video"), mm_kwargs={LANDMARKS_VIDEOS_KEY: [landmarks]})
    response = post_chat(engine_server, body)
    assert response.status_code == 400, response.text
    assert message_matches(response, re.escape(f"must have shape [{FRAMES_PER_VIDEO}, {LANDMARK_POINTS}, 2]"))
    _assert_still_serving(engine_server, oracle)


def test_seven_frames_are_400(engine_server: ChildServer, oracle: Oracle):
    frames = oracle.video_frames()[: FRAMES_PER_VIDEO - 1]
    response = post_chat(engine_server, chat_body(video_part(png_list_video_url(frames)), oracle.question("video")))
    assert response.status_code == 400, response.text
    assert message_matches(response, f"has {FRAMES_PER_VIDEO - 1} frames")
    _assert_still_serving(engine_server, oracle)


def test_one_pixel_image_is_400(engine_server: ChildServer, oracle: Oracle):
    tiny = Image.new("RGB", (1, 1), color=(128, 64, 32))
    response = post_chat(engine_server, chat_body(image_part(image_url(tiny)), oracle.question("image")))
    assert response.status_code == 400, response.text
    assert message_matches(response, "smallest accepted side")
    _assert_still_serving(engine_server, oracle)


def message_matches(response: httpx.Response, pattern: str) -> bool:
    return re.search(pattern, response.json()["error"]["message"]) is not None


def _assert_still_serving(server: ChildServer, oracle: Oracle) -> None:
    body = chat_body(image_part(image_url(oracle.image_crop())), oracle.question("image"))
    response = post_chat(server, body)
    assert response.status_code == 200, response.text
    assert is_healthy(server)


def _completion(server: ChildServer, prompt: str | list[int]) -> httpx.Response:
    body = {"model": "facellava", "prompt": prompt, "max_tokens": 1, "temperature": 0.0}
    return httpx.post(f"{server.url}/v1/completions", json=body, timeout=REQUEST_TIMEOUT_S)


def _chat(server: ChildServer, messages: list[dict]) -> httpx.Response:
    body = {"model": "facellava", "messages": messages, "max_tokens": 1, "temperature": 0.0}
    return post_chat(server, body)


def _placeholder_requests(oracle: Oracle, config: FaceLlavaConfig) -> dict[str, tuple]:
    """Each way a client can slip a placeholder past its media: (send, expected message)."""
    image = image_part(image_url(oracle.image_crop()))
    question = {"type": "text", "text": oracle.question("image")}
    text_ids = [token for token in oracle.official_ids("image", False) if token >= 0]  # the official prompt's text
    return {
        "completion token ids, no media": (
            lambda s: _completion(s, [*text_ids[:4], config.image_token_id, *text_ids[4:]]),
            "holds 1 <image> placeholder token(s) but the request carries 0 image(s)",
        ),
        "completion text, no media": (
            lambda s: _completion(s, "USER: <video> what is this? ASSISTANT:"),
            "holds 1 <video> placeholder token(s) but the request carries 0 video(s)",
        ),
        "chat text, no media": (
            lambda s: _chat(s, [{"role": "user", "content": "<image>\nWhat expression is this?"}]),
            "holds 1 <image> placeholder token(s) but the request carries 0 image(s)",
        ),
        "earlier turn's text, with an image": (
            lambda s: _chat(
                s,
                [
                    {"role": "user", "content": "<image>\nLook at this."},
                    {"role": "assistant", "content": "I see."},
                    {"role": "user", "content": [image, question]},
                ],
            ),
            "holds 2 <image> placeholder token(s) but the request carries 1 image(s)",
        ),
        "system message, with an image": (
            lambda s: _chat(
                s,
                [{"role": "system", "content": "<video>"}, {"role": "user", "content": [image, question]}],
            ),
            "holds 1 <video> placeholder token(s) but the request carries 0 video(s)",
        ),
    }


PLACEHOLDER_CASES = [
    "completion token ids, no media",
    "completion text, no media",
    "chat text, no media",
    "earlier turn's text, with an image",
    "system message, with an image",
]


@pytest.mark.parametrize("case", PLACEHOLDER_CASES)
def test_placeholders_without_their_media_are_400_and_engine_keeps_serving(
    engine_server: ChildServer, oracle: Oracle, serving_config: FaceLlavaConfig, case: str
):
    send, message = _placeholder_requests(oracle, serving_config)[case]
    response = send(engine_server)
    assert response.status_code == 400, response.text
    assert message_matches(response, re.escape(message))
    _assert_still_serving(engine_server, oracle)
