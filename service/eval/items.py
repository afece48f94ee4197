"""What a data set reader hands to the evaluation: media paths with their ground truth, the label set scored,
and every line it could not use (reported, never fatal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.tasks import TaskName

# expression / deepfake: one label; age: years; action_units / attributes: label -> present, for the labels
# annotated on that item (BP4D marks some AUs unknown per frame: those are left out, not counted absent).
Truth = str | float | dict[str, bool]


@dataclass(frozen=True)
class EvalItem:
    path: Path
    truth: Truth


@dataclass
class EvalData:
    task: TaskName
    dataset: str  # reader name: picks the paper's number to print beside ours
    classes: tuple[str, ...]  # label set scored (empty for age)
    items: list[EvalItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def subsample(self, limit: int | None) -> None:
        """Keep `limit` items evenly spread over the list (readers keep data-set order, so subjects, clips and
        classes stay mixed), making a quick run representative rather than the first N of one subject."""
        if limit is None or limit >= len(self.items):
            return
        step = len(self.items) / limit
        self.items = [self.items[int(i * step)] for i in range(limit)]
