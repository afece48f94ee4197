"""Shared material for the checkpoint-tool tests: one generated tiny checkpoint per session (copied per test,
because many tests damage their copy on purpose) and readers that open weight files independently of
conversion.checkpoint_io, so a bug there cannot hide itself.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conversion.checkpoint_schema import IMAGE_TOWER_PREFIX, VIDEO_TOWER_PREFIX
from conversion.tiny_checkpoint import TinyCheckpoint, TinySpec, write_tiny_checkpoint


def _oracle_a() -> Path:
    """official-tiny-A: the default oracle, and the one whose weights tests/fixtures/released-layouts re-saved,
    so the layout tests use it whatever oracle FACELLAVA_ORACLE names: FACELLAVA_ORACLE_A, else the sibling of
    FACELLAVA_ORACLE's folder, else ../shared/fixtures next to the checkout."""
    if "FACELLAVA_ORACLE_A" in os.environ:
        return Path(os.environ["FACELLAVA_ORACLE_A"])
    sibling = Path(os.environ.get("FACELLAVA_ORACLE", "/nonexistent")).parent / "official-tiny-A"
    return sibling if sibling.is_dir() else Path(__file__).resolve().parents[3] / "shared/fixtures/official-tiny-A"


ORACLE_A = _oracle_a()
ORACLE = Path(os.environ.get("FACELLAVA_ORACLE", ORACLE_A))


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a folder's weight files (tiny folders only), read with the libraries' own loaders."""
    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            tensors |= load_file(path)
        elif path.suffix == ".bin":
            tensors |= torch.load(path, weights_only=True)
    return tensors


def expected_serving_tensors(src: TinyCheckpoint) -> dict[str, torch.Tensor]:
    """What the serving folder must hold, read straight from the three source folders: FaceLLaVA's own
    tensors without rotary buffers and embedded towers, and each LanguageBind folder's `vision_model.*` under
    the official tower prefix (without the position_ids buffer older transformers persisted)."""
    released = read_weights(src.facellava)
    expected = {
        name: value
        for name, value in released.items()
        if not name.endswith("rotary_emb.inv_freq") and not name.startswith((IMAGE_TOWER_PREFIX, VIDEO_TOWER_PREFIX))
    }
    for prefix, folder in ((IMAGE_TOWER_PREFIX, src.image_tower), (VIDEO_TOWER_PREFIX, src.video_tower)):
        tower = read_weights(folder)
        expected |= {
            prefix + k.removeprefix("vision_model."): v
            for k, v in tower.items()
            if k.startswith("vision_model.") and not k.endswith("embeddings.position_ids")
        }
    return expected


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def rewrite_safetensors(path: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def rewrite_bin(path: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    tensors = torch.load(path, weights_only=True)
    change(tensors)
    torch.save(tensors, path)


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "src", seed=3)


@pytest.fixture
def tiny(tiny_source: TinyCheckpoint, tmp_path: Path) -> TinyCheckpoint:
    """A private copy of the session's tiny checkpoint, free to damage."""
    root = tmp_path / "src"
    shutil.copytree(tiny_source.facellava.parent, root)
    return TinyCheckpoint(
        root / tiny_source.facellava.name,
        root / tiny_source.image_tower.name,
        root / tiny_source.video_tower.name,
    )


@pytest.fixture
def make_tiny(tmp_path: Path) -> Callable[..., TinyCheckpoint]:
    """A tiny checkpoint with non-default layout options."""

    def make(seed: int = 1, **options) -> TinyCheckpoint:
        return write_tiny_checkpoint(tmp_path / f"variant-{seed}", seed=seed, spec=TinySpec(**options))

    return make
