#!/usr/bin/env python3
"""Entry point of both engine images: vLLM's OpenAI server on the mounted, converted Face-LLaVA folder.

The server's flags come from common/engine_command.py, the one place that knows them (the dev launcher and the
tests use it too), so a container cannot drift from what the tests run; the plugin allow-list comes from
common/engine_protocol.py the same way. This wrapper only maps the container's environment onto those, then
replaces itself with the server (exec), so the signals Kubernetes or Docker send reach vLLM directly.
Arguments given to the container are appended as extra flags.

Environment (defaults in brackets):
  FACELLAVA_MODEL_DIR             converted serving folder [/models/facellava]
  FACELLAVA_DEVICE                gpu (bfloat16, tensor parallel) or cpu (float32, eager) [gpu]
  FACELLAVA_TENSOR_PARALLEL_SIZE  GPUs the LLM is split across; must equal the GPUs given to the container [1]
  FACELLAVA_ENGINE_PORT           [8001]
  FACELLAVA_MAX_MODEL_LEN         context length in tokens; a video alone is 2056 [gpu 4096, cpu 3072]
  FACELLAVA_KV_CACHE_BYTES        CPU only: KV cache size [cpu 256 MiB]
  FACELLAVA_SERVED_MODEL_NAME     model name clients ask for [facellava]
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

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


def main() -> None:
    try:
        argv = server_argv(os.environ, sys.argv[1:])
    except ConfigError as error:
        print(f"engine-serve: {error}", file=sys.stderr)
        sys.exit(2)
    # ENGINE_ENV names our plugins in VLLM_PLUGINS: the model and the /facellava/info endpoint.
    os.execve(argv[0], argv, {**os.environ, **ENGINE_ENV})


if __name__ == "__main__":
    main()
