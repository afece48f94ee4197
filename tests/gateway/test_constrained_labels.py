"""Constrained label decoding: the grammar sent to the engine, reading its answers back, and the Analyzer's
two requests per (face, task) against the fake engine (which answers only what the grammar accepts)."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

from common.tasks import ACTION_UNIT_NAMES, AGE_RANGE, CELEBA_ATTRIBUTES
from service.api.analysis.analyzer import AnalysisPlan, Analyzer
from service.api.engine.client import EngineClient
from service.api.engine.payloads import Sampling
from service.api.error_responses import ApiError
from service.api.metrics import GatewayMetrics
from service.preprocess.types import PreprocessOptions
from service.tasks.constrained import label_pattern, parse_constrained, structured_outputs
from service.tasks.registry import REGISTRY
from tests.gateway.fake_engine import ANSWERS, LABEL_ANSWERS, tokens_of
from tests.gateway.fake_preprocessor import FakePreprocessor, describe, upload

TASKS = REGISTRY.names


@pytest.mark.parametrize("task", TASKS)
def test_the_grammar_accepts_every_label_of_the_vocabulary(task):
    for label in REGISTRY[task].labels:
        assert re.fullmatch(label_pattern(REGISTRY[task]), label), label


@pytest.mark.parametrize(
    ("task", "text"),
    [
        ("expression", "happiness"),
        ("expression", "happy, sad"),
        ("expression", "Happy"),
        ("deepfake", "probably fake"),
        ("age", "121"),
        ("age", "032"),
        ("age", "-3"),
        ("age", "thirty"),
        ("action_units", "AU3"),
        ("action_units", "AU6,AU12"),
        ("action_units", "AU6, "),
        ("attributes", "Black Hair"),
        ("attributes", "Male, Not_A_Label"),
        ("attributes", ""),
    ],
)
def test_the_grammar_rejects_anything_else(task, text):
    assert re.fullmatch(label_pattern(REGISTRY[task]), text) is None


def test_list_grammars_allow_a_whole_vocabulary_and_no_more():
    every_au = ", ".join(f"AU{number}" for number in ACTION_UNIT_NAMES)
    assert re.fullmatch(label_pattern(REGISTRY["action_units"]), every_au)
    assert re.fullmatch(label_pattern(REGISTRY["action_units"]), every_au + ", AU1") is None
    assert re.fullmatch(label_pattern(REGISTRY["attributes"]), ", ".join(CELEBA_ATTRIBUTES))


def test_structured_outputs_is_the_vllm_regex_field():
    assert structured_outputs(REGISTRY["deepfake"]) == {"regex": label_pattern(REGISTRY["deepfake"])}


def test_a_list_is_read_in_order_each_label_once_with_its_span():
    text = "AU12, AU6, AU12, AU25"
    parsed = parse_constrained(REGISTRY["action_units"], text)
    assert [hit.label for hit in parsed.labels] == ["AU12", "AU6", "AU25"]
    assert [text[hit.start : hit.end] for hit in parsed.labels] == ["AU12", "AU6", "AU25"]
    assert not parsed.uncertain and parsed.value is None


def test_age_gives_its_value():
    parsed = parse_constrained(REGISTRY["age"], "47")
    assert parsed.value == 47 and [hit.label for hit in parsed.labels] == ["47"]
    assert parse_constrained(REGISTRY["age"], str(AGE_RANGE[1])).value == AGE_RANGE[1]


@pytest.mark.parametrize(
    ("task", "text", "labels"),
    [
        ("action_units", "AU6, AU1", ["AU6"]),  # may have been AU12
        ("action_units", "AU6, AU25", ["AU6", "AU25"]),  # nothing longer starts with AU25
        ("age", "3", []),  # may have been 32
        ("age", "47", ["47"]),
        ("expression", "sad", ["sad"]),
    ],
)
def test_an_answer_cut_by_max_tokens_drops_a_last_label_that_may_be_unfinished(task, text, labels):
    assert [hit.label for hit in parse_constrained(REGISTRY[task], text, cut=True).labels] == labels


@pytest.mark.parametrize(
    ("task", "text"), [("expression", "The subject looks happy"), ("deepfake", ""), ("attributes", "Male,")]
)
def test_text_outside_the_grammar_is_uncertain_never_a_wrong_label(task, text):
    parsed = parse_constrained(REGISTRY[task], text)
    assert parsed.uncertain and parsed.labels == []


def _analyze(gateway_settings, plan: AnalysisPlan, spec: bytes):
    """The Analyzer against the fake engine, on what the fake preprocessor makes of `spec`."""
    async def run():
        metrics = GatewayMetrics()
        engine = EngineClient(gateway_settings(), metrics)
        try:
            result = await FakePreprocessor().submit(spec, PreprocessOptions())
            return await Analyzer(engine, metrics).analyze(result, plan, "req-1", {})
        finally:
            await engine.aclose()

    return asyncio.run(run())


def _plan(label_decoding: str, reasoning: bool = True, tasks=TASKS) -> AnalysisPlan:
    return AnalysisPlan(tuple(tasks), True, reasoning, 0, Sampling(max_tokens=256), label_decoding)


def test_constrained_with_reasoning_asks_twice_and_takes_the_label_from_the_constrained_answer(
    gateway_settings, engine_state
):
    (face,) = _analyze(gateway_settings, _plan("constrained"), describe(kind="video"))
    assert len(engine_state.received) == 2 * len(TASKS)
    by_id = {h["x-request-id"]: body for h, body in zip(engine_state.headers, engine_state.received, strict=True)}
    for number, task in enumerate(TASKS):
        free, label = by_id[f"req-1-{number}"], by_id[f"req-1-{number}-label"]
        assert "structured_outputs" not in free and label["structured_outputs"] == structured_outputs(REGISTRY[task])
        assert free["messages"][0]["content"][0] == label["messages"][0]["content"][0]  # same cached prefix
        assert free["mm_processor_kwargs"] == label["mm_processor_kwargs"]
        question = free["messages"][0]["content"][1]["text"]
        assert label["messages"][0]["content"][1]["text"].startswith(question + " Answer with")
        result = face.tasks[task]
        assert result.label_decoding == "constrained" and not result.uncertain
        assert result.raw_text == LABEL_ANSWERS[task] and result.prompt == question
        assert result.labels == LABEL_ANSWERS[task].split(", ")
        assert result.reasoning and result.reasoning in ANSWERS[task]
    assert face.tasks["age"].value == 32
    assert face.tasks["expression"].tower == "video" and face.tasks["age"].tower == "image"


def test_constrained_confidence_is_the_probability_of_the_constrained_label_tokens(
    gateway_settings, engine_state
):
    (face,) = _analyze(gateway_settings, _plan("constrained", tasks=["action_units"]), describe(kind="image"))
    tokens = tokens_of(LABEL_ANSWERS["action_units"])
    expected = {
        label: math.exp(sum(t["logprob"] for t in tokens if t["token"].strip() == label))
        for label in ("AU6", "AU12", "AU25")
    }
    result = face.tasks["action_units"]
    assert result.label_confidences == pytest.approx(expected)
    assert result.confidence == pytest.approx(min(expected.values()))


def test_constrained_without_reasoning_asks_only_for_the_label(gateway_settings, engine_state):
    faces = _analyze(
        gateway_settings, _plan("constrained", reasoning=False, tasks=["deepfake"]), describe(kind="image", faces=2)
    )
    assert len(engine_state.received) == 2
    assert all("structured_outputs" in body for body in engine_state.received)
    for face in faces:
        assert face.tasks["deepfake"].labels == ["fake"] and face.tasks["deepfake"].reasoning is None


def test_free_decoding_is_unchanged_one_request_and_no_constraint(gateway_settings, engine_state):
    (face,) = _analyze(gateway_settings, _plan("free", tasks=["expression"]), describe(kind="image"))
    (sent,) = engine_state.received
    assert "structured_outputs" not in sent and sent["messages"][0]["content"][1]["text"].endswith("image?")
    result = face.tasks["expression"]
    assert result.label_decoding == "free" and result.raw_text == ANSWERS["expression"]


def test_a_constrained_answer_cut_by_max_tokens_keeps_only_finished_labels(gateway_settings, engine_state):
    engine_state.label_override = "AU6, AU1, AU2"
    plan = AnalysisPlan(("action_units",), True, False, 0, Sampling(max_tokens=3), "constrained")
    (face,) = _analyze(gateway_settings, plan, describe(kind="image"))
    result = face.tasks["action_units"]
    assert (result.raw_text, result.finish_reason) == ("AU6, AU1", "length")  # AU1 may be the start of AU12
    assert result.labels == ["AU6"] and not result.uncertain


def test_an_engine_refusing_the_constraint_fails_the_request_with_a_typed_error(gateway_settings, engine_state):
    engine_state.label_override = "not a label"  # the fake answers 400: its grammar cannot produce this
    with pytest.raises(ApiError) as failure:
        _analyze(gateway_settings, _plan("constrained", tasks=["expression"]), describe(kind="image"))
    assert failure.value.status_code // 100 in (4, 5) and failure.value.code.startswith("engine")


def test_analyze_refuses_an_unknown_label_decoding(gateway):
    response = upload(gateway, describe(kind="image"), label_decoding="sometimes")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_analyze_reports_free_label_decoding_by_default(gateway, engine_state):
    body = upload(gateway, describe(kind="image"), tasks="age").json()
    assert body["faces"][0]["tasks"]["age"]["label_decoding"] == "free"
