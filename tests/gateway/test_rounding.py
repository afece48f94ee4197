"""One rounding rule for face positions, from one helper (service/preprocess/faces_json.placement): pixels to
0.01, detector scores to 4 decimals, in POST /analyze and in `facellava faces --json` alike. The inputs are
float32, as the detector and landmarker give them; the JSON must not show their float32 noise."""

from __future__ import annotations

import json

import numpy as np

from service.preprocess.faces_json import PIXEL_DECIMALS, SCORE_DECIMALS, result_out
from service.preprocess.types import Face, ImageResult, MediaInfo
from tests.gateway.fake_preprocessor import describe, upload


def decimals(value: float) -> int:
    """Digits after the point in the shortest repr that JSON writes (json.dumps uses repr for floats)."""
    text = json.dumps(value)
    assert "e" not in text, text
    return len(text.partition(".")[2])


def assert_rounded(face: dict) -> None:
    coordinates = face["box"] + [c for point in face["landmarks"] for c in point]
    assert max(decimals(c) for c in coordinates) <= PIXEL_DECIMALS, face["box"]
    assert decimals(face["score"]) <= SCORE_DECIMALS, face["score"]


def test_analyze_rounds_box_score_and_landmarks(gateway):
    for spec in (describe(kind="image", faces=2), describe(kind="video", tracks=1)):
        response = upload(gateway, spec, tasks="age")
        assert response.status_code == 200, response.text
        for face in response.json()["faces"]:
            assert_rounded(face)
            for frame in face["frames"] or []:
                assert_rounded(frame)


def test_faces_json_rounds_landmarks_like_the_api():
    points = np.array([[180.14, 101.51]] * 68, dtype=np.float32)  # float32(180.14) = 180.13999938964844
    box = tuple(float(v) for v in np.array([176.7632598, 82.5875701, 272.7125854, 178.5370635], np.float32))
    face = Face(box, float(np.float32(0.9202105)), points, np.zeros((256, 256, 3), np.uint8), points)
    out = json.loads(result_out(ImageResult(MediaInfo("image", "jpeg", 512, 512, 1), [face], {})).model_dump_json())
    (printed,) = out["faces"]
    assert_rounded(printed)
    assert printed["landmarks"][0] == [180.14, 101.51]
    assert printed["box"] == [176.76, 82.59, 272.71, 178.54] and printed["score"] == 0.9202
