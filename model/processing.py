"""vLLM's multimodal processor for Face-LLaVA: media -> pixel tensors + landmarks + placeholder tokens.

It runs in the API-server process, before anything reaches the engine core, so it is the only place where a
bad request can still become an HTTP 400: an exception inside the model's `embed_multimodal` kills the engine
core for every later request. Hence every shape, count and value is checked in `apply`, which runs for every
request (the per-item processing below is skipped for items found in vLLM's processor cache).

There is no HuggingFace processor: the pixel transforms are our own (model/transforms.py, equal to the
official ones) and landmarks come from the request's `mm_processor_kwargs` (common/engine_protocol.py), so no
float field is ever cast to the model dtype here (landmarks stay float32 pixels; the model normalises and
casts).

Prompt layout, equal to the official `tokenizer_image_token` ids: the served chat template renders "<image> "
and "<video> " (a space after each placeholder, standing for the SentencePiece dummy prefix the official code
gets by tokenizing each text chunk on its own). An image placeholder becomes its visual tokens. A video
placeholder becomes the official 8 "<image>" chunks joined by " ": frame tokens, then the ids of a " " chunk
tokenized on its own, then the next frame, so the text ids between frames are the official ones and only frame
positions receive embeddings (PromptUpdateDetails.is_embed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import BatchFeature
from vllm.inputs import MultiModalInput
from vllm.multimodal.inputs import MultiModalFieldConfig, MultiModalKwargsItems
from vllm.multimodal.parse import ImageProcessorItems, MultiModalDataItems, VideoProcessorItems
from vllm.multimodal.processing import (
    BaseDummyInputsBuilder,
    BaseMultiModalProcessor,
    BaseProcessingInfo,
    ProcessorInputs,
    PromptReplacement,
    PromptUpdate,
    PromptUpdateDetails,
    TimingContext,
)

from common.engine_protocol import (
    CROP_SIZE,
    IMAGE_PLACEHOLDER,
    LANDMARK_POINTS,
    LANDMARK_RANGE_PX,
    LANDMARKS_IMAGES_KEY,
    LANDMARKS_VIDEOS_KEY,
    VIDEO_PLACEHOLDER,
)
from model import serving_format
from model.config import FaceLlavaConfig
from model.placeholder_guard import check_placeholder_counts, placeholder_ids
from model.transforms import image_to_pixels, video_to_pixels

# A media item smaller than this on a side is not a face crop (the gateway sends 256 x 256): refuse it rather
# than upsample a few pixels into a confident answer.
MIN_MEDIA_SIDE_PX = 32

_MEDIA_KEYS = {"image": LANDMARKS_IMAGES_KEY, "video": LANDMARKS_VIDEOS_KEY}


def given_key(landmarks_key: str) -> str:
    """The per-item flag field that says whether the item's landmarks were sent (else they are zeros)."""
    return landmarks_key + "_given"


