"""The Kubernetes deployment (k8s/): renders, is schema-valid, and holds what the service relies on."""

from __future__ import annotations

import base64
import copy
import shutil
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from . import checks
from .manifests import (
    K8S,
    Manifest,
    container,
    env_value,
    find,
    gpu_count,
    of_kind,
    pod_spec,
    render,
    selects,
)

RENDERINGS = ("base", "cpu-dev", "gpu")
# The oldest Kubernetes minor we support (autoscaling/v2, policy/v1 are older) and the newest with schemas.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
# Custom resources without a schema in kubernetes-validate, checked structurally below instead.
CUSTOM_KINDS = {"ServiceMonitor"}
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


def _engine(docs: list[Manifest]) -> Manifest:
    return find(docs, "Deployment", checks.ENGINE)


def _gateway(docs: list[Manifest]) -> Manifest:
    return find(docs, "Deployment", checks.GATEWAY)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", RENDERINGS)
def test_every_object_is_valid_against_the_kubernetes_schema(rendered, name, version):
    docs = [d for d in rendered[name] if d["kind"] not in CUSTOM_KINDS]
    assert len(docs) >= 10
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_schema_validation_rejects_a_misspelt_field(rendered):
    broken = copy.deepcopy(_gateway(rendered["base"]))
    pod_spec(broken)["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("name", RENDERINGS)
def test_everything_lives_in_one_restricted_namespace(rendered, name):
    namespace = find(rendered[name], "Namespace", "facellava")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    namespaced = [d for d in rendered[name] if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"facellava"}
    assert all(d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "facellava" for d in rendered[name])


def test_gpu_overlay_requests_as_many_gpus_as_the_tensor_parallel_size(rendered):
    engine = container(_engine(rendered["gpu"]), "engine")
    tp = int(env_value(engine, "FACELLAVA_TENSOR_PARALLEL_SIZE"))
    assert gpu_count(engine["resources"], "limits") == gpu_count(engine["resources"], "requests") == tp >= 1
    # Only the engine holds GPUs: the gateway and the model Job (CPU conversion) do not.
    for wl in (_gateway(rendered["gpu"]), find(rendered["gpu"], "Job", "facellava-model-prepare")):
        assert all(gpu_count(c.get("resources", {}), "limits") == 0 for c in pod_spec(wl)["containers"])


def test_tensor_parallel_parameter_reaches_flag_and_gpu_count(tmp_path: Path):
    """The one parameter in overlays/gpu sets --tensor-parallel-size and the GPU request together."""
    copy_root = tmp_path / "k8s"
    shutil.copytree(K8S, copy_root)
    parameters = copy_root / "overlays" / "gpu" / "parameters.yaml"
    doc = yaml.safe_load(parameters.read_text())
    doc["data"]["tensorParallelSize"] = "4"
    parameters.write_text(yaml.safe_dump(doc))
    engine = container(_engine(render(copy_root / "overlays" / "gpu")), "engine")
    assert env_value(engine, "FACELLAVA_TENSOR_PARALLEL_SIZE") == "4"
    assert gpu_count(engine["resources"], "requests") == gpu_count(engine["resources"], "limits") == 4


def test_cpu_dev_overlay_asks_for_no_gpu_anywhere(rendered):
    docs = rendered["cpu-dev"]
    assert "nvidia.com/gpu" not in yaml.safe_dump_all(docs)
    assert container(_engine(docs), "engine")["image"].startswith("facellava/engine-cpu:")


def test_model_job_makes_the_tiny_model_in_cpu_dev_and_fetches_the_real_one_in_gpu(rendered):
    for name, mode in (("cpu-dev", "tiny"), ("gpu", "hub")):
        job = find(rendered[name], "Job", "facellava-model-prepare")
        prepare = container(job, "prepare-model")
        assert prepare["command"] == ["prepare-model.sh"]
        assert prepare["args"] == [mode]
        # The conversion code must be the engine's own: same image.
        assert prepare["image"] == container(_engine(rendered[name]), "engine")["image"]


def test_engine_reads_the_model_volume_read_only_and_the_job_fills_it(rendered):
    for name in RENDERINGS:
        docs = rendered[name]
        claim = find(docs, "PersistentVolumeClaim", "facellava-model")["metadata"]["name"]
        engine_vol = next(v for v in pod_spec(_engine(docs))["volumes"] if "persistentVolumeClaim" in v)
        assert engine_vol["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}
        mounts = container(_engine(docs), "engine")["volumeMounts"]
        assert all(m.get("readOnly") for m in mounts if m["name"] == engine_vol["name"])
        job_volumes = pod_spec(find(docs, "Job", "facellava-model-prepare"))["volumes"]
        job_vol = next(v for v in job_volumes if "persistentVolumeClaim" in v)
        assert job_vol["persistentVolumeClaim"]["claimName"] == claim
    gpu_claim = find(rendered["gpu"], "PersistentVolumeClaim", "facellava-model")
    assert gpu_claim["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize("name", RENDERINGS)
def test_every_long_running_container_has_all_three_probes(rendered, name):
    assert checks.probe_problems(rendered[name]) == []


def test_probes_use_our_health_endpoints(rendered):
    docs = rendered["base"]
    gateway = container(_gateway(docs), "gateway")
    paths = {probe: gateway[probe]["httpGet"]["path"] for probe in PROBES}
    assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    engine = container(_engine(docs), "engine")
    assert {engine[probe]["httpGet"]["path"] for probe in PROBES} == {"/health"}
    router = container(find(docs, "Deployment", checks.ROUTER), "router")
    paths = {probe: router[probe]["httpGet"]["path"] for probe in PROBES}
    # /readiness: ready while one engine replica is healthy (the router's /health needs all of them).
    assert paths == {"startupProbe": "/liveness", "livenessProbe": "/liveness", "readinessProbe": "/readiness"}
    # Loading 15 GB of weights takes minutes: the startup probe must allow at least 10 of them.
    startup = engine["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600


def test_probe_check_catches_a_missing_probe(rendered):
    docs = copy.deepcopy(rendered["base"])
    del container(_engine(docs), "engine")["readinessProbe"]
    assert checks.probe_problems(docs) == ["facellava-engine/engine: no readinessProbe"]


@pytest.mark.parametrize("name", RENDERINGS)
def test_every_pod_runs_non_root_on_a_read_only_root_filesystem(rendered, name):
    assert checks.security_problems(rendered[name]) == []


def test_security_check_catches_a_writable_root_and_a_root_pod(rendered):
    docs = copy.deepcopy(rendered["base"])
    gateway = _gateway(docs)
    container(gateway, "gateway")["securityContext"]["readOnlyRootFilesystem"] = False
    del pod_spec(gateway)["securityContext"]["runAsNonRoot"]
    assert checks.security_problems(docs) == [
        "facellava-gateway: pod securityContext.runAsNonRoot is not true",
        "facellava-gateway/gateway: root filesystem is writable",
    ]


@pytest.mark.parametrize("name", RENDERINGS)
def test_gateway_engine_url_resolves_to_the_engine_service(rendered, name):
    assert checks.engine_url_problems(rendered[name]) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://facellava-router-typo:8001", "no Service named 'facellava-router-typo'"),
        ("http://facellava-router:8000", "Service facellava-router has no port 8000"),
        ("http://facellava-router.default.svc:8001", "namespace 'default' is not the gateway's namespace"),
        ("http://facellava-gateway:8000", "Service facellava-gateway does not select the router pods"),
        # Straight to the engines: past the router, so a face's tasks would scatter over the replicas.
        ("http://facellava-engine:8001", "Service facellava-engine does not select the router pods"),
    ],
)
def test_engine_url_check_catches_a_wrong_url(rendered, url, problem):
    docs = copy.deepcopy(rendered["base"])
    config = next(d for d in of_kind(docs, "ConfigMap") if "FACELLAVA_ENGINE_URL" in d.get("data", {}))
    config["data"]["FACELLAVA_ENGINE_URL"] = url
    (found,) = checks.engine_url_problems(docs)
    assert problem in found


@pytest.mark.parametrize("name", RENDERINGS)
def test_only_the_router_reaches_the_engines_and_only_the_gateway_the_router(rendered, name):
    extra = [PROMETHEUS_PEER] if name == "gpu" else []
    assert checks.network_problems(rendered[name], checks.ENGINE, checks.ROUTER, extra) == []
    assert checks.network_problems(rendered[name], checks.ROUTER, checks.GATEWAY) == []


def test_gpu_overlay_admits_router_and_prometheus_only(rendered):
    # Without naming the Prometheus peer, the check must notice it.
    assert len(checks.network_problems(rendered["gpu"])) == 1
    # The gateway is no engine peer any more: it goes through the router.
    assert checks.network_problems(rendered["gpu"], checks.ENGINE, checks.GATEWAY, [PROMETHEUS_PEER]) != []


@pytest.mark.parametrize("name", RENDERINGS)
def test_router_discovers_exactly_the_engine_pods_with_consistent_hashing(rendered, name):
    assert checks.router_discovery_problems(rendered[name]) == []


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--policy", "round_robin", "would not stay on one replica"),
        ("--selector", "app.kubernetes.io/part-of=facellava", "not exactly the engine pods"),
        ("--service-discovery-port", "8000", "is not an engine container port"),
        ("--service-discovery-namespace", "default", "not its own"),
    ],
)
def test_router_discovery_check_catches_a_wrong_flag(rendered, flag, value, problem):
    docs = copy.deepcopy(rendered["base"])
    args = container(find(docs, "Deployment", checks.ROUTER), "router")["args"]
    args[args.index(flag) + 1] = value
    (found,) = checks.router_discovery_problems(docs)
    assert problem in found


