"""One registry of tasks: every part of the gateway reads it, so a task added there (one module and one line)
is asked, parsed, constrained, scored and accepted by the API with nothing else changed."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from common.tasks import CELEBA_ATTRIBUTES, DEEPFAKE_LABELS, EXPRESSION_EXTRA_LABELS, EXPRESSION_LABELS
from service.api.analysis.analyzer import AnalysisPlan, Analyzer
from service.api.engine.client import EngineClient
from service.api.engine.payloads import Sampling
from service.api.metrics import GatewayMetrics
from service.preprocess.types import PreprocessOptions
from service.tasks.constrained import label_pattern
from service.tasks.registry import REGISTRY, TaskRegistry
from service.tasks.task import same_for_both
from tests.gateway.fake_preprocessor import FakePreprocessor, describe
from tests.tasks import toy_task

ROOT = Path(__file__).resolve().parents[2]


def test_the_five_tasks_are_declared_once_with_their_vocabularies_and_towers():
    assert REGISTRY.names == ("expression", "action_units", "attributes", "age", "deepfake")
    assert REGISTRY["expression"].labels == EXPRESSION_LABELS + EXPRESSION_EXTRA_LABELS
    assert REGISTRY["attributes"].labels == CELEBA_ATTRIBUTES and REGISTRY["deepfake"].labels == DEEPFAKE_LABELS
    assert {task.name for task in REGISTRY if task.video_tower == "video"} == {"expression", "deepfake"}
    assert REGISTRY.defaults("image") == ("expression", "action_units", "attributes", "age")
    assert REGISTRY.defaults("video") == REGISTRY.names
    assert {task.name: task.metric for task in REGISTRY} == {
        "expression": "uar_war",
        "action_units": "f1",
        "attributes": "mean_accuracy",
        "age": "mae",
        "deepfake": "accuracy",
    }
    assert [task.name for task in REGISTRY if task.scored] == ["expression", "deepfake"]


def test_video_prompts_speak_of_the_image_on_the_image_tower():
    expression = REGISTRY["expression"]
    assert expression.prompt("video") == "What emotion is shown in the video?"
    assert expression.prompt("image") == "What emotion is shown in the image?"
    assert REGISTRY["age"].prompt("video", 3) == REGISTRY["age"].prompt("image", 3)


def test_the_registry_refuses_inconsistent_declarations():
    with pytest.raises(ValueError, match="already registered"):
        TaskRegistry([toy_task.TASK, toy_task.TASK])
    short = replace(toy_task.TASK, name="short", prompts=same_for_both(["one question"]))
    with pytest.raises(ValueError, match="prompt variants"):
        TaskRegistry([toy_task.TASK, short])
    with pytest.raises(ValueError, match="distinct"):
        replace(toy_task.TASK, labels=("left", "left"))


@pytest.fixture
def with_toy_task(monkeypatch: pytest.MonkeyPatch):
    """The registry with the toy task's line added, for one test."""
    monkeypatch.setattr(REGISTRY, "_tasks", dict(REGISTRY._tasks))
    REGISTRY.register(toy_task.TASK)
    return toy_task.TASK


def test_a_registered_task_is_asked_parsed_constrained_and_scored(with_toy_task, gateway_settings, engine_state):
    assert "gaze" in REGISTRY and REGISTRY.defaults("image")[-1] == "gaze"
    assert re.fullmatch(label_pattern(with_toy_task), "center")
    engine_state.answer_override = "The person is looking to the left, away from the camera."
    engine_state.label_override = "left"
    plan = AnalysisPlan(("gaze",), False, True, 4, Sampling(max_tokens=64), "constrained")

    async def run():
        metrics = GatewayMetrics()
        client = EngineClient(gateway_settings(), metrics)
        try:
            result = await FakePreprocessor().submit(describe(kind="video"), PreprocessOptions())
            return await Analyzer(client, metrics).analyze(result, plan, "toy", {})
        finally:
            await client.aclose()

    (face,) = asyncio.run(run())
    free, label = sorted(engine_state.received, key=lambda body: "structured_outputs" in body)
    assert free["messages"][0]["content"][0]["type"] == "image_url"  # its tower on a video: the best frame
    assert free["messages"][0]["content"][1]["text"] == "Where is the person looking? (4)"
    assert label["structured_outputs"] == {"regex": label_pattern(with_toy_task)}
    result = face.tasks["gaze"]
    assert result.labels == ["left"] and result.tower == "image"
    assert result.reasoning == engine_state.answer_override
    assert set(result.scores) == {"left", "right", "center"} and result.scores["left"] == 1.0


def test_the_api_accepts_a_registered_task_with_no_other_change():
    """Registering before the API's models are built (as the registry's own line does) is all it takes."""
    script = (
        "from service.tasks.registry import REGISTRY\n"
        "from tests.tasks.toy_task import TASK\n"
        "REGISTRY.register(TASK)\n"
        "from service.api.schemas import AnalyzeOptions\n"
        "options = AnalyzeOptions(tasks=['gaze', 'age'])\n"
        "assert options.tasks == ['gaze', 'age']\n"
        "print(AnalyzeOptions.model_json_schema()['properties']['tasks'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "gaze" in done.stdout and "'maxItems': 6" in done.stdout
