"""The gateway's only way to the vLLM engine: its OpenAI-compatible HTTP API, through one pooled httpx client.

Every failure becomes a typed ApiError (engine down: 503 + Retry-After, too slow: 504, request refused by the
engine's processor: 400), so the API never leaks a 500 for a problem on the engine's side. A timeout or a
cancelled request closes the HTTP connection, which makes vLLM abort the generation.

A call that failed before any response came (no connection, or a pooled keep-alive connection the engine had
already closed) is sent once more: every engine call is free of side effects (reads, and completions whose only
cost is compute), and on a busy host these transient failures were 5-12 % of requests. With
FACELLAVA_ENGINE_API_KEY set, every call carries it (the engine's VLLM_API_KEY).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import ValidationError

from common.engine_protocol import INFO_PATH, EngineInfo
from service.api.engine.payloads import ROUTING_KEY_HEADER, routing_key
from service.api.error_catalogue import lookup
from service.api.error_responses import ApiError
from service.api.metrics import GatewayMetrics
from service.api.settings import Settings

log = logging.getLogger("facellava.engine")

UNKNOWN_ENGINE = EngineInfo(landmark_conditioning="off", model_revision="unknown")
# Failures that happen before the engine has answered anything: safe to send again, once.
_RETRIED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


class EngineClient:
    def __init__(
        self, settings: Settings, metrics: GatewayMetrics, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        key = settings.engine_api_key
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {key.get_secret_value()}"} if key else None,
            base_url=settings.engine_url,
            timeout=httpx.Timeout(settings.engine_timeout_s, connect=settings.engine_connect_timeout_s),
            limits=httpx.Limits(max_connections=4 * settings.max_in_flight, max_keepalive_connections=32),
            transport=transport,
        )
        self._model_name = settings.engine_model
        self._info: tuple[float, EngineInfo] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def healthy(self) -> bool:
        try:
            response = await self._http.get(
                self._settings.engine_health_path, timeout=self._settings.readiness_timeout_s
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def models(self) -> list[dict[str, Any]]:
        body = await self._call("GET", "/v1/models", None, None)
        return list(body.get("data", []))

    async def model_name(self) -> str:
        """The served model's name: from settings, else the engine's first model (asked once)."""
        if self._model_name is None:
            models = await self.models()
            if not models:
                raise self._failure("unavailable", 503, "engine_unavailable", "the engine serves no model")
            self._model_name = str(models[0]["id"])
        return self._model_name

    async def info(self) -> EngineInfo:
        """The served model's landmark mode and revision (common/engine_protocol.py), cached briefly."""
        now = time.monotonic()
        # The mode and revision change only when the engine restarts; asking again after the TTL notices.
        if self._info is None or now - self._info[0] >= self._settings.engine_info_ttl_s:
            self._info = (now, await self._fetch_info())
        return self._info[1]

    async def _fetch_info(self) -> EngineInfo:
        response = await self._send(self._http.build_request("GET", INFO_PATH))
        if response.status_code == 404:
            # An engine started without the info endpoint plugin (VLLM_PLUGINS): its landmark mode is unknown,
            # so no request claims landmark conditioning.
            log.warning("the engine does not report its landmark mode; assuming off")
            return UNKNOWN_ENGINE
        if response.status_code != 200:
            raise self._status_failure(response.status_code, response.content)
        try:
            return EngineInfo.model_validate_json(response.content)
        except ValidationError as exc:
            raise self._failure("bad_response", 503, "engine_error", "the engine's info is invalid") from exc

    async def chat(self, payload: dict[str, Any], request_id: str, key: str | None = None) -> dict[str, Any]:
        """One chat completion; `key` routes it (vllm-router), else the key is derived from its medium."""
        return await self._call("POST", "/v1/chat/completions", payload, request_id, key)

    async def stream_chat(self, payload: dict[str, Any], request_id: str) -> AsyncIterator[bytes]:
        """Open a streamed chat completion; errors before the first byte raise, later ones end the stream."""
        request = self._http.build_request(
            "POST", "/v1/chat/completions", json=payload, headers=_engine_headers(payload, request_id)
        )
        response = await self._send(request, stream=True)
        if response.status_code != 200:
            body = await response.aread()
            await response.aclose()
            raise self._status_failure(response.status_code, body)
        return self._relay(response)

    async def _relay(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            self._metrics.engine_errors.labels("stream_broken").inc()
            log.warning("engine stream broke", extra={"error": type(exc).__name__})
        finally:
            await response.aclose()

    async def _call(
        self, method: str, path: str, payload: dict[str, Any] | None, request_id: str | None, key: str | None = None
    ) -> dict:
        headers = _engine_headers(payload, request_id, key)
        response = await self._send(self._http.build_request(method, path, json=payload, headers=headers))
        if response.status_code != 200:
            raise self._status_failure(response.status_code, response.content)
        try:
            return response.json()
        except ValueError as exc:
            raise self._failure("bad_response", 503, "engine_error", "the engine sent invalid JSON") from exc

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send, once more after a failure before any response (_RETRIED); a transport failure is an ApiError."""
        try:
            try:
                return await self._http.send(request, stream=stream)
            except _RETRIED as exc:
                self._metrics.engine_errors.labels("retried").inc()
                log.info("engine call retried", extra={"error": type(exc).__name__})
                return await self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc) from exc

    def _transport_failure(self, exc: httpx.HTTPError) -> ApiError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return self._failure("timeout", "engine_timeout", "the engine did not answer in time", exc)
        return self._failure("unavailable", "engine_unavailable", "the engine is not reachable", exc)

    def _status_failure(self, status: int, body: bytes) -> ApiError:
        message = _engine_message(body)
        if status == 400 or status == 422:
            # vLLM's processor validates crops, landmarks and prompt length: the request was at fault.
            return self._failure("rejected", "engine_rejected", f"the engine refused the request: {message}")
        if status == 429:
            return self._failure("overloaded", "engine_overloaded", "the engine is overloaded")
        return self._failure("failed", "engine_error", f"the engine failed (HTTP {status})")

    def _failure(self, kind: str, code: str, message: str, exc: Exception | None = None) -> ApiError:
        self._metrics.engine_errors.labels(kind).inc()
        error = type(exc).__name__ if exc is not None else None
        status = lookup(code).http_status
        log.warning("engine call failed", extra={"kind": kind, "status": status, "error": error})
        retry_after = self._settings.retry_after_s if status in (429, 503) else None
        return ApiError(code, message, retry_after=retry_after)


def _engine_headers(
    payload: dict[str, Any] | None, request_id: str | None, key: str | None = None
) -> dict[str, str]:
    """The request id for the engine's logs and, with a body, the face's routing key for vllm-router (a single
    engine ignores it): the caller's `key`, else one derived from the body's medium."""
    headers = {"X-Request-ID": request_id} if request_id else {}
    if payload is not None:
        headers[ROUTING_KEY_HEADER] = key or routing_key(payload)
    return headers


def _engine_message(body: bytes) -> str:
    """vLLM's error message ({"error": {"message"}} or {"message"}), cut short."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else {}
    message = error.get("message", "") if isinstance(error, dict) else str(error)
    return str(message)[:300]
