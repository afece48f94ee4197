"""POST /analyze against a real uvicorn gateway and the fake engine: the response contract, routing of tasks
to towers, concurrency, options, and every typed refusal."""

from __future__ import annotations

import base64
import logging
import math

import numpy as np
import pytest

from common.tasks import CELEBA_ATTRIBUTES, EXPRESSION_LABELS
from service.api.request_logging import RequestIdFilter
from tests.gateway.fake_engine import tokens_of
from tests.gateway.fake_preprocessor import describe, upload


def test_image_all_default_tasks(gateway, engine_state):
    response = upload(gateway, describe(kind="image", faces=1))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schema_version"] == "1"
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["model"] == {"name": "facellava", "revision": "fake-rev-1"}
    assert body["landmarks_conditioned"] is True
    assert body["media"]["type"] == "image" and body["media"]["width"] == 640
    (face,) = body["faces"]
    assert len(face["landmarks"]) == 68 and len(face["box"]) == 4
    assert set(face["tasks"]) == {"expression", "action_units", "attributes", "age"}
    assert face["tasks"]["expression"]["labels"] == ["happy"]
    assert face["tasks"]["expression"]["labels"][0] in EXPRESSION_LABELS
    assert face["tasks"]["action_units"]["labels"] == ["AU6", "AU12", "AU25"]
    assert face["tasks"]["age"]["value"] == 32 and face["tasks"]["age"]["labels"] == ["32"]
    attributes = face["tasks"]["attributes"]["labels"]
    assert (
        set(attributes) <= set(CELEBA_ATTRIBUTES) and "Black_Hair" in attributes and "Smiling" in attributes
    )
    for result in face["tasks"].values():
        assert result["tower"] == "image" and result["uncertain"] is False
        assert 0 < result["confidence"] <= 1 and result["raw_text"] and result["reasoning"]
    for stage in ("decode", "detect", "landmarks", "encode", "engine", "parse", "total"):
        assert body["timings"][stage] >= 0
    assert len(engine_state.received) == 4


def test_confidence_is_the_probability_of_the_label_tokens(gateway, engine_state):
    body = upload(gateway, describe(kind="image"), tasks="age").json()
    tokens = tokens_of(engine_state.received and body["faces"][0]["tasks"]["age"]["raw_text"])
    age_token = next(t for t in tokens if t["token"].strip() == "32")
    assert body["faces"][0]["tasks"]["age"]["confidence"] == pytest.approx(math.exp(age_token["logprob"]))


def test_engine_receives_png_crop_landmarks_and_derived_request_ids(gateway, engine_state):
    response = upload(gateway, describe(kind="image"), tasks="expression", landmarks="on")
    assert response.status_code == 200, response.text
    (payload,) = engine_state.received
    image_part, text_part = payload["messages"][0]["content"]
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
    assert text_part["text"] == "What emotion is shown in the image?"
    assert np.asarray(payload["mm_processor_kwargs"]["landmarks"]).shape == (1, 68, 2)
    assert payload["temperature"] == 0.0 and payload["logprobs"] is True
    assert engine_state.headers[0]["x-request-id"].startswith(response.headers["x-request-id"])


def test_client_request_id_is_echoed(gateway):
    response = upload(gateway, describe(kind="image"), tasks="age")
    assert response.status_code == 200
    response = gateway.post(
        "/analyze",
        headers={"X-Request-ID": "client-id-42"},
        files={"file": ("f", describe(kind="image"))},
        data={"tasks": "age"},
    )
    assert response.headers["x-request-id"] == "client-id-42"
    assert response.json()["request_id"] == "client-id-42"


def test_unsafe_request_id_is_replaced(gateway):
    response = gateway.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"


def test_json_body_with_base64(gateway):
    media = base64.b64encode(describe(kind="image", faces=2)).decode()
    response = gateway.post("/analyze", json={"media": {"base64": media}, "tasks": ["age", "deepfake"]})
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    assert len(faces) == 2 and all(set(f["tasks"]) == {"age", "deepfake"} for f in faces)
    assert faces[0]["tasks"]["deepfake"]["labels"] == ["fake"]


