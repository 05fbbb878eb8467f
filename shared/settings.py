"""Base settings every service extends in its own config.py (env prefix = service name)."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "example", "todo", ""}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    database_url: SecretStr
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    http_host: str = "127.0.0.1"
    http_port: int
    public_base_url: str = ""
    log_level: str = "INFO"
    trace_file: Path | None = None
    outbox_poll_seconds: float = 0.5
    consumer_retry_backoff_seconds: float = 1.0
    consumer_group_prefix: str | None = None

    @field_validator("database_url")
    @classmethod
    def _refuse_placeholder_password(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if "://" in url and "@" in url:
            credentials = url.split("://", 1)[1].rsplit("@", 1)[0]
            password = credentials.split(":", 1)[1] if ":" in credentials else ""
            if password.lower() in _PLACEHOLDERS:
                raise ValueError("database_url uses a placeholder password; set a real secret")
        return value

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"


class TopicSettings(BaseSettings):
    """Topic namespace: `hlm360` in every deployment. A test run that starts services in-process
    uses its own namespace (`HLM360_TOPIC_NAMESPACE`), so it never mixes with the running services."""

    model_config = SettingsConfigDict(env_prefix="HLM360_", extra="ignore", frozen=True)

    topic_namespace: str = Field(default="hlm360", pattern=r"^[a-z][a-z0-9-]{0,40}$")
