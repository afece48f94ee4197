"""LanguageBind tower configs read as LanguageBind's config classes read them: `vision_config_dict` (expanded with
the class defaults) overrides `vision_config`, and every key still missing takes the class default; a disagreement
on a field that changes the computation is refused with both values named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conversion.convert import convert
from conversion.errors import ConversionError
from conversion.released_config import VISION_DEFAULTS, resolve_vision_config
from conversion.tiny_checkpoint import TinyCheckpoint
from model.config import FaceLlavaConfig
from tests.checkpoint.conftest import edit_json


def test_missing_keys_take_the_class_defaults() -> None:
    resolved = resolve_vision_config({"vision_config": {"hidden_size": 48}}, "cfg")
    assert resolved["hidden_size"] == 48
    for key in ("hidden_act", "lora_r", "lora_alpha", "add_time_attn", "num_frames", "patch_size"):
        assert resolved[key] == VISION_DEFAULTS[key], key
    assert (resolved["hidden_act"], resolved["lora_r"], resolved["num_frames"]) == ("quick_gelu", 2, 1)


def test_vision_config_dict_overrides_vision_config() -> None:
    cfg = {
        "vision_config": {"hidden_size": 48, "hidden_act": "gelu", "initializer_range": 0.5},
        "vision_config_dict": {"hidden_size": 48, "hidden_act": "gelu", "initializer_range": 0.02},
    }
    assert resolve_vision_config(cfg, "cfg")["initializer_range"] == 0.02  # not math: the dict wins


def test_vision_config_dict_fills_what_vision_config_lacks() -> None:
    overrides = {"hidden_size": 48, "hidden_act": "gelu", "num_frames": 8}
    cfg = {"vision_config": {"hidden_size": 48}, "vision_config_dict": overrides}
    resolved = resolve_vision_config(cfg, "cfg")
    assert (resolved["hidden_act"], resolved["num_frames"], resolved["hidden_size"]) == ("gelu", 8, 48)


@pytest.mark.parametrize(
    ("vision", "overrides", "message"),
    [
        (
            {"hidden_act": "gelu"},
            {"hidden_act": "quick_gelu"},
            "'vision_config.hidden_act' is 'gelu' but vision_config_dict gives 'quick_gelu'",
        ),
        (  # the dict does not name it, but its expansion with the class defaults does
            {"hidden_act": "gelu", "hidden_size": 48},
            {"hidden_size": 48},
            "'vision_config.hidden_act' is 'gelu' but the class default vision_config_dict implies gives "
            "'quick_gelu'",
        ),
        ({"num_frames": 8}, {"num_frames": 4}, "'vision_config.num_frames' is 8 but vision_config_dict gives 4"),
        ({"lora_r": 0}, {"lora_r": 16}, "'vision_config.lora_r' is 0 but vision_config_dict gives 16"),
    ],
    ids=["activation", "activation-by-class-default", "frames", "lora-rank"],
)
def test_disagreement_on_the_math_is_refused_naming_both_values(vision: dict, overrides: dict, message: str) -> None:
    with pytest.raises(ConversionError, match=re.escape(message)):
        resolve_vision_config({"vision_config": vision, "vision_config_dict": overrides}, "cfg")


def test_image_size_as_the_official_constructor_rewrites_it() -> None:
    assert resolve_vision_config({"vision_config": {"image_size": [224, 224]}}, "cfg")["image_size"] == 224
    with pytest.raises(ConversionError, match="only square towers"):
        resolve_vision_config({"vision_config": {"image_size": [224, 200]}}, "cfg")


def test_converted_tower_without_hidden_act_computes_quick_gelu(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    """The official class default, not ours: a tower config without hidden_act runs quick_gelu officially."""
    for folder in (tiny.image_tower, tiny.video_tower):
        edit_json(folder / "config.json", lambda c: c["vision_config"].pop("hidden_act"))
    convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out")
    config = FaceLlavaConfig.from_pretrained(tmp_path / "out")
    assert config.image_tower_config.hidden_act == config.video_tower_config.hidden_act == "quick_gelu"


def test_converted_tower_takes_vision_config_dict_and_refuses_a_conflict(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    config_path = tiny.video_tower / "config.json"
    vision = json.loads(config_path.read_text())["vision_config"]
    moved = {key: vision.pop(key) for key in ("hidden_act", "num_frames", "layer_norm_eps")}
    edit_json(config_path, lambda c: c.update(vision_config=vision, vision_config_dict=vision | moved))
    convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "out")
    served = FaceLlavaConfig.from_pretrained(tmp_path / "out").video_tower_config
    assert (served.hidden_act, served.num_frames, served.layer_norm_eps) == tuple(moved.values())
    edit_json(config_path, lambda c: c["vision_config"].update(layer_norm_eps=1e-6))
    conflict = re.escape("'vision_config.layer_norm_eps' is 1e-06 but vision_config_dict")
    with pytest.raises(ConversionError, match=conflict):
        convert(tiny.facellava, tiny.image_tower, tiny.video_tower, tmp_path / "again")
