"""The engine environment's console scripts, `facellava-convert` and `facellava-tiny-checkpoint` (which
`facellava convert` and `facellava tiny-checkpoint` hand over to). They are entry points of the model side so that
the gateway's code never imports the model's, not even lazily (the import contracts in pyproject.toml); run in the
gateway environment, where torch is missing on purpose, they say where to run them instead of printing a
traceback."""

from __future__ import annotations

import importlib
import sys

# Installed only in the engine environment.
ENGINE_PACKAGES = ("torch", "vllm", "transformers", "safetensors")
ENGINE_ENTRY_POINT = ".venv/engine/bin/facellava"


# command -> "module:function taking argv and returning an exit status"
COMMANDS = {
    "convert": "conversion.convert:convert_main",
    "tiny-checkpoint": "conversion.tiny_checkpoint:tiny_checkpoint_main",
}


def run_engine_command(command: str, argv: list[str]) -> int:
    """Import the command's module and run it on argv; a missing engine package is a one-line hint and exit 2."""
    module, function = COMMANDS[command].split(":")
    try:
        handler = getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in ENGINE_PACKAGES:
            raise
        print(
            f"facellava {command} needs the engine environment ({error.name} is not installed here): "
            f"run it with {ENGINE_ENTRY_POINT} {command} ...",
            file=sys.stderr,
        )
        return 2
    return handler(argv)


def convert() -> int:
    """`facellava-convert ...` (= `facellava convert ...`)."""
    return run_engine_command("convert", sys.argv[1:])


def tiny_checkpoint() -> int:
    """`facellava-tiny-checkpoint ...` (= `facellava tiny-checkpoint ...`)."""
    return run_engine_command("tiny-checkpoint", sys.argv[1:])


if __name__ == "__main__":  # `python -m conversion.commands COMMAND ...`: how `facellava COMMAND` hands over
    sys.exit(run_engine_command(sys.argv[1], sys.argv[2:]))
