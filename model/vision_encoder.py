"""Face-LLaVA's vision side: pixels (+ landmarks) -> visual tokens in the LLM's embedding space.

Computes what the official `encode_images` / `encode_videos` compute (llava_arch.py): tower -> feature
selection -> mm_projector, and with landmarks FRLP + FRGCA on the projected tokens. Everything is sized from
the config.

The modules are plain children of whatever model hosts them, under the official names (`image_tower`,
`video_tower`, `mm_projector`, `landmarks_projector`, `global_landmarks_projector`, `landmarks_cross_attn`),
so one name mapping loads the official state dict: hence a mixin for the vLLM model class, not a wrapper
module. `FaceLlavaVision` is the same thing as a standalone module (tests, benchmarks).

Landmark modules exist only when `landmark_conditioning == "on"`: with it off, their tensors (if any) must be
skipped at load time (`LANDMARK_MODULE_NAMES`) and landmarks passed in are ignored (as in the official
inference, which never passes any).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from model.landmark_modules import (
    NUM_LANDMARKS,
    build_global_landmarks_projector,
    build_landmarks_cross_attn,
    build_landmarks_projector,
    check_cross_attn_type,
    landmark_tokens,
)
from model.projector import build_mm_projector
from model.towers import LanguageBindVisionTower

if TYPE_CHECKING:
    from model.config import FaceLlavaConfig

# Landmarks arrive in pixels of the 256 px face crop (common.engine_protocol.CROP_SIZE, not imported: these
# modules need only torch); the official loaders divide by 256. test_vision_parity.py checks the two agree.
LANDMARK_CROP_PIXELS = 256.0

LANDMARK_MODULE_NAMES = ("landmarks_projector", "global_landmarks_projector", "landmarks_cross_attn")

_SELECT_FEATURES = ("patch", "cls_patch")


@dataclass(frozen=True)
class VisionSettings:
    """What the forward pass needs from the config besides module shapes."""

    keep_image_cls: bool
    landmarks_on: bool
    image_size: int
    video_image_size: int
    num_frames: int


def read_vision_settings(config: FaceLlavaConfig) -> VisionSettings:
    """The config's forward-pass switches, checked once at construction: a bad value must fail at engine
    start, naming the field, rather than inside a request."""
    if config.mm_vision_select_feature not in _SELECT_FEATURES:
        raise ValueError(
            f"unsupported mm_vision_select_feature {config.mm_vision_select_feature!r}: supported are "
            f"{list(_SELECT_FEATURES)}"
        )
    if config.landmark_conditioning not in ("on", "off"):
        raise ValueError(f"landmark_conditioning must be 'on' or 'off', got {config.landmark_conditioning!r}")
    video = config.video_tower_config
    if not video.add_time_attn:
        raise ValueError("video_tower_config.add_time_attn is false: the LanguageBind video tower needs it")
    return VisionSettings(
        keep_image_cls=config.mm_vision_select_feature == "cls_patch",
        landmarks_on=config.landmark_conditioning == "on",
        image_size=config.image_tower_config.image_size,
        video_image_size=video.image_size,
        num_frames=video.num_frames,
    )


def build_vision_modules(config: FaceLlavaConfig) -> dict[str, nn.Module]:
    """The vision-side children, by official name. Refuses unsupported types by name (including `masked`)."""
    settings = read_vision_settings(config)
    for key in ("image_tower_config", "video_tower_config"):
        width = getattr(config, key).hidden_size
        if width != config.mm_hidden_size:
            raise ValueError(f"{key}.hidden_size {width} differs from mm_hidden_size {config.mm_hidden_size}")
    if config.cross_attn_type is not None:
        check_cross_attn_type(config.cross_attn_type)
    text_hidden = config.text_config.hidden_size
    select = config.mm_vision_select_layer
    modules: dict[str, nn.Module] = {
        "image_tower": LanguageBindVisionTower(config.image_tower_config, select),
        "video_tower": LanguageBindVisionTower(config.video_tower_config, select),
        "mm_projector": build_mm_projector(config.mm_projector_type, config.mm_hidden_size, text_hidden),
    }
    if settings.landmarks_on:
        modules["landmarks_projector"] = build_landmarks_projector(
            config.landmarks_projector_type, text_hidden
        )
        modules["global_landmarks_projector"] = build_global_landmarks_projector(
            config.global_landmarks_projector_type, text_hidden
        )
        modules["landmarks_cross_attn"] = build_landmarks_cross_attn(config.cross_attn_type, text_hidden)
    return modules


def _check_shape(name: str, tensor: torch.Tensor, expected: tuple[int, ...]) -> None:
    if tuple(tensor.shape) != expected:
        raise ValueError(f"{name} must have shape {list(expected)}, got {list(tensor.shape)}")


class FaceLlavaVisionMixin:
    """Adds the vision side to an nn.Module: call `init_vision_modules(config)` in its __init__."""

    vision_settings: VisionSettings
    image_tower: LanguageBindVisionTower
    video_tower: LanguageBindVisionTower
    mm_projector: nn.Module
    landmarks_projector: nn.Module
    global_landmarks_projector: nn.Module
    landmarks_cross_attn: nn.Module

    def init_vision_modules(self, config: FaceLlavaConfig) -> None:
        self.vision_settings = read_vision_settings(config)
        for name, module in build_vision_modules(config).items():
            self.add_module(name, module)

    def _normalised_landmarks(self, landmarks: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
        _check_shape("landmarks", landmarks, (*lead, NUM_LANDMARKS, 2))
        dtype = self.global_landmarks_projector.weight.dtype
        return (landmarks.float() / LANDMARK_CROP_PIXELS).flatten(-2).to(dtype)

    def _condition(self, visual: torch.Tensor, landmarks: torch.Tensor | None) -> torch.Tensor:
        """Projected visual tokens [B, T, N, H] -> the same, conditioned on landmarks [B, T, 68, 2] if on."""
        if landmarks is None or not self.vision_settings.landmarks_on:
            return visual
        normalised = self._normalised_landmarks(landmarks, tuple(visual.shape[:2]))
        tokens = landmark_tokens(self.landmarks_projector, self.global_landmarks_projector, normalised)
        return self.landmarks_cross_attn(visual, tokens)

    def encode_images(
        self, pixel_values: torch.Tensor, landmarks: torch.Tensor | None = None
    ) -> torch.Tensor:
        """pixel_values [B, 3, S, S], landmarks [B, 68, 2] (crop pixels) or None -> [B, 256, H] (no CLS)."""
        size = self.vision_settings.image_size
        _check_shape("image pixel_values", pixel_values, (pixel_values.shape[0], 3, size, size))
        tower = self.image_tower
        features = tower(pixel_values.to(tower.embeddings.patch_embedding.weight.dtype))
        if not self.vision_settings.keep_image_cls:
            features = features[:, 1:]
        visual = self.mm_projector(features).unsqueeze(1)
        lm = None if landmarks is None else landmarks.unsqueeze(1)
        return self._condition(visual, lm).squeeze(1)

    def encode_videos(
        self, pixel_values: torch.Tensor, landmarks: torch.Tensor | None = None
    ) -> torch.Tensor:
        """pixel_values [B, T, 3, S, S], landmarks [B, T, 68, 2] or None -> [B, T, 257, H] (CLS kept)."""
        settings = self.vision_settings
        batch = pixel_values.shape[0]
        size = settings.video_image_size
        _check_shape("video pixel_values", pixel_values, (batch, settings.num_frames, 3, size, size))
        tower = self.video_tower
        frames = pixel_values.flatten(0, 1).to(tower.embeddings.patch_embedding.weight.dtype)
        features = tower(frames).unflatten(0, (batch, settings.num_frames))
        return self._condition(self.mm_projector(features), landmarks)


class FaceLlavaVision(FaceLlavaVisionMixin, nn.Module):
    """The vision side as a standalone module (same children and names as inside the vLLM model)."""

    def __init__(self, config: FaceLlavaConfig) -> None:
        super().__init__()
        self.init_vision_modules(config)
