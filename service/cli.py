"""`facellava COMMAND ...`: each command lives in its own module and is imported only when used, so
`facellava faces` never loads the engine's stack and vice versa. `facellava --help` lists them."""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> ("module:function taking argv and returning an exit status", one sentence for --help)
SUBCOMMANDS = {
    "serve": ("service.cli_serve:serve_main", "run the gateway (the engine must be running at FACELLAVA_ENGINE_URL)"),
    "faces": ("service.cli_faces:faces_main", "show the faces, boxes and 68 landmarks found in one image or video"),
    "analyze": (
        "service.batch.cli:analyze_main",
        "send files, folders or a manifest to a running service, N at a time, into resumable JSONL",
    ),
    "eval": (
        "service.eval.cli:eval_main",
        "score a running service on a labelled data set with the paper's metrics, or compare two settings",
    ),
    "convert": (
        "model.convert:convert_main",
        "turn the three downloaded checkpoint folders into one serving folder (engine environment)",
    ),
    "tiny-checkpoint": (
        "model.tiny_checkpoint:tiny_checkpoint_main",
        "write a tiny random Face-LLaVA checkpoint for tests and demos (engine environment)",
    ),
}
# Installed only in the engine environment: a subcommand that needs one of them cannot run in the gateway's.
ENGINE_PACKAGES = ("torch", "vllm", "transformers", "safetensors")
ENGINE_ENTRY_POINT = ".venv/engine/bin/facellava"


def parser() -> argparse.ArgumentParser:
    """Used for `--help` and for refusing an unknown command; a known command's flags are its own module's."""
    parser = argparse.ArgumentParser(
        prog="facellava",
        description="Face-LLaVA serving: the gateway, its face pipeline, batch analysis, evaluation and "
        "checkpoint tools. `facellava COMMAND --help` describes a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, sentence) in SUBCOMMANDS.items():
        commands.add_parser(name, help=sentence, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SUBCOMMANDS:
        try:
            parser().parse_args(argv)  # prints the help (exit 0) or the usage and the error (exit 2)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 2
    module, function = SUBCOMMANDS[argv[0]][0].split(":")
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
