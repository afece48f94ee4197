"""Video preprocessing cost: our pipeline (`facellava faces CLIP --json`: 8 sampled frames, detection, tracks,
crops, landmarks) against the official recipe (bench/preprocess_official.py: every frame at 24 fps through
PNG), each as a whole process, on 640 x 480 30 fps H.264 clips of 10 s and 60 s. Prints seconds and the ratio
official / ours for each clip (same machine, same run), and how each grows from 10 s to 60 s. Also prints our
per-upload cost in a warm process (what a pool worker pays: no interpreter or model start-up). After a
warm-up pass, the sides take turns for --repeats rounds: medians, spreads and ratios of medians are printed.

Run from the repository root, in the gateway environment:

    .venv/gateway/bin/python -m bench.preprocess_video [--seconds 10 60] [--repeats 3] [--smoke]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.repeats import add_arguments, interleaved, ratio
from devkit.media import encode_clip, moving_face
from service.preprocess.pipeline import preprocess
from service.preprocess.types import PreprocessOptions

OFFICIAL = Path(__file__).resolve().parent / "preprocess_official.py"
FPS = 30


def whole_process(command: Callable[[], list[str]]) -> Callable[[], None]:
    return lambda: subprocess.run(command(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def official(clip: Path, scratch: Path) -> Callable[[], list[str]]:
    """The official recipe's command line, with a fresh work folder and output per run (it refuses to reuse one)."""
    runs = itertools.count()

    def command() -> list[str]:
        run = next(runs)
        return [sys.executable, str(OFFICIAL), str(clip), str(scratch / f"work{run}"), str(scratch / f"out{run}.mp4")]

    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, nargs=2, default=(10, 60), help="the two clip lengths")
    add_arguments(parser, repeats=3)
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.repeats = (1, 2), 2
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seconds in args.seconds:
            clip = Path(scratch) / f"clip{seconds}.mp4"
            clip.write_bytes(encode_clip(moving_face(), seconds * FPS, fps=FPS))
            data = clip.read_bytes()
            ours = [sys.executable, "-m", "service.cli", "faces", str(clip), "--json"]
            samples = interleaved(
                {
                    "ours": whole_process(lambda ours=ours: ours),
                    "official": whole_process(official(clip, Path(scratch) / f"official{seconds}")),
                    "warm": lambda data=data: preprocess(data, PreprocessOptions()),
                },
                args.repeats,
            )
            rows[seconds] = samples
            print(f"{seconds:3d} s clip ({clip.stat().st_size / 1e6:.1f} MB)", flush=True)
            print(f"  ours, whole process       : {samples['ours'].describe()}")
            print(f"  official, whole process   : {samples['official'].describe()}")
            print(f"  ours in a warm worker     : {samples['warm'].describe()}")
            print(f"  official / ours = {ratio(samples['official'], samples['ours'])}; "
                  f"official / ours in a warm worker = {ratio(samples['official'], samples['warm'])}", flush=True)
    short, long = (rows[seconds] for seconds in args.seconds)
    print(f"growth {args.seconds[0]} s -> {args.seconds[1]} s: ours {ratio(long['ours'], short['ours'])}, "
          f"official {ratio(long['official'], short['official'])}")


if __name__ == "__main__":
    main()
