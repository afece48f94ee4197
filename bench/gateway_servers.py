"""Shared set-up of the gateway benchmarks: a real engine (given by URL, or started here on the tiny model),
and a real gateway in front of it, plus the test photograph. Timings are only compared within one run.

Everything is started with the package's own helpers (common/child_server.py, service/gateway_process.py,
service/stack.py), never the test suite's, so a benchmark runs wherever the service does.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.repeats import add_arguments
from common.child_server import engine_python, engine_server
from devkit.media import astronaut, encode_image
from service.gateway_process import Gateway
from service.stack import build_tiny_model


def parser(description: str) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument(
        "--engine-url",
        help="a running engine (its key, if any, in FACELLAVA_ENGINE_API_KEY); default: start one on --model",
    )
    arguments.add_argument("--model", type=Path, help="converted model folder; default: build the tiny one")
    arguments.add_argument("--max-tokens", type=int, default=16)
    add_arguments(arguments, repeats=5)
    return arguments


def sizes(args: argparse.Namespace) -> argparse.Namespace:
    """--smoke: 2 rounds of 2-token answers, enough to check that every figure is printed."""
    if args.smoke:
        args.repeats, args.max_tokens = 2, 2
    return args


@contextlib.contextmanager
def running_stack(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(engine URL, gateway URL), started for the benchmark and stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="facellava-bench-") as scratch:
        folder = Path(scratch)
        engine = None
        engine_url = args.engine_url
        if engine_url is None:
            model = args.model or build_tiny_model(folder / "model", quiet=True)
            engine = engine_server(engine_python(), model, folder / "engine.log")
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
