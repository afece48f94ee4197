"""The flags every command that talks to a running service shares (`analyze`, `eval`), and running one batch
with them. URL and API key default to FACELLAVA_URL and FACELLAVA_API_KEY, so a key never has to appear in a
command line (or in shell history)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from service.batch.client import AnalyzeClient, RetryPolicy, http_client
from service.batch.runner import BatchSummary, run_batch

DEFAULT_URL = "http://127.0.0.1:8000"


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("service")
    group.add_argument("--url", default=os.environ.get("FACELLAVA_URL", DEFAULT_URL),
                       help="gateway base URL (default: $FACELLAVA_URL or %(default)s)")
    group.add_argument("--api-key", default=os.environ.get("FACELLAVA_API_KEY"),
                       help="bearer key (default: $FACELLAVA_API_KEY)")
    group.add_argument("-j", "--concurrency", type=int, default=4, help="requests in flight (default 4)")
    group.add_argument("--timeout", type=float, default=600.0, help="seconds per request (default 600)")
    group.add_argument("--retries", type=int, default=5,
                       help="retries of 429/503 answers and lost connections, with backoff (default 5)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_service_batch(
    args: argparse.Namespace, paths: list[Path], fields: dict[str, str], out: Path, label: str
) -> BatchSummary:
    async def main() -> BatchSummary:
        async with http_client(args.url, args.api_key, args.timeout) as http:
            client = AnalyzeClient(http, fields, RetryPolicy(attempts=args.retries + 1))
            return await run_batch(paths, client, out, args.concurrency, not args.no_progress, label)

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        # Every finished file is already on disk: say how to go on instead of printing a traceback.
        print(f"\ninterrupted: the answers so far are in {out}; run the same command again to resume",
              file=sys.stderr)
        raise SystemExit(130) from None
