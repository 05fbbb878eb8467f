"""deploy/k8s (docs/adr/0021), checked offline: the overlays are built here (the few kustomize
features they use), every core object validated against Kubernetes' schemas (kubernetes-validate),
every KEDA object against KEDA's own CRD schema, and the objects against each other and the code:
selectors, Ingress backends, Secret keys, autoscalers, partitions, probes, resources, settings."""

from __future__ import annotations

import importlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy.k8s import generate
from shared.contracts.topics import PARTITIONS
from tests.config import REPO
from tests.unit.route_tables import route_tables

K8S = REPO / "deploy" / "k8s"
OVERLAYS = {"base": K8S / "base", "local": K8S / "overlays" / "local"}
KUBERNETES_VERSION = "1.32.0"  # the oldest release the manifests must suit
KEDA_SCHEMAS = Path(__file__).parent / "schemas" / "keda"
KEDA_KINDS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
}
CLUSTER_SCOPED = {"Namespace"}
# Strategic merge: the lists kubectl merges item by item (by this key); every other list is replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
# Variables that are not settings: the OpenTelemetry SDK's, and the process' own (generate.PROCESS_ENV).
NOT_SETTINGS = {"OTEL_EXPORTER_OTLP_PROTOCOL", "HOME", "PYTHONDONTWRITEBYTECODE"}
ADR = REPO / "docs" / "adr" / "0021-kubernetes-and-keda.md"
Object = dict[str, Any]


# ---- a kustomize build of what the overlays use ----------------------------------------------------


def _documents(path: Path) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _merge(base: Any, patch: Any, key: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for k, v in patch.items():
            merged[k] = _merge(base[k], v, k) if k in base else v
        return merged
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        by = MERGE_KEYS[key]
        merged_list = list(base)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old[by] == item[by]), None)
            if index is None:
                merged_list.append(item)
            else:
                merged_list[index] = _merge(merged_list[index], item)
        return merged_list
    return patch


