"""Every error code the gateway answers with, each with its HTTP status and meaning: one table, read by name.

A raise site names a code (`raise ApiError("reserved_token", message)`) and never writes a status: the status
comes from here, so a code cannot be answered with two statuses and adding an error is one line in one place.
The preprocessing stage's codes are included from its own table (service/preprocess/error_codes.py), which also
gives each its `facellava faces` exit status. docs/usage.md's error table lists exactly this catalogue
(tests/gateway/test_docs_errors.py).

`framework` marks the code that an HTTP error raised by FastAPI or Starlette itself (an unknown path, a wrong
method) is answered with, by its status, so those answers carry a catalogued code too.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.preprocess.error_codes import ERRORS as PREPROCESS_ERRORS


@dataclass(frozen=True)
class ErrorCode:
    code: str
    http_status: int
    meaning: str
    exit_status: int | None = None  # the `facellava faces` exit status, for the preprocessing codes
    framework: bool = False  # the code for a framework HTTP error with this status


_GATEWAY = (
    ErrorCode("bad_request", 400, "a malformed request refused by the framework", framework=True),
    ErrorCode("bad_multipart", 400, "malformed multipart body: no boundary, a bad part header, or cut off"),
    ErrorCode("invalid_base64", 400, "base64 media or a chat data URL that is not valid base64"),
    ErrorCode("too_many_media", 400, "chat: more than one image or video in the messages"),
    ErrorCode("url_fetch_disabled", 400, "media by URL while URL fetching is off"),
    ErrorCode("invalid_url", 400, "a media URL that is not http(s)"),
    ErrorCode("url_not_allowed", 400, "a media URL whose host is not on the allowlist"),
    ErrorCode("url_fetch_failed", 400, "fetching a media URL failed, answered non-200 or took too long"),
    ErrorCode("cors_refused", 400, "a CORS preflight from an origin, method or header not allowed"),
    ErrorCode("reserved_token", 400, "chat text contains one of the model's control tokens"),
    ErrorCode("engine_rejected", 400, "the engine refused the request (e.g. a prompt over the context)"),
    ErrorCode("unauthorized", 401, "missing or wrong API key", framework=True),
    ErrorCode("not_found", 404, "unknown path", framework=True),
    ErrorCode("model_not_found", 404, "chat: `model` is not the served model"),
    ErrorCode("method_not_allowed", 405, "wrong method", framework=True),
    ErrorCode("body_timeout", 408, "the request body did not arrive in time"),
    ErrorCode("unsupported_content_type", 415, "the request's Content-Type is not one the route reads", framework=True),
    ErrorCode("invalid_request", 422, "a field out of bounds, unknown or missing; invalid JSON", framework=True),
    ErrorCode("landmarks_unavailable", 422, "landmarks asked for, but the engine runs without them"),
    ErrorCode("overloaded", 429, "too many analysis/chat requests in flight", framework=True),
    ErrorCode("body_budget", 429, "the request bodies held at once would pass the byte budget"),
    ErrorCode("engine_overloaded", 429, "the engine answered 429"),
    ErrorCode("unavailable", 503, "a service-unavailable answer from the framework", framework=True),
    ErrorCode("engine_unavailable", 503, "the engine is not reachable or serves no model"),
    ErrorCode("engine_error", 503, "the engine failed (another HTTP status, invalid JSON or info)"),
    ErrorCode("engine_timeout", 504, "one engine call ran past its time limit"),
    ErrorCode("timeout", 504, "the whole request ran past its time limit", framework=True),
)
# too_large (413) and internal_error (500) are the preprocessing table's; the gateway answers them too.
_PREPROCESSING = tuple(
    ErrorCode(spec.code, spec.http_status, spec.meaning, spec.exit_status, framework=spec.code == "too_large")
    for spec in PREPROCESS_ERRORS.values()
)

CATALOGUE: dict[str, ErrorCode] = {entry.code: entry for entry in _GATEWAY + _PREPROCESSING}
if len(CATALOGUE) != len(_GATEWAY) + len(_PREPROCESSING):
    raise RuntimeError("an error code is declared twice: the gateway's and the preprocessing table overlap")

# The code for an HTTP error raised by the framework itself, by its status ("error" for a status not here).
FRAMEWORK_CODES: dict[int, str] = {entry.http_status: entry.code for entry in CATALOGUE.values() if entry.framework}


def lookup(code: str) -> ErrorCode:
    """The catalogue's entry; an unknown code is a bug at the raise site, refused so the contract cannot drift."""
    try:
        return CATALOGUE[code]
    except KeyError:
        raise ValueError(f"error code {code!r} is not in the catalogue (service/api/error_catalogue.py)") from None
