"""Label confidence from token log-probabilities: aligned by text, joint over the label's tokens."""

from __future__ import annotations

import math

import pytest

from service.tasks.confidence import TokenAlignment, TokenLogprob, task_confidence
from service.tasks.parsers.base import clean_answer
from service.tasks.registry import parse_answer


def tokens(*pairs: tuple[str, float]) -> list[TokenLogprob]:
    return [TokenLogprob(text, logprob) for text, logprob in pairs]


def test_single_token_label():
    raw = "It shows fear."
    alignment = TokenAlignment(
        tokens(("It", -0.1), (" shows", -0.2), (" fear", -0.7), (".", -0.01)), raw, raw
    )
    parsed = parse_answer("expression", raw)
    assert alignment.label_confidences(parsed.labels) == {"fear": pytest.approx(math.exp(-0.7))}


def test_multi_token_label_is_the_joint_probability():
    raw = "AU12 (Lip Corner Puller)"
    alignment = TokenAlignment(
        tokens(("AU", -0.1), ("1", -0.2), ("2", -0.3), (" (Lip", -0.4), (" Corner", 0.0), (" Puller)", 0.0)),
        raw,
        raw,
    )
    confidences = alignment.label_confidences(parse_answer("action_units", raw).labels)
    assert confidences == {"AU12": pytest.approx(math.exp(-0.5))}  # the number's tokens "1" and "2"


def test_leading_space_and_eos_in_tokens():
    raw = " Fake: warped jaw.</s>"
    parsed_text = clean_answer(raw)
    alignment = TokenAlignment(
        tokens((" Fake", -0.3), (":", 0.0), (" warped", -1.0), (" jaw", 0.0), (".", 0.0), ("</s>", 0.0)),
        raw,
        parsed_text,
    )
    assert alignment.label_confidences(parse_answer("deepfake", raw).labels) == {
        "fake": pytest.approx(math.exp(-0.3))
    }


@pytest.mark.parametrize("raw", [" real", "real", "real</s>"])
@pytest.mark.parametrize("first", ["real", " real"])
def test_a_blank_of_difference_between_tokens_and_text_keeps_the_confidence(raw: str, first: str):
    """The engine's token strings and its text may disagree on the first token's leading space (a constrained
    deepfake answer came back as "real" with no confidence): the label is found in the tokens all the same."""
    alignment = TokenAlignment(tokens((first, -0.3)), raw, clean_answer(raw))
    assert alignment.label_confidences(parse_answer("deepfake", clean_answer(raw)).labels) == {
        "real": pytest.approx(math.exp(-0.3))
    }


def test_misaligned_tokens_give_unknown_confidence():
    raw = "It shows fear."
    alignment = TokenAlignment(tokens(("completely", -0.1), (" different", -0.1)), raw, raw)
    assert alignment.label_confidences(parse_answer("expression", raw).labels) == {"fear": None}


def test_no_logprobs_give_unknown_confidence():
    raw = "It shows fear."
    assert TokenAlignment([], raw, raw).span_probability(9, 13) is None


def test_task_confidence_is_the_weakest_label():
    assert task_confidence({"AU1": 0.9, "AU2": 0.4}) == 0.4
    assert task_confidence({"AU1": 0.9, "AU2": None}) is None
    assert task_confidence({}) is None
