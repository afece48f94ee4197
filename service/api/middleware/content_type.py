"""JSON-only routes refuse a body that is not declared as JSON (415 `unsupported_content_type`), before reading it.

A browser page may POST to any origin without a CORS preflight as long as the Content-Type is a "simple" one
(text/plain, form encodings) or absent; FastAPI would still parse such a body as JSON. Requiring
application/json (or a +json type) makes every cross-origin call go through the preflight that CORS controls.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.error_responses import ApiError
from service.api.metrics import GatewayMetrics
from service.api.middleware.body_limits import refuse

JSON_ONLY_PATHS = frozenset({"/v1/chat/completions"})


def is_json(content_type: str) -> bool:
    """application/json or application/<anything>+json, parameters (charset) ignored."""
    media_type = content_type.split(";")[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class JsonBodyRequired:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in JSON_ONLY_PATHS
            and not is_json(Headers(scope=scope).get("content-type", ""))
        ):
            self.metrics.rejected.labels("unsupported_content_type").inc()
            error = ApiError("unsupported_content_type", "send the request body as application/json")
            await refuse(error, scope, receive, send, drain=True)
            return
        await self.app(scope, receive, send)
