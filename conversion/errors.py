"""The one exception every conversion refusal raises, shared by the modules `facellava convert` is built from,
so the CLI can turn any of them into a one-line message and exit status 2."""

from __future__ import annotations


class ConversionError(ValueError):
    """The inputs are not a Face-LLaVA checkpoint this converter can convert; the message says why."""
