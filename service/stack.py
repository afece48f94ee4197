"""One-machine launcher behind `make serve`: the vLLM engine and the gateway, started and stopped together.

On a fresh machine it first writes the tiny random checkpoint and converts it, so the whole service runs with no
download; with FACELLAVA_MODEL pointing at a converted folder (and a GPU) the same command serves the real model.
In production the two processes run as separate containers (docker/, k8s/); this is the quickstart path only.

The launcher supervises both: when the engine dies (its API server exits, or /health fails for
ENGINE_UNHEALTHY_S) what is left of its process group is killed and it is started again on the same port (the
gateway reconnects by itself); when the gateway exits, everything stops. The two share a fresh random engine API
key (or FACELLAVA_ENGINE_API_KEY), so no other local process can use the engine's port.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from common.child_server import ROOT, ChildServer, ChildServerError, engine_python, engine_server


def build_tiny_model(out: Path, *, quiet: bool = False) -> Path:
    """Write the tiny random checkpoint into out/source and convert it into out/converted, once.

    Both steps run in the engine environment (`facellava tiny-checkpoint`, `facellava convert`); a folder that
    already holds a converted model is reused.
    """
    source, converted = out / "source", out / "converted"
    if (converted / "config.json").exists():
        return converted
    cli = [str(engine_python()), "-m", "service.cli"]
    steps = [
        ("writing the tiny random Face-LLaVA checkpoint (no download)", ["tiny-checkpoint", str(source)]),
        (
            "converting it to a serving folder",
            [
                "convert",
                "--facellava", str(source / "FaceLLaVA"),
                "--image-tower", str(source / "LanguageBind_Image"),
                "--video-tower", str(source / "LanguageBind_Video_merge"),
                "--out", str(converted),
            ],
        ),
    ]
    for what, args in steps:
        if not quiet:
            print(f"[serve] {what} ...", flush=True)
        subprocess.run([*cli, *args], check=True, cwd=ROOT, capture_output=quiet)
    return converted


def _start(server: ChildServer, what: str) -> None:
    """Start a child server, printing a dot per second of waiting; a failure ends the launcher with its log."""
    try:
        server.start_and_wait(progress=lambda: print(".", end="", flush=True))
    except ChildServerError as error:
        raise SystemExit(f"\n[serve] the {what} did not start: {error}") from error
    print(f"\n[serve] {what} ready", flush=True)


ENGINE_UNHEALTHY_S = 30.0  # a live API server whose /health fails this long is restarted too
_POLL_S = 1.0


def supervise(engine: ChildServer, gateway: ChildServer, *, unhealthy_s: float = ENGINE_UNHEALTHY_S) -> None:
    """Until the gateway exits: restart the engine whenever it dies or stays unhealthy (Ctrl-C ends it)."""
    unhealthy_since: float | None = None
    while not gateway.exited():
        time.sleep(_POLL_S)
        if engine.exited():
            reason = f"exited ({engine.process.returncode if engine.process else 'gone'})"
        elif engine.healthy():
            unhealthy_since = None
            continue
        else:
            unhealthy_since = unhealthy_since or time.monotonic()
            if time.monotonic() - unhealthy_since < unhealthy_s:
                continue
            reason = f"unhealthy for {unhealthy_s:g} s"
        print(f"[serve] the engine {reason}; restarting it", flush=True)
        engine.kill()  # the whole group: no engine-core process outlives its API server
        _start(engine, "engine")
        unhealthy_since = None


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
    model = Path(args.model) if args.model else build_tiny_model(args.var_dir / "models" / "tiny")
    engine_log = logs / "engine.log"
    engine_key = os.environ.get("FACELLAVA_ENGINE_API_KEY") or secrets.token_urlsafe(32)
    engine = engine_server(
        engine_python(), model, engine_log, port=args.engine_port, device=args.device, api_key=engine_key
    )
    env = {**os.environ, "FACELLAVA_ENGINE_URL": engine.url, "FACELLAVA_ENGINE_API_KEY": engine_key}
    gateway_argv = [sys.executable, "-m", "service.cli", "serve", "--host", args.host, "--port", str(args.port)]
    gateway = ChildServer(gateway_argv, env, args.port, "/readyz", start_timeout_s=120)
    print(f"[serve] starting the engine on port {args.engine_port} (log: {engine_log})", flush=True)
    try:
        _start(engine, "engine")
        _start(gateway, "gateway")
        print(f"[serve] Face-LLaVA is up: http://{args.host}:{args.port}  (demo: /demo, API docs: /docs; "
              "Ctrl-C stops)", flush=True)
        supervise(engine, gateway)
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
