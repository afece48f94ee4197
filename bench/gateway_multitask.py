"""Five tasks on one face in one /analyze request against five single-task requests, on the same photograph.

In one request the gateway preprocesses once and sends the five questions together, so the engine batches them
and its prefix cache computes the face's image tokens once. The baselines are five separate requests one after
another (a naive client) and five separate requests at once (a parallel client, which still pays the
preprocessing five times). Ratios below 1 mean the combined request is cheaper.

    .venv/gateway/bin/python -m bench.gateway_multitask [--engine-url URL] [--repeats 5]
"""

from __future__ import annotations

import concurrent.futures

import httpx

from bench.gateway_servers import face_png, median_seconds, parser, running_stack
from service.tasks.registry import REGISTRY


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
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
                list(
                    pool.map(
                        lambda task: httpx.post(
                            f"{gateway_url}/analyze",
                            files={"file": ("f.png", photo)},
                            data={"tasks": task, "max_tokens": str(args.max_tokens)},
                            timeout=600,
                        ).raise_for_status(),
                        REGISTRY.names,
                    )
                )

        combined = median_seconds(lambda: analyze(REGISTRY.names), args.repeats)
        sequential = median_seconds(lambda: [analyze((task,)) for task in REGISTRY.names], args.repeats)
        parallel = median_seconds(separate_parallel, args.repeats)
    print(f"five single-task requests, one after another: 1.000  (baseline, median of {args.repeats})")
    print(f"one five-task request / five sequential requests: {combined / sequential:.3f}")
    print(f"one five-task request / five parallel requests: {combined / parallel:.3f}")


if __name__ == "__main__":
    main()
