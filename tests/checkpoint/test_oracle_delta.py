"""The committed official-tiny-B is stored as its difference from official-tiny-A (tests/fixtures/oracle_delta.py):
rebuilding must give back every byte, and a reference file that changed since must be refused, not silently used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.oracle_delta import assemble, split


def _oracle(root: Path, letter: str, weights: bytes) -> Path:
    folder = root / f"official-tiny-{letter}"
    (folder / f"FaceLLaVA-{letter}").mkdir(parents=True)
    (folder / "expected").mkdir()
    (folder / f"FaceLLaVA-{letter}" / "model.safetensors").write_bytes(weights)
    (folder / f"FaceLLaVA-{letter}" / "tokenizer.model").write_bytes(b"pieces")
    (folder / "expected" / "image_crop_256.png").write_bytes(b"png")
    return folder


def test_split_keeps_only_what_differs_and_assemble_restores_every_byte(tmp_path: Path) -> None:
    reference, full = _oracle(tmp_path / "a", "A", b"a-weights"), _oracle(tmp_path / "b", "B", b"b-weights")
    split(full, reference, tmp_path / "delta" / "official-tiny-B")
    kept = {p.relative_to(tmp_path / "delta").as_posix() for p in (tmp_path / "delta").rglob("*") if p.is_file()}
    assert kept == {"official-tiny-B/FaceLLaVA-B/model.safetensors", "official-tiny-B/shared-with-official-tiny-A.json"}
    rebuilt = assemble(tmp_path / "delta" / "official-tiny-B", reference, tmp_path / "out")
    files = sorted(p.relative_to(full) for p in full.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file())
    assert all((rebuilt / f).read_bytes() == (full / f).read_bytes() for f in files)


def test_a_changed_reference_file_is_refused(tmp_path: Path) -> None:
    reference, full = _oracle(tmp_path / "a", "A", b"a-weights"), _oracle(tmp_path / "b", "B", b"b-weights")
    split(full, reference, tmp_path / "delta" / "official-tiny-B")
    (reference / "expected" / "image_crop_256.png").write_bytes(b"another png")
    with pytest.raises(SystemExit, match=re.escape("image_crop_256.png: not the file official-tiny-B was made with")):
        assemble(tmp_path / "delta" / "official-tiny-B", reference, tmp_path / "out")
