"""One error shape for every failure: {"error": {"code", "message", "request_id"}} with the right status.

Handlers cover our typed errors, FastAPI's validation errors and Starlette's own HTTP errors (404, 405), so no
client ever sees a framework-specific body (unexpected exceptions: see request_context). ApiError subclasses
HTTPException so that it passes unchanged through FastAPI's body parsing, which wraps other exceptions into a
generic 400.
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.api.error_catalogue import FRAMEWORK_CODES, lookup
from service.api.request_logging import request_id_var
from service.api.schemas import ErrorDetail, ErrorResponse

# What a client learns of a server-side failure: the details are logged under the request id.
INTERNAL_ERROR_MESSAGE = "internal error; the request id identifies it in the logs"


class ApiError(HTTPException):
    """A refusal named by its catalogue code, which gives its status (service/api/error_catalogue.py);
    `retry_after` adds the Retry-After header (429, 503)."""

    def __init__(self, code: str, message: str, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        super().__init__(status_code=lookup(code).http_status, detail=message, headers=headers)
        self.code = code
        self.message = message


# Python object reprs and memory addresses that library messages carry ("cannot identify image file
# <_io.BytesIO object at 0x7f...>"): internals, and a hint at the memory layout, so never shown to a client.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\s*\bat 0x[0-9a-fA-F]{6,}")


def scrub(message: str) -> str:
    """The message without object reprs and addresses: a repr becomes "the upload", an address is dropped."""
    return _ADDRESS.sub("", _OBJECT_REPR.sub("the upload", message))


def error_response(
    code: str, message: str, headers: dict[str, str] | None = None, *, status: int | None = None
) -> JSONResponse:
    """The one error body, with the catalogue's status for `code` (`status` only for a framework error whose
    status has no catalogued code); every message is scrubbed here, whichever library wrote it."""
    status = lookup(code).http_status if status is None else status
    detail = ErrorDetail(code=code, message=scrub(message), request_id=request_id_var.get())
    body = ErrorResponse(error=detail)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = FRAMEWORK_CODES.get(exc.status_code, "error")
    return error_response(code, str(exc.detail), exc.headers, status=exc.status_code)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response("invalid_request", describe_validation(exc.errors()))


def unexpected_error() -> JSONResponse:
    return error_response("internal_error", INTERNAL_ERROR_MESSAGE)


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
