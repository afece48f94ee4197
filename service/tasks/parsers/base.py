"""What every task parser returns, and the text helpers they share.

Spans are kept with each label so the confidence can be read from the log-probabilities of exactly the tokens
that named it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EOS = "</s>"

# A label named right after one of these words is being denied ("no sign of fear", "not fake").
_NEGATIONS = frozenset(
    {
        "no",
        "not",
        "without",
        "lack",
        "lacks",
        "lacking",
        "absence",
        "absent",
        "isn't",
        "doesn't",
        "don't",
        "aren't",
        "wasn't",
        "never",
        "neither",
        "nor",
        "free",
        "than",
        "instead",
    }
)
_NEGATION_WINDOW = 3
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class LabelHit:
    """A vocabulary label and the [start, end) character span of the words that named it."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class ParsedAnswer:
    """Labels in order of first mention (empty: the text names none, so the answer is uncertain)."""

    labels: list[LabelHit]
    reasoning: str
    value: int | None = None  # numeric answers (age)

    @property
    def uncertain(self) -> bool:
        return not self.labels


def clean_answer(text: str) -> str:
    """Strip the end-of-sequence marker the official decoding leaves in, and surrounding blanks."""
    text = text.strip()
    if text.endswith(EOS):
        text = text[: -len(EOS)]
    return text.strip()


def is_negated(text: str, start: int) -> bool:
    """Whether one of the few words before `start` (within the same clause) denies what follows."""
    clause = re.split(r"[.;:!?,]", text[:start].lower())[-1]
    words = _WORD.findall(clause)[-_NEGATION_WINDOW:]
    return any(word in _NEGATIONS for word in words)


def compile_synonyms(synonyms: dict[str, Iterable[str]]) -> list[tuple[str, re.Pattern[str]]]:
    """One case-insensitive whole-word pattern per label, from its list of regex synonyms."""
    return [
        (label, re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE))
        for label, words in synonyms.items()
    ]


def find_labels(
    text: str, patterns: list[tuple[str, re.Pattern[str]]], *, negatable: bool = True, multi: bool = True
) -> list[LabelHit]:
    """Labels named (and not denied) in `text`, ordered by first mention, each label once."""
    hits: dict[str, LabelHit] = {}
    for label, pattern in patterns:
        for match in pattern.finditer(text):
            if negatable and is_negated(text, match.start()):
                continue
            hits[label] = LabelHit(label, match.start(), match.end())
            break
    ordered = sorted(hits.values(), key=lambda hit: hit.start)
    return ordered if multi else ordered[:1]


def strip_label_prefix(text: str, prefix: re.Pattern[str]) -> str:
    """The reasoning: the answer without a leading "Label:" the model puts before its explanation."""
    match = prefix.match(text)
    return text[match.end() :].strip() if match else text
