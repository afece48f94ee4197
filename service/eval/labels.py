"""Data-set label spellings mapped onto the service's vocabularies (common/tasks.py), so a truth and a
prediction compare as equal strings. A spelling not here is an unknown label: reported, the item skipped."""

from __future__ import annotations

import re

from common.tasks import ACTION_UNIT_NAMES, CELEBA_ATTRIBUTES, EXPRESSION_EXTRA_LABELS, EXPRESSION_LABELS

EXPRESSIONS = EXPRESSION_LABELS + EXPRESSION_EXTRA_LABELS
_EXPRESSION_SPELLINGS = {
    **{label: label for label in EXPRESSIONS},
    "happiness": "happy",
    "sadness": "sad",
    "anger": "angry",
    "surprised": "surprise",
    "fearful": "fear",
    "disgusted": "disgust",
    "contemptuous": "contempt",
    "anxious": "anxiety",
    "helpless": "helplessness",
    "disappointed": "disappointment",
}
_DEEPFAKE_SPELLINGS = {"real": "real", "original": "real", "fake": "fake", "manipulated": "fake"}
_ATTRIBUTES = {name.lower(): name for name in CELEBA_ATTRIBUTES}


def expression(text: str) -> str | None:
    return _EXPRESSION_SPELLINGS.get(text.strip().lower())


def deepfake(text: str) -> str | None:
    return _DEEPFAKE_SPELLINGS.get(text.strip().lower())


def attribute(text: str) -> str | None:
    return _ATTRIBUTES.get(text.strip().lower().replace(" ", "_"))


def action_unit(text: str | int) -> str | None:
    """`AU12`, `au 12`, `12` -> `AU12`, for the FACS units the service knows."""
    match = re.fullmatch(r"(?:au\s*)?0*(\d+)", str(text).strip().lower())
    return f"AU{int(match.group(1))}" if match and int(match.group(1)) in ACTION_UNIT_NAMES else None


def au_names(numbers: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(f"AU{number}" for number in numbers)
