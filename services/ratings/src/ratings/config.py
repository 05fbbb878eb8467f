"""Settings of the ratings service (env prefix RATINGS_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.questionnaire import BANKS_DIR
from shared.settings import ServiceSettings

DEFAULT_ITEM_BANK = BANKS_DIR / "hlm360-default-1.json"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATINGS_", extra="ignore", frozen=True)

    service_name: str = "ratings"
    http_port: int = 8102
    item_bank_path: Path = DEFAULT_ITEM_BANK
    deadline_check_seconds: float = 5.0
    close_batch_size: int = 50
    # Where a finished self-assessment sends the person: {reports_public_url}/report/self-assessment/{id}/{token}.
    reports_public_url: str = "http://127.0.0.1:8103"
    # Unknown (mistyped or guessed) links per client address and window before the 429 page; counted
    # in the database, so across every instance (docs/adr/0023).
    unknown_link_limit: int = Field(default=20, ge=1)
    unknown_link_window_seconds: float = Field(default=60.0, ge=1)
    # New self-assessments started per client address and window (likewise across instances).
    self_assessment_start_limit: int = Field(default=60, ge=1)
    self_assessment_start_window_seconds: float = Field(default=600.0, ge=1)
    # Unfinished self-assessment drafts are deleted after this many days without a change.
    self_assessment_draft_days: float = 30.0
    draft_cleanup_seconds: float = 3600.0
