"""preprocess(): upload bytes -> faces, 68 landmarks and 256 px crops (ImageResult) or 8 sampled frames with
face tracks (VideoResult). Pure computation in the calling process; the pool runs it in worker processes.

Errors are raised as PreprocessError with the codes in errors.py; a face-free upload is NOT an error here (an
empty list comes back). In a video, faces filled in for frames where a track was not detected carry
interpolated=True and score 0.0 (they were not detected); FrameFaces lists only real detections.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from service.preprocess.crop import crop_face
from service.preprocess.deadline import Deadline
from service.preprocess.decode_image import decode_image
from service.preprocess.decode_video import decode_video
from service.preprocess.dedup import same_face
from service.preprocess.denoise import for_detection
from service.preprocess.detect import Detection, FaceDetector
from service.preprocess.errors import fail
from service.preprocess.geometry import area, short_side
from service.preprocess.landmarks import Landmarker, build_landmarker
from service.preprocess.limits import PreprocessLimits
from service.preprocess.settings import FaceModelSettings
from service.preprocess.sniff import sniff
from service.preprocess.timing import timed
from service.preprocess.track import fill_gaps, link
from service.preprocess.types import (
    Face,
    FrameFaces,
    ImageResult,
    MediaInfo,
    PreprocessOptions,
    Track,
    VideoResult,
)


@dataclass
class Analysis:
    """A result plus the decoded pictures it was computed on (the image, or the 8 frames), for drawing."""

    result: ImageResult | VideoResult
    pictures: list[np.ndarray]


@lru_cache(maxsize=1)
def _models() -> tuple[FaceDetector, Landmarker]:
    """Built once per process: graph set-up costs tens of ms, and the models are not shared across threads."""
    return FaceDetector(), build_landmarker(FaceModelSettings().landmarks)


def release_models() -> None:
    """Close the MediaPipe graphs now rather than at interpreter exit (their threads log as they stop)."""
    if _models.cache_info().currsize:
        for model in _models():
            model.close()
        _models.cache_clear()


def preprocess(data: bytes, options: PreprocessOptions, filename: str | None = None,
               limits: PreprocessLimits | None = None) -> ImageResult | VideoResult:
    """`filename` is accepted for logs only: the format is always sniffed from the bytes."""
    return analyze(data, options, limits).result


def analyze(data: bytes, options: PreprocessOptions, limits: PreprocessLimits | None = None) -> Analysis:
    limits = limits or PreprocessLimits()
    if len(data) > limits.max_bytes:
        raise fail("too_large", f"{len(data)} bytes is over the limit of {limits.max_bytes}")
    sniffed = sniff(data)
    deadline = Deadline(limits.decode_timeout_s)
    if sniffed.kind == "image":
        return _analyze_image(data, sniffed.format, options, limits, deadline)
    return _analyze_video(data, sniffed.format, options, limits, deadline)


def _analyze_image(data: bytes, fmt: str, options: PreprocessOptions, limits: PreprocessLimits,
                   deadline: Deadline) -> Analysis:
    timings: dict[str, float] = {}
    with timed(timings, "decode"):
        rgb = decode_image(data, fmt, limits)
    deadline.check()
    height, width = rgb.shape[:2]
    with timed(timings, "detect"):
        seen = for_detection(rgb)
    detections = _usable_per_frame([_detect(seen, timings, thorough=True)], options)[0]
    faces = _faces(rgb, detections, options, timings, keep=options.max_faces, seen=seen)
    if len(faces) < min(len(detections), options.max_faces) or not faces:
        faces = _with_turned_faces(rgb, seen, faces, options, timings)
    media = MediaInfo("image", fmt, width, height, len(data))
    return Analysis(ImageResult(media, faces, timings), [rgb])


def _analyze_video(data: bytes, fmt: str, options: PreprocessOptions, limits: PreprocessLimits,
                   deadline: Deadline) -> Analysis:
    timings: dict[str, float] = {}
    with timed(timings, "decode"):
        video = decode_video(data, fmt, limits, deadline)
    media = MediaInfo("video", fmt, video.width, video.height, len(data), video.frame_count,
                      round(video.fps, 6), round(video.duration, 6), video.indices, video.times, video.codec)
    per_frame = _usable_per_frame([_detect(frame, timings) for frame in video.frames], options)
    deadline.check()
    # Each frame keeps spare faces, so a track survives a frame whose detector scores came out in another order.
    frames = [FrameFaces(index, time, _faces(picture, detections, options, timings, keep=2 * options.max_faces))
              for index, time, picture, detections
              in zip(video.indices, video.times, video.frames, per_frame, strict=True)]
    tracks = _tracks(video.frames, frames, options, timings)
    for frame in frames:
        frame.faces = frame.faces[: options.max_faces]
    return Analysis(VideoResult(media, frames, tracks, timings), video.frames)


def _with_turned_faces(rgb: np.ndarray, seen: np.ndarray, faces: list[Face], options: PreprocessOptions,
                       timings: dict[str, float]) -> list[Face]:
    """`faces` plus those found with the picture turned (detect.py), best score first. Asked for when nothing
    was found, or when FaceMesh could not confirm a detection: a turned head is often detected but not meshed."""
    detector, _ = _models()
    with timed(timings, "detect"):
        turned = [d for d in detector.detect_turned(seen) if short_side(d.box) >= options.min_face_px
                  and not any(same_face(d.box, f.box) for f in faces)]
    extra = _faces(rgb, turned, options, timings, keep=options.max_faces - len(faces), seen=seen)
    return sorted(faces + extra, key=lambda f: f.score, reverse=True)


def _detect(rgb: np.ndarray, timings: dict[str, float], thorough: bool = False) -> list[Detection]:
    detector, _ = _models()
    with timed(timings, "detect"):
        return detector.detect(rgb, thorough)


def _usable_per_frame(per_frame: list[list[Detection]], options: PreprocessOptions) -> list[list[Detection]]:
    """Drop faces under min_face_px; if that leaves nothing anywhere although faces were found, say so."""
    kept = [[d for d in detections if short_side(d.box) >= options.min_face_px] for detections in per_frame]
    if any(per_frame) and not any(kept):
        largest = max(short_side(d.box) for ds in per_frame for d in ds)
        raise fail("face_too_small", f"the largest face found is {largest:.0f} px, under the minimum of "
                                     f"{options.min_face_px} px")
    return kept


def _faces(rgb: np.ndarray, detections: list[Detection], options: PreprocessOptions,
           timings: dict[str, float], keep: int, seen: np.ndarray | None = None) -> list[Face]:
    """The first `keep` faces in score order (landmarks and crops are made for no others); a detection
    FaceMesh cannot confirm is dropped as a false positive. Landmarks come from `seen` (the picture as the
    detector saw it, denoise.py) when given, crops always from `rgb`."""
    _, landmarker = _models()
    faces = []
    for detection in detections:
        if len(faces) == keep:
            break
        with timed(timings, "landmarks"):
            points = landmarker.landmarks(rgb if seen is None else seen, detection.box, detection.degrees)
        if points is not None:
            faces.append(_face(rgb, detection.box, detection.score, points, False, options, timings))
    return faces


def _face(rgb: np.ndarray, box: tuple[float, float, float, float], score: float, points: np.ndarray,
          interpolated: bool, options: PreprocessOptions, timings: dict[str, float]) -> Face:
    with timed(timings, "crop"):
        crop, to_crop = crop_face(rgb, box, options.crop, options.margin)
    return Face(tuple(float(v) for v in box), float(score), points, crop, to_crop.apply(points),
                interpolated)


def _tracks(pictures: list[np.ndarray], frames: list[FrameFaces], options: PreprocessOptions,
            timings: dict[str, float]) -> list[Track]:
    """Tracks ordered most present first, then largest; only the first max_faces are filled in and kept."""
    with timed(timings, "track"):
        links = link([[face.box for face in frame.faces] for frame in frames])
    members = [[None if j is None else frames[t].faces[j] for t, j in enumerate(track)] for track in links]
    members.sort(key=lambda detected: (-sum(f is not None for f in detected),
                                       -np.mean([area(f.box) for f in detected if f is not None])))
    return [_filled_track(track_id, detected, pictures, options, timings)
            for track_id, detected in enumerate(members[: options.max_faces])]


def _filled_track(track_id: int, detected: list[Face | None], pictures: list[np.ndarray],
                  options: PreprocessOptions, timings: dict[str, float]) -> Track:
    """A frame the face was not detected in gets the interpolated box; FaceMesh is tried there first (a
    blurred face the detector missed is often still meshable), else the landmarks are interpolated too."""
    _, landmarker = _models()
    boxes = fill_gaps([None if f is None else np.array(f.box, dtype=np.float64) for f in detected])
    points = fill_gaps([None if f is None else f.landmarks for f in detected])
    faces = []
    for t, (face, (box, _), (landmarks, _)) in enumerate(zip(detected, boxes, points, strict=True)):
        if face is None:
            filled_box = tuple(float(v) for v in box)
            with timed(timings, "landmarks"):
                meshed = landmarker.landmarks(pictures[t], filled_box)
            found = meshed if meshed is not None else landmarks.astype(np.float32)
            face = _face(pictures[t], filled_box, 0.0, found, True, options, timings)
        faces.append(face)
    present = [t for t, f in enumerate(detected) if f is not None]
    best = max(present, key=lambda t: (area(detected[t].box), detected[t].score))
    return Track(track_id, faces, best, len(present) / len(detected))
