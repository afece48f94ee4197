"""LanguageBind's vision towers (CLIP ViT; the video one adds per-layer temporal attention) in plain PyTorch.

Why our own: the official towers come from LanguageBind's modeling files, which need transformers 4.31 (they
import a function later releases removed) and peft. These modules compute the same function with torch only,
and keep the official child names (`embeddings.class_embedding`, `pre_layrnorm`,
`encoder.layers.N.self_attn.q_proj`, `temporal_attn`, ...) so the checkpoint's tensors load by name.

Only the layers up to the selected hidden state run: with `mm_vision_select_layer = -2` the last layer's
output is never used, so computing it would be wasted work (its weights still exist, for loading).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional

if TYPE_CHECKING:
    from model.config import LanguageBindVisionConfig


def _quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def _tanh_gelu(x: torch.Tensor) -> torch.Tensor:
    return functional.gelu(x, approximate="tanh")


# The activations a CLIP config may name (transformers' ACT2FN spelling); "gelu" is the exact erf GELU.
_ACTIVATIONS = {
    "gelu": functional.gelu,
    "quick_gelu": _quick_gelu,
    "gelu_new": _tanh_gelu,
    "gelu_pytorch_tanh": _tanh_gelu,
}


def activation_by_name(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The tower MLP's activation; an unknown name is refused rather than silently replaced."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unsupported vision tower hidden_act {name!r}; known: {sorted(_ACTIVATIONS)}"
        ) from None


def resolve_select_layer(select_layer: int, num_layers: int) -> int:
    """How many encoder layers produce `hidden_states[select_layer]` (hidden_states[0] = the embeddings)."""
    index = select_layer if select_layer >= 0 else num_layers + 1 + select_layer
    if not 0 <= index <= num_layers:
        raise ValueError(f"mm_vision_select_layer {select_layer} is outside a {num_layers}-layer tower")
    return index


class VisionAttention(nn.Module):
    """CLIP multi-head self-attention (separate q/k/v/out projections with biases)."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_attention_heads {num_heads}")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.k_proj = nn.Linear(hidden_size, hidden_size)
        self.v_proj = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, seq, hidden] -> [batch, seq, hidden]; no mask (vision tokens attend to all)."""
        batch, seq, hidden = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, seq, self.num_heads, hidden // self.num_heads).transpose(1, 2)

        out = functional.scaled_dot_product_attention(
            heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        )
        return self.out_proj(out.transpose(1, 2).reshape(batch, seq, hidden))


class VisionMLP(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int, hidden_act: str) -> None:
        super().__init__()
        self.act = activation_by_name(hidden_act)
        self.fc1 = nn.Linear(hidden_size, intermediate_size)
        self.fc2 = nn.Linear(intermediate_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class VisionEncoderLayer(nn.Module):
    """Pre-LN transformer block; with `num_frames` set, a temporal block runs first (video tower).

    The temporal block, as in LanguageBind's video model: add the layer's own temporal position embedding
    (kept in the stream, it is part of the residual), then x + temporal_attn(temporal_layer_norm1(x)) with
    attention across the frames at each token position. There is no temporal MLP.
    """

    def __init__(self, config: LanguageBindVisionConfig, num_frames: int | None) -> None:
        super().__init__()
        hidden, eps = config.hidden_size, config.layer_norm_eps
        self.self_attn = VisionAttention(hidden, config.num_attention_heads)
        self.layer_norm1 = nn.LayerNorm(hidden, eps=eps)
        self.mlp = VisionMLP(hidden, config.intermediate_size, config.hidden_act)
        self.layer_norm2 = nn.LayerNorm(hidden, eps=eps)
        self.num_frames = num_frames
        if num_frames is not None:
            self.temporal_embedding = nn.Parameter(torch.zeros(1, num_frames, hidden))
            self.temporal_attn = VisionAttention(hidden, config.num_attention_heads)
            self.temporal_layer_norm1 = nn.LayerNorm(hidden, eps=eps)

    def _temporal(self, x: torch.Tensor) -> torch.Tensor:
        frames_total, tokens, hidden = x.shape
        t = self.num_frames
        # (b t) n d -> b t n d: the frames of one clip are consecutive rows.
        x = x.view(frames_total // t, t, tokens, hidden) + self.temporal_embedding.unsqueeze(2)
        per_token = self.temporal_layer_norm1(x).transpose(1, 2).reshape(-1, t, hidden)  # (b n) t d
        attended = self.temporal_attn(per_token).view(-1, tokens, t, hidden).transpose(1, 2)
        return (x + attended).reshape(frames_total, tokens, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_frames is not None:
            x = self._temporal(x)
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class VisionEncoder(nn.Module):
    def __init__(self, config: LanguageBindVisionConfig, num_frames: int | None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            VisionEncoderLayer(config, num_frames) for _ in range(config.num_hidden_layers)
        )


class VisionEmbeddings(nn.Module):
    """CLS token + non-overlapping patch projection (no bias) + learned absolute positions."""

    def __init__(self, config: LanguageBindVisionConfig) -> None:
        super().__init__()
        hidden, patch = config.hidden_size, config.patch_size
        if config.image_size % patch:
            raise ValueError(f"image_size {config.image_size} is not a multiple of patch_size {patch}")
        self.class_embedding = nn.Parameter(torch.zeros(hidden))
        self.patch_embedding = nn.Conv2d(
            config.num_channels, hidden, kernel_size=patch, stride=patch, bias=False
        )
        self.position_embedding = nn.Embedding((config.image_size // patch) ** 2 + 1, hidden)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values: [N, C, S, S] with S = image_size -> [N, 1 + patches, hidden]."""
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding.weight


class LanguageBindVisionTower(nn.Module):
    """One LanguageBind vision model (`vision_model.*` in the LanguageBind checkpoints).

    `forward` returns `hidden_states[select_layer]` for every token, CLS first; the caller decides whether
    CLS is kept. post_layernorm is built only so that its checkpoint tensors have a home: the official
    feature path never applies it.
    """

    def __init__(self, config: LanguageBindVisionConfig, select_layer: int) -> None:
        super().__init__()
        num_frames = config.num_frames if config.add_time_attn else None
        self.num_frames = num_frames
        self.layers_to_run = resolve_select_layer(select_layer, config.num_hidden_layers)
        self.embeddings = VisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = VisionEncoder(config, num_frames)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values: [N, C, S, S] (video: N = clips * num_frames, frames of a clip consecutive)."""
        if self.num_frames is not None and pixel_values.shape[0] % self.num_frames:
            raise ValueError(
                f"{pixel_values.shape[0]} frames is not a whole number of {self.num_frames}-frame clips"
            )
        x = self.pre_layrnorm(self.embeddings(pixel_values))
        for layer in self.encoder.layers[: self.layers_to_run]:
            x = layer(x)
        return x
