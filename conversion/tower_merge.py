"""The two vision towers: read from the LanguageBind folders (what the official loader uses), with peft's LoRA
merged into the base weights, and checked against the copy FaceLLaVA's own weights embed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from conversion.checkpoint_io import TensorSource
from conversion.checkpoint_schema import (
    IMAGE_TOWER_PREFIX,
    LANGUAGEBIND_VISION_PREFIX,
    VIDEO_TOWER_PREFIX,
    Shapes,
    check_shape,
    check_unknown,
    name_list,
    tower_shapes,
)
from conversion.derived_buffers import POSITION_IDS, position_ids, verify_all
from conversion.errors import ConversionError
from conversion.released_config import LoraSettings, read_tower_config

TowerKind = Literal["image", "video"]


@dataclass(frozen=True)
class TowerInput:
    """One downloaded LanguageBind folder, its checked vision config and where its tensors go."""

    kind: TowerKind
    folder: Path
    hub_id: str
    config: dict[str, Any]
    lora: LoraSettings

    @property
    def prefix(self) -> str:
        """The official (embedded) name prefix, which is also the output name prefix."""
        return IMAGE_TOWER_PREFIX if self.kind == "image" else VIDEO_TOWER_PREFIX

    @classmethod
    def read(cls, kind: TowerKind, folder: Path, hub_id: str) -> TowerInput:
        config, lora = read_tower_config(folder, video=kind == "video")
        return cls(kind, folder, hub_id, config, lora)


_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<which>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")


@dataclass
class _TowerEntry:
    base: str
    lora_a: str | None = None
    lora_b: str | None = None

    def source_keys(self) -> list[str]:
        """The base weight and its LoRA adapters: everything this entry reads from the checkpoint."""
        return [key for key in (self.base, self.lora_a, self.lora_b) if key is not None]


@dataclass
class TowerView:
    """One vision tower inside a checkpoint, under its official names, with peft's LoRA merged away.

    LanguageBind wraps `vision_model.encoder` with peft's `get_peft_model` when its config has lora_r > 0
    (the official code pins peft 0.4.0). That renames the encoder's keys and adds the adapters. Assumed
    naming, from peft's conventions (both generations handled; "default" is peft's adapter name, absent in
    very old peft):
      encoder.base_model.model.layers.N.self_attn.q_proj.weight             peft <= 0.6 (Linear subclassed)
      encoder.base_model.model.layers.N.self_attn.q_proj.base_layer.weight  peft >= 0.7 (Linear wrapped)
      encoder.base_model.model.layers.N.self_attn.q_proj.lora_A.default.weight   [r, in]
      encoder.base_model.model.layers.N.self_attn.q_proj.lora_B.default.weight   [out, r]
    The merged weight is W + (lora_alpha / lora_r) * B @ A (peft's `merge` with fan_in_fan_out=False),
    computed in float32 and stored in W's dtype.
    """

    source: TensorSource
    prefix: str
    lora: LoraSettings
    label: str
    entries: dict[str, _TowerEntry] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    buffers: list[str] = field(default_factory=list)  # persisted position_ids (older transformers), verified

    def __post_init__(self) -> None:
        adapters: set[str] = set()
        lora_parts: list[tuple[str, str, str]] = []
        for key in self.source.names():
            if not key.startswith(self.prefix):
                continue
            name = key[len(self.prefix) :].replace("base_model.model.", "").replace(".base_layer.", ".")
            match = _LORA_KEY.match(name)
            if name == POSITION_IDS:
                self.buffers.append(key)
            elif match:
                adapters.add(match["adapter"] or "")
                lora_parts.append((match["module"] + ".weight", match["which"], key))
            elif name in self.entries:
                raise ConversionError(
                    f"{self.label}: tensors {self.entries[name].base} and {key} are both {name}"
                )
            else:
                self.entries[name] = _TowerEntry(base=key)
        if len(adapters) > 1:
            raise ConversionError(f"{self.label}: several LoRA adapters {sorted(adapters)}; cannot pick one")
        if lora_parts and self.lora.rank <= 0:
            raise ConversionError(
                f"{self.label}: tensor {lora_parts[0][2]} is a LoRA delta but the config's lora_r is "
                f"{self.lora.rank}, so its scaling (lora_alpha / lora_r) is unknown"
            )
        for target, which, key in lora_parts:
            entry = self.entries.get(target)
            if entry is None:
                raise ConversionError(f"{self.label}: LoRA tensor {key} has no base weight {target}")
            if which == "A":
                entry.lora_a = key
            else:
                entry.lora_b = key
        for name, entry in self.entries.items():
            if (entry.lora_a is None) != (entry.lora_b is None):
                raise ConversionError(f"{self.label}: {name} has only one of lora_A / lora_B")
            if entry.lora_a is not None:
                self._check_lora_shapes(name, entry)

    def _check_lora_shapes(self, name: str, entry: _TowerEntry) -> None:
        out_features, in_features = self.source.tensors[entry.base].shape
        rank = self.lora.rank
        a_shape = self.source.tensors[entry.lora_a].shape
        b_shape = self.source.tensors[entry.lora_b].shape
        if a_shape != (rank, in_features):
            raise ConversionError(
                f"shape mismatch for tensor {entry.lora_a} in {self.label}: {list(a_shape)}, "
                f"expected [lora_r={rank}, {in_features}]"
            )
        if b_shape != (out_features, rank):
            raise ConversionError(
                f"shape mismatch for tensor {entry.lora_b} in {self.label}: {list(b_shape)}, "
                f"expected [{out_features}, lora_r={rank}]"
            )

    def shape(self, name: str) -> tuple[int, ...]:
        return self.source.tensors[self.entries[name].base].shape

    def nbytes(self, name: str) -> int:
        return self.source.tensors[self.entries[name].base].nbytes

    def get(self, name: str) -> torch.Tensor:
        """The tower tensor, LoRA merged in when the checkpoint carries adapters for it."""
        entry = self.entries[name]
        base = self.source.get(entry.base)
        if entry.lora_a is None:
            return base
        lora_a = self.source.get(entry.lora_a).float()
        lora_b = self.source.get(entry.lora_b).float()
        if name not in self.merged:
            self.merged.append(name)
        return (base.float() + self.lora.scale * (lora_b @ lora_a)).to(base.dtype)

    def check_names(self, expected: Shapes, where: str, complete: bool, ignore_unknown: bool) -> list[str]:
        """Refuses wrong shapes and (when `complete`) missing tensors; unknown tensors are refused, or dropped
        from the view with ignore_unknown: returns the source keys dropped. Persisted position_ids must be
        the arange the official embeddings compute with."""
        positions = expected["embeddings.position_embedding.weight"][0]
        verify_all(self.buffers, self.source.get, position_ids(positions), where)
        unknown = [name for name in self.entries if name not in expected]
        dropped = [key for name in unknown for key in self.entries[name].source_keys()]
        check_unknown(
            [self.entries[name].base for name in unknown],
            where,
            "a LanguageBind vision tower with this config",
            ignore_unknown,
        )
        for name in unknown:
            del self.entries[name]
        for name, entry in self.entries.items():
            check_shape(entry.base, self.shape(name), expected[name], where)
        missing = [self.prefix + name for name in expected if name not in self.entries]
        if complete and missing:
            raise ConversionError(f"{where} is missing tower tensor(s): {name_list(missing)}")
        return dropped


@dataclass
class TowerPair:
    """One tower as written (the LanguageBind folder's copy) and as FaceLLaVA embeds it (checked against
    the written one)."""

    downloaded: TowerView
    embedded: TowerView
    ignored: list[str]

    @classmethod
    def open(
        cls,
        tower: TowerInput,
        downloaded_source: TensorSource,
        llava_source: TensorSource,
        llava_label: str,
        ignore_unknown: bool,
    ) -> TowerPair:
        """Both copies' names and shapes checked against the tower config; no tensor data read yet."""
        expected = tower_shapes(tower.config)
        downloaded = TowerView(downloaded_source, LANGUAGEBIND_VISION_PREFIX, tower.lora, tower.folder.name)
        ignored = downloaded.check_names(expected, tower.folder.name, True, ignore_unknown)
        embedded = TowerView(llava_source, tower.prefix, tower.lora, f"{llava_label} ({tower.prefix}*)")
        ignored += embedded.check_names(expected, llava_label, False, ignore_unknown)
        return cls(downloaded, embedded, ignored)

    @property
    def dropped(self) -> list[str]:
        """Persisted position_ids of both copies: verified, not written."""
        return [f"{self.downloaded.label}/{key}" for key in self.downloaded.buffers] + self.embedded.buffers

    @property
    def unused(self) -> list[str]:
        """The LanguageBind folder's tensors outside `vision_model.` (the CLIP text half, projections,
        logit_scale): the official tower keeps only `vision_model`, so they never reach the computation."""
        names = self.downloaded.source.names()
        return [f"{self.downloaded.label}/{n}" for n in names if not n.startswith(LANGUAGEBIND_VISION_PREFIX)]

    @property
    def verified(self) -> int:
        """How many tensors the embedded copy has, each compared with the downloaded one when written."""
        return sum(name in self.embedded.entries for name in self.downloaded.entries)

    def tensor(self, name: str) -> torch.Tensor:
        """The LanguageBind tensor (what the official loader uses), once the embedded copy is found equal.

        The embedded copy may be stored in a narrower dtype (the released checkpoint in bf16, LanguageBind in
        fp32): it must equal the LanguageBind tensor rounded to that dtype, bit for bit.
        """
        tensor = self.downloaded.get(name)
        if name in self.embedded.entries:
            copy = self.embedded.get(name)
            if copy.shape != tensor.shape or not torch.equal(tensor.to(copy.dtype), copy):
                raise ConversionError(
                    f"tower tensor {self.embedded.entries[name].base} in {self.embedded.label} differs from "
                    f"{self.downloaded.entries[name].base} in {self.downloaded.label}; the official loader "
                    "uses the LanguageBind folder, so the two downloads do not belong together"
                )
        return tensor
