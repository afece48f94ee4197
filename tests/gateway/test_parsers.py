"""Task parsers on answers written the way Face-LLaVA writes them (label first, then reasoning; phrasings from
the paper's site and FaceInstruct samples), plus the tricky cases: synonyms, denials, AU names vs numbers."""

from __future__ import annotations

import pytest

from common.tasks import ACTION_UNIT_NAMES, CELEBA_ATTRIBUTES, EXPRESSION_EXTRA_LABELS, EXPRESSION_LABELS
from service.tasks.parsers import attributes, expression
from service.tasks.registry import parse_answer


def labels(task: str, text: str) -> list[str]:
    return [hit.label for hit in parse_answer(task, text).labels]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The subject's facial expression strongly indicates fear. As the video goes on, the eyes widen.",
            "fear",
        ),
        ("The person appears happy, with a broad smile.</s>", "happy"),
        ("Joy is evident in the raised cheeks.", "happy"),
        ("The individual displays sadness: the inner brows are raised.", "sad"),
        ("A neutral expression; the face is relaxed.", "neutral"),
        ("The man looks furious, his brows drawn together.", "angry"),
        ("Her eyebrows shoot up in astonishment.", "surprise"),
        ("The wrinkled nose shows disgust.", "disgust"),
        ("Rather than happiness, the person appears sad and downcast.", "sad"),
        ("There is no sign of anger; instead the subject seems anxious and worried.", "anxiety"),
        ("A contemptuous smirk on one side of the mouth.", "contempt"),
        ("The subject seems helpless and resigned.", "helplessness"),
        ("She is clearly disappointed by the news.", "disappointment"),
    ],
)
def test_expression(text, expected):
    assert labels("expression", text) == [expected]


def test_expression_keeps_its_span():
    text = "The subject's facial expression strongly indicates fear."
    (hit,) = parse_answer("expression", text).labels
    assert text[hit.start : hit.end] == "fear"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "AU4 (Brow Lowerer): the brows are pulled down.\nAU7 (Lid Tightener): the eyelids tighten.",
            ["AU4", "AU7"],
        ),
        ("- AU1 (Inner Brow Raiser): raised.\n- AU2 (Outer Brow Raiser): raised.", ["AU1", "AU2"]),
        ("AU15 (Lower lip depressor) is likely activated, pulling the lip corners down.", ["AU15"]),
        ("Active action units: AUs 6, 12 and 25.", ["AU6", "AU12", "AU25"]),
        ("Action unit 26 (Jaw Drop) is visible, with AU 04 as well.", ["AU26", "AU4"]),
        ("AU99 is not a FACS unit we annotate, AU12 is.", ["AU12"]),
        ("The Lip Corner Puller and the Cheek Raiser are active.", []),  # names alone are not parsed
        ("No action units are clearly active.", []),
    ],
)
def test_action_units(text, expected):
    assert labels("action_units", text) == expected


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("32 years old is a reasonable estimate because the skin is smooth.", 32),
        ("45 year old: visible wrinkles around the eyes.", 45),
        ("A 27-year-old woman with clear skin.", 27),
        ("The person is likely 30-35 years old.", 32),
        ("The individual appears to be aged 58, judging by the grey hair.", 58),
        ("Estimated age: around 41.", 41),
        ("The person appears to be in their late twenties.", 28),
        ("Probably in her early 40s.", 42),
        ("He is 250 years old.", None),
        ("Hard to tell from this angle.", None),
    ],
)
def test_age(text, age):
    parsed = parse_answer("age", text)
    assert parsed.value == age
    assert parsed.uncertain is (age is None)


def test_age_reasoning_drops_the_label_prefix():
    parsed = parse_answer("age", "45 year old: visible wrinkles around the eyes.")
    assert parsed.reasoning == "visible wrinkles around the eyes."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fake: the blending boundary around the jaw flickers.", "fake"),
        ("Fake video. Lip movements are out of sync.", "fake"),
        ("Real video. Lighting and shadows are consistent.", "real"),
        ("Real: natural skin texture throughout.", "real"),
        ("The video appears to be manipulated, with warping near the mouth.", "fake"),
        ("There are no signs of manipulation; the motion is natural.", "real"),
        ("The footage is not authentic: the face boundary shimmers.", "fake"),
        ("The video looks genuine.", "real"),
        ("I cannot tell.", None),
    ],
)
def test_deepfake(text, expected):
    assert labels("deepfake", text) == ([expected] if expected else [])


def test_deepfake_reasoning():
    assert parse_answer("deepfake", "Fake: warped jaw.").reasoning == "warped jaw."


