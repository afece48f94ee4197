"""Decide from the first bytes whether an upload is an image or a video and in which container, so each
decoder is only ever handed formats it is allowed to parse (a filename or content type is never trusted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.preprocess.errors import fail


@dataclass(frozen=True)
class Sniffed:
    kind: Literal["image", "video"]
    format: str  # jpeg, png, webp, bmp, tiff, gif / mp4, mov, webm, mkv, avi


_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_QUICKTIME_BRANDS = (b"qt  ",)


def sniff(data: bytes) -> Sniffed:
    if not data:
        raise fail("corrupt_media", "the upload is empty")
    for magic, name in _IMAGE_MAGIC:
        if data.startswith(magic):
            return Sniffed("image", name)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Sniffed("image", "webp")
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return Sniffed("video", "avi")
    if data[4:8] == b"ftyp":
        return Sniffed("video", "mov" if data[8:12] in _QUICKTIME_BRANDS else "mp4")
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # old QuickTime files without an ftyp box
        return Sniffed("video", "mov")
    if data.startswith(_EBML_MAGIC):
        return Sniffed("video", "webm" if b"webm" in data[:64] else "mkv")
    raise fail("unsupported_media", "not a supported image (JPEG, PNG, WebP, BMP, TIFF, GIF) or video "
                                    "(MP4, MOV, WebM, MKV, AVI)")
