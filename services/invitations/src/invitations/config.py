"""Settings of the invitations service (env prefix INVITATIONS_)."""

from decimal import Decimal
from typing import Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from invitations.domain import NHS_EMAIL_DOMAINS
from shared.settings import CommaList, LinkSettings, MailSettings, ServiceSettings, _split_list


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
    # Where raters' email addresses may be ("x": that domain; "*.x": any subdomain of x), env as a
    # comma list. NHS work addresses by default; organisation_email_domains adds an organisation's
    # own (e.g. `leeds.ac.uk,*.leeds.ac.uk`) without repeating the NHS ones.
    rater_email_domains: CommaList = NHS_EMAIL_DOMAINS
    organisation_email_domains: CommaList = ()
    # A rater already asked for more than this many open 360s is flagged to the participant.
    fatigue_threshold: int = 3
    # ... and the participant is told (never who, nor how many) only when at least this many are.
    fatigue_min_people: int = 2
    # A 360 asked for on the public start page or POST /api/cycles contacts nobody until the
    # participant confirms it by an emailed link, valid this many hours (Kafka and cohort imports
    # come from authenticated systems and operators: they start at once).
    confirm_public_requests: bool = True
    # The confirmation link expires with the request (docs/adr/0016).
    confirmation_hours: float = Field(default=48.0, gt=0, le=720)
    purge_poll_seconds: float = 600.0  # how often requests not confirmed in time are forgotten
    # Public routes: 360s one client address may ask for per hour, and that may name one participant
    # (mailbox, domain.mailbox_key) per day, across every instance (docs/adr/0023); beyond either, 429
    # with one generic message.
    public_requests_per_client_per_hour: int = Field(default=30, ge=1)
    public_requests_per_participant_per_day: int = Field(default=5, ge=1)
    # Line manager approves the nomination list before any invitation goes out.
    require_line_manager_approval: bool = False

    # Personal links expire (docs/adr/0016), counted from when their email is sent. The participant's
    # view must outlive the longest 360 (max_deadline_days + max_extension_days) and the report and
    # feedback session after it; the line manager's approval link, the time a decision should take.
    participant_link_days: int = Field(default=120, ge=1, le=730)
    approval_link_days: int = Field(default=14, ge=1, le=90)
    # An expired participant's or approval link offers "email me a new link" (to the address on
    # record): new links one client address may ask for per hour, and one link may send per day.
    new_links_per_client_per_hour: int = Field(default=10, ge=1, le=1000)
    new_links_per_link_per_day: int = Field(default=3, ge=1, le=50)

    # Reminders: days before the deadline; a rater gets each stage at most once, and none sooner
    # than reminder_min_gap_hours after their invitation.
    reminder_days_before: tuple[int, ...] = (7, 2)  # env as JSON, e.g. [7, 2]
    reminder_min_gap_hours: float = 24.0
    reminder_poll_seconds: float = 60.0

    @field_validator("rater_email_domains", "organisation_email_domains", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("rater_email_domains", "organisation_email_domains")
    @classmethod
    def _domain_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        patterns = tuple(d.strip().casefold().lstrip("@") for d in value if d.strip())
        for pattern in patterns:
            name = pattern.removeprefix("*.")
            if "*" in name or "@" in name or "." not in name.strip("."):
                raise ValueError("a rater email domain is a domain such as nhs.net, or *.nhs.uk for its subdomains")
        return patterns

    @model_validator(mode="after")
    def _some_rater_domain(self) -> Self:
        if not self.allowed_rater_domains():
            raise ValueError("set rater_email_domains or organisation_email_domains: raters need somewhere to be")
        return self

    @model_validator(mode="after")
    def _participant_link_outlives_a_360(self) -> Self:
        longest = self.max_deadline_days + self.max_extension_days
        if self.participant_link_days < longest:
            raise ValueError(
                f"participant_link_days ({self.participant_link_days}) must be at least max_deadline_days + "
                f"max_extension_days ({longest}): the participant's link must outlive their 360"
            )
        return self

    def allowed_rater_domains(self) -> tuple[str, ...]:
        return (*self.rater_email_domains, *self.organisation_email_domains)
