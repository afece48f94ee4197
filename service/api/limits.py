"""Backpressure as ASGI middleware: bodies over the limit get 413 before they are read whole, and work over
the in-flight bound gets 429 with Retry-After at once instead of piling up behind the engine.

Pure ASGI (not BaseHTTPMiddleware) so streamed responses keep their slot until the last byte and the body is
counted as it arrives.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import ApiError, error_response
from service.api.metrics import GatewayMetrics

# Routes that do model work; probes, metrics and docs are never throttled.
LIMITED_PATHS = frozenset({"/analyze", "/v1/chat/completions"})


class BodyTooLargeError(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "too_large", f"request body over the {limit}-byte limit")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, metrics: GatewayMetrics) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")  # the HTTP server has validated it
        if declared.isdigit() and int(declared) > self.max_bytes:
            self.metrics.rejected.labels("too_large").inc()
            refusal = BodyTooLargeError(self.max_bytes)
            await error_response(refusal.status_code, refusal.code, refusal.message)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    self.metrics.rejected.labels("too_large").inc()
                    raise BodyTooLargeError(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


class InFlightLimit:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_s: int, metrics: GatewayMetrics) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in LIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.metrics.rejected.labels("overloaded").inc()
            response = error_response(
                429,
                "overloaded",
                f"more than {self.max_in_flight} requests in flight; retry later",
                {"Retry-After": str(self.retry_after_s)},
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        self.metrics.in_flight.set(self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.metrics.in_flight.set(self.in_flight)
