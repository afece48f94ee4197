"""The gateway (`facellava serve`) as a child server in front of a given engine, configured through its
FACELLAVA_* settings: the end-to-end tests and the gateway benchmarks start it this way, so it lives in the
package rather than in the test suite (benchmarks must not import tests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from common.child_server import ChildServer, free_port


class Gateway(ChildServer):
    """A gateway on a free port of 127.0.0.1; `settings` become FACELLAVA_<KEY> environment variables."""

    def __init__(self, engine_url: str, log_path: Path, **settings: str) -> None:
        port = free_port()
        env = {
            **os.environ,
            "FACELLAVA_ENGINE_URL": engine_url,
            **{f"FACELLAVA_{key.upper()}": value for key, value in settings.items()},
        }
        argv = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
        super().__init__(argv, env, port, "/readyz", start_timeout_s=180, log_path=log_path)
