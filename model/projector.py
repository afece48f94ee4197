"""`mm_projector`: vision features -> LLM embeddings, as the official `build_vision_projector` builds it.

The released checkpoint uses mlp2x_gelu: Sequential(Linear, GELU, Linear), so its tensors are named
`mm_projector.0.*` and `mm_projector.2.*`. GELU is the exact (erf) one, nn.GELU's default.
"""

from __future__ import annotations

import re

from torch import nn

_MLP_GELU = re.compile(r"^mlp(\d+)x_gelu$")


def build_mm_projector(projector_type: str, vision_hidden: int, text_hidden: int) -> nn.Module:
    """Types: `linear`, `mlp{N}x_gelu` (N >= 1), `identity`. The official code's experimental face-mask
    projectors are never used by the released scripts and are refused by name."""
    if projector_type == "linear":
        return nn.Linear(vision_hidden, text_hidden)
    if projector_type == "identity":
        if vision_hidden != text_hidden:
            raise ValueError(
                f"identity mm_projector needs equal widths, got {vision_hidden} and {text_hidden}"
            )
        return nn.Identity()
    match = _MLP_GELU.match(projector_type)
    if match and int(match.group(1)) >= 1:
        layers: list[nn.Module] = [nn.Linear(vision_hidden, text_hidden)]
        for _ in range(int(match.group(1)) - 1):
            layers += [nn.GELU(), nn.Linear(text_hidden, text_hidden)]
        return nn.Sequential(*layers)
    raise ValueError(
        f"unsupported mm_projector_type {projector_type!r}: "
        "supported are 'mlp2x_gelu' (mlpNx_gelu), 'linear', 'identity'"
    )
