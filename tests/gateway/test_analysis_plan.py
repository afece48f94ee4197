"""/analyze decides its whole plan before any work: options, settings and engine info give an immutable
AnalysisPlan or the typed error that refuses the request, so a refused request never reaches preprocessing."""

from __future__ import annotations

import dataclasses

import pytest

from common.engine_protocol import EngineInfo
from service.api.analysis.analyzer import AnalysisPlan
from service.api.error_responses import ApiError
from service.api.schemas import AnalyzeOptions
from service.api.settings import Settings
from service.tasks.registry import REGISTRY
from tests.gateway.fake_preprocessor import FakePreprocessor, describe, upload

SETTINGS = Settings(max_faces_limit=4, default_max_faces=2, max_tokens_limit=100, default_max_tokens=100)
LANDMARKS_OFF = EngineInfo(landmark_conditioning="off", model_revision="r")


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"max_faces": 5}, "invalid_request"),
        ({"max_tokens": 101}, "invalid_request"),
        ({"landmarks": "on"}, "landmarks_unavailable"),
    ],
)
def test_the_plan_step_refuses_with_the_catalogued_error(options, code):
    with pytest.raises(ApiError) as refused:
        AnalysisPlan.build(AnalyzeOptions(**options), SETTINGS, LANDMARKS_OFF)
    assert refused.value.code == code


def test_the_plan_carries_the_preprocessing_options_and_resolves_default_tasks_by_medium():
    plan = AnalysisPlan.build(AnalyzeOptions(frame_previews=True), SETTINGS, LANDMARKS_OFF)
    assert (plan.preprocess.max_faces, plan.preprocess.previews, plan.send_landmarks) == (2, True, False)
    assert plan.tasks_for("video") == REGISTRY.defaults("video")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.tasks = ("age",)  # type: ignore[misc]


def test_a_request_refused_by_its_plan_never_reaches_preprocessing(gateway, preprocessor: FakePreprocessor):
    before = len(preprocessor.calls)
    response = upload(gateway, describe(kind="image", faces=1), max_faces="11")  # the default limit is 10
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")
    assert len(preprocessor.calls) == before
    assert upload(gateway, describe(kind="image", faces=1)).status_code == 200  # the same upload, planned, is served
    assert len(preprocessor.calls) == before + 1
