"""Every data set reader on a synthetic copy of its published layout, made here (the media files are empty:
readers never decode). Each test checks the truths read, and that bad lines are reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.tasks import BP4D_AUS, CELEBA_ATTRIBUTES, DISFA_AUS
from service.eval.readers import READERS
from service.eval.readers.manifest import read_manifest


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def truths(data) -> dict[str, object]:
    return {item.path.name: item.truth for item in data.items}


def test_dfew_reads_the_fold_of_the_test_split_with_its_numbering(tmp_path: Path) -> None:
    write(tmp_path, "EmoLabel_DataSplit/test(single-labeled)/set_2.csv", "video_name,label\n1,1\n25,7\n30,9\n31,3\n")
    write(tmp_path, "EmoLabel_DataSplit/train(single-labeled)/set_2.csv", "video_name,label\n2,2\n")
    touch(tmp_path, "Clip/original/00001.mp4", "Clip/original/00025.mp4", "Clip/original/00002.mp4",
          "Clip/clip_224x224/00025/00001.jpg")  # extracted frames beside the clips are not clips
    data = READERS["dfew"].read(tmp_path, "2")
    assert truths(data) == {"00001.mp4": "happy", "00025.mp4": "fear"}
    assert data.task == "expression" and len(data.classes) == 7
    assert [p.split(":")[1].strip() for p in data.problems] == ["unknown label '9' for 30", "no media file for 31"]


def test_mafw_accepts_numbers_and_words(tmp_path: Path) -> None:
    lines = "00025.mp4 anger\n00026.mp4 11\n00027.mp4 joy\n"
    write(tmp_path, "Train & Test Set/single/no_caption/set_1/test.txt", lines)
    touch(tmp_path, "clips/00025.mp4", "clips/00026.mp4", "clips/00027.mp4")
    data = READERS["mafw"].read(tmp_path, None)
    assert truths(data) == {"00025.mp4": "angry", "00026.mp4": "disappointment"}
    assert len(data.classes) == 11 and "unknown label 'joy'" in data.problems[0]


def test_rafdb_keeps_the_test_split_and_finds_aligned_images(tmp_path: Path) -> None:
    write(tmp_path, "EmoLabel/list_patition_label.txt", "train_00001.jpg 5\ntest_0001.jpg 1\ntest_0002.jpg 4\n")
    touch(tmp_path, "Image/aligned/test_0001_aligned.jpg", "Image/original/test_0002.jpg",
          "Image/original/train_00001.jpg")
    data = READERS["rafdb"].read(tmp_path, None)
    assert truths(data) == {"test_0001_aligned.jpg": "surprise", "test_0002.jpg": "happy"}
    assert len(READERS["rafdb"].read(tmp_path, "all").items) == 3


def test_celeba_reads_40_attributes_of_the_test_partition(tmp_path: Path) -> None:
    names = list(CELEBA_ATTRIBUTES)
    values = {"000001.jpg": ["1"] + ["-1"] * 39, "000002.jpg": ["-1"] * 39 + ["1"], "000003.jpg": ["1"] * 40}
    rows = "".join(f"{image} {' '.join(v)}\n" for image, v in values.items())
    write(tmp_path, "Anno/list_attr_celeba.txt", f"3\n{' '.join(names)}\n{rows}000004.jpg 1 2\n")
    write(tmp_path, "Eval/list_eval_partition.txt", "000001.jpg 2\n000002.jpg 2\n000003.jpg 0\n000004.jpg 2\n")
    touch(tmp_path, "img_align_celeba/000001.jpg", "img_align_celeba/000002.jpg", "img_align_celeba/000003.jpg")
    data = READERS["celeba"].read(tmp_path, None)
    first, second = (item.truth for item in data.items)
    assert [item.path.name for item in data.items] == ["000001.jpg", "000002.jpg"]
    assert [k for k, v in first.items() if v] == ["5_o_Clock_Shadow"] and [k for k, v in second.items() if v] == [
        "Young"
    ]
    assert len(first) == 40 and "expected 40 values" in data.problems[0]


def test_utkface_and_morph_ages_come_from_file_names(tmp_path: Path) -> None:
    touch(tmp_path, "utk/26_1_0_20170116174525125.jpg.chip.jpg", "utk/3_0_2_20161219140623097.jpg", "utk/x.jpg")
    touch(tmp_path, "morph/000123_1M42.JPG", "morph/004567_02F19.JPG", "morph/notes.png")
    utk = READERS["utkface"].read(tmp_path / "utk", None)
    morph = READERS["morph"].read(tmp_path / "morph", None)
    assert sorted(item.truth for item in utk.items) == [3.0, 26.0]
    assert utk.problems == ["x.jpg: no age in the file name"]
    assert sorted(item.truth for item in morph.items) == [19.0, 42.0] and len(morph.problems) == 1


def test_ffpp_labels_by_folder_and_keeps_the_split(tmp_path: Path) -> None:
    write(tmp_path, "splits/test.json", json.dumps([["953", "974"]]))
    touch(tmp_path, "original_sequences/youtube/c23/videos/953.mp4", "original_sequences/youtube/c23/videos/000.mp4",
          "manipulated_sequences/Deepfakes/c23/videos/953_974.mp4",
          "manipulated_sequences/Face2Face/c23/videos/974_953.mp4",
          "manipulated_sequences/Face2Face/c23/videos/000_003.mp4", "other/x.mp4",
          "manipulated_sequences/Deepfakes/masks/videos/953_974.mp4")
    data = READERS["ffpp"].read(tmp_path, None)
    assert truths(data) == {"953.mp4": "real", "953_974.mp4": "fake", "974_953.mp4": "fake"}
    assert len(READERS["ffpp"].read(tmp_path, "all").items) == 5 and "other/x.mp4" in data.problems[0]


def test_disfa_occurrence_is_intensity_two_or_more(tmp_path: Path) -> None:
    for au in DISFA_AUS:
        lines = {1: "1,0\n2,1\n3,2\n", 12: "1,5\n2,0\n3,0\n"}.get(au, "1,0\n2,0\n3,0\n")
        write(tmp_path, f"ActionUnit_Labels/SN001/SN001_au{au}.txt", lines)
    touch(tmp_path, "frames/SN001/0001.png", "frames/SN001/0003.png", "Videos_LeftCamera/LeftVideoSN001_comp.avi")
    data = READERS["disfa"].read(tmp_path, None)
    (one, three) = (item.truth for item in data.items)
    assert [k for k, v in one.items() if v] == ["AU12"] and [k for k, v in three.items() if v] == ["AU1"]
    assert len(one) == len(DISFA_AUS) and data.problems == ["1 labelled frames have no image, e.g. SN001/2"]


def test_bp4d_leaves_uncoded_units_out(tmp_path: Path) -> None:
    header = ["Frame", *map(str, range(1, 28))]
    rows = [["1"] + ["0"] * 27, ["2"] + ["1"] + ["9"] * 26]
    write(tmp_path, "AUCoding/AU_OCC/F001_T1.csv", "\n".join(",".join(r) for r in [header, *rows]) + "\n")
    touch(tmp_path, "Sequences/F001/T1/0001.jpg", "Sequences/F001/T1/0002.jpg", "Sequences/F001/T2/0001.jpg")
    data = READERS["bp4d"].read(tmp_path, None)
    first, second = (item.truth for item in data.items)
    assert set(first) == {f"AU{n}" for n in BP4D_AUS} and not any(first.values())
    assert second == {"AU1": True}


def test_manifest_reports_missing_files_and_unknown_labels(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    lines = [{"path": "a.jpg", "label": "Happiness"}, {"path": "b.jpg", "label": "bored"},
             {"path": "gone.jpg", "label": "sad"}, {"path": "c.jpg", "label": "contempt"}, {"label": "sad"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n")
    data = read_manifest(manifest, "expression")
    assert truths(data) == {"a.jpg": "happy", "c.jpg": "contempt"} and "contempt" in data.classes
    assert [p.split(": ", 1)[1] for p in data.problems] == [
        "unknown expression label 'bored'", "missing file gone.jpg", "no path", "no path"]


@pytest.mark.parametrize(
    ("task", "label", "expected"),
    [("action_units", ["AU1", 12], {"AU1": True, "AU12": True, "AU4": False}),
     ("action_units", {"au4": 1, "AU2": 0}, {"AU2": False, "AU4": True}),
     ("age", "31", 31.0), ("deepfake", "manipulated", "fake")],
)
def test_manifest_labels_of_every_task(tmp_path: Path, task: str, label: object, expected: object) -> None:
    touch(tmp_path, "a.jpg", "b.jpg")
    other = {"action_units": ["AU4"], "age": 5, "deepfake": "real"}[task]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"path": "a.jpg", "labels": label}) + "\n" + json.dumps({"path": "b.jpg",
                                                                                            "label": other}))
    data = read_manifest(manifest, task)
    assert data.items[0].truth == expected and not data.problems


def test_manifest_csv_and_attribute_lists(tmp_path: Path) -> None:
    touch(tmp_path, "a.jpg")
    (tmp_path / "m.csv").write_text('path,labels\na.jpg,"Smiling,eyeglasses"\n')
    (item,) = read_manifest(tmp_path / "m.csv", "attributes").items
    assert len(item.truth) == 40 and {k for k, v in item.truth.items() if v} == {"Smiling", "Eyeglasses"}


def test_subsample_spreads_over_the_list(tmp_path: Path) -> None:
    touch(tmp_path, *(f"{age}_0_0_1.jpg" for age in range(10, 20)))
    data = READERS["utkface"].read(tmp_path, None)
    data.subsample(3)
    assert [item.truth for item in data.items] == [10.0, 13.0, 16.0]
