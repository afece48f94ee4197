"""A sixth task, declared the way the five built-in ones are (service/tasks/builtin/): the whole of what adding a
task takes, besides its line in the registry. Gaze direction is not something Face-LLaVA was tuned for; it is
here only to show that nothing else in the gateway needs to change."""

from __future__ import annotations

from service.tasks.parsers.base import ParsedAnswer, compile_synonyms, find_labels
from service.tasks.task import Task, same_for_both

_PATTERNS = compile_synonyms({"left": ["left"], "right": ["right"], "center": ["center", "straight ahead"]})


def parse_gaze(text: str) -> ParsedAnswer:
    return ParsedAnswer(labels=find_labels(text, _PATTERNS, multi=False), reasoning=text)


TASK = Task(
    name="gaze",
    labels=("left", "right", "center"),
    prompts=same_for_both(f"Where is the person looking? ({variant})" for variant in range(10)),
    video_tower="image",
    parser=parse_gaze,
    instruction="Answer with one word: left, right or center.",
    metric="accuracy",
)
