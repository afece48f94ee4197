"""The OpenAI-compatible API end to end, through the official openai SDK: the gateway crops the face of the
image or video in the message, adds its landmarks, and relays the real engine's answer or stream."""

from __future__ import annotations

import base64

import openai
import pytest

from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.engine


@pytest.fixture
def sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=API_KEY, max_retries=0, timeout=300)


def media_message(data: bytes, kind: str, mime: str) -> list[dict]:
    url = f"data:{mime};base64," + base64.b64encode(data).decode()
    return [
        {
            "role": "user",
            "content": [
                {"type": kind, kind: {"url": url}},
                {"type": "text", "text": "What emotion is shown in the image?"},
            ],
        }
    ]


def test_models(sdk):
    assert [model.id for model in sdk.models.list()] == ["facellava"]


def test_chat_image(sdk, face_png):
    completion = sdk.chat.completions.create(
        model="facellava",
        messages=media_message(face_png, "image_url", "image/png"),
        max_tokens=8,
        temperature=0,
    )
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert isinstance(completion.choices[0].message.content, str)
    assert completion.usage.prompt_tokens > 256  # the crop's 256 image tokens plus the prompt


def test_chat_stream_matches_non_stream(sdk, face_png):
    messages = media_message(face_png, "image_url", "image/png")
    whole = sdk.chat.completions.create(model="facellava", messages=messages, max_tokens=8, temperature=0)
    stream = sdk.chat.completions.create(
        model="facellava", messages=messages, max_tokens=8, temperature=0, stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed == whole.choices[0].message.content


def test_chat_video(sdk, face_clip):
    completion = sdk.chat.completions.create(
        model="facellava", messages=media_message(face_clip, "video_url", "video/mp4"), max_tokens=4
    )
    assert completion.usage.prompt_tokens > 8 * 257  # eight frames of 257 tokens


def test_chat_no_face(sdk, no_face_png):
    with pytest.raises(openai.UnprocessableEntityError):
        sdk.chat.completions.create(
            model="facellava", messages=media_message(no_face_png, "image_url", "image/png"), max_tokens=4
        )


def test_chat_without_max_tokens_stops_at_the_gateway_default(sdk):
    """The gateway's FACELLAVA_DEFAULT_MAX_TOKENS (12 here) bounds a chat that gives no limit, instead of the
    engine's default (the rest of the context, thousands of tokens for the tiny random model's gibberish)."""
    completion = sdk.chat.completions.create(model="facellava", messages=[{"role": "user", "content": "hi"}])
    assert completion.usage.completion_tokens <= 12
    if completion.choices[0].finish_reason == "length":
        assert completion.usage.completion_tokens == 12
