"""`facellava tiny-checkpoint`: a random tiny Face-LLaVA in the three downloaded layouts, with no download.

It exists so that a fresh machine (CI, a demo, a developer laptop) can run the whole service, and so that the
converter is tested on every layout variant a user might download: .bin or safetensors, sharded or not,
peft-wrapped (LoRA) towers, missing landmark modules, a config without the landmark fields. The folders mirror
fixture A (the official implementation's own tiny checkpoint): same file names, same config keys, official
state-dict names, rotary inv_freq buffers as transformers 4.31 saved them, towers embedded in FaceLLaVA and
complete CLIP checkpoints (text tower included) in the LanguageBind folders.

Every weight is random (norm weights 1 + noise), drawn from a generator seeded by (seed, tensor name): the
embedded tower copy is regenerated bit-identically instead of being held in memory, so large variants (for
memory measurements, the real-size rehearsal in bench/) stream like the converter does; they can be stored in bf16
with the LanguageBind folders' transformers-4.30 position_ids buffers and a vocabulary padded to exactly the
released 32000 pieces. The tokenizer is trained here with the SentencePiece trainer in the slow-LLaMA layout (BPE,
byte fallback, <unk>=0 <s>=1 </s>=2), so any text tokenizes.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import sentencepiece
import torch

from conversion.checkpoint_io import ShardedWeightWriter, WeightFormat
from conversion.checkpoint_schema import (
    IMAGE_TOWER_PREFIX,
    VIDEO_TOWER_PREFIX,
    clip_layer_shapes,
    landmark_shapes,
    llama_shapes,
    projector_shapes,
    tower_shapes,
)
from conversion.convert import parse_size
from conversion.derived_buffers import POSITION_IDS, position_ids
from conversion.released_config import LANDMARKS_HIDDEN_SIZE, check_facellava_config, text_config_from
from conversion.serving_tokenizer import added_token
from model import serving_format as fmt

LandmarkConfig = Literal["landmarks_region_projector", "linear", "absent"]

FACELLAVA_DIR = "FaceLLaVA"
IMAGE_TOWER_DIR = "LanguageBind_Image"
VIDEO_TOWER_DIR = "LanguageBind_Video_merge"

# Built-in tokenizer corpus: the prompt template, task questions and answer vocabulary of the service.
CORPUS = (
    fmt.SYSTEM_PROMPT,
    "USER: What emotion is shown? ASSISTANT: The subject's expression strongly indicates fear.",
    "USER: What emotion is shown in the video? ASSISTANT: The person looks happy, smiling widely.",
    "Which facial action units are active in this face? AU4 (Brow Lowerer), AU6 (Cheek Raiser).",
    "AU1 Inner Brow Raiser, AU2 Outer Brow Raiser, AU5 Upper Lid Raiser, AU7 Lid Tightener.",
    "AU9 Nose Wrinkler.",
    "AU10 Upper Lip Raiser, AU12 Lip Corner Puller, AU14 Dimpler, AU15 Lip Corner Depressor.",
    "AU17 Chin Raiser.",
    "AU20 Lip Stretcher, AU23 Lip Tightener, AU24 Lip Pressor, AU25 Lips Part, AU26 Jaw Drop.",
    "Estimate the age of the person. 32 years old is a reasonable estimate given the skin and hair.",
    "Is this video real or fake? Fake: the face boundary flickers and the lighting is inconsistent.",
    "Real video. The motion of the mouth and the eyes is natural and consistent across frames.",
    "Describe the facial attributes: arched eyebrows, bags under eyes, black hair, wavy hair.",
    "Smiling, young.",
    "Male, no beard, wearing earrings, wearing lipstick, heavy makeup, high cheekbones.",
    "Oval face, pale skin.",
    "Happy, sad, neutral, angry, surprise, disgust, fear, contempt, anxiety, helplessness, disappointment.",
    "The eyebrows are raised and drawn together, the upper eyelids are raised and the lips are stretched.",
    "The corners of the mouth are pulled up and the cheeks are raised, which indicates happiness.",
    "The brows are lowered, the lips are pressed together and the jaw is clenched: this suggests anger.",
    "Numbers 0 1 2 3 4 5 6 7 8 9 10 25 50 100 and punctuation: , . ; : ! ? ' \" ( ) - / %",
    "Ecrire en francais, auf Deutsch schreiben, escribir en espanol: the assistant answers in English.",
)


@dataclass(frozen=True)
class TransformerSize:
    """The sizes of one transformer stack (the LLM, a vision tower, LanguageBind's unused text tower)."""

    hidden: int
    intermediate: int
    layers: int
    heads: int


@dataclass(frozen=True)
class TinySpec:
    """Sizes and layout options; the defaults give a model vLLM's CPU attention runs (head size 32)."""

    llm: TransformerSize = TransformerSize(hidden=64, intermediate=172, layers=2, heads=2)
    tower: TransformerSize = TransformerSize(hidden=48, intermediate=96, layers=2, heads=4)
    vocab_size: int = 512
    image_size: int = 224
    patch_size: int = 14
    num_frames: int = 8
    weight_format: WeightFormat = "safetensors"
    max_shard_bytes: int | None = None
    lora_rank: int = 0
    lora_alpha: float = 16.0
    landmarks: bool = True
    landmark_config: LandmarkConfig = "landmarks_region_projector"
    embed_towers: bool = True
    # Storage dtype of the FaceLLaVA weights (the LanguageBind folders stay float32, as released).
    weight_dtype: str = "float32"
    # Write LanguageBind folders as transformers 4.30 saved them: persistent position_ids buffers included.
    legacy_buffers: bool = False
    # Pad the trained tokenizer with unused pieces up to exactly vocab_size (real-size rehearsal: 32000).
    exact_vocab: bool = False


@dataclass(frozen=True)
class TinyCheckpoint:
    """Where the three generated folders are."""

    facellava: Path
    image_tower: Path
    video_tower: Path


# ------------------------------------------------------------------------------------------------ tokenizer


def train_tokenizer(vocab_size: int) -> bytes:
    """A slow-LLaMA-style SentencePiece model (BPE, byte fallback, identity normalisation, dummy prefix)."""
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        byte_fallback=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def pad_tokenizer(model: bytes, vocab_size: int) -> bytes:
    """The SentencePiece model with unused pieces appended up to exactly `vocab_size` (a corpus this small cannot
    train 32000 real pieces; the extra ones never match input, as a released vocabulary's rare pieces rarely do)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    lowest = min(piece.score for piece in proto.pieces)
    for i in range(vocab_size - len(proto.pieces)):
        piece = proto.pieces.add()
        piece.piece, piece.score = f"\u2581unused{i:05d}", lowest - 1.0 - i
    proto.trainer_spec.vocab_size = len(proto.pieces)
    return proto.SerializeToString()


def _write_tokenizer(folder: Path, vocab_size: int, exact: bool = False) -> int:
    """Writes the three slow-tokenizer files as the released folder has them; returns the vocabulary size."""
    model = train_tokenizer(vocab_size)
    if exact:
        model = pad_tokenizer(model, vocab_size)
    (folder / fmt.TOKENIZER_MODEL_FILE).write_bytes(model)
    pieces = sentencepiece.SentencePieceProcessor(model_proto=model)
    names = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    tokenizer_config = {
        "add_bos_token": True,
        "add_eos_token": False,
        **{key: {"__type": "AddedToken", **added_token(value)} for key, value in names.items()},
        "clean_up_tokenization_spaces": False,
        "legacy": False,
        "model_max_length": 2048,
        "pad_token": None,
        "padding_side": "right",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
    }
    special_map = {key: added_token(value) for key, value in names.items()} | {"pad_token": "<unk>"}
    _write_json(folder / fmt.TOKENIZER_CONFIG_FILE, tokenizer_config)
    _write_json(folder / fmt.SPECIAL_TOKENS_MAP_FILE, special_map)
    return pieces.get_piece_size()


# ---------------------------------------------------------------------------------------------------- configs


def _facellava_config(spec: TinySpec, vocab_size: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        "_name_or_path": FACELLAVA_DIR,
        "architectures": ["LlavaLlamaForCausalLM"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "freeze_mm_mlp_adapter": False,
        "hidden_act": "silu",
        "hidden_size": spec.llm.hidden,
        "image_aspect_ratio": "pad",
        "initializer_range": 0.02,
        "intermediate_size": spec.llm.intermediate,
        "max_position_embeddings": 4096,
        "mm_hidden_size": spec.tower.hidden,
        "mm_image_tower": "LanguageBind/LanguageBind_Image",
        "mm_projector_lr": None,
        "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False,
        "mm_video_tower": "LanguageBind/LanguageBind_Video_merge",
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "model_type": "llava",
        "num_attention_heads": spec.llm.heads,
        "num_hidden_layers": spec.llm.layers,
        "num_key_value_heads": spec.llm.heads,
        "pad_token_id": 0,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "tie_word_embeddings": False,
        "tokenizer_model_max_length": 3072,
        "tokenizer_padding_side": "right",
        "torch_dtype": "float32",
        "transformers_version": "4.31.0",
        "tune_landmarks_mlp_adapter": False,
        "tune_mm_mlp_adapter": False,
        "use_cache": True,
        "use_mm_proj": True,
        "vocab_size": vocab_size,
    }
    if spec.landmark_config != "absent":
        config |= {
            "cross_attn_type": "simple",
            "global_landmarks_projector_type": "linear",
            "landmarks_hidden_size": LANDMARKS_HIDDEN_SIZE,
            "landmarks_projector_type": spec.landmark_config,
            "use_landmark_tokens": False,
        }
    return dict(sorted(config.items()))


def _clip_sub_config(model_type: str, size: TransformerSize) -> dict[str, Any]:
    return {
        "attention_dropout": 0.0,
        "hidden_act": "gelu",
        "hidden_size": size.hidden,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": size.intermediate,
        "layer_norm_eps": 1e-05,
        "model_type": model_type,
        "num_attention_heads": size.heads,
        "num_hidden_layers": size.layers,
        "projection_dim": _PROJECTION_DIM,
        "transformers_version": "4.31.0",
    }


_TEXT_TOWER = TransformerSize(hidden=32, intermediate=64, layers=1, heads=2)
_TEXT_VOCAB = 64
_TEXT_POSITIONS = 77
_PROJECTION_DIM = 24


def _languagebind_config(spec: TinySpec, video: bool) -> dict[str, Any]:
    text = _clip_sub_config("clip_text_model", _TEXT_TOWER) | {
        "add_time_attn": False,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "max_position_embeddings": _TEXT_POSITIONS,
        "pad_token_id": 1,
        "vocab_size": _TEXT_VOCAB,
    }
    vision = _clip_sub_config("clip_vision_model", spec.tower) | {
        "add_time_attn": video,
        "force_patch_dropout": 0.0,
        "image_size": spec.image_size,
        "lora_alpha": spec.lora_alpha,
        "lora_dropout": 0.0,
        "lora_r": spec.lora_rank,
        "num_channels": 3,
        "num_frames": spec.num_frames if video else 1,
        "num_mel_bins": 0.0,
        "patch_size": spec.patch_size,
        "target_length": 0.0,
        "video_decode_backend": "decord",
    }
    name = "LanguageBindVideo" if video else "LanguageBindImage"
    return {
        "_name_or_path": VIDEO_TOWER_DIR if video else IMAGE_TOWER_DIR,
        "architectures": [name],
        "initializer_factor": 1.0,
        "logit_scale_init_value": 2.6592,
        "model_type": name,
        "projection_dim": _PROJECTION_DIM,
        "text_config": dict(sorted(text.items())),
        "torch_dtype": "float32",
        "vision_config": dict(sorted(vision.items())),
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------- weights

_NORM_WEIGHT = re.compile(r"(norm\d*|\.ln)\.weight$")
_LORA_TARGETS = re.compile(r"(self_attn|temporal_attn)\.(q_proj|k_proj|v_proj|out_proj)\.weight$")


def random_tensor(seed: int, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The tensor `name` of the checkpoint with this seed: same (seed, name), same values, wherever drawn."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    noise = torch.randn(shape, generator=generator)
    if _NORM_WEIGHT.search(name):
        return 1.0 + 0.1 * noise
    if len(shape) <= 1:
        return 0.1 * noise
    return noise / math.sqrt(math.prod(shape[1:]))


def _rotary_inv_freq(head_dim: int) -> torch.Tensor:
    return 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))


def _tower_entries(spec: TinySpec, video: bool) -> list[tuple[str, tuple[int, ...]]]:
    """(name below `vision_model.`, shape), peft-renamed with LoRA adapters when lora_rank > 0."""
    tower = {
        "hidden_size": spec.tower.hidden,
        "intermediate_size": spec.tower.intermediate,
        "num_hidden_layers": spec.tower.layers,
        "image_size": spec.image_size,
        "patch_size": spec.patch_size,
        "add_time_attn": video,
        "num_frames": spec.num_frames,
    }
    entries = []
    for name, shape in tower_shapes(tower).items():
        if spec.lora_rank <= 0 or not name.startswith("encoder."):
            entries.append((name, shape))
            continue
        wrapped = name.replace("encoder.", "encoder.base_model.model.", 1)
        entries.append((wrapped, shape))
        if _LORA_TARGETS.search(name):
            module = wrapped.removesuffix(".weight")
            entries.append((f"{module}.lora_A.default.weight", (spec.lora_rank, shape[1])))
            entries.append((f"{module}.lora_B.default.weight", (shape[0], spec.lora_rank)))
    return entries


def _clip_text_entries() -> list[tuple[str, tuple[int, ...]]]:
    """LanguageBind's text tower and projections: never used by Face-LLaVA, present in the real downloads."""
    hidden, inter = _TEXT_TOWER.hidden, _TEXT_TOWER.intermediate
    shapes = {
        "text_model.embeddings.token_embedding.weight": (_TEXT_VOCAB, hidden),
        "text_model.embeddings.position_embedding.weight": (_TEXT_POSITIONS, hidden),
        "text_model.final_layer_norm.weight": (hidden,),
        "text_model.final_layer_norm.bias": (hidden,),
    }
    for layer in range(_TEXT_TOWER.layers):
        shapes |= clip_layer_shapes(f"text_model.encoder.layers.{layer}.", hidden, inter)
    return list(shapes.items())


def _write_languagebind(folder: Path, spec: TinySpec, seed: int, video: bool) -> None:
    """A LanguageBind folder: config.json + one pytorch_model.bin (CLIP-style, both towers), as downloaded."""
    folder.mkdir(parents=True)
    _write_json(folder / fmt.CONFIG_FILE, _languagebind_config(spec, video))
    tag = "video" if video else "image"
    writer = ShardedWeightWriter(folder, max_shard_bytes=1 << 62, fmt="bin")
    writer.add("logit_scale", torch.tensor(2.6592))
    for name, shape in _clip_text_entries():
        writer.add(name, random_tensor(seed, f"{tag}:{name}", shape))
    for name, shape in _tower_entries(spec, video):
        writer.add("vision_model." + name, random_tensor(seed, f"{tag}:{name}", shape))
    if spec.legacy_buffers:
        writer.add(f"vision_model.{POSITION_IDS}", position_ids((spec.image_size // spec.patch_size) ** 2 + 1))
        writer.add(f"text_model.{POSITION_IDS}", position_ids(_TEXT_POSITIONS))
    writer.add(
        "visual_projection.weight",
        random_tensor(seed, f"{tag}:vp", (_PROJECTION_DIM, spec.tower.hidden)),
    )
    writer.add(
        "text_projection.weight", random_tensor(seed, f"{tag}:tp", (_PROJECTION_DIM, _TEXT_TOWER.hidden))
    )
    writer.close()


def _write_facellava(folder: Path, spec: TinySpec, seed: int) -> None:
    """The FaceLLaVA folder: LLaVA-style config, official state-dict names, towers embedded, tokenizer."""
    folder.mkdir(parents=True)
    vocab_size = _write_tokenizer(folder, spec.vocab_size, spec.exact_vocab)
    released = _facellava_config(spec, vocab_size) | {"torch_dtype": spec.weight_dtype}
    _write_json(folder / fmt.CONFIG_FILE, released)
    _write_json(
        folder / fmt.GENERATION_CONFIG_FILE,
        {
            "_from_model_config": True,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 0,
            "transformers_version": "4.31.0",
        },
    )
    fields = check_facellava_config(released, "tiny")
    text = text_config_from(released, "tiny")
    entries = dict(llama_shapes(text))
    entries |= projector_shapes(spec.llm.hidden, spec.tower.hidden)
    if spec.landmarks:
        for group in landmark_shapes(fields, spec.llm.hidden).values():
            entries |= group
    writer = ShardedWeightWriter(folder, spec.max_shard_bytes or 1 << 62, fmt=spec.weight_format)
    dtype = getattr(torch, spec.weight_dtype)
    head_dim = spec.llm.hidden // spec.llm.heads
    for name, shape in sorted(entries.items()):
        writer.add(name, random_tensor(seed, name, shape).to(dtype))
        if name.endswith("self_attn.q_proj.weight"):
            writer.add(name.replace("q_proj.weight", "rotary_emb.inv_freq"), _rotary_inv_freq(head_dim))
    if spec.embed_towers:
        for tag, prefix, video in (
            ("image", IMAGE_TOWER_PREFIX, False),
            ("video", VIDEO_TOWER_PREFIX, True),
        ):
            for name, shape in _tower_entries(spec, video):
                writer.add(prefix + name, random_tensor(seed, f"{tag}:{name}", shape).to(dtype))
    writer.close()


def write_tiny_checkpoint(out_dir: Path | str, seed: int = 0, spec: TinySpec | None = None) -> TinyCheckpoint:
    """Write FaceLLaVA/, LanguageBind_Image/, LanguageBind_Video_merge/ under `out_dir` (must not exist)."""
    spec = spec or TinySpec()
    if spec.llm.hidden % spec.llm.heads:
        raise ValueError(f"LLM hidden size {spec.llm.hidden} is not a multiple of its {spec.llm.heads} heads")
    out_dir = Path(out_dir)
    paths = TinyCheckpoint(out_dir / FACELLAVA_DIR, out_dir / IMAGE_TOWER_DIR, out_dir / VIDEO_TOWER_DIR)
    _write_facellava(paths.facellava, spec, seed)
    _write_languagebind(paths.image_tower, spec, seed, video=False)
    _write_languagebind(paths.video_tower, spec, seed, video=True)
    return paths


# ---------------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    """The `facellava tiny-checkpoint` options."""
    defaults = TinySpec()
    parser = argparse.ArgumentParser(prog="facellava tiny-checkpoint", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "out", type=Path, help="folder to create; receives the three downloaded-style folders"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--format",
        choices=("safetensors", "bin"),
        default=defaults.weight_format,
        help="FaceLLaVA weight format (the LanguageBind folders are always .bin, as released)",
    )
    parser.add_argument(
        "--max-shard-size",
        type=parse_size,
        default=None,
        help="shard the FaceLLaVA weights (e.g. 200MB); default one file",
    )
    parser.add_argument("--hidden-size", type=int, default=defaults.llm.hidden)
    parser.add_argument("--intermediate-size", type=int, default=defaults.llm.intermediate)
    parser.add_argument("--layers", type=int, default=defaults.llm.layers)
    parser.add_argument("--heads", type=int, default=defaults.llm.heads)
    parser.add_argument(
        "--lora-rank", type=int, default=0, help="peft-wrap both towers with LoRA of this rank"
    )
    parser.add_argument("--no-landmarks", action="store_true", help="leave out the landmark module weights")
    parser.add_argument(
        "--landmark-config",
        choices=("landmarks_region_projector", "linear", "absent"),
        default=defaults.landmark_config,
        help="landmarks_projector_type in config.json; 'absent' omits the landmark fields",
    )
    return parser


def tiny_checkpoint_main(argv: list[str]) -> int:
    """`facellava tiny-checkpoint OUT ...`."""
    args = build_parser().parse_args(argv)
    spec = replace(
        TinySpec(),
        weight_format=args.format,
        max_shard_bytes=args.max_shard_size,
        llm=TransformerSize(args.hidden_size, args.intermediate_size, args.layers, args.heads),
        lora_rank=args.lora_rank,
        landmarks=not args.no_landmarks,
        landmark_config=args.landmark_config,
    )
    paths = write_tiny_checkpoint(args.out, seed=args.seed, spec=spec)
    print(f"wrote {paths.facellava}, {paths.image_tower}, {paths.video_tower}")
    return 0
