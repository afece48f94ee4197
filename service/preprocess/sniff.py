"""Decide from the first bytes whether an upload is an image or a video and in which container, so each
decoder is only ever handed formats it is allowed to parse (a filename or content type is never trusted)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.preprocess.error_codes import fail


@dataclass(frozen=True)
class Sniffed:
    kind: Literal["image", "video"]
    format: str  # jpeg, png, webp, bmp, tiff, gif, heif, avif, ppm / mp4, mov, webm, mkv, avi


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
# ISO base media files that hold still images (phone photos), told from MP4 video by their ftyp brands.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"heif", b"mif1", b"mif2",
                          b"msf1"})
_NETPBM_KINDS = b"123456"  # P1..P6: PBM, PGM, PPM, plain text or binary


def sniff(data: bytes) -> Sniffed:
    if not data:
        raise fail("empty_media", "the upload is empty")
    for magic, name in _IMAGE_MAGIC:
        if data.startswith(magic):
            return Sniffed("image", name)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Sniffed("image", "webp")
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return Sniffed("video", "avi")
    if data[4:8] == b"ftyp":
        return _iso_media(data)
    if data[:1] == b"P" and data[1:2] and data[1:2] in _NETPBM_KINDS and data[2:3].isspace():
        return Sniffed("image", "ppm")
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # old QuickTime files without an ftyp box
        return Sniffed("video", "mov")
    if data.startswith(_EBML_MAGIC):
        return Sniffed("video", "webm" if b"webm" in data[:64] else "mkv")
    raise fail("unsupported_media", "not a supported image (JPEG, PNG, WebP, BMP, TIFF, GIF, HEIC/HEIF, AVIF, "
                                    "PPM/PGM/PBM) or video (MP4, MOV, WebM, MKV, AVI)")


def _iso_media(data: bytes) -> Sniffed:
    """An ftyp box: its major brand and compatible brands say still image (HEIF, AVIF) or video."""
    size = int.from_bytes(data[:4], "big")
    major = data[8:12]
    brands = {major} | {data[i: i + 4] for i in range(16, min(max(size, 16), 256, len(data)) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return Sniffed("image", "avif")
    if major in _HEIF_BRANDS:
        return Sniffed("image", "heif")
    return Sniffed("video", "mov" if major in _QUICKTIME_BRANDS else "mp4")
