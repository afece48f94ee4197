"""Shared set-up of the gateway benchmarks: a real engine (given by URL, or started here on the tiny model),
and a real gateway in front of it, plus the test photograph. Timings are only compared within one run."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.e2e.processes import Engine, Gateway, build_tiny_model
from tests.preprocess.media import astronaut, encode_image


def parser(description: str) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--engine-url", help="a running engine; default: start one on --model")
    arguments.add_argument("--model", type=Path, help="converted model folder; default: build the tiny one")
    arguments.add_argument("--repeats", type=int, default=5)
    arguments.add_argument("--max-tokens", type=int, default=16)
    return arguments


@contextlib.contextmanager
def running_stack(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(engine URL, gateway URL), started for the benchmark and stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="facellava-bench-") as scratch:
        folder = Path(scratch)
        engine = None
        engine_url = args.engine_url
        if engine_url is None:
            engine = Engine(args.model or build_tiny_model(folder / "model"), folder / "engine.log")
            engine.start_and_wait()
            engine_url = engine.url
        gateway = Gateway(engine_url, folder / "gateway.log", preprocess_workers="1", max_in_flight="64")
        try:
            gateway.start_and_wait()
            yield engine_url, gateway.url
        finally:
            gateway.stop()
            if engine is not None:
                engine.stop()


def face_png() -> bytes:
    return encode_image(astronaut(), "png")


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: caches, connections, first-call compilation
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
