"""Settings of the reports service (env prefix REPORTS_)."""

from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from reports.domain import check_threshold
from shared.settings import MailSettings, ServiceSettings


class Settings(ServiceSettings, MailSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTS_", extra="ignore", frozen=True)

    service_name: str = "reports"
    http_port: int = 8103
    min_group_size: int = 3
    gap_threshold: float = 0.75
    output_dir: Path = Path(".local/reports")
    # Signed download links (HMAC-SHA256); no default: each deployment sets its own secret.
    link_secret: SecretStr
    facilitator_link_days_after_session: int = 7
    participant_link_days: int = 28
    cohort_link_days: int = 28
    # How often the self-assessment "being prepared" page checks (in the background) whether the report is ready.
    self_assessment_refresh_seconds: int = 3

    @field_validator("min_group_size")
    @classmethod
    def _refuse_unsafe_group_size(cls, value: int) -> int:
        check_threshold(value)
        return value

    @field_validator("gap_threshold")
    @classmethod
    def _positive_gap(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("gap_threshold must be positive")
        return value

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("link_secret must be at least 32 characters")
        return value
