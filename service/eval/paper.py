"""Face-LLaVA's zero-shot results as published (WACV 2026 camera-ready, Tables 3 and 5; see
shared/notes/facellava-reference.md). The AU table (DISFA, BP4D) and MAFW were not retrievable: none printed."""

from __future__ import annotations

PAPER_ZERO_SHOT: dict[str, dict[str, float]] = {
    "dfew": {"uar": 0.469, "war": 0.564},
    "rafdb": {"war": 0.780},  # the paper's RAF-DB "accuracy" is WAR
    "morph": {"mae": 3.34},
    "utkface": {"mae": 4.89},
    "celeba": {"mean_accuracy": 0.868},
    "ffpp": {"accuracy": 0.845},
}
