"""Reading every HF weight layout tensor by tensor, and writing shards that never exceed their size."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conversion.checkpoint_io import (
    CheckpointReadError,
    ShardedWeightWriter,
    TensorSource,
    sha256_file,
    weight_files,
)
from conversion.convert import parse_size


def _tensors(count: int, size: int = 100) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(count)
    return {f"t{i}": torch.randn(size, generator=generator) for i in range(count)}


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_writer_shards_round_trip_through_the_reader(tmp_path: Path, fmt: str) -> None:
    tensors = _tensors(10)  # 400 bytes each
    writer = ShardedWeightWriter(tmp_path, max_shard_bytes=1000, fmt=fmt)
    for name, value in tensors.items():
        writer.add(name, value)
    files = writer.close()
    stem = "model" if fmt == "safetensors" else "pytorch_model"
    index = json.loads((tmp_path / f"{stem}.{fmt}.index.json").read_text())
    assert files[-1] == f"{stem}.{fmt}.index.json"
    assert len(files) - 1 == 5  # two 400-byte tensors fit in 1000 bytes, a third does not
    assert set(index["weight_map"]) == set(tensors)
    assert index["metadata"]["total_size"] == 4000
    assert not list(tmp_path.glob(".*part*")), "temporary shard names must not survive"
    source = TensorSource(tmp_path)
    assert source.names() == list(tensors)
    for name, value in tensors.items():
        assert source.tensors[name].shape == tuple(value.shape)
        assert source.tensors[name].dtype == value.dtype
        assert torch.equal(source.get(name), value)
    assert all((tmp_path / f).stat().st_mode & 0o044 for f in files)


def test_single_shard_is_named_like_a_download(tmp_path: Path) -> None:
    writer = ShardedWeightWriter(tmp_path, max_shard_bytes=1 << 30)
    writer.add("a", torch.ones(3))
    assert writer.close() == ["model.safetensors"]
    assert torch.equal(load_file(tmp_path / "model.safetensors")["a"], torch.ones(3))


def test_writer_refuses_duplicates_and_empty_limits(tmp_path: Path) -> None:
    writer = ShardedWeightWriter(tmp_path, max_shard_bytes=100)
    writer.add("a", torch.ones(3))
    with pytest.raises(ValueError, match="written twice"):
        writer.add("a", torch.ones(3))
    with pytest.raises(ValueError, match="must be positive"):
        ShardedWeightWriter(tmp_path, max_shard_bytes=0)


def test_reader_prefers_safetensors_and_finds_lone_files(tmp_path: Path) -> None:
    save_file({"a": torch.ones(2)}, tmp_path / "model.safetensors")
    torch.save({"a": torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    assert weight_files(tmp_path) == [tmp_path / "model.safetensors"]
    lone = tmp_path / "lone"
    lone.mkdir()
    torch.save({"b": torch.ones(1)}, lone / "weights.bin")
    assert weight_files(lone) == [lone / "weights.bin"]


def test_reader_refuses_broken_layouts(tmp_path: Path) -> None:
    with pytest.raises(CheckpointReadError, match=r"no \.safetensors or \.bin weight file"):
        TensorSource(tmp_path)
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}}))
    with pytest.raises(CheckpointReadError, match="no 'weight_map'"):
        TensorSource(tmp_path)
    (tmp_path / "model.safetensors.index.json").unlink()
    save_file({"a": torch.ones(1)}, tmp_path / "one.safetensors")
    save_file({"a": torch.ones(1)}, tmp_path / "two.safetensors")
    with pytest.raises(CheckpointReadError, match="tensor a appears in both"):
        TensorSource(tmp_path)
    other = tmp_path / "pickle"
    other.mkdir()
    torch.save([torch.ones(1)], other / "pytorch_model.bin")
    with pytest.raises(CheckpointReadError, match="expected a state dict"):
        TensorSource(other)


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 1000)
    assert sha256_file(path, chunk_bytes=4096) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2_000_000_000), ("1.5GiB", 1_610_612_736), ("300kb", 300_000), ("512", 512)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_refuses_garbage() -> None:
    with pytest.raises(Exception, match="not a size"):
        parse_size("two gigs")


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin"])
def test_reader_refuses_corrupt_files_by_name(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointReadError, match=name):
        TensorSource(tmp_path)


def test_reader_refuses_a_pickle_that_would_run_code(tmp_path: Path) -> None:
    torch.save({"a": torch.ones(1), "b": Path("x")}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointReadError, match="not a readable torch state dict"):
        TensorSource(tmp_path)
