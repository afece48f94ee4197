"""`facellava tiny-checkpoint` and `facellava convert` through their real dispatcher (conversion/commands.py, the
engine environment's console scripts), the hand-over from `facellava` (service/cli.py) to it, and the gateway
environment's ability to import `facellava` without torch."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conversion.commands import run_engine_command
from conversion.tiny_checkpoint import TinyCheckpoint, TinySpec, TransformerSize, write_tiny_checkpoint
from tests.checkpoint.conftest import rewrite_safetensors

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_PYTHON = ROOT / ".venv" / "gateway" / "bin" / "python"


def main(argv: list[str]) -> int:
    return run_engine_command(argv[0], argv[1:])


def test_facellava_hands_engine_commands_to_their_console_script() -> None:
    argv = [sys.executable, "-m", "service.cli", "convert", "--help"]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: facellava convert")


def test_tiny_checkpoint_then_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    assert main(["tiny-checkpoint", str(src), "--seed", "7", "--format", "bin", "--no-landmarks"]) == 0
    assert (src / "FaceLLaVA" / "pytorch_model.bin").is_file()
    out = tmp_path / "serving"
    status = main(
        [
            "convert",
            "--facellava",
            str(src / "FaceLLaVA"),
            "--image-tower",
            str(src / "LanguageBind_Image"),
            "--video-tower",
            str(src / "LanguageBind_Video_merge"),
            "--out",
            str(out),
            "--max-shard-size",
            "100kB",
        ]
    )
    assert status == 0
    assert "landmark conditioning off" in capsys.readouterr().out
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert json.loads((out / "config.json").read_text())["landmark_conditioning"] == "off"


def test_refused_conversion_exits_2_with_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "src"
    assert main(["tiny-checkpoint", str(src)]) == 0
    args = [
        "convert",
        "--facellava",
        str(src / "FaceLLaVA"),
        "--image-tower",
        str(src / "LanguageBind_Video_merge"),
        "--video-tower",
        str(src / "LanguageBind_Video_merge"),
        "--out",
        str(tmp_path / "out"),
    ]
    with caplog.at_level(logging.ERROR, logger="facellava.convert"):
        assert main(args) == 2
    assert "conversion refused" in caplog.text
    assert "field 'model_type'" in caplog.text


def test_ignore_unknown_option_reaches_the_converter(tiny: TinyCheckpoint, tmp_path: Path) -> None:
    extra = "model.vision_resampler.weight"
    rewrite_safetensors(tiny.facellava / "model.safetensors", lambda s: s.update({extra: torch.zeros(2)}))
    out = tmp_path / "serving"
    args = [
        "convert",
        "--facellava",
        str(tiny.facellava),
        "--image-tower",
        str(tiny.image_tower),
        "--video-tower",
        str(tiny.video_tower),
        "--out",
        str(out),
    ]
    assert main(args) == 2
    assert main([*args, "--ignore-unknown"]) == 0
    assert json.loads((out / "conversion_report.json").read_text())["ignored_unknown_tensors"] == [extra]


def test_tiny_checkpoint_refuses_heads_that_do_not_split_the_width(tmp_path: Path) -> None:
    spec = TinySpec(llm=TransformerSize(hidden=64, intermediate=172, layers=2, heads=3))
    with pytest.raises(ValueError, match="LLM hidden size 64 is not a multiple of its 3 heads"):
        write_tiny_checkpoint(tmp_path / "tiny", spec=spec)
    assert not (tmp_path / "tiny").exists()


def test_bad_cli_options_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--facellava", str(tmp_path), "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["tiny-checkpoint", str(tmp_path / "t"), "--format", "onnx"])


def test_gateway_environment_imports_the_dispatcher_without_torch() -> None:
    code = "import sys, service.cli; assert 'torch' not in sys.modules and 'model' not in sys.modules"
    result = subprocess.run(
        [str(GATEWAY_PYTHON), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("subcommand", ["convert", "tiny-checkpoint"])
def test_engine_subcommand_in_the_gateway_environment_names_the_engine_entry_point(subcommand: str) -> None:
    code = f"import sys; from service.cli import main; sys.exit(main([{subcommand!r}, '--help']))"
    result = subprocess.run(
        [str(GATEWAY_PYTHON), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f".venv/engine/bin/facellava {subcommand}" in result.stderr
    assert "Traceback" not in result.stderr
