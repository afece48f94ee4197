"""How /analyze asks for answers: whole answers without reasoning, the greedy and official decodings, and the
per-class scores with their uncertainty threshold, through a real gateway in front of the fake engine."""

from __future__ import annotations

import math

import pytest

from service.tasks.registry import REGISTRY
from tests.gateway.fake_preprocessor import describe, upload

# An action-unit answer in the model's list style whose last units come long after the first 48 tokens.
LATE_LABELS = (
    "Looking at the face as a whole, the brows are drawn together and pulled down, the eyelids are tightened "
    "and the upper lip is raised slightly, while the chin is pushed upward and the lips are pressed. "
    "The active units are AU4 (Brow Lowerer), AU7 (Lid Tightener), AU10 (Upper Lip Raiser), AU17 (Chin Raiser) "
    "and AU24 (Lip Pressor)."
)


def _result(response, task: str) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["faces"][0]["tasks"][task]


@pytest.mark.parametrize("reasoning", ["true", "false"])
def test_without_reasoning_the_whole_answer_is_generated_and_every_label_kept(gateway, engine_state, reasoning):
    engine_state.answer_override = LATE_LABELS
    result = _result(upload(gateway, describe(kind="image"), tasks="action_units", reasoning=reasoning), "action_units")
    assert engine_state.received[-1]["max_tokens"] == 512  # FACELLAVA_DEFAULT_MAX_TOKENS, not a label-only cap
    assert result["labels"] == ["AU4", "AU7", "AU10", "AU17", "AU24"]
    assert result["finish_reason"] == "stop"
    assert (result["reasoning"] is None) is (reasoning == "false")


def test_greedy_is_the_default_decoding(gateway, engine_state):
    result = _result(upload(gateway, describe(kind="image"), tasks="age"), "age")
    sent = engine_state.received[-1]
    assert sent["temperature"] == 0.0 and "top_k" not in sent and sent["max_tokens"] == 512
    assert result["decoding"] == "greedy"


def test_official_decoding_is_the_official_inference_sampling(gateway, engine_state):
    result = _result(upload(gateway, describe(kind="image"), tasks="age", decoding="official"), "age")
    sent = engine_state.received[-1]
    assert (sent["temperature"], sent["top_k"], sent["max_tokens"]) == (0.1, 50, 1024)
    assert result["decoding"] == "official"


def test_explicit_sampling_fields_override_the_preset(gateway, engine_state):
    fields = {"tasks": "age", "decoding": "official", "temperature": "0.3", "max_tokens": "64", "seed": "3"}
    assert upload(gateway, describe(kind="image"), **fields).status_code == 200
    sent = engine_state.received[-1]
    assert (sent["temperature"], sent["top_k"], sent["max_tokens"], sent["seed"]) == (0.3, 50, 64, 3)


def test_official_decoding_stays_within_the_server_token_limit(start_gateway, engine_state):
    client = start_gateway(max_tokens_limit=256, default_max_tokens=128)
    assert upload(client, describe(kind="image"), tasks="age", decoding="official").status_code == 200
    assert engine_state.received[-1]["max_tokens"] == 256


def test_an_unknown_decoding_is_refused(gateway):
    response = upload(gateway, describe(kind="image"), decoding="beam")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def _check_scores(result: dict, task: str) -> None:
    scores = result["scores"]
    assert set(scores) == set(REGISTRY[task].labels)
    assert math.isclose(sum(scores.values()), 1.0, rel_tol=1e-9)
    assert max(scores, key=scores.get) == result["labels"][0]


@pytest.mark.parametrize("task", ["expression", "deepfake"])
def test_constrained_single_label_tasks_score_every_class_in_one_request(gateway, engine_state, task):
    response = upload(gateway, describe(kind="video"), tasks=task, label_decoding="constrained", reasoning="false")
    result = _result(response, task)
    (sent,) = engine_state.received
    assert sent["top_logprobs"] == 20 and "structured_outputs" in sent
    _check_scores(result, task)
    assert result["scores"][result["labels"][0]] == pytest.approx(0.6)
    assert not result["uncertain"]


def test_scores_with_free_labels_add_one_constrained_request(gateway, engine_state):
    result = _result(upload(gateway, describe(kind="image"), tasks="expression", scores="true"), "expression")
    assert len(engine_state.received) == 2
    free, constrained = sorted(engine_state.received, key=lambda body: "structured_outputs" in body)
    assert "top_logprobs" not in free and constrained["top_logprobs"] == 20
    assert result["label_decoding"] == "free" and result["reasoning"]
    _check_scores(result, "expression")


def test_multi_label_and_numeric_tasks_have_no_scores(gateway, engine_state):
    response = upload(gateway, describe(kind="image"), tasks="action_units,age", label_decoding="constrained")
    tasks = response.json()["faces"][0]["tasks"]
    assert tasks["action_units"]["scores"] is None and tasks["age"]["scores"] is None
    assert all("top_logprobs" not in body for body in engine_state.received)


def test_free_answers_have_no_scores_unless_asked(gateway, engine_state):
    result = _result(upload(gateway, describe(kind="image"), tasks="expression"), "expression")
    assert result["scores"] is None and len(engine_state.received) == 1


def test_a_label_scoring_below_the_threshold_is_uncertain_but_kept(start_gateway, engine_state):
    client = start_gateway(uncertain_below=0.7)
    response = upload(client, describe(kind="image"), tasks="expression", label_decoding="constrained")
    result = _result(response, "expression")
    assert result["labels"] == ["happy"] and result["scores"]["happy"] == pytest.approx(0.6)
    assert result["uncertain"] is True


def test_chat_clients_can_ask_for_the_official_decoding(gateway, engine_state):
    """An OpenAI client reaches the official sampling with temperature 0.1 and vLLM's top_k (extra_body)."""
    message = {"role": "user", "content": "Describe a smile."}
    body = {"model": "facellava", "messages": [message], "temperature": 0.1, "top_k": 50, "max_tokens": 1024}
    assert gateway.post("/v1/chat/completions", json=body).status_code == 200
    sent = engine_state.received[-1]
    assert (sent["temperature"], sent["top_k"], sent["max_tokens"]) == (0.1, 50, 1024)
