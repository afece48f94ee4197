"""Which face a chat answer is about: media with several faces tell the client which one the model saw (headers
X-Facellava-Face and X-Facellava-Faces), and the request's `face` (the openai SDK's extra_body) picks another,
in /analyze's order. The fake preprocessor gives each face its own landmarks, so the test can see which was sent."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import openai
import pytest

from service.preprocess.types import PreprocessOptions
from tests.gateway.fake_preprocessor import FakePreprocessor, describe


@pytest.fixture
def sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=str(gateway.base_url.join("/v1")), api_key="unused", max_retries=0)


def messages(spec: bytes) -> list[dict]:
    url = "data:image/jpeg;base64," + base64.b64encode(spec).decode()
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": "Describe the face."}]}]


def landmarks_of(spec: bytes, index: int) -> np.ndarray:
    """What the (fake) pipeline finds for subject `index` of this media: its crop landmarks."""
    result = asyncio.run(FakePreprocessor().submit(spec, PreprocessOptions(max_faces=10)))
    return result.subjects[index].crop_landmarks


@pytest.mark.parametrize(("spec", "face"), [(describe(kind="image", faces=3), 2), (describe(kind="video", tracks=2), 1),
                                            (describe(kind="image", faces=3), 0)])
def test_the_chosen_face_is_sent_and_named(sdk, engine_state, spec, face):
    extra = {"face": face} if face else {}  # 0 is the default: the main face
    raw = sdk.chat.completions.with_raw_response.create(model="facellava", messages=messages(spec), extra_body=extra)
    assert raw.parse().choices[0].message.content
    found = 3 if b"image" in spec else 2
    assert (raw.headers["x-facellava-face"], raw.headers["x-facellava-faces"]) == (str(face), str(found))
    (sent,) = engine_state.received
    assert "face" not in sent  # ours, never forwarded to the engine
    (sent_landmarks,) = sent["mm_processor_kwargs"].values()  # the image or the video key
    np.testing.assert_allclose(np.reshape(sent_landmarks, (-1, 68, 2)), landmarks_of(spec, face).reshape(-1, 68, 2),
                               atol=1e-3)


def test_a_stream_names_its_face_too(gateway, engine_state):
    body = {"model": "facellava", "messages": messages(describe(kind="image", faces=2)), "stream": True, "face": 1}
    with gateway.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert (response.headers["x-facellava-face"], response.headers["x-facellava-faces"]) == ("1", "2")
        assert "data:" in response.read().decode()


@pytest.mark.parametrize(("face", "message"), [(2, "face: 2 asked, the media has 2 (the first is 0)"),
                                               (10, "face: at most 9 on this server")])
def test_a_face_that_is_not_there_is_refused(gateway, engine_state, face, message):
    body = {"model": "facellava", "messages": messages(describe(kind="image", faces=2)), "face": face}
    response = gateway.post("/v1/chat/completions", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == {**response.json()["error"], "code": "invalid_request", "message": message}
    assert not engine_state.received


def test_text_only_chat_has_no_face_headers(gateway, engine_state):
    body = {"model": "facellava", "messages": [{"role": "user", "content": "hello"}]}
    response = gateway.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert "x-facellava-face" not in response.headers and "x-facellava-faces" not in response.headers
