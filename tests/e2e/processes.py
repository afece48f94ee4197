"""The real engine (vLLM CPU build + Face-LLaVA plugin) and the real gateway (`facellava serve`) as
child processes, each in its own process group so a test can kill one outright and start it again on the same
port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from common.child_server import ChildServer, engine_python, engine_server, free_port


def start_engine(model_dir: Path, log_path: Path) -> ChildServer:
    return engine_server(engine_python(), model_dir, log_path)


class Gateway(ChildServer):
    def __init__(self, engine_url: str, log_path: Path, **settings: str) -> None:
        port = free_port()
        env = {
            **os.environ,
            "FACELLAVA_ENGINE_URL": engine_url,
            **{f"FACELLAVA_{key.upper()}": value for key, value in settings.items()},
        }
        argv = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
        super().__init__(argv, env, port, "/readyz", start_timeout_s=180, log_path=log_path)
