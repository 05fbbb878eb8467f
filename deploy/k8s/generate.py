"""The Kubernetes manifests under deploy/k8s/ (docs/adr/0021), written from the code they describe:
`python -m deploy.k8s.generate` rewrites them; a unit test fails when they are out of date.

Written, not hand-kept, because most of what they say is already said elsewhere: the consumer
groups and topics a worker's autoscaler watches (each service's handlers.py, shared.contracts),
the partition count that bounds its replicas (shared.contracts.topics.PARTITIONS), each service's
port and settings. What is a choice of the deployment (resources, replicas, neighbours' addresses)
is in the tables below; an operator's own overlay patches it.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import PARTITIONS, topic_for

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BASE = HERE / "base"
LOCAL = HERE / "overlays" / "local"

IMAGE = "hlm360/service"
PART_OF = "hlm360"
DOMAIN = "hlm360.example.nhs.uk"
LOCAL_DOMAIN = "hlm360.localhost"
TLS_CERTIFICATE = "hlm360-tls"  # a kubernetes.io/tls Secret covering every host
INGRESS_CLASS = "nginx"
OUTPUT_ROOT = "/var/lib/hlm360"
TMP = "/tmp"  # noqa: S108 (an emptyDir of the pod's own)
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (a container listens on its pod's address)
UID = 65534  # `nobody`, the image's USER (deploy/Dockerfile.service), numeric so runAsNonRoot can check it

# Neighbours the pods talk to, by namespace and pod labels: where a cluster runs them elsewhere (a
# managed database, a broker outside the cluster), an overlay replaces these rules (docs/adr/0021).
KAFKA = {"namespace": "kafka", "pods": {"app.kubernetes.io/name": "kafka"}, "port": 9092}
POSTGRES = {"namespace": "postgres", "pods": {"app.kubernetes.io/name": "postgresql"}, "port": 5432}
OTLP = {"namespace": "observability", "pods": {"app.kubernetes.io/name": "opentelemetry-collector"}, "port": 4318}
JAEGER = {"namespace": "observability", "pods": {"app.kubernetes.io/name": "jaeger"}, "port": 16686}
PROMETHEUS = {"namespace": "monitoring", "pods": {"app.kubernetes.io/name": "prometheus"}, "port": 9090}
INGRESS_CONTROLLER = {"namespace": "ingress-nginx", "pods": {"app.kubernetes.io/name": "ingress-nginx"}}
DNS = {"namespace": "kube-system", "pods": {"k8s-app": "kube-dns"}, "port": 53}
KAFKA_BOOTSTRAP = "kafka-bootstrap.kafka.svc:9092"
# Outside the cluster: the SMTP relay (NHSmail's, submission with STARTTLS) and the OIDC issuer (https).
SMTP_RELAY = ("send.nhs.net", 587)
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# X-Forwarded-For is believed from the cluster's own addresses: the web pods' NetworkPolicies let in
# the ingress controller (and Prometheus, on the metrics port) only, so it is the controller's word.
FORWARDED_FROM = ",".join(PRIVATE_RANGES)

# Each worker scales on its groups' lag: one replica per lagThreshold messages behind, at most one
# per partition (a consumer beyond the partition count would sit idle).
LAG_THRESHOLD = 20
WORKER_MAX_REPLICAS = PARTITIONS
WEB_MIN_REPLICAS, WEB_MAX_REPLICAS, WEB_CPU_PERCENT = 2, 6, 70


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    # public paths routed by the Ingress (never /metrics nor /healthz): Prefix, and Exact ones
    prefixes: tuple[str, ...]
    exact: tuple[str, ...] = ()
    mail: bool = False
    links: bool = False
    output_dir: str | None = None
    config: dict[str, str] = field(default_factory=dict)
    worker_memory: str = "512Mi"

    @property
    def prefix(self) -> str:
        return f"{self.name.upper()}_"

    @property
    def host(self) -> str:
        return f"{self.name}.{DOMAIN}"


def public_url(name: str, domain: str = DOMAIN) -> str:
    return f"https://{name}.{domain}"


SERVICES = (
    Service(
        "invitations",
        8101,
        prefixes=("/start", "/started", "/p", "/approve", "/confirm", "/api", "/assets"),
        exact=("/",),
        mail=True,
        links=True,
        config={"RATINGS_BASE_URL": public_url("ratings")},
    ),
    Service(
        "ratings",
        8102,
        prefixes=("/r", "/self-assessment", "/api", "/assets"),
        config={"REPORTS_PUBLIC_URL": public_url("reports")},
    ),
    Service(
        "reports",
        8103,
        prefixes=("/report", "/cohort", "/api", "/assets"),
        exact=("/report.css", "/report-status.js"),
        mail=True,
        links=True,
        output_dir="reports",
        worker_memory="1Gi",  # renders PDFs
    ),
    Service(
        "scheduling",
        8104,
        prefixes=("/book", "/facilitator", "/lead", "/api", "/assets"),
        mail=True,
        links=True,
        output_dir="sessions",
    ),
    # The HLM Observations journal (issue 15): it consumes no events, so its worker (the mail
    # outbox and its housekeeping jobs) has no lag to scale on and runs as one replica.
    Service(
        "observations",
        8106,
        prefixes=("/observations", "/assets"),
        mail=True,
        links=True,
    ),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
CONSOLE_PORT = 8105
CONSOLE_PREFIXES = ("/console", "/assets")  # its pages are under /console (console.pages.PREFIX)


def consumer_groups(service: str) -> list[tuple[str, str]]:
    """(consumer group, topic) of each `@on(Event, name=...)` in the service's handlers.py: the groups
    shared.consumers.EventConsumers registers (`<service>.<name>`)."""
    events = {event.__name__: event for event in EVENT_TYPES}
    tree = ast.parse((REPO / "services" / service / "src" / service / "handlers.py").read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "on":
            event = node.args[0]
            name = next(k.value for k in node.keywords if k.arg == "name")
            assert isinstance(event, ast.Name) and isinstance(name, ast.Constant) and isinstance(name.value, str)
            found.append((f"{service}.{name.value}", topic_for(events[event.id])))
    return sorted(found)


# ---- building blocks -------------------------------------------------------------------------------


def labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


def meta(name: str, lab: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "labels": lab or {"app.kubernetes.io/part-of": PART_OF}}


def secret_env(env: str, secret: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": env, "valueFrom": {"secretKeyRef": ref}}


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": UID,
    "fsGroup": UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Not settings: the read-only root filesystem leaves Python and fontconfig (PDFs) a writable home in /tmp.
PROCESS_ENV = [{"name": "HOME", "value": TMP}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]


def probes(port: str = "http") -> dict[str, Any]:
    """Ready when /healthz answers (the service reaches its database and Kafka); started the same way,
    after `serve` has migrated. Alive while it accepts connections: an outage of the database or
    Kafka makes every pod unready, and restarting them all would not bring it back."""
    health = {"httpGet": {"path": "/healthz", "port": port}}
    return {
        "startupProbe": {**health, "periodSeconds": 5, "failureThreshold": 36, "timeoutSeconds": 3},
        "readinessProbe": {**health, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 3},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 20, "failureThreshold": 3, "timeoutSeconds": 3},
    }


def scrape_annotations(port: int) -> dict[str, str]:
    """Prometheus' kubernetes_sd with the usual annotation relabelling (docs/adr/0021)."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


