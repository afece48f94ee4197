"""Faces, 68 landmarks and crops on the astronaut and pictures made from it."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from devkit.media import astronaut, encode_image
from service.preprocess.crop import margin_crop, official_crop
from service.preprocess.geometry import iou
from service.preprocess.types import CROP_SIZE, Face, ImageResult, PreprocessError

from .conftest import run

# iBUG-68 index of each point's mirror image (jaw, brows, nose base, eyes, outer and inner lips).
MIRROR = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


def _haar_box(rgb: np.ndarray) -> tuple[float, float, float, float]:
    """An independent face detector (OpenCV's bundled Haar cascade) as the oracle for where the face is."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    (x, y, w, h), = cascade.detectMultiScale(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 1.1, 5, minSize=(40, 40))
    return float(x), float(y), float(x + w), float(y + h)


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36] - points[45]))


@pytest.fixture(scope="module")
def face(astronaut_jpeg: bytes) -> Face:
    result = run(astronaut_jpeg)
    assert isinstance(result, ImageResult) and len(result.faces) == 1
    return result.faces[0]


def test_astronaut_face_is_where_an_independent_detector_puts_it(face: Face) -> None:
    assert iou(face.box, _haar_box(astronaut())) > 0.5
    assert 0.5 < face.score <= 1.0


def test_result_shapes_and_types(face: Face) -> None:
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    assert face.crop_landmarks.shape == (68, 2) and face.crop_landmarks.dtype == np.float32
    assert face.crop.shape == (CROP_SIZE, CROP_SIZE, 3) and face.crop.dtype == np.uint8
    assert not face.interpolated


def test_landmarks_land_inside_the_face_box(face: Face) -> None:
    x0, y0, x1, y1 = face.box
    pad = 0.1 * (x1 - x0)  # the jaw outline may touch or slightly cross a detector's box
    assert (face.landmarks[:, 0] > x0 - pad).all() and (face.landmarks[:, 0] < x1 + pad).all()
    assert (face.landmarks[:, 1] > y0 - pad).all() and (face.landmarks[:, 1] < y1 + pad).all()
    inner = face.landmarks[17:]
    assert (inner[:, 0] > x0).all() and (inner[:, 0] < x1).all() and (inner[:, 1] > y0).all()


def test_landmarks_left_right_order(face: Face) -> None:
    p = face.landmarks
    assert p[0, 0] < p[8, 0] < p[16, 0]  # jaw from the image's left to its right
    assert p[36:42, 0].mean() < p[30, 0] < p[42:48, 0].mean()  # nose tip between the eyes
    assert p[17:22, 0].mean() < p[22:27, 0].mean()
    assert p[48, 0] < p[51, 0] < p[54, 0]  # mouth corners either side of the upper lip
    assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]  # eye corners, outer-inner-inner-outer


def test_landmarks_top_to_bottom_order(face: Face) -> None:
    p = face.landmarks
    brows, eyes = p[17:27, 1].mean(), p[36:48, 1].mean()
    assert brows < eyes < p[30, 1] < p[33, 1] < p[51, 1] < p[62, 1] <= p[66, 1] < p[57, 1] < p[8, 1]
    assert p[27, 1] < p[28, 1] < p[29, 1] < p[30, 1]  # nose bridge runs down


def test_landmarks_follow_a_mirrored_image(face: Face) -> None:
    """Mirror the photo: each point must land where its mirror partner was (within 5 % of eye distance)."""
    mirrored = run(encode_image(np.ascontiguousarray(astronaut()[:, ::-1]), "PNG")).faces[0].landmarks
    expected = face.landmarks[MIRROR].copy()
    expected[:, 0] = 512 - expected[:, 0]
    error = np.linalg.norm(mirrored - expected, axis=1).mean() / _iod(face.landmarks)
    assert error < 0.05


def test_official_crop_follows_the_training_recipe(face: Face, astronaut_jpeg: bytes) -> None:
    rgb = np.asarray(Image.open(io.BytesIO(astronaut_jpeg)).convert("RGB"))
    x, y = int(face.box[0]), int(face.box[1])
    side = (int(face.box[2] - face.box[0]) + int(face.box[3] - face.box[1])) / 2
    expected = cv2.resize(rgb[y: int(y + side), x: int(x + side)], (256, 256))
    assert np.array_equal(face.crop, expected)
    scale = 256 / (int(x + side) - x)
    assert np.allclose(face.crop_landmarks, (face.landmarks - [x, y]) * scale, atol=1e-3)


