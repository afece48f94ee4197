#!/usr/bin/env python3
"""Entry point of both engine images: vLLM's OpenAI server on the mounted, converted Face-LLaVA folder.

The server's flags come from common/engine_command.py, the one place that knows them (the dev launcher and the
tests use it too), so a container cannot drift from what the tests run; the plugin allow-list comes from
common/engine_protocol.py the same way. This wrapper maps the container's environment onto those and runs the
server as the leader of its own process group (common/child_server.run_in_group): SIGTERM and SIGINT reach the
whole group, and when the API server dies in any way, even by SIGKILL, its engine-core and worker processes are
killed with it, so none is orphaned holding memory (on a GPU it would block the restart) and the container exits
for its restart policy. Arguments given to the container are appended as extra flags.

Environment (defaults in brackets):
  FACELLAVA_MODEL_DIR             converted serving folder [/models/facellava]
  FACELLAVA_DEVICE                gpu (bfloat16, tensor parallel) or cpu (float32, eager) [gpu]
  FACELLAVA_TENSOR_PARALLEL_SIZE  GPUs the LLM is split across; must equal the GPUs given to the container [1]
  FACELLAVA_ENGINE_PORT           [8001]
  FACELLAVA_MAX_MODEL_LEN         context length in tokens; a video alone is 2056 [gpu 4096, cpu 3072]
  FACELLAVA_KV_CACHE_BYTES        CPU only: KV cache size [cpu 256 MiB]
  FACELLAVA_SERVED_MODEL_NAME     model name clients ask for [facellava]
  FACELLAVA_ENGINE_API_KEY        bearer key the /v1 routes require (VLLM_API_KEY); the gateway sends the same
                                  one (both from one Kubernetes Secret) [none: no key]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from common.child_server import run_in_group
from common.engine_command import engine_command
from common.engine_protocol import ENGINE_ENV

DEVICES = ("gpu", "cpu")


class ConfigError(ValueError):
    """A setting the engine cannot start with; reported in one line instead of a vLLM traceback."""


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r}: expected a positive integer")
    return int(raw)


def _optional_positive_int(environ: Mapping[str, str], name: str) -> int | None:
    """Unset means the device's default from common/engine_command.py."""
    return _positive_int(environ, name, 0) if environ.get(name) else None


def server_argv(environ: Mapping[str, str], extra: list[str]) -> list[str]:
    """The argv that starts the engine for this environment (raises ConfigError on a bad setting)."""
    model_dir = Path(environ.get("FACELLAVA_MODEL_DIR", "/models/facellava"))
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"no converted model at {model_dir} (config.json missing): run prepare-model.sh")
    device = environ.get("FACELLAVA_DEVICE", "gpu")
    if device not in DEVICES:
        raise ConfigError(f"FACELLAVA_DEVICE={device!r}: expected one of {', '.join(DEVICES)}")
    return engine_command(
        environ.get("FACELLAVA_ENGINE_PYTHON", sys.executable),
        model_dir,
        host="0.0.0.0",
        port=_positive_int(environ, "FACELLAVA_ENGINE_PORT", 8001),
        served_model_name=environ.get("FACELLAVA_SERVED_MODEL_NAME", "facellava"),
        device=device,
        max_model_len=_optional_positive_int(environ, "FACELLAVA_MAX_MODEL_LEN"),
        kv_cache_bytes=_optional_positive_int(environ, "FACELLAVA_KV_CACHE_BYTES"),
        tensor_parallel_size=_positive_int(environ, "FACELLAVA_TENSOR_PARALLEL_SIZE", 1),
        extra=extra,
    )


def server_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: ENGINE_ENV (our plugins in VLLM_PLUGINS, the stop-string limit) and the key."""
    key = environ.get("FACELLAVA_ENGINE_API_KEY", "")
    return {**environ, **ENGINE_ENV, **({"VLLM_API_KEY": key} if key else {})}


def main() -> None:
    try:
        argv = server_argv(os.environ, sys.argv[1:])
    except ConfigError as error:
        print(f"engine-serve: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(run_in_group(argv, server_env(os.environ)))


if __name__ == "__main__":
    main()
