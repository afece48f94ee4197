"""`facellava serve`: run the gateway on uvicorn. Every setting comes from FACELLAVA_* environment variables
(service/api/settings.py); the flags here only override where it listens and how many processes serve."""

from __future__ import annotations

import argparse

import uvicorn

from service.api.settings import Settings


def serve_main(argv: list[str]) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="facellava serve", description=__doc__)
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    uvicorn.run(
        "service.api.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,  # the app configures JSON logging itself
        timeout_graceful_shutdown=30,
    )
    return 0