def test_official_crop_is_clamped_at_the_border_as_in_training() -> None:
    rgb = np.zeros((100, 120, 3), dtype=np.uint8)
    crop, to_crop = official_crop(rgb, (80.0, 60.0, 119.0, 99.0))  # the square would run past the edges
    assert crop.shape == (256, 256, 3)
    assert (to_crop.origin_x, to_crop.origin_y) == (80, 60)
    assert to_crop.scale_x == pytest.approx(256 / (119 - 80)) and to_crop.scale_y == pytest.approx(256 / 39)


def test_margin_crop_centres_the_face_with_the_margin(face: Face) -> None:
    crop, to_crop = margin_crop(astronaut(), face.box, 0.25)
    corners = to_crop.apply(np.array([[face.box[0], face.box[1]], [face.box[2], face.box[3]]], np.float32))
    assert corners.mean(axis=0) == pytest.approx([128, 128], abs=0.5)
    width, height = corners[1] - corners[0]
    assert max(width, height) == pytest.approx(256 / 1.5, abs=1)  # the box's long side, plus 25 % each side
    assert crop.shape == (256, 256, 3)


def test_margin_option_through_the_pipeline(astronaut_jpeg: bytes, face: Face) -> None:
    result = run(astronaut_jpeg, crop="margin", margin=0.25)
    margin_face = result.faces[0]
    assert np.allclose(margin_face.landmarks, face.landmarks)  # same points, another crop
    nose = margin_face.crop_landmarks[30]
    assert 80 < nose[0] < 176 and 80 < nose[1] < 176


def test_composite_of_four_faces() -> None:
    tile = cv2.resize(astronaut(), (320, 320))
    grid = np.vstack([np.hstack([tile, tile[:, ::-1]]), np.hstack([tile[:, ::-1], tile])])
    faces = run(encode_image(np.ascontiguousarray(grid), "PNG")).faces
    assert len(faces) == 4
    quadrants = {(int(f.box[0] > 320), int(f.box[1] > 320)) for f in faces}
    assert quadrants == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    assert len(run(encode_image(np.ascontiguousarray(grid), "PNG"), max_faces=2).faces) == 2


def test_slightly_rotated_face_is_found() -> None:
    rotation = cv2.getRotationMatrix2D((256, 256), 15, 1.0)
    tilted = cv2.warpAffine(astronaut(), rotation, (512, 512))
    faces = run(encode_image(tilted, "PNG")).faces
    assert len(faces) == 1
    eyes = faces[0].landmarks[[36, 45]]
    angle = np.degrees(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0]))
    assert -25 < angle < -5  # counter-clockwise rotation raises the image-right eye


def test_face_free_image_gives_an_empty_list(coffee_png: bytes) -> None:
    result = run(coffee_png)
    assert result.faces == []
    assert (result.media.width, result.media.height) == (600, 400)


def test_tiny_image_face_is_too_small() -> None:
    with pytest.raises(PreprocessError) as refusal:
        run(encode_image(cv2.resize(astronaut(), (32, 32)), "PNG"))
    assert refusal.value.code == "face_too_small"


def test_blank_tiny_image_gives_an_empty_list() -> None:
    assert run(encode_image(np.full((2, 2, 3), 128, np.uint8), "PNG")).faces == []


def test_faces_under_the_minimum_size_are_refused() -> None:
    small = encode_image(cv2.resize(astronaut(), (256, 256)), "PNG")  # face about 48 px
    assert len(run(small, min_face_px=24).faces) == 1
    with pytest.raises(PreprocessError) as refusal:
        run(small, min_face_px=80)
    assert refusal.value.code == "face_too_small"


def test_huge_image_finds_the_face_at_full_resolution(face: Face) -> None:
    big = cv2.resize(astronaut(), (4096, 4096), interpolation=cv2.INTER_LINEAR)
    result = run(encode_image(big, "JPEG", quality=90))
    assert (result.media.width, result.media.height) == (4096, 4096)
    assert len(result.faces) == 1
    assert iou(result.faces[0].box, tuple(v * 8 for v in face.box)) > 0.8
    assert np.linalg.norm(result.faces[0].landmarks / 8 - face.landmarks, axis=1).mean() < 0.05 * _iod(
        face.landmarks)


def test_timings_cover_every_stage(astronaut_jpeg: bytes) -> None:
    timings = run(astronaut_jpeg).timings
    assert set(timings) == {"decode", "detect", "landmarks", "crop"}
    assert all(v >= 0 for v in timings.values())
