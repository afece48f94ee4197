"""Which of FaceLLaVA's own tensors (LLaMA, projector, landmark modules) go into the serving folder, and
whether landmark conditioning is on: decided from names and shapes alone, before any weight is read."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from conversion.checkpoint_io import TensorSource
from conversion.checkpoint_schema import (
    IMAGE_TOWER_PREFIX,
    VIDEO_TOWER_PREFIX,
    check_shape,
    check_unknown,
    landmark_shapes,
    llama_shapes,
    name_list,
    projector_shapes,
)
from conversion.derived_buffers import IGNORED_ON_LOAD, ROTARY_INV_FREQ, rotary_inv_freq, verify_all
from conversion.errors import ConversionError

logger = logging.getLogger("facellava.convert")

LandmarkChoice = Literal["on", "off"]


@dataclass
class Plan:
    """Everything decided about FaceLLaVA's own tensors before any weight is written."""

    llm_tensors: list[str]
    landmark_on: bool
    landmark_reason: str
    dropped: list[str]  # persisted buffers (verified, recomputed by vLLM) and keys the official class ignores
    ignored: list[str]  # unknown tensors dropped because the user asked for ignore_unknown
    warnings: list[str]


def plan_facellava(
    source: TensorSource,
    fields: dict[str, Any],
    text: dict[str, Any],
    choice: LandmarkChoice,
    where: str,
    ignore_unknown: bool = False,
) -> Plan:
    """Checks every non-tower tensor of the FaceLLaVA folder against the configs and decides what is written.

    landmark conditioning: "off" (the default, what the official inference computes: it passes no landmarks)
    still writes a complete set of landmark weights so that an engine can turn conditioning on
    (`--hf-overrides`); "on" needs every landmark tensor. A partial set is never written.
    """
    required = llama_shapes(text) | projector_shapes(text["hidden_size"], fields["mm_hidden_size"])
    landmark_groups = landmark_shapes(fields, text["hidden_size"])
    landmark_all = {name: shape for group in landmark_groups.values() for name, shape in group.items()}
    dropped, buffers, unknown = [], [], []
    for name, info in source.tensors.items():
        if name.endswith(ROTARY_INV_FREQ):
            buffers.append(name)
        elif IGNORED_ON_LOAD.fullmatch(name):
            dropped.append(name)
        elif name.startswith((IMAGE_TOWER_PREFIX, VIDEO_TOWER_PREFIX)):
            continue
        elif name in required:
            check_shape(name, info.shape, required[name], where)
        elif name in landmark_all:
            check_shape(name, info.shape, landmark_all[name], where)
        else:
            unknown.append(name)
    ignored = check_unknown(unknown, where, "Face-LLaVA with this config", ignore_unknown)
    verify_all(buffers, source.get, rotary_inv_freq(text), where)
    dropped += buffers
    missing = [name for name in required if name not in source.tensors]
    if missing:
        raise ConversionError(f"{where} is missing required tensor(s): {name_list(missing)}")
    absent = [name for name in landmark_all if name not in source.tensors]
    warnings = []
    if choice == "on" and absent:
        raise ConversionError(
            f"landmark conditioning 'on' needs every landmark tensor; {where} lacks {name_list(absent)}"
        )
    on = choice == "on"
    if on:
        reason = f"'on' (operator's choice): all {len(landmark_all)} landmark tensors present"
    elif absent:
        modules = sorted(
            {group for group, shapes in landmark_groups.items() if any(n in shapes for n in absent)}
        )
        reason = (
            f"'off' (default, as the official inference): landmark weights incomplete ({len(absent)} tensors of "
            f"{', '.join(modules)} missing, e.g. {absent[0]}), so none are written"
        )
        warnings.append(f"landmark weights not written: {reason}")
        logger.warning("landmark weights not written: %s", reason)
    else:
        reason = (
            "'off' (default, as the official inference, which passes no landmarks); the landmark weights are "
            "written, so an engine can still turn conditioning on"
        )
    keep_landmarks = not absent  # a partial set is never written: it could only ever load half a module
    llm_tensors = [n for n in source.names() if n in required or (keep_landmarks and n in landmark_all)]
    return Plan(llm_tensors, on, reason, dropped, ignored, warnings)
