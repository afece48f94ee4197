"""The JSONL results file: one record per line, appended as each file finishes, so a run that is stopped keeps
everything it finished and a second run skips it. The latest record for a path wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """Latest record per `path`; a torn last line (a run killed mid-write) is ignored."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "path" in record:
            records[str(record["path"])] = record
    return records


def is_final(record: dict[str, Any]) -> bool:
    """Done for good: answered, or refused for the file itself (4xx but 429). Server trouble, lost connections
    and unreadable local files are tried again on the next run."""
    if record.get("ok"):
        return True
    status = record.get("status")
    return isinstance(status, int) and 400 <= status < 500 and status != 429


class RecordWriter:
    """Appends one JSON line per record and flushes it, so the file is always a valid prefix of the run."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
