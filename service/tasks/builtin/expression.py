"""Facial expression: one label of DFEW's 7 classes plus MAFW's 4 (the video tower on clips).

The prompts are the official repository's assets/good_prompts list for the task, the questions it was tuned with.
"""

from __future__ import annotations

from common.tasks import EXPRESSION_EXTRA_LABELS, EXPRESSION_LABELS
from service.tasks.parsers.expression import parse_expression
from service.tasks.task import Task, swap_medium

TASK = Task(
    name="expression",
    labels=EXPRESSION_LABELS + EXPRESSION_EXTRA_LABELS,
    prompts=swap_medium(
        (
            "What emotion is shown in the video?",
            "What feeling does the video evoke?",
            "Identify the emotion conveyed in the video.",
            "Explain the emotional content of the video.",
            "Analyze the emotions depicted in the video.",
            "What's the emotional tone of the video?",
            "Summarize the emotional impact of the video.",
            "Detail the feelings expressed in the video.",
            "What emotion does the video express?",
            "Tell me about the emotions in the video.",
        )
    ),
    video_tower="video",
    parser=parse_expression,
    instruction="Answer with one emotion word only.",
    metric="uar_war",
)
