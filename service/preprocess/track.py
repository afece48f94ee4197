"""Linking faces across the 8 sampled frames into tracks, and filling the frames a track was not detected in.

The sampled frames of a long clip can be seconds apart, so boxes are matched by overlap first and, failing
that, by a nearby centre and a similar size. fill_gaps interpolates a gap between two detections linearly;
video_tracks only asks it for gaps between detections, since a track's frames lie inside its span.
"""

from __future__ import annotations

import math

import numpy as np

from service.preprocess.geometry import Box, area, centre, iou

_MIN_IOU = 0.2
_MAX_CENTRE_SHIFT = 2.5  # in box sides: sampled frames of a long clip are far apart in time
_MAX_SIZE_RATIO = 1.6


def link(boxes_per_frame: list[list[Box]]) -> list[list[int | None]]:
    """Tracks as, per frame, the index of the track's box in that frame's list (None where it is missing)."""
    frames = len(boxes_per_frame)
    tracks: list[list[int | None]] = []
    last: list[Box] = []
    sides: list[list[float]] = []  # every detected side of each track: one odd box must not break it
    for t, boxes in enumerate(boxes_per_frame):
        candidates = sorted(
            ((score, k, j) for k, prev in enumerate(last) for j, box in enumerate(boxes)
             if (score := similarity(prev, box, float(np.median(sides[k])))) > 0),
            reverse=True)
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for _, k, j in candidates:
            if k not in used_tracks and j not in used_boxes:
                tracks[k][t] = j
                last[k] = boxes[j]
                sides[k].append(math.sqrt(area(boxes[j])))
                used_tracks.add(k)
                used_boxes.add(j)
        for j, box in enumerate(boxes):
            if j not in used_boxes:
                track: list[int | None] = [None] * frames
                track[t] = j
                tracks.append(track)
                last.append(box)
                sides.append([math.sqrt(area(box))])
    return tracks


def similarity(a: Box, b: Box, side_a: float | None = None) -> float:
    """Above 1 for overlapping boxes, (0, 1) for a nearby box of a similar size, 0 for no match. `side_a`:
    the size `a` stands for (a track's typical side: the detector's box size jitters from frame to frame)."""
    overlap = iou(a, b)
    if overlap >= _MIN_IOU:
        return 1.0 + overlap
    side_a, side_b = side_a or math.sqrt(area(a)), math.sqrt(area(b))
    if min(side_a, side_b) <= 0 or max(side_a, side_b) / min(side_a, side_b) > _MAX_SIZE_RATIO:
        return 0.0
    (ax, ay), (bx, by) = centre(a), centre(b)
    shift = math.hypot(ax - bx, ay - by) / max(side_a, side_b)
    return 1.0 - shift / _MAX_CENTRE_SHIFT if shift < _MAX_CENTRE_SHIFT else 0.0


def fill_gaps(values: list[np.ndarray | None]) -> list[tuple[np.ndarray, bool]]:
    """Each entry with whether it was filled in: linear between known neighbours, else the nearest known."""
    known = [i for i, v in enumerate(values) if v is not None]
    if not known:
        raise ValueError("a track needs at least one detection")
    filled = []
    for i, value in enumerate(values):
        if value is not None:
            filled.append((value, False))
            continue
        before = max((k for k in known if k < i), default=None)
        after = min((k for k in known if k > i), default=None)
        if before is None or after is None:
            filled.append((values[before if after is None else after].copy(), True))
        else:
            t = (i - before) / (after - before)
            filled.append(((1 - t) * values[before] + t * values[after], True))
    return filled
