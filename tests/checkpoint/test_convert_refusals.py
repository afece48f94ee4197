"""Every input the converter refuses, each sent on purpose: the error names the field or tensor, and no
serving folder (not even a partial one) is left behind. Unknown tensors are also converted once with
ignore_unknown, which must drop them, say so and record them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from conversion.convert import convert
from conversion.errors import ConversionError
from conversion.tiny_checkpoint import TinyCheckpoint, train_tokenizer
from tests.checkpoint.conftest import (
    edit_json,
    expected_serving_tensors,
    read_weights,
    rewrite_bin,
    rewrite_safetensors,
)


def _refused(src: TinyCheckpoint, tmp_path: Path, match: str, **options) -> ConversionError:
    out = tmp_path / "out"
    with pytest.raises(ConversionError) as error:
        convert(src.facellava, src.image_tower, src.video_tower, out, **options)
    assert match in str(error.value), str(error.value)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial-*")), "a partial folder was left behind"
    return error.value


def _set(**values) -> Callable[[dict], None]:
    return lambda config: config.update(values)


def _pop(key: str) -> Callable[[dict], None]:
    return lambda config: config.pop(key)


def _vision(**values) -> Callable[[dict], None]:
    return lambda config: config["vision_config"].update(values)


FACELLAVA_CONFIG_CASES = {
    "not-llava": (_set(model_type="llama"), "field 'model_type'"),
    "transformers-native-llava": (
        _set(architectures=["LlavaForConditionalGeneration"]),
        "field 'architectures'",
    ),
    "nested-text-config": (_set(text_config={"model_type": "llama"}), "'text_config'"),
    "clip-image-tower": (_set(mm_image_tower="openai/clip-vit-large-patch14"), "field 'mm_image_tower'"),
    "no-video-tower": (_pop("mm_video_tower"), "field 'mm_video_tower'"),
    "image-start-end-tokens": (_set(mm_use_im_start_end=True), "field 'mm_use_im_start_end'"),
    "linear-mm-projector": (_set(mm_projector_type="linear"), "field 'mm_projector_type'"),
    "unknown-landmark-projector": (_set(landmarks_projector_type="mlp"), "field 'landmarks_projector_type'"),
    "unknown-global-projector": (
        _set(global_landmarks_projector_type="mlp2x"),
        "'global_landmarks_projector_type'",
    ),
    "masked-cross-attention": (_set(cross_attn_type="masked"), "field 'cross_attn_type'"),
    "landmark-tokens": (_set(use_landmark_tokens=True), "field 'use_landmark_tokens'"),
    "no-hidden-size": (_pop("hidden_size"), "field 'hidden_size'"),
    "no-mm-hidden-size": (_pop("mm_hidden_size"), "field 'mm_hidden_size'"),
    "tied-embeddings": (_set(tie_word_embeddings=True), "field 'tie_word_embeddings'"),
    "mm-hidden-differs-from-towers": (_set(mm_hidden_size=40), "field 'mm_hidden_size'"),
    "ffn-shape": (
        lambda c: c.update(intermediate_size=c["intermediate_size"] + 2),
        "shape mismatch for tensor model.layers.0.mlp.down_proj.weight",
    ),
    "vocab-shape": (
        lambda c: c.update(vocab_size=c["vocab_size"] + 1),
        "shape mismatch for tensor lm_head.weight",
    ),
    "fewer-layers": (_set(num_hidden_layers=1), "unexpected tensor model.layers.1."),
    "more-layers": (_set(num_hidden_layers=3), "missing required tensor(s): model.layers.2."),
}


@pytest.mark.parametrize("case", FACELLAVA_CONFIG_CASES, ids=list(FACELLAVA_CONFIG_CASES))
def test_facellava_config_refusals(tiny: TinyCheckpoint, tmp_path: Path, case: str) -> None:
    change, match = FACELLAVA_CONFIG_CASES[case]
    edit_json(tiny.facellava / "config.json", change)
    _refused(tiny, tmp_path, match)


TOWER_CONFIG_CASES = {
    "image-is-clip": ("image", _set(model_type="clip"), "field 'model_type'"),
    "image-is-video-model": ("image", _set(model_type="LanguageBindVideo"), "field 'model_type'"),
    # No vision_config: LanguageBind's class defaults (ViT-B/32, 768 wide), which do not fit the weights.
    "no-vision-config": ("image", _pop("vision_config"), "field 'mm_hidden_size'"),
    "image-with-time-attention": ("image", _vision(add_time_attn=True), "'vision_config.add_time_attn'"),
    "video-without-time-attention": ("video", _vision(add_time_attn=False), "'vision_config.add_time_attn'"),
    "video-without-frames": (  # the class default, 1 frame, does not fit the 8-frame temporal embeddings
        "video",
        lambda c: c["vision_config"].pop("num_frames"),
        "shape mismatch for tensor vision_model.encoder.layers.0.temporal_embedding",
    ),
    "video-frames-shape": ("video", _vision(num_frames=4), "temporal_embedding"),
    "patch-size-shape": ("image", _vision(patch_size=16), "embeddings.patch_embedding.weight"),
    "tower-width": ("image", _vision(hidden_size=32), "field 'mm_hidden_size'"),
    "no-patch-size": (  # the class default, 32, does not fit the patch embedding
        "video",
        lambda c: c["vision_config"].pop("patch_size"),
        "shape mismatch for tensor vision_model.embeddings.patch_embedding.weight",
    ),
}


@pytest.mark.parametrize("case", TOWER_CONFIG_CASES, ids=list(TOWER_CONFIG_CASES))
def test_tower_config_refusals(tiny: TinyCheckpoint, tmp_path: Path, case: str) -> None:
    kind, change, match = TOWER_CONFIG_CASES[case]
    edit_json((tiny.image_tower if kind == "image" else tiny.video_tower) / "config.json", change)
    _refused(tiny, tmp_path, match)


def _edit_facellava_weights(src: TinyCheckpoint, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    rewrite_safetensors(src.facellava / "model.safetensors", change)


def test_embedded_tower_that_differs_is_refused_by_name(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    name = "model.video_tower.video_tower.encoder.layers.1.temporal_attn.q_proj.weight"

    def corrupt(state: dict[str, torch.Tensor]) -> None:
        state[name] = state[name].clone()
        state[name][0, 0] += 1e-3

    _edit_facellava_weights(tiny, corrupt)
    error = _refused(tiny, tmp_path, name)
    assert "vision_model.encoder.layers.1.temporal_attn.q_proj.weight" in str(error)


def test_narrower_embedded_copy_that_is_not_the_rounded_tower_is_refused(
    tiny: TinyCheckpoint, tmp_path: Path
) -> None:
    name = "model.image_tower.image_tower.encoder.layers.0.mlp.fc2.weight"

    def off_by_rounding(state: dict[str, torch.Tensor]) -> None:
        narrow = state[name].to(torch.bfloat16)
        narrow[0, 0] += narrow[0, 0].abs() * 0.05  # a few bf16 steps away from the rounded tower value
        state[name] = narrow

    _edit_facellava_weights(tiny, off_by_rounding)
    _refused(tiny, tmp_path, name)


@pytest.mark.parametrize("name", ["lm_head.weight", "model.mm_projector.2.bias", "model.embed_tokens.weight"])
def test_missing_required_tensor_is_refused_by_name(tiny: TinyCheckpoint, tmp_path: Path, name: str) -> None:
    _edit_facellava_weights(tiny, lambda state: state.pop(name))
    _refused(tiny, tmp_path, f"missing required tensor(s): {name}")


def test_landmark_tensor_with_the_wrong_shape_is_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    name = "model.landmarks_projector.region_layers.lips.weight"
    _edit_facellava_weights(tiny, lambda state: state.update({name: torch.zeros(state[name].shape[0], 22)}))
    _refused(tiny, tmp_path, f"shape mismatch for tensor {name}")


def _edit_tower(src: TinyCheckpoint, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    rewrite_bin(src.image_tower / "pytorch_model.bin", change)


def test_languagebind_tower_missing_a_tensor_is_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    _edit_tower(tiny, lambda state: state.pop("vision_model.post_layernorm.bias"))
    _refused(tiny, tmp_path, "missing tower tensor(s): vision_model.post_layernorm.bias")


# Tensors that fit no module of the configured model, by the file that carries them.
UNKNOWN_TENSOR_CASES = {
    "facellava": (_edit_facellava_weights, ["model.vision_resampler.weight"]),
    "languagebind-tower": (_edit_tower, ["vision_model.encoder.layers.9.mlp.fc1.weight"]),
    "embedded-tower-copy": (
        _edit_facellava_weights,
        ["model.image_tower.image_tower.encoder.layers.7.mlp.fc1.weight"],
    ),
    "several": (_edit_facellava_weights, [f"model.extra_head.{i}.weight" for i in range(12)]),
}


def _add_unknown(src: TinyCheckpoint, case: str) -> list[str]:
    edit, names = UNKNOWN_TENSOR_CASES[case]
    edit(src, lambda state: state.update({name: torch.zeros(2) for name in names}))
    return names


@pytest.mark.parametrize("case", UNKNOWN_TENSOR_CASES, ids=list(UNKNOWN_TENSOR_CASES))
def test_unknown_tensor_is_refused_by_name(tiny: TinyCheckpoint, tmp_path: Path, case: str) -> None:
    names = _add_unknown(tiny, case)
    error = _refused(tiny, tmp_path, f"unexpected tensor {names[0]}")
    assert "--ignore-unknown" in str(error)
    if len(names) > 10:
        assert "(+2 more)" in str(error), "a long list is cut short, saying how many were left out"


@pytest.mark.parametrize("case", UNKNOWN_TENSOR_CASES, ids=list(UNKNOWN_TENSOR_CASES))
def test_ignore_unknown_drops_them_with_a_warning_and_records_them(
    tiny_source: TinyCheckpoint,
    tiny: TinyCheckpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    names = _add_unknown(tiny, case)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="facellava.convert"):
        report = convert(tiny.facellava, tiny.image_tower, tiny.video_tower, out, ignore_unknown=True)
    assert sorted(report.ignored_unknown_tensors) == sorted(names)
    (warning,) = [w for w in report.warnings if "unknown" in w]
    assert all(name in warning for name in names)
    assert all(name in caplog.text for name in names)
    on_disk = json.loads((out / "conversion_report.json").read_text())
    assert on_disk["ignored_unknown_tensors"] == report.ignored_unknown_tensors
    # What is written is exactly what the pristine checkpoint converts to: the extras left no trace.
    converted = read_weights(out)
    expected = expected_serving_tensors(tiny_source)
    assert set(converted) == set(expected)
    assert all(torch.equal(converted[name], value) for name, value in expected.items())


LORA_KEY = "vision_model.encoder.base_model.model.layers.0.self_attn.q_proj"


def _lora_tiny(make_tiny: Callable[..., TinyCheckpoint]) -> TinyCheckpoint:
    return make_tiny(lora_rank=4, embed_towers=False)


@pytest.mark.parametrize(
    ("lora_r", "match"),
    [(0, "is a LoRA delta but the config's lora_r is 0"), (8, "lora_r=8")],
    ids=["deltas-without-a-rank", "rank-disagrees-with-the-adapters"],
)
def test_lora_rank_that_does_not_fit_the_adapters_is_refused(
    make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path, lora_r: int, match: str
) -> None:
    src = _lora_tiny(make_tiny)
    edit_json(src.image_tower / "config.json", _vision(lora_r=lora_r))
    _refused(src, tmp_path, match)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.pop(f"{LORA_KEY}.lora_B.default.weight"), "has only one of lora_A / lora_B"),
        (lambda s: s.pop(f"{LORA_KEY}.weight"), "has no base weight"),
        (
            lambda s: s.update({f"{LORA_KEY}.lora_A.other.weight": s[f"{LORA_KEY}.lora_A.default.weight"]}),
            "several LoRA adapters",
        ),
        (lambda s: s.update({f"{LORA_KEY}.base_layer.weight": s[f"{LORA_KEY}.weight"]}), "are both"),
    ],
    ids=["lora-B-missing", "base-missing", "two-adapters", "two-base-namings"],
)
def test_inconsistent_peft_tensors_are_refused(
    make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path, change: Callable, match: str
) -> None:
    src = _lora_tiny(make_tiny)
    _edit_tower(src, change)
    _refused(src, tmp_path, match)


def test_missing_tokenizer_is_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    (tiny.facellava / "tokenizer.model").unlink()
    _refused(tiny, tmp_path, "tokenizer.model is missing")


def test_tokenizer_with_added_tokens_is_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    (tiny.facellava / "added_tokens.json").write_text(json.dumps({"<im_patch>": 512}))
    _refused(tiny, tmp_path, "added_tokens.json adds tokens")


def test_tokenizer_of_another_vocabulary_is_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    (tiny.facellava / "tokenizer.model").write_bytes(train_tokenizer(400))
    _refused(tiny, tmp_path, "field 'vocab_size'")


def test_broken_config_files_are_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    (tiny.video_tower / "config.json").write_text("{not json")
    _refused(tiny, tmp_path, "is not valid JSON")
    (tiny.video_tower / "config.json").write_text("[1, 2]")
    _refused(tiny, tmp_path, "must hold a JSON object")
    (tiny.video_tower / "config.json").unlink()
    _refused(tiny, tmp_path, "config.json is missing")


def test_unreadable_weight_layout_is_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    index = {"metadata": {}, "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors"}}
    (tiny.facellava / "model.safetensors.index.json").write_text(json.dumps(index))
    _refused(tiny, tmp_path, "lists missing shard(s): model-00002-of-00002.safetensors")


def test_bad_options_and_paths_are_refused(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    _refused(tiny, tmp_path, "landmark_conditioning must be", landmark_conditioning="maybe")
    _refused(tiny, tmp_path, "dtype must be one of", dtype="int8")
    missing = TinyCheckpoint(tmp_path / "nowhere", tiny.image_tower, tiny.video_tower)
    _refused(missing, tmp_path, "is not a folder")


def test_existing_non_empty_output_folder_is_left_alone(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="exists and is not empty"):
        convert(tiny.facellava, tiny.image_tower, tiny.video_tower, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
