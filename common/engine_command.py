"""The one place that knows how to start the vLLM engine with the Face-LLaVA plugin.

The dev launcher, the test fixtures and the container images all start the same server with the same flags; keeping
them here means a flag the model needs (eight video frames, per-request landmarks, token budget for a 2056-token
video) cannot be forgotten in one of them. Importing this module needs neither torch nor vLLM.
"""

from __future__ import annotations

import json
from pathlib import Path

from common.engine_protocol import FRAMES_PER_VIDEO

# The released towers: 224 px images in 14 px patches -> 16 x 16 patches, plus the CLS token a video frame keeps.
RELEASED_FRAME_TOKENS = (224 // 14) ** 2 + 1
VIDEO_TOKENS = FRAMES_PER_VIDEO * RELEASED_FRAME_TOKENS  # 2056: the largest multimodal item

# vLLM fetches http(s) media URLs unless an allow-list is given; this one names a host that cannot exist (the
# .invalid TLD is reserved, RFC 2606), so the engine fetches nothing: media arrive as data URLs from the gateway,
# which alone decides whether URLs are fetched. Local files are refused already (no --allowed-local-media-path).
NO_MEDIA_FETCH_DOMAIN = "no-media-fetching.invalid"

# Per-device defaults. On CPU (development, CI, the cpu-dev overlay) a shorter context and a fixed 256 MiB KV cache
# keep the engine small beside everything else on the machine; a video request still fits (2056 + prompt + answer).
MAX_MODEL_LEN = {"cpu": 3072, "gpu": 4096}
KV_CACHE_BYTES = {"cpu": 256 * 1024 * 1024, "gpu": None}  # None: vLLM sizes it from --gpu-memory-utilization


def engine_command(
    python: str | Path,
    model_dir: str | Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    served_model_name: str = "facellava",
    device: str = "cpu",
    max_model_len: int | None = None,
    kv_cache_bytes: int | None = None,
    tensor_parallel_size: int = 1,
    extra: list[str] | None = None,
) -> list[str]:
    """Return the argv that starts vLLM's OpenAI server for a converted Face-LLaVA folder.

    `python -m vllm.entrypoints.openai.api_server` rather than the `vllm` console script: the CPU build's script
    looks up the distribution name `vllm` and fails. Per-request landmarks travel as mm_processor_kwargs, which
    vLLM accepts only with --trust-request-mm-kwargs: the engine must therefore be reachable from the gateway only,
    and it runs with media URL fetching off and (where the caller sets VLLM_API_KEY) the gateway's key.
    """
    max_model_len = max_model_len or MAX_MODEL_LEN[device]
    kv_cache_bytes = kv_cache_bytes or KV_CACHE_BYTES[device]
    batched_tokens = max(max_model_len, VIDEO_TOKENS + 512)
    argv = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", served_model_name,
        "--host", host,
        "--port", str(port),
        "--max-model-len", str(max_model_len),
        "--max-num-batched-tokens", str(batched_tokens),
        "--trust-request-mm-kwargs",
        "--media-io-kwargs", json.dumps({"video": {"num_frames": FRAMES_PER_VIDEO}}),
        "--limit-mm-per-prompt", json.dumps({"image": 1, "video": 1}),
        "--enable-prefix-caching",
        "--allowed-media-domains", NO_MEDIA_FETCH_DOMAIN,
    ]
    if device == "cpu":
        argv += ["--dtype", "float32", "--enforce-eager"]
        if kv_cache_bytes:
            argv += ["--kv-cache-memory-bytes", str(kv_cache_bytes)]
    else:
        argv += ["--dtype", "bfloat16", "--tensor-parallel-size", str(tensor_parallel_size)]
    return argv + list(extra or [])
