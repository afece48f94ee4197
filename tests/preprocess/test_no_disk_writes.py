"""Uploads are decoded from memory: processing an image and a video adds no file anywhere we can see.

Importing MediaPipe makes matplotlib write its font cache under $HOME once; that happens at start-up, not per
upload, so the snapshot is taken after the models are loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
from service.preprocess.pipeline import _models, preprocess
from service.preprocess.types import PreprocessOptions

def snapshot():
    return sorted(os.path.join(root, name) for folder in sys.argv[1:4]
                  for root, dirs, files in os.walk(folder) for name in dirs + files)

_models()
uploads = [open(path, "rb").read() for path in sys.argv[4:]]
before = snapshot()
kinds = [type(preprocess(data, PreprocessOptions())).__name__ for data in uploads]
after = snapshot()
print(" ".join(kinds), len(before), "new:", sorted(set(after) - set(before)))
"""


def test_processing_uploads_writes_no_file(tmp_path: Path, astronaut_jpeg: bytes, moving_clip: bytes) -> None:
    inputs, work, temp, home = (tmp_path / name for name in ("in", "work", "tmp", "home"))
    for folder in (inputs, work, temp, home):
        folder.mkdir()
    (inputs / "a.jpg").write_bytes(astronaut_jpeg)
    (inputs / "b.mp4").write_bytes(moving_clip)
    env = {"TMPDIR": str(temp), "HOME": str(home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(work), str(temp), str(home), str(inputs / "a.jpg"),
         str(inputs / "b.mp4")],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    kinds_and_counts, new = done.stdout.strip().split(" new: ")
    assert kinds_and_counts.split()[:2] == ["ImageResult", "VideoResult"]
    assert new == "[]"
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []
