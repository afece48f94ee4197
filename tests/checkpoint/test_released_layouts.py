"""The converter on folders saved the way the real downloads were: by the official classes under the library
versions the official repositories pin (tests/fixtures/released-layouts, made by make_released_layouts.py from the
official-tiny-A oracle's weights). LanguageBind folders from transformers 4.30.2 (persisted position_ids, the CLIP
text half, single and sharded .bin, bf16 safetensors); FaceLLaVA folders from 4.31.0 (sharded .bin + index as the
official trainer writes, rotary inv_freq buffers, embedded towers; sharded fp16 and bf16 safetensors).

Each pairing converts with the README's command (no --ignore-unknown) and serves exactly the oracle's weights
(rounded to the storage dtype), so the oracle's parity tests (tests/model) hold for it. Persisted buffers are
checked against their config, and a tampered one is refused by name.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from conversion.convert import convert
from conversion.errors import ConversionError
from service.cli import main
from tests.checkpoint.conftest import ORACLE_A, read_weights, rewrite_bin

LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "released-layouts"
TOWERS_FP32 = (
    LAYOUTS / "tf430-fp32" / "LanguageBind_Image",
    LAYOUTS / "tf430-fp32-sharded" / "LanguageBind_Video_merge",
)
TOWERS_BF16 = (
    LAYOUTS / "tf430-bf16-safetensors" / "LanguageBind_Image",
    LAYOUTS / "tf430-bf16-safetensors" / "LanguageBind_Video_merge",
)
# FaceLLaVA layout -> (towers it is paired with, dtype of the LLM tensors, dtype of the tower tensors)
PAIRINGS = {
    "tf431-fp32-sharded-bin": (TOWERS_FP32, torch.float32, torch.float32),
    "tf431-fp16-sharded-safetensors": (TOWERS_FP32, torch.float16, torch.float32),
    "tf431-bf16-sharded-safetensors": (TOWERS_BF16, torch.bfloat16, torch.bfloat16),
}
TOWER_PREFIXES = ("model.image_tower.", "model.video_tower.")


def readme_convert(facellava: Path, image: Path, video: Path, out: Path) -> int:
    """The README's convert command, word for word apart from the paths."""
    args = ["convert", "--facellava", str(facellava), "--image-tower", str(image), "--video-tower", str(video)]
    return main([*args, "--out", str(out)])


@pytest.fixture(scope="module")
def oracle_serving(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The serving tensors converted from the oracle's own layout: what the parity tests run on."""
    folders = {p.name.rsplit("-", 1)[0]: p for p in ORACLE_A.iterdir() if p.is_dir()}
    out = tmp_path_factory.mktemp("oracle") / "serving"
    convert(folders["FaceLLaVA"], folders["LanguageBind_Image"], folders["LanguageBind_Video_merge"], out)
    return read_weights(out)


@pytest.mark.parametrize("layout", list(PAIRINGS))
def test_released_layout_converts_with_the_readme_command_and_serves_the_oracle_weights(
    layout: str, oracle_serving: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    (image, video), llm_dtype, tower_dtype = PAIRINGS[layout]
    out = tmp_path / "serving"
    assert readme_convert(LAYOUTS / layout / "FaceLLaVA", image, video, out) == 0
    served = read_weights(out)
    assert set(served) == set(oracle_serving)
    for name, reference in oracle_serving.items():
        dtype = tower_dtype if name.startswith(TOWER_PREFIXES) else llm_dtype
        assert served[name].dtype == dtype, name
        assert torch.equal(served[name], reference.to(dtype)), name
    report = json.loads((out / "conversion_report.json").read_text())
    assert report["ignored_unknown_tensors"] == [] and report["warnings"] == []
    assert any(name.endswith("rotary_emb.inv_freq") for name in report["dropped_tensors"])
    assert {name.split("/")[0] for name in report["dropped_tensors"] if name.endswith("position_ids")} == {
        image.name,
        video.name,
    }
    assert any("/text_model." in name for name in report["unused_tensors"])
    assert any(name.endswith("/logit_scale") for name in report["unused_tensors"])


def _copy(tmp_path: Path) -> tuple[Path, Path, Path]:
    folders = []
    for source in (LAYOUTS / "tf431-fp32-sharded-bin" / "FaceLLaVA", *TOWERS_FP32):
        folders.append(tmp_path / source.name)
        shutil.copytree(source, folders[-1])
    return folders[0], folders[1], folders[2]


def _bin_holding(folder: Path, name: str) -> Path:
    index = folder / "pytorch_model.bin.index.json"
    if index.is_file():
        return folder / json.loads(index.read_text())["weight_map"][name]
    return folder / "pytorch_model.bin"


def _tamper(folder: Path, name: str, change) -> None:
    def edit(state: dict[str, torch.Tensor]) -> None:
        state[name] = change(state[name])

    rewrite_bin(_bin_holding(folder, name), edit)


@pytest.mark.parametrize(
    ("which", "name", "change"),
    [
        ("image", "vision_model.embeddings.position_ids", lambda t: t.flip(-1).contiguous()),
        ("video", "vision_model.embeddings.position_ids", lambda t: t[:, :-1].contiguous()),
        ("facellava", "model.layers.1.self_attn.rotary_emb.inv_freq", lambda t: t * 2),
    ],
    ids=["image-position-ids-permuted", "video-position-ids-short", "rotary-inv-freq-doubled"],
)
def test_a_persisted_buffer_that_changes_the_computation_is_refused_by_name(
    tmp_path: Path, which: str, name: str, change
) -> None:
    facellava, image, video = _copy(tmp_path)
    _tamper({"facellava": facellava, "image": image, "video": video}[which], name, change)
    with pytest.raises(ConversionError, match=re.escape(f"buffer {name} in ")):
        convert(facellava, image, video, tmp_path / "out")


def test_keys_the_official_class_ignores_on_load_are_dropped(tmp_path: Path) -> None:
    facellava, image, video = _copy(tmp_path)
    _tamper(facellava, "model.norm.weight", lambda t: t)  # rewrite one shard, then add the fairseq leftover
    rewrite_bin(_bin_holding(facellava, "model.norm.weight"), lambda s: s.update({"decoder.version": torch.ones(1)}))
    index_path = facellava / "pytorch_model.bin.index.json"
    index = json.loads(index_path.read_text())
    index["weight_map"]["decoder.version"] = index["weight_map"]["model.norm.weight"]
    index_path.write_text(json.dumps(index))
    report = convert(facellava, image, video, tmp_path / "out")
    assert "decoder.version" in report.dropped_tensors
    assert "decoder.version" not in read_weights(tmp_path / "out")


def test_an_unknown_vision_tensor_is_still_refused(tmp_path: Path) -> None:
    facellava, image, video = _copy(tmp_path)
    rewrite_bin(image / "pytorch_model.bin", lambda s: s.update({"vision_model.encoder.layers.9.extra": torch.ones(2)}))
    with pytest.raises(ConversionError, match=re.escape("unexpected tensor vision_model.encoder.layers.9.extra")):
        convert(facellava, image, video, tmp_path / "out")
