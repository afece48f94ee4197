"""Image decoding: every allowed format and pixel mode to upright RGB, and every refusal with its code."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from devkit.media import astronaut, encode_image, png_claiming
from service.preprocess.decode_image import decode_image
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.types import PreprocessError

from .conftest import run

LIMITS = PreprocessLimits()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "HEIF", "AVIF", "PPM"])
def test_every_format_decodes_to_rgb_with_the_face_found(fmt: str) -> None:
    """HEIF (an iPhone's HEIC: HEVC inside) and AVIF are ISO media files like MP4: sniffed as images."""
    result = run(encode_image(astronaut(), fmt, **({"quality": 90} if fmt in ("HEIF", "AVIF") else {})))
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


def _netpbm(magic: str, pixels: np.ndarray, maxval: int) -> bytes:
    height, width = pixels.shape[:2]
    header = f"{magic}\n# made by the test\n{width} {height}\n{maxval}\n".encode()
    if magic in ("P2", "P3"):  # plain (text) variants
        return header + " ".join(str(v) for v in pixels.ravel()).encode() + b"\n"
    return header + pixels.astype(">u2" if maxval > 255 else np.uint8).tobytes()


def _sixteen_bit(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.uint16) * 257


def _tiff16(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, photometric="rgb" if pixels.ndim == 3 else "minisblack")
    return buffer.getvalue()


def _png16(pixels: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", pixels[..., ::-1] if pixels.ndim == 3 else pixels)
    assert ok
    return png.tobytes()


_GRAY = np.asarray(Image.fromarray(astronaut()).convert("L"))


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("PGM", lambda: _netpbm("P5", _GRAY, 255), _GRAY),
    ("PGM 16-bit", lambda: _netpbm("P5", _sixteen_bit(_GRAY), 65535), _GRAY),
    ("PPM 16-bit", lambda: _netpbm("P6", _sixteen_bit(astronaut()), 65535), astronaut()),
    ("plain PPM", lambda: _netpbm("P3", astronaut(), 255), astronaut()),
    ("PNG 16-bit RGB", lambda: _png16(_sixteen_bit(astronaut())), astronaut()),
    ("PNG 16-bit gray", lambda: _png16(_sixteen_bit(_GRAY)), _GRAY),
    ("TIFF 16-bit RGB", lambda: _tiff16(_sixteen_bit(astronaut())), astronaut()),
    ("TIFF 16-bit gray", lambda: _tiff16(_sixteen_bit(_GRAY)), _GRAY),
], ids=lambda value: value if isinstance(value, str) else "")
def test_data_set_formats_decode_to_the_8_bit_picture(name: str, data: Callable[[], bytes],
                                                       expected: np.ndarray) -> None:
    """Data sets ship PGM/PPM and 16-bit PNG/TIFF: each decodes to the 8-bit picture, and the face is found."""
    encoded = data()
    result = run(encoded)
    assert len(result.faces) == 1
    rgb = decode_image(encoded, result.media.format, LIMITS)
    reference = expected if expected.ndim == 3 else np.repeat(expected[..., None], 3, axis=2)
    assert rgb.dtype == np.uint8 and np.abs(rgb.astype(int) - reference).max() <= 1


def test_a_dark_16_bit_picture_stays_dark() -> None:
    """A 16-bit value of 200 is 0.3 % of full scale, not the 8-bit 200."""
    rgb = decode_image(_png16(np.full((8, 8), 200, np.uint16)), "png", LIMITS)
    assert (rgb <= 1).all()


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
    (b"", "empty_media"),
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
