"""Expression: the emotion the answer concludes on, mapped onto DFEW's 7 labels (plus MAFW's 4 extras).

Face-LLaVA writes prose, so nouns, adjectives and common synonyms all count, and a denied emotion ("no sign of
anger", "rather than happy") never does. Its image answers name the label first ("The subject's expression
strongly indicates fear..."), but its video answers narrate change ("at first calm, then the brows draw
together... the overall expression is one of anger") and name other emotions as passing states or contrasts.
So each mention is weighed by where it stands: in a verdict ("overall", "indicates", "the emotion is"), as a
passing state ("at first", "briefly", "initially") or a concession ("although it could suggest surprise"); the
weightiest wins, and among equals the first, so label-first answers read exactly as before.
"""

from __future__ import annotations

import re

from service.tasks.parsers.base import LabelHit, Mention, ParsedAnswer, compile_synonyms, mentions

_SYNONYMS = {
    "happy": [
        "happy",
        "happiness",
        "happily",
        "joy",
        "joyful",
        "joyous",
        "cheerful",
        "delight(?:ed)?",
        "glad",
        "elat(?:ed|ion)",
        "amus(?:ed|ement)",
    ],
    "sad": [
        "sad",
        "sadness",
        "sadly",
        "sorrow(?:ful)?",
        "unhappy",
        "unhappiness",
        "melanchol(?:y|ic)",
        "grief",
        "griev(?:e|ing)",
        "gloomy",
        "depressed",
        "dejected",
        "downcast",
        "tearful",
        "crying",
    ],
    "neutral": [
        "neutral",
        "neutrality",
        "calm",
        "expressionless",
        "impassive",
        "composed",
        "blank expression",
    ],
    "angry": [
        "angry",
        "anger",
        "angrily",
        "rage",
        "furious",
        "fury",
        "irritat(?:ed|ion)",
        "annoy(?:ed|ance)",
        "hostil(?:e|ity)",
        "indignant",
        "indignation",
        "mad",
    ],
    "surprise": [
        "surprise",
        "surprised",
        "surprising",
        "astonish(?:ed|ment)",
        "amaz(?:ed|ement)",
        "shock(?:ed)?",
        "startled",
        "stunned",
    ],
    "disgust": [
        "disgust",
        "disgusted",
        "disgusting",
        "repuls(?:ed|ion)",
        "revuls(?:ion|ed)",
        "aversion",
        "loathing",
    ],
    "fear": [
        "fear",
        "fearful",
        "fearfully",
        "afraid",
        "scared",
        "fright(?:ened)?",
        "terrified",
        "terror",
        "panic(?:ked)?",
        "dread",
    ],
    "contempt": ["contempt", "contemptuous", "scorn(?:ful)?", "disdain(?:ful)?", "sneer(?:ing)?"],
    "anxiety": [
        "anxiety",
        "anxious",
        "nervous(?:ness)?",
        "worr(?:y|ied)",
        "apprehensi(?:ve|on)",
        "uneas(?:y|e)",
    ],
    "helplessness": ["helpless(?:ness)?", "powerless(?:ness)?"],
    "disappointment": ["disappoint(?:ed|ment)"],
}
_PATTERNS = compile_synonyms(_SYNONYMS)
# What a face does rather than what it feels: evidence of a label, weaker than naming it.
_EVIDENCE = compile_synonyms({"happy": ["smil(?:e|es|ed|ing)", "grin(?:s|ning)?", "laugh(?:s|ed|ing)?"]})

_VERDICT = re.compile(
    r"\b(?:overall|dominant|predominant(?:ly)?|prevailing|primary|main|conclu\w+|ultimately|final(?:ly)?|"
    r"by the end|in the end|best described|indicat\w*|suggest\w*|points? to|convey\w*|reflect\w*|reveal\w*|"
    r"characteristic of|consistent with|one of|therefore|thus|(?:emotion|expression|feeling|tone|mood)\w*\s+"
    r"(?:is|was|shown|displayed|conveyed|depicted|expressed|of|here))\b",
    re.IGNORECASE,
)
# A state the narrative passes through, unless a later turn ("then", "but") separates it from the mention.
_PASSING = re.compile(
    r"\b(?:at first|initially|in the first frames?|at the (?:start|beginning)|begins?|began|starts?|started|"
    r"starting|opens?|for a moment|briefly|momentarily|at one (?:point|moment))\b",
    re.IGNORECASE,
)
_TURN = re.compile(r"\b(?:then|but|however|later|eventually|gradually|soon|until|turns?|becomes?|gives way)\b", re.I)
_CONCESSION = re.compile(r"^\s*(?:although|though|even though|while|whilst|despite)\b", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:could|might|may) (?:suggest|be|seem)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n]")
_CLAUSE_END = re.compile(r"[.!?;,\n]")


def _sentence(text: str, start: int, end: int) -> tuple[str, str]:
    """The sentence text before the mention, and the rest of its clause after it."""
    ends = list(_SENTENCE_END.finditer(text, 0, start))
    before = text[ends[-1].end() if ends else 0 : start]
    after_end = _CLAUSE_END.search(text, end)
    return before, text[end : after_end.start() if after_end else len(text)]


def _clause(before: str) -> str:
    """The clause the mention is in, from the sentence before it ("Initially, the subject looks sad": the
    opening marker belongs to the clause it introduces)."""
    parts = before.split(",")
    if len(parts) > 1 and _PASSING.fullmatch(parts[-2].strip()):
        return parts[-2] + parts[-1]
    return parts[-1]


def _weight(text: str, mention: Mention, evidence: bool) -> float:
    before, after = _sentence(text, mention.hit.start, mention.hit.end)
    clause = _clause(before)
    passing = list(_PASSING.finditer(clause))
    if (passing and not _TURN.search(clause, passing[-1].end())) or _PASSING.search(after):
        return 0.25
    if ("," not in before and _CONCESSION.search(before)) or _HEDGE.search(clause):
        return 0.25
    weight = 3.0 if _VERDICT.search(before) else 1.0
    return weight / 2 if evidence else weight


def parse_expression(text: str) -> ParsedAnswer:
    weighed = [
        (_weight(text, mention, evidence), -mention.hit.start, mention.hit)
        for evidence, patterns in ((False, _PATTERNS), (True, _EVIDENCE))
        for mention in mentions(text, patterns)
        if not mention.denied
    ]
    best: list[LabelHit] = [max(weighed, key=lambda item: item[:2])[2]] if weighed else []
    return ParsedAnswer(labels=best, reasoning=text)
