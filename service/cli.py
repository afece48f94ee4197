"""`facellava SUBCOMMAND ...`: each subcommand lives in its own module and is imported only when used, so
`facellava faces` never loads the engine's stack and vice versa."""

from __future__ import annotations

import importlib
import sys

# subcommand -> "module:function taking argv and returning an exit status"
SUBCOMMANDS = {
    "faces": "service.cli_faces:faces_main",
    "serve": "service.cli_serve:serve_main",
    "convert": "model.convert:convert_main",  # engine environment (torch)
    "tiny-checkpoint": "model.tiny_checkpoint:tiny_checkpoint_main",  # engine environment (torch)
}
# Installed only in the engine environment: a subcommand that needs one of them cannot run in the gateway's.
ENGINE_PACKAGES = ("torch", "vllm", "transformers", "safetensors")
ENGINE_ENTRY_POINT = ".venv/engine/bin/facellava"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        print(f"usage: facellava {{{','.join(SUBCOMMANDS)}}} ...", file=sys.stderr)
        return 2
    module, function = SUBCOMMANDS[argv[0]].split(":")
    try:
        handler = getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as error:
        # Both environments install the same `facellava` script; say which one this subcommand needs rather
        # than print a traceback about a package that is missing on purpose.
        if (error.name or "").split(".")[0] not in ENGINE_PACKAGES:
            raise
        print(
            f"facellava {argv[0]} needs the engine environment ({error.name} is not installed here): "
            f"run it with {ENGINE_ENTRY_POINT} {argv[0]} ...",
            file=sys.stderr,
        )
        return 2
    return handler(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
