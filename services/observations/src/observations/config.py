"""Settings of the observations service (env prefix OBSERVATIONS_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.questionnaire import BANKS_DIR
from shared.settings import LinkSettings, MailSettings, ServiceSettings

DEFAULT_ITEM_BANK = BANKS_DIR / "hlm360-default-1.json"


class Settings(ServiceSettings, MailSettings, LinkSettings):
    model_config = SettingsConfigDict(env_prefix="OBSERVATIONS_", extra="ignore", frozen=True)

    service_name: str = "observations"
    http_port: int = 8106
    # The dimension and level wording comes from the 360's item bank, so both say the same.
    item_bank_path: Path = DEFAULT_ITEM_BANK
    mail_from: str = "HLM Observations <no-reply@hlm360.example.nhs.uk>"
    # A one-time sign-in link works once, for this long after it is asked for.
    sign_in_link_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # A signed-in browser stays signed in this long (the cookie expires with it).
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # Sign-in links one client address may ask for per hour (beyond: 429), and one mailbox may be
    # sent per hour (beyond: the same answer, nothing sent, so nobody's inbox can be flooded);
    # counted in the database across every instance (docs/adr/0023).
    sign_in_requests_per_client_per_hour: int = Field(default=20, ge=1)
    sign_in_emails_per_mailbox_per_hour: int = Field(default=5, ge=1)
    # Unknown (mistyped or guessed) sign-in links per client address and minute before the 429 page.
    unknown_links_per_client_per_minute: int = Field(default=20, ge=1)
    # Sign-in links past their expiry are deleted by this job.
    purge_links_seconds: float = 600.0
