"""Fixtures for the engine-side tests: the oracle, a serving folder converted from it by the project's
converter, and one real vLLM OpenAI server per test module (startup costs ~30-60 s on 2 cores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import (
    ORACLE,
    Oracle,
    case_lengths,
    start_engine_server,
)

from common.child_server import ChildServer
from model.config import FaceLlavaConfig


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    if not (ORACLE / "expected" / "manifest.json").is_file():
        pytest.fail(f"oracle not found at {ORACLE} (set FACELLAVA_ORACLE)")
    return Oracle(ORACLE)


@pytest.fixture(scope="session")
def serving_dir(tmp_path_factory: pytest.TempPathFactory, oracle: Oracle) -> Path:
    """The oracle's downloaded folders converted by the project's own converter with its defaults (landmark
    conditioning off, the landmark weights written)."""
    from conversion.convert import convert

    out = tmp_path_factory.mktemp("serving") / "facellava"
    convert(
        oracle.folder("FaceLLaVA"), oracle.folder("LanguageBind_Image"), oracle.folder("LanguageBind_Video_merge"), out
    )
    return out


@pytest.fixture(scope="session")
def serving_config(serving_dir: Path) -> FaceLlavaConfig:
    return FaceLlavaConfig.from_pretrained(serving_dir)


@pytest.fixture(scope="module")
def engine_server(
    serving_dir: Path, serving_config: FaceLlavaConfig, oracle: Oracle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChildServer]:
    log = tmp_path_factory.mktemp("engine") / "server.log"
    # Conditioning turned on at start, as an operator would: the cases with landmarks need it.
    server = start_engine_server(
        serving_dir,
        log,
        max_model_len=max(case_lengths(oracle, serving_config)),
        extra=["--hf-overrides", json.dumps({"landmark_conditioning": "on"})],
    )
    try:
        yield server
    finally:
        server.stop()
