"""The reader of hand-labelled photo folders (devkit/labelled_faces.py) that `bench.preprocess_landmarks
--labelled DIR` runs on, e.g. a user's copy of 300-W: .pts parsing and how images and label files pair up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from devkit.labelled_faces import labelled_folder, read_pts


def _pts(points: np.ndarray) -> str:
    """A .pts text as iBUG writes it: 1-based pixels."""
    rows = "\n".join(f"{x + 1:.3f} {y + 1:.3f}" for x, y in points)
    return f"version: 1\nn_points:  {len(points)}\n{{\n{rows}\n}}\n"


def _points(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 60, (68, 2)).astype(np.float32)


def test_pts_is_read_as_zero_based_pixels() -> None:
    points = _points(0)
    assert np.allclose(read_pts(_pts(points))[0], points, atol=1e-3)
    assert read_pts(_pts(np.concatenate([points, points + 5]))).shape == (2, 68, 2)


@pytest.mark.parametrize(("text", "message"), [("version: 1\nn_points: 3\n{\n1 2\n3 4\n5 6\n}", "not a multiple"),
                                               ("no braces at all", "not a .pts file"),
                                               ("{\n1 2 3\n}", "not a .pts file")])
def test_a_file_that_is_not_68_point_labels_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_pts(text, "bad.pts")


def test_folder_pairs_images_with_their_labels(tmp_path: Path) -> None:
    """300-W's layouts: `<stem>.pts` beside the image (LFPW, HELEN) and one `<stem>_<n>.pts` per face (AFW,
    iBUG); images without labels are skipped; folders are searched through symbolic links too."""
    picture = Image.new("RGB", (64, 48), (90, 90, 90))
    picture.save(tmp_path / "single.png")
    (tmp_path / "single.pts").write_text(_pts(_points(1)))
    group = tmp_path / "afw"
    group.mkdir()
    picture.save(group / "group.jpg")
    for n in (1, 2):
        (group / f"group_{n}.pts").write_text(_pts(_points(1 + n)))
    picture.save(tmp_path / "unlabelled.jpg")
    (tmp_path / "unlabelled_2b.pts").write_text(_pts(_points(9)))  # not `_<n>`: belongs to no image here
    picture.save(tmp_path / "scan [1].png")  # glob's metacharacters in a name are plain characters here
    (tmp_path / "scan [1].pts").write_text(_pts(_points(8)))
    linked = tmp_path.parent / f"{tmp_path.name}-link"
    linked.mkdir()
    (linked / "set").symlink_to(tmp_path, target_is_directory=True)

    found = {face.name: face for face in labelled_folder(linked)}
    assert sorted(found) == ["set/afw/group.jpg", "set/scan [1].png", "set/single.png"]
    assert [np.allclose(p, _points(1 + n), atol=1e-3) for n, p in enumerate(found["set/afw/group.jpg"].points, 1)] \
        == [True, True]
    assert found["set/single.png"].rgb.shape == (48, 64, 3)
