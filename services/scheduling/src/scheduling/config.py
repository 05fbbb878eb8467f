"""Settings of the scheduling service (env prefix SCHEDULING_)."""

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import LinkSettings, MailSettings, ServiceSettings

# organisation: same organisation name; email_domain: same work email domain; line: the facilitator is in the
# participant's management line (CycleOpened.management_line), is line-managed by the participant, or is them.
ConflictRule = Literal["organisation", "email_domain", "line"]


class Settings(ServiceSettings, MailSettings, LinkSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore", frozen=True)

    service_name: str = "scheduling"
    http_port: int = 8104
    output_dir: Path = Path(".local/sessions")
    timezone: str = "Europe/London"
    # The personal links of participants, facilitators and regional leads are signed with
    # LINK_SECRET (LINK_SECRETS_PREVIOUS still accepted; LinkSettings, shared.links).
    # A participant's booking link expires this many days after its email (docs/adr/0016): long
    # enough to choose a time, attend and reschedule; each email about the booking carries a fresh one.
    booking_link_days: int = Field(default=90, ge=1, le=365)
    # An expired booking link offers "email me a new link" (to the address on record): new links one
    # client address may ask for per hour, and one link may send per day.
    new_links_per_client_per_hour: int = Field(default=10, ge=1, le=1000)
    new_links_per_link_per_day: int = Field(default=3, ge=1, le=50)

    # Booking
    booking_confirmation: Literal["automatic", "facilitator"] = "automatic"
    min_notice_hours: int = 48
    # With facilitator confirmation: a request not confirmed within `confirm_within_hours`, or by
    # `confirm_before_start_hours` before it would start (whichever comes first), lapses: the time is
    # freed and the participant is asked to choose again (job `lapse-unconfirmed`).
    confirm_within_hours: float = Field(default=48.0, gt=0)
    confirm_before_start_hours: float = Field(default=24.0, ge=0)
    lapse_unconfirmed_seconds: float = 300.0
    offer_limit: int = 12
    slot_search_limit: int = 120
    conflict_rules: tuple[ConflictRule, ...] = ("organisation", "email_domain", "line")
    conflict_rules_apply_to_choice: bool = True
    lapsed_keeps_bookings: bool = True
    suspended_keeps_bookings: bool = False
    retry_unscheduled_seconds: float = 60.0
    retry_unscheduled_batch: int = 50
    escalate_after_days: float = 7.0
    # A participant offered times who has not chosen one is reminded once, this many days after the
    # offer (before the lead is told at `escalate_after_days`; job `remind-unbooked`).
    booking_reminder_days: float = Field(default=3.0, gt=0)
    remind_unbooked_seconds: float = 300.0
    escalation_poll_seconds: float = 300.0
    reminder_hours_before: int = 24
    reminder_poll_seconds: float = 300.0
    # A booked session with no outcome recorded: remind the facilitator this many hours after it
    # ends, and tell the regional lead this many days after (job `chase-outcomes`).
    outcome_reminder_hours: float = Field(default=24.0, gt=0)
    outcome_escalate_days: float = Field(default=7.0, gt=0)
    chase_outcomes_seconds: float = 300.0

    # Demo only (ADR 11): job `ensure-availability` keeps the demo facilitators' diaries open
    # (scheduling/demo_seed.py). Off unless the demo environment turns it on (deploy/local/stack.sh).
    seed_availability: bool = False
    availability_days_ahead: int = 90
    availability_local_times: tuple[time, ...] = (time(10, 0), time(14, 0))
    availability_slot_minutes: int = 120
    availability_refresh_seconds: float = 3600.0
    announce_facilitators_seconds: float = 3600.0

    # Email (shared mail outbox, drained by the send-emails job; SMTP settings from MailSettings)
    mail_from: str = "HLM 360 feedback sessions <no-reply@hlm360.example.nhs.uk>"
    # Session emails carry the calendar invitation: keep retrying a temporary failure (at most
    # 10 minutes apart) rather than give up during an SMTP outage.
    mail_max_attempts: int | None = None

    @model_validator(mode="after")
    def _requests_can_be_confirmed(self) -> "Settings":
        needs_confirmation = self.booking_confirmation == "facilitator"
        if needs_confirmation and self.confirm_before_start_hours >= self.min_notice_hours:
            raise ValueError(
                f"confirm_before_start_hours ({self.confirm_before_start_hours:g}) must be less than "
                f"min_notice_hours ({self.min_notice_hours}): otherwise a request for the nearest time lapses at once"
            )
        return self
