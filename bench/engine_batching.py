"""Continuous batching in the Face-LLaVA engine: N concurrent chat requests vs the same N sent one by one.

A random tiny Face-LLaVA (model/tiny_checkpoint.py, converted by model/convert.py, no download) is served by
vLLM's OpenAI server with the project's engine command (CPU build unless --device says otherwise). Every
request carries its own image (a random 256 px crop) so neither the prefix cache nor the encoder cache can
answer one request from another; every answer has the same fixed length (ignore_eos), so both runs do the same
work. Prints each run's wall time and the ratio sequential / concurrent, measured in this run: > 1 means
batching pays.

    .venv/engine/bin/python bench/engine_batching.py [--requests 16] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from common.child_server import engine_server
from common.engine_protocol import CROP_SIZE
from model.convert import convert
from model.tiny_checkpoint import write_tiny_checkpoint

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


async def _sequential(client: httpx.AsyncClient, bodies: list[dict]) -> float:
    start = time.perf_counter()
    for body in bodies:
        await _send(client, body)
    return time.perf_counter() - start


async def _concurrent(client: httpx.AsyncClient, bodies: list[dict]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(_send(client, body) for body in bodies))
    return time.perf_counter() - start


async def _measure(base_url: str, requests: int, max_tokens: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    warmup, sequential, concurrent = (
        [_body(_image_url(rng), max_tokens) for _ in range(n)] for n in (2, requests, requests)
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        await _sequential(client, warmup)
        return await _sequential(client, sequential), await _concurrent(client, concurrent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facellava-bench-") as tmp:
        tiny = write_tiny_checkpoint(Path(tmp) / "download", seed=0)
        serving = Path(tmp) / "serving"
        convert(tiny.facellava, tiny.image_tower, tiny.video_tower, serving)
        server = engine_server(
            sys.executable,
            serving,
            Path(tmp) / "engine.log",
            start_timeout_s=STARTUP_TIMEOUT_S,
            device=args.device,
            max_model_len=2600,
            kv_cache_bytes=256 << 20,
        )
        server.start_and_wait()
        try:
            sequential, concurrent = asyncio.run(_measure(server.url, args.requests, args.max_tokens))
        finally:
            server.stop()
    tokens = args.requests * args.max_tokens
    print(
        f"{args.requests} image chat requests x {args.max_tokens} new tokens, tiny Face-LLaVA, {args.device}"
    )
    print(f"one by one : {sequential:7.2f} s  ({tokens / sequential:7.1f} tok/s)")
    print(f"concurrent : {concurrent:7.2f} s  ({tokens / concurrent:7.1f} tok/s)")
    print(f"ratio sequential/concurrent: {sequential / concurrent:.2f}x")


if __name__ == "__main__":
    main()
