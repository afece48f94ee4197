"""Reading and checking the released configs: chaubeyG/FaceLLaVA's flat LLaVA config and the LanguageBind
folders' CLIP-style configs, turned into the fields of the serving config (model/config.py).

Anything that is not the Face-LLaVA the plugin implements is refused here, naming the field, before a single
weight is read: a transformers-native Llava, a non-LanguageBind tower, module types the plugin lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.engine_protocol import LANDMARK_POINTS
from model import serving_format as fmt
from model.conversion_error import ConversionError

# The official code's fallbacks when config.json names no landmark modules (LlavaLlamaForCausalLM.__init__).
LANDMARK_DEFAULTS: dict[str, Any] = {
    "landmarks_projector_type": "linear",
    "global_landmarks_projector_type": "linear",
    "cross_attn_type": "simple",
    "use_landmark_tokens": False,
}
LANDMARKS_HIDDEN_SIZE = 2 * LANDMARK_POINTS  # 136: 68 points x (x, y); LlavaMetaModel forces it.
# LlamaConfig fields carried over from the released (flat) config.
LLAMA_FIELDS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "attention_bias",
    "mlp_bias",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "pretraining_tp",
    "initializer_range",
)
LLAMA_REQUIRED = LLAMA_FIELDS[:5]
# LanguageBindVisionConfig fields taken from a LanguageBind folder's vision_config.
TOWER_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_channels",
    "image_size",
    "patch_size",
    "hidden_act",
    "layer_norm_eps",
    "add_time_attn",
    "num_frames",
)
TOWER_REQUIRED = (*TOWER_FIELDS[:4], "image_size", "patch_size")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file; a missing or malformed one is a refusal naming the file."""
    if not path.is_file():
        raise ConversionError(f"{path} is missing")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConversionError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ConversionError(f"{path} must hold a JSON object")
    return data


def _require(cfg: dict[str, Any], key: str, where: str) -> Any:
    if cfg.get(key) is None:
        raise ConversionError(f"{where}: field '{key}' is missing")
    return cfg[key]


def check_facellava_config(cfg: dict[str, Any], where: str) -> dict[str, Any]:
    """The Face-LLaVA fields of the released config, with the official fallbacks; refuses other models."""
    if cfg.get("model_type") != "llava":
        raise ConversionError(
            f"{where}: field 'model_type' is {cfg.get('model_type')!r}; "
            "the released Face-LLaVA config says 'llava'"
        )
    architectures = cfg.get("architectures") or []
    if "LlavaLlamaForCausalLM" not in architectures:
        raise ConversionError(
            f"{where}: field 'architectures' is {architectures!r}; "
            "expected ['LlavaLlamaForCausalLM'] (the official "
            "LLaVA-style layout; a transformers-native LlavaForConditionalGeneration is a different model)"
        )
    if "text_config" in cfg or "vision_config" in cfg:
        raise ConversionError(
            f"{where}: nested 'text_config'/'vision_config' belong to transformers' own Llava"
        )
    for key, suffix in (
        ("mm_image_tower", "LanguageBind_Image"),
        ("mm_video_tower", "LanguageBind_Video_merge"),
    ):
        tower = str(_require(cfg, key, where))
        if not tower.rstrip("/").endswith(suffix):
            raise ConversionError(
                f"{where}: field '{key}' is {tower!r}; Face-LLaVA uses LanguageBind/{suffix}"
            )
    if _require(cfg, "mm_projector_type", where) != "mlp2x_gelu":
        raise ConversionError(
            f"{where}: field 'mm_projector_type' is {cfg['mm_projector_type']!r}; "
            "only 'mlp2x_gelu' is supported"
        )
    if cfg.get("mm_use_im_start_end"):
        raise ConversionError(
            f"{where}: field 'mm_use_im_start_end' is true; Face-LLaVA's prompts have no <im_start>/<im_end>"
        )
    fields = {
        key: (cfg[key] if cfg.get(key) is not None else default) for key, default in LANDMARK_DEFAULTS.items()
    }
    allowed = {
        "landmarks_projector_type": ("landmarks_region_projector", "linear"),
        "global_landmarks_projector_type": ("linear",),
        "cross_attn_type": ("simple",),
    }
    for key, values in allowed.items():
        if fields[key] not in values:
            raise ConversionError(f"{where}: field '{key}' is {fields[key]!r}; supported: {list(values)}")
    if fields["use_landmark_tokens"]:
        raise ConversionError(
            f"{where}: field 'use_landmark_tokens' is true; the official code breaks on images"
        )
    fields["mm_hidden_size"] = int(_require(cfg, "mm_hidden_size", where))
    fields["mm_projector_type"] = cfg["mm_projector_type"]
    fields["mm_vision_select_layer"] = int(cfg.get("mm_vision_select_layer", -2))
    fields["mm_vision_select_feature"] = cfg.get("mm_vision_select_feature", "patch")
    fields["landmarks_hidden_size"] = LANDMARKS_HIDDEN_SIZE
    return fields


