"""Test media made in memory from skimage's public-domain pictures: the astronaut (a face), coffee (none)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from fractions import Fraction
from functools import cache

import av
import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata


@cache
def astronaut() -> np.ndarray:
    return skdata.astronaut()


@cache
def coffee() -> np.ndarray:
    return skdata.coffee()


def encode_image(rgb: np.ndarray, fmt: str, **save_args: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **save_args)
    return buffer.getvalue()


def canvas_with_face(width: int, height: int, face_side: int, x: int, y: int) -> np.ndarray:
    """A grey frame with the astronaut pasted (resized to face_side) at x, y."""
    frame = np.full((height, width, 3), 90, dtype=np.uint8)
    frame[y: y + face_side, x: x + face_side] = cv2.resize(astronaut(), (face_side, face_side))
    return frame


def moving_face(width: int = 640, height: int = 480, side: int = 320) -> Callable[[int, int], np.ndarray]:
    """Frame i of n: the astronaut sliding from left to right."""
    def frame(i: int, n: int) -> np.ndarray:
        x = round((width - side) * i / max(n - 1, 1))
        return canvas_with_face(width, height, side, x, (height - side) // 2)
    return frame


def face_from_halfway(width: int = 640, height: int = 480) -> Callable[[int, int], np.ndarray]:
    """No face in the first half (coffee), the astronaut in the second."""
    background = cv2.resize(coffee(), (width, height))
    face = moving_face(width, height)
    return lambda i, n: background if i < n // 2 else face(n // 2, n)


def face_on_screen(on_screen: range, moving_over: int = 48) -> Callable[[int, int], np.ndarray]:
    """The astronaut sliding across frames `on_screen` (as over `moving_over` frames), coffee (no face) in every
    other frame: a face that comes and goes, as in a clip where someone walks out of the picture."""
    face, background = moving_face(), cv2.resize(coffee(), (640, 480))
    return lambda i, n: face(i - on_screen.start, moving_over) if i in on_screen else background


# Fast settings keep test set-up short; libvpx's defaults take ~0.5 s a frame with frequent keyframes.
_FAST_ENCODER_OPTIONS = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}


def encode_clip(make_frame: Callable[[int, int], np.ndarray], n: int, container: str = "mp4",
                codec: str = "libx264", fps: int = 30, gop: int | None = None,
                pix_fmt: str = "yuv420p", audio: bool = False) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        first = make_frame(0, n)
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = pix_fmt
        stream.options = _FAST_ENCODER_OPTIONS.get(codec, {})
        if gop is not None:
            stream.codec_context.gop_size = gop
        if audio:
            _add_silence(out, n / fps)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(make_frame(i, n), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def audio_only(seconds: float = 1.0, container: str = "mp4") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        _add_silence(out, seconds)
    return buffer.getvalue()


def _add_silence(out: av.container.OutputContainer, seconds: float) -> None:
    stream = out.add_stream("aac", rate=16000)
    samples = int(seconds * 16000)
    for start in range(0, samples, 1024):
        chunk = np.zeros((1, min(1024, samples - start)), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = 16000
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def with_display_rotation(mp4: bytes, rotation: int) -> bytes:
    """The mp4 with its video track's display matrix set the way phones mark portrait clips (rotation in
    degrees counter-clockwise, as FFmpeg reports it; +-90 only). PyAV cannot write one, so the matrix in the
    track header (tkhd) is patched; the movie header (mvhd) before it keeps the identity."""
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    sign = 1 if rotation == 90 else -1
    turned = struct.pack(">9i", 0, -sign * 0x10000, 0, sign * 0x10000, 0, 0, 0, 0, 0x40000000)
    data = bytearray(mp4)
    at = data.index(identity, data.index(b"tkhd"))
    data[at: at + len(identity)] = turned
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    """A valid, tiny PNG whose header claims width x height pixels (a decompression bomb's calling card)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def mjpeg_clip(container: str, pictures: list[Image.Image]) -> bytes:
    """Motion JPEG whose header announces the first picture's size: later JPEGs may be any size, as in a
    hand-made (or hostile) file; the muxer copies the packets without looking inside them."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream("mjpeg", rate=10)
        stream.width, stream.height = pictures[0].size
        stream.pix_fmt = "yuvj420p"
        for number, picture in enumerate(pictures):
            jpeg = io.BytesIO()
            picture.save(jpeg, "JPEG", quality=30)
            packet = av.Packet(jpeg.getvalue())
            packet.stream, packet.pts, packet.dts = stream, number, number
            packet.time_base, packet.is_keyframe = Fraction(1, 10), True
            out.mux(packet)
    return buffer.getvalue()
