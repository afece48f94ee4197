"""Tensor-at-a-time reading and shard-at-a-time writing of checkpoint folders.

The real checkpoint is ~15 GB of LLaMA plus two ~2 GB LanguageBind files, on a machine with 24 GiB shared by
other work, so nothing here ever materialises a whole state dict: readers keep only the names, shapes and
dtypes of every tensor, open one file at a time (memory-mapped) and hand out one tensor at a time; the writer
holds at most one output shard. Both HF layouts are read: a single `model.safetensors` / `pytorch_model.bin`
or shards listed by a `*.index.json`, and any other lone weight file in the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

WeightFormat = Literal["safetensors", "bin"]

_INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


class CheckpointReadError(ValueError):
    """A weight folder that cannot be read as a checkpoint (no weights, broken index, duplicate tensor)."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives and what it looks like, known without reading its data."""

    file: Path
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        """The tensor's size in bytes: progress and shard sizes are known before any data is read."""
        return self.dtype.itemsize * torch.Size(self.shape).numel()


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a downloaded folder, in the order the index (or the folder) lists them.

    safetensors is preferred when a folder holds both formats, as transformers does.
    """
    for index_name in _INDEX_FILES:
        index = folder / index_name
        if index.is_file():
            weight_map = json.loads(index.read_text()).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise CheckpointReadError(f"{index}: no 'weight_map'")
            names = list(dict.fromkeys(weight_map.values()))
            missing = [n for n in names if not (folder / n).is_file()]
            if missing:
                raise CheckpointReadError(f"{index} lists missing shard(s): {', '.join(missing)}")
            return [folder / n for n in names]
    for single in _SINGLE_FILES:
        if (folder / single).is_file():
            return [folder / single]
    found = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not found:
        raise CheckpointReadError(f"{folder}: no .safetensors or .bin weight file")
    return found


def _open_safetensors(path: Path) -> Any:
    try:
        return safe_open(str(path), framework="pt")
    except (SafetensorError, OSError) as error:
        raise CheckpointReadError(f"{path}: not a readable safetensors file ({error})") from None


def _load_bin(path: Path) -> dict[str, torch.Tensor]:
    """A .bin state dict, memory-mapped so that only the tensors actually read are paged in.

    weights_only: a pickle that would run code is refused, not executed.
    """
    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise CheckpointReadError(f"{path}: not a readable torch state dict ({error})") from None
    if not isinstance(state, dict):
        raise CheckpointReadError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


class TensorSource:
    """All tensors of one checkpoint folder, read lazily one file at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.files = weight_files(self.folder)
        self.tensors: dict[str, TensorInfo] = {}
        for path in self.files:
            for name, shape, dtype in self._scan(path):
                if name in self.tensors:
                    raise CheckpointReadError(
                        f"tensor {name} appears in both {self.tensors[name].file} and {path}"
                    )
                self.tensors[name] = TensorInfo(path, shape, dtype)
        self._open_path: Path | None = None
        self._open_handle: Any = None

    @staticmethod
    def _scan(path: Path) -> Iterator[tuple[str, tuple[int, ...], torch.dtype]]:
        if path.suffix == ".safetensors":
            handle = _open_safetensors(path)
            for name in handle.keys():  # noqa: SIM118 (safe_open is not a mapping)
                sliced = handle.get_slice(name)
                yield name, tuple(sliced.get_shape()), _SAFETENSORS_DTYPES[sliced.get_dtype()]
        else:
            for name, tensor in _load_bin(path).items():
                yield name, tuple(tensor.shape), tensor.dtype

    def names(self) -> list[str]:
        """Tensor names grouped by file, so reading them in this order opens each file once."""
        return list(self.tensors)

    def get(self, name: str) -> torch.Tensor:
        """One tensor, as a tensor that owns its memory (the file can be closed afterwards)."""
        info = self.tensors[name]
        if self._open_path != info.file:
            self.close()
            if info.file.suffix == ".safetensors":
                self._open_handle = _open_safetensors(info.file)
            else:
                self._open_handle = _load_bin(info.file)
            self._open_path = info.file
        if isinstance(self._open_handle, dict):
            return self._open_handle[name].clone()
        return self._open_handle.get_tensor(name)

    def close(self) -> None:
        """Drop the open file (and with it its memory map)."""
        self._open_handle = None
        self._open_path = None


def sha256_file(path: Path, chunk_bytes: int = 16 << 20) -> str:
    """Hex sha256 of a file, read in chunks (weight files are up to ~10 GB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _publish_file(path: Path, final: Path) -> None:
    """Rename a finished shard into place, readable by all (safetensors creates files owner-only)."""
    path.chmod(0o644)
    os.replace(path, final)


class ShardedWeightWriter:
    """Writes tensors into shards of at most `max_shard_bytes`, holding only the current shard in memory.

    The number of shards is known only at the end, so shards are written under temporary names and renamed
    by `close()` to the HF layout: one `model.safetensors` (`pytorch_model.bin`), or `model-0000k-of-0000n.*`
    plus the `*.index.json` weight map.
    """

    def __init__(self, folder: Path, max_shard_bytes: int, fmt: WeightFormat = "safetensors") -> None:
        if max_shard_bytes <= 0:
            raise ValueError(f"max_shard_bytes must be positive, got {max_shard_bytes}")
        self.folder = Path(folder)
        self.max_shard_bytes = max_shard_bytes
        self.fmt = fmt
        self._suffix = "safetensors" if fmt == "safetensors" else "bin"
        self._stem = "model" if fmt == "safetensors" else "pytorch_model"
        self._shard: dict[str, torch.Tensor] = {}
        self._shard_bytes = 0
        self._written: list[tuple[Path, list[str]]] = []
        self._total_bytes = 0
        self._names: set[str] = set()

    def add(self, name: str, tensor: torch.Tensor) -> None:
        """Queue one tensor; flushes the current shard first if this tensor would overflow it."""
        if name in self._names:
            raise ValueError(f"tensor {name} written twice")
        self._names.add(name)
        nbytes = tensor.numel() * tensor.element_size()
        if self._shard and self._shard_bytes + nbytes > self.max_shard_bytes:
            self._flush()
        self._shard[name] = tensor.contiguous()
        self._shard_bytes += nbytes
        self._total_bytes += nbytes

    def _flush(self) -> None:
        path = self.folder / f".{self._stem}-part{len(self._written):05d}.{self._suffix}"
        if self.fmt == "safetensors":
            save_file(self._shard, str(path), metadata={"format": "pt"})
        else:
            torch.save(self._shard, path)
        self._written.append((path, list(self._shard)))
        self._shard = {}
        self._shard_bytes = 0

    def close(self) -> list[str]:
        """Write the last shard, give shards their final names, write the index if sharded; returns names."""
        if self._shard or not self._written:
            self._flush()
        count = len(self._written)
        if count == 1:
            final = self.folder / f"{self._stem}.{self._suffix}"
            _publish_file(self._written[0][0], final)
            return [final.name]
        weight_map: dict[str, str] = {}
        finals = []
        for number, (path, names) in enumerate(self._written, start=1):
            final = self.folder / f"{self._stem}-{number:05d}-of-{count:05d}.{self._suffix}"
            _publish_file(path, final)
            finals.append(final.name)
            weight_map.update(dict.fromkeys(names, final.name))
        index = {"metadata": {"total_size": self._total_bytes}, "weight_map": weight_map}
        index_path = self.folder / f"{self._stem}.{self._suffix}.index.json"
        index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        return [*finals, index_path.name]
