"""What README and docs/usage.md say about `make serve`'s ports and arguments is what the Makefile and the
launcher do: `make serve PORT=.. ENGINE_PORT=.. HOST=.. MODEL=..` reaches service/stack.py as its options."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from common.child_server import ROOT
from service.stack import main as stack_main


def make_serve(*assignments: str) -> list[str]:
    """The command `make serve` would run (make -n prints it without running it)."""
    printed = subprocess.run(["make", "-s", "-n", "serve", *assignments], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    return shlex.split(printed.replace("\\\n", " "))


def test_make_serve_passes_ports_host_and_model():
    argv = make_serve("PORT=9000", "ENGINE_PORT=9001", "HOST=0.0.0.0", "MODEL=/models/x", "ARGS=--device gpu")
    assert argv == ["./scripts/serve", "--port", "9000", "--engine-port", "9001", "--host", "0.0.0.0",
                    "--model", "/models/x", "--device", "gpu"]


def test_plain_make_serve_leaves_the_defaults_to_the_launcher():
    assert make_serve() == ["./scripts/serve"]


def test_the_launcher_documents_every_option_make_passes(capsys):
    with pytest.raises(SystemExit) as done:
        stack_main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--port", "--engine-port", "--host", "--model", "--device"):
        assert option in shown, option


def test_readme_says_where_it_listens_and_how_to_change_it():
    readme = (ROOT / "README.md").read_text()
    for fact in ("8000", "8001", "make serve PORT=", "ENGINE_PORT="):
        assert fact in readme, fact
