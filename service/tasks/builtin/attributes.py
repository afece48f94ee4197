"""Facial attributes: the CelebA attributes the description names (the image tower; several labels).

The prompts are the official repository's assets/good_prompts list for the task, the questions it was tuned with.
"""

from __future__ import annotations

from common.tasks import CELEBA_ATTRIBUTES
from service.tasks.parsers.attributes import parse_attributes
from service.tasks.task import Task, same_for_both

TASK = Task(
    name="attributes",
    labels=CELEBA_ATTRIBUTES,
    prompts=same_for_both(
        (
            "Describe the person's face as seen in the photograph.",
            "Analyze the facial characteristics shown in the picture.",
            "Identify the visible features of the face in the image.",
            "Give a description of the facial features present.",
            "Detail the appearance of the face depicted.",
            "Characterize the facial structure in the provided image.",
            "Specify the visible facial components.",
            "Comment on the features of the face shown.",
            "Outline the key facial elements visible.",
            "Illustrate the facial features of the subject.",
        )
    ),
    video_tower="image",
    parser=parse_attributes,
    instruction="Answer with the CelebA attributes only, as a comma-separated list like Male, Black_Hair.",
    metric="mean_accuracy",
    multi_label=True,
)
