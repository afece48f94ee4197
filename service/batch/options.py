"""/analyze options from the command line (`key=value,key=value`), checked against the API's own schema
before the first request, so a typo fails at once instead of once per file."""

from __future__ import annotations

from pydantic import ValidationError

from service.api.error_responses import describe_validation
from service.api.schemas import AnalyzeOptions


class OptionError(ValueError):
    """A setting the service would refuse; the message names the field."""


def parse_options(text: str, tasks: list[str] | None = None) -> dict[str, str]:
    """Form fields for POST /analyze: `landmarks=off,label_decoding=constrained` -> {"landmarks": "off", ...}.

    Values stay strings (they travel as multipart form fields) but must validate as AnalyzeOptions."""
    fields: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"option {part!r}: expected key=value")
        fields[key.strip()] = value.strip()
    if tasks:
        fields["tasks"] = ",".join(tasks)
    checked = {**fields, "tasks": fields["tasks"].split(",")} if "tasks" in fields else fields
    try:
        AnalyzeOptions.model_validate(checked)
    except ValidationError as exc:
        raise OptionError(describe_validation(exc.errors())) from exc
    return fields
