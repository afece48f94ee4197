"""Small JPEG previews of decoded video frames, so a client that cannot play the upload (a browser without
HEVC, say) can still show the faces on the very frames they were found in. Made only on request: a preview
costs a few ms and ~30-60 KB of response per frame."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from service.preprocess.types import PREVIEW_SIDE, FramePreview

_JPEG_QUALITY = 80


def frame_preview(index: int, time: float, rgb: np.ndarray) -> FramePreview:
    """The frame scaled to at most PREVIEW_SIDE px on its long side (face coordinates stay those of the full
    frame: a client scales the preview to the frame's size, as it would the video)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(height, width))
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(width * scale), round(height * scale)),
                                                interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode a JPEG preview")
    return FramePreview(index, time, "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii"))