def test_data_url_prefix_is_accepted(gateway):
    media = "data:image/png;base64," + base64.b64encode(describe(kind="image")).decode()
    assert gateway.post("/analyze", json={"media": {"base64": media}, "tasks": ["age"]}).status_code == 200


def test_multi_face_tasks_are_sent_concurrently(gateway, engine_state):
    engine_state.delay_s = 0.3
    response = upload(gateway, describe(kind="image", faces=3))
    assert response.status_code == 200
    assert len(response.json()["faces"]) == 3
    assert engine_state.max_in_flight == 12  # 3 faces x 4 tasks, all at once


def test_max_faces_limits_faces(gateway, preprocessor):
    response = upload(gateway, describe(kind="image", faces=4), max_faces="2", tasks="age")
    assert len(response.json()["faces"]) == 2
    assert preprocessor.calls[-1].max_faces == 2


def test_video_routes_tasks_to_towers(gateway, engine_state):
    response = upload(gateway, describe(kind="video", tracks=1))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media"]["sampled_frames"] == [0, 4, 8, 12, 17, 21, 25, 29]
    (track,) = body["faces"]
    assert track["track_id"] == 0 and track["best_frame"] == 3 and len(track["frames"]) == 8
    assert track["frames"][3]["frame_index"] == 12
    towers = {task: result["tower"] for task, result in track["tasks"].items()}
    assert towers == {
        "expression": "video",
        "deepfake": "video",
        "action_units": "image",
        "attributes": "image",
        "age": "image",
    }
    kinds = sorted(p["messages"][0]["content"][0]["type"] for p in engine_state.received)
    assert kinds == ["image_url"] * 3 + ["video_url"] * 2
    video = next(p for p in engine_state.received if p["messages"][0]["content"][0]["type"] == "video_url")
    assert np.asarray(video["mm_processor_kwargs"]["landmarks_videos"]).shape == (1, 8, 68, 2)
    # One routing key for the whole face, on both towers: behind vllm-router all its tasks go to one replica.
    assert len({headers["x-session-id"] for headers in engine_state.headers}) == 1


def test_each_face_has_its_own_routing_key(gateway, engine_state):
    assert upload(gateway, describe(kind="image", faces=2), tasks="age,expression").status_code == 200
    keys = {}
    for payload, headers in zip(engine_state.received, engine_state.headers, strict=True):
        keys.setdefault(payload["messages"][0]["content"][0]["image_url"]["url"], set()).add(headers["x-session-id"])
    assert len(keys) == 2 and all(len(per_face) == 1 for per_face in keys.values())
    assert len(set().union(*keys.values())) == 2


def test_landmarks_follow_the_engine_mode(gateway, engine_state):
    engine_state.landmark_conditioning = "off"
    body = upload(gateway, describe(kind="image"), tasks="age").json()
    assert body["landmarks_conditioned"] is False
    assert "mm_processor_kwargs" not in engine_state.received[-1]
    response = upload(gateway, describe(kind="image"), tasks="age", landmarks="on")
    assert response.status_code == 422 and response.json()["error"]["code"] == "landmarks_unavailable"


def test_landmarks_off_sends_none(gateway, engine_state):
    body = upload(gateway, describe(kind="image"), tasks="age", landmarks="off").json()
    assert body["landmarks_conditioned"] is False
    assert "mm_processor_kwargs" not in engine_state.received[-1]


@pytest.mark.parametrize(("reasoning", "requests"), [("true", 2), ("false", 1)])
def test_constrained_label_decoding_through_the_api(gateway, engine_state, reasoning, requests):
    """The multipart option reaches the engine as a grammar and the response says which mode gave the label."""
    response = upload(
        gateway, describe(kind="image"), tasks="expression", label_decoding="constrained", reasoning=reasoning
    )
    assert response.status_code == 200, response.text
    assert len(engine_state.received) == requests
    assert sum("structured_outputs" in payload for payload in engine_state.received) == 1
    result = response.json()["faces"][0]["tasks"]["expression"]
    assert result["label_decoding"] == "constrained"
    assert result["labels"] and result["labels"][0] in EXPRESSION_LABELS and not result["uncertain"]


