"""The OpenAI-compatible API through the official openai SDK: the gateway swaps the client's image or video
for the main face's crop(s) and landmarks, and relays the engine's answer or its event stream."""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest

from tests.gateway.fake_engine import ANSWERS
from tests.gateway.fake_preprocessor import describe


def data_url(spec: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64," + base64.b64encode(spec).decode()


@pytest.fixture
def sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=str(gateway.base_url.join("/v1")), api_key="unused", max_retries=0)


def image_message(spec: bytes, question: str = "What emotion is shown in the image?") -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_url(spec)}},
                {"type": "text", "text": question},
            ],
        }
    ]


def test_models(sdk):
    assert [model.id for model in sdk.models.list()] == ["facellava"]


def test_chat_with_an_image(sdk, engine_state):
    completion = sdk.chat.completions.create(
        model="facellava", messages=image_message(describe(kind="image"))
    )
    assert completion.choices[0].message.content == ANSWERS["expression"]
    (sent,) = engine_state.received
    part = sent["messages"][0]["content"][0]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/png;base64,")
    assert np.asarray(sent["mm_processor_kwargs"]["landmarks"]).shape == (1, 68, 2)
    assert sent["messages"][0]["content"][1]["text"] == "What emotion is shown in the image?"


def test_chat_stream(sdk, engine_state):
    stream = sdk.chat.completions.create(
        model="facellava", messages=image_message(describe(kind="image")), stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == ANSWERS["expression"]


def test_a_video_becomes_eight_crops(sdk, engine_state):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": data_url(describe(kind="video"), "video/mp4")}},
                {"type": "text", "text": "Is the video authentic, or is it a fake?"},
            ],
        }
    ]
    completion = sdk.chat.completions.create(model="facellava", messages=messages)
    assert completion.choices[0].message.content.startswith("Fake:")
    sent = engine_state.received[-1]
    assert sent["messages"][0]["content"][0]["video_url"]["url"].startswith("data:video/x-matroska;base64,")
    assert np.asarray(sent["mm_processor_kwargs"]["landmarks_videos"]).shape == (1, 8, 68, 2)


def test_text_only_chat_is_forwarded(sdk, engine_state):
    completion = sdk.chat.completions.create(
        model="facellava", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    assert completion.choices[0].message.content
    assert "mm_processor_kwargs" not in engine_state.received[-1]


def test_landmark_header(gateway):
    response = gateway.post(
        "/v1/chat/completions", json={"model": "facellava", "messages": image_message(describe(kind="image"))}
    )
    assert response.headers["x-facellava-landmarks-conditioned"] == "true"


def two_media_message() -> list[dict]:
    message = image_message(describe(kind="image"))
    message[0]["content"].append(message[0]["content"][0])
    return message


REMOTE_IMAGE = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://10.0.0.1/a.jpg"}}]}]


@pytest.mark.parametrize(
    ("model", "messages", "error", "code"),
    [
        ("gpt-4o", image_message(describe(kind="image")), openai.NotFoundError, "model_not_found"),
        ("facellava", two_media_message(), openai.BadRequestError, "too_many_media"),
        ("facellava", image_message(describe(kind="image", faces=0)), openai.UnprocessableEntityError, "no_face"),
        ("facellava", REMOTE_IMAGE, openai.BadRequestError, "url_fetch_disabled"),  # no fetching by default
    ],
)
def test_chat_refusals(sdk, model, messages, error, code):
    with pytest.raises(error) as refusal:
        sdk.chat.completions.create(model=model, messages=messages)
    assert refusal.value.body["code"] == code


def test_client_cannot_smuggle_processor_kwargs(gateway):
    body = {
        "model": "facellava",
        "messages": [{"role": "user", "content": "hi"}],
        "mm_processor_kwargs": {"landmarks": [[[0, 0]]]},
    }
    response = gateway.post("/v1/chat/completions", json=body)
    assert response.status_code == 422


def test_engine_error_before_the_stream_is_typed(sdk, engine_state):
    engine_state.fail_status = 500
    with pytest.raises(openai.APIStatusError) as error:
        sdk.chat.completions.create(
            model="facellava", messages=image_message(describe(kind="image")), stream=True
        )
    assert error.value.status_code == 503


def test_chat_without_max_tokens_gets_the_default(sdk, engine_state):
    """Not the engine's default (the rest of the context): FACELLAVA_DEFAULT_MAX_TOKENS, as for /analyze."""
    sdk.chat.completions.create(model="facellava", messages=image_message(describe(kind="image")))
    assert engine_state.received[-1]["max_tokens"] == 512
    sdk.chat.completions.create(
        model="facellava", messages=image_message(describe(kind="image")), max_completion_tokens=20
    )
    sent = engine_state.received[-1]
    assert sent["max_completion_tokens"] == 20 and "max_tokens" not in sent


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_tokens": 1025}, "max_tokens: at most 1024 on this server"),
        ({"max_completion_tokens": 4096}, "max_completion_tokens: at most 1024 on this server"),
        ({"temperature": 2.5}, "temperature: at most 2 on this server"),
    ],
)
def test_chat_sampling_over_the_settings_is_refused(sdk, engine_state, overrides, message):
    with pytest.raises(openai.UnprocessableEntityError) as refusal:
        sdk.chat.completions.create(model="facellava", messages=[{"role": "user", "content": "hi"}], **overrides)
    assert refusal.value.body["message"] == message
    assert engine_state.received == []


def test_chat_sampling_bounds_follow_the_settings(start_gateway, engine_state):
    client = start_gateway(max_tokens_limit=2048, max_temperature=0.5, default_max_tokens=64)
    ask = {"model": "facellava", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json={**ask, "max_tokens": 2000}).status_code == 200
    assert client.post("/v1/chat/completions", json=ask).status_code == 200
    assert engine_state.received[-1]["max_tokens"] == 64
    refused = client.post("/v1/chat/completions", json={**ask, "temperature": 0.7})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "temperature: at most 0.5 on this server"
