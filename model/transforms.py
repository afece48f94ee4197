"""The official pixel transforms, reproduced with torch alone (torchvision must stay out of the engine venv).

The two official paths differ, and the model was trained with each on its own input kind, so both are kept:
- image (LanguageBindImageProcessor): ToTensor -> Resize(short side, BICUBIC, antialias, on the tensor)
  -> CenterCrop -> Normalize(CLIP). torchvision's tensor resize is interpolate(antialias=True): used as is.
- video (LanguageBindVideoProcessor, decord path): /255 -> NormalizeVideo(CLIP) -> ShortSideScale
  (pytorchvideo: bilinear interpolate, no antialias) -> CenterCropVideo. Normalising first is the official
  order.
For the same frame the two give pixels up to ~0.18 apart, so the right one matters.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional

# OpenAI CLIP normalisation (the OPENAI_DATASET_MEAN/STD of the official processors).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _check_uint8_rgb(array: np.ndarray, leading: int, name: str) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        raise ValueError(f"{name} must be a uint8 numpy array")
    if array.ndim != leading + 3 or array.shape[-1] != 3 or min(array.shape[:-1]) < 1:
        raise ValueError(f"{name} must have shape [{'T, ' * leading}H, W, 3], got {list(array.shape)}")


def _centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision's centre crop: offsets round((dim - size) / 2); inputs are never smaller than size here."""
    height, width = x.shape[-2:]
    top = round((height - size) / 2.0)
    left = round((width - size) / 2.0)
    return x[..., top : top + size, left : left + size]


def _channel_stat(values: tuple[float, ...], ndim: int) -> torch.Tensor:
    """A per-channel statistic shaped to broadcast over channel axis 0 of an `ndim`-dimensional tensor."""
    return torch.tensor(values, dtype=torch.float32).view(-1, *([1] * (ndim - 1)))


def image_to_pixels(rgb: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [H, W, 3] -> float32 [3, size, size] as the official image processor (size: tower image_size)."""
    _check_uint8_rgb(rgb, 0, "image")
    x = torch.tensor(rgb).permute(2, 0, 1).float().div(255)
    height, width = x.shape[-2:]
    # torchvision's _compute_resized_output_size: short side -> `size`, long side -> int(size * long / short).
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    new_h, new_w = (new_long, size) if width <= height else (size, new_long)
    # torchvision returns the input unchanged when the size already fits.
    if (new_h, new_w) != (height, width):
        x = functional.interpolate(
            x[None], size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True
        )[0]
    x = _centre_crop(x, size)
    return (x - _channel_stat(CLIP_MEAN, 3)) / _channel_stat(CLIP_STD, 3)


def video_to_pixels(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [T, H, W, 3] (sampled frames) -> float32 [T, 3, size, size] as the official video processor."""
    _check_uint8_rgb(frames, 1, "video frames")
    x = torch.tensor(frames).permute(3, 0, 1, 2).float() / 255.0  # C, T, H, W
    x = (x - _channel_stat(CLIP_MEAN, 4)) / _channel_stat(CLIP_STD, 4)
    height, width = x.shape[-2:]
    # pytorchvideo's short_side_scale, with its own rounding of the long side.
    if width < height:
        new_h, new_w = math.floor((float(height) / width) * size), size
    else:
        new_h, new_w = size, math.floor((float(width) / height) * size)
    x = functional.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
    return _centre_crop(x, size).permute(1, 0, 2, 3).contiguous()
