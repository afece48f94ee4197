"""Face-LLaVA through the REAL vLLM engine (CPU build, float32) computes what the official code computed.

Starting from the oracle's raw inputs (256 px crop PNG, 8 frame PNGs, landmark pixel arrays) and the official
prompt ids, all four cases (image/video x without/with landmarks) run in ONE generate call, so the engine
batches them across requests (traced once: the two videos shared one vision batch, one item with landmarks and
one without). Logits are read through vLLM's own logprobs path with `logprobs_mode="raw_logits"` and
`logprobs` = the vocabulary size: the entry of generated step k holds the raw logits of every token at that
step, step 0 being the last prompt position (prefill).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_support import (
    CASES,
    ENGINE_KV_CACHE_BYTES,
    Oracle,
    case_lengths,
    case_tag,
    engine_prompt_ids,
    landmarks_key,
)

from model.config import FaceLlavaConfig

pytestmark = [pytest.mark.engine, pytest.mark.slow]

LANDMARKS_ON = {"landmark_conditioning": "on"}
LOGIT_TOLERANCE = 1e-4  # relative to the reference's max magnitude (README of the oracle)


def _run_engine(
    serving_dir: Path, config: FaceLlavaConfig, oracle: Oracle, cases: list[tuple[str, bool]], **engine_args
) -> list:
    """One offline engine, all cases in one generate call, then the engine is shut down."""
    from vllm import LLM, SamplingParams

    vocab = config.text_config.vocab_size
    lengths = case_lengths(oracle, config)
    llm = LLM(
        model=str(serving_dir),
        dtype="float32",
        enforce_eager=True,
        max_model_len=max(lengths),
        max_num_batched_tokens=sum(lengths),  # every case's prefill fits one step: they batch together
        kv_cache_memory_bytes=ENGINE_KV_CACHE_BYTES,
        logprobs_mode="raw_logits",
        max_logprobs=vocab,
        limit_mm_per_prompt={"image": 1, "video": 1},
        **engine_args,
    )
    prompts, params = [], []
    for kind, landmarks in cases:
        prompt = {
            "prompt_token_ids": engine_prompt_ids(oracle.official_ids(kind, landmarks), kind, config),
            "multi_modal_data": {kind: oracle.media(kind)},
        }
        if landmarks:
            prompt["mm_processor_kwargs"] = {landmarks_key(kind): [oracle.landmarks_px(kind)]}
        prompts.append(prompt)
        steps = oracle.array(f"{case_tag(kind, landmarks)}_generated_ids").shape[1]
        params.append(SamplingParams(temperature=0.0, max_tokens=steps, logprobs=vocab))
    try:
        outputs = llm.generate(prompts, params)
    finally:
        # Free the engine's processes and memory now, not at interpreter exit.
        llm.llm_engine.engine_core.shutdown()
    return [out.outputs[0] for out in outputs]


@pytest.fixture(scope="module")
def engine_outputs(serving_dir: Path, serving_config: FaceLlavaConfig, oracle: Oracle) -> dict[str, object]:
    """Conditioning turned on at engine start (vLLM's standard --hf-overrides): the converter's default is off."""
    outputs = _run_engine(serving_dir, serving_config, oracle, CASES, hf_overrides=LANDMARKS_ON)
    return {case_tag(kind, lm): out for (kind, lm), out in zip(CASES, outputs, strict=True)}


@pytest.fixture(scope="module")
def engine_outputs_off(
    serving_dir: Path, serving_config: FaceLlavaConfig, oracle: Oracle
) -> dict[str, object]:
    """The converted folder as it is (conditioning off by default, as the official inference); landmarks are
    still sent."""
    assert serving_config.landmark_conditioning == "off"
    cases = [("image", True), ("video", True)]
    outputs = _run_engine(serving_dir, serving_config, oracle, cases)
    return {kind: out for (kind, _), out in zip(cases, outputs, strict=True)}


def _step_logits(step_logprobs: dict, vocab: int) -> np.ndarray:
    return np.array([step_logprobs[token].logprob for token in range(vocab)], dtype=np.float64)


def _relative_error(actual: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(actual - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize(("kind", "landmarks"), CASES)
def test_greedy_tokens_equal_official(engine_outputs, oracle: Oracle, kind: str, landmarks: bool):
    tag = case_tag(kind, landmarks)
    assert list(engine_outputs[tag].token_ids) == oracle.array(f"{tag}_generated_ids")[0].tolist()


@pytest.mark.parametrize(("kind", "landmarks"), CASES)
def test_prefill_logits_equal_official(
    engine_outputs, oracle: Oracle, serving_config, kind: str, landmarks: bool
):
    tag = case_tag(kind, landmarks)
    vocab = serving_config.text_config.vocab_size
    logits = _step_logits(engine_outputs[tag].logprobs[0], vocab)
    assert _relative_error(logits, oracle.array(f"{tag}_prefill_logits_last")[0]) < LOGIT_TOLERANCE


@pytest.mark.parametrize(("kind", "landmarks"), CASES)
def test_every_decode_step_logits_equal_official(
    engine_outputs, oracle: Oracle, serving_config, kind, landmarks
):
    """The KV-cache path: each generated step's logits against the official per-step scores."""
    tag = case_tag(kind, landmarks)
    vocab = serving_config.text_config.vocab_size
    scores = oracle.array(f"{tag}_generate_step_scores")[0]
    steps = engine_outputs[tag].logprobs
    assert len(steps) == scores.shape[0]
    for step, reference in zip(steps, scores, strict=True):
        assert _relative_error(_step_logits(step, vocab), reference) < LOGIT_TOLERANCE


@pytest.mark.parametrize("kind", ["image", "video"])
def test_landmarks_change_the_answer(engine_outputs, kind: str):
    """Guards the comparison itself: with and without landmarks differ, so a dropped branch cannot pass."""
    assert list(engine_outputs[case_tag(kind, True)].token_ids) != list(
        engine_outputs[case_tag(kind, False)].token_ids
    )


@pytest.mark.parametrize("kind", ["image", "video"])
def test_conditioning_off_ignores_landmarks(engine_outputs_off, oracle: Oracle, serving_config, kind: str):
    """By default (no override), a request with landmarks gets the official answer without landmarks."""
    tag = case_tag(kind, False)
    answer = engine_outputs_off[kind]
    assert list(answer.token_ids) == oracle.array(f"{tag}_generated_ids")[0].tolist()
    logits = _step_logits(answer.logprobs[0], serving_config.text_config.vocab_size)
    assert _relative_error(logits, oracle.array(f"{tag}_prefill_logits_last")[0]) < LOGIT_TOLERANCE
