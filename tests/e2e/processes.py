"""The real engine (vLLM CPU build + Face-LLaVA plugin) and the real gateway (`facellava serve`) as
child processes, each in its own process group so a test can kill one outright and start it again on the same
port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from common.engine_command import engine_command
from common.engine_protocol import ENGINE_ENV

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PYTHON = Path(os.environ.get("FACELLAVA_ENGINE_PYTHON", ROOT / ".venv" / "engine" / "bin" / "python"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildServer:
    """A server on 127.0.0.1:`port`, healthy when `health_path` answers 200 within `start_timeout_s`."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        port: int,
        health_path: str,
        start_timeout_s: float,
    ) -> None:
        self.argv, self.env, self.log_path = argv, env, log_path
        self.port, self.health_path, self.start_timeout_s = port, health_path, start_timeout_s
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_and_wait(self) -> None:
        """Start the process (on the same port as before, after a kill) and wait until it is healthy."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[:3]} exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + self.health_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.kill()
        raise RuntimeError(f"not healthy after {self.start_timeout_s:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (vLLM's API server and its engine core) and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Engine(ChildServer):
    def __init__(self, model_dir: Path, log_path: Path) -> None:
        port = free_port()
        argv = engine_command(ENGINE_PYTHON, model_dir, port=port)
        super().__init__(argv, {**os.environ, **ENGINE_ENV}, log_path, port, "/health", start_timeout_s=900)


class Gateway(ChildServer):
    def __init__(self, engine_url: str, log_path: Path, **settings: str) -> None:
        port = free_port()
        env = {
            **os.environ,
            "FACELLAVA_ENGINE_URL": engine_url,
            **{f"FACELLAVA_{key.upper()}": value for key, value in settings.items()},
        }
        argv = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
        super().__init__(argv, env, log_path, port, "/readyz", start_timeout_s=180)


def build_tiny_model(out: Path) -> Path:
    """The tiny random checkpoint, written and converted by the engine environment's `facellava` commands."""
    source, converted = out / "source", out / "converted"
    cli = [str(ENGINE_PYTHON), "-m", "service.cli"]
    subprocess.run([*cli, "tiny-checkpoint", str(source)], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [
            *cli,
            "convert",
            "--facellava",
            str(source / "FaceLLaVA"),
            "--image-tower",
            str(source / "LanguageBind_Image"),
            "--video-tower",
            str(source / "LanguageBind_Video_merge"),
            "--out",
            str(converted),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return converted
