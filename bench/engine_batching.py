"""Continuous batching in the Face-LLaVA engine: N concurrent chat requests vs the same N sent one by one.

A random tiny Face-LLaVA (written and converted by service/stack.py's build_tiny_model, no download) is served by
vLLM's OpenAI server with the project's engine command (CPU build unless --device says otherwise). Every
request carries its own image (a random 256 px crop) so neither the prefix cache nor the encoder cache can
answer one request from another; every answer has the same fixed length (ignore_eos), so both runs do the same
work. Prints each run's wall time and the ratio sequential / concurrent, measured in this run: > 1 means
batching pays. After a warm-up pass of each side, the two take turns for --repeats rounds: each side prints its
median and spread, the ratio is the ratio of medians with the range of the per-round ratios.

Run from the repository root, in the engine environment:

    .venv/engine/bin/python -m bench.engine_batching [--requests 16] [--max-tokens 32] [--repeats 3] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.engine_auth import engine_headers
from bench.repeats import Samples, add_arguments, interleaved, ratio
from common.child_server import engine_server
from common.engine_protocol import CROP_SIZE
from service.stack import build_tiny_model

STARTUP_TIMEOUT_S = 600


def _image_url(rng: np.random.Generator) -> str:
    pixels = rng.integers(0, 256, size=(CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _body(url: str, max_tokens: int) -> dict:
    return {
        "model": "facellava",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "text", "text": "What emotion is shown?"},
                ],
            }
        ],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "ignore_eos": True,
    }


async def _send(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/v1/chat/completions", json=body)
    response.raise_for_status()
    if response.json()["usage"]["completion_tokens"] != body["max_tokens"]:
        raise RuntimeError("an answer had the wrong length; the two runs would not do the same work")


async def _sequential(client: httpx.AsyncClient, bodies: list[dict]) -> None:
    for body in bodies:
        await _send(client, body)


async def _concurrent(client: httpx.AsyncClient, bodies: list[dict]) -> None:
    await asyncio.gather(*(_send(client, body) for body in bodies))


def _measure(base_url: str, requests: int, max_tokens: int, repeats: int) -> dict[str, Samples]:
    """Both sides in turn after a warm-up pass each; every pass gets fresh images (made before timing)."""
    rng = np.random.default_rng(0)
    batches = iter([[_body(_image_url(rng), max_tokens) for _ in range(requests)] for _ in range(2 * (repeats + 1))])
    with asyncio.Runner() as runner:
        client = httpx.AsyncClient(base_url=base_url, timeout=600, headers=engine_headers())
        try:
            return interleaved(
                {
                    "sequential": lambda: runner.run(_sequential(client, next(batches))),
                    "concurrent": lambda: runner.run(_concurrent(client, next(batches))),
                },
                repeats,
            )
        finally:
            runner.run(client.aclose())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument(
        "--engine-url",
        help="a running engine (its key, if any, in FACELLAVA_ENGINE_API_KEY); default: start one on the tiny model",
    )
    add_arguments(parser, repeats=3)
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.max_tokens, args.repeats = 2, 2, 2
    if args.engine_url:
        samples = _measure(args.engine_url, args.requests, args.max_tokens, args.repeats)
    else:
        with tempfile.TemporaryDirectory(prefix="facellava-bench-") as tmp:
            server = engine_server(
                sys.executable,
                build_tiny_model(Path(tmp), quiet=True),
                Path(tmp) / "engine.log",
                start_timeout_s=STARTUP_TIMEOUT_S,
                device=args.device,
                max_model_len=2600,
                kv_cache_bytes=256 << 20,
            )
            server.start_and_wait()
            try:
                samples = _measure(server.url, args.requests, args.max_tokens, args.repeats)
            finally:
                server.stop()
    tokens = args.requests * args.max_tokens
    print(f"{args.requests} image chat requests x {args.max_tokens} new tokens, tiny Face-LLaVA, {args.device}")
    print(f"one by one : {samples['sequential'].describe(tokens, 'tok')}")
    print(f"concurrent : {samples['concurrent'].describe(tokens, 'tok')}")
    print(f"ratio sequential/concurrent: {ratio(samples['sequential'], samples['concurrent'])}")


if __name__ == "__main__":
    main()
