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
from conversion.errors import ConversionError
from model import serving_format as fmt

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


# LanguageBind's CLIPVisionConfig defaults (configuration_image.py / configuration_video.py, identical): what the
# official config class fills in for every key a config.json leaves out.
VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 512,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 32,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "attention_dropout": 0.0,
    "add_time_attn": False,
    "num_frames": 1,
    "force_patch_dropout": 0.0,
    "lora_r": 2,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
}
# The fields that change what the tower computes (dropouts are no-ops in eval; projection_dim sizes the unused
# CLIP head): two sources disagreeing on one of these is refused rather than resolved silently.
VISION_MATH_FIELDS = (*TOWER_FIELDS, "lora_r", "lora_alpha")


def _square_side(value: Any, where: str) -> Any:
    """LanguageBind's constructor rewrites image_size as [side, side]; a saved config may carry that form."""
    if isinstance(value, list | tuple):
        if len(value) != 2 or value[0] != value[1]:
            raise ConversionError(f"{where}: field 'image_size' is {value!r}; only square towers exist")
        return value[0]
    return value


def resolve_vision_config(cfg: dict[str, Any], where: str) -> dict[str, Any]:
    """The vision config as LanguageBind's config class builds it, defaults filled.

    The class expands `vision_config_dict` with the class defaults and lets the result override `vision_config`
    key by key (warning only), then fills what is still missing with the defaults. The same precedence here, except
    that a disagreement on a field that changes the computation is refused with both values named: one of the two
    sources is wrong, and the official code would pick one without a word.
    """
    vision = cfg.get("vision_config")
    overrides = cfg.get("vision_config_dict")
    for key, value in (("vision_config", vision), ("vision_config_dict", overrides)):
        if value is not None and not isinstance(value, dict):
            raise ConversionError(f"{where}: field '{key}' must be an object")
    resolved = dict(vision or {})
    if overrides is not None:
        expanded = VISION_DEFAULTS | overrides
        for key in VISION_MATH_FIELDS:
            if key not in resolved:
                continue
            given, wins = _square_side(resolved[key], where), _square_side(expanded[key], where)
            if given != wins:
                origin = "vision_config_dict" if key in overrides else "the class default vision_config_dict implies"
                raise ConversionError(
                    f"{where}: 'vision_config.{key}' is {given!r} but {origin} gives {wins!r}; LanguageBind's "
                    "config class would silently use the latter. Fix the config so that both agree"
                )
        resolved |= expanded
    resolved = VISION_DEFAULTS | resolved
    resolved["image_size"] = _square_side(resolved["image_size"], where)
    return resolved


def check_tower_config(cfg: dict[str, Any], where: str, video: bool) -> dict[str, Any]:
    """A LanguageBind folder's resolved vision config; refuses towers that are not LanguageBind's."""
    expected = "LanguageBindVideo" if video else "LanguageBindImage"
    if cfg.get("model_type") != expected:
        raise ConversionError(
            f"{where}: field 'model_type' is {cfg.get('model_type')!r}; expected {expected!r}"
        )
    vision = resolve_vision_config(cfg, where)
    if bool(vision["add_time_attn"]) != video:
        raise ConversionError(
            f"{where}: field 'vision_config.add_time_attn' is {vision['add_time_attn']!r}; the "
            f"{'video' if video else 'image'} tower needs {video}"
        )
    tower = {key: vision[key] for key in TOWER_FIELDS}
    tower["add_time_attn"] = video
    tower["num_frames"] = int(vision["num_frames"]) if video else 1
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
    def from_vision(cls, vision: dict[str, Any]) -> LoraSettings:
        return cls(int(vision["lora_r"] or 0), float(vision["lora_alpha"] or 0))


def read_tower_config(folder: Path, video: bool) -> tuple[dict[str, Any], LoraSettings]:
    """A downloaded LanguageBind folder's checked tower config (LanguageBindVisionConfig fields) and its LoRA:
    shared by the converter and by anything that sizes a tower straight from a download (the parity tests)."""
    raw = read_json(folder / fmt.CONFIG_FILE)
    where = f"{folder.name}/config.json"
    return check_tower_config(raw, where, video), LoraSettings.from_vision(resolve_vision_config(raw, where))
