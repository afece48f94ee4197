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

from common.tasks import (
    ACTION_UNIT_NAMES,
    AGE_RANGE,
    CELEBA_ATTRIBUTES,
    DEEPFAKE_LABELS,
    EXPRESSION_EXTRA_LABELS,
    EXPRESSION_LABELS,
    TaskName,
)
from service.tasks.parsers.base import LabelHit, ParsedAnswer

# "free": the label is parsed from the model's own prose; "constrained": it is decoded under label_pattern().
LabelDecoding = Literal["free", "constrained"]

SEPARATOR = ", "

# Appended to the paper's question in the constrained request only, so the model's own words lead to the label.
INSTRUCTIONS: dict[TaskName, str] = {
    "expression": "Answer with one emotion word only.",
    "action_units": "Answer with the active action units only, as a comma-separated list like AU1, AU12.",
    "attributes": "Answer with the CelebA attributes only, as a comma-separated list like Male, Black_Hair.",
    "age": "Answer with the age in years only, as a number.",
    "deepfake": "Answer with one word only: real or fake.",
}

# The label strings each task's answer may contain (age: every integer of AGE_RANGE).
VOCABULARIES: dict[TaskName, tuple[str, ...]] = {
    "expression": EXPRESSION_LABELS + EXPRESSION_EXTRA_LABELS,
    "action_units": tuple(f"AU{number}" for number in ACTION_UNIT_NAMES),
    "attributes": CELEBA_ATTRIBUTES,
    "age": tuple(str(age) for age in range(AGE_RANGE[0], AGE_RANGE[1] + 1)),
    "deepfake": DEEPFAKE_LABELS,
}
LIST_TASKS: frozenset[TaskName] = frozenset({"action_units", "attributes"})
# Labels that begin a longer label ("AU1" of "AU12", "3" of "32"): cut by max_tokens, they may be unfinished.
_PREFIXES: dict[TaskName, frozenset[str]] = {
    task: frozenset(word for word in words if any(o != word and o.startswith(word) for o in words))
    for task, words in VOCABULARIES.items()
}


def constrained_question(task: TaskName, question: str) -> str:
    return f"{question} {INSTRUCTIONS[task]}"


def label_pattern(task: TaskName) -> str:
    """The regular expression the constrained answer must match. A list may have as many items as the
    vocabulary has labels (the grammar cannot forbid repeats; they are dropped when read back)."""
    words = sorted(VOCABULARIES[task], key=len, reverse=True)
    one = "(?:" + "|".join(re.escape(word) for word in words) + ")"
    if task not in LIST_TASKS:
        return one
    return f"{one}(?:{re.escape(SEPARATOR)}{one}){{0,{len(words) - 1}}}"


def structured_outputs(task: TaskName) -> dict[str, Any]:
    """vLLM's `structured_outputs` request field for the task (the post-0.12 replacement of guided_regex)."""
    return {"regex": label_pattern(task)}


def parse_constrained(task: TaskName, text: str, cut: bool = False) -> ParsedAnswer:
    """The labels of a constrained answer, each once, in order, with their character spans.

    Anything that is not a whole vocabulary member (an engine that ignored the constraint) is skipped, and so
    is a last item that may be unfinished when the answer was `cut` by max_tokens ("AU1" of "AU12"): a failure
    shows as fewer labels or `uncertain`, never as a wrong label.
    """
    vocabulary = set(VOCABULARIES[task])
    items = text.split(SEPARATOR) if task in LIST_TASKS else [text]
    if cut and items[-1] in _PREFIXES[task]:
        items[-1] = ""
    hits: dict[str, LabelHit] = {}
    position = 0
    for item in items:
        if item in vocabulary and item not in hits:
            hits[item] = LabelHit(item, position, position + len(item))
        position += len(item) + len(SEPARATOR)
    labels = list(hits.values())
    value = int(labels[0].label) if task == "age" and labels else None
    return ParsedAnswer(labels=labels, reasoning=text, value=value)
