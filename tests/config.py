"""Where the tests find the local stack: the env file written by `deploy/local/stack.sh up`."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging import client_options
from shared.settings import KafkaClientSettings

REPO = Path(__file__).resolve().parents[1]
# The checkout whose local stack this is: a git worktree shares the main checkout's .local (a
# symlink), and the stack is driven by that checkout's scripts (its front door's pid file and its
# services' interpreter are named by that checkout's paths).
STACK_REPO = (REPO / ".local").resolve().parent
ENV_FILE = REPO / ".local" / "env"
OPERATOR_ENV_FILE = REPO / ".local" / "operator.env"
SERVICE_PREFIXES = ("", "INVITATIONS_", "RATINGS_", "REPORTS_", "SCHEDULING_", "OBSERVATIONS_")


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=(ENV_FILE, OPERATOR_ENV_FILE), extra="ignore")

    hlm360_kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # The operators' login (the broker's super user) and other NHS systems' (deploy/local/stack.sh
    # writes them to .local/operator.env, never to the services' .local/env)
    hlm360_kafka_username: str = "admin"
    hlm360_kafka_password: SecretStr
    hlm360_kafka_external_username: str = "external"
    hlm360_kafka_external_password: SecretStr
    hlm360_mail_dir: Path = REPO / ".local" / "mail"
    hlm360_local_dir: Path = REPO / ".local"
    # deploy/local/jaeger.sh: where services send spans, and the UI with its HTTP API (ADR 17)
    otel_exporter_otlp_endpoint: str = "http://127.0.0.1:4318"
    hlm360_jaeger_url: str = "http://127.0.0.1:16686"
    test_database_url: SecretStr
    invitations_database_url: SecretStr
    ratings_database_url: SecretStr
    reports_database_url: SecretStr
    scheduling_database_url: SecretStr
    observations_database_url: SecretStr
    invitations_url: str = "http://127.0.0.1:8101"
    ratings_url: str = "http://127.0.0.1:8102"
    reports_url: str = "http://127.0.0.1:8103"
    scheduling_url: str = "http://127.0.0.1:8104"
    observations_url: str = "http://127.0.0.1:8106"
    # deploy/local/frontdoor.sh: the one origin people use (the links in emails point there)
    hlm360_frontdoor_url: str = "https://localhost:8443"
    # deploy/local/stack.sh always writes them: the operators' API of the running services
    invitations_admin_token: SecretStr
    ratings_admin_token: SecretStr
    reports_admin_token: SecretStr
    scheduling_admin_token: SecretStr

    def admin_headers(self, service: str) -> dict[str, str]:
        token: SecretStr = getattr(self, f"{service}_admin_token")
        return {"Authorization": f"Bearer {token.get_secret_value()}"}


def kafka_access(principal: str = "operator", bootstrap: str | None = None) -> KafkaClientSettings:
    """The Kafka login of `principal`: `operator` (super user), `external` (other NHS systems) or
    a service's own (from .local/env)."""
    stack = load()
    bootstrap = bootstrap or stack.hlm360_kafka_bootstrap_servers
    if principal == "operator":
        user, password, mechanism = stack.hlm360_kafka_username, stack.hlm360_kafka_password, "SCRAM-SHA-512"
    elif principal == "external":
        user, password, mechanism = (
            stack.hlm360_kafka_external_username,
            stack.hlm360_kafka_external_password,
            "SCRAM-SHA-512",
        )
    else:
        values = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
        prefix = principal.upper()
        user, password = values[f"{prefix}_KAFKA_USERNAME"], SecretStr(values[f"{prefix}_KAFKA_PASSWORD"])
        mechanism = "SCRAM-SHA-512"
    return KafkaClientSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_username=user,
        kafka_password=password,
        kafka_sasl_mechanism=mechanism,  # type: ignore[arg-type]
    )


def kafka_options(bootstrap: str | None = None, *, principal: str = "operator") -> dict[str, Any]:
    """Keyword arguments for an aiokafka client logged in as `principal` (default: the operators')."""
    return client_options(kafka_access(principal, bootstrap))


def use_operator_kafka_login() -> None:
    """Services started in-process by the integration and fuzz tiers use topics in a private
    namespace (HLM360_TOPIC_NAMESPACE), which no service principal may touch: they log in as the
    operators. The e2e tier runs the real services with their own logins and access rules."""
    stack = load()
    for prefix in SERVICE_PREFIXES:
        os.environ[f"{prefix}KAFKA_USERNAME"] = stack.hlm360_kafka_username
        os.environ[f"{prefix}KAFKA_PASSWORD"] = stack.hlm360_kafka_password.get_secret_value()
        os.environ[f"{prefix}KAFKA_SASL_MECHANISM"] = "SCRAM-SHA-512"


def load() -> StackSettings:
    if not ENV_FILE.exists():
        raise RuntimeError(f"{ENV_FILE} is missing: run `make stack` (make test does it for you)")
    return StackSettings()  # type: ignore[call-arg]


def services_with_demo_data() -> StackSettings:
    """The four services running (deploy/local/services.sh, idempotent) with the demo's people
    (`python -m scheduling seed-demo`, idempotent, as `make up` runs it): the e2e and browser tiers
    start from here, so they also run by themselves after `make stack`."""
    subprocess.run(["bash", str(STACK_REPO / "deploy/local/services.sh"), "up"], cwd=STACK_REPO, check=True)
    settings = load()
    stack = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    subprocess.run([sys.executable, "-m", "scheduling", "seed-demo"], cwd=REPO, env={**os.environ, **stack}, check=True)
    return settings
