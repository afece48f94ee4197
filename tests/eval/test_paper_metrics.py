"""Every metric against values computed by hand in the comments, plus calibration, the paired bootstrap and the
reading of predictions from /analyze records (today's schema and one with per-class `scores`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.eval.bootstrap import paired_differences
from service.eval.calibration import calibration, confidence_points, threshold_table
from service.eval.paper_metrics import confusion, headline, per_class, table
from service.eval.predictions import Prediction, prediction_of


def labels(*names: str) -> Prediction:
    return Prediction(tuple(names))


def test_uar_war_and_confusion() -> None:
    classes = ("happy", "sad", "neutral")
    pairs = [("happy", labels("happy")), ("happy", labels("sad")), ("happy", labels()), ("sad", labels("sad")),
             ("neutral", labels("happy"))]
    t = table("expression", classes, pairs)
    # correct 2 of 5 -> WAR 0.4; recalls happy 1/3, sad 1/1, neutral 0/1 -> UAR 4/9
    assert headline(t) == pytest.approx({"war": 0.4, "uar": 4 / 9})
    assert per_class(t) == pytest.approx([1 / 3, 1, 0])
    assert confusion(t).tolist() == [[1, 1, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]]


def test_uar_leaves_out_classes_with_no_item() -> None:
    t = table("expression", ("happy", "sad", "fear"), [("happy", labels("happy")), ("sad", labels("happy"))])
    assert math.isnan(per_class(t)[2]) and headline(t)["uar"] == pytest.approx(0.5)


def test_deepfake_accuracy() -> None:
    t = table("deepfake", ("real", "fake"), [("real", labels("real")), ("fake", labels("real")), ("fake", labels())])
    assert headline(t) == pytest.approx({"accuracy": 1 / 3})


def test_action_unit_f1_skips_uncoded_units() -> None:
    classes = ("AU1", "AU2", "AU4")
    pairs = [
        ({"AU1": True, "AU2": False, "AU4": False}, labels("AU1")),  # AU1 TP
        ({"AU1": False, "AU2": True, "AU4": False}, labels("AU1", "AU2")),  # AU1 FP, AU2 TP
        ({"AU1": True}, labels("AU2")),  # AU1 FN; AU2 not coded here, so its prediction does not count
    ]
    t = table("action_units", classes, pairs)
    # AU1: 2*1 / (2*1 + 1 + 1) = 0.5; AU2: 2 / 2 = 1; AU4 never occurs nor predicted: no F1
    values = per_class(t)
    assert values[:2] == pytest.approx([0.5, 1.0]) and math.isnan(values[2])
    assert headline(t) == pytest.approx({"mean_f1": 0.75})


def test_attribute_mean_accuracy() -> None:
    classes = ("Smiling", "Male")
    pairs = [({"Smiling": True, "Male": False}, labels("Smiling")),  # both right
             ({"Smiling": False, "Male": True}, labels("Smiling")),  # both wrong
             ({"Smiling": True, "Male": True}, labels("Male"))]  # Smiling wrong, Male right
    t = table("attributes", classes, pairs)
    assert per_class(t) == pytest.approx([1 / 3, 2 / 3]) and headline(t) == pytest.approx({"mean_accuracy": 0.5})


def test_age_mae_over_answers_with_an_age() -> None:
    pairs = [(20.0, Prediction((), 22.0)), (30.0, Prediction(())), (40.0, Prediction((), 35.0))]
    assert headline(table("age", (), pairs)) == pytest.approx({"mae": 3.5})  # (2 + 5) / 2


def test_expected_calibration_error() -> None:
    # bins (0.9, 1]: 2 points, accuracy 0.5, confidence 0.95; (0.5, 0.6]: 1, 1.0 vs 0.55; (0.1, 0.2]: 1, 0 vs 0.15
    # ECE = (2 * 0.45 + 0.45 + 0.15) / 4 = 0.375
    result = calibration(np.array([0.95, 0.95, 0.55, 0.15]), np.array([True, False, True, False]))
    assert result.ece == pytest.approx(0.375) and result.points == 4
    assert result.counts.tolist() == [0, 1, 0, 0, 0, 1, 0, 0, 0, 2]
    rows = threshold_table(np.array([0.95, 0.95, 0.55, 0.15]), np.array([True, False, True, False]), (0.0, 0.5, 0.99))
    assert rows[:2] == [(0.0, 1.0, 0.5), (0.5, 0.75, 2 / 3)] and math.isnan(rows[2][2]) and rows[2][1] == 0
    edges = calibration(np.array([0.0, 0.5, 1.0]), np.array([True, True, True]))
    assert edges.counts[[0, 4, 9]].tolist() == [1, 1, 1]


def test_confidence_points_single_and_multi_label() -> None:
    single = [("happy", Prediction(("happy", "sad"), confidences={"happy": 0.8, "sad": 0.1})),
              ("sad", Prediction(("happy",), confidences={"happy": 0.6})), ("sad", Prediction(("sad",)))]
    confidences, correct = confidence_points(single)
    assert confidences.tolist() == [0.8, 0.6] and correct.tolist() == [True, False]
    multi = [({"AU1": True, "AU2": False}, Prediction(("AU1", "AU2"), confidences={"AU1": 0.9, "AU2": 0.7}))]
    confidences, correct = confidence_points(multi)
    assert confidences.tolist() == [0.9, 0.7] and correct.tolist() == [True, False]


def record(result: dict) -> dict:
    return {"ok": True, "response": {"faces": [{"tasks": {"expression": result}}]}}


def test_prediction_from_todays_schema_and_with_scores() -> None:
    today = {"labels": ["sad"], "confidence": 0.7, "label_confidences": {"sad": 0.7}, "value": None}
    assert prediction_of(record(today), "expression") == Prediction(("sad",), None, {"sad": 0.7})
    scored = {**today, "scores": {"sad": 0.55, "happy": 0.4, "bogus": 3}}
    assert prediction_of(record(scored), "expression").confidences == {"sad": 0.55}
    only_overall = {"labels": ["fear"], "confidence": 0.3, "label_confidences": {}}
    assert prediction_of(record(only_overall), "expression").confidences == {"fear": 0.3}
    assert prediction_of({"ok": False, "error": {"code": "no_face"}}, "expression") is None
    assert prediction_of(record(today), "age") is None
    age = {"ok": True, "response": {"faces": [{"tasks": {"age": {"labels": ["31"], "value": 31}}}]}}
    assert prediction_of(age, "age").value == 31.0


def test_paired_bootstrap() -> None:
    classes = ("real", "fake")
    truths = ["real", "fake"] * 25
    wrong = table("deepfake", classes, [(t, labels("fake" if t == "real" else "real")) for t in truths])
    right = table("deepfake", classes, [(t, labels(t)) for t in truths])
    (same,) = paired_differences(right, right, resamples=200)
    assert (same.delta, same.low, same.high, same.significant) == (0, 0, 0, False)
    (better,) = paired_differences(wrong, right, resamples=200)
    assert (better.a, better.b, better.low, better.high, better.significant) == (0, 1, 1, 1, True)
    # B fixes 2 of 50 items and breaks 1: a +0.02 difference the interval must not call real
    half = table("deepfake", classes, [(t, labels(t if i % 2 else "none")) for i, t in enumerate(truths)])
    mixed = table("deepfake", classes, [(t, labels(t if (i % 2 or i < 4) and i != 1 else "none"))
                                        for i, t in enumerate(truths)])
    (small,) = paired_differences(half, mixed, resamples=500)
    assert small.delta == pytest.approx(0.02) and small.low < 0 < small.high and not small.significant


def test_report_prints_the_papers_numbers_beside_ours(tmp_path) -> None:
    from service.eval.items import EvalData, EvalItem
    from service.eval.report import render
    from service.eval.scoring import SettingResult

    data = EvalData("expression", "dfew", ("happy", "sad"), [EvalItem(tmp_path / "1.mp4", "happy")])
    empty = SettingResult("run", "", {"1.mp4": ("happy", labels("happy"))})
    assert "no answer carried a label confidence" in render(data, "d", [empty], [(empty.calibration(), "")], [],
                                                              None)
    setting = SettingResult("run", "", {"1.mp4": ("happy", labels("happy")),
                                        "2.mp4": ("sad", Prediction(("sad",), confidences={"sad": 0.8}))})
    text = render(data, "dfew", [setting], [(setting.calibration(), "r.png")], ["c.png"], None)
    assert "| UAR | 1.000 | 0.469 |" in text and "| WAR | 1.000 | 0.564 |" in text
    assert "ECE 0.200 over 1 predicted labels" in text and "| 0.9 | 0.000 | – |" in text  # |1 - 0.8|
    assert "![confusion c.png](c.png)" in text
    both = render(data, "dfew", [setting, setting], [(setting.calibration(), "r.png")] * 2, [], ([], 0))
    assert "No item was answered under both settings" in both
