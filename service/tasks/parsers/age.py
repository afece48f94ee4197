"""Age: an integer number of years ("32 years old is a reasonable estimate", "a 30-35-year-old", "aged 40",
"between 20 and 30", "about forty-five", "I would estimate the age to be 63", "in their late twenties",
"late 20s to early 30s").

Explicit numbers (in digits or words, with "years" or after a word that announces an estimate) win over decade
phrases, and the first one named wins (the model states its estimate before its evidence); a range gives its
rounded midpoint; numbers outside a plausible human age are ignored.
"""

from __future__ import annotations

import re

from common.tasks import AGE_RANGE
from service.tasks.parsers.base import LabelHit, ParsedAnswer, strip_label_prefix

_SMALL = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_WORDS = "(?:" + "|".join(_TENS) + r")(?:[\s-](?:" + "|".join(_SMALL[1:10]) + "))?|" + "|".join(reversed(_SMALL))
_ONE = r"(\d{1,3}|" + _WORDS + ")"
_NUMBER = _ONE + r"(?:\s*(?:-|–|to)\s*" + _ONE + ")?"
_CUE = (
    r"\b(?:aged?|age\s+(?:of|is|at|to\s+be|:)|around|about|approximately|roughly|probably|likely|estimated?|"
    r"appears?\s+to\s+be|seems?\s+to\s+be|looks?(?:\s+to\s+be)?)(?:\s+(?:is|of|at|to\s+be|would\s+be))?"
)
_EXPLICIT = [
    re.compile(r"\bbetween\s+" + _ONE + r"\s+and\s+" + _ONE + r"\b", re.IGNORECASE),
    re.compile(r"\b" + _NUMBER + r"[\s-]*(?:years?|yrs?)(?:[\s-]*old|\s+of\s+age)?\b", re.IGNORECASE),
    re.compile(
        _CUE + r"\s*:?\s*(?:around|about|approximately|roughly|at)?\s*" + _NUMBER + r"(?:-ish)?\b(?!['’]?s\b|%)",
        re.IGNORECASE,
    ),
    re.compile(r"\b" + _ONE + r"-ish\b", re.IGNORECASE),
]
_DECADES = {
    "teens": 10,
    "twenties": 20,
    "thirties": 30,
    "forties": 40,
    "fifties": 50,
    "sixties": 60,
    "seventies": 70,
    "eighties": 80,
    "nineties": 90,
}
_PART = r"(early|mid|late)"
_DECADE = re.compile(
    r"\b(?:" + _PART + r"(?:[\s-]*to[\s-]*" + _PART + r")?[\s-]*)?(" + "|".join(_DECADES) + r"|(?:[1-9]0)['’]?s)\b",
    re.IGNORECASE,
)
# "late 20s to early 30s", "late 40s or early 50s": two decade phrases for one estimate.
_DECADE_LINK = re.compile(r"\s*(?:to|or|and|-|–)\s*", re.IGNORECASE)
_PART_OFFSET = {"early": 2, "mid": 5, "late": 8, None: 5}
_PREFIX = re.compile(r"^\s*" + _NUMBER + r"[\s-]*years?[\s-]*old\s*[:.,-]\s*", re.IGNORECASE)


def _number(word: str) -> int:
    """Digits or English number words ("forty-five") as an integer."""
    word = word.lower()
    if word.isdigit():
        return int(word)
    if word in _SMALL:
        return _SMALL.index(word)
    tens, _, unit = word.replace("-", " ").partition(" ")
    return _TENS[tens] + (_SMALL.index(unit) if unit else 0)


def _plausible(age: int) -> bool:
    return AGE_RANGE[0] <= age <= AGE_RANGE[1]


def _explicit_age(text: str) -> tuple[int, LabelHit] | None:
    found: list[tuple[int, int, LabelHit]] = []
    for pattern in _EXPLICIT:
        for match in pattern.finditer(text):
            bounds = [group for group in (1, 2) if group <= pattern.groups and match.group(group)]
            low, high = (_number(match.group(group)) for group in (bounds[0], bounds[-1]))
            if _plausible(low) and _plausible(high) and low <= high:
                age = round((low + high) / 2)
                found.append((match.start(), age, LabelHit(str(age), match.start(1), match.end(bounds[-1]))))
                break
    if not found:
        return None
    _, age, hit = min(found, key=lambda item: item[0])
    return age, hit


def _decade_value(match: re.Match[str]) -> float:
    word = match.group(3).lower()
    decade = _DECADES.get(word) or int(word.rstrip("s").rstrip("'’"))
    parts = [part.lower() for part in match.group(1, 2) if part] or [None]
    return decade + sum(_PART_OFFSET[part] for part in parts) / len(parts)


def _decade_age(text: str) -> tuple[int, LabelHit] | None:
    matches = list(_DECADE.finditer(text))
    if not matches:
        return None
    first, end, value = matches[0], matches[0].end(), _decade_value(matches[0])
    if len(matches) > 1 and _DECADE_LINK.fullmatch(text[first.end() : matches[1].start()]):
        end, value = matches[1].end(), (value + _decade_value(matches[1])) / 2
    age = int(value + 0.5)
    return age, LabelHit(str(age), first.start(), end)


def parse_age(text: str) -> ParsedAnswer:
    found = _explicit_age(text) or _decade_age(text)
    reasoning = strip_label_prefix(text, _PREFIX)
    if found is None:
        return ParsedAnswer(labels=[], reasoning=reasoning)
    age, hit = found
    return ParsedAnswer(labels=[hit], reasoning=reasoning, value=age)
