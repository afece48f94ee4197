"""`facellava analyze` and `facellava eval` against the real gateway in front of the real vLLM engine (CPU
build, tiny random model): a small labelled set with a face-free image, bytes that are no image, a missing
file and an unknown label. The random model's labels are gibberish-driven, so the metrics are checked by
recomputing them from the answers the service wrote, not against fixed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.media import astronaut, encode_image
from service.batch.cli import analyze_main
from service.batch.records import read_records
from service.eval.cli import answers_file, eval_main
from tests.e2e.conftest import API_KEY

pytestmark = pytest.mark.engine


@pytest.fixture
def data(tmp_path: Path, face_png: bytes, no_face_png: bytes) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.png").write_bytes(face_png)
    (folder / "b.jpg").write_bytes(encode_image(astronaut()[:, ::-1], "jpeg"))
    (folder / "c.png").write_bytes(no_face_png)
    (folder / "d.jpg").write_bytes(b"these bytes are no image")
    return folder


def service_args(gateway) -> list[str]:
    return ["--url", gateway.url, "--api-key", API_KEY]


def test_analyze_folder_resumes(gateway, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    argv = [str(data), "-o", str(out), "--tasks", "age", "--options", "reasoning=false", *service_args(gateway)]
    assert analyze_main(argv) == 0
    records = read_records(out)
    assert sorted(Path(p).name for p, r in records.items() if r["ok"]) == ["a.png", "b.jpg"]
    assert {Path(p).name: r["error"]["code"] for p, r in records.items() if not r["ok"]} == {
        "c.png": "no_face", "d.jpg": "unsupported_media"}
    assert all("age" in r["response"]["faces"][0]["tasks"] for r in records.values() if r["ok"])
    assert "file/s" in capsys.readouterr().err  # tqdm's rate
    assert analyze_main(argv) == 0
    assert len(out.read_text().splitlines()) == 4  # nothing sent again
    assert "4 already done" in capsys.readouterr().err


def test_eval_compares_two_settings(gateway, data: Path, tmp_path: Path) -> None:
    rows = [("a.png", "happy"), ("b.jpg", "sad"), ("c.png", "neutral"), ("d.jpg", "angry"), ("e.jpg", "fear"),
            ("a.png", "bored")]
    manifest = data / "labels.jsonl"
    manifest.write_text("".join(json.dumps({"path": p, "label": label}) + "\n" for p, label in rows))
    out = tmp_path / "eval"
    # Constrained labels: the random model then always names a label, with its probability (for calibration).
    base = "reasoning=false,label_decoding=constrained"
    argv = ["--data", str(manifest), "--task", "expression", "-o", str(out), "--options", base,
            "--compare", "landmarks=auto", "landmarks=off", "--resamples", "200", "--no-progress",
            *service_args(gateway)]
    assert eval_main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    report = (out / "report.md").read_text()
    truth = dict(rows[:4])
    for name, options in (("A", f"{base},landmarks=auto"), ("B", f"{base},landmarks=off")):
        setting = metrics["settings"][name]
        assert setting["answered"] == 2 and setting["failures"] == {"no_face": 1, "unsupported_media": 1}
        answers = read_records(answers_file(out, "expression", options))
        labels = {Path(p).name: r["response"]["faces"][0]["tasks"]["expression"]["labels"]
                  for p, r in answers.items() if r["ok"]}
        assert setting["war"] == sum(bool(v) and v[0] == truth[k] for k, v in labels.items()) / 2
        assert all(len(v) == 1 for v in labels.values())
        assert 0 <= setting["ece"] <= 1 and f"![reliability {name}](reliability-{name}.png)" in report
        assert (out / f"confusion-{name}.png").stat().st_size > 0 and (out / f"reliability-{name}.png").is_file()
    assert "## Comparison" in report and "paired" in report.lower() and "| UAR |" in report
    assert "missing file e.jpg" in report and "unknown expression label 'bored'" in report
    assert eval_main(argv) == 0  # resumes: every answer is already on disk
    assert len(answers_file(out, "expression", f"{base},landmarks=off").read_text().splitlines()) == 4


def test_eval_on_a_dfew_style_folder(gateway, face_clip: bytes, tmp_path: Path) -> None:
    """The acceptance case: a DFEW-style folder, one command, UAR/WAR beside the paper's."""
    root = tmp_path / "DFEW"
    (root / "Clip" / "original").mkdir(parents=True)
    for number in (1, 2):
        (root / "Clip" / "original" / f"{number:05d}.mp4").write_bytes(face_clip)
    split = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    split.mkdir(parents=True)
    (split / "set_1.csv").write_text("video_name,label\n1,1\n2,4\n3,2\n")
    out = tmp_path / "eval"
    argv = ["--dataset", "dfew", "--data", str(root), "-o", str(out), "--no-progress",
            "--options", "reasoning=false,label_decoding=constrained", *service_args(gateway)]
    assert eval_main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["items"] == 2 and metrics["settings"]["run"]["answered"] == 2
    report = (out / "report.md").read_text()
    assert "| 0.469 |" in report and "| 0.564 |" in report and "no media file for 3" in report
    answers = read_records(next(out.glob("predictions-*.jsonl")))
    assert all(r["response"]["faces"][0]["tasks"]["expression"]["tower"] == "video" for r in answers.values())
