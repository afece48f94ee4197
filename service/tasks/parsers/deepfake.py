"""Deepfake: real or fake. Face-LLaVA opens with "Fake:" / "Real video." when it is sure; otherwise the first
verdict word decides, and a denied one counts as its opposite ("no signs of manipulation" means real).
"""

from __future__ import annotations

import re

from service.tasks.parsers.base import LabelHit, ParsedAnswer, is_negated, strip_label_prefix

_LEADING = re.compile(r"^\s*(real|fake)\b", re.IGNORECASE)
_PREFIX = re.compile(r"^\s*(?:real|fake)(?:\s+video)?\s*[:.,-]\s*", re.IGNORECASE)
_FAKE = (
    r"fake|faked|deepfake|manipulat(?:ed|ion|ions)|tamper(?:ed|ing)|forg(?:ed|ery)|altered|synthesi[sz]ed|"
    r"fabricated|doctored|artificial|counterfeit|edited"
)
_REAL = r"real|authentic|authenticity|genuine|unaltered|unmanipulated|untampered|original|natural"
_VERDICT = re.compile(rf"\b(?:(?P<fake>{_FAKE})|(?P<real>{_REAL}))\b", re.IGNORECASE)
_OPPOSITE = {"fake": "real", "real": "fake"}


def parse_deepfake(text: str) -> ParsedAnswer:
    reasoning = strip_label_prefix(text, _PREFIX)
    leading = _LEADING.match(text)
    if leading:
        label = leading.group(1).lower()
        return ParsedAnswer(labels=[LabelHit(label, leading.start(1), leading.end(1))], reasoning=reasoning)
    for match in _VERDICT.finditer(text):
        label = "fake" if match.group("fake") else "real"
        if is_negated(text, match.start()):
            label = _OPPOSITE[label]
        return ParsedAnswer(labels=[LabelHit(label, match.start(), match.end())], reasoning=reasoning)
    return ParsedAnswer(labels=[], reasoning=reasoning)