@pytest.mark.parametrize("name", RENDERINGS)
def test_router_may_only_read_pods_of_its_namespace(rendered, name):
    assert checks.rbac_problems(rendered[name]) == []
    role = find(rendered[name], "Role", checks.ROUTER)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_rbac_check_catches_wider_grants(rendered):
    docs = copy.deepcopy(rendered["base"])
    find(docs, "Role", checks.ROUTER)["rules"][0]["verbs"].append("delete")
    find(docs, "Role", checks.ROUTER)["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    pod_spec(_gateway(docs))["automountServiceAccountToken"] = True
    assert len(checks.rbac_problems(docs)) == 3
    docs = copy.deepcopy(rendered["base"])
    find(docs, "RoleBinding", checks.ROUTER)["roleRef"]["kind"] = "ClusterRole"
    assert checks.rbac_problems(docs) == ["facellava-router: cluster-wide grant"]


@pytest.mark.parametrize(
    "peer",
    [
        {"ipBlock": {"cidr": "0.0.0.0/0"}},
        {"namespaceSelector": {}},
        {"podSelector": {}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "facellava"}}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": checks.ROUTER}}, "namespaceSelector": {}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": checks.GATEWAY}}},
    ],
)
def test_network_check_catches_a_widened_policy(rendered, peer):
    docs = copy.deepcopy(rendered["base"])
    policy = find(docs, "NetworkPolicy", "facellava-engine")
    policy["spec"]["ingress"][0]["from"].append(peer)
    assert len(checks.network_problems(docs)) == 1


