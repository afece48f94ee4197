"""Every face once: one detection per face out of the many views a picture is searched in.

The detector looks at a picture more than once (two models, overlapping tiles, contrast-normalised and scaled
retries), so a face comes back several times with boxes that differ in ways IoU cannot see: a face cut by a
tile edge gives a box that lies inside the full one yet overlaps it by IoU 0.22-0.28, and the two models disagree
on box size by up to 1.5x. Two boxes are therefore the same face when they overlap by IoU OR when the smaller
lies mostly inside the larger (intersection over the smaller area). A box clipped by the edge of the view it was
found in (a tile edge inside the picture) is only part of a face: it gives way to any unclipped box it overlaps
at all, and is kept only when nothing else saw that face.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from service.preprocess.geometry import Box, area, intersection, iou

_SAME_FACE_IOU = 0.3
_SAME_FACE_INSIDE = 0.6  # of the smaller box inside the larger: one face seen at two sizes or cut by a tile
_CLIPPED_INSIDE = 0.3  # of a clipped box inside another: the rest of that face is outside the view it came from


@dataclass(frozen=True)
class Detection:
    box: Box  # x0, y0, x1, y1 in image pixels
    score: float
    clipped: bool = False  # the box touches an edge of a tile that lies inside the picture
    degrees: float = 0.0  # found in the picture turned this much counter-clockwise: the turn that makes it upright


def same_face(a: Box, b: Box) -> bool:
    """Boxes of one face: overlapping by IoU, or one mostly inside the other (IoU misses nested boxes)."""
    smaller = min(area(a), area(b))
    return iou(a, b) >= _SAME_FACE_IOU or (smaller > 0 and intersection(a, b) / smaller >= _SAME_FACE_INSIDE)


def merge_duplicates(candidates: Iterable[Detection]) -> list[Detection]:
    """One detection per face, best score first. Candidates come in order of preference (the first box of a face
    is the one kept, so callers list the source whose box they want first); unclipped boxes are preferred over
    clipped ones whatever the order, and a face keeps the best score any of its boxes had."""
    ordered = sorted(candidates, key=lambda d: d.clipped)  # stable: preference order kept within each kind
    kept: list[Detection] = []
    for candidate in ordered:
        match = next((i for i, other in enumerate(kept) if _duplicate(candidate, other)), None)
        if match is None:
            kept.append(candidate)
        elif candidate.score > kept[match].score:
            kept[match] = replace(kept[match], score=candidate.score)
    return sorted(kept, key=lambda d: d.score, reverse=True)


def _duplicate(candidate: Detection, kept: Detection) -> bool:
    if same_face(candidate.box, kept.box):
        return True
    own = area(candidate.box)
    return candidate.clipped and own > 0 and intersection(candidate.box, kept.box) / own >= _CLIPPED_INSIDE