def deployment(
    name: str,
    component: str,
    *,
    command: list[str],
    port: int,
    env: list[dict[str, Any]],
    env_from: list[str],
    res: dict[str, Any],
    volumes: dict[str, str],
    replicas: int | None = None,
) -> dict[str, Any]:
    """`volumes`: mount path -> volume name (emptyDir); /tmp always."""
    mounts = {TMP: "tmp", **volumes}
    container: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "command": command,
        "ports": [{"name": "http", "containerPort": port}],
        "env": env + PROCESS_ENV,
        "envFrom": [{"configMapRef": {"name": config}} for config in env_from],
        **probes(),
        "resources": res,
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": volume, "mountPath": path} for path, volume in mounts.items()],
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector(name, component)},
        "template": {
            "metadata": {"labels": labels(name, component), "annotations": scrape_annotations(port)},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": POD_SECURITY,
                "terminationGracePeriodSeconds": 30,
                "containers": [container],
                "volumes": [{"name": volume, "emptyDir": {}} for volume in mounts.values()],
            },
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    full = name if component == "console" else f"{name}-{component}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(full, labels(name, component)),
        "spec": spec,
    }


def pdb(name: str, component: str, **budget: Any) -> dict[str, Any]:
    full = name if component == "console" else f"{name}-{component}"
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(full, labels(name, component)),
        "spec": {**budget, "selector": {"matchLabels": selector(name, component)}},
    }


