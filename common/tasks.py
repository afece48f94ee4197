"""The fixed label vocabularies of the tasks, shared by every side of the project (no torch, no service code).

The vocabularies are the dataset standards Face-LLaVA was tuned and evaluated on (paper Tables 3 and 5):
parsers map free model text onto them, and constrained decoding, if used, must stay inside them. Which tasks
exist, and everything else about each, is declared in the gateway's task registry (service/tasks/registry.py).
"""

from __future__ import annotations

from typing import Literal

MediaKind = Literal["image", "video"]

# A task's name: one of those registered in service/tasks/registry.py (the registry, not a list here, says which
# exist, so that a new task is declared in one place).
TaskName = str

# DFEW's 7 classes (also RAF-DB's basic 7 under other spellings), then MAFW's 4 extra classes.
EXPRESSION_LABELS: tuple[str, ...] = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")
EXPRESSION_EXTRA_LABELS: tuple[str, ...] = ("contempt", "anxiety", "helplessness", "disappointment")

# FACS action units annotated by DISFA (12) and BP4D (12), with their FACS names.
ACTION_UNIT_NAMES: dict[int, str] = {
    1: "Inner Brow Raiser",
    2: "Outer Brow Raiser",
    4: "Brow Lowerer",
    5: "Upper Lid Raiser",
    6: "Cheek Raiser",
    7: "Lid Tightener",
    9: "Nose Wrinkler",
    10: "Upper Lip Raiser",
    12: "Lip Corner Puller",
    14: "Dimpler",
    15: "Lip Corner Depressor",
    17: "Chin Raiser",
    20: "Lip Stretcher",
    23: "Lip Tightener",
    24: "Lip Pressor",
    25: "Lips Part",
    26: "Jaw Drop",
}
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 6, 9, 12, 25, 26)
BP4D_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)

# The 40 CelebA binary attributes, spelled as in the dataset.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)

DEEPFAKE_LABELS: tuple[str, ...] = ("real", "fake")

# Plausible human ages; a number outside is not read as an age.
AGE_RANGE: tuple[int, int] = (0, 120)