def test_network_check_catches_an_allow_all_rule_and_a_missing_policy(rendered):
    docs = copy.deepcopy(rendered["base"])
    find(docs, "NetworkPolicy", "facellava-engine")["spec"]["ingress"].append({})
    assert checks.network_problems(docs) == ["facellava-engine: an ingress rule admits every source"]
    docs = [d for d in rendered["base"] if d["kind"] != "NetworkPolicy"]
    assert len(checks.network_problems(docs)) == 1


@pytest.mark.parametrize("name", RENDERINGS)
def test_every_referenced_configmap_secret_and_claim_exists(rendered, name):
    assert checks.reference_problems(rendered[name]) == []


def test_reference_check_catches_a_dangling_secret(rendered):
    docs = [d for d in rendered["base"] if d["kind"] != "Secret"]
    (problem,) = checks.reference_problems(docs)
    assert problem.startswith("facellava-gateway: Secret/facellava-api-keys")


def _api_keys_volume(docs: list[Manifest]) -> tuple[str, dict]:
    """The gateway's FACELLAVA_API_KEYS_FILE setting and the Secret volume mounted where it points."""
    settings_file = next(
        d["data"]["FACELLAVA_API_KEYS_FILE"]
        for d in of_kind(docs, "ConfigMap")
        if "FACELLAVA_API_KEYS_FILE" in d.get("data", {})
    )
    mount = next(
        m for m in container(_gateway(docs), "gateway")["volumeMounts"]
        if settings_file.startswith(m["mountPath"] + "/")
    )
    volume = next(v for v in pod_spec(_gateway(docs))["volumes"] if v["name"] == mount["name"])
    return settings_file, volume["secret"]


