"""`facellava COMMAND ...`: each command lives in its own module and is imported only when used, so
`facellava faces` never loads the engine's stack. The engine environment's commands (`convert`,
`tiny-checkpoint`) are console scripts of the model side, run as their own process: the gateway's code never
imports the model's (pyproject.toml's import contracts). `facellava --help` lists them all."""

from __future__ import annotations

import argparse
import importlib
import subprocess
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
}
# The engine environment's commands (conversion/commands.py), run in a process of their own as
# `python -m conversion.commands COMMAND ...`: command -> one sentence for --help.
ENGINE_COMMANDS = {
    "convert": "turn the three downloaded checkpoint folders into one serving folder (engine environment)",
    "tiny-checkpoint": "write a tiny random Face-LLaVA checkpoint for tests and demos (engine environment)",
}


def parser() -> argparse.ArgumentParser:
    """Used for `--help` and for refusing an unknown command; a known command's flags are its own module's."""
    parser = argparse.ArgumentParser(
        prog="facellava",
        description="Face-LLaVA serving: the gateway, its face pipeline, batch analysis, evaluation and "
        "checkpoint tools. `facellava COMMAND --help` describes a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sentences = {**{name: sentence for name, (_, sentence) in SUBCOMMANDS.items()}, **ENGINE_COMMANDS}
    for name, sentence in sentences.items():
        commands.add_parser(name, help=sentence, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ENGINE_COMMANDS:
        return subprocess.call([sys.executable, "-m", "conversion.commands", *argv])
    if not argv or argv[0] not in SUBCOMMANDS:
        try:
            parser().parse_args(argv)  # prints the help (exit 0) or the usage and the error (exit 2)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 2
    module, function = SUBCOMMANDS[argv[0]][0].split(":")
    return getattr(importlib.import_module(module), function)(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
