"""Tensors that the official loading path accepts from a checkpoint without them being weights.

The official classes (LanguageBind under transformers 4.30.2, Face-LLaVA under 4.31.0) registered some buffers as
persistent, so checkpoints saved by that generation carry them, and today's transformers no longer saves them:

- `embeddings.position_ids` of every CLIP embedding (vision and text): `arange(positions)[None]`;
- `rotary_emb.inv_freq` of every LLaMA attention layer: `1 / theta ** (arange(0, head_dim, 2) / head_dim)`.

Those classes LOAD such a buffer and compute with it, so a buffer holding anything else would change the answer:
each one is checked against the value its config implies and refused, named, when it differs. Equal ones carry
no information the serving config lacks; they are not written (vLLM derives them).

Keys a class declares ignorable on load (`_keys_to_ignore_on_load_unexpected`: LLaMA's `decoder.version`) are
dropped the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch

from conversion.errors import ConversionError

POSITION_IDS = "embeddings.position_ids"
ROTARY_INV_FREQ = "rotary_emb.inv_freq"
# LlamaPreTrainedModel._keys_to_ignore_on_load_unexpected (transformers 4.30 / 4.31): a fairseq leftover.
IGNORED_ON_LOAD = re.compile(r"decoder\.version")


def position_ids(positions: int) -> torch.Tensor:
    """What CLIPVisionEmbeddings / CLIPTextEmbeddings register: [1, positions] int64."""
    return torch.arange(positions).expand((1, -1))


def rotary_inv_freq(text: dict[str, Any]) -> torch.Tensor:
    """LlamaRotaryEmbedding's inv_freq for the decoder config (float32, as transformers computes it)."""
    head_dim = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    theta = float(text.get("rope_theta") or 10000.0)
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))


def check_buffer(name: str, stored: torch.Tensor, expected: torch.Tensor, where: str) -> None:
    """Refuses a persisted buffer whose value is not the one the config implies (the official class would
    compute with it). Floating buffers are compared after rounding the expected value to the stored dtype."""
    if tuple(stored.shape) != tuple(expected.shape):
        raise ConversionError(
            f"buffer {name} in {where} has shape {list(stored.shape)}, the config implies {list(expected.shape)}"
        )
    if stored.is_floating_point():
        same = torch.allclose(stored.float(), expected.to(stored.dtype).float(), rtol=1e-6, atol=0.0)
    else:
        same = torch.equal(stored.long(), expected.long())
    if not same:
        raise ConversionError(
            f"buffer {name} in {where} differs from the value the config implies; the official code computes "
            "with it, so this checkpoint does not compute what its config says"
        )


def verify_all(names: list[str], load: Callable[[str], torch.Tensor], expected: torch.Tensor, where: str) -> None:
    """Checks each persisted copy of one buffer (tiny tensors: reading them costs nothing)."""
    for name in names:
        check_buffer(name, load(name), expected, where)