def test_free_label_decoding_is_the_default(gateway, engine_state):
    body = upload(gateway, describe(kind="image"), tasks="expression").json()
    assert body["faces"][0]["tasks"]["expression"]["label_decoding"] == "free"
    assert not any("structured_outputs" in payload for payload in engine_state.received)


def test_sampling_overrides_are_forwarded(gateway, engine_state):
    fields = {
        "tasks": "age",
        "temperature": "0.7",
        "top_p": "0.9",
        "seed": "7",
        "max_tokens": "100",
        "prompt_variant": "2",
    }
    assert upload(gateway, describe(kind="image"), **fields).status_code == 200
    sent = engine_state.received[-1]
    assert (sent["temperature"], sent["top_p"], sent["seed"], sent["max_tokens"]) == (0.7, 0.9, 7, 100)
    assert (
        sent["messages"][0]["content"][1]["text"]
        == "What age would you assign to the person in this visual, and why?"
    )


def test_uncertain_when_the_text_names_no_label(gateway, engine_state):
    engine_state.answer_override = "zq vlorp 3f frazzle"
    result = upload(gateway, describe(kind="image"), tasks="expression").json()["faces"][0]["tasks"][
        "expression"
    ]
    assert result["uncertain"] is True and result["labels"] == [] and result["confidence"] is None
    assert result["raw_text"] == "zq vlorp 3f frazzle"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"tasks": "age,telepathy"}, 422, "invalid_request"),
        ({"max_faces": "0"}, 422, "invalid_request"),
        ({"max_faces": "11"}, 422, "invalid_request"),
        ({"temperature": "5"}, 422, "invalid_request"),
        ({"top_p": "0"}, 422, "invalid_request"),
        ({"max_tokens": "5000"}, 422, "invalid_request"),
        ({"landmarks": "sometimes"}, 422, "invalid_request"),
        ({"prompt_variant": "10"}, 422, "invalid_request"),
        ({"colour": "red"}, 422, "invalid_request"),
    ],
)
def test_invalid_options(gateway, fields, status, code):
    response = upload(gateway, describe(kind="image"), **fields)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("spec", "status", "code"),
    [
        (describe(kind="image", faces=0), 422, "no_face"),
        (describe(kind="video", tracks=0), 422, "no_face"),
        (describe(error="unsupported_media"), 415, "unsupported_media"),
        (describe(error="corrupt_media"), 422, "corrupt_media"),
        (describe(error="too_large"), 413, "too_large"),
        (describe(error="video_too_long"), 413, "video_too_long"),
        (describe(error="face_too_small"), 422, "face_too_small"),
        (describe(error="decode_timeout"), 422, "decode_timeout"),
        (describe(error="busy"), 429, "busy"),
        (describe(error="worker_crashed"), 422, "worker_crashed"),
        (describe(error="internal_error"), 500, "internal_error"),  # a bug in the worker: honest 500
        (describe(bug=True), 500, "internal_error"),  # an unexpected exception: still the JSON error body
    ],
)
def test_preprocessing_refusals(gateway, spec, status, code):
    response = upload(gateway, spec)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    if status == 429:
        assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    ("request_args", "status", "code"),
    [
        ({"files": {"other": ("x", b"1")}}, 422, "invalid_request"),  # no field named file
        ({"files": {"file": ("face.png", b"", "image/png")}}, 400, "empty_media"),
        ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "unsupported_content_type"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "invalid_request"),
        ({"content": b"--xx\r\ngarbage", "headers": {"content-type": "multipart/form-data"}}, 400, "bad_multipart"),
    ],
    ids=["missing-file", "empty-file", "wrong-content-type", "malformed-json", "malformed-multipart"],
)
def test_malformed_requests(gateway, request_args, status, code):
    response = gateway.post("/analyze", **request_args)
    assert response.status_code == status and response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"media": {"base64": "!!not base64!!"}}, 400, "invalid_base64"),
        ({"media": {"base64": ""}}, 400, "empty_media"),
        ({"media": {}}, 422, "invalid_request"),
        ({"media": {"base64": "aGk=", "url": "http://x"}}, 422, "invalid_request"),
        ({"media": {"url": "http://169.254.169.254/latest"}}, 400, "url_fetch_disabled"),
        ({"tasks": ["age"]}, 422, "invalid_request"),
    ],
)
def test_bad_json_bodies(gateway, body, status, code):
    response = gateway.post("/analyze", json=body)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_repeated_tasks_fields_are_all_kept(gateway, engine_state):
    """-F tasks=age -F tasks=expression,deepfake: every value of every occurrence counts."""
    response = gateway.post(
        "/analyze",
        files={"file": ("face.png", describe(kind="image"), "image/png")},
        data={"tasks": ["age", "expression,deepfake"]},
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["faces"][0]["tasks"]) == {"age", "expression", "deepfake"}
    assert len(engine_state.received) == 3


