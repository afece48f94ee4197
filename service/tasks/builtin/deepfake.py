"""Deepfake detection: real or fake (the video tower; run by default on videos only, as it was tuned).

The prompts are the official repository's assets/good_prompts list for the task, the questions it was tuned with.
"""

from __future__ import annotations

from common.tasks import DEEPFAKE_LABELS
from service.tasks.parsers.deepfake import parse_deepfake
from service.tasks.task import Task, swap_medium

TASK = Task(
    name="deepfake",
    labels=DEEPFAKE_LABELS,
    prompts=swap_medium(
        (
            "Is the video authentic, or is it a fake?",
            "Is there any evidence of manipulation or fakery in the video?",
            "Do you suspect the video has been tampered with?",
            "Is the video genuine, or do you think it's been altered?",
            "Does the video appear to be fabricated?",
            "Is there anything in the video that looks artificial or staged?",
            "Do you see any signs of digital manipulation in the video?",
            "Could the video be a hoax?",
            "Does the video seem unrealistic or too good to be true?",
            "Is there anything suspicious about the video?",
        )
    ),
    video_tower="video",
    parser=parse_deepfake,
    instruction="Answer with one word only: real or fake.",
    metric="accuracy",
    default_media=frozenset({"video"}),
)
