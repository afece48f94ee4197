"""Optional bearer API keys: when any key is configured, every route but the probes needs one.

Keys are compared in constant time and never logged or echoed; a missing or wrong key is the same 401. On the
model routes the key is checked by ApiKeyGate before a byte of the body is read and before an in-flight slot is
taken, so unauthenticated clients cost neither memory nor capacity; the route dependency checks every other
route (and documents the requirement in the OpenAPI schema).
"""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.error_responses import ApiError
from service.api.metrics import GatewayMetrics
from service.api.middleware.body_limits import is_limited, refuse


def key_accepted(authorization: str, keys: frozenset[str]) -> bool:
    """Whether an Authorization header value carries one of `keys` (always true when there are none)."""
    if not keys:
        return True
    scheme, _, supplied = authorization.partition(" ")
    presented = supplied.strip().encode()
    return scheme.lower() == "bearer" and any(hmac.compare_digest(presented, key.encode()) for key in keys)


def unauthorized() -> ApiError:
    error = ApiError("unauthorized", "a valid API key is required (Authorization: Bearer <key>)")
    error.headers = {"WWW-Authenticate": "Bearer"}
    return error


async def require_api_key(request: Request) -> None:
    """FastAPI dependency; reads the accepted keys from the app's settings."""
    keys: frozenset[str] = request.app.state.services.settings.accepted_keys
    if not key_accepted(request.headers.get("authorization", ""), keys):
        raise unauthorized()


class ApiKeyGate:
    """ASGI middleware: a model route's request without a valid key gets 401 before its body is read."""

    def __init__(self, app: ASGIApp, keys: frozenset[str], metrics: GatewayMetrics) -> None:
        self.app = app
        self.keys = keys
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_limited(scope) and not key_accepted(Headers(scope=scope).get("authorization", ""), self.keys):
            self.metrics.rejected.labels("unauthorized").inc()
            await refuse(unauthorized(), scope, receive, send, drain=True)
            return
        await self.app(scope, receive, send)
