"""Repeated, interleaved timing for the benchmarks: a warm-up pass, then several rounds, reported as the median
and the spread (min-max), and comparisons as the ratio of medians with the spread of the per-round ratios.

One timed pass per side is not a measurement on a shared machine: the first pass can include one-off start-up
work (connections, caches, compilation) and a neighbour's load can land on one side only (engine_batching once
printed 1.05x, 3.31x and 4.17x back to back). So every side runs once untimed, then the sides take turns round
by round, so slow periods hit both, and each round gives one ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Samples:
    """Wall times in seconds of one side, one per round."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def describe(self, work: float = 0.0, unit: str = "") -> str:
        """'median s (min-max, n rounds)', plus the rate `work / median` in `unit`/s when work is given."""
        low, high = min(self.seconds), max(self.seconds)
        text = f"{self.median:7.3f} s (spread {low:.3f}-{high:.3f}, {len(self.seconds)} rounds)"
        if work:
            text += f"  = {work / self.median:8.1f} {unit}/s"
        return text


def add_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """--repeats (timed rounds after the warm-up) and --smoke (smallest sizes: CI checks that it runs)."""
    parser.add_argument("--repeats", type=int, default=repeats, help="timed rounds after one warm-up pass")
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, 2 rounds: checks it runs, not speed")


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, Samples]:
    """Warm each run up once, then time them in turn for `repeats` rounds."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: Samples(tuple(seconds)) for name, seconds in times.items()}


def ratio(numerator: Samples, denominator: Samples) -> str:
    """'Nx (per-round a-b)': the ratio of the medians and the range of the ratios of the same rounds."""
    per_round = [n / d for n, d in zip(numerator.seconds, denominator.seconds, strict=True)]
    return f"{numerator.median / denominator.median:.2f}x (per-round {min(per_round):.2f}-{max(per_round):.2f}x)"
