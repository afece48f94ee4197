"""One task, declared: its vocabulary, prompts per medium, the tower it uses on a video, its parser, its
constrained-answer instruction and its evaluation metric (see service/tasks/registry.py for how tasks are found).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from common.tasks import MediaKind
from service.tasks.parsers.base import ParsedAnswer, clean_answer

MEDIA: tuple[MediaKind, ...] = ("image", "video")


@dataclass(frozen=True)
class Task:
    """Everything the gateway knows about one task.

    `labels` are the strings an answer's labels are written in; with `multi_label` they also fix the constrained
    grammar (one label, or a comma-separated list of them: service/tasks/constrained.py);
    `prompts` holds the questions per medium, all media with the same number of variants; `video_tower` is the
    tower a video's face goes through for this task (the model was tuned on clips for some tasks, on still images
    for others); `instruction` is appended to the question when the label alone is asked for under the grammar;
    `metric` names the paper's evaluation metric, for the eval tools.
    """

    name: str
    labels: tuple[str, ...]
    prompts: Mapping[MediaKind, tuple[str, ...]]
    video_tower: MediaKind
    parser: Callable[[str], ParsedAnswer]
    instruction: str
    metric: str
    multi_label: bool = False
    numeric: bool = False  # the label is a number (age): its value is returned
    default_media: frozenset[MediaKind] = field(default_factory=lambda: frozenset(MEDIA))

    def __post_init__(self) -> None:
        if set(self.prompts) != set(MEDIA) or len({len(p) for p in self.prompts.values()}) != 1:
            raise ValueError(f"task {self.name}: give the same number of prompts for each of {MEDIA}")
        if not self.labels or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"task {self.name}: labels must be distinct and non-empty")

    @property
    def variants(self) -> int:
        """How many prompt variants a caller may pick from."""
        return len(self.prompts["image"])

    @property
    def scored(self) -> bool:
        """Whether every class gets a score: single-label tasks with a categorical vocabulary (not ages)."""
        return not self.multi_label and not self.numeric

    def tower(self, medium: MediaKind) -> MediaKind:
        """The tower that answers this task on a medium (images always use the image tower)."""
        return self.video_tower if medium == "video" else "image"

    def prompt(self, tower: MediaKind, variant: int = 0) -> str:
        return self.prompts[tower][variant]

    def parse(self, text: str) -> ParsedAnswer:
        """Labels of a raw engine answer (a trailing `</s>` and surrounding blanks are ignored)."""
        return self.parser(clean_answer(text))


def swap_medium(video_prompts: Iterable[str]) -> dict[MediaKind, tuple[str, ...]]:
    """Prompts per medium from questions written about "the video" (the expression and deepfake lists were
    tuned on clips): on the image tower the noun is swapped, so the question matches what the model sees."""
    video = tuple(video_prompts)
    return {"video": video, "image": tuple(question.replace("the video", "the image") for question in video)}


def same_for_both(prompts: Iterable[str]) -> dict[MediaKind, tuple[str, ...]]:
    """Prompts per medium for tasks that always run on the image tower (a video's best frame)."""
    questions = tuple(prompts)
    return {"image": questions, "video": questions}
