"""One error shape for every failure: {"error": {"code", "message", "request_id"}} with the right status.

Handlers cover our typed errors, FastAPI's validation errors and Starlette's own HTTP errors (404, 405), so no
client ever sees a framework-specific body (unexpected exceptions: see request_context). ApiError subclasses
HTTPException so that it passes unchanged through FastAPI's body parsing, which wraps other exceptions into a
generic 400.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.api.logging import request_id_var
from service.api.schemas import ErrorDetail, ErrorResponse

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_content_type",
    422: "invalid_request",
    429: "overloaded",
    503: "unavailable",
    504: "timeout",
}


# What a client learns of a server-side failure: the details are logged under the request id.
INTERNAL_ERROR_MESSAGE = "internal error; the request id identifies it in the logs"


class ApiError(HTTPException):
    """A refusal with a stable code; `retry_after` adds the Retry-After header (429, 503)."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message, request_id=request_id_var.get()))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", describe_validation(exc.errors()))


def unexpected_error() -> JSONResponse:
    return error_response(500, "internal_error", INTERNAL_ERROR_MESSAGE)


def describe_validation(errors: object) -> str:
    """A short message from pydantic's error list (field path: problem), never echoing input values."""
    parts = []
    for error in errors if isinstance(errors, list) else []:
        location = ".".join(str(item) for item in error.get("loc", ()) if item != "body")
        parts.append(f"{location or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts[:5]) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
