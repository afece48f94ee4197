"""Face-LLaVA's landmark branch: FRLP (landmark tokens) and FRGCA (visual tokens attend to them).

Both follow the official `multimodal_projector/builder.py` and `llava_arch.py` at the released commit, with
the official child names so the checkpoint's `landmarks_projector.*`, `global_landmarks_projector.*` and
`landmarks_cross_attn.*` tensors load by name. Input landmarks are already normalised: 68 iBUG points / 256,
flattened x0,y0,x1,y1,... (136 values) per image or per frame.
"""

from __future__ import annotations

import torch
from torch import nn

# iBUG-68, as common.engine_protocol.LANDMARK_POINTS (not imported: the vision modules need only torch, for
# bench/vision_gpu.py on a bare GPU machine; tests/model/test_vision_parity.py checks the two agree).
NUM_LANDMARKS = 68
LANDMARK_FEATURES = NUM_LANDMARKS * 2

# iBUG-300W regions (0-based, half-open), in the official order: the order of the 9 landmark tokens.
FACE_REGIONS: dict[str, slice] = {
    "face": slice(0, 17),
    "eyebrow1": slice(17, 22),
    "eyebrow2": slice(22, 27),
    "nose": slice(27, 31),
    "nostril": slice(31, 36),
    "eye1": slice(36, 42),
    "eye2": slice(42, 48),
    "lips": slice(48, 60),
    "teeth": slice(60, 68),
}

# The official FRGCA: 8 heads, and the attention branch enters the visual tokens scaled by 0.1.
CROSS_ATTN_HEADS = 8
CROSS_ATTN_BRANCH_SCALE = 0.1


class LandmarkRegionProjector(nn.Module):
    """FRLP local, `landmarks_region_projector`: one Linear(2n, H) per face region -> 9 tokens."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.region_layers = nn.ModuleDict(
            {name: nn.Linear(2 * (s.stop - s.start), hidden_size) for name, s in FACE_REGIONS.items()}
        )

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        """[..., 136] -> [..., 9, H]."""
        points = landmarks.unflatten(-1, (NUM_LANDMARKS, 2))
        tokens = [
            layer(points[..., FACE_REGIONS[name], :].flatten(-2))
            for name, layer in self.region_layers.items()
        ]
        return torch.stack(tokens, dim=-2)


class SingleTokenLinear(nn.Linear):
    """FRLP local, `linear`: Linear(136, H) giving one landmark token, [..., 136] -> [..., 1, H].

    An nn.Linear (tensors `weight`, `bias`, as in the checkpoint) whose output has the token axis the region
    projector's has, so FRGCA gets [..., L, H] tokens from either type."""

    def forward(self, landmarks: torch.Tensor) -> torch.Tensor:
        return super().forward(landmarks).unsqueeze(-2)


def build_landmarks_projector(projector_type: str | None, hidden_size: int) -> nn.Module:
    """FRLP local. `linear` (the official fallback when a config names none): one token per image/frame."""
    if projector_type == "landmarks_region_projector":
        return LandmarkRegionProjector(hidden_size)
    if projector_type == "linear":
        return SingleTokenLinear(LANDMARK_FEATURES, hidden_size)
    raise ValueError(
        f"unsupported landmarks_projector_type {projector_type!r}: "
        "supported are 'landmarks_region_projector', 'linear'"
    )


def build_global_landmarks_projector(projector_type: str | None, hidden_size: int) -> nn.Module:
    """FRLP global: Linear(136, H), added to every local landmark token."""
    if projector_type == "linear":
        return nn.Linear(LANDMARK_FEATURES, hidden_size)
    raise ValueError(f"unsupported global_landmarks_projector_type {projector_type!r}: supported is 'linear'")


class CrossAttentionBlock(nn.Module):
    """`landmarks_cross_attn.cross_attn`: LN(visual + MHA(query=visual, key=value=landmark tokens))."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(hidden_size, CROSS_ATTN_HEADS, batch_first=True)
        self.ln = nn.LayerNorm(hidden_size)

    def forward(self, visual: torch.Tensor, landmark_tokens: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attn(visual, landmark_tokens, landmark_tokens, need_weights=False)
        return self.ln(visual + attended)


class LandmarkGuidedCrossAttention(nn.Module):
    """FRGCA `simple`: visual + 0.1 * linear_proj(cross_attn(visual, landmark tokens)), per image or frame.

    `ln` exists in the checkpoint but the official forward never applies it (its call is commented out); it is
    kept only so the tensors load.
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.cross_attn = CrossAttentionBlock(hidden_size)
        self.linear_proj = nn.Linear(hidden_size, hidden_size)
        self.ln = nn.LayerNorm(hidden_size)

    def forward(self, visual: torch.Tensor, landmark_tokens: torch.Tensor) -> torch.Tensor:
        """visual [..., N, H], landmark_tokens [..., L, H] with the same leading axes -> [..., N, H]."""
        lead = visual.shape[:-2]
        flat_visual = visual.reshape(-1, *visual.shape[-2:])
        flat_tokens = landmark_tokens.reshape(-1, *landmark_tokens.shape[-2:])
        branch = self.linear_proj(self.cross_attn(flat_visual, flat_tokens))
        return (CROSS_ATTN_BRANCH_SCALE * branch + flat_visual).view(*lead, *visual.shape[-2:])


def check_cross_attn_type(cross_attn_type: str | None) -> None:
    """Only `simple` (what the released scripts train). `masked` is refused by name: unused by the release and
    broken in the official code (it assumes 257 tokens, so images fail, and its patch grid is transposed)."""
    if cross_attn_type == "masked":
        raise ValueError(
            "cross_attn_type 'masked' (FRGCA with the region-proximity mask) is not supported: the "
            "released Face-LLaVA scripts use 'simple', and the official 'masked' code only works for "
            "257-token video frames"
        )
    if cross_attn_type != "simple":
        raise ValueError(f"unsupported cross_attn_type {cross_attn_type!r}: supported is 'simple'")


def build_landmarks_cross_attn(cross_attn_type: str | None, hidden_size: int) -> nn.Module:
    check_cross_attn_type(cross_attn_type)
    if hidden_size % CROSS_ATTN_HEADS:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by the {CROSS_ATTN_HEADS} FRGCA heads")
    return LandmarkGuidedCrossAttention(hidden_size)


def landmark_tokens(local: nn.Module, global_: nn.Module, landmarks: torch.Tensor) -> torch.Tensor:
    """FRLP: [..., 136] -> [..., L, H] (L = 9 regions, or 1 for a `linear` local projector), plus global."""
    return local(landmarks) + global_(landmarks).unsqueeze(-2)
