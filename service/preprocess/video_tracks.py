"""Face tracks of a video, each sampled inside the span where its face is present.

The clip's 8 sampled frames find the faces and link them into tracks (track.py). A face present in all of
them keeps those frames. A face that comes or goes is sampled again: the edges of the span where it is
present are found by halving the gap to the neighbouring sampled frame without it (EDGE_STEPS decodes per
edge), then the official rule (official_frames) is applied to that span, the new frames decoded and searched
for the face near where the track says it is. A frame inside the span where it is not found gets a box
interpolated between the real detections around it, never one held over frames where the face is gone,
because the span starts and ends on detections. A face whose span holds fewer than 8 frames cannot give the
video tower 8 frames of itself: its best frame goes to the image tower instead, and the track says so
(tower="image").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from service.preprocess.decode_video import VideoClip
from service.preprocess.geometry import Box, area
from service.preprocess.track import fill_gaps, link, similarity
from service.preprocess.types import NUM_VIDEO_FRAMES, Face, Track

EDGE_STEPS = 4  # halvings per span edge: the edge to 1/16 of the gap between two sampled frames

FindFaces = Callable[[np.ndarray], list[Face]]  # every usable face of a picture, confirmed by its landmarks
FillFace = Callable[[np.ndarray, Box, np.ndarray], Face]  # a face at an interpolated box, landmarks as a hint


@dataclass
class Sighting:
    """One decoded frame of the clip and the faces found in it."""

    index: int
    time: float
    picture: np.ndarray
    faces: list[Face]


def build_tracks(clip: VideoClip, sampled: list[Sighting], max_faces: int, find_faces: FindFaces,
                 fill_face: FillFace) -> tuple[list[Track], dict[int, Sighting]]:
    """Tracks ordered most present first, then largest; only the first max_faces are sampled and kept. With
    them, every frame decoded on the way, by source frame number (the sampled ones and the tracks' own; a
    frame two tracks need is decoded and searched once)."""
    decoded = {s.index: s for s in sampled}
    links = link([[face.box for face in sighting.faces] for sighting in sampled])
    members = [[None if j is None else sampled[t].faces[j] for t, j in enumerate(track)] for track in links]
    members.sort(key=lambda detected: (-sum(f is not None for f in detected),
                                       -np.mean([area(f.box) for f in detected if f is not None])))
    tracks = [_track(track_id, detected, clip, sampled, decoded, find_faces, fill_face)
              for track_id, detected in enumerate(members[:max_faces])]
    return tracks, decoded


def _track(track_id: int, detected: list[Face | None], clip: VideoClip, sampled: list[Sighting],
           decoded: dict[int, Sighting], find_faces: FindFaces, fill_face: FillFace) -> Track:
    present = [t for t, face in enumerate(detected) if face is not None]
    presence = len(present) / len(detected)
    slots = _span_frames(clip, sampled, decoded, detected, present, find_faces)
    if slots is None:
        best = _best(present, detected)
        return Track(track_id, [detected[best]], 0, presence, [sampled[best].index], [sampled[best].time],
                     "image")
    faces = _filled([face for _, face in slots], [sighting.picture for sighting, _ in slots], fill_face)
    return Track(track_id, faces, _best(range(len(slots)), [face for _, face in slots]), presence,
                 [sighting.index for sighting, _ in slots], [sighting.time for sighting, _ in slots])


def _best(positions: range | list[int], faces: list[Face | None]) -> int:
    """The largest real detection (then the most confident): the frame the image tower gets."""
    return max((t for t in positions if faces[t] is not None), key=lambda t: (area(faces[t].box), faces[t].score))


def _span_frames(clip: VideoClip, sampled: list[Sighting], decoded: dict[int, Sighting],
                 detected: list[Face | None], present: list[int], find_faces: FindFaces
                 ) -> list[tuple[Sighting, Face | None]] | None:
    """The 8 frames of the span where the face is present, each with the track's face where it was found;
    None when the span holds too few frames for the video tower."""
    first, last = present[0], present[-1]
    if first == 0 and last == len(sampled) - 1:
        return list(zip(sampled, detected, strict=True))
    known = {sampled[t].index: detected[t] for t in present}
    found = _Finder(clip, decoded, find_faces)
    start = _edge(found, known, sampled[first].index, sampled[first - 1].index if first > 0 else None)
    end = _edge(found, known, sampled[last].index, sampled[last + 1].index if last + 1 < len(sampled) else None)
    clock = clip.clock
    indices = clock.sample_frames(clock.tick_of(start), clock.tick_of(end))
    # Both ends on the detections themselves (above 24 fps the tick may show the next source frame).
    indices[0], indices[-1] = start, end
    if len(set(indices)) < min(NUM_VIDEO_FRAMES, clip.frame_count):
        return None
    found.decode(sorted(set(indices)))
    sampled_here = {s.index for s in sampled}
    slots = []
    for index in indices:
        sighting = decoded[index]
        # A sampled frame where linking found no face of this track stays empty; a new frame is searched.
        if index in known or index in sampled_here:
            face = known.get(index)
        else:
            face = _match(_expected_box(index, known), sighting.faces)
        slots.append((sighting, face))
    return slots


@dataclass
class _Finder:
    """Decodes frames of the clip on demand, each once, with the faces found in it."""

    clip: VideoClip
    decoded: dict[int, Sighting]
    find_faces: FindFaces

    def decode(self, indices: list[int]) -> None:
        new = [i for i in indices if i not in self.decoded]
        for index, picture in zip(new, self.clip.frames_at(new), strict=True):
            self.decoded[index] = Sighting(index, self.clip.time_of(index), picture, self.find_faces(picture))

    def faces(self, index: int) -> list[Face]:
        self.decode([index])
        return self.decoded[index].faces


def _edge(found: _Finder, known: dict[int, Face], inside: int, outside: int | None) -> int:
    """Where the face's presence ends, between a frame it is in and the next sampled frame it is not in:
    EDGE_STEPS halvings, each decoding the middle frame and looking for the face near the track's box there.
    Every frame found on the way joins `known`; the last frame found is returned."""
    for _ in range(EDGE_STEPS):
        if outside is None or abs(outside - inside) <= 1:
            break
        middle = (inside + outside) // 2
        face = _match(known[inside].box, found.faces(middle))
        if face is None:
            outside = middle
        else:
            known[middle], inside = face, middle
    return inside


def _expected_box(index: int, known: dict[int, Face]) -> Box:
    """Where the track says the face is at source frame `index`: linear in frame number between detections."""
    frames = sorted(known)
    boxes = np.array([known[i].box for i in frames], dtype=np.float64)
    return tuple(float(np.interp(index, frames, boxes[:, k])) for k in range(4))


def _match(expected: Box, faces: list[Face]) -> Face | None:
    """The face most like the expected box, if any is like it at all."""
    scored = [(similarity(expected, face.box), n) for n, face in enumerate(faces)]
    score, n = max(scored, default=(0.0, -1))
    return faces[n] if score > 0 else None


def _filled(faces: list[Face | None], pictures: list[np.ndarray], fill_face: FillFace) -> list[Face]:
    """A frame where the face was not found gets the box interpolated between the detections around it
    (always two: the span starts and ends on detections) and landmarks as a hint for FaceMesh there."""
    boxes = fill_gaps([None if f is None else np.array(f.box, dtype=np.float64) for f in faces])
    points = fill_gaps([None if f is None else f.landmarks for f in faces])
    return [face if face is not None else fill_face(picture, tuple(float(v) for v in box), landmarks)
            for face, picture, (box, _), (landmarks, _) in zip(faces, pictures, boxes, points, strict=True)]