def _containers(obj: Object) -> list[Object]:
    if obj["kind"] != "Deployment":
        return []
    spec = obj["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def build(directory: Path) -> list[Object]:
    """`kustomize build directory`, for resources (files and directories), namespace, images and
    strategic-merge patches: what deploy/k8s uses (test_our_build_is_kustomizes checks it)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects += build(path) if path.is_dir() else _documents(path)
    for patch_entry in kustomization.get("patches", []):
        for patch in _documents(directory / patch_entry["path"]):
            ident = (patch["kind"], patch["metadata"]["name"])
            matches = [i for i, o in enumerate(objects) if (o["kind"], o["metadata"]["name"]) == ident]
            assert len(matches) == 1, f"patch {ident} matches {len(matches)} objects"
            objects[matches[0]] = _merge(objects[matches[0]], patch)
    if namespace := kustomization.get("namespace"):
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"] = {**obj["metadata"], "namespace": namespace}
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return objects


@pytest.fixture(scope="module", params=list(OVERLAYS))
def built(request: pytest.FixtureRequest) -> list[Object]:
    return build(OVERLAYS[request.param])


def of_kind(objects: list[Object], kind: str) -> dict[str, Object]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(objects: list[Object]) -> Iterator[tuple[str, Object]]:
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in _containers(deployment):
            yield name, container


# ---- the files -------------------------------------------------------------------------------------


def test_the_generated_manifests_are_up_to_date() -> None:
    for path, text in generate.files().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is out of date: run `python -m deploy.k8s.generate`"
        )


def _normalised(objects: list[Object]) -> list[Object]:
    return sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"]))


KUSTOMIZE = REPO / ".local" / "tools" / "kustomize-5.5.0" / "kustomize"  # deploy/local/jaeger.sh installs it


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_our_build_is_kustomizes(overlay: str) -> None:
    """kustomize (pinned, installed by `make up`) builds the same objects as `build`."""
    assert KUSTOMIZE.is_file(), f"{KUSTOMIZE} is missing: `make up` (deploy/local/jaeger.sh install) installs it"
    out = subprocess.run([str(KUSTOMIZE), "build", str(OVERLAYS[overlay])], capture_output=True, text=True, check=True)
    theirs = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    assert _normalised(theirs) == _normalised(build(OVERLAYS[overlay]))


# ---- schemas ---------------------------------------------------------------------------------------


def test_core_objects_follow_the_kubernetes_schemas(built: list[Object]) -> None:
    for obj in built:
        if obj["kind"] in KEDA_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def _crd_schema(kind: str) -> Object:
    crd = yaml.safe_load((KEDA_SCHEMAS / KEDA_KINDS[kind]).read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: Object = version["schema"]["openAPIV3Schema"]
    return schema


def test_keda_objects_follow_kedas_crd_schemas(built: list[Object]) -> None:
    found = [o for o in built if o["kind"] in KEDA_KINDS]
    assert found
    for obj in found:
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        jsonschema.validate(obj, _crd_schema(obj["kind"]))


def test_the_keda_schema_check_refuses_a_wrong_object() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": {"scaleTargetRef": {}, "maxReplicaCount": "many"}}, _crd_schema("ScaledObject"))


# ---- cross-references ------------------------------------------------------------------------------


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_service_selects_a_deployment_and_names_its_port(built: list[Object]) -> None:
    deployments = of_kind(built, "Deployment").values()
    for name, service in of_kind(built, "Service").items():
        targets = [
            d for d in deployments if _matches(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(targets) == 1, f"Service {name} selects {len(targets)} Deployments"
        ports = {p["name"] for c in _containers(targets[0]) for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name


def test_every_deployment_selector_matches_its_pods(built: list[Object]) -> None:
    for name, deployment in of_kind(built, "Deployment").items():
        assert _matches(
            deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]
        ), name


def test_every_ingress_backend_is_a_service_port(built: list[Object]) -> None:
    services = of_kind(built, "Service")
    for ingress in of_kind(built, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, backend
                assert backend["port"]["number"] in {p["port"] for p in services[backend["name"]]["spec"]["ports"]}


def _routes(service: str) -> set[str]:
    """The paths a service's app answers, from its route table (/assets included)."""
    return {path for _, path in route_tables()[service]}


def test_the_ingress_routes_public_pages_only(built: list[Object]) -> None:
    (ingress,) = of_kind(built, "Ingress").values()
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert set(ingress["spec"]["tls"][0]["hosts"]) == hosts
    for rule in ingress["spec"]["rules"]:
        service = rule["http"]["paths"][0]["backend"]["service"]["name"]
        routes = _routes(service)
        for path in rule["http"]["paths"]:
            value = path["path"]
            assert value not in ("/metrics", "/healthz"), "metrics and health stay inside the cluster"
            if path["pathType"] == "Exact":
                assert value in routes, f"{rule['host']}{value}: no such route"
            else:
                under = any(r == value or r.startswith(value + "/") for r in routes)
                assert under, f"{rule['host']}{value}: no route under it"


def _config_data(built: list[Object]) -> dict[str, str]:
    data: dict[str, str] = {}
    for config in of_kind(built, "ConfigMap").values():
        data |= config.get("data", {})
    return data


def test_every_public_base_url_is_an_ingress_host(built: list[Object]) -> None:
    (ingress,) = of_kind(built, "Ingress").values()
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    urls = {k: v for k, v in _config_data(built).items() if k.endswith(("PUBLIC_BASE_URL", "BASE_URL", "PUBLIC_URL"))}
    assert urls
    for key, url in urls.items():
        assert url.startswith("https://") and url.removeprefix("https://") in hosts, key


def _documented_secrets() -> dict[str, set[str]]:
    """The table of docs/adr/0021: `| secret | key, key |`."""
    table: dict[str, set[str]] = {}
    for secret, keys in re.findall(r"^\| `([a-z0-9-]+)` \| ([^|]+) \|", ADR.read_text(encoding="utf-8"), re.MULTILINE):
        table[secret] = set(re.findall(r"`([a-z0-9.-]+)`", keys))
    return table


def _secret_refs(built: list[Object]) -> set[tuple[str, str]]:
    refs = {
        (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
        for _, c in containers(built)
        for env in c.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    for auth in of_kind(built, "TriggerAuthentication").values():
        refs |= {(ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    return refs


def test_every_secret_key_is_external_and_documented(built: list[Object]) -> None:
    assert not of_kind(built, "Secret"), "Secrets are created outside the repository, never committed"
    documented = _documented_secrets()
    for secret, key in _secret_refs(built):
        assert key in documented.get(secret, set()), f"{secret}/{key} is not in {ADR.name}'s table"
    for ingress in of_kind(built, "Ingress").values():
        for tls in ingress["spec"]["tls"]:
            assert tls["secretName"] in documented


def test_every_config_map_referenced_exists(built: list[Object]) -> None:
    configs = of_kind(built, "ConfigMap")
    for name, container in containers(built):
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] in configs, name


def _settings_names() -> dict[str, set[str]]:
    """Environment names each application reads, by the prefix of its settings."""
    names: dict[str, set[str]] = {}
    classes = [(f"{s}.config", "Settings") for s in generate.SERVICE_NAMES] + [
        ("console.config", "ConsoleSettings"),
        ("console.config", "Settings"),
    ]
    for module, cls_name in classes:
        cls = getattr(importlib.import_module(module), cls_name)
        prefix = cls.model_config["env_prefix"]
        fields = {f"{prefix}{name}".upper() for name in cls.model_fields}
        if "otlp_endpoint" in cls.model_fields:  # the standard variable, read without the prefix
            fields.add("OTEL_EXPORTER_OTLP_ENDPOINT")
        names.setdefault(prefix, set()).update(fields)
    return names


def test_every_environment_name_is_a_setting(built: list[Object]) -> None:
    """No typos: each variable a pod gets is a field of its app's Settings (prefix + field name)."""
    settings = _settings_names()
    everything = set().union(*settings.values())
    for name, container in containers(built):
        if name == "mailsink":
            continue
        given = {env["name"] for env in container.get("env", [])}
        for source in container.get("envFrom", []):
            given |= set(of_kind(built, "ConfigMap")[source["configMapRef"]["name"]].get("data", {}))
        unknown = given - everything - NOT_SETTINGS
        assert not unknown, f"{name}: {sorted(unknown)} are no settings"
        app = name.removesuffix("-web").removesuffix("-worker")
        prefixes = ("CONSOLE_", "HLM360_") if app == "console" else (f"{app.upper()}_",)
        foreign = {g for g in given - NOT_SETTINGS if not g.startswith(prefixes) and g != "OTEL_EXPORTER_OTLP_ENDPOINT"}
        assert not foreign, f"{name}: {sorted(foreign)} belong to another app"


@pytest.mark.parametrize("service", generate.SERVICE_NAMES)
def test_every_setting_without_a_default_is_given(service: str) -> None:
    config = importlib.import_module(f"{service}.config")
    required = {f"{service.upper()}_{n.upper()}" for n, f in config.Settings.model_fields.items() if f.is_required()}
    for overlay in OVERLAYS.values():
        objects = build(overlay)
        for component in ("web", "worker"):
            (container,) = _containers(of_kind(objects, "Deployment")[f"{service}-{component}"])
            assert required <= {env["name"] for env in container["env"]}


def test_web_and_worker_roles_split_the_work(built: list[Object]) -> None:
    for name, container in containers(built):
        if not name.endswith(("-web", "-worker")):
            continue
        roles = {e["name"].split("_RUN_")[1]: e["value"] for e in container["env"] if "_RUN_" in e["name"]}
        expected = "false" if name.endswith("-web") else "true"
        assert roles == dict.fromkeys(("CONSUMERS", "JOBS", "OUTBOX_RELAY"), expected), name


def test_every_web_deployment_has_a_cpu_hpa_and_every_worker_a_scaled_object(built: list[Object]) -> None:
    deployments = of_kind(built, "Deployment")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(built, "HorizontalPodAutoscaler").values()}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(built, "ScaledObject").values()}
    assert {n for n in deployments if n.endswith("-web")} == set(hpas)
    consuming = {f"{s}-worker" for s in generate.SERVICE_NAMES if generate.consumer_groups(s)}
    assert {n for n in deployments if n.endswith("-worker")} - consuming == {"observations-worker"}
    assert consuming == set(scaled)
    assert deployments["observations-worker"]["spec"]["replicas"] == 1, "no consumers: one worker runs the jobs"
    for hpa in hpas.values():
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    for name in (*hpas, *scaled):
        assert "replicas" not in deployments[name]["spec"], f"{name}: its autoscaler owns the replica count"


def test_each_worker_scales_on_the_lag_of_exactly_its_consumer_groups(built: list[Object]) -> None:
    auths = of_kind(built, "TriggerAuthentication")
    for scaled in of_kind(built, "ScaledObject").values():
        service = scaled["spec"]["scaleTargetRef"]["name"].removesuffix("-worker")
        triggers = scaled["spec"]["triggers"]
        watched = sorted((t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers)
        assert watched == generate.consumer_groups(service)
        for trigger in triggers:
            assert trigger["type"] == "kafka"
            assert trigger["metadata"]["sasl"] == "scram_sha512"
            assert trigger["authenticationRef"]["name"] in auths
            assert trigger["metadata"]["bootstrapServersFromEnv"] in _config_data(built)


def test_the_consumer_groups_are_those_the_code_registers() -> None:
    from shared.contracts.channels import SERVICES, reads

    assert set(generate.SERVICE_NAMES) == set(SERVICES)
    for service in generate.SERVICE_NAMES:
        groups = generate.consumer_groups(service)
        assert all(group.startswith(f"{service}.") for group, _ in groups)
        assert len(groups) == len(reads(service))


def test_no_worker_scales_beyond_the_partitions(built: list[Object]) -> None:
    """A consumer beyond a topic's partition count would sit idle (shared.messaging.ensure_topics
    creates every topic with PARTITIONS)."""
    for scaled in of_kind(built, "ScaledObject").values():
        assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] <= PARTITIONS
    for hpa in of_kind(built, "HorizontalPodAutoscaler").values():
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_every_container_has_probes_resources_and_a_locked_down_context(built: list[Object]) -> None:
    for name, container in containers(built):
        assert "readinessProbe" in container and "livenessProbe" in container, name
        if container["ports"][0]["name"] == "http":
            assert container["readinessProbe"]["httpGet"]["path"] == "/healthz", name
        limits, requests = container["resources"]["limits"], container["resources"]["requests"]
        assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests), name
        security = container["securityContext"]
        assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"], name
        assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"], name
    for name, deployment in of_kind(built, "Deployment").items():
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] != 0, name


def test_every_deployment_has_a_disruption_budget_and_a_network_policy(built: list[Object]) -> None:
    pdbs = of_kind(built, "PodDisruptionBudget").values()
    policies = of_kind(built, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, deployment in of_kind(built, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if name != "mailsink":
            assert any(_matches(p["spec"]["selector"]["matchLabels"], labels) for p in pdbs), name
        own = policies.get(name)
        assert own and _matches(own["spec"]["podSelector"]["matchLabels"], labels), (
            f"{name}: no NetworkPolicy of its own"
        )


def test_only_web_pods_and_the_console_take_traffic_from_the_ingress_controller(built: list[Object]) -> None:
    for name, policy in of_kind(built, "NetworkPolicy").items():
        from_controller = any(
            peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            == "ingress-nginx"
            for rule in policy["spec"].get("ingress", [])
            for peer in rule.get("from", [])
        )
        assert from_controller == (name.endswith("-web") or name == "console"), name
