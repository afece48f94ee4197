"""What matters in a rendered deployment, as functions that list the problems they find.

Each returns a list of human-readable problems (empty when the manifests are right), so the tests can show
that a check passes on our manifests AND catches a broken copy of them: a check that cannot fail proves
nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .manifests import Manifest, find, of_kind, pod_spec, selects, workloads

GATEWAY = "facellava-gateway"
ENGINE = "facellava-engine"
ROUTER = "facellava-router"
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")


def _all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def probe_problems(docs: list[Manifest]) -> list[str]:
    """Every container of a long-running workload has startup, liveness and readiness probes on its ports."""
    problems = []
    for wl in (d for d in docs if d["kind"] in LONG_RUNNING):
        for ctr in pod_spec(wl)["containers"]:
            where = f"{wl['metadata']['name']}/{ctr['name']}"
            ports = {key for p in ctr.get("ports", []) for key in (p.get("name"), p["containerPort"])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                spec = ctr.get(probe)
                if not spec:
                    problems.append(f"{where}: no {probe}")
                elif "httpGet" in spec and spec["httpGet"]["port"] not in ports:
                    port = spec["httpGet"]["port"]
                    problems.append(f"{where}: {probe} port {port!r} is not a container port")
    return problems


def security_problems(docs: list[Manifest]) -> list[str]:
    """Non-root pods, read-only root filesystems, no privilege escalation, no capabilities, writable /tmp."""
    problems = []
    for wl in workloads(docs):
        spec = pod_spec(wl)
        name = wl["metadata"]["name"]
        if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
            problems.append(f"{name}: pod securityContext.runAsNonRoot is not true")
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for ctr in _all_containers(spec):
            where = f"{name}/{ctr['name']}"
            ctx = ctr.get("securityContext", {})
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem is writable")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation is allowed")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities are not dropped")
        for ctr in spec["containers"]:
            tmp = [m for m in ctr.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            if not tmp or tmp[0]["name"] not in empty_dirs:
                problems.append(f"{name}/{ctr['name']}: /tmp is not a writable emptyDir")
    return problems


def gateway_settings(docs: list[Manifest]) -> dict[str, str]:
    """The environment the gateway container gets from its ConfigMaps and literal env entries."""
    ctr = pod_spec(find(docs, "Deployment", GATEWAY))["containers"][0]
    settings: dict[str, str] = {}
    for source in ctr.get("envFrom", []):
        if "configMapRef" in source:
            settings.update(find(docs, "ConfigMap", source["configMapRef"]["name"]).get("data", {}))
    settings.update({e["name"]: e["value"] for e in ctr.get("env", []) if "value" in e})
    return settings


def engine_url_problems(docs: list[Manifest]) -> list[str]:
    """The gateway's FACELLAVA_ENGINE_URL names the router Service, on a port that leads to the router."""
    url = gateway_settings(docs).get("FACELLAVA_ENGINE_URL")
    if not url:
        return ["the gateway has no FACELLAVA_ENGINE_URL"]
    parts = urlsplit(url)
    host_labels = (parts.hostname or "").split(".")
    namespace = find(docs, "Deployment", GATEWAY)["metadata"].get("namespace")
    if len(host_labels) > 1 and host_labels[1] != namespace:
        return [f"{url}: namespace {host_labels[1]!r} is not the gateway's namespace {namespace!r}"]
    services = [s for s in of_kind(docs, "Service") if s["metadata"]["name"] == host_labels[0]]
    if not services:
        return [f"{url}: no Service named {host_labels[0]!r}"]
    service = services[0]
    port = next((p for p in service["spec"]["ports"] if p["port"] == parts.port), None)
    if port is None:
        return [f"{url}: Service {host_labels[0]} has no port {parts.port}"]
    router = find(docs, "Deployment", ROUTER)
    if not selects(service["spec"]["selector"], router["spec"]["template"]["metadata"]["labels"]):
        return [f"{url}: Service {host_labels[0]} does not select the router pods"]
    target = port.get("targetPort", port["port"])
    if not any(target in (p.get("name"), p["containerPort"]) for p in _ports(router)):
        return [f"{url}: Service port {parts.port} targets {target!r}, which no router container exposes"]
    return []


def _ports(workload: Manifest) -> list[dict[str, Any]]:
    return [p for c in pod_spec(workload)["containers"] for p in c.get("ports", [])]


def _flag(args: list[str], name: str) -> list[str]:
    """The values after a command-line flag, up to the next flag."""
    if name not in args:
        return []
    values = []
    for arg in args[args.index(name) + 1 :]:
        if arg.startswith("--"):
            break
        values.append(arg)
    return values


def router_discovery_problems(docs: list[Manifest]) -> list[str]:
    """The router discovers the engine pods: its label selector selects them (and no other pod), in its own
    namespace, on a port the engine container serves, with a policy that keeps a face on one replica."""
    router = find(docs, "Deployment", ROUTER)
    (ctr,) = pod_spec(router)["containers"]
    args = ctr.get("args", [])
    problems = []
    if "--service-discovery" not in args:
        problems.append("the router does not discover engine pods (--service-discovery)")
    if _flag(args, "--policy") != ["consistent_hash"]:
        problems.append(f"router policy {_flag(args, '--policy')}: a face's requests would not stay on one replica")
    selector = dict(item.split("=", 1) for item in _flag(args, "--selector"))
    engine = find(docs, "Deployment", ENGINE)
    matched = [
        wl["metadata"]["name"]
        for wl in workloads(docs)
        if selector and selects({"matchLabels": selector}, wl["spec"]["template"]["metadata"]["labels"])
    ]
    if matched != [ENGINE]:
        problems.append(f"router selector {selector} selects {matched}, not exactly the engine pods")
    port = _flag(args, "--service-discovery-port")
    if not port or not any(int(port[0]) == p["containerPort"] for p in _ports(engine)):
        problems.append(f"router discovery port {port} is not an engine container port")
    namespace = _flag(args, "--service-discovery-namespace")
    env = {e["name"]: e for e in ctr.get("env", [])}
    from_pod = namespace and namespace[0].startswith("$(") and namespace[0][2:-1] in env
    field = env[namespace[0][2:-1]].get("valueFrom", {}).get("fieldRef", {}) if from_pod else {}
    if field.get("fieldPath") != "metadata.namespace" and namespace != [router["metadata"].get("namespace")]:
        problems.append(f"router watches namespace {namespace}, not its own")
    return problems


