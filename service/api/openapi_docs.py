"""OpenAPI additions FastAPI cannot infer: POST /analyze reads its body itself (multipart or JSON), so its two
request-body schemas are declared here; every route lists the error body it may return; and the sampling
fields, max_faces and the chat's face index get the upper bounds of this server's settings (sampling_bounds,
FACELLAVA_MAX_FACES_LIMIT), so the schema says what it enforces."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from service.api.analysis.sampling_bounds import upper_bounds
from service.api.schemas import AnalyzeForm, AnalyzeJSONRequest, ErrorResponse
from service.api.settings import Settings

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


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Generate the schema once, with the /analyze body models added to its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            _, definitions = models_json_schema(
                [(AnalyzeJSONRequest, "validation"), (AnalyzeForm, "validation")], ref_template=_REF
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(definitions["$defs"])
            faces = {"max_faces": settings.max_faces_limit, "face": settings.max_faces_limit - 1}
            bounds = {**upper_bounds(settings), **faces}
            _state_upper_bounds(components, bounds)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _state_upper_bounds(components: dict[str, Any], bounds: dict[str, int | float]) -> None:
    """Set `maximum` on every bounded property, in each numeric branch of a nullable one."""
    for model in components.values():
        for name, prop in model.get("properties", {}).items():
            if name in bounds:
                for branch in prop.get("anyOf", [prop]):
                    if branch.get("type") in ("integer", "number"):
                        branch["maximum"] = bounds[name]
