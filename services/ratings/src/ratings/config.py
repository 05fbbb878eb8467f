"""Settings of the ratings service (env prefix RATINGS_)."""

from pathlib import Path

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