def peer(target: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": target["namespace"]}},
        "podSelector": {"matchLabels": target["pods"]},
    }


def egress_to(target: dict[str, Any]) -> dict[str, Any]:
    return {"to": [peer(target)], "ports": [{"protocol": "TCP", "port": target["port"]}]}


def egress_outside(port: int) -> dict[str, Any]:
    """To a host outside the cluster (the SMTP relay, the OIDC issuer): any public address."""
    return {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}],
        "ports": [{"protocol": "TCP", "port": port}],
    }


def network_policy(
    name: str, component: str, *, ingress: list[dict[str, Any]], egress: list[dict[str, Any]]
) -> dict[str, Any]:
    full = name if component == "console" else f"{name}-{component}"
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector(name, component)}, "policyTypes": []}
    if ingress:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(full), "spec": spec}


FROM_INGRESS_CONTROLLER = {"from": [peer(INGRESS_CONTROLLER)], "ports": [{"protocol": "TCP", "port": "http"}]}


# ---- objects ---------------------------------------------------------------------------------------


def service_config(service: Service) -> dict[str, Any]:
    p = service.prefix
    data = {
        f"{p}HTTP_HOST": ALL_INTERFACES,
        f"{p}PUBLIC_BASE_URL": public_url(service.name),
        f"{p}FORWARDED_ALLOW_IPS": FORWARDED_FROM,
        f"{p}KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        f"{p}KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        # Operators' API: staff tokens from the organisation's OIDC issuer (docs/adr/0013). Empty: the
        # API is off until an overlay names the issuer; the static admin token is refused on https.
        f"{p}OIDC_ISSUER": "",
        f"{p}OIDC_AUDIENCE": "",
    }
    if service.mail:
        host, port = SMTP_RELAY
        data |= {f"{p}SMTP_HOST": host, f"{p}SMTP_PORT": str(port), f"{p}SMTP_SECURITY": "starttls"}
    if service.output_dir:
        data[f"{p}OUTPUT_DIR"] = f"{OUTPUT_ROOT}/{service.output_dir}"
    data |= {f"{p}{key}": value for key, value in service.config.items()}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(f"{service.name}-config"), "data": data}


def telemetry_config() -> dict[str, Any]:
    host = f"otel-collector.{OTLP['namespace']}.svc"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("hlm360-telemetry"),
        "data": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{OTLP['port']}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        },
    }


def service_secrets(service: Service) -> list[dict[str, Any]]:
    """The service's Secret `hlm360-<service>` (created outside this repository: docs/adr/0021)."""
    p, secret = service.prefix, f"hlm360-{service.name}"
    env = [
        secret_env(f"{p}DATABASE_URL", secret, "database-url"),
        secret_env(f"{p}KAFKA_USERNAME", secret, "kafka-username"),
        secret_env(f"{p}KAFKA_PASSWORD", secret, "kafka-password"),
        secret_env(f"{p}ADMIN_TOKEN", secret, "admin-token", optional=True),
    ]
    if service.links:
        env += [
            secret_env(f"{p}LINK_SECRET", secret, "link-secret"),
            secret_env(f"{p}LINK_SECRETS_PREVIOUS", secret, "link-secrets-previous", optional=True),
        ]
    if service.mail:
        env += [
            secret_env(f"{p}SMTP_USERNAME", secret, "smtp-username", optional=True),
            secret_env(f"{p}SMTP_PASSWORD", secret, "smtp-password", optional=True),
        ]
    return env


def roles(service: Service, *, web: bool) -> list[dict[str, Any]]:
    # Web pods serve HTTP only. Workers run the consumers, the jobs (each locks what it works on) and
    # the outbox relay, which takes an advisory lock so one instance publishes at a time: events a
    # web pod commits to the outbox leave within outbox_poll_seconds, through a worker.
    value = "false" if web else "true"
    return [{"name": f"{service.prefix}RUN_{role}", "value": value} for role in ("CONSUMERS", "JOBS", "OUTBOX_RELAY")]


