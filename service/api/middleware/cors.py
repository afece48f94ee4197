"""CORS for browser clients (only when FACELLAVA_CORS_ORIGINS lists origins), with two changes to Starlette's:

- the headers a script needs are exposed: X-Request-ID (to report a failure), Retry-After (to back off after
  429/503) and the landmark-conditioning and face headers of chat answers;
- a refused preflight gets the API's JSON error body (code `cors_refused`) instead of a plain-text 400, so a
  client sees one error shape everywhere.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from service.api.error_responses import error_response
from service.api.headers import FACE_HEADER, FACES_HEADER, LANDMARKS_HEADER

EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", LANDMARKS_HEADER, FACE_HEADER, FACES_HEADER)
_CONTENT_HEADERS = frozenset({"content-type", "content-length"})


class JsonCORSMiddleware(CORSMiddleware):
    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=list(EXPOSED_HEADERS),
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        # Starlette's text says what was refused ("Disallowed CORS origin, headers"); keep its CORS headers.
        headers = {key: value for key, value in response.headers.items() if key not in _CONTENT_HEADERS}
        return error_response("cors_refused", bytes(response.body).decode(), headers)
