"""Optional bearer API keys: when any key is configured, every route but the probes needs one.

Keys are compared in constant time and never logged or echoed; a missing or wrong key is the same 401.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from service.api.errors import ApiError


async def require_api_key(request: Request) -> None:
    """FastAPI dependency; reads the accepted keys from the app's settings."""
    keys: frozenset[str] = request.app.state.services.settings.accepted_keys
    if not keys:
        return
    scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
    presented = supplied.strip().encode()
    if scheme.lower() == "bearer" and any(hmac.compare_digest(presented, key.encode()) for key in keys):
        return
    error = ApiError(401, "unauthorized", "a valid API key is required (Authorization: Bearer <key>)")
    error.headers = {"WWW-Authenticate": "Bearer"}
    raise error