def service_objects(service: Service) -> list[dict[str, Any]]:
    name, p = service.name, service.prefix
    command = ["python", "-m", name, "serve"]
    env_from = ["hlm360-telemetry", f"{name}-config"]
    volumes = {f"{OUTPUT_ROOT}/{service.output_dir}": "output"} if service.output_dir else {}
    common = [*service_secrets(service)]
    web = deployment(
        name,
        "web",
        command=command,
        port=service.port,
        env=roles(service, web=True) + common,
        env_from=env_from,
        res=resources("100m", "256Mi", "1", "512Mi"),
        volumes=volumes,
    )
    groups = consumer_groups(name)
    worker = deployment(
        name,
        "worker",
        command=command,
        port=service.port,
        env=[*roles(service, web=False), *common],
        env_from=env_from,
        res=resources("200m", "384Mi", "1", service.worker_memory),
        volumes=volumes,
        replicas=None if groups else 1,  # without consumers, nothing to scale on: one runs the jobs
    )
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, labels(name, "web")),
        "spec": {
            "selector": selector(name, "web"),
            "ports": [{"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(f"{name}-web"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{name}-web"},
            "minReplicas": WEB_MIN_REPLICAS,
            "maxReplicas": WEB_MAX_REPLICAS,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": WEB_CPU_PERCENT},
                    },
                }
            ],
        },
    }
    auth = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": meta(f"{name}-kafka"),
        "spec": {
            "secretTargetRef": [
                {"parameter": "username", "name": f"hlm360-{name}", "key": "kafka-username"},
                {"parameter": "password", "name": f"hlm360-{name}", "key": "kafka-password"},
            ]
        },
    }
    triggers = [
        {
            "type": "kafka",
            "name": group.removeprefix(f"{name}."),
            "metadata": {
                # from the worker's own environment (its ConfigMap), so an overlay changes it in one place
                "bootstrapServersFromEnv": f"{p}KAFKA_BOOTSTRAP_SERVERS",
                "consumerGroup": group,
                "topic": topic,
                "lagThreshold": str(LAG_THRESHOLD),
                "offsetResetPolicy": "earliest",
                "sasl": "scram_sha512",
                "tls": "disable",
            },
            "authenticationRef": {"name": f"{name}-kafka"},
        }
        for group, topic in groups
    ]
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(f"{name}-worker"),
        "spec": {
            "scaleTargetRef": {"name": f"{name}-worker"},
            # never zero: the jobs (reminders, deadlines, mail) run on the workers whatever the lag
            "minReplicaCount": 1,
            "maxReplicaCount": WORKER_MAX_REPLICAS,
            "pollingInterval": 30,
            "cooldownPeriod": 300,
            "triggers": triggers,
        },
    }
    egress = [egress_to(POSTGRES), egress_to(KAFKA), egress_to(OTLP)]
    web_policy = network_policy(
        name,
        "web",
        ingress=[FROM_INGRESS_CONTROLLER],
        egress=[*egress, egress_outside(443)],  # OIDC keys
    )
    worker_egress = [*egress, egress_outside(SMTP_RELAY[1])] if service.mail else egress
    worker_policy = network_policy(name, "worker", ingress=[], egress=worker_egress)
    return [
        web,
        worker,
        svc,
        hpa,
        pdb(name, "web", minAvailable=1),
        pdb(name, "worker", maxUnavailable=1),
        *([auth, scaled] if groups else []),
        web_policy,
        worker_policy,
    ]


