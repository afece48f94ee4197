"""Video preprocessing cost: our pipeline (`facellava faces CLIP --json`: 8 sampled frames, detection, tracks,
crops, landmarks) against the official recipe (bench/preprocess_official.py: every frame at 24 fps through
PNG), each as a whole process, on 640 x 480 30 fps H.264 clips of 10 s and 60 s. Prints seconds and the ratio
official / ours for each clip (same machine, same run), and how each grows from 10 s to 60 s. Also prints our
per-upload cost in a warm process (what a pool worker pays: no interpreter or model start-up).

usage: python bench/preprocess_video.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.preprocess.pipeline import preprocess  # noqa: E402 (after the path set-up)
from service.preprocess.types import PreprocessOptions  # noqa: E402
from tests.preprocess.media import encode_clip, moving_face  # noqa: E402

SECONDS = (10, 60)
FPS = 30


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def warm(clip: Path, repeat: int) -> float:
    data = clip.read_bytes()
    preprocess(data, PreprocessOptions())
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        preprocess(data, PreprocessOptions())
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours per clip (median reported)")
    args = parser.parse_args()
    python = sys.executable
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seconds in SECONDS:
            clip = Path(scratch) / f"clip{seconds}.mp4"
            clip.write_bytes(encode_clip(moving_face(), seconds * FPS, fps=FPS))
            ours_command = [python, "-m", "service.cli", "faces", str(clip), "--json"]
            ours = statistics.median(timed(ours_command) for _ in range(args.repeat))
            work, out = Path(scratch) / f"work{seconds}", Path(scratch) / f"out{seconds}.mp4"
            official_script = ROOT / "bench" / "preprocess_official.py"
            official = timed([python, str(official_script), str(clip), str(work), str(out)])
            rows[seconds] = (ours, official)
            in_worker = warm(clip, args.repeat)
            print(f"{seconds:3d} s clip ({clip.stat().st_size / 1e6:.1f} MB): ours {ours:6.2f} s, "
                  f"official {official:6.2f} s, official/ours = {official / ours:5.1f}x; ours in a warm "
                  f"worker {in_worker:5.3f} s = {official / in_worker:5.0f}x", flush=True)
    (ours10, official10), (ours60, official60) = rows[10], rows[60]
    print(f"growth 10 s -> 60 s: ours {ours60 / ours10:.2f}x, official {official60 / official10:.2f}x")


if __name__ == "__main__":
    main()
