"""The parser corpus: answers written in the styles Face-LLaVA writes (tests/tasks/answers/<task>.jsonl, at
least 100 per task), each with the labels a careful reader takes from it, and the parsers' accuracy on them.

An answer counts as read correctly when the parser gives exactly the reader's labels: the one label of a
single-label task (expression, deepfake), the whole set of a multi-label one (action units, attributes), and for
age a value within one year of the reader's (a range's midpoint may round either way). Print the table with
`python -m tests.tasks.corpus`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from service.tasks.registry import REGISTRY, parse_answer

ANSWERS = Path(__file__).parent / "answers"


@dataclass(frozen=True)
class Answer:
    text: str
    labels: tuple[str, ...]  # age: the years, as one label
    line: int


def load(task: str) -> list[Answer]:
    answers = []
    for line, row in enumerate((ANSWERS / f"{task}.jsonl").read_text().splitlines(), start=1):
        record = json.loads(row)
        labels = (str(record["age"]),) if "age" in record else tuple(record["labels"])
        answers.append(Answer(record["text"], labels, line))
    return answers


def read_correctly(task: str, answer: Answer) -> bool:
    parsed = parse_answer(task, answer.text)
    if REGISTRY[task].numeric:
        return parsed.value is not None and abs(parsed.value - int(answer.labels[0])) <= 1
    found = [hit.label for hit in parsed.labels]
    if REGISTRY[task].multi_label:
        return set(found) == set(answer.labels)
    return found[:1] == list(answer.labels)


def misread(task: str) -> list[Answer]:
    return [answer for answer in load(task) if not read_correctly(task, answer)]


def accuracy(task: str) -> float:
    answers = load(task)
    return 1 - len(misread(task)) / len(answers)


if __name__ == "__main__":
    print("| task | answers | read correctly |")
    print("|---|---|---|")
    for name in REGISTRY.names:
        print(f"| {name} | {len(load(name))} | {accuracy(name):.1%} |")
