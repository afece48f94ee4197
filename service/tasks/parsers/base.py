"""What every task parser returns, and the text helpers they share.

Spans are kept with each label so the confidence can be read from the log-probabilities of exactly the tokens
that named it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EOS = "</s>"

# Words that deny what follows them in their clause ("no sign of fear", "not fake", "rather than happy", "unlike
# authentic footage", "lacks the relaxed features of a neutral face", "nothing artificial").
_NEGATOR = re.compile(
    r"\b(?:no|not|never|neither|nor|nothing|none|without|lacks?|lacking|absence|absent|unlike|than|cannot|"
    r"instead\s+of|free\s+of|mistaken\s+for|\w+n't|\w+n’t)\b",
    re.IGNORECASE,
)
# Where a denial's reach ends: a clause boundary, or a word that turns the sentence ("not surprise but disgust") or
# adds to it ("no hat and a smile"); a list right after a denied label stays denied (denied_mentions).
_SCOPE_END = re.compile(
    r"[.;:!?\n]|,(?!\s*(?:such as|including|like)\b)|"
    r"\b(?:and|but|however|yet|instead(?!\s+of)|whereas|while|although|though|only|so|thus|therefore|which|"
    r"rather)\b",
    re.IGNORECASE,
)
# Between two items of one list ("happiness, sadness or anger", "glasses, a hat or earrings").
_LIST_LINK = re.compile(r"\s*(?:,|/)?\s*(?:(?:and|or|nor)\s+)?(?:(?:an?|any|the|his|her|their)\s+)?", re.I)
_WORD = re.compile(r"[\w'’]+")
# The most words a denial reaches over to the first label it denies ("nothing suggests that the video has been
# tampered with").
NEGATION_REACH = 6
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


def is_negated(text: str, start: int, reach: int = NEGATION_REACH) -> bool:
    """Whether a denying word shortly before `start`, in the same clause, denies what is named there."""
    clause = text[:start]
    ends = list(_SCOPE_END.finditer(clause))
    clause = clause[ends[-1].end() :] if ends else clause
    denials = list(_NEGATOR.finditer(clause))
    return bool(denials) and len(_WORD.findall(clause[denials[-1].end() :])) <= reach


def denied_mentions(text: str, spans: list[tuple[int, int]], reach: int = NEGATION_REACH) -> list[bool]:
    """For mentions in text order: denied by a word before them, or listed right after a denied one (so "no
    signs of happiness, sadness or anger" denies all three)."""
    denied: list[bool] = []
    for index, (start, _) in enumerate(spans):
        previous_end = spans[index - 1][1] if index else None
        listed = previous_end is not None and denied[-1] and _LIST_LINK.fullmatch(text[previous_end:start])
        denied.append(bool(listed) or is_negated(text, start, reach))
    return denied


def compile_synonyms(synonyms: dict[str, Iterable[str]]) -> list[tuple[str, re.Pattern[str]]]:
    """One case-insensitive whole-word pattern per label, from its list of regex synonyms."""
    return [
        (label, re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE))
        for label, words in synonyms.items()
    ]


@dataclass(frozen=True)
class Mention:
    """One place a label is named, and whether the text denies it there."""

    hit: LabelHit
    denied: bool


def mentions(text: str, patterns: list[tuple[str, re.Pattern[str]]], reach: int = NEGATION_REACH) -> list[Mention]:
    """Every mention of every label, in text order, each with its denial."""
    found = (LabelHit(label, m.start(), m.end()) for label, pattern in patterns for m in pattern.finditer(text))
    hits = sorted(found, key=lambda hit: (hit.start, -hit.end))
    denials = denied_mentions(text, [(hit.start, hit.end) for hit in hits], reach)
    return [Mention(hit, denied) for hit, denied in zip(hits, denials, strict=True)]


def find_labels(
    text: str, patterns: list[tuple[str, re.Pattern[str]]], *, negatable: bool = True, multi: bool = True
) -> list[LabelHit]:
    """Labels named (and not denied) in `text`, ordered by first mention, each label once."""
    hits: dict[str, LabelHit] = {}
    for mention in mentions(text, patterns):
        if (negatable and mention.denied) or mention.hit.label in hits:
            continue
        hits[mention.hit.label] = mention.hit
    ordered = sorted(hits.values(), key=lambda hit: hit.start)
    return ordered if multi else ordered[:1]


def strip_label_prefix(text: str, prefix: re.Pattern[str]) -> str:
    """The reasoning: the answer without a leading "Label:" the model puts before its explanation."""
    match = prefix.match(text)
    return text[match.end() :].strip() if match else text
