"""A score for every class of a single-label task, read from one constrained answer's log-probabilities.

The label is decoded under the task's grammar (vLLM applies the grammar's token mask to the logits before it
computes log-probabilities, so every alternative it reports is a token the grammar allowed), and the request asks
for the top alternatives at each position. The probability of a label is then the probability of the token
paths that spell it: at the first position every allowed token starts some label, and its probability goes to
the labels it starts; when several labels share that token, the generated path shows how its mass divides one
position further, and an alternative that the path does not follow is shared equally by the labels it could
start. One request over the cached prefix gives the whole distribution, however many labels there are.

Probability outside the reported alternatives is not seen, so the scores are normalised over the vocabulary
(they sum to 1); with one token per label (expression, deepfake) the 20 alternatives vLLM reports by default
cover every label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from service.tasks.confidence import TokenLogprob

# vLLM's default --max-logprobs: the most alternatives per position a request may ask for.
TOP_LOGPROBS = 20


def class_scores(labels: Sequence[str], tokens: Sequence[TokenLogprob]) -> dict[str, float] | None:
    """Label -> probability (summing to 1), or None when the answer carries no alternatives to read."""
    if not tokens or not tokens[0].alternatives:
        return None
    mass = dict.fromkeys(labels, 0.0)
    spelled = ""  # the generated text so far
    path_logprob = 0.0  # its probability, in log
    for token in tokens:
        for alternative in token.alternatives:
            if alternative.text != token.text:
                _share(mass, labels, spelled + alternative.text, path_logprob + alternative.logprob)
        path_logprob += token.logprob
        if not _owners(labels, spelled + token.text):
            break  # the answer ends here (the end-of-sequence token) or leaves the vocabulary
        spelled += token.text
    _share(mass, labels, spelled, path_logprob, whole=True)
    total = sum(mass.values())
    return {label: value / total for label, value in mass.items()} if total > 0 else None


def _owners(labels: Sequence[str], spelled: str) -> list[str]:
    """The labels a text could still become (the answer may open with one space)."""
    text = spelled.lstrip(" ")
    return [label for label in labels if text and label.startswith(text)]


def _share(mass: dict[str, float], labels: Sequence[str], spelled: str, logprob: float, whole: bool = False) -> None:
    """Give a path's probability to the labels it spells (the one it completes, when `whole`) or could start."""
    text = spelled.lstrip(" ")
    owners = [text] if whole and text in mass else _owners(labels, spelled)
    for label in owners:
        mass[label] += math.exp(logprob) / len(owners)
