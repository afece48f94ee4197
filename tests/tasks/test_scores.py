"""Per-class scores from one constrained answer's top log-probabilities (service/tasks/scores.py)."""

from __future__ import annotations

import math

import pytest

from service.tasks.confidence import TokenLogprob
from service.tasks.registry import REGISTRY
from service.tasks.scores import class_scores

EXPRESSIONS = REGISTRY["expression"].labels


def token(text: str, probability: float, *alternatives: tuple[str, float]) -> TokenLogprob:
    """A generated token and its position's alternatives (the chosen token among them, as vLLM reports it)."""
    listed = [(text, probability), *alternatives]
    return TokenLogprob(text, math.log(probability), tuple(TokenLogprob(t, math.log(p)) for t, p in listed))


def test_single_token_labels_get_their_probabilities():
    scores = class_scores(("real", "fake"), [token(" fake", 0.7, (" real", 0.3))])
    assert scores == pytest.approx({"real": 0.3, "fake": 0.7})


def test_scores_are_normalised_over_the_vocabulary_and_cover_every_label():
    tokens = [token(" sad", 0.5, (" happy", 0.2), (" neutral", 0.1)), TokenLogprob("</s>", 0.0)]
    scores = class_scores(EXPRESSIONS, tokens)
    assert set(scores) == set(EXPRESSIONS) and sum(scores.values()) == pytest.approx(1.0)
    assert scores["sad"] == pytest.approx(0.5 / 0.8) and scores["happy"] == pytest.approx(0.2 / 0.8)
    assert scores["fear"] == 0.0


def test_a_shared_first_token_is_divided_by_the_path_the_answer_took():
    """"dis" starts disgust and disappointment: the next position shows how its probability divides."""
    tokens = [token(" dis", 0.6, (" sad", 0.4)), token("gust", 0.75, ("appointment", 0.25))]
    scores = class_scores(EXPRESSIONS, tokens)
    assert scores["disgust"] == pytest.approx(0.45)
    assert scores["disappointment"] == pytest.approx(0.15)
    assert scores["sad"] == pytest.approx(0.4)


def test_an_alternative_the_answer_did_not_follow_is_shared_by_the_labels_it_starts():
    tokens = [token(" fear", 0.5, (" h", 0.5))]  # " h": happy or helplessness
    scores = class_scores(EXPRESSIONS, tokens)
    assert scores["happy"] == scores["helplessness"] == pytest.approx(0.25)
    assert scores["fear"] == pytest.approx(0.5)


def test_an_answer_cut_inside_a_label_shares_its_path_among_the_labels_it_may_become():
    scores = class_scores(EXPRESSIONS, [token("dis", 1.0)])
    assert scores["disgust"] == scores["disappointment"] == pytest.approx(0.5)


def test_alternatives_outside_the_vocabulary_are_ignored():
    """Were the grammar not applied, tokens that start no label carry no score."""
    scores = class_scores(("real", "fake"), [token(" The", 0.9, (" fake", 0.06), (" real", 0.02))])
    assert scores == pytest.approx({"real": 0.25, "fake": 0.75})


def test_no_alternatives_no_scores():
    assert class_scores(("real", "fake"), [TokenLogprob("fake", -0.1)]) is None
    assert class_scores(("real", "fake"), []) is None
    assert class_scores(("real", "fake"), [token(" The", 1.0)]) is None
