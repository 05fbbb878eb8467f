"""Settings of the invitations service (env prefix INVITATIONS_)."""

from decimal import Decimal

from pydantic_settings import SettingsConfigDict

from shared.settings import LinkSettings, MailSettings, ServiceSettings


class Settings(ServiceSettings, MailSettings, LinkSettings):
    model_config = SettingsConfigDict(env_prefix="INVITATIONS_", extra="ignore", frozen=True)

    service_name: str = "invitations"
    http_port: int = 8101
    ratings_base_url: str = "http://127.0.0.1:8102"

    # Funding: one 360 costs price_net + VAT (exact decimals); one programme credit pays for one 360.
    price_net: Decimal = Decimal("40.00")
    vat_rate: Decimal = Decimal("0.20")

    # Nominations (the participant is added as 'self' automatically).
    min_peers: int = 3
    min_direct_reports: int = 3
    recommended_raters: int = 10
    max_raters: int = 50
    min_deadline_hours: int = 24
    max_deadline_days: int = 90
    max_extension_days: int = 28
    # A rater already asked for more than this many open 360s is flagged to the participant.
    fatigue_threshold: int = 3
    # Line manager approves the nomination list before any invitation goes out.
    require_line_manager_approval: bool = False

    # Reminders: days before the deadline; a rater gets each stage at most once, and none sooner
    # than reminder_min_gap_hours after their invitation.
    reminder_days_before: tuple[int, ...] = (7, 2)  # env as JSON, e.g. [7, 2]
    reminder_min_gap_hours: float = 24.0
    reminder_poll_seconds: float = 60.0
