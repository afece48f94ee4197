"""The tensors a Face-LLaVA checkpoint must (or may) hold, with their shapes, derived from the configs alone.

Conversion checks every input tensor against these tables, and the tiny-checkpoint generator draws its random
weights from the same tables, so the two can never disagree about what a checkpoint looks like. Names are the
official state-dict names (LanguageBind tower tensors: the names below `vision_model.`).
"""

from __future__ import annotations

from typing import Any

from conversion.errors import ConversionError
from conversion.released_config import LANDMARKS_HIDDEN_SIZE
from model.landmark_modules import FACE_REGIONS

Shapes = dict[str, tuple[int, ...]]

IMAGE_TOWER_PREFIX = "model.image_tower.image_tower."
VIDEO_TOWER_PREFIX = "model.video_tower.video_tower."
LANGUAGEBIND_VISION_PREFIX = "vision_model."
_ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")
_SHOWN_NAMES = 10  # how many tensor names a refusal lists before "+N more"


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
        for region, points in FACE_REGIONS.items():
            local |= _linear(
                f"model.landmarks_projector.region_layers.{region}.", hidden, 2 * (points.stop - points.start)
            )
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


def clip_layer_shapes(prefix: str, width: int, inter: int) -> Shapes:
    """One CLIP encoder layer (attention, MLP, two LayerNorms), as in both LanguageBind towers (vision and
    text): one table, so the converter's checks and the tiny checkpoints' weights agree."""
    shapes: Shapes = {}
    for proj in _ATTENTION_PROJECTIONS:
        shapes |= _linear(f"{prefix}self_attn.{proj}.", width, width)
    shapes |= _linear(prefix + "mlp.fc1.", inter, width) | _linear(prefix + "mlp.fc2.", width, inter)
    return shapes | {f"{prefix}layer_norm{i}.{k}": (width,) for i in (1, 2) for k in ("weight", "bias")}


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
    for layer in range(tower["num_hidden_layers"]):
        p = f"encoder.layers.{layer}."
        shapes |= clip_layer_shapes(p, width, inter)
        if tower["add_time_attn"]:
            shapes[p + "temporal_embedding"] = (1, tower["num_frames"], width)
            for proj in _ATTENTION_PROJECTIONS:
                shapes |= _linear(f"{p}temporal_attn.{proj}.", width, width)
            shapes |= {f"{p}temporal_layer_norm1.{k}": v for k, v in norm.items()}
    return shapes


def name_list(names: list[str]) -> str:
    """The first few names and how many more: refusals stay one readable line on a 7B checkpoint."""
    shown = ", ".join(names[:_SHOWN_NAMES])
    return shown + (f" (+{len(names) - _SHOWN_NAMES} more)" if len(names) > _SHOWN_NAMES else "")


def check_shape(name: str, actual: tuple[int, ...], expected: tuple[int, ...], where: str) -> None:
    """Refuses a tensor whose shape is not the one the config implies."""
    if tuple(actual) != tuple(expected):
        raise ConversionError(
            f"shape mismatch for tensor {name} in {where}: checkpoint has {list(actual)}, config implies "
            f"{list(expected)}"
        )


def check_unknown(names: list[str], where: str, what: str, ignore: bool) -> list[str]:
    """Tensors that belong to no module of the configured model: refused by default (a weight that fits no
    module usually means a different model or config), or returned for the caller to drop and report when
    the user asked for that with ignore_unknown."""
    if names and not ignore:
        raise ConversionError(
            f"unexpected tensor {name_list(names)} in {where}: not part of {what}; "
            "--ignore-unknown (ignore_unknown=True) drops such tensors with a warning"
        )
    return names
