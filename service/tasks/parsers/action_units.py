"""Action units: FACS AU numbers ("AU4", "AU 12", "AUs 1, 2 and 4", "action unit 25"), never their names.

The model's AU names are sometimes wrong (FaceInstruct text calls AU15 "Lower lip depressor"), the numbers are
what the datasets annotate. Only the AUs DISFA and BP4D annotate, which is what the model was tuned on, count.
"""

from __future__ import annotations

import re

from common.tasks import ACTION_UNIT_NAMES
from service.tasks.parsers.base import LabelHit, ParsedAnswer, is_negated

# "AU4", "AU 04", "AUs 1, 2, and 4", "action units 6 and 12": a lead word, then a list of numbers.
_LEAD = re.compile(r"\b(?:AUs?|action\s+units?)\s*(?=\d)", re.IGNORECASE)
_LIST_ITEM = re.compile(r"\s*(?:,\s*|\s+and\s+|\s*&\s*|/\s*)?(?:AU\s*)?0*(\d{1,2})\b", re.IGNORECASE)


def parse_action_units(text: str) -> ParsedAnswer:
    hits: dict[str, LabelHit] = {}
    for lead in _LEAD.finditer(text):
        if is_negated(text, lead.start()):
            continue
        position = lead.end()
        while match := _LIST_ITEM.match(text, position):
            number = int(match.group(1))
            label = f"AU{number}"
            if number in ACTION_UNIT_NAMES and label not in hits:
                hits[label] = LabelHit(label, match.start(1), match.end(1))
            position = match.end()
    return ParsedAnswer(labels=sorted(hits.values(), key=lambda hit: hit.start), reasoning=text)
