"""Video bytes -> the 8 frames the official Face-LLaVA path samples, in memory, and more frames on request.

Only what is needed is decoded: the container index is read first (packets are demuxed, not decoded) to get
the exact frame count, presentation times and keyframes; then, for each sampled frame, the decoder jumps to
the nearest keyframe before it when that skips work, and only the sampled frames are converted to RGB.
Which frames are sampled is official_frames.Resampled: the frames the official 24 fps resampling and
linspace truncation pick. If the index and the decodable frames disagree (a truncated file), every decodable
frame is counted and the 8 are resampled from those, so a damaged clip still gives 8 frames over what plays.

Every decoded frame (also those only decoded to reach a sampled one) is checked against the frame-size limit
before it is converted, the decoder itself refuses frames over it before allocating them (a clip may
announce 64 x 64 and carry 9000 x 9000 frames later), and the pixels decoded per upload are bounded.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from service.preprocess.deadline import Deadline
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.error_codes import fail
from service.preprocess.official_frames import Resampled

_CONTAINERS = {"mp4": "mov,mp4,m4a,3gp,3g2,mj2", "mov": "mov,mp4,m4a,3gp,3g2,mj2", "webm": "matroska,webm",
               "mkv": "matroska,webm", "avi": "avi"}
ALLOWED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "mjpeg", "av1", "mpeg4"})
_DECODE_ERRORS = (av.FFmpegError, ValueError, OSError, EOFError)
FrameCheck = Callable[[av.VideoFrame], None]


@dataclass
class DecodedVideo:
    frames: list[np.ndarray]  # NUM_VIDEO_FRAMES RGB uint8 arrays
    indices: list[int]  # source frame numbers (in presentation order)
    times: list[float]  # seconds from the first frame
    frame_count: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str


class VideoClip:
    """An opened, indexed clip: decodes the frames at given source frame numbers on request, so a face track
    can be sampled again inside the span where it is present."""

    def __init__(self, container: av.container.InputContainer, limits: PreprocessLimits, deadline: Deadline
                 ) -> None:
        self._container = container
        self._limits = limits
        self._deadline = deadline
        self._decoded_pixels = 0
        self._size: tuple[int, int] | None = None  # (width, height) of the first decoded frame
        self._stream = _video_stream(container, limits)
        pts, self._keyframes, end = _index(container, self._stream, limits, deadline)
        if not pts:
            raise fail("corrupt_media", "the video has no frames")
        self._set_frames(pts, end)
        self.codec = self._stream.codec_context.name
        _check_length(self.duration, len(pts), limits)

    def _set_frames(self, pts: list[int], end: int) -> None:
        self._pts = pts
        self.time_base = Fraction(self._stream.time_base)
        self.clock = Resampled.of(pts, self.time_base, end)
        rate = self._stream.average_rate or self._stream.guessed_rate
        span = float((end - pts[0]) * self.time_base)
        self.fps = float(rate) if rate else (len(pts) / span if span > 0 else 0.0)
        self.duration = len(pts) / self.fps if self.fps else 0.0

    @property
    def frame_count(self) -> int:
        return len(self._pts)

    def time_of(self, frame: int) -> float:
        """Seconds from the first frame to source frame `frame`."""
        return round(float((self._pts[frame] - self._pts[0]) * self.time_base), 6)

    def sample(self) -> DecodedVideo:
        """The 8 frames of the official path over the whole clip (over what decodes, if the file is cut)."""
        with _decoding():
            return self._sample()

    def frames_at(self, indices: list[int]) -> list[np.ndarray]:
        """RGB frames at these source frame numbers (repeats allowed), upright."""
        with _decoding():
            return self._frames_at(indices)

    def _sample(self) -> DecodedVideo:
        indices = self.clock.sample_frames()
        try:
            frames = self._frames_at(indices)
        except _UndecodableError:
            # The index promised frames the decoder cannot produce: resample over the decodable ones.
            decodable = _decodable_pts(self._container, self._stream, self._check_frame)
            if not decodable:
                raise fail("corrupt_media", "no frame of the video can be decoded") from None
            step = decodable[-1] - decodable[-2] if len(decodable) > 1 else 1
            self._keyframes = []
            self._set_frames(decodable, decodable[-1] + step)
            indices = self.clock.sample_frames()
            try:
                frames = self._frames_at(indices)
            except _UndecodableError:
                raise fail("corrupt_media", "the video's frames cannot be decoded consistently") from None
        height, width = frames[0].shape[:2]  # after the display rotation
        return DecodedVideo(frames=frames, indices=indices, times=[self.time_of(i) for i in indices],
                            frame_count=self.frame_count, fps=self.fps, duration=self.duration, width=width,
                            height=height, codec=self.codec)

    def _frames_at(self, indices: list[int]) -> list[np.ndarray]:
        """frames_at, raising _UndecodableError when a frame the index lists does not decode."""
        targets = sorted({self._pts[i] for i in indices})
        try:
            decoded = _decode_at(self._container, self._stream, targets, self._keyframes, self._check_frame)
        except av.error.ValueError as exc:  # the decoder refused a frame: over max_pixels, or a bad header
            if _over_limit(self._stream, self._limits):
                raise fail("too_large", f"a frame of the video is over the limit of "
                                        f"{self._limits.max_video_frame_pixels} pixels") from exc
            raise _UndecodableError from exc
        if len(decoded) < len(targets):
            raise _UndecodableError
        return [decoded[self._pts[i]] for i in indices]

    def _check_frame(self, frame: av.VideoFrame) -> None:
        """Every decoded frame, before any conversion: its size, a constant size, and the pixel budget."""
        pixels = frame.width * frame.height
        limits = self._limits
        if pixels > limits.max_video_frame_pixels:
            raise fail("too_large", f"a {frame.width}x{frame.height} frame is over the limit of "
                                    f"{limits.max_video_frame_pixels} pixels")
        self._size = self._size or (frame.width, frame.height)
        if (frame.width, frame.height) != self._size:
            raise fail("corrupt_media", f"the frame size changes inside the clip, from "
                                        f"{self._size[0]}x{self._size[1]} to {frame.width}x{frame.height}")
        self._decoded_pixels += pixels
        if self._decoded_pixels > limits.max_decoded_video_pixels:
            raise fail("too_large", f"decoding the sampled frames needs more than "
                                    f"{limits.max_decoded_video_pixels} pixels")
        self._deadline.check()


class _UndecodableError(Exception):
    """A frame the index lists could not be decoded (a truncated or damaged file)."""


@contextmanager
def open_video(data: bytes, fmt: str, limits: PreprocessLimits, deadline: Deadline) -> Iterator[VideoClip]:
    """The clip, open for as long as frames may be asked of it; decoder failures become typed errors."""
    try:
        container = av.open(io.BytesIO(data), mode="r", format=_CONTAINERS[fmt])
    except _DECODE_ERRORS as exc:
        raise fail("corrupt_media", f"cannot open the {fmt} container") from exc
    try:
        with _decoding():
            clip = VideoClip(container, limits, deadline)
        yield clip
    finally:
        container.close()


@contextmanager
def _decoding() -> Iterator[None]:
    """Decoder failures as the typed refusal; only around decoding, so the caller's own errors stay theirs."""
    try:
        yield
    except (*_DECODE_ERRORS, _UndecodableError) as exc:
        raise fail("corrupt_media", "cannot decode the video") from exc


