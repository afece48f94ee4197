"""The multimodal processor, driven through vLLM's own processor registry (no engine needed).

It must build exactly the official token ids around the visual positions, produce the official pixel tensors
from the raw PNGs, carry landmarks as float32 batched fields, and refuse every malformed request with a
ValueError (which the server turns into HTTP 400) before anything reaches the engine core.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_support import Oracle, engine_prompt_ids, landmarks_key, served_ids
from PIL import Image

from common.engine_protocol import (
    CROP_SIZE,
    FRAMES_PER_VIDEO,
    LANDMARK_POINTS,
    LANDMARKS_IMAGES_KEY,
    LANDMARKS_VIDEOS_KEY,
    VIDEO_PLACEHOLDER,
)
from model.config import FaceLlavaConfig
from model.processing import MIN_MEDIA_SIDE_PX, given_key

PIXEL_TOLERANCE = 1e-4
IMAGE_SHAPE = re.escape(f"must have shape [{LANDMARK_POINTS}, 2]")
VIDEO_SHAPE = re.escape(f"must have shape [{FRAMES_PER_VIDEO}, {LANDMARK_POINTS}, 2]")


def _create_processor(serving_dir: Path, **model_args: object):
    from vllm.config import ModelConfig
    from vllm.multimodal import MULTIMODAL_REGISTRY
    from vllm.plugins import load_general_plugins

    load_general_plugins()
    model_config = ModelConfig(
        model=str(serving_dir), dtype="float32", limit_mm_per_prompt={"image": 2, "video": 2}, **model_args
    )
    return MULTIMODAL_REGISTRY.create_processor(model_config)


@pytest.fixture(scope="module")
def processor(serving_dir: Path):
    return _create_processor(serving_dir)


def _process(processor, ids: list[int], mm_data: dict, kwargs: dict | None = None):
    items = processor.info.parse_mm_data(mm_data)
    return processor(ids, items, hf_processor_mm_kwargs=kwargs or {})


def _visual_rows(oracle: Oracle, kind: str, config: FaceLlavaConfig) -> int:
    """How many embedding rows one item fills: its placeholder positions in the official ids."""
    return sum(1 for t in served_ids(oracle.official_ids(kind, False), kind, config) if t >= config.image_token_id)


def _field(result, modality: str, key: str, index: int = 0) -> torch.Tensor:
    return result["mm_kwargs"][modality][index][key].data


@pytest.mark.parametrize("kind", ["image", "video"])
def test_official_ids_around_visual_positions(processor, oracle: Oracle, serving_config: FaceLlavaConfig, kind: str):
    official = oracle.official_ids(kind, landmarks=False)
    media = oracle.media(kind)
    result = _process(processor, engine_prompt_ids(official, kind, serving_config), {kind: media})
    assert result["prompt_token_ids"] == served_ids(official, kind, serving_config)
    (placeholder,) = result["mm_placeholders"][kind]
    frames = 1 if kind == "image" else FRAMES_PER_VIDEO
    embeds = placeholder.is_embed.sum().item() if placeholder.is_embed is not None else placeholder.length
    expected_rows = _visual_rows(oracle, kind, serving_config)
    assert embeds == expected_rows
    assert expected_rows % frames == 0


def test_image_pixels_equal_official(processor, oracle: Oracle, serving_config: FaceLlavaConfig):
    ids = engine_prompt_ids(oracle.official_ids("image", False), "image", serving_config)
    result = _process(processor, ids, {"image": oracle.image_crop()})
    pixels = _field(result, "image", "pixel_values")
    reference = torch.from_numpy(oracle.array("image_pixel_values")[0])
    assert pixels.dtype == torch.float32
    assert (pixels - reference).abs().max().item() < PIXEL_TOLERANCE


def test_video_pixels_equal_official(processor, oracle: Oracle, serving_config: FaceLlavaConfig):
    ids = engine_prompt_ids(oracle.official_ids("video", False), "video", serving_config)
    result = _process(processor, ids, {"video": oracle.video_frames()})
    pixels = _field(result, "video", "pixel_values_videos")  # [T, 3, S, S]
    reference = torch.from_numpy(oracle.array("video_pixel_values")[0]).permute(1, 0, 2, 3)  # official [3, T, S, S]
    assert (pixels - reference).abs().max().item() < PIXEL_TOLERANCE


@pytest.mark.parametrize("kind", ["image", "video"])
def test_landmarks_ride_along_as_float32_pixels(processor, oracle: Oracle, serving_config: FaceLlavaConfig, kind: str):
    ids = engine_prompt_ids(oracle.official_ids(kind, True), kind, serving_config)
    media = oracle.media(kind)
    key = landmarks_key(kind)
    sent = oracle.landmarks_px(kind)
    result = _process(processor, ids, {kind: media}, {key: [sent]})
    landmarks = _field(result, kind, key)
    assert landmarks.dtype == torch.float32
    assert torch.equal(landmarks, torch.tensor(sent, dtype=torch.float32))
    assert bool(_field(result, kind, given_key(key)))
    without = _process(processor, ids, {kind: media})
    assert not bool(_field(without, kind, given_key(key)))


def test_two_images_get_their_own_landmarks(processor, oracle: Oracle, serving_config: FaceLlavaConfig):
    ids = engine_prompt_ids(oracle.official_ids("image", False), "image", serving_config)
    ids = [*ids, serving_config.image_token_id]
    first = oracle.landmarks_px("image")
    second = (np.asarray(first) + 1.0).tolist()
    result = _process(processor, ids, {"image": [oracle.image_crop()] * 2}, {LANDMARKS_IMAGES_KEY: [first, second]})
    assert torch.equal(_field(result, "image", LANDMARKS_IMAGES_KEY, 1), torch.tensor(second, dtype=torch.float32))


def _bad(processor, oracle: Oracle, config: FaceLlavaConfig, kind: str, media, kwargs: dict, match: str) -> None:
    ids = engine_prompt_ids(oracle.official_ids(kind, False), kind, config)
    with pytest.raises(ValueError, match=match):
        _process(processor, ids, {kind: media}, kwargs)


def _landmarks_with(oracle: Oracle, kind: str, value: float) -> list:
    array = np.asarray(oracle.landmarks_px(kind), dtype=np.float64)
    array.flat[5] = value
    return array.tolist()


@pytest.mark.parametrize(
    ("kind", "value", "match"),
    [
        ("image", math.nan, "NaN or infinite"),
        ("image", math.inf, "NaN or infinite"),
        ("image", -1000.0, "must lie in"),
        ("image", 5000.0, "must lie in"),
        ("video", math.nan, "NaN or infinite"),
        ("video", 1e6, "must lie in"),
    ],
)
def test_bad_landmark_values_refused(processor, oracle, serving_config, kind, value, match):
    media = oracle.media(kind)
    key = landmarks_key(kind)
    _bad(processor, oracle, serving_config, kind, media, {key: [_landmarks_with(oracle, kind, value)]}, match)


@pytest.mark.parametrize(
    ("kind", "landmarks", "match"),
    [
        ("image", lambda lm: [lm[:-1]], IMAGE_SHAPE),
        ("image", lambda lm: [[[*row, 0.0] for row in lm]], IMAGE_SHAPE),
        ("image", lambda lm: [lm, lm], "has 2 entries but the prompt has 1"),
        ("image", lambda lm: [], "has 0 entries but the prompt has 1"),
        ("image", lambda lm: "not a list", "must be a list"),
        ("image", lambda lm: [[["a", "b"]] * LANDMARK_POINTS], "numeric array"),
        ("image", lambda lm: [[[1.0, 2.0], [3.0], *lm[2:]]], "numeric array"),
        ("video", lambda lm: [lm[:-1]], VIDEO_SHAPE),
        ("video", lambda lm: [lm[0]], VIDEO_SHAPE),
    ],
)
def test_bad_landmark_shapes_refused(processor, oracle, serving_config, kind, landmarks, match):
    media = oracle.media(kind)
    key = landmarks_key(kind)
    _bad(processor, oracle, serving_config, kind, media, {key: landmarks(oracle.landmarks_px(kind))}, match)


def test_landmarks_without_their_media_refused(processor, oracle, serving_config):
    media = oracle.image_crop()
    kwargs = {LANDMARKS_VIDEOS_KEY: [oracle.landmarks_px("video")]}
    _bad(processor, oracle, serving_config, "image", media, kwargs, "has 1 entries but the prompt has 0 video")


def test_unknown_processor_kwarg_refused(processor, oracle, serving_config):
    _bad(
        processor,
        oracle,
        serving_config,
        "image",
        oracle.image_crop(),
        {"landmark": []},
        "unknown mm_processor_kwargs",
    )


def test_wrong_frame_count_refused(processor, oracle, serving_config):
    frames = oracle.video_frames()[: FRAMES_PER_VIDEO - 1]
    _bad(processor, oracle, serving_config, "video", frames, {}, f"has {FRAMES_PER_VIDEO - 1} frames")


@pytest.mark.parametrize("size", [(1, 1), (MIN_MEDIA_SIDE_PX - 1, CROP_SIZE)])
def test_tiny_image_refused(processor, oracle, serving_config, size):
    _bad(processor, oracle, serving_config, "image", Image.new("RGB", size), {}, "smallest accepted side")


def test_tiny_video_refused(processor, oracle, serving_config):
    frames = np.zeros((FRAMES_PER_VIDEO, 8, 8, 3), dtype=np.uint8)
    _bad(processor, oracle, serving_config, "video", frames, {}, "smallest accepted side")


@pytest.mark.parametrize(
    ("kind", "media", "match"),
    [
        ("image", np.zeros((64, 64, 4), dtype=np.uint8), re.escape("must be an RGB image (uint8 HxWx3)")),
        ("image", np.zeros((64, 64, 3), dtype=np.float32), re.escape("must be an RGB image (uint8 HxWx3)")),
        ("video", np.zeros((FRAMES_PER_VIDEO, 64, 64, 3), dtype=np.float32), re.escape("must be RGB frames")),
    ],
)
def test_non_rgb_uint8_media_refused(processor, oracle, serving_config, kind, media, match):
    _bad(processor, oracle, serving_config, kind, media, {}, match)


@pytest.mark.parametrize("kind", ["image", "video"])
def test_embeddings_refused_even_with_mm_embeds_enabled(serving_dir, oracle, serving_config, kind):
    """vLLM refuses embeddings unless --enable-mm-embeds; with it, the processor still refuses them (the
    landmark branch needs the pixels)."""
    embeds_processor = _create_processor(serving_dir, enable_mm_embeds=True)
    embeds = torch.zeros(1, _visual_rows(oracle, kind, serving_config), serving_config.text_config.hidden_size)
    _bad(embeds_processor, oracle, serving_config, kind, embeds, {}, f"only raw {kind}s are accepted")


def test_dummy_profiling_inputs_process(processor):
    result = processor.get_dummy_mm_inputs({"image": 1, "video": 1})
    assert len(result["mm_placeholders"]["image"]) == 1
    assert len(result["mm_placeholders"]["video"]) == 1


def test_partial_cache_hit_processes_only_the_missing_items_landmarks(processor, oracle, serving_config):
    """Same landmark list, first image cached: only the second image (and its landmarks) is re-processed."""
    from vllm.multimodal.cache import MultiModalProcessorOnlyCache

    cache = MultiModalProcessorOnlyCache(processor.info.ctx.model_config)
    ids = [*engine_prompt_ids(oracle.official_ids("image", False), "image", serving_config)]
    ids += [serving_config.image_token_id]
    crop = oracle.image_crop()
    first, second = oracle.landmarks_px("image"), (np.asarray(oracle.landmarks_px("image")) + 2.0).tolist()
    kwargs = {LANDMARKS_IMAGES_KEY: [first, second]}
    other = Image.fromarray(np.asarray(crop)[::-1].copy())

    def run(images):
        items = processor.info.parse_mm_data({"image": images})
        return processor(ids, items, hf_processor_mm_kwargs=kwargs, cache=cache)

    run([crop, crop.rotate(90)])
    result = run([crop, other])
    assert torch.equal(_field(result, "image", LANDMARKS_IMAGES_KEY, 0), torch.tensor(first, dtype=torch.float32))
    assert torch.equal(_field(result, "image", LANDMARKS_IMAGES_KEY, 1), torch.tensor(second, dtype=torch.float32))


def test_placeholder_for_another_modality_refused():
    from model.facellava import FaceLlavaForConditionalGeneration

    assert FaceLlavaForConditionalGeneration.get_placeholder_str("video", 0) == VIDEO_PLACEHOLDER
    with pytest.raises(ValueError, match="takes images and videos, not audio"):
        FaceLlavaForConditionalGeneration.get_placeholder_str("audio", 0)


@pytest.mark.parametrize(
    ("kind", "extra", "drop", "match"),
    [
        ("image", ["image"], False, "holds 2 <image> placeholder token(s) but the request carries 1 image(s)"),
        ("image", [], True, "holds 0 <image> placeholder token(s) but the request carries 1 image(s)"),
        ("video", ["video"], False, "holds 2 <video> placeholder token(s) but the request carries 1 video(s)"),
        ("video", ["image"], False, "holds 1 <image> placeholder token(s) but the request carries 0 image(s)"),
    ],
    ids=["two-image-placeholders", "no-image-placeholder", "two-video-placeholders", "image-placeholder-for-video"],
)
def test_placeholder_count_must_match_the_media(processor, oracle, serving_config, kind, extra, drop, match):
    """Before any media is processed, whatever the prompt's origin (raw ids, chat text, a system message)."""
    ids = engine_prompt_ids(oracle.official_ids(kind, False), kind, serving_config)
    token = {"image": serving_config.image_token_id, "video": serving_config.video_token_id}
    if drop:
        ids = [t for t in ids if t != token[kind]]
    ids = [*ids, *(token[modality] for modality in extra)]
    with pytest.raises(ValueError, match=re.escape(match)):
        _process(processor, ids, {kind: oracle.media(kind)})


def test_text_only_guard_wraps_vllms_input_validation_once():
    """The text-only half of the placeholder defence hooks a vLLM method by name: this fails on an API drift
    (also under the GPU release, scripts/check-gpu-pin) instead of silently leaving text-only prompts unguarded."""
    from vllm.plugins import load_general_plugins
    from vllm.v1.engine.input_processor import InputProcessor

    from model.placeholder_guard import install

    load_general_plugins()
    wrapped = InputProcessor._validate_model_input
    assert getattr(wrapped, "_facellava_guard", False)
    install()
    assert InputProcessor._validate_model_input is wrapped
