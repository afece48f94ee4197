"""Expression: the first emotion the answer names, mapped onto DFEW's 7 labels (plus MAFW's 4 extras).

Face-LLaVA writes prose ("The subject's expression strongly indicates fear..."), so nouns, adjectives and
common synonyms all count; a denied emotion ("no sign of anger", "rather than happy") does not.
"""

from __future__ import annotations

from service.tasks.parsers.base import ParsedAnswer, compile_synonyms, find_labels

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


def parse_expression(text: str) -> ParsedAnswer:
    return ParsedAnswer(labels=find_labels(text, _PATTERNS, multi=False), reasoning=text)
