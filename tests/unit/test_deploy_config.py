"""docker-compose.yml cannot be run on these machines (no container engine), so it is checked
against what can: every setting the native runner gives a service (deploy/local/stack.sh) and
every setting without a default is given to it in compose too, pointing at compose's own hosts."""

import importlib
import re
import subprocess

import pytest
import yaml

from tests.config import REPO

SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations")
# the local stack is the demo environment (ADR 11): compose never seeds, and keeps the public
# start's rate limits
DEMO_ONLY = {
    "SEED_AVAILABILITY",
    "PUBLIC_REQUESTS_PER_CLIENT_PER_HOUR",
    "PUBLIC_REQUESTS_PER_PARTICIPANT_PER_DAY",
}


def compose_environment(service: str) -> dict[str, str]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return {key: str(value) for key, value in compose["services"][service]["environment"].items()}


def native_settings(service: str) -> set[str]:
    script = (REPO / "deploy" / "local" / "stack.sh").read_text()
    prefix = f"{service.upper()}_"
    written = {name.removeprefix(prefix) for name in re.findall(r'echo "([A-Z_]+)=', script) if name.startswith(prefix)}
    per_service = {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}  # written in a loop over the services
    return (written | per_service) - DEMO_ONLY


@pytest.mark.parametrize("service", SERVICES)
def test_compose_gives_each_service_what_the_native_runner_does(service: str) -> None:
    config = importlib.import_module(f"{service}.config")
    required = {name.upper() for name, field in config.Settings.model_fields.items() if field.is_required()}
    environment = compose_environment(service)
    given = {key.removeprefix(f"{service.upper()}_") for key in environment}
    assert required <= given, f"{service}: settings without a default missing from compose"
    assert native_settings(service) <= given, f"{service}: compose lacks what deploy/local/stack.sh sets"
    assert not DEMO_ONLY & given, f"{service}: compose is not a demo environment"
    for key, value in environment.items():
        assert "127.0.0.1" not in value, f"{key}: containers reach each other by service name"
        if key.endswith(("SECRET", "TOKEN")):
            assert value.startswith("${") and ":?" in value, f"{key}: secrets come from the environment, no default"
    if "SMTP_HOST" in native_settings(service):
        assert environment[f"{service.upper()}_SMTP_HOST"] == "mailsink"
    if "OUTPUT_DIR" in native_settings(service):
        assert environment[f"{service.upper()}_OUTPUT_DIR"].startswith("/var/lib/hlm360/"), "on the image's volume"


def operator_settings() -> set[str]:
    """What deploy/local/stack.sh writes to .local/operator.env, which services.sh gives the console."""
    script = (REPO / "deploy" / "local" / "stack.sh").read_text()
    body = script[script.index("write_operator_env() {") :]
    body = body[: body.index("\n}")]
    return set(re.findall(r'echo "([A-Z0-9_]+)=', body))


def test_compose_gives_the_console_what_the_native_runner_does() -> None:
    """services.sh starts the console with operator.env (minus other systems' login) and .local/env."""
    from console.config import ConsoleSettings, Settings

    environment = compose_environment("console")
    native = operator_settings() - {"HLM360_KAFKA_EXTERNAL_USERNAME", "HLM360_KAFKA_EXTERNAL_PASSWORD"}
    assert {"CONSOLE_SESSION_SECRET", "CONSOLE_ADMIN_TOKEN", "HLM360_KAFKA_PASSWORD"} <= native
    assert native <= set(environment), "compose lacks what deploy/local/stack.sh gives the console"
    for settings, prefix in ((ConsoleSettings, "CONSOLE_"), (Settings, "HLM360_")):
        required = {f"{prefix}{name.upper()}" for name, field in settings.model_fields.items() if field.is_required()}
        assert required <= set(environment), f"{settings.__name__}: settings without a default missing from compose"
    assert not {key for key in environment if "EXTERNAL" in key}, "the console never holds other systems' login"
    assert environment["HLM360_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert environment["CONSOLE_PROMETHEUS_URL"] == "http://prometheus:9090"
    assert environment["CONSOLE_HTTP_PORT"] == "8105"
    for key, value in environment.items():
        if key.endswith(("SECRET", "TOKEN", "PASSWORD")):
            assert value.startswith("${") and ":?" in value, f"{key}: secrets come from the environment, no default"


def test_compose_grants_kafka_access_from_the_contract_table() -> None:
    """docker-compose's kafka-access job runs a script generated from shared/contracts/channels.py."""
    from deploy.local.kafka_access import COMPOSE_SCRIPT, compose_script

    assert COMPOSE_SCRIPT.read_text(encoding="utf-8") == compose_script(), (
        "deploy/compose/kafka-access.sh is out of date: run `python -m deploy.local.kafka_access --compose`"
    )
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    job = compose["services"]["kafka-access"]
    assert "./deploy/compose/kafka-access.sh:/kafka-access.sh:ro" in job["volumes"]
    assert "User:external --operation Write --resource-pattern-type literal --topic hlm360.cycle-requested.v1\n" in (
        compose_script()
    )


def test_compose_services_log_in_to_kafka_and_postgres_as_themselves() -> None:
    for service in SERVICES:
        environment = compose_environment(service)
        prefix = service.upper()
        assert environment[f"{prefix}_KAFKA_USERNAME"] == service
        assert f"//hlm360_{service}:" in environment[f"{prefix}_DATABASE_URL"]


def test_compose_services_send_their_traces_to_compose_jaeger_as_the_native_runner_does() -> None:
    """deploy/local/stack.sh writes what `jaeger.sh env` prints into every service's environment."""
    printed = subprocess.run(
        ["bash", str(REPO / "deploy" / "local" / "jaeger.sh"), "env"], capture_output=True, text=True, check=True
    ).stdout
    otel = dict(line.split("=", 1) for line in printed.splitlines() if line.startswith("OTEL_"))
    assert otel["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for service in (*SERVICES, "console"):
        environment = compose_environment(service)
        assert set(otel) <= set(environment), f"{service}: compose lacks the OTEL_* settings"
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    jaeger = compose["services"]["jaeger"]
    assert "./deploy/local/jaeger/config.yaml:/etc/jaeger/config.yaml:ro" in jaeger["volumes"]
    assert jaeger["image"] == "jaegertracing/jaeger:2.13.0", "the v2 release of the pinned v1.76.0"
    assert 'jaeger.sh" env' in (REPO / "deploy" / "local" / "stack.sh").read_text()


def test_the_repository_never_tracks_the_local_stack() -> None:
    """`.local/` holds the stack's data and secrets; a tracked `.local` (even a link) would replace
    it on checkout. Ignored whether a directory or a link (`/.local`)."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files", ".local"], cwd=REPO, capture_output=True, text=True, check=True)
    assert tracked.stdout == ""
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", ".local"], cwd=REPO, check=False)
    assert ignored.returncode == 0, ".local must be ignored as a file or a directory"
