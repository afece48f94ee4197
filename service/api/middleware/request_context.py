"""Outermost ASGI middleware: request id in and out, one JSON access-log line, request metrics.

The id comes from X-Request-ID (when it is a safe token) or is generated; it is set before anything else runs
so every log line and error body carries it, and returned in the X-Request-ID response header.

Metrics and logs label a request with its route template. A request refused before routing (413, 429) is
labelled with the route its path would have reached; only a path no route matches is `unmatched`, so the
label's values stay the app's route templates plus one.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.error_responses import unexpected_error
from service.api.metrics import GatewayMetrics
from service.api.request_logging import accept_request_id, request_id_var

access_log = logging.getLogger("facellava.access")
log = logging.getLogger("facellava.gateway")
_CLIENT_CLOSED = 499  # nginx's convention for "client closed the request", for logs and metrics only


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = accept_request_id(supplied)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status: int | None = None
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            status = status or _CLIENT_CLOSED  # the client went away; not a server error
            raise
        except Exception as exc:  # the last line of defence: a JSON 500 with the id, never a traceback page
            log.error("unhandled error", exc_info=exc)
            if status is None:
                await unexpected_error()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(scope)
            status = status or 500
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "seconds": round(elapsed, 4),
                },
            )
            request_id_var.reset(token)


def route_label(scope: Scope) -> str:
    """The template of the route that served (or would have served) the request, else `unmatched`."""
    route = scope.get("route")
    if route is not None:
        return route.path
    for candidate in getattr(scope.get("app"), "routes", ()):
        match, _ = candidate.matches(scope)
        if match is not Match.NONE:
            return candidate.path
    return "unmatched"
