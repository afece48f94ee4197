"""What the gateway adds to a request, as a ratio of the engine's own time for the same input.

The baseline sends the engine exactly what the gateway sends for one task on one face (the crop, its
landmarks, the same question and decoding parameters), built here with the gateway's own code from the same
photograph. The gateway run posts the photograph to /analyze, so its extra time is face preprocessing
(decode, detect, landmarks, crop: work a direct engine client would have to do too) plus the gateway proper
(HTTP, encoding, parsing); both parts are printed as fractions of the engine time. The two sides take turns
after a warm-up pass; each prints its median and spread.

Run from the repository root, in the gateway environment (it starts the engine from .venv/engine, or
FACELLAVA_ENGINE_PYTHON):

    .venv/gateway/bin/python -m bench.gateway_overhead [--engine-url URL] [--repeats 5] [--smoke]
"""

from __future__ import annotations

import statistics

import httpx

from bench.engine_auth import engine_headers
from bench.gateway_servers import face_png, parser, running_stack, sizes
from bench.repeats import interleaved, ratio
from common.engine_protocol import INFO_PATH
from service.api.analysis.media_encoding import png_data_url
from service.api.engine.payloads import Sampling, task_payload
from service.preprocess.pipeline import preprocess
from service.preprocess.types import PreprocessOptions
from service.tasks.registry import REGISTRY

PREPROCESS_STAGES = ("queue", "decode", "detect", "landmarks", "crop")


def main() -> None:
    args = sizes(parser(__doc__.split("\n\n")[0]).parse_args())
    photo = face_png()
    face = preprocess(photo, PreprocessOptions(max_faces=1)).faces[0]
    client = httpx.Client(timeout=600, headers=engine_headers())
    with running_stack(args) as (engine_url, gateway_url), client:
        info = client.get(engine_url + INFO_PATH)
        landmarks = (
            face.crop_landmarks
            if info.status_code == 200 and info.json()["landmark_conditioning"] == "on"
            else None
        )
        model = client.get(engine_url + "/v1/models").json()["data"][0]["id"]
        sampling = Sampling(max_tokens=args.max_tokens)
        payload = task_payload(
            model, "image", png_data_url(face.crop), REGISTRY["age"].prompt("image"), sampling, landmarks
        )

        def direct() -> None:
            client.post(engine_url + "/v1/chat/completions", json=payload).raise_for_status()

        timings: list[dict[str, float]] = []

        def through_gateway() -> None:
            response = client.post(
                gateway_url + "/analyze",
                files={"file": ("face.png", photo)},
                data={"tasks": "age", "max_tokens": str(args.max_tokens)},
            )
            response.raise_for_status()
            timings.append(response.json()["timings"])

        samples = interleaved({"engine": direct, "gateway": through_gateway}, args.repeats)
    preprocess_s = statistics.median(sum(t.get(stage, 0.0) for stage in PREPROCESS_STAGES) for t in timings)
    engine_s, gateway_s = samples["engine"].median, samples["gateway"].median
    added_s = gateway_s - engine_s
    print(f"engine direct       : {samples['engine'].describe()}  (baseline)")
    print(f"through the gateway : {samples['gateway'].describe()}")
    print(f"through the gateway / engine direct: {ratio(samples['gateway'], samples['engine'])}")
    print(f"  added by the gateway, total: {added_s / engine_s:+.3%} of the engine time")
    print(f"  of which face preprocessing: {preprocess_s / engine_s:.3%}")
    print(f"  of which the gateway proper: {(added_s - preprocess_s) / engine_s:+.3%}")


if __name__ == "__main__":
    main()
