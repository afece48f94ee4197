"""Confidence of a parsed label, read from the engine's token log-probabilities.

The probability the model gave to the tokens that named the label (their joint probability, given everything
before them) is what it "believed" at the moment it chose the label, unlike any number it might write in its
text. Tokens are aligned to the answer by their decoded text; when the alignment fails (an engine that returns
no logprobs, or tokens that do not spell the answer) the confidence is unknown rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from service.tasks.parsers.base import LabelHit


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, and the most likely tokens at its position when the request asked for them."""

    text: str
    logprob: float
    alternatives: tuple[TokenLogprob, ...] = ()


class TokenAlignment:
    """Maps character spans of the answer text to the tokens that produced them."""

    def __init__(self, tokens: Sequence[TokenLogprob], answer: str, parsed_text: str) -> None:
        # The parsed text (the answer without surrounding blanks and the end marker) is looked up in the tokens
        # themselves, not through the answer: the engine's per-token strings and its detokenized text may differ
        # in the blanks around them (a SentencePiece token's leading space, "▁real", is kept in one and not the
        # other), and a blank of difference must not make the confidence unknown.
        joined = "".join(token.text for token in tokens)
        parsed_at = joined.find(parsed_text) if parsed_text and parsed_text in answer else -1
        self._offset = parsed_at if parsed_at >= 0 else None
        self._starts: list[int] = []
        position = 0
        for token in tokens:
            self._starts.append(position)
            position += len(token.text)
        self._tokens = list(tokens)

    def span_probability(self, start: int, end: int) -> float | None:
        """Joint probability of the tokens overlapping [start, end) of the parsed text."""
        if self._offset is None or end <= start:
            return None
        start, end = start + self._offset, end + self._offset
        logprob = 0.0
        covered = False
        for token_start, token in zip(self._starts, self._tokens, strict=True):
            token_end = token_start + len(token.text)
            if token_end > start and token_start < end:
                logprob += token.logprob
                covered = True
        return math.exp(logprob) if covered else None

    def label_confidences(self, labels: Sequence[LabelHit]) -> dict[str, float | None]:
        return {hit.label: self.span_probability(hit.start, hit.end) for hit in labels}


def task_confidence(label_confidences: dict[str, float | None]) -> float | None:
    """One number per task: the least confident label (so a long list cannot hide one shaky label)."""
    known = [value for value in label_confidences.values() if value is not None]
    if not known or len(known) != len(label_confidences):
        return None
    return min(known)
