"""Action units: FACS AU numbers ("AU4", "AU 12", "AUs 1, 2 and 4", "action unit 25"), never their names.

The model's AU names are sometimes wrong (FaceInstruct text calls AU15 "Lower lip depressor"), the numbers are
what the datasets annotate. Only the AUs DISFA and BP4D annotate, which is what the model was tuned on, count.
A unit denied before ("no evidence of AU9") or after ("AU4 (Brow Lowerer): not present", "while AU6 and AU12
are absent") is left out: answers often list what is not active beside what is.
"""

from __future__ import annotations

import re

from common.tasks import ACTION_UNIT_NAMES
from service.tasks.parsers.base import LabelHit, ParsedAnswer, is_negated

# "AU4", "AU 04", "AUs 1, 2, and 4", "action units 6 and 12": a lead word, then a list of numbers.
_LEAD = re.compile(r"\b(?:AUs?|action\s+units?)\s*(?=\d)", re.IGNORECASE)
_LIST_ITEM = re.compile(r"\s*(?:,\s*|\s+(?:and|or)\s+|\s*&\s*|/\s*)?(?:AU\s*)?0*(\d{1,2})\b", re.IGNORECASE)
# Said of the units just listed, after them (and their name in brackets): they are not active.
_DENIED_AFTER = re.compile(
    r"\s*(?:\([^)]*\))?\s*(?::\s*(?:not\b|absent|inactive)|(?:is|are|was|were|does|do|appears?|seems?)\s+"
    r"(?:also\s+)?(?:not\b|absent|inactive|never)|(?:isn't|aren't|doesn't|don't)\b)",
    re.IGNORECASE,
)


def parse_action_units(text: str) -> ParsedAnswer:
    hits: dict[str, LabelHit] = {}
    read_to = 0  # the end of the last list read: a lead inside it ("AU2" of "AU1 or AU2") was judged with it
    for lead in _LEAD.finditer(text):
        if lead.start() < read_to:
            continue
        group: list[LabelHit] = []
        position = lead.end()
        while match := _LIST_ITEM.match(text, position):
            number = int(match.group(1))
            if number in ACTION_UNIT_NAMES:
                group.append(LabelHit(f"AU{number}", match.start(1), match.end(1)))
            position = match.end()
        read_to = position
        if is_negated(text, lead.start()) or _DENIED_AFTER.match(text, position):
            continue
        for hit in group:
            hits.setdefault(hit.label, hit)
    return ParsedAnswer(labels=sorted(hits.values(), key=lambda hit: hit.start), reasoning=text)
