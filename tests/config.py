"""Where the tests find the local stack: the env file written by `deploy/local/stack.sh up`."""

import os
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[1]
ENV_FILE = REPO / ".local" / "env"


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    hlm360_kafka_bootstrap_servers: str = "127.0.0.1:19092"
    hlm360_mail_dir: Path = REPO / ".local" / "mail"
    hlm360_local_dir: Path = REPO / ".local"
    test_database_url: SecretStr
    invitations_database_url: SecretStr
    ratings_database_url: SecretStr
    reports_database_url: SecretStr
    scheduling_database_url: SecretStr
    invitations_url: str = "http://127.0.0.1:8101"
    ratings_url: str = "http://127.0.0.1:8102"
    reports_url: str = "http://127.0.0.1:8103"
    scheduling_url: str = "http://127.0.0.1:8104"
    # deploy/local/stack.sh always writes them: the operators' API of the running services
    invitations_admin_token: SecretStr
    ratings_admin_token: SecretStr
    reports_admin_token: SecretStr
    scheduling_admin_token: SecretStr

    def admin_headers(self, service: str) -> dict[str, str]:
        token: SecretStr = getattr(self, f"{service}_admin_token")
        return {"Authorization": f"Bearer {token.get_secret_value()}"}


def load() -> StackSettings:
    if not ENV_FILE.exists():
        raise RuntimeError(f"{ENV_FILE} is missing: run `make stack` (make test does it for you)")
    return StackSettings()  # type: ignore[call-arg]


def services_with_demo_data() -> StackSettings:
    """The four services running (deploy/local/services.sh, idempotent) with the demo's people
    (`python -m scheduling seed-demo`, idempotent, as `make up` runs it): the e2e and browser tiers
    start from here, so they also run by themselves after `make stack`."""
    subprocess.run(["bash", str(REPO / "deploy/local/services.sh"), "up"], check=True)
    settings = load()
    stack = dict(line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    subprocess.run([sys.executable, "-m", "scheduling", "seed-demo"], cwd=REPO, env={**os.environ, **stack}, check=True)
    return settings
