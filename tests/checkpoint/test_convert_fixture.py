"""Converting the official implementation's own tiny checkpoint (fixture A, or any fixture with its layout
named by FACELLAVA_ORACLE): every tensor lands under its official name with its exact value, the config loads,
and the tokenizer renders exactly the prompts the official code built.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from conversion.convert import ConversionReport, convert
from conversion.released_config import TOWER_FIELDS
from conversion.tiny_checkpoint import TinyCheckpoint
from model import serving_format as fmt
from model.config import FaceLlavaConfig
from tests.checkpoint.conftest import ORACLE, expected_serving_tensors, read_weights


def _folder(suffix: str) -> Path:
    matches = sorted(p for p in ORACLE.iterdir() if p.is_dir() and p.name.startswith(suffix))
    if len(matches) != 1:
        pytest.fail(f"{ORACLE} should hold exactly one {suffix}* folder, found {matches}")
    return matches[0]


@pytest.fixture(scope="module")
def oracle_conversion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ConversionReport]:
    if not ORACLE.is_dir():
        pytest.fail(f"fixture folder {ORACLE} is missing (set FACELLAVA_ORACLE)")
    out = tmp_path_factory.mktemp("oracle") / "serving"
    report = convert(
        _folder("FaceLLaVA"), _folder("LanguageBind_Image"), _folder("LanguageBind_Video_merge"), out
    )
    return out, report


def test_every_tensor_equals_its_source(oracle_conversion: tuple[Path, ConversionReport]) -> None:
    out, _ = oracle_conversion
    converted = read_weights(out)
    folders = ("FaceLLaVA", "LanguageBind_Image", "LanguageBind_Video_merge")
    expected = expected_serving_tensors(TinyCheckpoint(*(_folder(name) for name in folders)))
    assert set(converted) == set(expected)
    for name, value in expected.items():
        assert converted[name].dtype == value.dtype, name
        assert torch.equal(converted[name], value), name


def test_config_loads_with_the_released_fields(oracle_conversion: tuple[Path, ConversionReport]) -> None:
    out, _ = oracle_conversion
    released = json.loads((_folder("FaceLLaVA") / "config.json").read_text())
    video_vision = json.loads((_folder("LanguageBind_Video_merge") / "config.json").read_text())[
        "vision_config"
    ]
    image_vision = json.loads((_folder("LanguageBind_Image") / "config.json").read_text())["vision_config"]
    config = FaceLlavaConfig.from_pretrained(out)
    assert config.model_type == "facellava"
    assert config.architectures == ["FaceLlavaForConditionalGeneration"]
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
        assert getattr(config.text_config, key) == released[key], key
    assert config.text_config.tie_word_embeddings is False
    for key in (
        "mm_hidden_size",
        "mm_projector_type",
        "mm_vision_select_layer",
        "landmarks_projector_type",
        "global_landmarks_projector_type",
        "cross_attn_type",
    ):
        assert getattr(config, key) == released[key], key
    for tower, vision in (
        (config.image_tower_config, image_vision),
        (config.video_tower_config, video_vision),
    ):
        for key in TOWER_FIELDS:  # every carried field; the fixture's configs state them all
            assert getattr(tower, key) == vision[key], key
    assert config.num_video_frames == video_vision["num_frames"]
    assert (config.image_token_id, config.video_token_id) == (
        released["vocab_size"],
        released["vocab_size"] + 1,
    )
    assert config.landmark_conditioning == "off"  # the default, though every landmark weight is present


def test_sources_are_identified_by_sha256(oracle_conversion: tuple[Path, ConversionReport]) -> None:
    out, report = oracle_conversion
    recorded = FaceLlavaConfig.from_pretrained(out).facellava_source
    on_disk = json.loads((out / fmt.CONVERSION_REPORT_FILE).read_text())
    assert on_disk == json.loads(report.model_dump_json())
    for key, folder in (
        ("facellava", "FaceLLaVA"),
        ("image_tower", "LanguageBind_Image"),
        ("video_tower", "LanguageBind_Video_merge"),
    ):
        source = _folder(folder)
        weights = [p.name for p in source.iterdir() if p.suffix in (".bin", ".safetensors")]
        assert set(weights) <= set(recorded[key]["files"])
        for name, digest in recorded[key]["files"].items():
            assert hashlib.sha256((source / name).read_bytes()).hexdigest() == digest
    assert all(name.endswith("rotary_emb.inv_freq") for name in report.dropped_tensors)
    assert report.dropped_tensors, (
        "the fixture stores rotary buffers (transformers 4.31); they must be dropped"
    )
    assert report.embedded_tower_tensors_verified > 0


def _served_ids(tokenizer, text: str, image_token_id: int) -> list[int]:
    """How vLLM's chat path tokenizes a rendered prompt, with <image> written as the official -200."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return [OFFICIAL_IMAGE_INDEX if i == image_token_id else i for i in ids]


OFFICIAL_IMAGE_INDEX = -200


def _render_user_turn(tokenizer, placeholder: str, official_prompt: str) -> str:
    """The chat template applied to the official prompt's question, as vLLM's chat front-end sends it: the
    placeholder, a newline, the question (taken from after the official prompt's last <image>)."""
    question = official_prompt.rsplit(f"{fmt.IMAGE_TOKEN}\n", 1)[1].removesuffix(" ASSISTANT:")
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": f"{placeholder}\n{question}"}],
        tokenize=False,
        add_generation_prompt=True,
    )


def test_chat_template_gives_the_official_prompt_ids(
    oracle_conversion: tuple[Path, ConversionReport],
) -> None:
    out, _ = oracle_conversion
    expected = ORACLE / "expected"
    manifest = json.loads((expected / "manifest.json").read_text())
    config = FaceLlavaConfig.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.convert_tokens_to_ids([fmt.IMAGE_TOKEN, fmt.VIDEO_TOKEN]) == [
        config.image_token_id,
        config.video_token_id,
    ]

    image_prompt = manifest["prompts"]["image"]
    rendered = _render_user_turn(tokenizer, fmt.IMAGE_TOKEN, image_prompt)
    # The text is the official prompt plus the dummy-prefix spaces after BOS and after the placeholder.
    assert rendered == tokenizer.bos_token + fmt.DUMMY_PREFIX + image_prompt.replace(
        fmt.IMAGE_TOKEN, fmt.IMAGE_TOKEN + fmt.DUMMY_PREFIX
    )
    official = np.load(expected / "image_nolm_input_ids.npy")[0].tolist()
    assert _served_ids(tokenizer, rendered, config.image_token_id) == official

    rendered = _render_user_turn(tokenizer, fmt.VIDEO_TOKEN, manifest["prompts"]["video"])
    # The processor's expansion of the one <video>: frames joined by the official " " chunk, which (tokenized
    # on its own officially) carries its own dummy prefix.
    frames = [fmt.IMAGE_TOKEN] * config.num_video_frames
    expanded = rendered.replace(fmt.VIDEO_TOKEN, (fmt.DUMMY_PREFIX + fmt.VIDEO_FRAME_SEPARATOR).join(frames))
    official = np.load(expected / "video_nolm_input_ids.npy")[0].tolist()
    assert _served_ids(tokenizer, expanded, config.image_token_id) == official


def test_generation_config_is_the_released_one(oracle_conversion: tuple[Path, ConversionReport]) -> None:
    out, _ = oracle_conversion
    released = json.loads((_folder("FaceLLaVA") / fmt.GENERATION_CONFIG_FILE).read_text())
    assert json.loads((out / fmt.GENERATION_CONFIG_FILE).read_text()) == released
