"""Limits on what one upload may cost, set from FACELLAVA_PREPROCESS_* environment variables.

Every limit is checked as early as the data allows: bytes before parsing, pixels from the header before any
pixel is decoded (for videos, again on every decoded frame, whose size the header does not bind), duration
and frame count from the container index before any frame is decoded.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PreprocessLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACELLAVA_PREPROCESS_", frozen=True)

    max_bytes: int = Field(100_000_000, gt=0, description="largest upload accepted")
    max_pixels: int = Field(40_000_000, gt=0, description="largest image (width x height) decoded")
    max_video_frame_pixels: int = Field(4096 * 2160, gt=0, description="largest video frame (4K)")
    max_decoded_video_pixels: int = Field(
        6_000_000_000, gt=0, description="most pixels decoded from one video, counting frames decoded only to "
                                         "reach a sampled one (about 3000 frames of 1080p)")
    max_video_seconds: float = Field(600.0, gt=0, description="longest video accepted")
    max_video_frames: int = Field(36_000, gt=0, description="most frames a video may have")
    decode_timeout_s: float = Field(30.0, gt=0, description="time budget for one upload inside a worker")
