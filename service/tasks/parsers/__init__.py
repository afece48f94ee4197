"""Per-task parsers from Face-LLaVA's free text to labels of the task's fixed vocabulary."""

from __future__ import annotations

from collections.abc import Callable

from common.tasks import TaskName
from service.tasks.parsers.action_units import parse_action_units
from service.tasks.parsers.age import parse_age
from service.tasks.parsers.attributes import parse_attributes
from service.tasks.parsers.base import LabelHit, ParsedAnswer, clean_answer
from service.tasks.parsers.deepfake import parse_deepfake
from service.tasks.parsers.expression import parse_expression

PARSERS: dict[TaskName, Callable[[str], ParsedAnswer]] = {
    "expression": parse_expression,
    "action_units": parse_action_units,
    "attributes": parse_attributes,
    "age": parse_age,
    "deepfake": parse_deepfake,
}


def parse_answer(task: TaskName, text: str) -> ParsedAnswer:
    """Parse a raw engine answer (trailing `</s>` and surrounding blanks are ignored)."""
    return PARSERS[task](clean_answer(text))


__all__ = ["LabelHit", "ParsedAnswer", "clean_answer", "parse_answer"]
