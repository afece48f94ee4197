"""Fetching media by URL, off by default (server-side request forgery): only http(s), only allow-listed host
names, no redirects, a time limit and the same media byte limit as uploads (FACELLAVA_PREPROCESS_MAX_BYTES),
counted while streaming."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from service.api.error_responses import ApiError
from service.api.settings import Settings


async def fetch_media(url: str, settings: Settings) -> bytes:
    if not settings.url_fetch_enabled:
        raise ApiError("url_fetch_disabled", "this server does not fetch media URLs; upload the file")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError("invalid_url", "media URLs must be http(s) URLs")
    if parts.hostname.lower() not in {host.lower() for host in settings.url_allowlist}:
        raise ApiError("url_not_allowed", f"host {parts.hostname!r} is not on the allowlist")
    try:
        async with asyncio.timeout(settings.url_fetch_timeout_s):
            return await _download(url, settings)
    except TimeoutError as exc:
        raise ApiError("url_fetch_failed", "fetching the media URL took too long") from exc


async def _download(url: str, settings: Settings) -> bytes:
    chunks: list[bytes] = []
    received = 0
    try:
        async with (
            httpx.AsyncClient(timeout=settings.url_fetch_timeout_s, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise ApiError("url_fetch_failed", f"the media URL answered HTTP {response.status_code}")
            limit = settings.preprocess_limits.max_bytes
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise ApiError("too_large", f"the media URL's content is over {limit} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ApiError("url_fetch_failed", f"fetching the media URL failed: {type(exc).__name__}") from exc
    return b"".join(chunks)
