"""Settings of the scheduling service (env prefix SCHEDULING_)."""

from datetime import time
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore", frozen=True)

    service_name: str = "scheduling"
    http_port: int = 8104
    output_dir: Path = Path(".local/sessions")
    timezone: str = "Europe/London"
    min_notice_hours: int = 48
    max_booking_attempts: int = 20
    slot_search_limit: int = 120
    seed_availability: bool = True
    availability_days_ahead: int = 56
    availability_local_times: tuple[time, ...] = (time(10, 0), time(14, 0))
    availability_slot_minutes: int = 120
    availability_refresh_seconds: float = 3600.0
    retry_unscheduled_seconds: float = 60.0
    retry_unscheduled_batch: int = 50
