"""What sampling each face inside its own span costs: the warm-worker preprocessing time of a 640 x 480 30 fps
H.264 clip whose face leaves the picture after 40 % of the clip (its span's edges are searched and 8 frames
decoded inside it) against the same clip with the face present throughout (the clip's 8 sampled frames are
used as they are), same process, same run. Prints the medians and their ratio per clip length.

usage (from the repository root, gateway environment): python -m bench.preprocess_video_span [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from devkit.media import encode_clip, face_on_screen, moving_face
from service.preprocess.pipeline import preprocess
from service.preprocess.types import PreprocessOptions, VideoResult

SECONDS = (10, 60)
FPS = 30


def median_seconds(data: bytes, repeat: int) -> tuple[float, VideoResult]:
    result = preprocess(data, PreprocessOptions())  # warm-up: models built, code paths loaded
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        preprocess(data, PreprocessOptions())
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per clip (median reported)")
    args = parser.parse_args()
    for seconds in SECONDS:
        n = seconds * FPS
        present = encode_clip(moving_face(), n, fps=FPS)
        leaving = encode_clip(face_on_screen(range(int(0.4 * n)), n), n, fps=FPS)
        full, _ = median_seconds(present, args.repeat)
        span, result = median_seconds(leaving, args.repeat)
        start, end = result.tracks[0].span
        print(f"{seconds:3d} s clip: face throughout {full:.3f} s, face leaving at {0.4 * seconds:.1f} s "
              f"{span:.3f} s (span found {start:.2f}-{end:.2f} s), ratio {span / full:.2f}x", flush=True)


if __name__ == "__main__":
    main()
