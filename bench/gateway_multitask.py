"""Five tasks on one face in one /analyze request against five single-task requests, on the same photograph.

In one request the gateway preprocesses once and sends the five questions together, so the engine batches them
and its prefix cache computes the face's image tokens once. The baselines are five separate requests one after
another (a naive client) and five separate requests at once (a parallel client, which still pays the
preprocessing five times). Ratios below 1 mean the combined request is cheaper. The three sides take turns
after a warm-up pass; each prints its median and spread, each comparison the ratio of medians.

Run from the repository root, in the gateway environment (it starts the engine from .venv/engine, or
FACELLAVA_ENGINE_PYTHON):

    .venv/gateway/bin/python -m bench.gateway_multitask [--engine-url URL] [--repeats 5] [--smoke]
"""

from __future__ import annotations

import concurrent.futures

import httpx

from bench.gateway_servers import face_png, parser, running_stack, sizes
from bench.repeats import interleaved, ratio
from service.tasks.registry import REGISTRY


def main() -> None:
    args = sizes(parser(__doc__.split("\n\n")[0]).parse_args())
    photo = face_png()
    with running_stack(args) as (_, gateway_url), httpx.Client(base_url=gateway_url, timeout=600) as client:

        def analyze(tasks: tuple[str, ...]) -> None:
            response = client.post(
                "/analyze",
                files={"file": ("face.png", photo)},
                data={"tasks": ",".join(tasks), "max_tokens": str(args.max_tokens)},
            )
            response.raise_for_status()

        def separate_parallel() -> None:
            with concurrent.futures.ThreadPoolExecutor(len(REGISTRY.names)) as pool:
                list(pool.map(lambda task: analyze((task,)), REGISTRY.names))

        samples = interleaved(
            {
                "combined": lambda: analyze(REGISTRY.names),
                "sequential": lambda: [analyze((task,)) for task in REGISTRY.names],
                "parallel": separate_parallel,
            },
            args.repeats,
        )
    print(f"one five-task request          : {samples['combined'].describe()}")
    print(f"five single-task, one by one   : {samples['sequential'].describe()}  (baseline)")
    print(f"five single-task, all at once  : {samples['parallel'].describe()}")
    print(f"one five-task request / five sequential requests: {ratio(samples['combined'], samples['sequential'])}")
    print(f"one five-task request / five parallel requests: {ratio(samples['combined'], samples['parallel'])}")


if __name__ == "__main__":
    main()