def console_objects() -> list[dict[str, Any]]:
    store = "hlm360-console"
    env = [
        # the operators' Kafka principal (shared.settings.AdminSettings): reads every topic, replays dead letters
        secret_env("HLM360_KAFKA_USERNAME", store, "kafka-username"),
        secret_env("HLM360_KAFKA_PASSWORD", store, "kafka-password"),
        secret_env("CONSOLE_SESSION_SECRET", store, "session-secret"),
        secret_env("CONSOLE_ADMIN_TOKEN", store, "admin-token", optional=True),
    ]
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("console-config"),
        "data": {
            "CONSOLE_HTTP_HOST": ALL_INTERFACES,
            "CONSOLE_PUBLIC_BASE_URL": public_url("console"),
            "CONSOLE_FORWARDED_ALLOW_IPS": FORWARDED_FROM,
            "CONSOLE_PROMETHEUS_URL": f"http://prometheus.{PROMETHEUS['namespace']}.svc:{PROMETHEUS['port']}",
            "CONSOLE_JAEGER_URL": f"http://jaeger-query.{JAEGER['namespace']}.svc:{JAEGER['port']}",
            "CONSOLE_OIDC_ISSUER": "",
            "CONSOLE_OIDC_AUDIENCE": "",
            "HLM360_KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
            "HLM360_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        },
    }
    # One replica: the console keeps the lifecycle feed it reads from Kafka in memory; a second would
    # read it all again for nothing. No autoscaling: a handful of operators use it.
    console = deployment(
        "console",
        "console",
        command=["hlm360", "console", "serve"],
        port=CONSOLE_PORT,
        env=env,
        env_from=["hlm360-telemetry", "console-config"],
        res=resources("50m", "192Mi", "500m", "512Mi"),
        volumes={},
        replicas=1,
    )
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("console", labels("console", "console")),
        "spec": {
            "selector": selector("console", "console"),
            "ports": [{"name": "http", "port": CONSOLE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    policy = network_policy(
        "console",
        "console",
        ingress=[FROM_INGRESS_CONTROLLER],
        egress=[egress_to(KAFKA), egress_to(PROMETHEUS), egress_to(JAEGER), egress_to(OTLP), egress_outside(443)],
    )
    return [config, console, svc, pdb("console", "console", maxUnavailable=1), policy]


def namespace_policies() -> list[dict[str, Any]]:
    everything: dict[str, Any] = {}
    dns_ports = [{"protocol": "UDP", "port": DNS["port"]}, {"protocol": "TCP", "port": DNS["port"]}]
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("default-deny"),
            "spec": {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("allow-dns"),
            "spec": {
                "podSelector": everything,
                "policyTypes": ["Egress"],
                "egress": [{"to": [peer(DNS)], "ports": dns_ports}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("allow-prometheus-scrape"),
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [peer(PROMETHEUS)], "ports": [{"protocol": "TCP", "port": "http"}]}],
            },
        },
    ]


def ingress_rule(
    host: str, backend: str, port: int, prefixes: tuple[str, ...], exact: tuple[str, ...]
) -> dict[str, Any]:
    def path(value: str, kind: str) -> dict[str, Any]:
        return {"path": value, "pathType": kind, "backend": {"service": {"name": backend, "port": {"number": port}}}}

    return {"host": host, "http": {"paths": [path(p, "Exact") for p in exact] + [path(p, "Prefix") for p in prefixes]}}


def ingress(domain: str = DOMAIN) -> dict[str, Any]:
    """One host per service: their routes overlap (/api/cycles/..., /assets) and each service already
    has its own public base URL. Only the public pages and the operators' API are routed; /metrics and
    /healthz stay inside the cluster. The console has its own host."""
    rules = [ingress_rule(f"{s.name}.{domain}", s.name, s.port, s.prefixes, s.exact) for s in SERVICES] + [
        ingress_rule(f"console.{domain}", "console", CONSOLE_PORT, CONSOLE_PREFIXES, ())
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            **meta("hlm360"),
            # the services refuse bodies above http_max_body_bytes (1 MiB) themselves; say so at the edge too
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
        },
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "tls": [{"hosts": [rule["host"] for rule in rules], "secretName": TLS_CERTIFICATE}],
            "rules": rules,
        },
    }


# ---- the local overlay -----------------------------------------------------------------------------


