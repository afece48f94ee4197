"""A server run as a child process: started in its own process group, awaited on a health URL, stopped whole.

The quickstart launcher, the end-to-end and engine tests and the batching benchmark all start vLLM's server (and
the gateway) this way. vLLM's API server spawns an engine-core process, so stopping means signalling the whole
process group, and a start is only done when the health URL answers 200, not when the process exists. The group
is killed even when its leader has already gone: a SIGKILLed API server leaves its engine core (and, on a GPU,
its memory) behind otherwise. run_in_group does the same for the container entrypoint. Needs httpx, not torch:
both environments import it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from common.engine_command import engine_command
from common.engine_protocol import ENGINE_ENV

ROOT = Path(__file__).resolve().parent.parent


def engine_python() -> Path:
    """The engine environment's interpreter: FACELLAVA_ENGINE_PYTHON (set by scripts/), else .venv/engine."""
    return Path(os.environ.get("FACELLAVA_ENGINE_PYTHON", ROOT / ".venv" / "engine" / "bin" / "python"))


class ChildServerError(RuntimeError):
    """The server exited or never became healthy; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the usual bind-to-0 idiom)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChildServer:
    """A server on 127.0.0.1:`port`, healthy when `health_path` answers 200 within `start_timeout_s`.

    With a `log_path` its output goes there (appended, so a restart keeps the earlier run's lines); without one it
    shares this process's terminal.
    """

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        port: int,
        health_path: str,
        start_timeout_s: float,
        log_path: Path | None = None,
    ) -> None:
        self.argv, self.env, self.log_path = argv, env, log_path
        self.port, self.health_path, self.start_timeout_s = port, health_path, start_timeout_s
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_and_wait(self, progress: Callable[[], None] | None = None) -> None:
        """Start the process (on the same port as before, after a kill) and wait until it is healthy.

        `progress` is called on every poll that finds it not ready yet, so a launcher can show that it is waiting.
        """
        if self.log_path is None:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, start_new_session=True)
        else:
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChildServerError(f"{self.argv[:3]} exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + self.health_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if progress is not None:
                progress()
            time.sleep(1)
        self.kill()
        raise ChildServerError(f"not healthy after {self.start_timeout_s:.0f} s:\n{self.log_tail()}")

    def exited(self) -> bool:
        """Whether the server's main process has ended (what is left of its group may still run)."""
        return self.process is None or self.process.poll() is not None

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + self.health_path, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL the whole process group (vLLM's API server and its engine core), leader gone or not, and reap."""
        if self.process is not None:
            kill_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left of it after 30 s (or at once when the
        leader has already gone: nothing would finish the stragglers' shutdown)."""
        if self.process is not None and self.process.poll() is None:
            kill_group(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        self.kill()

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(output went to the terminal)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def kill_group(pgid: int, sig: int) -> None:
    """Signal a process group; a group with no process left is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def run_in_group(argv: list[str], env: Mapping[str, str]) -> int:
    """Run argv as the leader of a new process group until it exits, then kill the rest of the group; return its
    exit status (128 + signal when a signal ended it, as a shell reports it).

    For a container entrypoint: SIGTERM and SIGINT are passed on to the whole group, and when the server dies in
    any way (even SIGKILL, which it cannot handle) no process it started outlives it, so the container exits and
    its restart policy starts a clean one.
    """
    process = subprocess.Popen(argv, env=dict(env), start_new_session=True)

    def forward(signum: int, _: object) -> None:
        kill_group(process.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    status = process.wait()
    kill_group(process.pid, signal.SIGKILL)
    return 128 - status if status < 0 else status


def engine_server(
    python: str | Path,
    model_dir: str | Path,
    log_path: Path | None,
    *,
    port: int | None = None,
    start_timeout_s: float = 900,
    api_key: str | None = None,
    **engine_options: object,
) -> ChildServer:
    """vLLM's OpenAI server for a converted folder (on a free port unless one is given), plugins named; with
    `api_key`, its /v1 routes require that bearer key (VLLM_API_KEY: in the environment, not on the command
    line where any local user could read it)."""
    port = port or free_port()
    argv = engine_command(python, model_dir, port=port, **engine_options)
    env = {**os.environ, **ENGINE_ENV, **({"VLLM_API_KEY": api_key} if api_key else {})}
    return ChildServer(argv, env, port, "/health", start_timeout_s, log_path)
