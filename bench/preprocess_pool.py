"""Images per second through the preprocessing worker pool with 1 and 2 processes, against the same images run
one after another in this process (the baseline, measured in the same run), on the 512 px astronaut JPEG.
After a warm-up pass of each side (model set-up and worker start are not part of the rate), the three sides take
turns for --repeats rounds: each prints its median rate and spread, and its ratio of medians to the baseline.

Run from the repository root, in the gateway environment:

    .venv/gateway/bin/python -m bench.preprocess_pool [--images 200] [--repeats 3] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio

from bench.repeats import add_arguments, interleaved, ratio
from devkit.media import astronaut, encode_image
from service.preprocess.pipeline import preprocess
from service.preprocess.pool import PreprocessPool
from service.preprocess.types import PreprocessOptions

OPTIONS = PreprocessOptions()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    add_arguments(parser, repeats=3)
    args = parser.parse_args()
    if args.smoke:
        args.images, args.repeats = 4, 2
    image = encode_image(astronaut(), "JPEG", quality=90)
    with asyncio.Runner() as runner:
        pools = {processes: PreprocessPool(processes=processes, max_queue=args.images) for processes in (1, 2)}
        try:
            for pool in pools.values():
                runner.run(pool.warm_up())

            def through(pool: PreprocessPool) -> None:
                async def batch() -> None:
                    await asyncio.gather(*(pool.submit(image, OPTIONS) for _ in range(args.images)))

                runner.run(batch())

            samples = interleaved(
                {
                    "serial": lambda: [preprocess(image, OPTIONS) for _ in range(args.images)],
                    **{f"pool{n}": (lambda pool=pool: through(pool)) for n, pool in pools.items()},
                },
                args.repeats,
            )
        finally:
            for pool in pools.values():
                pool.close()
    print(f"{args.images} images per pass")
    print(f"in-process, serial : {samples['serial'].describe(args.images, 'images')}  (baseline)")
    for processes in pools:
        side = samples[f"pool{processes}"]
        print(f"pool, {processes} process(es): {side.describe(args.images, 'images')}  "
              f"= {ratio(samples['serial'], side)} the baseline's rate")
    print(f"pool, 2 processes / 1 process: {ratio(samples['pool1'], samples['pool2'])} the rate")


if __name__ == "__main__":
    main()
