"""`facellava faces`: output, exit statuses and the --draw picture, in-process and as the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from service.cli import main
from service.cli_faces import faces_main
from service.preprocess.error_codes import exit_status
from service.preprocess.faces_json import ImageFacesOut, VideoFacesOut


@pytest.fixture()
def files(tmp_path: Path, astronaut_jpeg: bytes, coffee_png: bytes, halfway_clip: bytes) -> Path:
    (tmp_path / "face.jpg").write_bytes(astronaut_jpeg)
    (tmp_path / "coffee.png").write_bytes(coffee_png)
    (tmp_path / "clip.mp4").write_bytes(halfway_clip)
    (tmp_path / "noise.bin").write_bytes(os.urandom(1000))
    (tmp_path / "empty.jpg").write_bytes(b"")
    return tmp_path


def test_image_json_has_the_api_fields(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faces_main([str(files / "face.jpg"), "--json"]) == 0
    out = ImageFacesOut.model_validate_json(capsys.readouterr().out)
    assert out.media.type == "image" and out.media.width == 512
    (face,) = out.faces
    assert len(face.box) == 4 and len(face.landmarks) == 68 and all(len(p) == 2 for p in face.landmarks)
    assert set(json.loads(out.model_dump_json())["faces"][0]) >= {"box", "score", "landmarks"}


def test_video_json_has_eight_frames_and_tracks(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faces_main([str(files / "clip.mp4"), "--json"]) == 0
    out = VideoFacesOut.model_validate_json(capsys.readouterr().out)
    assert len(out.frames) == 8 and [f.index for f in out.frames] == sorted(f.index for f in out.frames)
    (track,) = out.tracks
    assert track.tower == "video" and track.presence == 0.5
    assert len(track.faces) == 8 and not any(f.interpolated for f in track.faces)
    assert track.span == [track.faces[0].time, track.faces[-1].time] and track.span[0] >= 20 / 30
    assert [f.frame_index for f in track.faces] == sorted({f.frame_index for f in track.faces})


def test_video_text_names_faces_by_track_and_frame(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9: a track's entries are its frames ("track 0 frame 21 at 0.700 s"), not "face 0 ... face 7"."""
    out = VideoFacesOut.model_validate_json(_json(files / "clip.mp4", capsys))
    lines = _text(files / "clip.mp4", capsys)
    (track,) = out.tracks
    expected = [f"  track 0 frame {f.frame_index} at {f.time:.3f} s: box [" for f in track.faces]
    assert [line[: len(e)] for line, e in zip(lines[-8:], expected, strict=True)] == expected
    assert lines[-9].startswith(f"track 0: present in 50% of sampled frames, video tower, {track.span[0]:.3f}-")
    assert any(line.startswith("  face 0 (track 0): box [") for line in lines)


def _json(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert faces_main([str(path), "--json"]) == 0
    return capsys.readouterr().out


def _text(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert faces_main([str(path)]) == 0
    return capsys.readouterr().out.splitlines()


def test_text_output_lists_every_face(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faces_main([str(files / "face.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("image jpeg 512x512")
    assert lines[1].startswith("face 0: box [") and lines[1].count(",") >= 68


def test_no_face_prints_an_empty_list_and_the_code(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faces_main([str(files / "coffee.png"), "--json"]) == exit_status("no_face")
    captured = capsys.readouterr()
    assert json.loads(captured.out)["faces"] == []
    assert captured.err.startswith("no_face:")


@pytest.mark.parametrize(("name", "code"),
                         [("noise.bin", "unsupported_media"), ("empty.jpg", "empty_media")])
def test_refusals_print_their_code_and_exit_status(files: Path, name: str, code: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert faces_main([str(files / name)]) == exit_status(code)
    captured = capsys.readouterr()
    assert captured.err.startswith(f"{code}: ") and captured.out == ""


def test_bad_option_values_are_usage_errors(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        faces_main([str(files / "face.jpg"), "--max-faces", "0"])
    assert usage.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err


def test_missing_file(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert faces_main([str(files / "absent.jpg")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "size"), [("face.jpg", (512, 512)), ("clip.mp4", (4 * 640, 2 * 480))])
def test_draw_writes_the_annotated_picture(files: Path, name: str, size: tuple[int, int]) -> None:
    out = files / f"{name}.png"
    assert faces_main([str(files / name), "--draw", str(out)]) == 0
    picture = cv2.imread(str(out))
    assert picture is not None and (picture.shape[1], picture.shape[0]) == size


def test_dispatcher_routes_faces_and_rejects_unknown_subcommands(files: Path) -> None:
    assert main(["faces", str(files / "face.jpg")]) == 0
    assert main(["nonsense"]) == 2
    assert main([]) == 2


def test_installed_command(files: Path) -> None:
    command = Path(sys.executable).with_name("facellava")
    done = subprocess.run([str(command), "faces", str(files / "coffee.png")], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == exit_status("no_face")
    assert done.stderr == "no_face: no face found\n"  # MediaPipe's native log lines are kept out
