"""Fixtures for the engine-side tests: the oracle, a serving folder converted from it by the project's
converter, and one real vLLM OpenAI server per test module (startup costs ~30-60 s on 2 cores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import ORACLE, EngineServer, Oracle, start_engine_server, stop_engine_server

from model.config import FaceLlavaConfig


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    if not (ORACLE / "expected" / "manifest.json").is_file():
        pytest.fail(f"oracle not found at {ORACLE} (set FACELLAVA_ORACLE)")
    return Oracle(ORACLE)


@pytest.fixture(scope="session")
def serving_dir(tmp_path_factory: pytest.TempPathFactory, oracle: Oracle) -> Path:
    """The oracle's downloaded folders converted by the project's own converter (landmark conditioning decided
    from the weights: "on" for a fixture carrying all landmark modules)."""
    from model.convert import convert

    folders = {
        p.name.rsplit("-", 1)[0]: p for p in oracle.root.iterdir() if p.is_dir() and p.name != "expected"
    }
    out = tmp_path_factory.mktemp("serving") / "facellava"
    convert(folders["FaceLLaVA"], folders["LanguageBind_Image"], folders["LanguageBind_Video_merge"], out)
    return out


@pytest.fixture(scope="session")
def serving_config(serving_dir: Path) -> FaceLlavaConfig:
    return FaceLlavaConfig.from_pretrained(serving_dir)


@pytest.fixture(scope="module")
def engine_server(serving_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    proc, server = start_engine_server(serving_dir, tmp_path_factory.mktemp("engine") / "server.log")
    try:
        yield server
    finally:
        stop_engine_server(proc)
