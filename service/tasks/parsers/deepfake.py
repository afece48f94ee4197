"""Deepfake: real or fake, read from the verdict.

Face-LLaVA opens with "Fake:" / "Real video." when it is sure, and that opening decides. Otherwise the answer
weighs evidence and concludes ("the lighting looks natural, but the face boundary flickers... these
inconsistencies suggest that the video is fake"), so each verdict word is weighed by where it stands: a verdict
word ("fake", "manipulated", "authentic") outweighs an evidence word ("natural", "artifacts"), one in a
conclusion ("therefore", "suggests", "likely", "the video is") outweighs both, and one in a question ("Is the
video real?") or a concession ("at first glance", "although it looks genuine") counts little, unless the answer
replies to its own question ("Is the video authentic? No: ..."). A denied word
counts as its opposite ("no signs of manipulation" means real). The weightiest wins; among equals the last, as
the conclusion comes last.
"""

from __future__ import annotations

import re

from service.tasks.parsers.base import LabelHit, Mention, ParsedAnswer, compile_synonyms, mentions, strip_label_prefix

_LEADING = re.compile(r"^\s*(real|fake)\b", re.IGNORECASE)
_PREFIX = re.compile(r"^\s*(?:real|fake)(?:\s+video)?\s*[:.,-]\s*", re.IGNORECASE)
_VERDICTS = compile_synonyms(
    {
        "fake": [
            r"fake|faked|deepfakes?|manipulat(?:ed|ion|ions)|tamper(?:ed|ing)|forg(?:ed|ery)|altered|alteration|"
            r"synthesi[sz]ed|fabricated|doctored|counterfeit|edited|editing|swapp?(?:ed|ing)|generated|replaced",
        ],
        "real": [r"real|authentic|authenticity|genuine|unaltered|unmanipulated|untampered|original"],
    }
)
_EVIDENCE = compile_synonyms(
    {
        "fake": [r"artificial|unnatural(?:ly)?|artifacts?|inconsisten(?:t|cy|cies)|flicker\w*|warp\w*|seams?"],
        "real": [r"natural(?:ly)?|consistent(?:ly)?|realistic"],
    }
)
_OPPOSITE = {"fake": "real", "real": "fake"}
_CONCLUSION = re.compile(
    r"\b(?:therefore|thus|so|hence|conclu\w+|overall|indicat\w*|suggest\w*|points? to|likely|probably|"
    r"appears?|seems?|is|looks?|evidence)\b",
    re.IGNORECASE,
)
_CONCESSION = re.compile(
    r"^\s*(?:although|though|even though|while|whilst|despite|at first)\b|\bat first glance\b", re.IGNORECASE
)
_SENTENCE = re.compile(r"[^.!?\n]*[.!?\n]?")
# The answer's reply to a question it asked itself ("Is the video authentic? No: the boundary shimmers").
_REPLY = re.compile(r"\s*(yes|no)\b", re.IGNORECASE)


def _sentence_of(text: str, start: int) -> re.Match[str]:
    """The sentence around `start`."""
    return next(
        match for match in _SENTENCE.finditer(text) if match.start() <= start < max(match.end(), match.start() + 1)
    )


def _weigh(text: str, mention: Mention, base: float) -> tuple[float, bool]:
    """The mention's weight, and whether the text reverses it (a question answered "No")."""
    sentence = _sentence_of(text, mention.hit.start)
    before = text[sentence.start() : mention.hit.start]
    if sentence.group().rstrip().endswith("?"):
        reply = _REPLY.match(text, sentence.end())
        return (base * 2, reply.group(1).lower() == "no") if reply else (0.1, False)
    if ("," not in before and _CONCESSION.search(before)) or _CONCESSION.search(before.split(",")[-1]):
        return base / 4, False
    return (base * 2 if _CONCLUSION.search(before) else base), False


def parse_deepfake(text: str) -> ParsedAnswer:
    reasoning = strip_label_prefix(text, _PREFIX)
    leading = _LEADING.match(text)
    if leading:
        label = leading.group(1).lower()
        return ParsedAnswer(labels=[LabelHit(label, leading.start(1), leading.end(1))], reasoning=reasoning)
    weighed = []
    for base, patterns in ((2.0, _VERDICTS), (0.5, _EVIDENCE)):
        for mention in mentions(text, patterns):
            weight, answered_no = _weigh(text, mention, base)
            label = _OPPOSITE[mention.hit.label] if mention.denied != answered_no else mention.hit.label
            weighed.append((weight, mention.hit.start, LabelHit(label, mention.hit.start, mention.hit.end)))
    best = [max(weighed, key=lambda item: item[:2])[2]] if weighed else []
    return ParsedAnswer(labels=best, reasoning=reasoning)