def test_a_repeated_single_value_field_is_refused(gateway):
    response = gateway.post(
        "/analyze",
        files={"file": ("face.png", describe(kind="image"), "image/png")},
        data={"tasks": "age", "max_faces": ["1", "3"]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {
        "code": "invalid_request",
        "message": "max_faces: given 2 times; give it once",
        "request_id": response.headers["x-request-id"],
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_tokens": "1025"}, "max_tokens: at most 1024 on this server"),
        ({"temperature": "2.5"}, "temperature: at most 2 on this server"),
    ],
)
def test_sampling_over_the_settings_is_refused_naming_the_bound(gateway, engine_state, fields, message):
    response = upload(gateway, describe(kind="image"), tasks="age", **fields)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == message
    assert engine_state.received == []


def test_sampling_bounds_follow_the_settings(start_gateway, engine_state):
    client = start_gateway(max_tokens_limit=2000, max_temperature=3.0, default_max_tokens=700)
    response = upload(client, describe(kind="image"), tasks="age", max_tokens="1500", temperature="2.5")
    assert response.status_code == 200, response.text
    assert (engine_state.received[-1]["max_tokens"], engine_state.received[-1]["temperature"]) == (1500, 2.5)
    assert upload(client, describe(kind="image"), tasks="age").status_code == 200
    assert engine_state.received[-1]["max_tokens"] == 700
    refused = upload(client, describe(kind="image"), tasks="age", max_tokens="2001")
    assert refused.json()["error"]["message"] == "max_tokens: at most 2000 on this server"
    # The OpenAPI document states the same bounds, in every request model that has the fields.
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("AnalyzeJSONRequest", "AnalyzeForm", "ChatCompletionRequest"):
        properties = components[model]["properties"]
        for field, bound in (("max_tokens", 2000), ("temperature", 3.0)):
            maxima = [b.get("maximum") for b in properties[field].get("anyOf", [properties[field]])]
            assert bound in maxima, (model, field, properties[field])


def test_max_faces_description_states_the_order_faces_are_kept_in(gateway, preprocessor):
    """Images keep the faces with the highest detector scores (the pipeline's order), not the largest."""
    described = gateway.get("/openapi.json").json()["components"]["schemas"]["AnalyzeJSONRequest"]
    description = described["properties"]["max_faces"]["description"]
    assert "largest first" not in description and "highest detector scores" in description
    body = upload(gateway, describe(kind="image", faces=3), max_faces="2", tasks="age").json()
    scores = [face["score"] for face in body["faces"]]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)


def test_a_server_side_failure_hides_its_details_from_the_client(gateway, caplog: pytest.LogCaptureFixture):
    caplog.handler.addFilter(RequestIdFilter())  # as the JSON log handler stamps records in production
    with caplog.at_level(logging.ERROR, logger="facellava.preprocess"):
        response = gateway.post(
            "/analyze",
            headers={"X-Request-ID": "hidden-1"},
            files={"file": ("f", describe(error="internal_error"))},
        )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error" and "fake preprocessor" not in error["message"]
    logged = [r for r in caplog.records if getattr(r, "detail", None) == "refused by the fake preprocessor"]
    assert logged and logged[0].request_id == "hidden-1"
