"""One-machine launcher behind `make serve`: the vLLM engine and the gateway, started and stopped together.

On a fresh machine it first writes the tiny random checkpoint and converts it, so the whole service runs with no
download; with FACELLAVA_MODEL pointing at a converted folder (and a GPU) the same command serves the real model.
In production the two processes run as separate containers (docker/, k8s/); this is the quickstart path only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from common.engine_command import engine_command
from common.engine_protocol import ENGINE_ENV

ROOT = Path(__file__).resolve().parent.parent


def _engine_python() -> Path:
    return Path(os.environ.get("FACELLAVA_ENGINE_PYTHON", ROOT / ".venv" / "engine" / "bin" / "python"))


def ensure_tiny_model(var_dir: Path) -> Path:
    """Write and convert the tiny checkpoint once; later starts reuse it."""
    converted = var_dir / "models" / "tiny"
    if (converted / "config.json").exists():
        return converted
    source = var_dir / "models" / "tiny-src"
    cli = [str(_engine_python()), "-m", "service.cli"]
    print("[serve] writing the tiny random Face-LLaVA checkpoint (no download) ...", flush=True)
    subprocess.run([*cli, "tiny-checkpoint", str(source)], check=True, cwd=ROOT)
    print("[serve] converting it to a serving folder ...", flush=True)
    subprocess.run(
        [
            *cli, "convert",
            "--facellava", str(source / "FaceLLaVA"),
            "--image-tower", str(source / "LanguageBind_Image"),
            "--video-tower", str(source / "LanguageBind_Video_merge"),
            "--out", str(converted),
        ],
        check=True,
        cwd=ROOT,
    )
    return converted


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, what: str) -> None:
    """Poll a health URL, printing progress, until it answers 200 or the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"[serve] the {what} exited with status {proc.returncode}; see its log")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                print(f"\n[serve] {what} ready", flush=True)
                return
        except httpx.HTTPError:
            pass
        print(".", end="", flush=True)
        time.sleep(2)
    raise SystemExit(f"[serve] the {what} was not ready after {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facellava-stack", description=__doc__)
    parser.add_argument("--model", default=os.environ.get("FACELLAVA_MODEL"),
                        help="converted serving folder (default: the generated tiny model)")
    parser.add_argument("--device", default=os.environ.get("FACELLAVA_DEVICE", "cpu"), choices=["cpu", "gpu"])
    parser.add_argument("--host", default=os.environ.get("FACELLAVA_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FACELLAVA_PORT", "8000")))
    parser.add_argument("--engine-port", type=int, default=int(os.environ.get("FACELLAVA_ENGINE_PORT", "8001")))
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var")
    args = parser.parse_args(argv)

    # A SIGTERM (docker stop, systemd, kill) must stop the engine too, exactly like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logs = args.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    model = Path(args.model) if args.model else ensure_tiny_model(args.var_dir)
    argv_engine = engine_command(_engine_python(), model, port=args.engine_port, device=args.device)
    engine_log = open(logs / "engine.log", "ab")  # noqa: SIM115 - lives as long as the engine
    print(f"[serve] starting the engine on port {args.engine_port} (log: {logs / 'engine.log'})", flush=True)
    engine = subprocess.Popen(argv_engine, cwd=ROOT, stdout=engine_log, stderr=subprocess.STDOUT,
                              env={**os.environ, **ENGINE_ENV}, start_new_session=True)
    gateway = None
    try:
        wait_healthy(f"http://127.0.0.1:{args.engine_port}/health", engine, 900, "engine")
        env = {**os.environ, "FACELLAVA_ENGINE_URL": f"http://127.0.0.1:{args.engine_port}"}
        gateway = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--host", args.host, "--port", str(args.port)],
            cwd=ROOT, env=env,
        )
        wait_healthy(f"http://127.0.0.1:{args.port}/readyz", gateway, 120, "gateway")
        print(f"[serve] Face-LLaVA is up: http://{args.host}:{args.port}  (API docs: /docs; Ctrl-C stops)",
              flush=True)
        gateway.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (gateway, engine):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM) if proc is engine else proc.terminate()
        for proc in (gateway, engine):
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