def text_config_from(cfg: dict[str, Any], where: str) -> dict[str, Any]:
    """The LLaMA decoder's fields, lifted out of the flat released config into a LlamaConfig dict."""
    for key in LLAMA_REQUIRED:
        _require(cfg, key, where)
    if cfg.get("tie_word_embeddings"):
        raise ConversionError(f"{where}: field 'tie_word_embeddings' is true; Face-LLaVA's LM head is untied")
    text = {key: cfg[key] for key in LLAMA_FIELDS if cfg.get(key) is not None}
    text.setdefault("num_key_value_heads", text["num_attention_heads"])
    text["tie_word_embeddings"] = False
    text["architectures"] = ["LlamaForCausalLM"]
    return text


def check_tower_config(cfg: dict[str, Any], where: str, video: bool) -> dict[str, Any]:
    """A LanguageBind folder's vision_config; refuses towers that are not LanguageBind's."""
    expected = "LanguageBindVideo" if video else "LanguageBindImage"
    if cfg.get("model_type") != expected:
        raise ConversionError(
            f"{where}: field 'model_type' is {cfg.get('model_type')!r}; expected {expected!r}"
        )
    vision = cfg.get("vision_config")
    if not isinstance(vision, dict):
        raise ConversionError(f"{where}: field 'vision_config' is missing")
    for key in TOWER_REQUIRED:
        _require(vision, key, f"{where} vision_config")
    if bool(vision.get("add_time_attn", False)) != video:
        raise ConversionError(
            f"{where}: field 'vision_config.add_time_attn' is {vision.get('add_time_attn')!r}; the "
            f"{'video' if video else 'image'} tower needs {video}"
        )
    if video and not vision.get("num_frames"):
        raise ConversionError(f"{where}: field 'vision_config.num_frames' is missing")
    tower = {key: vision[key] for key in TOWER_FIELDS if vision.get(key) is not None}
    tower["add_time_attn"] = video
    tower["num_frames"] = int(vision.get("num_frames", 1)) if video else 1
    return tower


@dataclass(frozen=True)
class LoraSettings:
    """A LanguageBind config's LoRA: rank 0 means the tower keys are plain."""

    rank: int
    alpha: float

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> LoraSettings:
        vision = cfg["vision_config"]
        return cls(int(vision.get("lora_r") or 0), float(vision.get("lora_alpha") or 0))


def read_tower_config(folder: Path, video: bool) -> tuple[dict[str, Any], LoraSettings]:
    """A downloaded LanguageBind folder's checked tower config (LanguageBindVisionConfig fields) and its LoRA:
    shared by the converter and by anything that sizes a tower straight from a download (the parity tests)."""
    raw = read_json(folder / fmt.CONFIG_FILE)
    return check_tower_config(raw, f"{folder.name}/config.json", video), LoraSettings.from_config(raw)
