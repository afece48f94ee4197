"""The serving folder's config: one self-contained `config.json` that vLLM loads offline.

The released checkpoint says `model_type: "llava"`, which transformers maps to its own, differently nested
LlavaConfig, and it names the vision towers by hub id. Conversion rewrites it into this class: the LLaMA decoder's
fields under `text_config` (so vLLM's own LLaMA reads them), both LanguageBind tower configs embedded, and the
Face-LLaVA fields that size the landmark modules. The plugin registers it with AutoConfig.
"""

from __future__ import annotations

from typing import Any, Literal

from transformers import LlamaConfig, PreTrainedConfig

LandmarkConditioning = Literal["on", "off"]


class LanguageBindVisionConfig(PreTrainedConfig):
    """A LanguageBind vision tower (CLIP ViT; the video tower adds per-layer temporal attention)."""

    model_type = "languagebind_vision"

    def __init__(
        self,
        hidden_size: int = 1024,
        intermediate_size: int = 4096,
        num_hidden_layers: int = 24,
        num_attention_heads: int = 16,
        num_channels: int = 3,
        image_size: int = 224,
        patch_size: int = 14,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-5,
        add_time_attn: bool = False,
        num_frames: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.add_time_attn = add_time_attn
        self.num_frames = num_frames


def _sub_config(
    value: dict[str, Any] | PreTrainedConfig | None, cls: type[PreTrainedConfig], **defaults: Any
) -> PreTrainedConfig:
    """A nested config from its dict (config.json) or as given; `defaults` fill only what the dict lacks."""
    if isinstance(value, PreTrainedConfig):
        return value
    merged = {**defaults, **(value or {})}
    return cls(**merged)


class FaceLlavaConfig(PreTrainedConfig):
    """Face-LLaVA as served: LLaMA decoder + two LanguageBind towers + projector + FRLP + FRGCA."""

    model_type = "facellava"

    def __init__(
        self,
        text_config: dict[str, Any] | LlamaConfig | None = None,
        image_tower_config: dict[str, Any] | LanguageBindVisionConfig | None = None,
        video_tower_config: dict[str, Any] | LanguageBindVisionConfig | None = None,
        mm_hidden_size: int = 1024,
        mm_projector_type: str = "mlp2x_gelu",
        mm_vision_select_layer: int = -2,
        mm_vision_select_feature: str = "patch",
        landmarks_projector_type: str | None = "linear",
        global_landmarks_projector_type: str | None = "linear",
        cross_attn_type: str | None = "simple",
        use_landmark_tokens: bool = False,
        landmarks_hidden_size: int = 136,
        landmark_conditioning: LandmarkConditioning = "off",
        image_token_id: int = 32000,
        video_token_id: int = 32001,
        num_video_frames: int = 8,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("architectures", ["FaceLlavaForConditionalGeneration"])
        # Sub-configs first: PreTrainedConfig's own validation already asks for the text config.
        self.text_config = _sub_config(text_config, LlamaConfig, architectures=["LlamaForCausalLM"])
        self.image_tower_config = _sub_config(image_tower_config, LanguageBindVisionConfig)
        self.video_tower_config = _sub_config(
            video_tower_config, LanguageBindVisionConfig, add_time_attn=True, num_frames=num_video_frames
        )
        super().__init__(**kwargs)
        self.mm_hidden_size = mm_hidden_size
        self.mm_projector_type = mm_projector_type
        self.mm_vision_select_layer = mm_vision_select_layer
        self.mm_vision_select_feature = mm_vision_select_feature
        self.landmarks_projector_type = landmarks_projector_type
        self.global_landmarks_projector_type = global_landmarks_projector_type
        self.cross_attn_type = cross_attn_type
        self.use_landmark_tokens = use_landmark_tokens
        self.landmarks_hidden_size = landmarks_hidden_size
        self.landmark_conditioning = landmark_conditioning
        self.image_token_id = image_token_id
        self.video_token_id = video_token_id
        self.num_video_frames = num_video_frames

    def get_text_config(self, *args: Any, **kwargs: Any) -> LlamaConfig:
        return self.text_config

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for key in ("text_config", "image_tower_config", "video_tower_config"):
            value = getattr(self, key)
            out[key] = value.to_dict() if isinstance(value, PreTrainedConfig) else value
        return out