class FaceLlavaProcessingInfo(BaseProcessingInfo):
    """Token counts and limits, all read from the served config."""

    def get_hf_config(self) -> FaceLlavaConfig:
        return self.ctx.get_hf_config(FaceLlavaConfig)

    def get_supported_mm_limits(self) -> Mapping[str, int | None]:
        return {"image": None, "video": None}

    def get_supported_mm_processor_kwargs(self) -> dict[str, set[str]]:
        # No HF processor to route kwargs into: landmark keys stay flat and reach `_call_hf_processor` as
        # sent.
        return {}

    def get_hf_processor(self, **kwargs: object) -> Any:
        raise NotImplementedError(
            "Face-LLaVA has no HuggingFace processor; FaceLlavaMultiModalProcessor does it all"
        )

    def image_tokens(self) -> int:
        """Visual tokens per image: patches, plus CLS when the config keeps it (the released one does not)."""
        config = self.get_hf_config()
        tower = config.image_tower_config
        cls = 1 if config.mm_vision_select_feature == "cls_patch" else 0
        return (tower.image_size // tower.patch_size) ** 2 + cls

    def frame_tokens(self) -> int:
        """Visual tokens per video frame: the video path always keeps CLS (official encode_videos)."""
        tower = self.get_hf_config().video_tower_config
        return (tower.image_size // tower.patch_size) ** 2 + 1

    def num_frames(self) -> int:
        return self.get_hf_config().num_video_frames

    def frame_separator_ids(self) -> list[int]:
        """Ids of the official " " chunk between two frame placeholders, tokenized on its own as the
        official code does (with SentencePiece's dummy prefix). Text right after a special token gets no
        dummy prefix, so DUMMY_PREFIX stands for it: the rule the served chat template follows too.
        """
        tokenizer = self.get_tokenizer()
        config = self.get_hf_config()
        text = VIDEO_PLACEHOLDER + serving_format.DUMMY_PREFIX + serving_format.VIDEO_FRAME_SEPARATOR
        ids = tokenizer.encode(text, add_special_tokens=False)
        if not ids or ids[0] != config.video_token_id:
            raise ValueError(
                f"the tokenizer does not map {VIDEO_PLACEHOLDER!r} to video_token_id {config.video_token_id}"
            )
        return ids[1:]

    @cached_property
    def video_prompt_ids(self) -> tuple[int, ...]:
        """What one video placeholder becomes: each frame's tokens, the " " chunk's ids between frames.
        Built once: it depends only on the served config and tokenizer, and every video request needs it."""
        frame = [self.get_hf_config().video_token_id] * self.frame_tokens()
        separator = self.frame_separator_ids()
        ids = [*frame]
        for _ in range(self.num_frames() - 1):
            ids += [*separator, *frame]
        return tuple(ids)

    def get_mm_max_tokens_per_item(self, seq_len: int, mm_counts: Mapping[str, int]) -> Mapping[str, int]:
        return {"image": self.image_tokens(), "video": len(self.video_prompt_ids)}


class FaceLlavaDummyInputsBuilder(BaseDummyInputsBuilder[FaceLlavaProcessingInfo]):
    """Startup profiling inputs: blank face-crop-sized images and 8-frame clips."""

    def get_dummy_text(self, mm_counts: Mapping[str, int]) -> str:
        return IMAGE_PLACEHOLDER * mm_counts.get("image", 0) + VIDEO_PLACEHOLDER * mm_counts.get("video", 0)

    def get_dummy_mm_data(
        self, seq_len: int, mm_counts: Mapping[str, int], mm_options: Any
    ) -> dict[str, Any]:
        options = mm_options or {}
        return {
            "image": self._get_dummy_images(
                width=CROP_SIZE,
                height=CROP_SIZE,
                num_images=mm_counts.get("image", 0),
                overrides=options.get("image"),
            ),
            "video": self._get_dummy_videos(
                width=CROP_SIZE,
                height=CROP_SIZE,
                num_frames=self.info.num_frames(),
                num_videos=mm_counts.get("video", 0),
            ),
        }


def _as_rgb_array(item: Any, what: str) -> np.ndarray:
    """One image or frame (PIL or uint8 HxWx3 array) as a uint8 RGB array."""
    if isinstance(item, Image.Image):
        return np.asarray(item.convert("RGB"))
    array = np.asarray(item)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"{what} must be an RGB image (uint8 HxWx3), got {array.dtype} {list(array.shape)}")
    return array


def _as_frames(video: Any, what: str) -> np.ndarray:
    if isinstance(video, np.ndarray) and video.ndim == 4:
        frames = video
    else:
        frames = np.stack([_as_rgb_array(frame, f"{what} frame") for frame in video])
    if frames.dtype != np.uint8 or frames.shape[-1] != 3:
        raise ValueError(
            f"{what} must be RGB frames (uint8 TxHxWx3), got {frames.dtype} {list(frames.shape)}"
        )
    return frames


def _check_side(width: int, height: int, what: str) -> None:
    if min(width, height) < MIN_MEDIA_SIDE_PX:
        raise ValueError(
            f"{what} is {width}x{height} px; the smallest accepted side is {MIN_MEDIA_SIDE_PX} px"
        )


def _landmark_array(value: object, lead: tuple[int, ...], what: str) -> np.ndarray:
    """One item's landmarks as float32 crop pixels, or a ValueError that says what is wrong with them."""
    expected = [*lead, LANDMARK_POINTS, 2]
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a numeric array of shape {expected}: {exc}") from None
    if list(array.shape) != expected:
        raise ValueError(f"{what} must have shape {expected}, got {list(array.shape)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    low, high = LANDMARK_RANGE_PX
    if array.min() < low or array.max() > high:
        raise ValueError(
            f"{what} has values in [{array.min():.1f}, {array.max():.1f}]; landmarks are pixels of the "
            f"{CROP_SIZE} px face crop and must lie in [{low:g}, {high:g}]"
        )
    return array.astype(np.float32)


def _request_landmarks(
    kwargs: Mapping[str, object], modality: str, count: int, lead: tuple[int, ...]
) -> list[np.ndarray] | None:
    """One modality's validated landmarks from mm_processor_kwargs: an array per item, or None if not sent."""
    key = _MEDIA_KEYS[modality]
    if key not in kwargs or kwargs[key] is None:
        return None
    value = kwargs[key]
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ValueError(f"mm_processor_kwargs.{key} must be a list with one entry per {modality}")
    if len(value) != count:
        raise ValueError(
            f"mm_processor_kwargs.{key} has {len(value)} entries but the prompt has {count} {modality}(s)"
        )
    return [_landmark_array(item, lead, f"mm_processor_kwargs.{key}[{i}]") for i, item in enumerate(value)]


def validate_request(mm_items: MultiModalDataItems, kwargs: Mapping[str, object], num_frames: int) -> None:
    """Everything about one request that could otherwise fail inside the engine core. Raises ValueError."""
    unknown = sorted(set(kwargs) - set(_MEDIA_KEYS.values()))
    if unknown:
        raise ValueError(
            f"unknown mm_processor_kwargs {unknown}; accepted are {sorted(_MEDIA_KEYS.values())}"
        )
    images = mm_items.get("image")
    videos = mm_items.get("video")
    if images is not None and not isinstance(images, ImageProcessorItems):
        raise ValueError("only raw images are accepted, not image embeddings")
    if videos is not None and not isinstance(videos, VideoProcessorItems):
        raise ValueError("only raw videos are accepted, not video embeddings")
    for i in range(len(images) if images is not None else 0):
        if images.get(i) is not None:
            size = images.get_image_size(i)
            _check_side(size.width, size.height, f"image {i}")
    for i in range(len(videos) if videos is not None else 0):
        if videos.get(i) is None:
            continue
        frames = _as_frames(videos.get(i), f"video {i}")
        if frames.shape[0] != num_frames:
            raise ValueError(f"video {i} has {frames.shape[0]} frames; Face-LLaVA takes exactly {num_frames}")
        _check_side(frames.shape[2], frames.shape[1], f"video {i}")
    _request_landmarks(kwargs, "image", len(images) if images is not None else 0, ())
    _request_landmarks(kwargs, "video", len(videos) if videos is not None else 0, (num_frames,))


def _landmark_fields(
    landmarks: list[np.ndarray] | None, count: int, lead: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Landmarks plus a per-item "given" flag: every item carries both keys so items batch across requests."""
    if landmarks is None:
        return torch.zeros((count, *lead, LANDMARK_POINTS, 2)), torch.zeros(count, dtype=torch.bool)
    return torch.from_numpy(np.stack(landmarks)), torch.ones(count, dtype=torch.bool)


class FaceLlavaMultiModalProcessor(BaseMultiModalProcessor[FaceLlavaProcessingInfo]):
    """Images -> 256 visual tokens each; videos -> 8 x 257 with the official " " chunks between frames."""

    def apply(self, inputs: ProcessorInputs, timing_ctx: TimingContext) -> MultiModalInput:
        validate_request(inputs.mm_data_items, inputs.hf_processor_mm_kwargs, self.info.num_frames())
        check_placeholder_counts(
            inputs.prompt, placeholder_ids(self.info.get_hf_config()), inputs.mm_data_items.get_all_counts()
        )
        return super().apply(inputs, timing_ctx)

    def _call_hf_processor(
        self, hf_data: Mapping[str, object], hf_kwargs: Mapping[str, object]
    ) -> BatchFeature:
        config = self.info.get_hf_config()
        out: dict[str, torch.Tensor] = {}
        images = hf_data.get("images") or []
        if images:
            size = config.image_tower_config.image_size
            pixels = [
                image_to_pixels(_as_rgb_array(image, f"image {i}"), size) for i, image in enumerate(images)
            ]
            out["pixel_values"] = torch.stack(pixels)
            landmarks = _request_landmarks(hf_kwargs, "image", len(images), ())
            out[LANDMARKS_IMAGES_KEY], out[given_key(LANDMARKS_IMAGES_KEY)] = _landmark_fields(
                landmarks, len(images), ()
            )
        videos = hf_data.get("videos") or []
        if videos:
            size = config.video_tower_config.image_size
            frames = self.info.num_frames()
            pixels = [
                video_to_pixels(_as_frames(video, f"video {i}"), size) for i, video in enumerate(videos)
            ]
            out["pixel_values_videos"] = torch.stack(pixels)
            landmarks = _request_landmarks(hf_kwargs, "video", len(videos), (frames,))
            out[LANDMARKS_VIDEOS_KEY], out[given_key(LANDMARKS_VIDEOS_KEY)] = _landmark_fields(
                landmarks, len(videos), (frames,)
            )
        return BatchFeature(out)

    def _get_cache_missing_processor_kwargs(
        self, inputs: ProcessorInputs, mm_is_cached: Mapping[str, Sequence[bool]]
    ) -> Mapping[str, object]:
        """Only the landmarks of the items that are re-processed (the others come from vLLM's cache)."""
        kwargs = dict(inputs.hf_processor_mm_kwargs)
        for modality, key in _MEDIA_KEYS.items():
            if kwargs.get(key) is not None and modality in mm_is_cached:
                kwargs[key] = [
                    lm for lm, cached in zip(kwargs[key], mm_is_cached[modality], strict=True) if not cached
                ]
        return kwargs

    def _get_mm_fields_config(
        self, hf_inputs: BatchFeature, hf_processor_mm_kwargs: Mapping[str, object]
    ) -> Mapping[str, MultiModalFieldConfig]:
        image = MultiModalFieldConfig.batched("image")
        video = MultiModalFieldConfig.batched("video")
        return {
            "pixel_values": image,
            LANDMARKS_IMAGES_KEY: image,
            given_key(LANDMARKS_IMAGES_KEY): image,
            "pixel_values_videos": video,
            LANDMARKS_VIDEOS_KEY: video,
            given_key(LANDMARKS_VIDEOS_KEY): video,
        }

    def _get_prompt_updates(
        self,
        mm_items: MultiModalDataItems,
        hf_processor_mm_kwargs: Mapping[str, object],
        out_mm_kwargs: MultiModalKwargsItems,
    ) -> Sequence[PromptUpdate]:
        config = self.info.get_hf_config()
        image_id, video_id = config.image_token_id, config.video_token_id
        return [
            PromptReplacement(
                modality="image",
                target=[image_id],
                replacement=PromptUpdateDetails.select_token_id(
                    [image_id] * self.info.image_tokens(), image_id
                ),
            ),
            PromptReplacement(
                modality="video",
                target=[video_id],
                replacement=PromptUpdateDetails.select_token_id(list(self.info.video_prompt_ids), video_id),
            ),
        ]
