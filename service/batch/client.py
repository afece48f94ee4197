"""One file through POST /analyze, with retries: 429 and 503 (the gateway's "busy, come back" answers) and
lost connections are retried with exponential backoff, waiting at least what Retry-After asks; every other
refusal is final and recorded with the service's error code. Nothing here raises for a bad file."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries in all, the first included
    base_s: float = 1.0  # first backoff; doubles per retry, with up to 25 % jitter so clients spread out
    max_s: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        backoff = min(self.max_s, self.base_s * 2**retry) * (1 + random.random() / 4)
        return max(backoff, retry_after or 0.0)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 allows both)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def failure(code: str, message: str, status: int | None = None) -> dict[str, Any]:
    return {"ok": False, "status": status, "error": {"code": code, "message": message}}


def _error_of(response: httpx.Response) -> dict[str, Any]:
    """The service's `{"error": {code, message}}`, or a code made from the status if the body is not ours."""
    try:
        error = response.json()["error"]
        return failure(str(error["code"]), str(error.get("message", "")), response.status_code)
    except (ValueError, KeyError, TypeError):
        return failure(f"http_{response.status_code}", response.text[:200], response.status_code)


class AnalyzeClient:
    """Posts files to {url}/analyze; `fields` are the form options (options.parse_options)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        fields: dict[str, str],
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._fields = fields
        self._retry = retry or RetryPolicy()

    async def analyze(self, path: Path) -> dict[str, Any]:
        """A record: ok, status, response (the API's JSON) or error {code, message}, attempts, seconds."""
        started = time.perf_counter()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            record = failure("missing_file", f"no such file: {path}")
        except OSError as exc:
            record = failure("unreadable_file", f"cannot read {path}: {exc.strerror}")
        else:
            record = await self._post(path.name, data)
        record["seconds"] = round(time.perf_counter() - started, 4)
        return record

    async def _post(self, filename: str, data: bytes) -> dict[str, Any]:
        for attempt in range(self._retry.attempts):
            retry_after = None
            try:
                response = await self._http.post(
                    "/analyze", files={"file": (filename, data, "application/octet-stream")}, data=self._fields
                )
            except httpx.TransportError as exc:
                record = failure("connection_error", f"{type(exc).__name__}: {exc}")
            else:
                if response.status_code == 200:
                    return {"ok": True, "status": 200, "response": response.json(), "attempts": attempt + 1}
                record = _error_of(response)
                if response.status_code not in RETRY_STATUSES:
                    return {**record, "attempts": attempt + 1}
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if attempt + 1 < self._retry.attempts:
                await asyncio.sleep(self._retry.delay(attempt, retry_after))
        return {**record, "attempts": self._retry.attempts}


def http_client(url: str, api_key: str | None, timeout_s: float) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)
