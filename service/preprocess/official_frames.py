"""Which source frames the official Face-LLaVA video path feeds the model, computed without re-encoding.

The official crop tool (tools/crop_face.py) first resamples a clip with ffmpeg's `fps=24` filter, and the
video processor then takes `np.linspace(0, n - 1, 8, dtype=int)` (truncation, not rounding) of the n frames
of that 24 fps clip. ffmpeg's filter gives every source frame a tick on the 24 fps grid by rounding its
presentation time to the nearest tick (halves away from zero, exact integer arithmetic); output tick k
shows the last source frame whose tick is <= k, and the filter writes ticks up to the end of the last
source frame (its time plus its duration), rounded the same way. Reproducing that here picks the very same
frames as the official path at the clip's native frame rate, with no resampling pass.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from service.preprocess.types import NUM_VIDEO_FRAMES

OFFICIAL_FPS = 24


def _nearest_tick(stamp: int, time_base: Fraction) -> int:
    """av_rescale_q_rnd(stamp, time_base, 1/24, AV_ROUND_NEAR_INF): the nearest 24 fps tick, halves away
    from zero, in exact integer arithmetic (Fractions cost 0.3 s on a 36000-frame clip)."""
    scaled, denominator = abs(stamp) * time_base.numerator * OFFICIAL_FPS, time_base.denominator
    tick = (2 * scaled + denominator) // (2 * denominator)
    return tick if stamp >= 0 else -tick


def official_positions(count: int) -> list[int]:
    """The official processor's 8 positions among `count` frames; short clips repeat frames (always 8)."""
    return np.linspace(0, max(count, 1) - 1, NUM_VIDEO_FRAMES, dtype=int).tolist()


@dataclass(frozen=True)
class Resampled:
    """A clip as ffmpeg's fps=24 filter turns it: `ticks[j]` is source frame j's tick, `count` the number
    of frames the filter writes (ticks 0 .. count-1, time measured from the first source frame)."""

    ticks: tuple[int, ...]
    count: int

    @classmethod
    def of(cls, pts: list[int], time_base: Fraction, end: int) -> Resampled:
        """`pts`: the source frames' presentation times, sorted; `end`: the last frame's time plus its
        duration; both in `time_base` units."""
        if not pts:
            raise ValueError("a clip needs at least one frame")
        ticks = tuple(_nearest_tick(p - pts[0], time_base) for p in pts)
        return cls(ticks, max(_nearest_tick(end - pts[0], time_base), 1))

    def source_frame(self, tick: int) -> int:
        """The source frame the filter writes at `tick`."""
        return max(bisect.bisect_right(self.ticks, tick) - 1, 0)

    def tick_of(self, frame: int) -> int:
        """The first tick at which source frame `frame` is shown (a frame the filter drops: its tick)."""
        return min(max(self.ticks[frame], 0), self.count - 1)

    def sample(self, first: int = 0, last: int | None = None) -> list[int]:
        """The ticks of the 8 frames the official processor takes from a 24 fps clip cut to ticks
        first..last (inclusive; the whole clip by default)."""
        last = self.count - 1 if last is None else last
        return [first + p for p in official_positions(last - first + 1)]

    def sample_frames(self, first: int = 0, last: int | None = None) -> list[int]:
        """The source frames behind sample(first, last)."""
        return [self.source_frame(tick) for tick in self.sample(first, last)]
