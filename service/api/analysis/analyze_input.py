"""Reading POST /analyze: a multipart upload (`file` plus form fields) or JSON ({"media": {...}, options}).

The multipart body is parsed with Starlette's streaming parser, but with the file kept in memory (the body is
already bounded by the size limit), so an upload never lands in a temporary file on disk. A list option (tasks)
may come as repeated fields, comma-separated values, or both; any other option given twice is refused, so no
value a client sent is ever dropped in silence.

Two 415 codes, because the client fixes them differently: `unsupported_content_type` (here) means the request
itself is malformed (its Content-Type header), a bug in the calling code; `unsupported_media` (preprocessing)
means the uploaded file is a format the service does not decode, so the user must send another file.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import get_args, get_origin

from pydantic import ValidationError
from python_multipart.exceptions import FormParserError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from service.api.error_responses import ApiError, describe_validation
from service.api.schemas import AnalyzeJSONRequest, AnalyzeOptions
from service.api.settings import Settings
from service.api.url_fetch import fetch_media

_FORM_FIELDS = frozenset(AnalyzeOptions.model_fields)
_MAX_FIELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class AnalyzeInput:
    data: bytes
    filename: str | None
    options: AnalyzeOptions


async def read_analyze_input(request: Request, settings: Settings) -> AnalyzeInput:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _read_multipart(request)
    if content_type == "application/json":
        return await _read_json(request, settings)
    raise ApiError("unsupported_content_type", "send multipart/form-data (file upload) or application/json")


class _CompleteMultiPartParser(MultiPartParser):
    """Starlette's parser, noting whether the body reached its closing boundary: it returns what it has parsed
    when a body stops early, so a cut-off upload would otherwise look like a form without its file field."""

    ended = False

    def on_end(self) -> None:
        self.ended = True


async def _read_multipart(request: Request) -> AnalyzeInput:
    parser = _CompleteMultiPartParser(
        request.headers, request.stream(), max_files=1, max_fields=32, max_part_size=_MAX_FIELD_BYTES
    )
    parser.spool_max_size = 2**62  # keep the file in memory: the body size limit already bounds it
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError("bad_multipart", exc.message) from exc
    except FormParserError as exc:
        raise ApiError("bad_multipart", "the multipart body is malformed") from exc
    if not parser.ended:
        await form.close()
        raise ApiError("bad_multipart", "the multipart body ends before its closing boundary")
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError("invalid_request", "file: a multipart file field named 'file' is required")
        unknown = set(form.keys()) - _FORM_FIELDS - {"file"}
        if unknown:
            raise ApiError("invalid_request", f"unknown form fields: {', '.join(sorted(unknown))}")
        with _invalid_request():
            options = AnalyzeOptions.model_validate(_form_options(form.multi_items()))
        data = await upload.read()
        if not data:
            raise ApiError("empty_media", "the uploaded file is empty")
        return AnalyzeInput(data, upload.filename, options)
    finally:
        await form.close()


def _form_options(items: list[tuple[str, str | UploadFile]]) -> dict[str, object]:
    """Form fields as AnalyzeOptions input: list fields from every occurrence (each comma-separated), scalar
    fields exactly once."""
    values: dict[str, list[str | UploadFile]] = {}
    for key, value in items:
        if key != "file":
            values.setdefault(key, []).append(value)
    options: dict[str, object] = {}
    for key, given in values.items():
        if key in _LIST_FIELDS:
            options[key] = [item.strip() for value in given for item in str(value).split(",") if item.strip()]
        elif len(given) > 1:
            raise ApiError("invalid_request", f"{key}: given {len(given)} times; give it once")
        else:
            options[key] = given[0]
    return options


def _is_list_field(annotation: object) -> bool:
    return get_origin(annotation) is list or any(_is_list_field(arg) for arg in get_args(annotation))


_LIST_FIELDS = frozenset(name for name, f in AnalyzeOptions.model_fields.items() if _is_list_field(f.annotation))


async def _read_json(request: Request, settings: Settings) -> AnalyzeInput:
    body = await request.body()
    with _invalid_request():
        parsed = AnalyzeJSONRequest.model_validate_json(body)
    # The request is its own options (AnalyzeJSONRequest extends AnalyzeOptions): no second validation.
    if parsed.media.url is not None:
        return AnalyzeInput(await fetch_media(parsed.media.url, settings), parsed.media.filename, parsed)
    return AnalyzeInput(decode_base64(parsed.media.base64 or ""), parsed.media.filename, parsed)


# RFC 2045 breaks base64 into 76-column lines (what `base64 FILE` prints); RFC 4648 clients may leave the padding
# off. Both are base64: only characters outside the alphabet (or an impossible length) are refused.
_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")


def decode_base64(text: str, field: str = "media.base64") -> bytes:
    """Base64 (standard alphabet; line breaks, surrounding whitespace and missing padding allowed; a
    `data:...;base64,` prefix allowed) to bytes. Empty or invalid is a 400 naming `field`, the field the client
    actually sent (a chat client sends an image_url.url, never media.base64)."""
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.endswith(";base64"):
            raise ApiError("invalid_base64", f"{field}: a data URL must be data:<type>;base64,<base64>")
    text = text.translate(_WHITESPACE)
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("invalid_base64", f"{field} is not valid base64") from exc
    if not data:
        raise ApiError("empty_media", f"{field}: the media is empty")
    return data


@contextmanager
def _invalid_request() -> Iterator[None]:
    """A failed validation of the request as the API's 422 invalid_request (field paths, no input echoed)."""
    try:
        yield
    except ValidationError as exc:
        raise ApiError("invalid_request", describe_validation(exc.errors())) from exc
