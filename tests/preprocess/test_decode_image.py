"""Image decoding: every allowed format and pixel mode to upright RGB, and every refusal with its code."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from service.preprocess.decode_image import decode_image
from service.preprocess.limits import PreprocessLimits
from service.preprocess.types import PreprocessError

from .conftest import run
from .media import astronaut, encode_image, png_claiming

LIMITS = PreprocessLimits()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_every_format_decodes_to_rgb_with_the_face_found(fmt: str) -> None:
    result = run(encode_image(astronaut(), fmt))
    assert result.media.format == fmt.lower()
    assert (result.media.width, result.media.height) == (512, 512)
    assert len(result.faces) == 1


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "I;16", "CMYK"])
def test_pixel_modes_become_rgb_uint8(mode: str) -> None:
    picture = Image.fromarray(astronaut())
    if mode == "I;16":
        picture = Image.fromarray(np.asarray(picture.convert("L")).astype(np.uint16) * 257)
    else:
        picture = picture.convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, "TIFF" if mode == "CMYK" else "PNG")
    rgb = decode_image(buffer.getvalue(), "tiff" if mode == "CMYK" else "png", LIMITS)
    assert rgb.shape == (512, 512, 3) and rgb.dtype == np.uint8
    if mode in ("L", "LA", "I;16"):
        gray = np.asarray(Image.fromarray(astronaut()).convert("L"))
        assert np.abs(rgb[..., 0].astype(int) - gray).max() <= 1
        assert (rgb[..., 0] == rgb[..., 2]).all()


def test_transparent_pixels_become_white() -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # fully transparent black
    rgb = decode_image(encode_image(rgba, "PNG"), "png", LIMITS)
    assert (rgb == 255).all()


@pytest.mark.parametrize(("orientation", "undo"), [
    (6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270), (3, Image.Transpose.ROTATE_180)])
def test_exif_orientation_is_applied(orientation: int, undo: Image.Transpose,
                                     astronaut_jpeg: bytes) -> None:
    """A sideways-stored photo with its EXIF tag decodes upright and gives the upright file's face."""
    upright = run(astronaut_jpeg)
    stored = Image.fromarray(astronaut()).transpose(undo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    result = run(buffer.getvalue())
    assert (result.media.width, result.media.height) == (512, 512)
    assert len(result.faces) == 1
    assert np.allclose(result.faces[0].box, upright.faces[0].box, atol=4)


def test_sideways_photo_without_exif_is_left_as_stored() -> None:
    tall = np.ascontiguousarray(np.rot90(astronaut()[:, :300]))
    rgb = decode_image(encode_image(tall, "PNG"), "png", LIMITS)
    assert rgb.shape == (300, 512, 3)


def test_gif_gives_its_first_frame() -> None:
    first, second = astronaut(), 255 - astronaut()
    buffer = io.BytesIO()
    Image.fromarray(first).save(buffer, "GIF", save_all=True, append_images=[Image.fromarray(second)])
    rgb = decode_image(buffer.getvalue(), "gif", LIMITS)
    assert np.abs(rgb.astype(int) - first).mean() < np.abs(rgb.astype(int) - second).mean()


def test_png_claiming_50000_squared_is_refused_before_decoding() -> None:
    bomb = png_claiming(50_000, 50_000)
    assert len(bomb) < 200
    start = time.perf_counter()
    with pytest.raises(PreprocessError) as refusal:
        run(bomb)
    assert refusal.value.code == "too_large"
    assert "pixels" in refusal.value.message
    assert time.perf_counter() - start < 0.5  # 7.5 GB of pixels were never allocated


def test_png_header_over_our_limit_is_refused_by_our_check() -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(png_claiming(8000, 6000))
    assert refusal.value.code == "too_large"
    assert "8000x6000" in refusal.value.message


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(encode_image(astronaut(), "PNG"), limits=PreprocessLimits(max_pixels=512 * 511))
    assert refusal.value.code == "too_large"


def test_byte_limit_is_checked_first(astronaut_jpeg: bytes) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(astronaut_jpeg, limits=PreprocessLimits(max_bytes=len(astronaut_jpeg) - 1))
    assert refusal.value.code == "too_large"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_truncated_images_are_corrupt(fmt: str) -> None:
    data = encode_image(astronaut(), fmt)
    with pytest.raises(PreprocessError) as refusal:
        run(data[: len(data) // 2])
    assert refusal.value.code == "corrupt_media"


@pytest.mark.parametrize(("data", "code"), [
    (b"", "corrupt_media"),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "unsupported_media"),
    (b"%PDF-1.7\n" + b"0" * 100, "unsupported_media"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "corrupt_media"),
    (b"\xff\xd8\xff" + b"\0" * 40, "corrupt_media"),
])
def test_bad_bytes_are_refused_with_their_code(data: bytes, code: str) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(data)
    assert refusal.value.code == code


def test_decode_timeout_applies_to_images(astronaut_jpeg: bytes) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(astronaut_jpeg, limits=PreprocessLimits(decode_timeout_s=1e-9))
    assert refusal.value.code == "decode_timeout"


def test_multi_picture_jpeg_from_a_phone_gives_its_first_picture() -> None:
    first = Image.fromarray(astronaut())
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[Image.fromarray(255 - astronaut())])
    rgb = decode_image(buffer.getvalue(), "jpeg", LIMITS)
    assert np.abs(rgb.astype(int) - astronaut()).mean() < 10
