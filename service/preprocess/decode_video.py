"""Video bytes -> the 8 frames the model samples (np.linspace(0, n-1, 8) over the whole clip), in memory.

Only what is needed is decoded: the container index is read first (packets are demuxed, not decoded) to get
the exact frame count, presentation times and keyframes; then, for each sampled frame, the decoder jumps to
the nearest keyframe before it when that skips work, and only the 8 sampled frames are converted to RGB.
If the index and the decodable frames disagree (a truncated file), every decodable frame is counted and the 8
are resampled from those, so a damaged clip still gives 8 frames over what can be played.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from service.preprocess.deadline import Deadline
from service.preprocess.errors import fail
from service.preprocess.limits import PreprocessLimits
from service.preprocess.types import NUM_VIDEO_FRAMES

_CONTAINERS = {"mp4": "mov,mp4,m4a,3gp,3g2,mj2", "mov": "mov,mp4,m4a,3gp,3g2,mj2", "webm": "matroska,webm",
               "mkv": "matroska,webm", "avi": "avi"}
ALLOWED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "mjpeg", "av1", "mpeg4"})


@dataclass
class DecodedVideo:
    frames: list[np.ndarray]  # NUM_VIDEO_FRAMES RGB uint8 arrays
    indices: list[int]
    times: list[float]  # seconds from the first frame
    frame_count: int
    fps: float
    duration: float
    width: int
    height: int
    codec: str


def sample_indices(frame_count: int) -> list[int]:
    """The model's training-time sampling; short clips repeat frames rather than return fewer than 8."""
    return np.linspace(0, frame_count - 1, NUM_VIDEO_FRAMES).round().astype(int).tolist()


def decode_video(data: bytes, fmt: str, limits: PreprocessLimits, deadline: Deadline) -> DecodedVideo:
    try:
        container = av.open(io.BytesIO(data), mode="r", format=_CONTAINERS[fmt])
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise fail("corrupt_media", f"cannot open the {fmt} container: {exc}") from exc
    try:
        return _decode(container, limits, deadline)
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise fail("corrupt_media", f"cannot decode the video: {exc}") from exc
    finally:
        container.close()


def _decode(container: av.container.InputContainer, limits: PreprocessLimits, deadline: Deadline
            ) -> DecodedVideo:
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
    header_seconds = max(stream_seconds, (container.duration or 0) / av.time_base)
    _check_length(header_seconds, 0, limits)
    stream.thread_type = "AUTO"

    pts, keyframes = _index(container, stream, limits, deadline)
    if not pts:
        raise fail("corrupt_media", "the video has no frames")
    time_base = float(stream.time_base)
    fps = float(stream.average_rate or stream.guessed_rate or 0) or (len(pts) - 1) / max(
        (pts[-1] - pts[0]) * time_base, 1e-6)
    duration = len(pts) / fps if fps else 0.0
    _check_length(duration, len(pts), limits)

    indices = sample_indices(len(pts))
    targets = [pts[i] for i in indices]
    frames = _decode_at(container, stream, targets, keyframes, deadline)
    if len(frames) < len(set(targets)):
        # The index promised frames the decoder cannot produce: resample over the decodable ones.
        decodable = _decodable_pts(container, stream, deadline)
        if not decodable:
            raise fail("corrupt_media", "no frame of the video can be decoded")
        pts, keyframes = decodable, []
        indices = sample_indices(len(pts))
        targets = [pts[i] for i in indices]
        frames = _decode_at(container, stream, targets, keyframes, deadline)
        duration = len(pts) / fps if fps else 0.0
        if len(frames) < len(set(targets)):
            raise fail("corrupt_media", "the video's frames cannot be decoded consistently")
    shown_height, shown_width = frames[targets[0]].shape[:2]  # after the display rotation
    return DecodedVideo(
        frames=[frames[t] for t in targets], indices=indices,
        times=[round((t - pts[0]) * time_base, 6) for t in targets], frame_count=len(pts), fps=fps,
        duration=duration, width=shown_width, height=shown_height, codec=codec)


def _check_length(seconds: float, frames: int, limits: PreprocessLimits) -> None:
    if seconds > limits.max_video_seconds:
        raise fail("video_too_long", f"{seconds:.1f} s is over the limit of {limits.max_video_seconds:g} s")
    if frames > limits.max_video_frames:
        raise fail("video_too_long", f"{frames} frames is over the limit of {limits.max_video_frames}")


def _index(container: av.container.InputContainer, stream: av.VideoStream, limits: PreprocessLimits,
           deadline: Deadline) -> tuple[list[int], list[int]]:
    """Presentation times of every frame (sorted) and of the keyframes, from the packets alone."""
    pts: list[int] = []
    keyframes: list[int] = []
    for n, packet in enumerate(container.demux(stream)):
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or packet.size == 0:
            continue
        pts.append(stamp)
        if packet.is_keyframe:
            keyframes.append(stamp)
        if n % 256 == 0:
            deadline.check()
            if len(pts) > limits.max_video_frames:
                raise fail("video_too_long", f"more than {limits.max_video_frames} frames")
    container.seek(0)
    pts.sort()
    keyframes.sort()
    return pts, keyframes


def _decode_at(container: av.container.InputContainer, stream: av.VideoStream, targets: list[int],
               keyframes: list[int], deadline: Deadline) -> dict[int, np.ndarray]:
    """Decode the frames whose presentation time is in `targets`, seeking forward past frames not needed."""
    out: dict[int, np.ndarray] = {}
    frames = None
    position = None  # pts of the last decoded frame
    for target in sorted(set(targets)):
        k = bisect.bisect_right(keyframes, target) - 1
        keyframe = keyframes[k] if k >= 0 else None
        if frames is None or (keyframe is not None and position is not None and keyframe > position):
            if keyframe is None:
                container.seek(0)
            else:
                container.seek(keyframe, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
        frame = _next_frame_at(frames, target, deadline)
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


def _next_frame_at(frames: Iterator[av.VideoFrame], target: int, deadline: Deadline) -> av.VideoFrame | None:
    """The first frame at or after `target`; None when the stream ends or breaks first (a truncated file)."""
    try:
        for frame in frames:
            deadline.check()
            if frame.pts is not None and frame.pts >= target:
                return frame
    except av.FFmpegError:
        return None
    return None


def _decodable_pts(container: av.container.InputContainer, stream: av.VideoStream,
                   deadline: Deadline) -> list[int]:
    container.seek(0)
    found = []
    try:
        for frame in container.decode(stream):
            deadline.check()
            if frame.pts is not None:
                found.append(frame.pts)
    except av.FFmpegError:
        pass  # a damaged tail: keep what decoded before it
    container.seek(0)
    return sorted(found)
