"""Which files a batch covers: files, folders (recursively) and manifests, in a stable order without repeats.

A manifest is a file whose lines name media (a `.txt`/`.lst` list, or `.jsonl` lines with a `path` field);
relative paths are read from the manifest's folder, so a data set's list travels with the data set.
"""

from __future__ import annotations

import json
from pathlib import Path

# What the gateway decodes (docs/usage.md); anything else in a folder is skipped, not sent.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".webm", ".mkv", ".avi"})
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
MANIFEST_SUFFIXES = frozenset({".txt", ".lst", ".jsonl"})


def is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_SUFFIXES


def manifest_paths(manifest: Path) -> list[Path]:
    """The media a manifest names: one path per line (blank lines and `#` comments skipped) or JSONL `path`."""
    paths = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = str(json.loads(line)["path"]) if manifest.suffix == ".jsonl" else line
        paths.append(resolve(manifest.parent, name))
    return paths


def resolve(base: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else base / path


def collect_files(arguments: list[Path]) -> list[Path]:
    """Every media file the arguments name, in argument order (a folder's files sorted), each once.

    A named file is kept even if it is missing or has an unknown suffix: the batch records why it failed rather
    than silently shrinking the run."""
    seen: dict[Path, None] = {}
    for argument in arguments:
        if argument.is_dir():
            found = sorted(p for p in argument.rglob("*") if p.is_file() and is_media(p))
        elif argument.suffix.lower() in MANIFEST_SUFFIXES and argument.is_file():
            found = manifest_paths(argument)
        else:
            found = [argument]
        seen.update(dict.fromkeys(found))
    return list(seen)
