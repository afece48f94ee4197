"""Face crops to the data URLs the engine decodes bit-exactly (notes/verify-lean-vllm-video.md, section 2).

One crop: a PNG data URL. Eight crops: one FFV1-in-Matroska video data URL, lossless and about 25 ms to
encode; every lossy codec (MJPG, mp4v, yuv420p H.264) would change the pixels the model sees. Everything
stays in memory: no upload or crop ever touches the disk.
"""

from __future__ import annotations

import base64
import io

import av
import cv2
import numpy as np

from service.preprocess.types import CROP_SIZE, NUM_VIDEO_FRAMES

_FRAME_RATE = 8  # any rate: the engine takes all 8 frames (num_frames=8), never resampling by fps


def png_data_url(crop: np.ndarray) -> str:
    """A 256 x 256 RGB uint8 crop as a PNG data URL."""
    _check_crop(crop)
    ok, encoded = cv2.imencode(
        ".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def video_data_url(crops: np.ndarray) -> str:
    """Eight 256 x 256 RGB uint8 crops as one lossless FFV1/Matroska video data URL."""
    if crops.shape[0] != NUM_VIDEO_FRAMES:
        raise ValueError(f"a video needs {NUM_VIDEO_FRAMES} crops, got {crops.shape[0]}")
    for crop in crops:
        _check_crop(crop)
    buffer = io.BytesIO()
    # bitexact: no random segment id or date in the file, so the same crops give the same bytes (and routing key).
    with av.open(buffer, "w", format="matroska", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("ffv1", rate=_FRAME_RATE)
        stream.width = stream.height = CROP_SIZE
        stream.pix_fmt = "bgr0"
        for crop in crops:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(crop), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return "data:video/x-matroska;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _check_crop(crop: np.ndarray) -> None:
    if crop.shape != (CROP_SIZE, CROP_SIZE, 3) or crop.dtype != np.uint8:
        raise ValueError(f"a crop must be uint8 [{CROP_SIZE}, {CROP_SIZE}, 3], got {crop.dtype} {crop.shape}")
