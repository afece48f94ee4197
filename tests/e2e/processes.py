"""The real engine (vLLM CPU build + Face-LLaVA plugin) and the real gateway (`facellava serve`) as
child processes, each in its own process group so a test can kill one outright and start it again on the same
port."""

from __future__ import annotations

from pathlib import Path

from common.child_server import ChildServer, engine_python, engine_server
from service.gateway_process import Gateway

__all__ = ["Gateway", "start_engine"]


def start_engine(model_dir: Path, log_path: Path) -> ChildServer:
    return engine_server(engine_python(), model_dir, log_path)