def decode_video(data: bytes, fmt: str, limits: PreprocessLimits, deadline: Deadline) -> DecodedVideo:
    with open_video(data, fmt, limits, deadline) as clip:
        return clip.sample()


def _video_stream(container: av.container.InputContainer, limits: PreprocessLimits) -> av.VideoStream:
    if not container.streams.video:
        raise fail("unsupported_media", "the file has no video stream")
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if codec not in ALLOWED_CODECS:
        raise fail("unsupported_media", f"video codec {codec!r} is not supported")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > limits.max_video_frame_pixels:
        raise fail("too_large",
                   f"{width}x{height} frames are over the limit of {limits.max_video_frame_pixels} pixels")
    stream_seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0
    _check_length(max(stream_seconds, (container.duration or 0) / av.time_base), 0, limits)
    # libavcodec then refuses a larger frame before allocating it, whatever the container header said.
    stream.codec_context.options = {"max_pixels": str(limits.max_video_frame_pixels)}
    stream.thread_type = "AUTO"
    return stream


def _over_limit(stream: av.VideoStream, limits: PreprocessLimits) -> bool:
    """After a refused frame: libavcodec zeroes the size it could not accept, or keeps the size over it."""
    pixels = stream.codec_context.width * stream.codec_context.height
    return pixels == 0 or pixels > limits.max_video_frame_pixels


