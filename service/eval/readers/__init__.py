"""Readers for the published layouts of the data sets the paper reports on, plus a generic manifest.

Each reader takes the data set's root folder and a split, and returns EvalData. The registry maps the name a
user passes to `--dataset` to the task it scores and the reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.tasks import TaskName
from service.eval.items import EvalData
from service.eval.readers import action_units, age, attributes, deepfake, expression


@dataclass(frozen=True)
class Reader:
    task: TaskName
    read: Callable[[Path, str | None], EvalData]
    layout: str  # one line for --help and the docs


READERS: dict[str, Reader] = {
    "dfew": Reader("expression", expression.read_dfew,
                   "EmoLabel_DataSplit/test(single-labeled)/set_N.csv + the clips; --split N (fold, default 1)"),
    "mafw": Reader("expression", expression.read_mafw,
                   "single-label split set_N/test.txt (name label) + the clips; --split N (fold, default 1)"),
    "rafdb": Reader("expression", expression.read_rafdb,
                    "EmoLabel/list_patition_label.txt + Image/original or Image/aligned; --split test|train|all"),
    "celeba": Reader("attributes", attributes.read_celeba,
                     "list_attr_celeba.txt (+ list_eval_partition.txt) + the images; --split test|val|train|all"),
    "utkface": Reader("age", age.read_utkface,
                      "images named AGE_GENDER_RACE_DATETIME.jpg[.chip.jpg]"),
    "morph": Reader("age", age.read_morph,
                    "MORPH II images named ID_NGAGE.JPG (G = M or F), e.g. 000123_1M42.JPG"),
    "ffpp": Reader("deepfake", deepfake.read_ffpp,
                   "original_sequences/ (real) and manipulated_sequences/ (fake) videos; splits/test.json used "
                   "when present; --split test|val|train|all"),
    "disfa": Reader("action_units", action_units.read_disfa,
                    "ActionUnit_Labels/SNxxx/SNxxx_auN.txt (frame,intensity; present when >= 2) + frame images in "
                    "a folder named after the subject"),
    "bp4d": Reader("action_units", action_units.read_bp4d,
                   "AUCoding/AU_OCC/Fxxx_Tn.csv (Frame, AU columns; 9 = unknown) + images in .../Fxxx/Tn/"),
}
