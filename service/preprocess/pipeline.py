"""preprocess(): upload bytes -> faces, 68 landmarks and 256 px crops (ImageResult) or 8 sampled frames with
face tracks (VideoResult). Pure computation in the calling process; the pool runs it in worker processes.

Errors are raised as PreprocessError with the codes in errors.py; a face-free upload is NOT an error here (an
empty list comes back). In a video, each track has its own frames inside the span where its face is present
(video_tracks.py); faces filled in between two detections carry interpolated=True and score 0.0 (they were
not detected); FrameFaces lists only real detections in the clip's 8 sampled frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from service.preprocess.cnn_detect import CnnFaceDetector
from service.preprocess.crop import crop_face
from service.preprocess.deadline import Deadline
from service.preprocess.decode_image import decode_image
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.decode_video import open_video
from service.preprocess.dedup import same_face
from service.preprocess.denoise import for_detection
from service.preprocess.detect import Detection, FaceDetector
from service.preprocess.error_codes import fail
from service.preprocess.geometry import Box, short_side
from service.preprocess.landmarks import Landmarker, build_landmarker
from service.preprocess.previews import frame_preview
from service.preprocess.settings import FaceModelSettings
from service.preprocess.sniff import sniff
from service.preprocess.timing import timed
from service.preprocess.types import (
    Face,
    FrameFaces,
    ImageResult,
    MediaInfo,
    PreprocessOptions,
    VideoResult,
)
from service.preprocess.video_tracks import Sighting, build_tracks


@dataclass
class Analysis:
    """A result plus the decoded pictures it was computed on (the image, or the 8 frames), for drawing."""

    result: ImageResult | VideoResult
    pictures: list[np.ndarray]


@lru_cache(maxsize=1)
def _models() -> tuple[FaceDetector, Landmarker]:
    """Built once per process: graph set-up costs tens of ms, and the models are not shared across threads."""
    return FaceDetector(), build_landmarker(FaceModelSettings().landmarks)


@lru_cache(maxsize=1)
def _grain_detector() -> CnnFaceDetector | None:
    """dlib's CNN detector for grainy pictures (cnn_detect.py), loaded on the first one; None when set off."""
    return CnnFaceDetector() if FaceModelSettings().grain_detector == "cnn" else None


def release_models() -> None:
    """Close the MediaPipe graphs now rather than at interpreter exit (their threads log as they stop)."""
    if _models.cache_info().currsize:
        for model in _models():
            model.close()
        _models.cache_clear()
    _grain_detector.cache_clear()


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
    turn_and_retry = len(faces) < min(len(detections), options.max_faces) or not faces
    grain_detector = _grain_detector() if seen is not rgb else None  # a grainy picture (denoise.py)
    if grain_detector is not None:
        with timed(timings, "detect"):
            found = grain_detector.detect(seen)
        deadline.check()
        faces = _with_more_faces(rgb, seen, faces, found, options, timings)
    if turn_and_retry:
        detector, _ = _models()
        with timed(timings, "detect"):
            found = detector.detect_turned(seen)
        faces = _with_more_faces(rgb, seen, faces, found, options, timings)
    media = MediaInfo("image", fmt, width, height, len(data))
    return Analysis(ImageResult(media, faces, timings), [rgb])


