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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        print(f"usage: facellava {{{','.join(SUBCOMMANDS)}}} ...", file=sys.stderr)
        return 2
    module, function = SUBCOMMANDS[argv[0]].split(":")
    return getattr(importlib.import_module(module), function)(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