def local_patches() -> list[dict[str, Any]]:
    """Fewer replicas and smaller pods, hosts under hlm360.localhost, mail to the in-namespace sink."""
    patches: list[dict[str, Any]] = []
    for s in SERVICES:
        p = s.prefix
        data = {f"{p}PUBLIC_BASE_URL": public_url(s.name, LOCAL_DOMAIN), f"{p}ADMIN_TOKEN_ALLOWED": "true"}
        if s.mail:
            data |= {f"{p}SMTP_HOST": "mailsink", f"{p}SMTP_PORT": "2525", f"{p}SMTP_SECURITY": "none"}
        data |= {f"{p}{key}": value.replace(DOMAIN, LOCAL_DOMAIN) for key, value in s.config.items()}
        patches.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{s.name}-config"}, "data": data}
        )
        for component in ("web", "worker"):
            patches.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"{s.name}-{component}"},
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": s.name,
                                        "imagePullPolicy": "IfNotPresent",
                                        "resources": resources("50m", "192Mi", "1", s.worker_memory),
                                    }
                                ]
                            }
                        }
                    },
                }
            )
        patches.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": f"{s.name}-web"},
                "spec": {"minReplicas": 1, "maxReplicas": 2},
            }
        )
        if consumer_groups(s.name):
            patches.append(
                {
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "ScaledObject",
                    "metadata": {"name": f"{s.name}-worker"},
                    "spec": {"maxReplicaCount": 2},
                }
            )
        patches.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"{s.name}-worker"},
                "spec": {
                    "egress": [
                        egress_to(POSTGRES),
                        egress_to(KAFKA),
                        egress_to(OTLP),
                        *([TO_MAILSINK] if s.mail else []),
                    ]
                },
            }
        )
    patches.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "console-config"},
            "data": {
                "CONSOLE_PUBLIC_BASE_URL": public_url("console", LOCAL_DOMAIN),
                "CONSOLE_ADMIN_TOKEN_ALLOWED": "true",
            },
        }
    )
    local_ingress = ingress(LOCAL_DOMAIN)
    patches.append(
        {
            "apiVersion": local_ingress["apiVersion"],
            "kind": "Ingress",
            "metadata": {"name": "hlm360"},
            "spec": local_ingress["spec"],
        }
    )
    return patches


TO_MAILSINK = {
    "to": [{"podSelector": {"matchLabels": selector("mailsink", "mailsink")}}],
    "ports": [{"protocol": "TCP", "port": 2525}],
}


def mailsink_objects() -> list[dict[str, Any]]:
    """The local stack's SMTP sink (deploy/local/mailsink.py): mail goes nowhere."""
    container: dict[str, Any] = {
        "name": "mailsink",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "deploy/local/mailsink.py", "--host", ALL_INTERFACES],
        "ports": [{"name": "smtp", "containerPort": 2525}],
        "env": PROCESS_ENV,
        "readinessProbe": {"tcpSocket": {"port": "smtp"}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": "smtp"}, "periodSeconds": 20},
        "resources": resources("10m", "64Mi", "200m", "128Mi"),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "tmp", "mountPath": TMP}],
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("mailsink", labels("mailsink", "mailsink")),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": selector("mailsink", "mailsink")},
                "template": {
                    "metadata": {"labels": labels("mailsink", "mailsink")},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": POD_SECURITY,
                        "containers": [container],
                        "volumes": [{"name": "tmp", "emptyDir": {}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("mailsink", labels("mailsink", "mailsink")),
            "spec": {
                "selector": selector("mailsink", "mailsink"),
                "ports": [{"name": "smtp", "port": 2525, "targetPort": "smtp"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("mailsink"),
            "spec": {
                "podSelector": {"matchLabels": selector("mailsink", "mailsink")},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "worker"}}}],
                        "ports": [{"protocol": "TCP", "port": 2525}],
                    }
                ],
            },
        },
    ]


# ---- files -----------------------------------------------------------------------------------------

HEADER = "# Written by `python -m deploy.k8s.generate` (docs/adr/0021): edit the generator, not this file.\n"


def dump(objects: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(yaml.safe_dump(o, sort_keys=False, width=120) for o in objects)


def files() -> dict[Path, str]:
    """Every generated file and its text."""
    out: dict[Path, str] = {
        BASE / "config.yaml": dump([telemetry_config(), *(service_config(s) for s in SERVICES)]),
        BASE / "network-policies.yaml": dump(namespace_policies()),
        BASE / "ingress.yaml": dump([ingress()]),
        BASE / "console.yaml": dump(console_objects()),
    }
    for s in SERVICES:
        out[BASE / f"{s.name}.yaml"] = dump(service_objects(s))
    out[LOCAL / "patches.yaml"] = dump(local_patches())
    out[LOCAL / "mailsink.yaml"] = dump(mailsink_objects())
    return out


def main(argv: list[str]) -> int:
    for path, text in files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
