"""Reading Dockerfiles as instruction lists, so tests can check what an image is built from without Docker."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from .manifests import REPO

DOCKER = REPO / "docker"
IMAGES = {
    "gateway": DOCKER / "gateway.Dockerfile",
    "engine-cpu": DOCKER / "engine-cpu.Dockerfile",
    "engine-gpu": DOCKER / "engine-gpu.Dockerfile",
    "router": DOCKER / "router.Dockerfile",
}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str


def instructions(path: Path) -> list[Instruction]:
    """The Dockerfile's instructions with line continuations joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        out.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    return out


def final_stage(path: Path) -> list[Instruction]:
    """The instructions of the last stage: what the shipped image is made of."""
    steps = instructions(path)
    last_from = max(i for i, step in enumerate(steps) if step.keyword == "FROM")
    return steps[last_from:]


def env(steps: list[Instruction]) -> dict[str, str]:
    """Variables set by ENV key=value instructions (later ones win, as in Docker)."""
    values: dict[str, str] = {}
    for step in steps:
        if step.keyword == "ENV":
            values.update(dict(item.split("=", 1) for item in shlex.split(step.args)))
    return values


def copy_sources(steps: list[Instruction]) -> list[str]:
    """Paths COPY takes from the build context (not from another stage)."""
    sources: list[str] = []
    for step in steps:
        if step.keyword != "COPY":
            continue
        words = shlex.split(step.args)
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        sources += paths[:-1]
    return sources


def installed_names(steps: list[Instruction]) -> set[str]:
    """File names COPY puts in the image from the build context (a destination ending in / keeps names)."""
    names: set[str] = set()
    for step in steps:
        words = shlex.split(step.args) if step.keyword == "COPY" else []
        if not words or any(word.startswith("--from") for word in words):
            continue
        *sources, destination = [word for word in words if not word.startswith("--")]
        if destination.endswith("/"):
            names |= {Path(source).name for source in sources}
        else:
            names.add(Path(destination).name)
    return names
