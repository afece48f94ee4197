"""Fixtures shared by the suites that start real engines (tests/e2e, tests/router): they run in one pytest session
in CI, so the tiny model is written and converted once for both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.stack import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted tiny model (or the folder FACELLAVA_TEST_MODEL names, to reuse one across runs)."""
    if os.environ.get("FACELLAVA_TEST_MODEL"):
        return Path(os.environ["FACELLAVA_TEST_MODEL"])
    return build_tiny_model(tmp_path_factory.mktemp("model"), quiet=True)
