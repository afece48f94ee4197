"""/openapi.json promises only what the server enforces: every `maximum` it states (taken from this server's
settings or fixed in the schema) is accepted, and one past it is refused with a 422 that names the field and the
same bound."""

from __future__ import annotations

import pytest

from tests.gateway.fake_preprocessor import describe, upload

SETTING_BOUNDS = {"max_faces": 7, "max_tokens": 300, "temperature": 1.5}
LIMITS = {"max_faces_limit": 7, "max_tokens_limit": 300, "max_temperature": 1.5, "default_max_faces": 3,
          "default_max_tokens": 200}


def stated_maxima(schema: dict) -> dict[str, float]:
    maxima = {}
    for name, prop in schema["properties"].items():
        for branch in prop.get("anyOf", [prop]):
            if "maximum" in branch:
                maxima[name] = branch["maximum"]
    return maxima


@pytest.fixture
def client(start_gateway):
    return start_gateway(**LIMITS)


def test_every_bound_of_the_settings_is_stated(client):
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("AnalyzeForm", "AnalyzeJSONRequest"):
        stated = stated_maxima(components[model])
        assert {field: stated.get(field) for field in SETTING_BOUNDS} == SETTING_BOUNDS, model


def test_every_stated_maximum_is_enforced(client):
    components = client.get("/openapi.json").json()["components"]["schemas"]
    maxima = {**stated_maxima(components["AnalyzeJSONRequest"]), **stated_maxima(components["AnalyzeForm"])}
    assert set(SETTING_BOUNDS) < set(maxima)
    for field, maximum in maxima.items():
        step = 1 if isinstance(maximum, int) else 0.5
        accepted = upload(client, describe(kind="image"), tasks="age", **{field: str(maximum)})
        assert accepted.status_code == 200, (field, accepted.text)
        refused = upload(client, describe(kind="image"), tasks="age", **{field: str(maximum + step)})
        assert refused.status_code == 422, (field, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "invalid_request" and error["message"].startswith(f"{field}: "), error
        assert str(maximum) in error["message"], error
