"""The server's sampling bounds, applied the same way to POST /analyze and /v1/chat/completions.

FACELLAVA_MAX_TOKENS_LIMIT and FACELLAVA_MAX_TEMPERATURE are settings, so the request models carry only the
fixed lower bounds; a value over a setting is refused with a 422 that names the bound (never clamped in
silence), and the OpenAPI document states the same bounds (openapi_docs). Without a token limit in the request,
FACELLAVA_DEFAULT_MAX_TOKENS applies, so no request generates to the end of the context by default.
"""

from __future__ import annotations

from pydantic import BaseModel

from service.api.error_responses import ApiError
from service.api.settings import Settings


def upper_bounds(settings: Settings) -> dict[str, int | float]:
    """Request field -> its largest accepted value, for every bounded sampling field of either route."""
    return {
        "max_tokens": settings.max_tokens_limit,
        "max_completion_tokens": settings.max_tokens_limit,
        "temperature": settings.max_temperature,
    }


def check_sampling(request: BaseModel, settings: Settings) -> None:
    """422 invalid_request for the first sampling field of `request` over its bound."""
    for field, bound in upper_bounds(settings).items():
        value = getattr(request, field, None)
        if value is not None and value > bound:
            shown = bound if isinstance(bound, int) else f"{bound:g}"  # 1000000 tokens, not 1e+06
            raise ApiError("invalid_request", f"{field}: at most {shown} on this server")
