"""Base settings every service extends in its own config.py (env prefix = service name)."""

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.links import SigningKeys

# This machine: the only place a plain (unencrypted) connection or a test issuer over http is accepted.
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MIN_LINK_SECRET = 32
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "example", "todo", ""}
# Signature algorithms an operator may allow for staff access tokens: public-key ones only, so a
# token can never be checked with the issuer's public key used as an HMAC secret, nor go unsigned.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

# A list setting given in the environment as `A,B` (or as JSON, `["A", "B"]`).
CommaList = Annotated[tuple[str, ...], NoDecode]


def secure_url(url: str) -> bool:
    """https, or plain http to this machine only (a test's issuer)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return tuple(json.loads(text))
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return value


class KafkaClientSettings(BaseSettings):
    """How a client proves who it is to Kafka (docs/adr, "trust model"): SASL with one principal per
    service (SCRAM-SHA-512), TLS when `kafka_tls`. Mixed into ServiceSettings (the service's env
    prefix: `INVITATIONS_KAFKA_USERNAME`, ...) and AdminSettings (`HLM360_`). No username: an
    unauthenticated client, which the local and deployed brokers refuse."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    kafka_tls: bool = False
    kafka_ca_file: Path | None = None

    @model_validator(mode="after")
    def _credentials_together(self) -> Self:
        if (self.kafka_username is None) != (self.kafka_password is None):
            raise ValueError("set kafka_username and kafka_password together")
        if self.kafka_sasl_mechanism == "PLAIN" and self.kafka_username and not self.kafka_tls:
            hosts = {address.rsplit(":", 1)[0] for address in self.kafka_bootstrap_servers.split(",")}
            if not hosts <= _LOOPBACK_HOSTS:
                raise ValueError("SASL PLAIN sends the password itself: only over TLS (kafka_tls) off this machine")
        return self


class WebSettings(BaseSettings):
    """An HTTP app's address and its operators' sign-in (shared.web.admin, docs/adr/0013): every
    service, and the operator console, which has no database of its own."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    http_host: str = "127.0.0.1"
    http_port: int
    public_base_url: str = ""
    # Addresses whose X-Forwarded-For/-Proto are believed (the front door's, docs/adr/0024); from any
    # other client they are ignored, so nobody can pick the address the per-client limits count.
    forwarded_allow_ips: CommaList = ()
    # The operators' JSON API (shared.web.admin, docs/adr/0013): staff access tokens from an OIDC
    # issuer (NHS CIS2 or any other), and/or the static admin token for local use. Off when neither.
    admin_token: SecretStr | None = None
    # The static token is accepted only where this allows it: by default when the public base URL
    # is not https (a developer's machine); a deployment on https must say `true` to keep it.
    admin_token_allowed: bool | None = None
    # OIDC (shared.web.oidc): on when an issuer is set. The keys come from oidc_jwks_url, else from
    # the issuer's /.well-known/openid-configuration. The role claim is a dotted path through objects
    # and lists (CIS2: `nhsid_nrbac_roles.activity_codes`), and one of oidc_roles must be among its values.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_algorithms: CommaList = ("RS256", "ES256")
    oidc_role_claim: str = Field(default="roles", pattern=r"^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*$")
    oidc_roles: CommaList = ("hlm360-operator",)
    oidc_leeway_seconds: float = Field(default=60.0, ge=0, le=300)
    oidc_max_token_bytes: int = Field(default=16 * 1024, ge=1024, le=64 * 1024)
    # Keys are kept this long; a token signed by a key not among them refetches them, at most once
    # per oidc_jwks_refetch_seconds (a flood of made-up key ids cannot hammer the issuer).
    oidc_jwks_cache_seconds: float = Field(default=3600.0, gt=0)
    oidc_jwks_refetch_seconds: float = Field(default=60.0, ge=0)
    oidc_http_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Largest HTTP request body accepted (shared.web.limits); no route takes file uploads.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=0)

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _hops(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("oidc_algorithms", "oidc_roles", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("oidc_algorithms")
    @classmethod
    def _public_key_algorithms_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if refused or not value:
            raise ValueError(f"oidc_algorithms takes public-key algorithms only, not {refused or 'nothing'}")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Self:
        if not self.oidc_issuer:
            return self
        if not self.oidc_audience:
            raise ValueError("oidc_audience is required with oidc_issuer")
        if not self.oidc_roles:
            raise ValueError("oidc_roles must name at least one role")
        for url in (self.oidc_issuer, self.oidc_jwks_url):
            if url and not secure_url(url):
                raise ValueError("the OIDC issuer and JWKS URLs must be https (http only on this machine)")
        return self

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.http_host}:{self.http_port}"

    def server_options(self) -> dict[str, Any]:
        """uvicorn's address and proxy options (uvicorn would otherwise trust 127.0.0.1 or
        $FORWARDED_ALLOW_IPS by default)."""
        return {
            "host": self.http_host,
            "port": self.http_port,
            "proxy_headers": bool(self.forwarded_allow_ips),
            "forwarded_allow_ips": list(self.forwarded_allow_ips),
        }

    @property
    def on_https(self) -> bool:
        return self.base_url.lower().startswith("https://")


class ServiceSettings(KafkaClientSettings, WebSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    database_url: SecretStr
    log_level: str = "INFO"
    # Traces (ADR 17): the standard OpenTelemetry variable, read without the service's prefix. Unset,
    # no span leaves the process.
    otlp_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("otel_exporter_otlp_endpoint", "otlp_endpoint")
    )
    outbox_poll_seconds: float = 0.5
    consumer_group_prefix: str | None = None
    # Consumers (docs/adr/0009): limits checked on the raw bytes before any JSON parser runs; an
    # error is retried after 0.2 s, 0.4 s, ... (at most the max apart) and dead-lettered at the
    # max_attempts-th failure; an outage (database or Kafka unreachable) pauses the message up to
    # outage_pause_max_seconds at a time and never dead-letters it. A message that keeps failing
    # is logged once with its traceback, then at most once per failure_log_interval.
    consumer_max_message_bytes: int = Field(default=512 * 1024, ge=1024)
    consumer_max_json_depth: int = Field(default=32, ge=4, le=200)
    consumer_retry_backoff_seconds: float = Field(default=0.2, gt=0)
    consumer_retry_backoff_max_seconds: float = Field(default=5.0, gt=0)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_outage_pause_max_seconds: float = Field(default=30.0, gt=0, le=240)
    consumer_failure_log_interval_seconds: float = Field(default=60.0, gt=0)
    # What this instance runs besides HTTP. Operators may split a service into web-only replicas
    # (RUN_CONSUMERS=false, RUN_JOBS=false) and workers: Kafka spreads partitions over the instances
    # that consume, jobs lock what they work on, and one instance at a time relays the outbox.
    run_consumers: bool = True
    run_jobs: bool = True
    run_outbox_relay: bool = True
    # How often an instance that runs consumers samples its groups' lag (hlm360_consumer_lag); 0: never.
    consumer_lag_poll_seconds: float = Field(default=30.0, ge=0)

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


class TopicSettings(BaseSettings):
    """Topic namespace: `hlm360` in every deployment. A test run that starts services in-process
    uses its own namespace (`HLM360_TOPIC_NAMESPACE`), so it never mixes with the running services."""

    model_config = SettingsConfigDict(env_prefix="HLM360_", extra="ignore", frozen=True)

    topic_namespace: str = Field(default="hlm360", pattern=r"^[a-z][a-z0-9-]{0,40}$")


class AdminSettings(KafkaClientSettings):
    """What `python -m shared.cli` (the operator commands no single service owns) connects to, as
    the operators' principal (`HLM360_KAFKA_USERNAME`, ...)."""

    model_config = SettingsConfigDict(env_prefix="HLM360_", extra="ignore", frozen=True)


