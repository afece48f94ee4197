"""Backpressure as ASGI middleware, so that slow, unauthenticated or oversized requests cannot lock others out.

- BodyReception receives the whole body of a model route before the route runs: over the size limit it is 413
  (before reading, when the length is declared), slower than FACELLAVA_BODY_TIMEOUT_S it is 408 `body_timeout`,
  and all bodies held at once share one byte budget (FACELLAVA_MAX_BUFFERED_BODY_BYTES; past it 429
  `body_budget`), so 32 large uploads cannot add up past the pod's memory.
- InFlightLimit runs inside it: only requests whose body is in (and, with keys on, whose key was checked by
  auth.ApiKeyGate further out) take an in-flight slot, so clients trickling a body at 1 byte/s hold no slot.

Pure ASGI (not BaseHTTPMiddleware) so streamed responses keep their slot until the last byte. A refusal sent
before the body is read first reads and discards a bounded part of it: an HTTP server that closes a connection
with unread request bytes makes the kernel send a reset, and the client would see that instead of the error.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.error_responses import ApiError, error_response
from service.api.metrics import GatewayMetrics

# Routes that do model work and take a body; probes, metrics and docs are never throttled.
LIMITED_PATHS = frozenset({"/analyze", "/v1/chat/completions"})

# A refusal reads at most this much of an unread body (within DRAIN_S), so a small upload gets its error
# instead of a connection reset, while a large one costs the server only a bounded read.
DRAIN_BYTES = 8_000_000
DRAIN_S = 2.0


def is_limited(scope: Scope) -> bool:
    """A model route's POST: the requests that carry a body and take an in-flight slot."""
    return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in LIMITED_PATHS


async def refuse(error: ApiError, scope: Scope, receive: Receive, send: Send, *, drain: bool) -> None:
    """Send `error` as the JSON error response; with `drain`, first discard a bounded part of the body."""
    if drain:
        await _discard_body(receive)
    await error_response(error.code, error.message, error.headers)(scope, receive, send)


async def _discard_body(receive: Receive) -> None:
    discarded = 0
    try:
        async with asyncio.timeout(DRAIN_S):
            while discarded <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                discarded += len(message.get("body", b""))
    except TimeoutError:
        return


def too_large(limit: int) -> ApiError:
    return ApiError("too_large", f"request body over the {limit}-byte limit")


class _BodyRefused(Exception):  # noqa: N818 (carries the refusal out of the receiving loop)
    def __init__(self, error: ApiError) -> None:
        self.error = error


class _ClientGone(Exception):  # noqa: N818
    pass


class _Reservation:
    """The bytes of the budget one request holds; it grows while a body without Content-Length arrives."""

    def __init__(self, size: int) -> None:
        self.size = size


class BodyReception:
    def __init__(
        self, app: ASGIApp, max_bytes: int, budget_bytes: int, timeout_s: float, retry_after_s: int,
        metrics: GatewayMetrics,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget_bytes = budget_bytes
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self.buffered = 0  # bytes reserved by bodies being received or still held by their request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")  # the HTTP server has validated it
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse("too_large", too_large(self.max_bytes), scope, receive, send, drain=False)
            return
        if not is_limited(scope):
            await self.app(scope, receive, send)
            return
        reservation = _Reservation(int(declared) if declared.isdigit() else 0)
        if not self._reserve(reservation.size):
            await self._refuse("body_budget", self._over_budget(), scope, receive, send, drain=True)
            return
        try:
            try:
                async with asyncio.timeout(self.timeout_s):
                    body = await self._receive_all(receive, reservation)
            except TimeoutError:
                timeout = ApiError("body_timeout", f"the request body took over {self.timeout_s:g} s to arrive")
                await self._refuse("body_timeout", timeout, scope, receive, send, drain=False)
                return
            except _BodyRefused as refused:
                await self._refuse(refused.error.code, refused.error, scope, receive, send, drain=False)
                return
            except _ClientGone:
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.buffered -= reservation.size

    async def _receive_all(self, receive: Receive, reservation: _Reservation) -> bytes:
        """The whole body, growing the reservation when a body without Content-Length outgrows it."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                raise _BodyRefused(too_large(self.max_bytes))
            if received > reservation.size:
                if not self._reserve(received - reservation.size):
                    raise _BodyRefused(self._over_budget())
                reservation.size = received
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _reserve(self, size: int) -> bool:
        if self.buffered + size > self.budget_bytes:
            return False
        self.buffered += size
        return True

    def _over_budget(self) -> ApiError:
        return ApiError(
            "body_budget", "the server is receiving too many request bodies; retry later", self.retry_after_s
        )

    async def _refuse(
        self, reason: str, error: ApiError, scope: Scope, receive: Receive, send: Send, *, drain: bool
    ) -> None:
        self.metrics.rejected.labels(reason).inc()
        await refuse(error, scope, receive, send, drain=drain)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The app's receive: the buffered body as one message, then the server's own (which reports a disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class InFlightLimit:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_s: int, metrics: GatewayMetrics) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_limited(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.metrics.rejected.labels("overloaded").inc()
            response = error_response(
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
