"""Image bytes -> upright RGB uint8 array, entirely in memory.

The pixel limit is checked on the header Pillow parses lazily, before any pixel is decoded, so a small file
that claims 50000 x 50000 pixels costs nothing. EXIF orientation is applied because phones store photos
sideways and a sideways face is missed by the detector. Pillow only gets the formats the sniffer recognised.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps
from pillow_heif import register_heif_opener

from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.error_codes import fail

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "bmp": "BMP", "tiff": "TIFF", "gif": "GIF",
                "heif": "HEIF", "avif": "AVIF", "ppm": "PPM"}
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
# Phones save HEIC: pillow-heif (libheif with its HEVC decoder, in the wheel) adds the HEIF format to Pillow.
# AVIF is Pillow's own (its wheels carry libavif).
register_heif_opener()
_WHITE = (255, 255, 255)


def decode_image(data: bytes, fmt: str, limits: PreprocessLimits) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data": the tag is then ignored
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
            width, height = image.size
            if width * height > limits.max_pixels:
                raise fail("too_large", f"{width}x{height} pixels is over the limit of {limits.max_pixels}")
            if width == 0 or height == 0:
                raise fail("corrupt_media", "the image has no pixels")
            image.seek(0)  # GIF / multi-page TIFF: the first frame
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except Image.DecompressionBombError as exc:  # Pillow's own header check fires first for the very largest
        raise fail("too_large", f"over the limit of {limits.max_pixels} pixels: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError) as exc:
        raise fail("corrupt_media", f"cannot decode the {fmt} image: {exc}") from exc


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Grayscale, palette, 16-bit and alpha images all become 8-bit RGB; transparent areas become white
    (their colour values are arbitrary, and a face detector must not see them). A 16-bit image is scaled from
    its full 16-bit range (a dark one stays dark); 32-bit integer or float gray, whose range no header states,
    is read as 16-bit when it exceeds 255. 16-bit colour PNG/TIFF/PPM Pillow already opens as 8-bit RGB."""
    if image.mode in ("I", "F", *_SIXTEEN_BIT):
        gray = np.asarray(image, dtype=np.float32)
        scale = 255.0 / 65535.0 if image.mode in _SIXTEEN_BIT or gray.max(initial=0) > 255 else 1.0
        return np.repeat(np.clip(gray * scale, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
