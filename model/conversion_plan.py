"""Which of FaceLLaVA's own tensors (LLaMA, projector, landmark modules) go into the serving folder, and
whether landmark conditioning is on: decided from names and shapes alone, before any weight is read."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from model.checkpoint_io import TensorSource
from model.checkpoint_schema import (
    IMAGE_TOWER_PREFIX,
    ROTARY_BUFFER_SUFFIX,
    VIDEO_TOWER_PREFIX,
    check_shape,
    check_unknown,
    landmark_shapes,
    llama_shapes,
    name_list,
    projector_shapes,
)
from model.conversion_error import ConversionError

logger = logging.getLogger("facellava.convert")

LandmarkChoice = Literal["auto", "on", "off"]


@dataclass
class Plan:
    """Everything decided about FaceLLaVA's own tensors before any weight is written."""

    llm_tensors: list[str]
    landmark_on: bool
    landmark_reason: str
    dropped: list[str]  # rotary buffers: recomputed by vLLM, never weights
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

    landmark_conditioning: "on" needs every landmark tensor; "auto" is on only when all are present (else off
    with a warning naming what is missing); "off" writes none of them.
    """
    required = llama_shapes(text) | projector_shapes(text["hidden_size"], fields["mm_hidden_size"])
    landmark_groups = landmark_shapes(fields, text["hidden_size"])
    landmark_all = {name: shape for group in landmark_groups.values() for name, shape in group.items()}
    dropped, unknown = [], []
    for name, info in source.tensors.items():
        if name.endswith(ROTARY_BUFFER_SUFFIX):
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
    missing = [name for name in required if name not in source.tensors]
    if missing:
        raise ConversionError(f"{where} is missing required tensor(s): {name_list(missing)}")
    absent = [name for name in landmark_all if name not in source.tensors]
    warnings = []
    if choice == "on" and absent:
        raise ConversionError(
            f"landmark conditioning 'on' needs every landmark tensor; {where} lacks {name_list(absent)}"
        )
    if choice == "off":
        on, reason = False, "set to 'off' by the converter's option"
    elif absent:
        on = False
        modules = sorted(
            {group for group, shapes in landmark_groups.items() if any(n in shapes for n in absent)}
        )
        reason = (
            f"'auto': landmark weights missing ({len(absent)} tensors of {', '.join(modules)}, e.g. "
            f"{absent[0]})"
        )
        warnings.append(f"landmark conditioning turned off: {reason}")
        logger.warning("landmark conditioning turned off: %s", reason)
    else:
        on = True
        reason = f"'{choice}': all {len(landmark_all)} landmark tensors present"
    keep_landmarks = not absent  # a partial set is never written: it could only ever load half a module
    llm_tensors = [n for n in source.names() if n in required or (keep_landmarks and n in landmark_all)]
    return Plan(llm_tensors, on, reason, dropped, ignored, warnings)