def _analyze_video(data: bytes, fmt: str, options: PreprocessOptions, limits: PreprocessLimits,
                   deadline: Deadline) -> Analysis:
    timings: dict[str, float] = {}
    with open_video(data, fmt, limits, deadline) as clip:
        with timed(timings, "decode"):
            video = clip.sample()
        media = MediaInfo("video", fmt, video.width, video.height, len(data), video.frame_count,
                          round(video.fps, 6), round(video.duration, 6), video.indices, video.times, video.codec)
        per_frame = _usable_per_frame([_detect(frame, timings) for frame in video.frames], options)
        deadline.check()
        # Each frame keeps spare faces, so a track survives a frame whose detector scores came out in another
        # order.
        keep = 2 * options.max_faces
        sampled = [Sighting(index, time, picture, _faces(picture, detections, options, timings, keep))
                   for index, time, picture, detections
                   in zip(video.indices, video.times, video.frames, per_frame, strict=True)]

        def find_faces(picture: np.ndarray) -> list[Face]:
            usable = [d for d in _detect(picture, timings) if short_side(d.box) >= options.min_face_px]
            return _faces(picture, usable, options, timings, keep)

        def fill_face(picture: np.ndarray, box: Box, hint: np.ndarray) -> Face:
            return _filled_face(picture, box, hint, options, timings)

        with timed(timings, "track"):  # linking, and sampling each face's span (its decoding and detection)
            tracks, decoded = build_tracks(clip, sampled, options.max_faces, find_faces, fill_face)
    if options.previews:
        shown = sorted({*video.indices, *(i for track in tracks for i in track.indices)})
        media.previews = [frame_preview(i, decoded[i].time, decoded[i].picture) for i in shown]
    frames = [FrameFaces(s.index, s.time, s.faces[: options.max_faces]) for s in sampled]
    return Analysis(VideoResult(media, frames, tracks, timings), video.frames)


def _with_more_faces(rgb: np.ndarray, seen: np.ndarray, faces: list[Face], found: list[Detection],
                     options: PreprocessOptions, timings: dict[str, float]) -> list[Face]:
    """`faces` plus the new faces among `found`, a second search's detections in the order they are to be tried
    (one face may come as several boxes: the first FaceMesh confirms stands for it), best score first. Second
    searches: the picture turned (detect.py), asked for when nothing was found or FaceMesh could not confirm a
    detection (a turned head is often detected but not meshed); dlib's CNN on a grainy picture (cnn_detect.py)."""
    faces = list(faces)
    for detection in found:
        if len(faces) == options.max_faces:
            break
        if short_side(detection.box) >= options.min_face_px and not any(same_face(detection.box, f.box)
                                                                         for f in faces):
            faces += _faces(rgb, [detection], options, timings, keep=1, seen=seen)
    return sorted(faces, key=lambda f: f.score, reverse=True)


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
            points = _landmarks(landmarker, rgb if seen is None else seen, detection.box, detection.degrees)
        if points is not None:
            faces.append(_face(rgb, detection.box, detection.score, points, False, options, timings))
    return faces


def _landmarks(landmarker: Landmarker, rgb: np.ndarray, box: Box, degrees: float = 0.0) -> np.ndarray | None:
    """The 68 points, a failure inside the landmarker (a degenerate box or picture) being a typed refusal."""
    try:
        return landmarker.landmarks(rgb, box, degrees)
    except (cv2.error, ValueError, ZeroDivisionError) as exc:
        height, width = rgb.shape[:2]
        raise fail("corrupt_media", f"cannot place landmarks for a face at {[round(v) for v in box]} in a "
                                    f"{width}x{height} picture") from exc


def _face(rgb: np.ndarray, box: tuple[float, float, float, float], score: float, points: np.ndarray,
          interpolated: bool, options: PreprocessOptions, timings: dict[str, float]) -> Face:
    with timed(timings, "crop"):
        try:
            crop, to_crop = crop_face(rgb, box, options.crop, options.margin)
        except cv2.error as exc:  # a box off the picture: a typed refusal, never a 500
            height, width = rgb.shape[:2]
            raise fail("corrupt_media", f"cannot crop a face at {[round(v) for v in box]} in a {width}x{height} "
                                        "picture") from exc
    return Face(tuple(float(v) for v in box), float(score), points, crop, to_crop.apply(points),
                interpolated)


def _filled_face(picture: np.ndarray, box: Box, hint: np.ndarray, options: PreprocessOptions,
                 timings: dict[str, float]) -> Face:
    """A face at a box interpolated between two detections of its track: FaceMesh is tried there first (a
    blurred face the detector missed is often still meshable), else the interpolated landmarks are kept."""
    _, landmarker = _models()
    with timed(timings, "landmarks"):
        meshed = _landmarks(landmarker, picture, box)
    points = meshed if meshed is not None else hint.astype(np.float32)
    return _face(picture, box, 0.0, points, True, options, timings)
