"""Attributes: the CelebA attributes the description names ("a young man with black hair, wearing glasses").

Face-LLaVA describes faces in prose, so each attribute has its everyday phrasings; CelebA spellings with
underscores ("Wearing_Lipstick") count too. Denied attributes ("no glasses", "without makeup") are left out,
except No_Beard, whose phrasing is itself a denial.
"""

from __future__ import annotations

from service.tasks.parsers.base import ParsedAnswer, compile_synonyms, find_labels

_HAIR = r"[\s-]*(?:colou?red[\s-]*)?hair(?:ed)?"
# Other words that may stand between a hair texture and "hair" ("straight black hair", "wavy, shiny hair").
_HAIR_WORDS = (
    r"(?:[\s,-]+(?:and\s+)?(?:black|brown|blonde?|gr[ae]y|dark|light|red|auburn|long|short|shiny|thick|fine))*"
)
_SYNONYMS = {
    "5_o_Clock_Shadow": [r"(?:5|five)[\s_]o'?[\s_]?clock[\s_]shadow", "stubble", "stubbly"],
    "Arched_Eyebrows": [r"arched[\s_](?:eye)?brows?"],
    "Attractive": ["attractive", "beautiful", "handsome", "good-looking"],
    "Bags_Under_Eyes": [
        r"bags[\s_]under[\s_](?:the[\s_]|his[\s_]|her[\s_]|their[\s_])?eyes",
        "under-eye bags",
        "puffy eyes",
    ],
    "Bald": ["bald", "baldness", "hairless head"],
    "Bangs": ["bangs", "fringe"],
    "Big_Lips": [r"(?:big|full|large|thick|plump)[\s_]lips"],
    "Big_Nose": [r"(?:big|large|prominent)[\s_]nose"],
    "Black_Hair": ["black" + _HAIR, "jet-black" + _HAIR],
    "Blond_Hair": ["blonde?" + _HAIR, "blonde?", "fair" + _HAIR],
    "Blurry": ["blurry", "blurred", "out of focus"],
    "Brown_Hair": ["brown" + _HAIR, "brunette", "chestnut" + _HAIR],
    "Bushy_Eyebrows": [r"(?:bushy|thick)[\s_](?:eye)?brows?"],
    "Chubby": ["chubby", "plump", "round-faced"],
    "Double_Chin": [r"double[\s_]chin"],
    "Eyeglasses": ["eyeglasses", "glasses", "spectacles"],
    "Goatee": ["goatee"],
    "Gray_Hair": ["gr[ae]y" + _HAIR, "silver" + _HAIR, "white" + _HAIR, "graying", "greying"],
    "Heavy_Makeup": [r"heavy[\s_]make-?up", "make-?up"],
    "High_Cheekbones": [r"(?:high|prominent|defined)[\s_]cheekbones"],
    "Male": ["male", "man", "gentleman", "boy", "he", "his", "him"],
    "Mouth_Slightly_Open": [
        r"mouth[\s_](?:is[\s_])?slightly[\s_]open",
        r"slightly[\s_]open[\s_]mouth",
        r"parted[\s_]lips",
        r"lips[\s_](?:are[\s_])?(?:slightly[\s_])?parted",
        r"mouth[\s_](?:is[\s_])?(?:slightly[\s_])?ajar",
        r"open[\s_]mouth",
    ],
    "Mustache": ["mustache", "moustache"],
    "Narrow_Eyes": [r"narrow(?:ed)?[\s_]eyes", "squint(?:ing)?"],
    "Oval_Face": [r"oval(?:-shaped)?[\s_]face", "oval"],
    "Pale_Skin": [r"pale[\s_]skin", "pale", r"fair[\s_](?:skin|complexion)"],
    "Pointy_Nose": [r"(?:pointy|pointed)[\s_]nose"],
    "Receding_Hairline": [r"receding[\s_]hair[\s_]?line"],
    "Rosy_Cheeks": [r"rosy[\s_]cheeks", "rosy", r"flushed[\s_]cheeks"],
    "Sideburns": ["sideburns"],
    "Smiling": ["smile", "smiles", "smiling"],
    "Straight_Hair": [r"straight" + _HAIR_WORDS + r"[\s_-]hair"],
    "Wavy_Hair": [r"(?:wavy|curly)" + _HAIR_WORDS + r"[\s_-]hair", "wavy", "curls"],
    "Wearing_Earrings": ["earrings?"],
    "Wearing_Hat": ["hat", "cap", "beanie"],
    "Wearing_Lipstick": ["lipstick"],
    "Wearing_Necklace": ["necklace"],
    "Wearing_Necktie": ["neck[\\s_]?tie", "bow tie", r"(?:wearing|wears|with)[\s_]a[\s_]tie"],
    "Young": ["young", "youthful", "teen(?:age|ager)?", "child", "adolescent"],
}
_PATTERNS = compile_synonyms(_SYNONYMS)
_NO_BEARD = compile_synonyms({"No_Beard": [r"no[\s_]beard", "clean-shaven", "clean shaven", "beardless"]})


def parse_attributes(text: str) -> ParsedAnswer:
    searchable = text.replace("_", " ")  # CelebA spellings; same length, so spans still index `text`
    hits = find_labels(searchable, _PATTERNS) + find_labels(searchable, _NO_BEARD, negatable=False)
    return ParsedAnswer(labels=sorted(hits, key=lambda hit: hit.start), reasoning=text)
