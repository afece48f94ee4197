"""Stable error codes of the preprocessing stage, with the HTTP status and CLI exit status each maps to.

Raised vs returned:
- Every code below except `no_face` is RAISED as `PreprocessError(code, message)` by `pipeline.preprocess`
  (or, for `busy`, `worker_crashed` and `worker_killed`, by `pool.PreprocessPool.submit`).
- `no_face` is never raised by `preprocess`: a face-free upload is a valid result (an empty `faces` list, or
  no tracks for a video) and the caller decides whether that is an error. The gateway answers 422 with it; the
  `facellava faces` command prints the empty result, the code on stderr, and exits with its exit status.
- `face_too_small` IS raised: faces were found, but every one is under `PreprocessOptions.min_face_px`, so
  the caller learns why nothing usable came back (smaller faces beside a usable one are dropped silently).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.preprocess.types import PreprocessError


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    http_status: int
    exit_status: int
    meaning: str


_SPECS = (
    ErrorSpec("unsupported_media", 415, 3, "not an image or video format we decode, or no video stream"),
    # 400, not 422: nothing was sent (the same answer the gateway gives an empty upload before preprocessing).
    ErrorSpec("empty_media", 400, 14, "an empty file, upload, base64 or chat data URL"),
    ErrorSpec("corrupt_media", 422, 4, "truncated or undecodable bytes"),
    ErrorSpec("too_large", 413, 5, "over the byte or pixel limit (checked before pixels are decoded)"),
    ErrorSpec("video_too_long", 413, 6, "over the duration or frame-count limit"),
    # 422, not 408: the upload itself takes too long to decode; the client was not slow.
    ErrorSpec("decode_timeout", 422, 7, "decoding and analysis ran past the time limit"),
    ErrorSpec("no_face", 422, 8, "no face found (returned as an empty list, never raised by preprocess)"),
    ErrorSpec("face_too_small", 422, 9, "faces found, all smaller than min_face_px"),
    # 429 like the gateway's own in-flight bound: the client should retry later, the server is fine.
    ErrorSpec("busy", 429, 10, "the worker pool's bounded queue is full; retry later"),
    # 422, not 500: the input killed the worker (a decoder bug it triggers); the server keeps serving.
    ErrorSpec("worker_crashed", 422, 11, "the worker process died on this input; it has been replaced"),
    # 503: stopped from outside (OOM killer, an operator), not by this input; a retry goes to a fresh worker.
    ErrorSpec("worker_killed", 503, 13, "the worker was killed from outside mid-job; it has been replaced, retry"),
    ErrorSpec("internal_error", 500, 12, "an unexpected failure (a bug) in the worker, which keeps serving"),
)

ERRORS: dict[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}


def fail(code: str, message: str) -> PreprocessError:
    """Build a PreprocessError, refusing codes that are not in the table so the API contract cannot drift."""
    if code not in ERRORS:
        raise ValueError(f"unknown preprocess error code {code!r}")
    return PreprocessError(code, message)


def exit_status(code: str) -> int:
    return ERRORS[code].exit_status
