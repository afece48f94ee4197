"""The questions Face-LLaVA was tuned with, per task (the official repo's assets/good_prompts lists).

The model answers best when asked the way it was trained, so the gateway only asks these questions. A fixed
default variant per task keeps answers reproducible; callers may pick another variant by index.
"""

from __future__ import annotations

from common.tasks import MediaKind, TaskName

PROMPTS: dict[TaskName, tuple[str, ...]] = {
    "expression": (
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
    ),
    "action_units": (
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
    ),
    "attributes": (
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
    ),
    "age": (
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
    ),
    "deepfake": (
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
    ),
}

PROMPT_VARIANTS = 10


def prompt_for(task: TaskName, tower: MediaKind, variant: int = 0) -> str:
    """The question for `task` on the given tower.

    The expression and deepfake lists speak of "the video" (they were tuned on clips); when such a task runs
    on the image tower the noun is swapped, so the question matches what the model sees.
    """
    question = PROMPTS[task][variant]
    if tower == "image":
        return question.replace("the video", "the image")
    return question
