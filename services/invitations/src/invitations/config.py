"""Settings of the invitations service (env prefix INVITATIONS_)."""

from decimal import Decimal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INVITATIONS_", extra="ignore", frozen=True)

    service_name: str = "invitations"
    http_port: int = 8101
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "HLM 360 <no-reply@hlm360.example.nhs.uk>"
    ratings_base_url: str = "http://127.0.0.1:8102"
    link_secret: SecretStr
    mail_batch_size: int = 20
    mail_poll_seconds: float = 0.5
    mail_max_attempts: int = 8
    price_net: Decimal = Decimal("40.00")
    vat_rate: Decimal = Decimal("0.20")