def _check_length(seconds: float, frames: int, limits: PreprocessLimits) -> None:
    if seconds > limits.max_video_seconds:
        raise fail("video_too_long", f"{seconds:.1f} s is over the limit of {limits.max_video_seconds:g} s")
    if frames > limits.max_video_frames:
        raise fail("video_too_long", f"{frames} frames is over the limit of {limits.max_video_frames}")


def _index(container: av.container.InputContainer, stream: av.VideoStream, limits: PreprocessLimits,
           deadline: Deadline) -> tuple[list[int], list[int], int]:
    """Presentation times of every frame (sorted), of the keyframes, and the end of the last frame (its time
    plus its duration, as ffmpeg counts the clip's end), from the packets alone."""
    pts: list[int] = []
    keyframes: list[int] = []
    end = None
    for n, packet in enumerate(container.demux(stream)):
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or packet.size == 0:
            continue
        pts.append(stamp)
        if packet.duration:
            end = max(end or stamp, stamp + packet.duration)
        if packet.is_keyframe:
            keyframes.append(stamp)
        if n % 256 == 0:
            deadline.check()
            if len(pts) > limits.max_video_frames:
                raise fail("video_too_long", f"more than {limits.max_video_frames} frames")
    container.seek(0)
    pts.sort()
    keyframes.sort()
    if pts and (end is None or end <= pts[-1]):
        end = pts[-1] + _frame_step(stream, pts)
    return pts, keyframes, end or 0


def _frame_step(stream: av.VideoStream, pts: list[int]) -> int:
    """One frame's duration in stream ticks, for a last packet that carries none: from the frame rate."""
    rate = stream.average_rate or stream.guessed_rate
    if rate and stream.time_base:
        return max(round(1 / (rate * stream.time_base)), 1)
    return pts[-1] - pts[-2] if len(pts) > 1 else 1


def _decode_at(container: av.container.InputContainer, stream: av.VideoStream, targets: list[int],
               keyframes: list[int], check: FrameCheck) -> dict[int, np.ndarray]:
    """Decode the frames whose presentation time is in `targets`, seeking forward past frames not needed."""
    out: dict[int, np.ndarray] = {}
    frames = None
    position = None  # pts of the last decoded frame
    for target in targets:
        k = bisect.bisect_right(keyframes, target) - 1
        keyframe = keyframes[k] if k >= 0 else None
        if frames is None or (keyframe is not None and position is not None and keyframe > position):
            if keyframe is None:
                container.seek(0)
            else:
                container.seek(keyframe, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
        frame = _next_frame_at(frames, target, check)
        if frame is None:
            break
        position = frame.pts
        out[target] = _upright(frame)
    return out


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """RGB pixels as the clip is meant to be shown: phones store portrait video sideways with a display
    matrix (frame.rotation, degrees counter-clockwise), and a sideways face is missed by the detector."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _next_frame_at(frames: Iterator[av.VideoFrame], target: int, check: FrameCheck) -> av.VideoFrame | None:
    """The first frame at or after `target`; None when the stream ends or breaks first (a truncated file)."""
    try:
        for frame in frames:
            check(frame)
            if frame.pts is not None and frame.pts >= target:
                return frame
    except av.error.ValueError:
        raise  # a frame the decoder refused (max_pixels): the caller tells an oversized one apart
    except av.FFmpegError:
        return None
    return None


def _decodable_pts(container: av.container.InputContainer, stream: av.VideoStream, check: FrameCheck
                   ) -> list[int]:
    container.seek(0)
    found = []
    try:
        for frame in container.decode(stream):
            check(frame)
            if frame.pts is not None:
                found.append(frame.pts)
    except av.FFmpegError:
        pass  # a damaged tail: keep what decoded before it
    container.seek(0)
    return sorted(found)