@pytest.mark.parametrize("name", RENDERINGS)
def test_api_keys_file_is_a_required_entry_of_the_secret(rendered, name):
    """Without a "keys" entry the kubelet cannot mount the volume: the gateway never starts with auth off."""
    settings_file, secret_volume = _api_keys_volume(rendered[name])
    assert secret_volume["items"] == [{"key": "keys", "path": Path(settings_file).name}]
    assert not secret_volume.get("optional", False)
    find(rendered[name], "Secret", secret_volume["secretName"])


def test_no_api_key_is_committed_except_for_the_dev_overlay(rendered):
    for name in ("base", "gpu"):
        secret = find(rendered[name], "Secret", _api_keys_volume(rendered[name])[1]["secretName"])
        assert "keys" not in secret.get("data", {}), f"{name} must not ship an API key"
    dev = find(rendered["cpu-dev"], "Secret", _api_keys_volume(rendered["cpu-dev"])[1]["secretName"])
    assert dev["data"]["keys"]


def test_an_operator_overlay_adds_keys_the_documented_way(tmp_path: Path):
    copy_root = tmp_path / "k8s"
    shutil.copytree(K8S, copy_root)
    production = copy_root / "overlays" / "production"
    production.mkdir()
    (production / "keys.txt").write_text("key-one\nkey-two\n")
    (production / "kustomization.yaml").write_text(
        "resources: [../gpu]\n"
        "secretGenerator:\n"
        "  - {name: facellava-api-keys, behavior: merge, files: [keys=keys.txt]}\n"
    )
    docs = render(production)
    secret = find(docs, "Secret", _api_keys_volume(docs)[1]["secretName"])
    assert base64.b64decode(secret["data"]["keys"]).decode() == "key-one\nkey-two\n"


def test_gateway_is_replicated_bounded_and_autoscaled_on_cpu(rendered):
    docs = rendered["base"]
    gateway = _gateway(docs)
    assert gateway["spec"]["replicas"] >= 2
    resources = container(gateway, "gateway")["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
    hpa = find(docs, "HorizontalPodAutoscaler", checks.GATEWAY)
    assert hpa["spec"]["scaleTargetRef"]["name"] == checks.GATEWAY
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = find(docs, "PodDisruptionBudget", checks.GATEWAY)
    assert selects(pdb["spec"]["selector"], gateway["spec"]["template"]["metadata"]["labels"])


def test_gateway_runs_no_more_preprocessing_workers_than_cpus_it_requests(rendered):
    docs = rendered["base"]
    workers = int(checks.gateway_settings(docs)["FACELLAVA_PREPROCESS_WORKERS"])
    requested = container(_gateway(docs), "gateway")["resources"]["requests"]["cpu"]
    assert 1 <= workers <= int(requested)


def test_engine_autoscales_on_the_vllm_queue_through_prometheus_adapter(rendered):
    hpa = find(rendered["gpu"], "HorizontalPodAutoscaler", checks.ENGINE)
    target = hpa["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": checks.ENGINE}
    (metric,) = hpa["spec"]["metrics"]
    adapter = yaml.safe_load((K8S / "overlays" / "gpu" / "prometheus-adapter-rules.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    assert rule["seriesQuery"].startswith("vllm:num_requests_waiting{")
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == rule["name"]["as"]
    # cpu-dev runs one CPU engine and no queue-based autoscaling (no Prometheus assumed there).
    cpu_dev_hpas = {h["metadata"]["name"] for h in of_kind(rendered["cpu-dev"], "HorizontalPodAutoscaler")}
    assert cpu_dev_hpas == {checks.GATEWAY}


def test_service_monitors_scrape_both_services_on_a_named_port(rendered):
    docs = rendered["gpu"]
    monitors = of_kind(docs, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {checks.GATEWAY, checks.ENGINE}
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        selector = monitor["spec"]["selector"]
        services = [s for s in of_kind(docs, "Service") if selects(selector, s["metadata"]["labels"])]
        assert [s["metadata"]["name"] for s in services] == [monitor["metadata"]["name"]]
        port_names = {p["name"] for p in services[0]["spec"]["ports"]}
        assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("http", "/metrics")]
        assert "http" in port_names
