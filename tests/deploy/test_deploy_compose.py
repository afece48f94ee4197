"""docker/compose.yaml: a valid Compose file whose profiles wire one gateway to one engine (cpu, gpu) or to vLLM's
router over two engine replicas (replicas).

Parsed by compose-spec (bindings of a Rust Compose Specification parser, from PyPI) after the two things
Docker Compose does before parsing: ${VAR} interpolation and YAML merge keys. No Docker engine runs here.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from compose_spec import PyCompose

from .dockerfiles import DOCKER, IMAGES, final_stage

COMPOSE = DOCKER / "compose.yaml"
PROFILES = ("cpu", "gpu")
ENGINE_ALIAS = "facellava-engine"
VARIABLE = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


def interpolate(text: str, environ: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution (the forms our file uses)."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        value = environ.get(name, "")
        if operator == ":-":
            return value or argument
        if operator == ":?" and not value:
            raise ValueError(f"{name}: {argument}")
        return value

    return VARIABLE.sub(substitute, text)


def load(environ: dict[str, str]) -> dict[str, Any]:
    """The Compose model as Docker Compose would see it, validated by compose-spec (raises ValueError)."""
    model = yaml.safe_load(interpolate(COMPOSE.read_text(), environ))
    parsed = PyCompose.from_json(json.dumps(model))
    parsed.validate()
    return parsed.to_dict()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load({"FACELLAVA_MODEL": "/srv/models/facellava"})


def _in_profile(compose: dict[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if profile in svc.get("profiles", [])}


def test_compose_file_parses_and_every_service_is_in_a_profile(compose):
    expected = {"gateway-cpu", "gateway-gpu", "engine-cpu", "engine-gpu", "tiny-model"}
    expected |= {"gateway-replicas", "router", "engine-replica-a", "engine-replica-b"}
    assert set(compose["services"]) == expected
    assert all(svc.get("profiles") for svc in compose["services"].values())


def test_compose_spec_rejects_an_invalid_file():
    model = yaml.safe_load(interpolate(COMPOSE.read_text(), {"FACELLAVA_MODEL": "/m"}))
    model["services"]["engine-cpu"]["depends_on"]["tiny-model"]["condition"] = "service_ready"
    with pytest.raises(ValueError, match="service_ready"):
        PyCompose.from_json(json.dumps(model))


def test_gpu_profile_needs_the_model_folder():
    with pytest.raises(ValueError, match="FACELLAVA_MODEL"):
        load({})


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_wires_its_gateway_to_its_engine(compose, profile):
    services = _in_profile(compose, profile)
    gateway, engine = services[f"gateway-{profile}"], services[f"engine-{profile}"]
    assert gateway["depends_on"] == {f"engine-{profile}": {"condition": "service_healthy"}}
    assert ENGINE_ALIAS in engine["networks"]["default"]["aliases"]
    url = urlsplit(gateway["environment"]["FACELLAVA_ENGINE_URL"])
    assert url.hostname == ENGINE_ALIAS
    (expose,) = [s.args for s in final_stage(IMAGES[f"engine-{profile}"]) if s.keyword == "EXPOSE"]
    assert url.port == int(expose)
    # Every dependency named is a service of the same profile.
    for svc in services.values():
        assert set(svc.get("depends_on", {})) <= set(services)


def test_only_the_gateways_publish_a_port(compose):
    publishing = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert publishing == {"gateway-cpu", "gateway-gpu", "gateway-replicas"}


def test_engines_read_their_model_read_only(compose):
    gpu_mount = compose["services"]["engine-gpu"]["volumes"][0]
    assert gpu_mount["source"] == "/srv/models/facellava" and gpu_mount["read_only"] is True
    cpu_mount = compose["services"]["engine-cpu"]["volumes"][0]
    assert cpu_mount["read_only"] is True
    tiny = compose["services"]["tiny-model"]
    assert tiny["entrypoint"] == ["prepare-model.sh"] and tiny["command"] == ["tiny"]
    assert compose["services"]["engine-cpu"]["depends_on"] == {
        "tiny-model": {"condition": "service_completed_successfully"}
    }
    assert cpu_mount["source"] in compose["volumes"]


def test_gpu_engine_reserves_nvidia_gpus(compose):
    (device,) = compose["services"]["engine-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "deploy" not in compose["services"]["engine-cpu"]


def test_replicas_profile_puts_the_router_between_the_gateway_and_two_engines(compose):
    services = _in_profile(compose, "replicas")
    gateway, router = services["gateway-replicas"], services["router"]
    assert gateway["depends_on"] == {"router": {"condition": "service_healthy"}}
    assert gateway["environment"]["FACELLAVA_ENGINE_HEALTH_PATH"] == "/readiness"
    url = urlsplit(gateway["environment"]["FACELLAVA_ENGINE_URL"])
    # The gateway's engine is the router: it alone answers as facellava-engine in this profile.
    assert [name for name, svc in services.items() if ENGINE_ALIAS in str(svc.get("networks"))] == ["router"]
    (router_port,) = [s.args for s in final_stage(IMAGES["router"]) if s.keyword == "EXPOSE"]
    assert url.hostname == ENGINE_ALIAS and url.port == int(router_port)
    command = router["command"]
    assert command[command.index("--policy") + 1] == "consistent_hash"
    start = command.index("--worker-urls") + 1
    workers = [urlsplit(u) for u in command[start:] if u.startswith("http")]
    (engine_port,) = [s.args for s in final_stage(IMAGES["engine-cpu"]) if s.keyword == "EXPOSE"]
    assert sorted(w.hostname for w in workers) == ["engine-replica-a", "engine-replica-b"]
    assert {w.port for w in workers} == {int(engine_port)}
    assert set(router["depends_on"]) == {"engine-replica-a", "engine-replica-b"}
    for name in ("engine-replica-a", "engine-replica-b"):
        assert services[name]["image"] == compose["services"]["engine-cpu"]["image"]
        assert services[name]["volumes"][0]["read_only"] is True
    for svc in services.values():
        assert set(svc.get("depends_on", {})) <= set(services)


def test_every_gateway_sends_the_key_every_engine_requires(compose):
    """A profile that overrides a gateway's environment must keep the engine key (a YAML merge replaces the whole
    map): without it every engine call is 401 while /readyz, which needs no key, stays green."""
    services = compose["services"]
    engine_keys = {
        name: svc["environment"]["FACELLAVA_ENGINE_API_KEY"]
        for name, svc in services.items()
        if name.startswith("engine")
    }
    assert engine_keys
    for name, svc in services.items():
        if name.startswith("gateway"):
            assert svc["environment"]["FACELLAVA_ENGINE_API_KEY"] in set(engine_keys.values()), name
