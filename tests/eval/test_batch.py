"""`facellava analyze`'s request loop against an in-process fake of /analyze (httpx.MockTransport): retries
on 429/503 honouring Retry-After, refusals recorded with their code, resume, inputs and options. The same
command runs against the real gateway and engine in tests/e2e/test_e2e_eval.py."""

from __future__ import annotations

import asyncio
import json
import time
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from service.batch.client import AnalyzeClient, RetryPolicy, retry_after_seconds
from service.batch.inputs import collect_files
from service.batch.options import OptionError, parse_options
from service.batch.records import read_records
from service.batch.runner import run_batch
from service.cli import SUBCOMMANDS, main

FAST = RetryPolicy(attempts=4, base_s=0.01, max_s=0.05)


class FakeAnalyze:
    """Answers by file name: `busy*` gets 429 twice then 200, `down*` always 503, `bad*` 422 corrupt_media."""

    def __init__(self, retry_after: str = "0") -> None:
        self.calls: list[str] = []
        self.fields: list[dict[str, str]] = []
        self.retry_after = retry_after

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content.decode("latin-1")
        name = body.split('filename="')[1].split('"')[0]
        self.calls.append(name)
        self.fields.append({k: body.split(f'name="{k}"\r\n\r\n')[1].split("\r\n")[0]
                            for k in ("tasks", "landmarks") if f'name="{k}"' in body})
        if name.startswith("busy") and self.calls.count(name) <= 2:
            return self._error(429, "overloaded")
        if name.startswith("down"):
            return self._error(503, "engine_unavailable")
        if name.startswith("bad"):
            return httpx.Response(422, json={"error": {"code": "corrupt_media", "message": "undecodable"}})
        return httpx.Response(200, json={"faces": [], "name": name})

    def _error(self, status: int, code: str) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": "later"}},
                              headers={"Retry-After": self.retry_after})


def run(paths: list[Path], fake: FakeAnalyze, out: Path, fields: dict[str, str] | None = None,
        retry: RetryPolicy = FAST):
    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake), base_url="http://test") as http:
            return await run_batch(paths, AnalyzeClient(http, fields or {}, retry), out, 3, progress=False)

    return asyncio.run(go())


@pytest.fixture
def media(tmp_path: Path) -> list[Path]:
    names = ["ok1.jpg", "busy.jpg", "bad.png", "down.mp4", "ok2.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    return [tmp_path / name for name in names] + [tmp_path / "missing.jpg"]


def test_failures_are_recorded_and_not_fatal(media: list[Path], tmp_path: Path) -> None:
    fake, out = FakeAnalyze(), tmp_path / "out.jsonl"
    summary = run(media, fake, out)
    records = read_records(out)
    assert len(records) == 6 and summary.ok == 3
    assert records[str(media[1])]["attempts"] == 3 and records[str(media[1])]["ok"]
    assert records[str(media[2])]["error"]["code"] == "corrupt_media" and records[str(media[2])]["status"] == 422
    assert records[str(media[3])]["error"]["code"] == "engine_unavailable" and records[str(media[3])]["attempts"] == 4
    assert records[str(media[5])]["error"]["code"] == "missing_file"
    assert dict(summary.failures) == {"corrupt_media": 1, "engine_unavailable": 1, "missing_file": 1}
    assert summary.unfinished == 2  # the 503 and the missing file are tried again next time


def test_a_second_run_resumes(media: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run(media, FakeAnalyze(), out)
    again = FakeAnalyze()
    summary = run(media, again, out)
    assert again.calls == ["down.mp4"] * 4 and summary.skipped == 4
    with out.open("a") as handle:
        handle.write('{"path": "torn')  # a run killed mid-line
    assert len(read_records(out)) == 6


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    (tmp_path / "busy.jpg").write_bytes(b"x")
    started = time.perf_counter()
    run([tmp_path / "busy.jpg"], FakeAnalyze(retry_after="1"), tmp_path / "out.jsonl")
    assert time.perf_counter() - started >= 2.0  # two 429s, each asking for 1 s


def test_retry_after_formats() -> None:
    assert retry_after_seconds("3") == 3 and retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert 8 < retry_after_seconds(formatdate(time.time() + 10, usegmt=True)) <= 10
    assert RetryPolicy(base_s=1, max_s=4).delay(5, None) <= 5 and RetryPolicy().delay(0, 30) == 30


def test_options_travel_as_form_fields(media: list[Path], tmp_path: Path) -> None:
    fake = FakeAnalyze()
    fields = parse_options("landmarks=off", ["expression", "age"])
    run(media[:1], fake, tmp_path / "out.jsonl", fields)
    assert fake.fields == [{"tasks": "expression,age", "landmarks": "off"}]


@pytest.mark.parametrize("text", ["landmarks=sometimes", "temperature", "colour=red", "max_faces=0"])
def test_bad_options_are_refused_before_any_request(text: str) -> None:
    with pytest.raises(OptionError):
        parse_options(text)


def test_inputs_from_files_folders_and_manifests(tmp_path: Path) -> None:
    for name in ["d/a.jpg", "d/sub/b.MP4", "d/notes.txt", "c.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# clips\nc.png\n\nd/a.jpg\n")
    (tmp_path / "list.jsonl").write_text(json.dumps({"path": str(tmp_path / "c.png")}) + "\n")
    found = collect_files([tmp_path / "d", tmp_path / "list.txt", tmp_path / "list.jsonl", tmp_path / "x.jpg"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["d/a.jpg", "d/sub/b.MP4", "c.png", "x.jpg"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    for name, (_, sentence) in SUBCOMMANDS.items():
        assert name in shown and sentence.split()[0] in shown
    assert main(["analyze", "--options", "colour=red", "x.jpg", "-o", "out.jsonl"]) == 2


def test_eval_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from service.eval.cli import eval_main

    (tmp_path / "m.jsonl").write_text('{"path": "gone.jpg", "label": "sad"}\n')
    assert eval_main(["--data", str(tmp_path), "-o", str(tmp_path / "o")]) == 2  # a folder needs --dataset
    assert eval_main(["--data", str(tmp_path), "--dataset", "dfew", "-o", str(tmp_path / "o")]) == 2
    assert eval_main(["--data", str(tmp_path / "m.jsonl"), "--task", "expression", "-o", str(tmp_path / "o")]) == 2
    assert eval_main(["--data", str(tmp_path), "--dataset", "rafdb", "--task", "age", "-o", str(tmp_path)]) == 2
    errors = capsys.readouterr().err
    assert "give --dataset" in errors and "no set_1.csv" in errors and "missing file gone.jpg" in errors
    assert "labelled for expression" in errors


def test_an_interrupted_run_says_how_to_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import service.batch.service_args as service_args

    async def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(service_args, "run_batch", interrupted)
    (tmp_path / "a.jpg").write_bytes(b"x")
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out.jsonl"), "--no-progress"])
    assert exit_.value.code == 130 and "run the same command again to resume" in capsys.readouterr().err
