"""Rendering and reading the Kubernetes manifests under k8s/, for the deployment tests.

Rendering uses the real kustomize (built into kubectl, which this project's machines carry), never a
re-implementation, so the tests see exactly what `kubectl apply -k` would send to a cluster.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("cpu-dev", "gpu")

Manifest = dict[str, Any]


def kustomize_command() -> list[str]:
    """The kustomize build command on this machine: `kubectl kustomize` or a standalone `kustomize build`."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    raise RuntimeError("neither kubectl (with built-in kustomize) nor kustomize is on PATH: install kubectl")


def render(directory: Path) -> list[Manifest]:
    """Every object that `kubectl apply -k directory` would create, as dicts."""
    done = subprocess.run(
        [*kustomize_command(), str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"kustomize failed on {directory}:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(docs: list[Manifest], kind: str, name: str) -> Manifest:
    """The one object of this kind and name (names of generated ConfigMaps/Secrets carry a hash suffix)."""
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(hits) != 1:
        raise LookupError(f"expected one {kind}/{name}, found {len(hits)}")
    return hits[0]


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    """The pod spec inside a Deployment, StatefulSet, DaemonSet or Job."""
    return workload["spec"]["template"]["spec"]


def workloads(docs: list[Manifest]) -> Iterator[Manifest]:
    yield from (d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"))


def container(workload: Manifest, name: str) -> dict[str, Any]:
    spec = pod_spec(workload)
    hits = [c for c in spec["containers"] if c["name"] == name]
    if len(hits) != 1:
        raise LookupError(f"{workload['metadata']['name']} has no single container {name!r}")
    return hits[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels / matchExpressions or a plain map) matches labels."""
    match_labels = selector.get("matchLabels", {}) if (
        "matchLabels" in selector or "matchExpressions" in selector
    ) else selector
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        present, value = expr["key"] in labels, labels.get(expr["key"])
        op = expr["operator"]
        if (op == "In" and value not in expr["values"]) or (op == "NotIn" and value in expr["values"]):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def gpu_count(resources: dict[str, Any], section: str) -> int:
    """nvidia.com/gpu in a container's requests or limits (0 when absent)."""
    return int(resources.get(section, {}).get("nvidia.com/gpu", 0))


def env_value(ctr: dict[str, Any], name: str) -> str | None:
    return next((e.get("value") for e in ctr.get("env", []) if e["name"] == name), None)