def rbac_problems(docs: list[Manifest]) -> list[str]:
    """The router's service account may only get, list and watch pods of its namespace; no other pod has a token."""
    router_spec = pod_spec(find(docs, "Deployment", ROUTER))
    account = router_spec.get("serviceAccountName")
    problems = []
    bindings = [
        b for b in of_kind(docs, "RoleBinding") + of_kind(docs, "ClusterRoleBinding")
        if any(s["kind"] == "ServiceAccount" and s["name"] == account for s in b.get("subjects", []))
    ]
    if not bindings:
        problems.append(f"no binding grants the router's service account {account!r} anything")
    for binding in bindings:
        if binding["kind"] != "RoleBinding" or binding["roleRef"]["kind"] != "Role":
            problems.append(f"{binding['metadata']['name']}: cluster-wide grant")
            continue
        role = find(docs, "Role", binding["roleRef"]["name"])
        for rule in role["rules"]:
            if rule.get("apiGroups") != [""] or rule.get("resources") != ["pods"]:
                problems.append(f"{role['metadata']['name']}: grants {rule.get('resources')} beyond pods")
            if set(rule.get("verbs", [])) - {"get", "list", "watch"}:
                problems.append(f"{role['metadata']['name']}: grants {rule['verbs']} beyond get/list/watch")
    for wl in workloads(docs):
        if wl["metadata"]["name"] != ROUTER and pod_spec(wl).get("automountServiceAccountToken") is not False:
            problems.append(f"{wl['metadata']['name']}: mounts a service account token it does not need")
    return problems


def network_problems(
    docs: list[Manifest], target: str = ENGINE, source: str = ROUTER, extra_peers: list[dict[str, Any]] | None = None
) -> list[str]:
    """Only `source` pods (plus the named extra peers, e.g. Prometheus) may connect to the `target` pods: the
    router to the engines, the gateway to the router.

    A source peer is a same-namespace pod selector that selects the source's pods and no other pod template
    of the deployment (an empty selector would admit every pod of the namespace).
    """
    target_labels = find(docs, "Deployment", target)["spec"]["template"]["metadata"]["labels"]
    source_labels = find(docs, "Deployment", source)["spec"]["template"]["metadata"]["labels"]
    other_pods = [
        wl["spec"]["template"]["metadata"]["labels"]
        for wl in workloads(docs)
        if wl["metadata"]["name"] != source
    ]

    def is_source(peer: dict[str, Any]) -> bool:
        selector = peer.get("podSelector")
        return (
            set(peer) == {"podSelector"}
            and selects(selector, source_labels)
            and not any(selects(selector, labels) for labels in other_pods)
        )

    policies = [p for p in of_kind(docs, "NetworkPolicy") if selects(p["spec"]["podSelector"], target_labels)]
    if not policies:
        return [f"no NetworkPolicy selects the {target} pods: anything in the cluster can reach them"]
    problems, source_admitted = [], False
    for policy in policies:
        name = policy["metadata"]["name"]
        if "Ingress" not in policy["spec"].get("policyTypes", ["Ingress"]):
            problems.append(f"{name}: does not restrict ingress")
        for rule in policy["spec"].get("ingress", []):
            if not rule.get("from"):
                problems.append(f"{name}: an ingress rule admits every source")
            for peer in rule.get("from", []):
                source_admitted |= is_source(peer)
                if not is_source(peer) and peer not in (extra_peers or []):
                    problems.append(f"{name}: admits a peer that is not {source}: {peer}")
    if not source_admitted:
        problems.append(f"no NetworkPolicy admits the {source} pods to the {target} pods")
    return problems


def reference_problems(docs: list[Manifest]) -> list[str]:
    """Every ConfigMap, Secret and PersistentVolumeClaim a pod names exists in the same rendering."""
    seen = {(d["kind"], d["metadata"]["name"]) for d in docs}
    problems = []
    for wl in workloads(docs):
        spec = pod_spec(wl)
        wanted = []
        for vol in spec.get("volumes", []):
            if "configMap" in vol:
                wanted.append(("ConfigMap", vol["configMap"]["name"]))
            if "secret" in vol:
                wanted.append(("Secret", vol["secret"]["secretName"]))
            if "persistentVolumeClaim" in vol:
                wanted.append(("PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"]))
        for ctr in _all_containers(spec):
            for source in ctr.get("envFrom", []):
                if "configMapRef" in source:
                    wanted.append(("ConfigMap", source["configMapRef"]["name"]))
                if "secretRef" in source:
                    wanted.append(("Secret", source["secretRef"]["name"]))
        missing = [f"{kind}/{ref}" for kind, ref in wanted if (kind, ref) not in seen]
        problems += [f"{wl['metadata']['name']}: {ref} does not exist" for ref in missing]
    return problems
