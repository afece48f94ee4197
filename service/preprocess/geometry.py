"""Boxes as (x0, y0, x1, y1) tuples in pixels, and the few operations the detector and tracker share
(and the benchmarks and tests, which match found faces to labelled ones)."""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]


def clamp_box(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width),
            min(max(y1, 0.0), height))


def area(box: Box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def short_side(box: Box) -> float:
    """The smaller of width and height: how large a face is for the size limits, whatever its aspect."""
    return min(box[2] - box[0], box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    """Area the two boxes share."""
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def holds(box: Box, point: Sequence[float]) -> bool:
    """Whether `point` (x, y) lies in `box`, edges included: how the benchmarks and tests match a found face to
    a labelled one."""
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
