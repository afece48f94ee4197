"""tiny-checkpoint -> convert, over every layout variant a download may have: both weight formats, sharded
input and output, peft-wrapped (LoRA) towers, missing or partial landmark modules, a config without landmark
fields.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from common.engine_protocol import LANDMARK_POINTS
from conversion.checkpoint_schema import IMAGE_TOWER_PREFIX, VIDEO_TOWER_PREFIX
from conversion.convert import convert
from conversion.errors import ConversionError
from conversion.tiny_checkpoint import TinyCheckpoint
from model.config import FaceLlavaConfig
from tests.checkpoint.conftest import expected_serving_tensors, read_weights, rewrite_bin, rewrite_safetensors

LANDMARK_PREFIXES = (
    "model.landmarks_projector.",
    "model.global_landmarks_projector.",
    "model.landmarks_cross_attn.",
)


def _assert_same(out: Path, expected: dict[str, torch.Tensor]) -> None:
    converted = read_weights(out)
    assert set(converted) == set(expected)
    for name, value in expected.items():
        assert torch.equal(converted[name], value), name


@pytest.mark.parametrize(
    "options",
    [
        {"weight_format": "safetensors"},
        {"weight_format": "bin"},
        {"weight_format": "safetensors", "max_shard_bytes": 300_000},
        {"weight_format": "bin", "max_shard_bytes": 300_000},
    ],
    ids=["safetensors", "bin", "safetensors-sharded", "bin-sharded"],
)
def test_round_trip_keeps_every_tensor(
    make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path, options: dict
) -> None:
    src = make_tiny(**options)
    if "max_shard_bytes" in options:
        index = next(src.facellava.glob("*.index.json"))
        shards = set(json.loads(index.read_text())["weight_map"].values())
        assert len(shards) > 1, "the variant must really be sharded"
    report = convert(src.facellava, src.image_tower, src.video_tower, tmp_path / "out")
    _assert_same(tmp_path / "out", expected_serving_tensors(src))
    assert report.landmark_conditioning == "off"
    assert report.output_files == ["model.safetensors"]
    config = FaceLlavaConfig.from_pretrained(tmp_path / "out")
    assert config.landmark_conditioning == "off"


def test_sharded_output_respects_the_shard_size(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    limit = 200_000
    report = convert(
        tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out", max_shard_bytes=limit
    )
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1
    assert report.output_files == [*shards, "model.safetensors.index.json"]
    assert all(re.fullmatch(rf"model-\d{{5}}-of-{len(shards):05d}\.safetensors", name) for name in shards)
    converted = read_weights(tmp_path / "out")
    for shard in shards:
        names = [n for n, s in index["weight_map"].items() if s == shard]
        payload = sum(converted[n].numel() * converted[n].element_size() for n in names)
        assert payload <= limit or len(names) == 1
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in converted.values())
    _assert_same(tmp_path / "out", expected_serving_tensors(tiny))


def test_dtype_option_casts_floating_tensors(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out", dtype="bfloat16")
    converted = read_weights(tmp_path / "out")
    for name, value in expected_serving_tensors(tiny).items():
        assert converted[name].dtype == torch.bfloat16
        assert torch.equal(converted[name], value.to(torch.bfloat16)), name
    assert FaceLlavaConfig.from_pretrained(tmp_path / "out").dtype == torch.bfloat16


def _lora_expectations(folder: Path, prefix: str, scale: float) -> dict[str, torch.Tensor]:
    """base + scale * B @ A for every adapter pair of a peft-wrapped LanguageBind .bin, computed here."""
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    merged = {}
    for key in state:
        if key.endswith(".lora_A.default.weight"):
            module = key.removesuffix(".lora_A.default.weight")
            delta = state[module + ".lora_B.default.weight"] @ state[key]
            name = prefix + module.removeprefix("vision_model.").replace("base_model.model.", "") + ".weight"
            merged[name] = state[module + ".weight"] + scale * delta
    return merged


def test_lora_wrapped_towers_are_merged(make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path) -> None:
    src = make_tiny(lora_rank=4, lora_alpha=8.0)
    report = convert(src.facellava, src.image_tower, src.video_tower, tmp_path / "out")
    converted = read_weights(tmp_path / "out")
    assert not [n for n in converted if "lora" in n or "base_model" in n or "base_layer" in n]
    image = _lora_expectations(src.image_tower, IMAGE_TOWER_PREFIX, 8.0 / 4)
    video = _lora_expectations(src.video_tower, VIDEO_TOWER_PREFIX, 8.0 / 4)
    assert any("temporal_attn" in name for name in video)
    for name, value in (image | video).items():
        assert torch.allclose(converted[name], value, rtol=0, atol=1e-6), name
    assert len(report.lora_merged["image"]) == len(image)
    assert len(report.lora_merged["video"]) == len(video)
    untouched = VIDEO_TOWER_PREFIX + "encoder.layers.0.mlp.fc1.weight"
    original = torch.load(src.video_tower / "pytorch_model.bin", weights_only=True)
    assert torch.equal(
        converted[untouched], original["vision_model.encoder.base_model.model.layers.0.mlp.fc1.weight"]
    )


def _to_base_layer_naming(state: dict[str, torch.Tensor]) -> None:
    """peft >= 0.7 keeps the wrapped Linear as `.base_layer`."""
    targets = {
        k.removesuffix(".lora_A.default.weight") for k in state if k.endswith(".lora_A.default.weight")
    }
    for module in targets:
        for leaf in ("weight", "bias"):
            state[f"{module}.base_layer.{leaf}"] = state.pop(f"{module}.{leaf}")


def test_lora_base_layer_naming_merges_identically(
    make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path
) -> None:
    src = make_tiny(lora_rank=2, lora_alpha=16.0)
    convert(src.facellava, src.image_tower, src.video_tower, tmp_path / "old-peft")
    for folder in (src.image_tower, src.video_tower):
        rewrite_bin(folder / "pytorch_model.bin", _to_base_layer_naming)
    rewrite_safetensors(src.facellava / "model.safetensors", _to_base_layer_naming)
    convert(src.facellava, src.image_tower, src.video_tower, tmp_path / "new-peft")
    old, new = read_weights(tmp_path / "old-peft"), read_weights(tmp_path / "new-peft")
    assert set(old) == set(new)
    assert all(torch.equal(old[name], new[name]) for name in old)


def test_missing_landmark_modules_are_reported_and_on_is_refused(
    make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = make_tiny(landmarks=False)
    with caplog.at_level(logging.WARNING, logger="facellava.convert"):
        report = convert(src.facellava, src.image_tower, src.video_tower, tmp_path / "out")
    assert report.landmark_conditioning == "off"
    assert "landmarks_projector" in report.landmark_reason
    assert any("landmark weights not written" in r.getMessage() for r in caplog.records)
    assert report.warnings
    assert FaceLlavaConfig.from_pretrained(tmp_path / "out").landmark_conditioning == "off"
    _assert_same(tmp_path / "out", expected_serving_tensors(src))
    with pytest.raises(ConversionError, match="landmark conditioning 'on' needs every landmark tensor"):
        convert(
            src.facellava, src.image_tower, src.video_tower, tmp_path / "forced", landmark_conditioning="on"
        )


def test_partial_landmark_modules_are_not_written(
    tiny: TinyCheckpoint, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def drop_global(state: dict[str, torch.Tensor]) -> None:
        for name in [n for n in state if n.startswith("model.global_landmarks_projector.")]:
            del state[name]

    rewrite_safetensors(tiny.facellava / "model.safetensors", drop_global)
    with caplog.at_level(logging.WARNING, logger="facellava.convert"):
        report = convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out")
    assert report.landmark_conditioning == "off"
    assert "global_landmarks_projector" in report.landmark_reason
    assert "landmarks_cross_attn" not in report.landmark_reason
    assert not [n for n in read_weights(tmp_path / "out") if n.startswith(LANDMARK_PREFIXES)]
    assert any("global_landmarks_projector" in r.getMessage() for r in caplog.records)


def test_default_is_off_even_with_every_landmark_weight_and_keeps_them_for_an_override(
    tiny: TinyCheckpoint, tmp_path: Path
) -> None:
    """The official inference passes no landmarks: the default computes that, whatever the weights hold."""
    report = convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out")
    assert report.landmark_conditioning == "off"
    assert "default" in report.landmark_reason and not report.warnings
    assert FaceLlavaConfig.from_pretrained(tmp_path / "out").landmark_conditioning == "off"
    _assert_same(tmp_path / "out", expected_serving_tensors(tiny))


def test_on_is_an_explicit_choice(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    report = convert(
        tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out", landmark_conditioning="on"
    )
    assert report.landmark_conditioning == "on"
    assert FaceLlavaConfig.from_pretrained(tmp_path / "out").landmark_conditioning == "on"
    _assert_same(tmp_path / "out", expected_serving_tensors(tiny))


@pytest.mark.parametrize("landmark_config", ["linear", "absent"])
def test_linear_landmark_projector_and_the_official_fallback(
    make_tiny: Callable[..., TinyCheckpoint], tmp_path: Path, landmark_config: str
) -> None:
    src = make_tiny(landmark_config=landmark_config)
    released = json.loads((src.facellava / "config.json").read_text())
    assert ("landmarks_projector_type" in released) == (landmark_config != "absent")
    report = convert(src.facellava, src.image_tower, src.video_tower, tmp_path / "out")
    config = FaceLlavaConfig.from_pretrained(tmp_path / "out")
    assert (config.landmarks_projector_type, config.global_landmarks_projector_type) == ("linear", "linear")
    assert (config.cross_attn_type, config.use_landmark_tokens) == ("simple", False)
    assert report.landmark_conditioning == "off"
    converted = read_weights(tmp_path / "out")
    assert converted["model.landmarks_projector.weight"].shape == (released["hidden_size"], 2 * LANDMARK_POINTS)
    _assert_same(tmp_path / "out", expected_serving_tensors(src))


def test_embedded_copy_in_a_narrower_dtype_is_accepted_when_it_is_the_rounded_tower(
    tiny: TinyCheckpoint, tmp_path: Path
) -> None:
    def to_bf16(state: dict[str, torch.Tensor]) -> None:
        for name in [n for n in state if n.startswith((IMAGE_TOWER_PREFIX, VIDEO_TOWER_PREFIX))]:
            state[name] = state[name].to(torch.bfloat16)

    rewrite_safetensors(tiny.facellava / "model.safetensors", to_bf16)
    report = convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out")
    assert report.embedded_tower_tensors_verified > 0
    converted = read_weights(tmp_path / "out")
    tower = torch.load(tiny.image_tower / "pytorch_model.bin", weights_only=True)
    name = "encoder.layers.0.mlp.fc1.weight"
    assert torch.equal(converted[IMAGE_TOWER_PREFIX + name], tower["vision_model." + name])