class MailSettings(BaseSettings):
    """SMTP and mail outbox settings, mixed into the Settings of each service that sends email
    (`class Settings(ServiceSettings, MailSettings)`), so they take that service's env prefix."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # How the connection is protected: `starttls` (upgrade on the submission port, usually 587),
    # `tls` (implicit TLS, usually 465) or `none`. `auto` is `none` for a relay on this machine
    # (the local sink) and `starttls` for any other host, so mail never crosses a network in clear.
    smtp_security: Literal["auto", "none", "starttls", "tls"] = "auto"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # A PEM bundle of the CAs the relay's certificate is checked against (default: the system's).
    smtp_ca_file: Path | None = None
    mail_from: str = "HLM 360 <no-reply@hlm360.example.nhs.uk>"
    # The send-emails job: how often it looks for due emails, and how many it sends per look.
    mail_poll_seconds: float = Field(default=0.5, gt=0)
    mail_batch_size: int = Field(default=20, ge=1)
    # Temporary failures are retried with exponential backoff (2 s, 4 s, ... at most 10 min apart)
    # until this many attempts; None retries for ever. A permanent (5xx) refusal is never retried.
    mail_max_attempts: int | None = Field(default=8, ge=1)

    @property
    def smtp_tls(self) -> Literal["none", "starttls", "tls"]:
        """The protection in force (`auto` resolved by the host)."""
        if self.smtp_security != "auto":
            return self.smtp_security
        return "none" if self.smtp_host in _LOOPBACK_HOSTS else "starttls"

    @model_validator(mode="after")
    def _no_login_in_clear(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set smtp_username and smtp_password together")
        if self.smtp_username is not None and self.smtp_tls == "none":
            raise ValueError("an SMTP login needs smtp_security starttls or tls: a password is never sent in clear")
        return self


class LinkSettings(BaseSettings):
    """The secrets of a service's signed links (shared.links), mixed into the Settings of each
    service that signs links (`class Settings(ServiceSettings, LinkSettings)`), so they take that
    service's env prefix: `LINK_SECRET` signs new links; `LINK_SECRETS_PREVIOUS` (a JSON list) are
    still accepted, for rotation (docs/adr/0012). No defaults: each deployment sets its own."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    link_secret: SecretStr
    link_secrets_previous: tuple[SecretStr, ...] = ()

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_LINK_SECRET:
            raise ValueError(f"link_secret must be at least {MIN_LINK_SECRET} characters")
        return value

    @field_validator("link_secrets_previous")
    @classmethod
    def _long_previous_secrets(cls, values: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(value.get_secret_value()) < MIN_LINK_SECRET for value in values):
            raise ValueError(f"each of link_secrets_previous must be at least {MIN_LINK_SECRET} characters")
        return values

    def signing_keys(self) -> SigningKeys:
        return SigningKeys(
            current=self.link_secret.get_secret_value().encode(),
            previous=tuple(secret.get_secret_value().encode() for secret in self.link_secrets_previous),
        )
