"""One registry of tasks: each task is one declared `Task` (its vocabulary, prompts per medium, the tower it
uses on a video, its parser, its constrained-answer instruction, its evaluation metric), and every other part
of the gateway (request validation, prompts, constrained grammar, parsing, per-class scores) reads it here.

Adding a task is one new module that declares a `Task` plus one line in `REGISTRY` below; nothing else in the
gateway names tasks. (tests/tasks/test_registry.py registers a toy task to prove it.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from common.tasks import MediaKind
from service.tasks.builtin import action_units, age, attributes, deepfake, expression
from service.tasks.parsers.base import ParsedAnswer
from service.tasks.task import Task


class TaskRegistry:
    """Tasks by name, in declaration order (the order responses and defaults list them)."""

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._tasks: dict[str, Task] = {}
        for task in tasks:
            self.register(task)

    def register(self, task: Task) -> Task:
        if task.name in self._tasks:
            raise ValueError(f"task {task.name} is already registered")
        if self._tasks and task.variants != self.prompt_variants:
            raise ValueError(f"task {task.name}: every task has {self.prompt_variants} prompt variants")
        self._tasks[task.name] = task
        return task

    def __getitem__(self, name: str) -> Task:
        return self._tasks[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tasks)

    @property
    def prompt_variants(self) -> int:
        """The number of prompt variants every task has (a request picks one by index)."""
        return next(iter(self._tasks.values())).variants

    def defaults(self, medium: MediaKind) -> tuple[str, ...]:
        """The tasks that run on a medium when the caller names none."""
        return tuple(task.name for task in self if medium in task.default_media)


REGISTRY = TaskRegistry(
    (
        expression.TASK,
        action_units.TASK,
        attributes.TASK,
        age.TASK,
        deepfake.TASK,
    )
)


def parse_answer(task: str, text: str) -> ParsedAnswer:
    """The labels of a raw engine answer to `task`."""
    return REGISTRY[task].parse(text)
