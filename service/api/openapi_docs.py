"""OpenAPI additions FastAPI cannot infer: POST /analyze reads its body itself (multipart or JSON), so its two
request-body schemas are declared here, and every route lists the error body it may return."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from service.api.schemas import AnalyzeForm, AnalyzeJSONRequest, ErrorResponse

_REF = "#/components/schemas/{model}"

ANALYZE_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"$ref": _REF.format(model="AnalyzeForm")}},
        "application/json": {"schema": {"$ref": _REF.format(model="AnalyzeJSONRequest")}},
    },
}

_ERRORS = {
    400: "malformed request (bad base64, multipart, URL)",
    401: "missing or wrong API key",
    413: "body or media over the size limit",
    415: "unsupported content type or media format",
    422: "invalid options, no face, face too small, undecodable media",
    429: "overloaded: retry after Retry-After seconds",
    503: "engine unavailable: retry after Retry-After seconds",
    504: "the request ran past its time limit",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description} for status, description in _ERRORS.items()
}


def install_openapi(app: FastAPI) -> None:
    """Generate the schema once, with the /analyze body models added to its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            _, definitions = models_json_schema(
                [(AnalyzeJSONRequest, "validation"), (AnalyzeForm, "validation")], ref_template=_REF
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions["$defs"])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
