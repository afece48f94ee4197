"""Whether a request sends landmarks: the caller's choice against what the served model can use.

Whether the released landmark modules were trained is unknown (DESIGN.md), so the engine runs with landmark
conditioning on or off and says which; every response reports whether landmarks shaped the answer.
"""

from __future__ import annotations

from typing import Literal

from common.engine_protocol import EngineInfo
from service.api.error_responses import ApiError

LandmarkMode = Literal["auto", "on", "off"]


def send_landmarks(mode: LandmarkMode, info: EngineInfo) -> bool:
    """auto: when the engine uses them; on: required (422 if the engine ignores landmarks); off: never."""
    engine_uses = info.landmark_conditioning == "on"
    if mode == "on" and not engine_uses:
        raise ApiError("landmarks_unavailable", "the served model runs without landmark conditioning")
    return mode != "off" and engine_uses
