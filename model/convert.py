"""`facellava convert`: the three downloaded folders -> one self-contained serving folder for vLLM, offline.

Inputs are what a user downloads: chaubeyG/FaceLLaVA (LLaVA-style config, LLaMA + projector + landmark
modules, usually with an embedded copy of both towers), LanguageBind/LanguageBind_Image and
LanguageBind/LanguageBind_Video_merge (CLIP-style checkpoints whose `vision_model.*` is the tower; the
official loader takes the towers from these). The output keeps the official state-dict names (the plugin maps
them by name); only the tower prefix changes: `vision_model.` ->
`model.{image,video}_tower.{image,video}_tower.`.

Anything that does not fit the configs is refused with the tensor or field named, because a silently wrong
weight would serve plausible-looking but wrong answers: wrong model type, shape mismatches, missing required
tensors, unknown tensors, an embedded tower copy that differs from the LanguageBind folder. Tensors are
streamed one at a time into output shards (see checkpoint_io), so converting the 7B checkpoint needs about one
shard of RAM.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sentencepiece
import torch
from pydantic import BaseModel
from tqdm import tqdm

from model import serving_format as fmt
from model.checkpoint_io import CheckpointReadError, ShardedWeightWriter, TensorSource, sha256_file
from model.config import FaceLlavaConfig

logger = logging.getLogger("facellava.convert")

LandmarkChoice = Literal["auto", "on", "off"]
Shapes = dict[str, tuple[int, ...]]

IMAGE_TOWER_PREFIX = "model.image_tower.image_tower."
VIDEO_TOWER_PREFIX = "model.video_tower.video_tower."
LANGUAGEBIND_VISION_PREFIX = "vision_model."
DEFAULT_MAX_SHARD_BYTES = 2 * 1024**3

# The official code's fallbacks when config.json names no landmark modules (LlavaLlamaForCausalLM.__init__).
LANDMARK_DEFAULTS: dict[str, Any] = {
    "landmarks_projector_type": "linear",
    "global_landmarks_projector_type": "linear",
    "cross_attn_type": "simple",
    "use_landmark_tokens": False,
}
LANDMARKS_HIDDEN_SIZE = 136  # 68 points x (x, y); LlavaMetaModel forces it.
# iBUG-68 regions of LandmarkRegionProjector: name -> number of points (each a Linear(2 * n, hidden)).
LANDMARK_REGIONS = {
    "face": 17,
    "eyebrow1": 5,
    "eyebrow2": 5,
    "nose": 4,
    "nostril": 5,
    "eye1": 6,
    "eye2": 6,
    "lips": 12,
    "teeth": 8,
}
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
LLAMA_REQUIRED = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
)
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
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ConversionError(ValueError):
    """The inputs are not a Face-LLaVA checkpoint this converter can convert; the message says why."""


class SourceFiles(BaseModel):
    """One input folder, identified by content so a serving folder can be traced back to its downloads."""

    folder: str
    hub_id: str
    files: dict[str, str]  # file name -> sha256


class ConversionReport(BaseModel):
    """What `convert` did, written next to the weights as conversion_report.json."""

    out_dir: str
    sources: dict[str, SourceFiles]
    landmark_conditioning: Literal["on", "off"]
    landmark_reason: str
    dtype: str
    tensors_written: int
    output_files: list[str]
    dropped_tensors: list[str]
    lora_merged: dict[str, list[str]]
    embedded_tower_tensors_verified: int
    warnings: list[str]


# ---------------------------------------------------------------------------------------------------- configs


def _read_json(path: Path) -> dict[str, Any]:
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
    for key in (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "image_size",
        "patch_size",
    ):
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


@dataclass(frozen=True)
class _TowerInput:
    """One downloaded LanguageBind folder, its checked vision config and where its tensors go."""

    kind: Literal["image", "video"]
    folder: Path
    hub_id: str
    config: dict[str, Any]
    lora: LoraSettings

    @property
    def prefix(self) -> str:
        return IMAGE_TOWER_PREFIX if self.kind == "image" else VIDEO_TOWER_PREFIX

    @classmethod
    def read(cls, kind: Literal["image", "video"], folder: Path, hub_id: str) -> _TowerInput:
        raw = _read_json(folder / fmt.CONFIG_FILE)
        config = check_tower_config(raw, f"{folder.name}/config.json", video=kind == "video")
        return cls(kind, folder, hub_id, config, LoraSettings.from_config(raw))


# ---------------------------------------------------------------------------------------------------- shapes


def llama_shapes(text: dict[str, Any]) -> Shapes:
    """Every tensor the LLaMA decoder and LM head need, with its shape (rotary buffers excluded)."""
    hidden, inter, vocab = text["hidden_size"], text["intermediate_size"], text["vocab_size"]
    heads, kv_heads = text["num_attention_heads"], text["num_key_value_heads"]
    head_dim = text.get("head_dim") or hidden // heads
    shapes: Shapes = {
        "model.embed_tokens.weight": (vocab, hidden),
        "model.norm.weight": (hidden,),
        "lm_head.weight": (vocab, hidden),
    }
    for layer in range(text["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        shapes |= {
            p + "self_attn.q_proj.weight": (heads * head_dim, hidden),
            p + "self_attn.k_proj.weight": (kv_heads * head_dim, hidden),
            p + "self_attn.v_proj.weight": (kv_heads * head_dim, hidden),
            p + "self_attn.o_proj.weight": (hidden, heads * head_dim),
            p + "mlp.gate_proj.weight": (inter, hidden),
            p + "mlp.up_proj.weight": (inter, hidden),
            p + "mlp.down_proj.weight": (hidden, inter),
            p + "input_layernorm.weight": (hidden,),
            p + "post_attention_layernorm.weight": (hidden,),
        }
        if text.get("attention_bias"):
            shapes |= {
                p + f"self_attn.{n}_proj.bias": (s[0],)
                for n, s in (
                    ("q", (heads * head_dim,)),
                    ("k", (kv_heads * head_dim,)),
                    ("v", (kv_heads * head_dim,)),
                    ("o", (hidden,)),
                )
            }
    return shapes


def _linear(prefix: str, out_features: int, in_features: int) -> Shapes:
    return {prefix + "weight": (out_features, in_features), prefix + "bias": (out_features,)}


def projector_shapes(hidden: int, mm_hidden: int) -> Shapes:
    """mlp2x_gelu: Linear(mm_hidden, hidden), GELU, Linear(hidden, hidden)."""
    return _linear("model.mm_projector.0.", hidden, mm_hidden) | _linear(
        "model.mm_projector.2.", hidden, hidden
    )


def landmark_shapes(fields: dict[str, Any], hidden: int) -> dict[str, Shapes]:
    """The three landmark modules (FRLP local, FRLP global, FRGCA), by module, for the configured types."""
    if fields["landmarks_projector_type"] == "landmarks_region_projector":
        local: Shapes = {}
        for region, points in LANDMARK_REGIONS.items():
            local |= _linear(f"model.landmarks_projector.region_layers.{region}.", hidden, 2 * points)
    else:
        local = _linear("model.landmarks_projector.", hidden, LANDMARKS_HIDDEN_SIZE)
    cross = "model.landmarks_cross_attn."
    return {
        "landmarks_projector": local,
        "global_landmarks_projector": _linear(
            "model.global_landmarks_projector.", hidden, LANDMARKS_HIDDEN_SIZE
        ),
        "landmarks_cross_attn": {
            cross + "cross_attn.attn.in_proj_weight": (3 * hidden, hidden),
            cross + "cross_attn.attn.in_proj_bias": (3 * hidden,),
            cross + "cross_attn.attn.out_proj.weight": (hidden, hidden),
            cross + "cross_attn.attn.out_proj.bias": (hidden,),
            cross + "cross_attn.ln.weight": (hidden,),
            cross + "cross_attn.ln.bias": (hidden,),
            **_linear(cross + "linear_proj.", hidden, hidden),
            cross + "ln.weight": (hidden,),
            cross + "ln.bias": (hidden,),
        },
    }


def tower_shapes(tower: dict[str, Any]) -> Shapes:
    """A LanguageBind ViT's tensors (names below `vision_model.`); video layers have temporal parts."""
    width, inter = tower["hidden_size"], tower["intermediate_size"]
    patch, channels = tower["patch_size"], tower.get("num_channels", 3)
    positions = (tower["image_size"] // patch) ** 2 + 1
    norm = {"weight": (width,), "bias": (width,)}
    shapes: Shapes = {
        "embeddings.class_embedding": (width,),
        "embeddings.patch_embedding.weight": (width, channels, patch, patch),
        "embeddings.position_embedding.weight": (positions, width),
    }
    shapes |= {f"pre_layrnorm.{k}": v for k, v in norm.items()} | {
        f"post_layernorm.{k}": v for k, v in norm.items()
    }
    attention = ("q_proj", "k_proj", "v_proj", "out_proj")
    for layer in range(tower["num_hidden_layers"]):
        p = f"encoder.layers.{layer}."
        for proj in attention:
            shapes |= _linear(f"{p}self_attn.{proj}.", width, width)
        shapes |= _linear(p + "mlp.fc1.", inter, width) | _linear(p + "mlp.fc2.", width, inter)
        shapes |= {f"{p}layer_norm{i}.{k}": v for i in (1, 2) for k, v in norm.items()}
        if tower["add_time_attn"]:
            shapes[p + "temporal_embedding"] = (1, tower["num_frames"], width)
            for proj in attention:
                shapes |= _linear(f"{p}temporal_attn.{proj}.", width, width)
            shapes |= {f"{p}temporal_layer_norm1.{k}": v for k, v in norm.items()}
    return shapes


def _open_source(folder: Path) -> TensorSource:
    """A folder's tensors; an unreadable layout becomes a ConversionError like every other refusal."""
    try:
        return TensorSource(folder)
    except CheckpointReadError as error:
        raise ConversionError(str(error)) from None


def _check_shape(name: str, actual: tuple[int, ...], expected: tuple[int, ...], where: str) -> None:
    if tuple(actual) != tuple(expected):
        raise ConversionError(
            f"shape mismatch for tensor {name} in {where}: checkpoint has {list(actual)}, config implies "
            f"{list(expected)}"
        )


# ---------------------------------------------------------------------------------------------------- towers

_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<which>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")


@dataclass
class _TowerEntry:
    base: str
    lora_a: str | None = None
    lora_b: str | None = None


@dataclass
class TowerView:
    """One vision tower inside a checkpoint, under its official names, with peft's LoRA merged away.

    LanguageBind wraps `vision_model.encoder` with peft's `get_peft_model` when its config has lora_r > 0
    (the official code pins peft 0.4.0). That renames the encoder's keys and adds the adapters. Assumed
    naming, from peft's conventions (both generations handled; "default" is peft's adapter name, absent in
    very old peft):
      encoder.base_model.model.layers.N.self_attn.q_proj.weight             peft <= 0.6 (Linear subclassed)
      encoder.base_model.model.layers.N.self_attn.q_proj.base_layer.weight  peft >= 0.7 (Linear wrapped)
      encoder.base_model.model.layers.N.self_attn.q_proj.lora_A.default.weight   [r, in]
      encoder.base_model.model.layers.N.self_attn.q_proj.lora_B.default.weight   [out, r]
    The merged weight is W + (lora_alpha / lora_r) * B @ A (peft's `merge` with fan_in_fan_out=False),
    computed in float32 and stored in W's dtype.
    """

    source: TensorSource
    prefix: str
    lora: LoraSettings
    label: str
    entries: dict[str, _TowerEntry] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        adapters: set[str] = set()
        lora_parts: list[tuple[str, str, str]] = []
        for key in self.source.names():
            if not key.startswith(self.prefix):
                continue
            name = key[len(self.prefix) :].replace("base_model.model.", "").replace(".base_layer.", ".")
            match = _LORA_KEY.match(name)
            if match:
                adapters.add(match["adapter"] or "")
                lora_parts.append((match["module"] + ".weight", match["which"], key))
            elif name in self.entries:
                raise ConversionError(
                    f"{self.label}: tensors {self.entries[name].base} and {key} are both {name}"
                )
            else:
                self.entries[name] = _TowerEntry(base=key)
        if len(adapters) > 1:
            raise ConversionError(f"{self.label}: several LoRA adapters {sorted(adapters)}; cannot pick one")
        if lora_parts and self.lora.rank <= 0:
            raise ConversionError(
                f"{self.label}: tensor {lora_parts[0][2]} is a LoRA delta but the config's lora_r is "
                f"{self.lora.rank}, so its scaling (lora_alpha / lora_r) is unknown"
            )
        for target, which, key in lora_parts:
            entry = self.entries.get(target)
            if entry is None:
                raise ConversionError(f"{self.label}: LoRA tensor {key} has no base weight {target}")
            if which == "A":
                entry.lora_a = key
            else:
                entry.lora_b = key
        for name, entry in self.entries.items():
            if (entry.lora_a is None) != (entry.lora_b is None):
                raise ConversionError(f"{self.label}: {name} has only one of lora_A / lora_B")
            if entry.lora_a is not None:
                self._check_lora_shapes(name, entry)

    def _check_lora_shapes(self, name: str, entry: _TowerEntry) -> None:
        out_features, in_features = self.source.tensors[entry.base].shape
        rank = self.lora.rank
        a_shape = self.source.tensors[entry.lora_a].shape
        b_shape = self.source.tensors[entry.lora_b].shape
        if a_shape != (rank, in_features):
            raise ConversionError(
                f"shape mismatch for tensor {entry.lora_a} in {self.label}: {list(a_shape)}, "
                f"expected [lora_r={rank}, {in_features}]"
            )
        if b_shape != (out_features, rank):
            raise ConversionError(
                f"shape mismatch for tensor {entry.lora_b} in {self.label}: {list(b_shape)}, "
                f"expected [{out_features}, lora_r={rank}]"
            )

    def shape(self, name: str) -> tuple[int, ...]:
        return self.source.tensors[self.entries[name].base].shape

    def nbytes(self, name: str) -> int:
        info = self.source.tensors[self.entries[name].base]
        return info.dtype.itemsize * int(torch.Size(info.shape).numel())

    def get(self, name: str) -> torch.Tensor:
        """The tower tensor, LoRA merged in when the checkpoint carries adapters for it."""
        entry = self.entries[name]
        base = self.source.get(entry.base)
        if entry.lora_a is None:
            return base
        lora_a = self.source.get(entry.lora_a).float()
        lora_b = self.source.get(entry.lora_b).float()
        if name not in self.merged:
            self.merged.append(name)
        return (base.float() + self.lora.scale * (lora_b @ lora_a)).to(base.dtype)


def _check_tower_names(view: TowerView, expected: Shapes, where: str, complete: bool) -> None:
    for name in view.entries:
        if name not in expected:
            raise ConversionError(
                f"unexpected tensor {view.entries[name].base} in {where}: "
                "not part of a LanguageBind vision tower "
                "with this config"
            )
        _check_shape(view.entries[name].base, view.shape(name), expected[name], where)
    missing = [name for name in expected if name not in view.entries]
    if complete and missing:
        raise ConversionError(
            f"{where} is missing tower tensor(s): {', '.join(view.prefix + n for n in missing[:5])}"
        )


# ---------------------------------------------------------------------------------------------------- convert


@dataclass
class _Plan:
    """Everything decided before any weight is written."""

    llm_tensors: list[str]
    landmark_on: bool
    landmark_reason: str
    dropped: list[str]
    warnings: list[str]


def _plan_facellava(
    source: TensorSource, fields: dict[str, Any], text: dict[str, Any], choice: LandmarkChoice, where: str
) -> _Plan:
    required = llama_shapes(text) | projector_shapes(text["hidden_size"], fields["mm_hidden_size"])
    landmark_groups = landmark_shapes(fields, text["hidden_size"])
    landmark_all = {name: shape for group in landmark_groups.values() for name, shape in group.items()}
    dropped = []
    for name, info in source.tensors.items():
        if name.endswith("rotary_emb.inv_freq"):
            dropped.append(name)
        elif name.startswith((IMAGE_TOWER_PREFIX, VIDEO_TOWER_PREFIX)):
            continue
        elif name in required:
            _check_shape(name, info.shape, required[name], where)
        elif name in landmark_all:
            _check_shape(name, info.shape, landmark_all[name], where)
        else:
            raise ConversionError(
                f"unexpected tensor {name} in {where}: not part of Face-LLaVA with this config"
            )
    missing = [name for name in required if name not in source.tensors]
    if missing:
        raise ConversionError(
            f"{where} is missing required tensor(s): {', '.join(missing[:5])}"
            + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
        )
    absent = [name for name in landmark_all if name not in source.tensors]
    warnings = []
    if choice == "on" and absent:
        raise ConversionError(
            f"landmark conditioning 'on' needs every landmark tensor; {where} lacks {', '.join(absent[:5])}"
        )
    if choice == "off":
        on, reason = False, "set to 'off' by the converter's option"
    elif absent:
        on = False
        modules = sorted(
            {group for group, shapes in landmark_groups.items() if any(n in shapes for n in absent)}
        )
        reason = (
            f"'auto': landmark weights missing ({len(absent)} tensors of {', '.join(modules)}, e.g. "
            f"{absent[0]})"
        )
        warnings.append(f"landmark conditioning turned off: {reason}")
        logger.warning("landmark conditioning turned off: %s", reason)
    else:
        on = True
        reason = f"'{choice}': all {len(landmark_all)} landmark tensors present"
    keep_landmarks = not absent  # a partial set is never written: it could only ever load half a module
    llm_tensors = [n for n in source.names() if n in required or (keep_landmarks and n in landmark_all)]
    return _Plan(llm_tensors, on, reason, dropped, warnings)


def _sources_record(folder: Path, source: TensorSource, hub_id: str, extra: tuple[str, ...]) -> SourceFiles:
    files = [*source.files, *(folder / name for name in extra if (folder / name).is_file())]
    hashes = {
        path.name: sha256_file(path)
        for path in tqdm(files, desc=f"sha256 {folder.name}", unit="file", leave=False)
    }
    return SourceFiles(folder=folder.name, hub_id=hub_id, files=hashes)


def _write_tokenizer(facellava_dir: Path, out: Path, vocab_size: int) -> None:
    """The released slow-LLaMA tokenizer, <image>/<video> added as special tokens, the llava_v1 template."""
    for name in fmt.TOKENIZER_FILES:
        if not (facellava_dir / name).is_file():
            raise ConversionError(f"{facellava_dir / name} is missing (the slow LLaMA tokenizer is required)")
    if (facellava_dir / "added_tokens.json").is_file() and _read_json(facellava_dir / "added_tokens.json"):
        raise ConversionError(
            f"{facellava_dir / 'added_tokens.json'} adds tokens; their ids would collide with <image>/<video>"
        )
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(facellava_dir / fmt.TOKENIZER_MODEL_FILE))
    if pieces.get_piece_size() != vocab_size:
        raise ConversionError(
            f"field 'vocab_size' is {vocab_size} but {fmt.TOKENIZER_MODEL_FILE} has "
            f"{pieces.get_piece_size()} pieces"
        )
    shutil.copyfile(facellava_dir / fmt.TOKENIZER_MODEL_FILE, out / fmt.TOKENIZER_MODEL_FILE)

    def added(content: str) -> dict[str, Any]:
        return {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
        }

    tokenizer_config = _read_json(facellava_dir / fmt.TOKENIZER_CONFIG_FILE)
    specials = [(pieces.piece_to_id(p), p) for p in ("<unk>", "<s>", "</s>")]
    specials += [(vocab_size + i, token) for i, token in enumerate(fmt.PLACEHOLDER_TOKENS)]
    decoder = {str(token_id): added(token) | {"special": True} for token_id, token in specials}
    tokenizer_config["added_tokens_decoder"] = decoder
    tokenizer_config["additional_special_tokens"] = list(fmt.PLACEHOLDER_TOKENS)
    tokenizer_config["chat_template"] = fmt.CHAT_TEMPLATE
    tokenizer_config["tokenizer_class"] = "LlamaTokenizer"
    (out / fmt.TOKENIZER_CONFIG_FILE).write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    special_map = _read_json(facellava_dir / fmt.SPECIAL_TOKENS_MAP_FILE)
    special_map["additional_special_tokens"] = [added(token) for token in fmt.PLACEHOLDER_TOKENS]
    (out / fmt.SPECIAL_TOKENS_MAP_FILE).write_text(json.dumps(special_map, indent=2) + "\n")


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConversionError(f"{out_dir} exists and is not empty; choose a new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def _publish(staging: Path, out_dir: Path) -> None:
    """Give the finished folder ordinary permissions (mkdtemp makes it owner-only) and move it into place in
    one rename, so a reader never sees a half-written serving folder."""
    staging.chmod(0o755)
    if out_dir.exists():
        out_dir.rmdir()
    staging.rename(out_dir)


def convert(
    facellava_dir: Path | str,
    image_tower_dir: Path | str,
    video_tower_dir: Path | str,
    out_dir: Path | str,
    landmark_conditioning: LandmarkChoice = "auto",
    dtype: str | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> ConversionReport:
    """Convert the three downloaded folders into a serving folder at `out_dir` (must be new or empty).

    dtype None keeps every tensor's stored dtype (vLLM casts at load); "float32"/"bfloat16"/"float16" casts
    all floating tensors. The folder appears only when complete: it is written beside `out_dir`, then renamed.
    """
    facellava_dir, image_tower_dir, video_tower_dir = (
        Path(facellava_dir),
        Path(image_tower_dir),
        Path(video_tower_dir),
    )
    out_dir = Path(out_dir)
    if landmark_conditioning not in ("auto", "on", "off"):
        raise ConversionError(f"landmark_conditioning must be auto, on or off, not {landmark_conditioning!r}")
    if dtype is not None and dtype not in DTYPES:
        raise ConversionError(f"dtype must be one of {sorted(DTYPES)}, not {dtype!r}")
    for folder in (facellava_dir, image_tower_dir, video_tower_dir):
        if not folder.is_dir():
            raise ConversionError(f"{folder} is not a folder")

    released = _read_json(facellava_dir / fmt.CONFIG_FILE)
    where_llava = f"{facellava_dir.name}/config.json"
    fields = check_facellava_config(released, where_llava)
    text = text_config_from(released, where_llava)
    towers = [
        _TowerInput.read("image", image_tower_dir, released["mm_image_tower"]),
        _TowerInput.read("video", video_tower_dir, released["mm_video_tower"]),
    ]
    for tower in towers:
        if tower.config["hidden_size"] != fields["mm_hidden_size"]:
            raise ConversionError(
                f"{where_llava}: field 'mm_hidden_size' is {fields['mm_hidden_size']} but the "
                f"{tower.kind} tower ({tower.folder.name}) has hidden_size {tower.config['hidden_size']}"
            )

    llava_source = _open_source(facellava_dir)
    plan = _plan_facellava(llava_source, fields, text, landmark_conditioning, facellava_dir.name)
    views: dict[str, tuple[TowerView, TowerView]] = {}
    for tower in towers:
        expected = tower_shapes(tower.config)
        downloaded = TowerView(
            _open_source(tower.folder), LANGUAGEBIND_VISION_PREFIX, tower.lora, tower.folder.name
        )
        _check_tower_names(downloaded, expected, tower.folder.name, complete=True)
        embedded = TowerView(
            llava_source, tower.prefix, tower.lora, f"{facellava_dir.name} ({tower.prefix}*)"
        )
        _check_tower_names(embedded, expected, facellava_dir.name, complete=False)
        views[tower.kind] = (downloaded, embedded)

    staging = _prepare_out_dir(out_dir)
    try:
        # The tokenizer first: a refused tokenizer must not cost a full pass over the weights.
        _write_tokenizer(facellava_dir, staging, text["vocab_size"])
        writer = ShardedWeightWriter(staging, max_shard_bytes)
        verified = _write_weights(writer, llava_source, plan, views, DTYPES[dtype] if dtype else None)
        output_files = writer.close()
        sources = {
            "facellava": _sources_record(
                facellava_dir, llava_source, "chaubeyG/FaceLLaVA", (fmt.CONFIG_FILE, fmt.TOKENIZER_MODEL_FILE)
            ),
        }
        for tower in towers:
            source = views[tower.kind][0].source
            sources[f"{tower.kind}_tower"] = _sources_record(
                tower.folder, source, tower.hub_id, (fmt.CONFIG_FILE,)
            )
        stored_dtype = dtype or str(released.get("torch_dtype") or "float32")
        conditioning = "on" if plan.landmark_on else "off"
        config = FaceLlavaConfig(
            text_config=text,
            image_tower_config=towers[0].config,
            video_tower_config=towers[1].config,
            **fields,
            landmark_conditioning=conditioning,
            image_token_id=text["vocab_size"],
            video_token_id=text["vocab_size"] + 1,
            num_video_frames=towers[1].config["num_frames"],
            facellava_source={key: value.model_dump() for key, value in sources.items()},
            torch_dtype=stored_dtype,
        )
        config.save_pretrained(staging)
        _write_generation_config(facellava_dir, staging, text)
        report = ConversionReport(
            out_dir=str(out_dir),
            sources=sources,
            landmark_conditioning=conditioning,
            landmark_reason=plan.landmark_reason,
            dtype=stored_dtype,
            tensors_written=len(plan.llm_tensors) + sum(len(v[0].entries) for v in views.values()),
            output_files=output_files,
            dropped_tensors=plan.dropped,
            lora_merged={kind: list(v[0].merged) for kind, v in views.items()},
            embedded_tower_tensors_verified=verified,
            warnings=plan.warnings,
        )
        (staging / fmt.CONVERSION_REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n")
        _publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _write_weights(
    writer: ShardedWeightWriter,
    llava_source: TensorSource,
    plan: _Plan,
    views: dict[str, tuple[TowerView, TowerView]],
    torch_dtype: torch.dtype | None,
) -> int:
    """Stream every output tensor into the writer; returns how many embedded tower tensors matched."""

    def cast(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(torch_dtype) if torch_dtype is not None and tensor.is_floating_point() else tensor

    work: list[tuple[str, int, Callable[[], torch.Tensor]]] = []
    for name in plan.llm_tensors:
        info = llava_source.tensors[name]
        work.append(
            (
                name,
                info.dtype.itemsize * int(torch.Size(info.shape).numel()),
                lambda n=name: llava_source.get(n),
            )
        )
    verified = 0
    for downloaded, embedded in views.values():
        for name in downloaded.entries:  # the embedded copy's prefix is the official output name
            work.append(
                (
                    embedded.prefix + name,
                    downloaded.nbytes(name),
                    lambda n=name, d=downloaded, e=embedded: _tower_tensor(d, e, n),
                )
            )
            verified += name in embedded.entries
    with tqdm(total=sum(size for _, size, _ in work), unit="B", unit_scale=True, desc="converting") as bar:
        for out_name, size, load in work:
            writer.add(out_name, cast(load()))
            bar.update(size)
    llava_source.close()
    return verified


def _tower_tensor(downloaded: TowerView, embedded: TowerView, name: str) -> torch.Tensor:
    """The LanguageBind tensor (what the official loader uses), after checking the embedded copy equals it.

    The embedded copy may be stored in a narrower dtype (the released checkpoint in bf16, LanguageBind in
    fp32): it must equal the LanguageBind tensor rounded to that dtype, bit for bit.
    """
    tensor = downloaded.get(name)
    if name in embedded.entries:
        copy = embedded.get(name)
        if copy.shape != tensor.shape or not torch.equal(tensor.to(copy.dtype), copy):
            raise ConversionError(
                f"tower tensor {embedded.entries[name].base} in {embedded.label} differs from "
                f"{downloaded.entries[name].base} in {downloaded.label}; the official loader uses the "
                "LanguageBind folder, so the two downloads do not belong together"
            )
    return tensor


def _write_generation_config(facellava_dir: Path, out: Path, text: dict[str, Any]) -> None:
    source = facellava_dir / fmt.GENERATION_CONFIG_FILE
    if source.is_file():
        shutil.copyfile(source, out / fmt.GENERATION_CONFIG_FILE)
        return
    ids = {key: text[key] for key in ("bos_token_id", "eos_token_id", "pad_token_id") if key in text}
    (out / fmt.GENERATION_CONFIG_FILE).write_text(json.dumps(ids, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------- CLI


def parse_size(text: str) -> int:
    """'2GB', '500MB', '1.5GiB' or a byte count -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(i?B)?\s*", text, flags=re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    base = 1024 if (match[3] or "").lower() == "ib" else 1000
    power = " KMGT".index(match[2].upper() or " ")
    return int(float(match[1]) * base**power)


def build_parser() -> argparse.ArgumentParser:
    """The `facellava convert` options."""
    parser = argparse.ArgumentParser(prog="facellava convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--facellava", type=Path, required=True, help="downloaded chaubeyG/FaceLLaVA folder")
    parser.add_argument(
        "--image-tower", type=Path, required=True, help="downloaded LanguageBind_Image folder"
    )
    parser.add_argument(
        "--video-tower", type=Path, required=True, help="downloaded LanguageBind_Video_merge folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="serving folder to create (new or empty)")
    parser.add_argument(
        "--landmark-conditioning",
        choices=("auto", "on", "off"),
        default="auto",
        help="auto: on only if every landmark weight is present (default)",
    )
    parser.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default=None,
        help="cast floating tensors (default: keep each tensor's stored dtype)",
    )
    parser.add_argument(
        "--max-shard-size",
        type=parse_size,
        default=DEFAULT_MAX_SHARD_BYTES,
        help="largest output shard, e.g. 2GB (also bounds the converter's memory)",
    )
    return parser


def convert_main(argv: list[str]) -> int:
    """`facellava convert ...`; a refused checkpoint is a one-line error and exit status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = convert(
            args.facellava,
            args.image_tower,
            args.video_tower,
            args.out,
            landmark_conditioning=args.landmark_conditioning,
            dtype=args.dtype,
            max_shard_bytes=args.max_shard_size,
        )
    except ConversionError as error:
        logger.error("conversion refused: %s", error)
        return 2
    print(
        f"wrote {report.out_dir}: {report.tensors_written} tensors in {len(report.output_files)} file(s), "
        f"landmark conditioning {report.landmark_conditioning} ({report.landmark_reason})"
    )
    return 0
