"""Renders base and overlays once per test session: nearly every deployment test reads them."""

from __future__ import annotations

import pytest

from .manifests import K8S, OVERLAYS, Manifest, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Manifest]]:
    """{"base": [...], "cpu-dev": [...], "gpu": [...]}: what kubectl apply -k would create for each."""
    out = {"base": render(K8S / "base")}
    out.update({name: render(K8S / "overlays" / name) for name in OVERLAYS})
    return out
