"""Video decoding: the 8 frames the model samples, from every container/codec we accept, and every refusal."""

from __future__ import annotations

import io
import itertools
from fractions import Fraction
from functools import cache

import av
import numpy as np
import pytest

from devkit.media import audio_only, encode_clip, moving_face, with_display_rotation
from service.preprocess.deadline import Deadline
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.decode_video import DecodedVideo, decode_video
from service.preprocess.official_frames import Resampled, official_positions
from service.preprocess.sniff import sniff
from service.preprocess.types import PreprocessError

from .conftest import run
from .ffmpeg_oracle import official_sample

FRAMES = 45
SOURCE = moving_face()


def _decode(data: bytes, limits: PreprocessLimits | None = None) -> DecodedVideo:
    limits = limits or PreprocessLimits()
    return decode_video(data, sniff(data).format, limits, Deadline(limits.decode_timeout_s))


@cache
def _source_thumbnails(n: int) -> np.ndarray:
    return np.stack([SOURCE(i, n)[::4, ::4] for i in range(n)]).astype(np.int16)


def _closest_source_frame(frame: np.ndarray, n: int) -> int:
    distances = np.abs(_source_thumbnails(n) - frame[::4, ::4].astype(np.int16)).mean(axis=(1, 2, 3))
    return int(np.argmin(distances))


@pytest.mark.parametrize(("container", "codec", "pix_fmt", "fmt", "name"), [
    ("mp4", "libx264", "yuv420p", "mp4", "h264"),
    ("mov", "libx264", "yuv420p", "mov", "h264"),
    ("mp4", "libx265", "yuv420p", "mp4", "hevc"),
    ("webm", "libvpx", "yuv420p", "webm", "vp8"),
    ("webm", "libvpx-vp9", "yuv420p", "webm", "vp9"),
    ("matroska", "libx264", "yuv420p", "mkv", "h264"),
    ("avi", "mjpeg", "yuvj420p", "avi", "mjpeg"),
])
def test_samples_the_training_frames_from_every_container(container: str, codec: str, pix_fmt: str, fmt: str,
                                                          name: str) -> None:
    """Each returned frame is the source frame the official path (ffmpeg fps=24, then linspace truncation)
    feeds the model, found with keyframes every 8 frames."""
    clip = encode_clip(SOURCE, FRAMES, container, codec, pix_fmt=pix_fmt, gop=8)
    video = _decode(clip)
    expected = official_sample(list(range(FRAMES)), Fraction(1, 30), [1] * FRAMES)
    assert video.indices == expected
    assert video.frame_count == FRAMES
    assert video.codec == name
    assert video.fps == pytest.approx(30, rel=1e-3)
    assert video.times == pytest.approx([i / 30 for i in expected], abs=2e-3)
    assert [_closest_source_frame(frame, FRAMES) for frame in video.frames] == expected
    assert all(frame.shape == (480, 640, 3) and frame.dtype == np.uint8 for frame in video.frames)
    assert sniff(clip).format == fmt


def test_official_positions_truncate_like_the_official_processor() -> None:
    for count in (1, 3, 8, 36, 100, 1441):
        assert official_positions(count) == np.linspace(0, count - 1, 8, dtype=int).tolist()
    assert official_positions(3) == [0, 0, 0, 0, 1, 1, 1, 2]  # short clips repeat frames: always 8


def _irregular(n: int, step: int) -> list[int]:
    """A variable-frame-rate clip (a phone that dropped frames): steps of 1 to 3 nominal frames."""
    return np.cumsum([0] + [step * (1 + (i * 7) % 3) for i in range(n - 1)]).tolist()


_CLOCKS = [(Fraction(1, num), den) for num, den in ((24, 1), (25, 1), (30, 1), (60, 1), (50, 1), (15, 1), (12, 1))]


@pytest.mark.parametrize("frames", [1, 2, 7, 45, 121, 1000])
@pytest.mark.parametrize(("time_base", "step"), [
    *_CLOCKS,
    (Fraction(1001, 30000), 1),  # NTSC 29.97 in frame units
    (Fraction(1, 30000), 1001),  # NTSC 29.97 in an mp4 time base
    (Fraction(1, 24000), 1001),  # 23.976
    (Fraction(1, 90000), 1500),  # 60 fps in an MPEG time base
    (Fraction(1, 1000), 33),  # Matroska milliseconds, 30.3 fps
    (Fraction(1, 15360), 512),  # libx264's mp4 time base at 30 fps
])
def test_frames_equal_the_official_ffmpeg_resampling(frames: int, time_base: Fraction, step: int) -> None:
    """Against libavfilter's own fps=24 filter, over many frame rates, time bases and durations."""
    for pts in ([i * step for i in range(frames)], _irregular(frames, step)):
        durations = [b - a for a, b in itertools.pairwise(pts)] + [step]
        clock = Resampled.of(pts, time_base, pts[-1] + step)
        # Where ffmpeg writes no frame at all (a clip under half a tick) the service takes the one it has.
        assert clock.sample_frames() == (official_sample(pts, time_base, durations) or [0] * 8)


