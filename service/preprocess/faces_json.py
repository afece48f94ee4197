"""The JSON shape of faces, frames and tracks, shared by the `facellava faces` command and the HTTP API so
both use the same field names and the same rounding (placement()): pixel coordinates to 0.01 px, detector
scores to 4 decimals. Rounding happens on float64 values, so a float32 landmark prints as 180.14, not as the
float32 neighbour 180.13999938964844."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from service.preprocess.types import Face, ImageResult, MediaInfo, Track, VideoResult

PIXEL_DECIMALS = 2  # a hundredth of a pixel is far below the landmark model's own error
SCORE_DECIMALS = 4


class MediaOut(BaseModel):
    """What the upload is, read from its header or container index (the API's media extends it)."""

    type: Literal["image", "video"]
    format: str
    width: int
    height: int
    bytes: int
    frame_count: int | None = None
    fps: float | None = None
    duration: float | None = Field(None, description="seconds")
    codec: str | None = None


class FaceOut(BaseModel):
    box: list[float] = Field(description="[x0, y0, x1, y1] in image pixels")
    score: float = Field(description="detector confidence; 0 for a face interpolated in a video frame")
    landmarks: list[list[float]] = Field(description="68 iBUG-300W points [x, y] in image pixels")
    interpolated: bool = False


class FrameOut(BaseModel):
    index: int
    time: float
    faces: list[FaceOut]


class TrackFaceOut(FaceOut):
    frame_index: int = Field(description="source frame number, in presentation order from 0")
    time: float = Field(description="seconds from the first frame")


class TrackOut(BaseModel):
    id: int
    presence: float = Field(description="fraction of the clip's 8 sampled frames where this face was detected")
    tower: Literal["video", "image"] = Field(
        description="video: the 8 faces below go to the video tower; image: the face was seen in too few frames "
                    "for it, so its one face (the best frame) is answered with the image tower")
    span: list[float] = Field(description="[start, end] seconds of the clip that the faces (and answers) cover")
    best_frame: int = Field(description="position in faces of the frame used for image-tower tasks")
    faces: list[TrackFaceOut] = Field(
        description="video tower: the 8 frames sampled inside the span (interpolated ones flagged); image: one")


class ImageFacesOut(BaseModel):
    media: MediaOut
    faces: list[FaceOut]


class VideoFacesOut(BaseModel):
    media: MediaOut
    frames: list[FrameOut]
    tracks: list[TrackOut]


def media_out(media: MediaInfo) -> MediaOut:
    return MediaOut.model_validate(dataclasses.asdict(media))  # the sampled frames are left out


def pixels(values: Any) -> list:
    """Pixel coordinates (a box, or [68, 2] points) as nested Python floats rounded to PIXEL_DECIMALS."""
    return np.asarray(values, dtype=np.float64).round(PIXEL_DECIMALS).tolist()


def placement(face: Face) -> dict[str, Any]:
    """Where a face is (box, detector score, landmarks), rounded: the one rule for the CLI and the API."""
    return {"box": pixels(face.box), "score": round(float(face.score), SCORE_DECIMALS),
            "landmarks": pixels(face.landmarks)}


def face_out(face: Face) -> FaceOut:
    return FaceOut(**placement(face), interpolated=face.interpolated)


def track_out(track: Track) -> TrackOut:
    faces = [TrackFaceOut(**placement(face), interpolated=face.interpolated, frame_index=index, time=time)
             for face, index, time in zip(track.faces, track.indices, track.times, strict=True)]
    return TrackOut(id=track.id, presence=track.presence, tower=track.tower, span=list(track.span),
                    best_frame=track.best_frame, faces=faces)


def result_out(result: ImageResult | VideoResult) -> ImageFacesOut | VideoFacesOut:
    if isinstance(result, ImageResult):
        return ImageFacesOut(media=media_out(result.media), faces=[face_out(f) for f in result.faces])
    frames = [FrameOut(index=frame.index, time=frame.time, faces=[face_out(face) for face in frame.faces])
              for frame in result.frames]
    return VideoFacesOut(media=media_out(result.media), frames=frames,
                         tracks=[track_out(t) for t in result.tracks])
