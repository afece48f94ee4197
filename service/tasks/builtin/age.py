"""Age: an integer number of years in AGE_RANGE (the image tower).

The prompts are the official repository's assets/good_prompts list for the task, the questions it was tuned with.
"""

from __future__ import annotations

from common.tasks import AGE_RANGE
from service.tasks.parsers.age import parse_age
from service.tasks.task import Task, same_for_both

TASK = Task(
    name="age",
    labels=tuple(str(years) for years in range(AGE_RANGE[0], AGE_RANGE[1] + 1)),
    prompts=same_for_both(
        (
            "Guess the age of the individual shown in the picture; justify your answer.",
            "Determine the approximate age of the person depicted, providing your reasoning.",
            "What age would you assign to the person in this visual, and why?",
            "Infer the age of the person in the photograph, explaining your rationale.",
            "Based on the image, what is your best estimate of the person's age, "
            "and what leads you to that conclusion?",
            "Provide an age estimation for the person pictured, and explain your estimation.",
            "Give your assessment of the person's age from the image, with supporting details.",
            "Offer an approximation of the individual's age as shown in the picture and your justification.",
            "How old do you think the person in the picture is, and what makes you think so?",
            "What's your estimation of the age of the person in the visual and why?",
        )
    ),
    video_tower="image",
    parser=parse_age,
    instruction="Answer with the age in years only, as a number.",
    metric="mae",
    numeric=True,
)