def test_official_frames_inside_a_span_are_the_official_rule_on_the_cut_clip() -> None:
    pts = list(range(300))
    clock = Resampled.of(pts, Fraction(1, 30), 300)
    first, last = 40, 130
    cut = [p for p in pts if first <= clock.ticks[p] <= last]
    assert clock.sample(first, last) == [first + p for p in official_positions(last - first + 1)]
    assert set(clock.sample_frames(first, last)) <= set(cut)


def test_a_one_frame_video_gives_eight_copies() -> None:
    video = _decode(encode_clip(SOURCE, 1))
    assert video.frame_count == 1 and len(video.frames) == 8
    assert all((frame == video.frames[0]).all() for frame in video.frames)


def test_video_with_an_audio_track_decodes(moving_clip: bytes) -> None:
    result = run(encode_clip(SOURCE, 30, audio=True))
    assert result.media.frame_count == 30
    assert len(result.tracks) == 1


def test_audio_only_file_is_unsupported() -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(audio_only())
    assert refusal.value.code == "unsupported_media"
    assert "no video stream" in refusal.value.message


def test_codec_outside_the_allow_list_is_unsupported() -> None:
    clip = encode_clip(SOURCE, 4, "matroska", "ffv1", pix_fmt="yuv420p")
    with pytest.raises(PreprocessError) as refusal:
        run(clip)
    assert refusal.value.code == "unsupported_media"


def test_truncated_mp4_is_corrupt(moving_clip: bytes) -> None:
    """PyAV's mp4 muxer writes the index (moov) last: without it nothing can be played."""
    with pytest.raises(PreprocessError) as refusal:
        run(moving_clip[: len(moving_clip) // 2])
    assert refusal.value.code == "corrupt_media"


def test_truncated_webm_gives_eight_frames_over_what_plays() -> None:
    clip = encode_clip(SOURCE, FRAMES, "webm", "libvpx", gop=8)
    video = _decode(clip[: int(len(clip) * 0.6)])
    assert 0 < video.frame_count < FRAMES
    assert len(video.frames) == 8
    decodable = list(range(video.frame_count))
    assert video.indices == official_sample(decodable, Fraction(1, 30), [1] * video.frame_count)
    assert [_closest_source_frame(frame, FRAMES) for frame in video.frames] == video.indices


def test_header_only_video_is_corrupt(moving_clip: bytes) -> None:
    clip = encode_clip(SOURCE, FRAMES, "matroska", "libx264")
    with pytest.raises(PreprocessError) as refusal:
        run(clip[:300])
    assert refusal.value.code == "corrupt_media"


def test_too_long_by_duration(moving_clip: bytes) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(moving_clip, limits=PreprocessLimits(max_video_seconds=1.0))
    assert refusal.value.code == "video_too_long"


def test_too_long_by_frame_count(moving_clip: bytes) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(moving_clip, limits=PreprocessLimits(max_video_frames=FRAMES - 1))
    assert refusal.value.code == "video_too_long"


def test_frame_size_limit(moving_clip: bytes) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(moving_clip, limits=PreprocessLimits(max_video_frame_pixels=640 * 480 - 1))
    assert refusal.value.code == "too_large"


def test_decode_timeout(moving_clip: bytes) -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(moving_clip, limits=PreprocessLimits(decode_timeout_s=1e-6))
    assert refusal.value.code == "decode_timeout"


def test_video_is_opened_from_memory_with_the_sniffed_container(moving_clip: bytes) -> None:
    """Guards the premise of decode_video: PyAV reads the BytesIO, not a path, and agrees on the container."""
    with av.open(io.BytesIO(moving_clip)) as container:
        assert "mp4" in container.format.name
        assert container.streams.video[0].frames == FRAMES


@pytest.mark.parametrize("rotation", [90, -90])
def test_portrait_phone_clip_is_turned_upright(rotation: int) -> None:
    """Frames stored sideways with a display matrix come back as they are meant to be shown."""
    def stored(i: int, n: int) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(SOURCE(i, n), -rotation // 90))

    clip = with_display_rotation(encode_clip(stored, FRAMES, gop=8), rotation)
    with av.open(io.BytesIO(clip)) as container:
        assert next(container.decode(video=0)).rotation == rotation  # the patched matrix is what phones write
    video = _decode(clip)
    assert (video.width, video.height) == (640, 480)
    assert [_closest_source_frame(frame, FRAMES) for frame in video.frames] == video.indices
    assert len(run(clip).tracks) == 1
