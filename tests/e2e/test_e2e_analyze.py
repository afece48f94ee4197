"""POST /analyze end to end: `facellava serve` with the real preprocessing workers, in front of the real vLLM
engine (CPU build) serving the tiny random Face-LLaVA. The random model writes gibberish, so these tests check
structure, routing and status codes; labels must come from the vocabularies or be marked uncertain."""

from __future__ import annotations

import base64
import math
import re

import httpx
import pytest

from devkit.media import encode_clip, face_on_screen
from service.tasks.constrained import label_pattern
from service.tasks.registry import REGISTRY

pytestmark = pytest.mark.engine

TASKS = REGISTRY.names


def check_task_result(task: str, result: dict) -> None:
    assert result["uncertain"] or result["labels"]  # no label is always uncertain; a low class score too
    if task == "age":
        assert result["value"] is None if result["uncertain"] else re.fullmatch(r"\d+", result["labels"][0])
    else:
        assert set(result["labels"]) <= set(REGISTRY[task].labels)
    assert isinstance(result["raw_text"], str) and result["prompt"]
    if result["confidence"] is not None:
        assert 0 <= result["confidence"] <= 1


def test_image_every_task(client, engine, face_png):
    info = httpx.get(f"{engine.url}/facellava/info")
    response = client.post(
        "/analyze", files={"file": ("astronaut.png", face_png, "image/png")}, data={"tasks": ",".join(TASKS)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "facellava"
    if info.status_code == 200:
        assert body["model"]["revision"] == info.json()["model_revision"]
        assert body["landmarks_conditioned"] is (info.json()["landmark_conditioning"] == "on")
    assert body["media"] == {**body["media"], "type": "image", "format": "png", "width": 512, "height": 512}
    (face,) = body["faces"]
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512 and len(face["landmarks"]) == 68
    assert set(face["tasks"]) == set(TASKS)
    for task, result in face["tasks"].items():
        assert result["tower"] == "image"
        check_task_result(task, result)
    for stage in ("decode", "detect", "landmarks", "encode", "engine", "parse", "total"):
        assert body["timings"][stage] >= 0


def test_json_base64_upload(client, face_png):
    response = client.post(
        "/analyze",
        json={"media": {"base64": base64.b64encode(face_png).decode()}, "tasks": ["age"], "reasoning": False},
    )
    assert response.status_code == 200, response.text
    assert response.json()["faces"][0]["tasks"]["age"]["reasoning"] is None


def test_multi_face_image(client, two_faces_jpeg):
    response = client.post(
        "/analyze", files={"file": ("two.jpg", two_faces_jpeg)}, data={"tasks": "expression"}
    )
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    assert len(faces) == 2
    assert faces[0]["box"][0] != faces[1]["box"][0]


def test_video_uses_both_towers(client, face_clip):
    response = client.post("/analyze", files={"file": ("clip.mp4", face_clip, "video/mp4")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media"]["type"] == "video" and len(body["media"]["sampled_frames"]) == 8
    track = body["faces"][0]
    assert track["track_id"] == 0 and len(track["frames"]) == 8 and 0 <= track["best_frame"] < 8
    assert set(track["tasks"]) == set(TASKS)
    for task, result in track["tasks"].items():
        assert result["tower"] == ("video" if task in ("expression", "deepfake") else "image")
        check_task_result(task, result)


@pytest.mark.parametrize(
    ("on_screen", "tower"), [(range(0, 48), "video"), (range(48, 52), "image")], ids=["leaves", "glimpsed"]
)
def test_video_face_on_screen_part_of_the_clip(client, on_screen, tower):
    """Issue 9 through the real engine: a face that leaves after 1.6 s of 4 s is answered by the video tower on
    8 frames inside its span; one on screen for 4 frames is answered by the image tower, all tasks."""
    clip = encode_clip(face_on_screen(on_screen), 120)
    response = client.post("/analyze", files={"file": ("clip.mp4", clip, "video/mp4")},
                           data={"tasks": "expression,age", "max_tokens": "8"})
    assert response.status_code == 200, response.text
    (answer,) = response.json()["faces"]
    assert answer["tower"] == tower and len(answer["frames"]) == (8 if tower == "video" else 1)
    assert on_screen[0] / 30 - 1e-6 <= answer["span"][0] <= answer["span"][1] <= on_screen[-1] / 30 + 1e-6
    assert answer["tasks"]["expression"]["tower"] == tower and answer["tasks"]["age"]["tower"] == "image"
    for task, result in answer["tasks"].items():
        check_task_result(task, result)


@pytest.mark.parametrize(
    ("make_request", "status", "code"),
    [
        (
            lambda c, m: c.post("/analyze", files={"file": ("a.txt", b"just some text", "text/plain")}),
            415,
            "unsupported_media",
        ),
        (
            lambda c, m: c.post("/analyze", files={"file": ("cut.png", m["face"][:2000])}),
            422,
            "corrupt_media",
        ),
        (lambda c, m: c.post("/analyze", files={"file": ("coffee.png", m["no_face"])}), 422, "no_face"),
        (lambda c, m: c.post("/analyze", files={"file": ("big.png", b"\0" * 6_000_000)}), 413, "too_large"),
        (lambda c, m: c.post("/analyze", json={"media": {"base64": "%%%"}}), 400, "invalid_base64"),
        (
            lambda c, m: c.post("/analyze", files={"file": ("f.png", m["face"])}, data={"max_faces": "0"}),
            422,
            "invalid_request",
        ),
        (
            lambda c, m: c.post("/analyze", content=b"x", headers={"content-type": "text/plain"}),
            415,
            "unsupported_content_type",
        ),
        (
            lambda c, m: c.post("/analyze", json={"media": {"url": "http://127.0.0.1:1/x.png"}}),
            400,
            "url_fetch_disabled",
        ),
        (
            lambda c, m: c.post(
                "/analyze", files={"file": ("f.png", m["face"])}, headers={"Authorization": "Bearer no"}
            ),
            401,
            "unauthorized",
        ),
    ],
    ids=[
        "unsupported",
        "corrupt",
        "no-face",
        "too-large",
        "bad-base64",
        "bad-option",
        "content-type",
        "url",
        "bad-key",
    ],
)
def test_typed_errors(client, face_png, no_face_png, make_request, status, code):
    response = make_request(client, {"face": face_png, "no_face": no_face_png})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


def test_constrained_labels_are_always_vocabulary_members(client, face_clip):
    """Even the random model, which never names a label in free text, gives a vocabulary label for every task
    (possibly `uncertain`, by its class score) once its decoding is constrained (the real engine's xgrammar
    structured outputs), on both towers."""
    response = client.post(
        "/analyze",
        files={"file": ("clip.mp4", face_clip, "video/mp4")},
        data={"tasks": ",".join(TASKS), "label_decoding": "constrained", "max_tokens": "48"},
    )
    assert response.status_code == 200, response.text
    (track,) = response.json()["faces"]
    assert set(track["tasks"]) == set(TASKS)
    for task, answer in track["tasks"].items():
        assert answer["label_decoding"] == "constrained" and answer["labels"], (task, answer["raw_text"])
        assert answer["tower"] == ("video" if task in ("expression", "deepfake") else "image")
        check_task_result(task, answer)
        if answer["finish_reason"] == "stop":
            assert re.fullmatch(label_pattern(REGISTRY[task]), answer["raw_text"]), (task, answer["raw_text"])
        assert answer["confidence"] is not None and 0 < answer["confidence"] <= 1
        assert answer["reasoning"] is not None  # the free answer, asked alongside
    assert track["tasks"]["age"]["value"] == int(track["tasks"]["age"]["labels"][0])


def test_every_class_is_scored_from_one_constrained_answer(client, face_clip):
    """Single-label tasks get a score for each label of the vocabulary, read by the real engine's structured
    outputs and top log-probabilities (one constrained request per task, on the video tower here); the label
    returned is one that the scores support, and `uncertain` follows the server's threshold."""
    response = client.post(
        "/analyze",
        files={"file": ("clip.mp4", face_clip, "video/mp4")},
        data={"tasks": "expression,deepfake,age", "label_decoding": "constrained", "reasoning": "false"},
    )
    assert response.status_code == 200, response.text
    tasks = response.json()["faces"][0]["tasks"]
    for task in ("expression", "deepfake"):
        result = tasks[task]
        check_task_result(task, result)
        scores = result["scores"]
        assert set(scores) == set(REGISTRY[task].labels), (task, result["raw_text"])
        assert math.isclose(sum(scores.values()), 1.0, rel_tol=1e-6)
        assert all(0 <= value <= 1 for value in scores.values())
        assert scores[result["labels"][0]] > 0
        assert result["uncertain"] is (scores[result["labels"][0]] < 0.5)  # FACELLAVA_UNCERTAIN_BELOW default
    assert tasks["age"]["scores"] is None  # numeric: its value, no classes
