"""Settings of the reports service (env prefix REPORTS_)."""

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from reports.domain import check_threshold
from shared.settings import LinkSettings, MailSettings, ServiceSettings


class Settings(ServiceSettings, MailSettings, LinkSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTS_", extra="ignore", frozen=True)

    service_name: str = "reports"
    http_port: int = 8103
    min_group_size: int = 3
    gap_threshold: float = 0.75
    output_dir: Path = Path(".local/reports")
    # Signed download links (shared.links: LINK_SECRET, LINK_SECRETS_PREVIOUS from LinkSettings).
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
