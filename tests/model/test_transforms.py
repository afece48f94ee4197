"""Our torch-only pixel transforms against the official processors' pixel tensors, plus their input checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from engine_support import ORACLE, Oracle

from model.transforms import CLIP_MEAN, CLIP_STD, image_to_pixels, video_to_pixels

PIXEL_TOLERANCE = 1e-4
_ORACLE = Oracle(ORACLE)


def _vision_config(prefix: str) -> dict:
    return json.loads((_ORACLE.folder(prefix) / "config.json").read_text())["vision_config"]


IMAGE_SIZE = _vision_config("LanguageBind_Image")["image_size"]
VIDEO = _vision_config("LanguageBind_Video_merge")


def test_image_pixels_match_official():
    expected = _ORACLE.array("image_pixel_values")[0]
    actual = image_to_pixels(_ORACLE.png("image_crop_256.png"), IMAGE_SIZE)
    assert actual.dtype == torch.float32
    np.testing.assert_allclose(actual.numpy(), expected, rtol=0, atol=PIXEL_TOLERANCE)


def test_video_pixels_match_official():
    expected = _ORACLE.array("video_pixel_values")[0].transpose(1, 0, 2, 3)  # official C,T,H,W
    frames = _ORACLE.video_frames()
    assert frames.shape[0] == VIDEO["num_frames"]
    actual = video_to_pixels(frames, VIDEO["image_size"])
    assert actual.dtype == torch.float32
    np.testing.assert_allclose(actual.numpy(), expected, rtol=0, atol=PIXEL_TOLERANCE)


def test_image_and_video_paths_differ_as_officially():
    """Same frame, different official pipelines (resample kernel, antialias, order): they must not agree."""
    frame = _ORACLE.video_frames()[0]
    gap = (image_to_pixels(frame, IMAGE_SIZE) - video_to_pixels(frame[None], IMAGE_SIZE)[0]).abs().max()
    assert gap > 10 * PIXEL_TOLERANCE


def _clip_normalised(rgb: tuple[int, int, int]) -> torch.Tensor:
    return torch.tensor([(c / 255 - m) / s for c, m, s in zip(rgb, CLIP_MEAN, CLIP_STD, strict=True)])


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (17, 40), (1, 1), (IMAGE_SIZE, IMAGE_SIZE)])
def test_any_image_shape_gives_a_centre_crop_of_the_tower_size(shape):
    """A flat colour survives any resize and crop, so the exact output is known for any input shape."""
    colour = (200, 120, 40)
    rgb = np.broadcast_to(np.array(colour, dtype=np.uint8), (*shape, 3))
    image = image_to_pixels(rgb, IMAGE_SIZE)
    video = video_to_pixels(np.stack([rgb, rgb]), IMAGE_SIZE)
    assert image.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert video.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)
    expected = _clip_normalised(colour)[:, None, None]
    torch.testing.assert_close(image, expected.expand_as(image), rtol=0, atol=1e-5)
    torch.testing.assert_close(video, expected.expand_as(video[0]).expand_as(video), rtol=0, atol=1e-5)


def test_non_square_image_keeps_its_centre():
    """A landscape image (downscaled 2x), left and right thirds black: only the white centre remains."""
    rgb = np.zeros((2 * IMAGE_SIZE, 6 * IMAGE_SIZE, 3), dtype=np.uint8)
    rgb[:, 2 * IMAGE_SIZE : 4 * IMAGE_SIZE] = 255
    for pixels in (image_to_pixels(rgb, IMAGE_SIZE), video_to_pixels(rgb[None], IMAGE_SIZE)[0]):
        centre = pixels[:, :, IMAGE_SIZE // 4 : -IMAGE_SIZE // 4]
        torch.testing.assert_close(centre, _clip_normalised((255, 255, 255))[:, None, None].expand_as(centre))


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((8, 8, 3), dtype=np.float32), "uint8"),
        (np.zeros((8, 8, 4), dtype=np.uint8), "shape"),
        (np.zeros((8, 8), dtype=np.uint8), "shape"),
        (np.zeros((0, 8, 3), dtype=np.uint8), "shape"),
        ([[[0, 0, 0]]], "uint8 numpy array"),
    ],
)
def test_bad_images_are_refused(array, message):
    with pytest.raises(ValueError, match=message):
        image_to_pixels(array, IMAGE_SIZE)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 8, 8, 3), dtype=np.int16), "uint8"),
        (np.zeros((8, 8, 3), dtype=np.uint8), "shape"),
        (np.zeros((2, 8, 8, 1), dtype=np.uint8), "shape"),
        (np.zeros((2, 8, 0, 3), dtype=np.uint8), "shape"),
        (np.zeros((0, 8, 8, 3), dtype=np.uint8), "shape"),
    ],
)
def test_bad_videos_are_refused(array, message):
    with pytest.raises(ValueError, match=message):
        video_to_pixels(array, IMAGE_SIZE)
