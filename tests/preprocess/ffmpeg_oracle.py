"""The official video sampling computed by ffmpeg itself: frames pushed through libavfilter's fps=24 filter
(PyAV's bundled ffmpeg, as the official crop tool runs `ffmpeg -vf fps=24`), then the official processor's
np.linspace(0, n - 1, 8, dtype=int) over what the filter writes. Each pushed frame carries its number in
its pixels, so the answer is read from what comes out, not computed by the code under test."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


def fps24_frames(pts: list[int], time_base: Fraction, durations: list[int]) -> list[int]:
    """The source frame number behind every frame ffmpeg's fps=24 filter writes."""
    graph = av.filter.Graph()
    source = graph.add_buffer(width=16, height=16, format="gray", time_base=time_base)
    fps = graph.add("fps", "24")
    sink = graph.add("buffersink")
    source.link_to(fps)
    fps.link_to(sink)
    graph.configure()
    written: list[int] = []
    for number, (stamp, duration) in enumerate(zip(pts, durations, strict=True)):
        pixels = np.zeros((16, 16), np.uint8)
        pixels[0, 0], pixels[0, 1] = number % 256, number // 256
        frame = av.VideoFrame.from_ndarray(pixels, format="gray")
        frame.pts, frame.time_base, frame.duration = stamp, time_base, duration
        source.push(frame)
        written += _drain(sink)
    source.push(None)
    return written + _drain(sink)


def _drain(sink: av.filter.FilterContext) -> list[int]:
    out = []
    while True:
        try:
            pixels = sink.pull().to_ndarray()
        except (av.BlockingIOError, av.EOFError):
            return out
        out.append(int(pixels[0, 0]) + 256 * int(pixels[0, 1]))


def official_sample(pts: list[int], time_base: Fraction, durations: list[int]) -> list[int]:
    """The 8 source frame numbers the official path feeds the video tower; none when the clip is too short
    for the filter to write a frame (under half a 24 fps tick)."""
    written = fps24_frames(pts, time_base, durations)
    if not written:
        return []
    return [written[p] for p in np.linspace(0, len(written) - 1, 8, dtype=int)]
