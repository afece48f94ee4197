"""The real engine (vLLM CPU build + Face-LLaVA plugin) and the real gateway (`facellava serve`) as
child processes, each in its own process group so a test can kill one outright and start it again on the same
port. The engine requires ENGINE_KEY, which every gateway here sends, as in production."""

from __future__ import annotations

from pathlib import Path

from common.child_server import ChildServer, engine_python, engine_server
from service.gateway_process import Gateway as KeylessGateway

__all__ = ["ENGINE_KEY", "Gateway", "group_members", "start_engine"]

ENGINE_KEY = "e2e-engine-key"


def start_engine(model_dir: Path, log_path: Path) -> ChildServer:
    return engine_server(engine_python(), model_dir, log_path, api_key=ENGINE_KEY)


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (zombies excluded), from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


class Gateway(KeylessGateway):
    """The package's gateway child server, sending ENGINE_KEY to the engine as production does."""

    def __init__(self, engine_url: str, log_path: Path, **settings: str) -> None:
        super().__init__(engine_url, log_path, **{"engine_api_key": ENGINE_KEY, **settings})
