"""Age: an integer number of years ("32 years old is a reasonable estimate", "a 30-35-year-old", "aged 40",
"in their late twenties").

Explicit numbers win over decade phrases; a range gives its rounded midpoint; numbers outside a plausible
human age are ignored.
"""

from __future__ import annotations

import re

from common.tasks import AGE_RANGE
from service.tasks.parsers.base import LabelHit, ParsedAnswer, strip_label_prefix

_NUMBER = r"(\d{1,3})(?:\s*(?:-|–|to)\s*(\d{1,3}))?"
_EXPLICIT = [
    re.compile(_NUMBER + r"[\s-]*(?:years?|yrs?)(?:[\s-]*old|\s+of\s+age)?\b", re.IGNORECASE),
    re.compile(
        r"\b(?:aged?|age\s+(?:of|is|at|:)|around|about|approximately)\s*:?\s*(?:around|about|approximately|"
        r"roughly)?\s*" + _NUMBER + r"\b",
        re.IGNORECASE,
    ),
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
_DECADE = re.compile(
    r"\b(?:(early|mid|late)[\s-]*)?(" + "|".join(_DECADES) + r"|(?:[1-9]0)'?s)\b", re.IGNORECASE
)
_PART_OFFSET = {"early": 2, "mid": 5, "late": 8, None: 5}
_PREFIX = re.compile(r"^\s*" + _NUMBER + r"[\s-]*years?[\s-]*old\s*[:.,-]\s*", re.IGNORECASE)


def _plausible(age: int) -> bool:
    return AGE_RANGE[0] <= age <= AGE_RANGE[1]


def _explicit_age(text: str) -> tuple[int, LabelHit] | None:
    found: list[tuple[int, int, LabelHit]] = []
    for pattern in _EXPLICIT:
        for match in pattern.finditer(text):
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else low
            if _plausible(low) and _plausible(high) and low <= high:
                age = round((low + high) / 2)
                end = match.end(2) if match.group(2) else match.end(1)
                found.append((match.start(), age, LabelHit(str(age), match.start(1), end)))
                break
    if not found:
        return None
    _, age, hit = min(found, key=lambda item: item[0])
    return age, hit


def _decade_age(text: str) -> tuple[int, LabelHit] | None:
    match = _DECADE.search(text)
    if match is None:
        return None
    word = match.group(2).lower()
    decade = _DECADES.get(word) or int(word.rstrip("s").rstrip("'"))
    age = decade + _PART_OFFSET[match.group(1).lower() if match.group(1) else None]
    return age, LabelHit(str(age), match.start(), match.end())


def parse_age(text: str) -> ParsedAnswer:
    found = _explicit_age(text) or _decade_age(text)
    reasoning = strip_label_prefix(text, _PREFIX)
    if found is None:
        return ParsedAnswer(labels=[], reasoning=reasoning)
    age, hit = found
    return ParsedAnswer(labels=[hit], reasoning=reasoning, value=age)
