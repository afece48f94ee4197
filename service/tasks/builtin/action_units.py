"""Facial action units: the FACS AU numbers the answer names (the image tower; several labels).

The prompts are the official repository's assets/good_prompts list for the task, the questions it was tuned with.
"""

from __future__ import annotations

from common.tasks import ACTION_UNIT_NAMES
from service.tasks.parsers.action_units import parse_action_units
from service.tasks.task import Task, same_for_both

TASK = Task(
    name="action_units",
    labels=tuple(f"AU{number}" for number in ACTION_UNIT_NAMES),
    prompts=same_for_both(
        (
            "Identify the active facial action units in the provided image.",
            "Specify which facial action units are present in the image.",
            "List the facial action units visible in the supplied picture.",
            "Indicate the facial action units shown in the given photograph.",
            "Detail the facial muscle movements depicted in the image.",
            "Which facial action units appear in this image?",
            "What facial action units are engaged in the image?",
            "What facial action units are expressed in the pictured face?",
            "Name the activated facial action units from the image.",
            "Point out the activated facial action units in the given illustration.",
        )
    ),
    video_tower="image",
    parser=parse_action_units,
    instruction="Answer with the active action units only, as a comma-separated list like AU1, AU12.",
    metric="f1",
    multi_label=True,
)
