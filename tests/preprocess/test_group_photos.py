"""Every face once: group photos, real and composed, give each person exactly once with default settings.

The oracle for where the people are is independent of our detector: dlib's HOG detector (dlib-bin) on the real
photo, and the known paste positions on the composites.
"""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest

from devkit.media import astronaut, coffee
from devkit.package_photos import as_png, group_photo
from service.preprocess.dedup import Detection, merge_duplicates, same_face
from service.preprocess.geometry import Box, centre
from service.preprocess.types import Face

from .conftest import run

_HEAD = (10, 250, 170, 410)  # rows, columns of the astronaut's head and shoulders (her face is ~95 px of 240)


def _people(rgb: np.ndarray) -> list[Box]:
    """Face boxes from dlib's HOG detector, upsampled once (it finds all six people in t1.jpg)."""
    return [(r.left(), r.top(), r.right(), r.bottom()) for r in dlib.get_frontal_face_detector()(rgb, 1)]


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _assert_each_once(faces: list[Face], people: list[Box]) -> None:
    """Every face returned is one of the people, and no person is returned twice."""
    owners = []
    for face in faces:
        owner = [i for i, person in enumerate(people) if _inside(centre(face.box), person)
                 or _inside(centre(person), face.box)]
        assert len(owner) == 1, f"face {face.box} matches people {owner}"
        owners += owner
    assert len(owners) == len(set(owners)), f"a person came back twice: {sorted(owners)}"


def _composite(places: list[tuple[int, int]], side: int, width: int = 1000, height: int = 667
               ) -> tuple[np.ndarray, list[Box]]:
    """Heads pasted on the coffee photo (every other one mirrored), and the region each head's face is in."""
    canvas = cv2.resize(coffee(), (width, height))
    head = astronaut()[_HEAD[0]: _HEAD[1], _HEAD[2]: _HEAD[3]]
    regions = []
    for i, (x, y) in enumerate(places):
        pasted = cv2.resize(head, (side, side))
        canvas[y: y + side, x: x + side] = pasted[:, ::-1] if i % 2 else pasted
        regions.append((x + 0.2 * side, y + 0.1 * side, x + 0.8 * side, y + 0.75 * side))
    return np.ascontiguousarray(canvas), regions


@pytest.mark.parametrize("scale", [1.0, 0.75, 1.3])
def test_real_group_photo_gives_each_person_once(scale: float) -> None:
    """t1.jpg at three sizes (so the tiles cut different faces): the default five slots hold five different
    people, and with room for more, all six come back, once each."""
    rgb = cv2.resize(group_photo(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    people = _people(rgb)
    assert len(people) == 6
    default = run(as_png(rgb)).faces
    assert len(default) == 5
    _assert_each_once(default, people)
    everyone = run(as_png(rgb), max_faces=10).faces
    assert len(everyone) == 6
    _assert_each_once(everyone, people)


@pytest.mark.parametrize(("side", "x", "y"), [(240, 400, 250), (240, 320, 275), (200, 480, 300), (200, 400, 330)])
def test_faces_cut_by_tile_edges_come_back_once(side: int, x: int, y: int) -> None:
    """The issue's geometry: a 1000 x 667 picture, whose 0.6 tiles end at y = 400 and x = 400 / 600, with a face
    across those edges and two more in the corners. Each face comes back exactly once."""
    rgb, regions = _composite([(x, y), (10, 10), (1000 - side - 10, 667 - side - 10)], side)
    faces = run(as_png(rgb)).faces
    assert len(faces) == 3
    _assert_each_once(faces, regions)


def test_clipped_box_inside_the_full_one_is_the_same_face() -> None:
    full = Detection((100.0, 300.0, 220.0, 421.0), 0.9)
    clipped = Detection((105.0, 300.0, 215.0, 400.0), 0.95, clipped=True)  # IoU 0.76 x 0.83: about 0.25
    merged = merge_duplicates([clipped, full])
    assert merged == [Detection(full.box, 0.95)]  # the unclipped box, the best score


def test_nested_boxes_of_two_sizes_are_one_face_but_neighbours_stay_apart() -> None:
    large, small = (0.0, 0.0, 150.0, 150.0), (40.0, 30.0, 110.0, 100.0)  # IoU 0.22, fully inside
    assert same_face(large, small)
    left, right = (0.0, 0.0, 100.0, 100.0), (80.0, 0.0, 180.0, 100.0)  # touching faces in a crowd
    assert not same_face(left, right)
    assert len(merge_duplicates([Detection(left, 0.9), Detection(right, 0.8)])) == 2


def test_clipped_box_alone_is_kept_and_clipped_box_beside_a_neighbour_is_not_swallowed() -> None:
    alone = Detection((0.0, 0.0, 50.0, 60.0), 0.7, clipped=True)
    assert merge_duplicates([alone]) == [alone]
    neighbour = Detection((45.0, 0.0, 145.0, 100.0), 0.9)  # overlaps the clipped box by a tenth of its area
    assert len(merge_duplicates([alone, neighbour])) == 2
