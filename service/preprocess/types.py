"""What the preprocessing worker hands to the gateway: plain data, picklable across the worker pool.

Coordinates: `box` is [x0, y0, x1, y1] and `landmarks` are 68 iBUG-300W points, both in pixels of the
decoded (EXIF-rotated) image or frame; `crop_landmarks` are the same points in pixels of the 256 x 256
face crop, which is what the model takes (divided by 256 inside the engine's processor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

CROP_SIZE = 256
NUM_VIDEO_FRAMES = 8
PREVIEW_SIDE = 640


@dataclass
class FramePreview:
    """A decoded video frame as a small JPEG, for clients that cannot play the upload (the demo page)."""

    frame_index: int
    time: float
    image: str  # data:image/jpeg;base64,... at most PREVIEW_SIDE px on its long side


@dataclass
class MediaInfo:
    """The decoded upload, as the API reports it."""

    type: Literal["image", "video"]
    format: str  # container or image format, e.g. "jpeg", "mp4"
    width: int
    height: int
    bytes: int
    frame_count: int | None = None  # videos only
    fps: float | None = None  # videos only
    duration: float | None = None  # seconds, videos only
    sampled_frames: list[int] = field(default_factory=list)  # frame indices (videos)
    sampled_times: list[float] = field(default_factory=list)  # seconds (videos)
    codec: str | None = None  # videos only, e.g. "h264"
    previews: list[FramePreview] = field(default_factory=list)  # videos, on request: sampled + tracks' frames


@dataclass
class Face:
    """One detected face in one image or frame."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # float32 [68, 2], image pixels
    crop: np.ndarray  # uint8 [256, 256, 3] RGB
    crop_landmarks: np.ndarray  # float32 [68, 2], crop pixels
    interpolated: bool = False  # videos: filled in from neighbouring frames, not detected in this frame


@dataclass
class ImageResult:
    media: MediaInfo
    faces: list[Face]  # sorted by score, at most max_faces
    timings: dict[str, float]  # seconds per stage: decode, detect, landmarks, crop

    @property
    def subjects(self) -> list[Face]:
        """What gets analysed, one answer each: the faces (VideoResult: the tracks); empty means no face."""
        return self.faces


@dataclass
class FrameFaces:
    index: int
    time: float
    faces: list[Face]


@dataclass
class Track:
    """One face followed through a video. Its frames are its own: the 8 frames the official sampling takes
    inside the span where this face is present (the clip's sampled frames when it is present throughout),
    so every frame the video tower sees holds the face. A face seen in too few frames for that has
    tower="image" and one face, its best frame, answered with the image tower."""

    id: int
    faces: list[Face]  # video tower: NUM_VIDEO_FRAMES, interpolated ones flagged; image tower: one
    best_frame: int  # position in `faces` of the largest detected face, for image-tower tasks
    presence: float  # fraction of the clip's 8 sampled frames where the face was really detected
    indices: list[int] = field(default_factory=list)  # source frame number of each of `faces`
    times: list[float] = field(default_factory=list)  # seconds, of each of `faces`
    tower: Literal["video", "image"] = "video"  # which tower answers this face's video tasks

    @property
    def span(self) -> tuple[float, float]:
        """The time span (seconds) the answers about this face cover."""
        return self.times[0], self.times[-1]

    @property
    def crops(self) -> np.ndarray:
        return np.stack([f.crop for f in self.faces])

    @property
    def crop_landmarks(self) -> np.ndarray:
        return np.stack([f.crop_landmarks for f in self.faces])


@dataclass
class VideoResult:
    media: MediaInfo
    frames: list[FrameFaces]
    tracks: list[Track]  # primary track first (most present, then largest)
    timings: dict[str, float]

    @property
    def subjects(self) -> list[Track]:
        """What gets analysed, one answer each: the tracks (ImageResult: the faces); empty means no face."""
        return self.tracks


@dataclass
class PreprocessOptions:
    max_faces: int = 5
    crop: Literal["official", "margin"] = "official"
    margin: float = 0.25  # only for crop="margin"
    min_face_px: int = 24
    previews: bool = False  # videos: JPEG previews of the frames the faces were found in (MediaInfo.previews)


class PreprocessError(Exception):
    """A refusal with a stable code the API maps to an HTTP status."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
