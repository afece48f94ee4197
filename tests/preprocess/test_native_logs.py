"""MediaPipe's harmless native log lines are dropped, everything else written to stderr still comes out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.preprocess.native_logs import harmless_native_logs_dropped

ROOT = Path(__file__).resolve().parents[2]

_FRESH_RUN = """
import sys
from service.preprocess.pipeline import preprocess, release_models
from service.preprocess.types import PreprocessOptions
from devkit.media import astronaut, encode_image
faces = preprocess(encode_image(astronaut(), "PNG"), PreprocessOptions()).faces
release_models()
print(len(faces))
"""


def test_a_fresh_process_prints_no_mediapipe_noise() -> None:
    """The lines appear once per process (graph start-up, first face meshed), so a new interpreter is needed."""
    done = subprocess.run([sys.executable, "-c", _FRESH_RUN], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert done.stdout.strip() == "1"
    for noise in ("Feedback manager", "NORM_RECT", "XNNPACK", "absl::InitializeLog"):
        assert noise not in done.stderr, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_other_lines_written_meanwhile_still_reach_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with harmless_native_logs_dropped():
        os.write(2, b"W0000 inference_feedback_manager.cc:114] Feedback manager requires a model with a single "
                    b"signature inference.\n")
        os.write(2, b"a real error\n")
    assert capfd.readouterr().err == "a real error\n"
