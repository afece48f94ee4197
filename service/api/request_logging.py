"""JSON log lines carrying the request id of the request being served.

The id lives in a context variable, so every log line written while serving a request (gateway, engine client,
preprocessing) carries it without being passed around. Only ids, routes, codes and timings are logged: never
bodies, media, base64 or authorization headers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("facellava_request_id", default=None)

# Client-supplied ids are echoed into logs and headers: keep them short and free of control characters.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def accept_request_id(supplied: str | None) -> str:
    """The client's X-Request-ID when it is a safe token, otherwise a fresh one."""
    if supplied and _VALID_ID.match(supplied):
        return supplied
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps the request id on a record when it is created, in the task that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


def configure_logging(level: str) -> None:
    """Send every logger (ours and uvicorn's) through one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per engine call is noise
    # Our access log replaces uvicorn's, which would print the raw query string.
    logging.getLogger("uvicorn.access").disabled = True
