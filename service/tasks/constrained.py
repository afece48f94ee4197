"""Constrained decoding of the label: the engine may only write a member of the task's vocabulary.

The free answer is prose that a parser maps onto the vocabulary, so it can name no label (`uncertain`). With
`label_decoding="constrained"` the gateway also asks the engine for the label alone, under a regular expression
that vLLM's structured outputs (xgrammar) enforce token by token: one expression or real/fake, an integer age
in AGE_RANGE, or a comma-separated list of AU numbers or CelebA attribute names. The answer's format is then
fixed, so reading it back is exact, and the label tokens' log-probabilities give its confidence.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from service.tasks.parsers.base import LabelHit, ParsedAnswer
from service.tasks.task import Task

# "free": the label is parsed from the model's own prose; "constrained": it is decoded under label_pattern().
LabelDecoding = Literal["free", "constrained"]

SEPARATOR = ", "
# The answer may open with one space: the tokenizer writes a word after "ASSISTANT:" as " word", and a grammar
# that forbade it would push the model onto tokenizations it never wrote (and skew the class scores).
_OPENING = " ?"


def _prefixes(labels: tuple[str, ...]) -> frozenset[str]:
    """Labels that begin a longer label ("AU1" of "AU12", "3" of "32"): cut by max_tokens, they may be unfinished."""
    return frozenset(word for word in labels if any(other != word and other.startswith(word) for other in labels))


def constrained_question(task: Task, question: str) -> str:
    return f"{question} {task.instruction}"


def label_pattern(task: Task) -> str:
    """The regular expression the constrained answer must match. A list may have as many items as the
    vocabulary has labels (the grammar cannot forbid repeats; they are dropped when read back)."""
    words = sorted(task.labels, key=len, reverse=True)
    one = "(?:" + "|".join(re.escape(word) for word in words) + ")"
    if not task.multi_label:
        return _OPENING + one
    return f"{_OPENING}{one}(?:{re.escape(SEPARATOR)}{one}){{0,{len(words) - 1}}}"


def structured_outputs(task: Task) -> dict[str, Any]:
    """vLLM's `structured_outputs` request field for the task (the post-0.12 replacement of guided_regex)."""
    return {"regex": label_pattern(task)}


def parse_constrained(task: Task, text: str, cut: bool = False) -> ParsedAnswer:
    """The labels of a constrained answer, each once, in order, with their character spans.

    Anything that is not a whole vocabulary member (an engine that ignored the constraint) is skipped, and so
    is a last item that may be unfinished when the answer was `cut` by max_tokens ("AU1" of "AU12"): a failure
    shows as fewer labels or `uncertain`, never as a wrong label.
    """
    vocabulary = set(task.labels)
    items = text.split(SEPARATOR) if task.multi_label else [text]
    if cut and items[-1] in _prefixes(task.labels):
        items[-1] = ""
    hits: dict[str, LabelHit] = {}
    position = 0
    for item in items:
        if item in vocabulary and item not in hits:
            hits[item] = LabelHit(item, position, position + len(item))
        position += len(item) + len(SEPARATOR)
    labels = list(hits.values())
    value = int(labels[0].label) if task.numeric and labels else None
    return ParsedAnswer(labels=labels, reasoning=text, value=value)
