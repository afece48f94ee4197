"""Images per second through the preprocessing worker pool with 1 and 2 processes, against the same images run
one after another in this process (the baseline, measured in the same run), on the 512 px astronaut JPEG.

usage: python bench/preprocess_pool.py [--images N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.preprocess.pipeline import preprocess  # noqa: E402 (after the path set-up)
from service.preprocess.pool import PreprocessPool  # noqa: E402
from service.preprocess.types import PreprocessOptions  # noqa: E402
from tests.preprocess.media import astronaut, encode_image  # noqa: E402

OPTIONS = PreprocessOptions()


async def through_pool(processes: int, image: bytes, count: int) -> float:
    pool = PreprocessPool(processes=processes, max_queue=count)
    try:
        await pool.warm_up()
        start = time.perf_counter()
        await asyncio.gather(*(pool.submit(image, OPTIONS) for _ in range(count)))
        return count / (time.perf_counter() - start)
    finally:
        pool.close()


def in_process(image: bytes, count: int) -> float:
    preprocess(image, OPTIONS)  # model set-up is not part of the rate
    start = time.perf_counter()
    for _ in range(count):
        preprocess(image, OPTIONS)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    image = encode_image(astronaut(), "JPEG", quality=90)
    baseline = in_process(image, args.images)
    print(f"in-process, serial: {baseline:6.1f} images/s (baseline)")
    for processes in (1, 2):
        rate = asyncio.run(through_pool(processes, image, args.images))
        print(f"pool, {processes} process(es): {rate:6.1f} images/s = {rate / baseline:4.2f}x baseline")


if __name__ == "__main__":
    main()