def test_attributes_from_prose():
    text = (
        "This young man has black hair and bushy eyebrows, wears eyeglasses and a hat, and has a mustache "
        "and a 5 o'clock shadow. His mouth is slightly open and he is smiling."
    )
    found = labels("attributes", text)
    assert set(found) == {
        "Young",
        "Male",
        "Black_Hair",
        "Bushy_Eyebrows",
        "Eyeglasses",
        "Wearing_Hat",
        "Mustache",
        "5_o_Clock_Shadow",
        "Mouth_Slightly_Open",
        "Smiling",
    }
    assert set(found) <= set(CELEBA_ATTRIBUTES)


def test_attributes_denials_and_no_beard():
    text = "A woman with blond hair, no glasses, without makeup and no beard, wearing lipstick and earrings."
    assert set(labels("attributes", text)) == {
        "Blond_Hair",
        "No_Beard",
        "Wearing_Lipstick",
        "Wearing_Earrings",
    }


def test_attributes_celeba_spellings():
    assert labels("attributes", "Attributes: Wearing_Necktie, Receding_Hairline, Pale_Skin.") == [
        "Wearing_Necktie",
        "Receding_Hairline",
        "Pale_Skin",
    ]


def test_woman_is_not_male():
    assert "Male" not in labels("attributes", "A smiling woman.")


@pytest.mark.parametrize("task", ["expression", "action_units", "attributes", "age", "deepfake"])
def test_gibberish_is_uncertain(task):
    parsed = parse_answer(task, "zq vlorp 3f frazzle xxyyzz</s>")
    assert parsed.uncertain and parsed.labels == []


def test_parsers_cover_exactly_the_vocabularies():
    assert {label for label, _ in expression._PATTERNS} == set(EXPRESSION_LABELS) | set(
        EXPRESSION_EXTRA_LABELS
    )
    assert {label for label, _ in attributes._PATTERNS + attributes._NO_BEARD} == set(CELEBA_ATTRIBUTES)
    every_au = " ".join(f"AU{number}" for number in ACTION_UNIT_NAMES)
    assert labels("action_units", every_au) == [f"AU{number}" for number in ACTION_UNIT_NAMES]


@pytest.mark.parametrize(
    ("task", "text", "expected"),
    [
        ("expression", "There are no signs of happiness, sadness or anger; the face stays calm.", ["neutral"]),
        ("expression", "The subject's expression doesn't suggest shock or fear; it indicates sadness.", ["sad"]),
        ("attributes", "She is not wearing glasses, a hat or earrings, but she is smiling.", ["Smiling"]),
        ("attributes", "He has no hat and is smiling.", ["Male", "Smiling"]),
        ("attributes", "She wears no glasses and has black hair.", ["Black_Hair"]),
        ("action_units", "AU4 and AU7 are active, while AU6 and AU12 are absent.", ["AU4", "AU7"]),
        ("action_units", "AU4 (Brow Lowerer) is present. No other units, such as AU1 or AU2, are seen.", ["AU4"]),
        ("action_units", "AU6 (Cheek Raiser): not present.\nAU12 (Lip Corner Puller): present.", ["AU12"]),
        ("deepfake", "There is no indication that the video is fake.", ["real"]),
    ],
)
def test_a_denial_reaches_over_lists_and_stops_at_the_next_clause(task, text, expected):
    assert labels(task, text) == expected


@pytest.mark.parametrize(
    ("task", "text", "expected"),
    [
        (
            "expression",
            "At first the man looks calm. Then his brows lower and his lips press together. By the end of the "
            "clip, the expression is clearly one of anger.",
            "angry",
        ),
        (
            "expression",
            "The subject seems surprised at first, but the brows pull together and the eyes widen. The emotion "
            "shown is predominantly fear.",
            "fear",
        ),
        ("expression", "While the open mouth could suggest surprise, the tense brows indicate fear.", "fear"),
        (
            "deepfake",
            "The lighting looks natural at first glance, but the face boundary flickers. These inconsistencies "
            "suggest that the video is fake.",
            "fake",
        ),
        ("deepfake", "Is the video real? The blurred mouth suggests that it is manipulated.", "fake"),
        ("deepfake", "Although the clip is grainy, nothing looks edited; the video is authentic.", "real"),
    ],
)
def test_the_verdict_wins_over_passing_states_contrasts_and_questions(task, text, expected):
    assert labels(task, text) == [expected]


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("The woman appears to be between 20 and 30 years old.", 25),
        ("He looks about forty-five years old.", 45),
        ("The person appears to be in their late 20s to early 30s.", 30),
        ("She is in her early-to-mid twenties.", 24),
        ("Considering the white hair, I would estimate the age to be 63.", 63),
        ("The person is 40-ish, with fine lines.", 40),
    ],
)
def test_age_ranges_words_and_late_estimates(text, age):
    assert parse_answer("age", text).value == age
