"""Tables of the scheduling service (PostgreSQL schema `scheduling`).

Alembic owns the schema (migrations/versions); these classes mirror it for queries. The
constraints that make double booking impossible live in the database (see 0001_initial).
"""

from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, LargeBinary, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from scheduling import domain
from shared.mail_outbox import OutgoingEmailBase
from shared.telemetry import ATTR_CYCLE_ID

SCHEMA = "scheduling"


class Facilitator(SQLModel, table=True):
    """An accredited (or formerly accredited) facilitator. Name and email are personal data."""

    __tablename__ = "facilitator"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    name: str
    email: str
    region: str
    organisation: str
    status: str = domain.FacilitatorStatus.ACTIVE.value
    elearning_passed_on: date | None = Field(default=None, sa_column=Column(Date))
    elearning_score: int | None = None
    course_completed_on: date | None = Field(default=None, sa_column=Column(Date))
    monthly_capacity: int = 8
    languages: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String), nullable=False))
    phone: str | None = None
    timezone: str = "Europe/London"
    registered_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    announced_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Only to avoid conflicts of interest (a participant is never matched with a facilitator they manage).
    line_manager_email: str | None = None
    # Signed into their personal link (domain.link_signature); renewing the link raises it.
    link_version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))

    def rules_view(self) -> domain.Facilitator:
        return domain.Facilitator(
            id=self.id,
            region=self.region,
            organisation=self.organisation,
            status=domain.FacilitatorStatus(self.status),
            elearning_score=self.elearning_score,
            course_completed_on=self.course_completed_on,
            monthly_capacity=self.monthly_capacity,
            email_domain=domain.email_domain(self.email),
            languages=tuple(self.languages),
            email=self.email,
            line_manager_email=self.line_manager_email,
        )


class Slot(SQLModel, table=True):
    __tablename__ = "slot"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    facilitator_id: UUID = Field(foreign_key=f"{SCHEMA}.facilitator.id")
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    mode: str = "virtual"
    location: str | None = None


class FeedbackSession(SQLModel, table=True):
    """A feedback conversation: one live per cycle and per slot, never overlapping for a facilitator."""

    __tablename__ = "session"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID
    report_id: UUID
    facilitator_id: UUID = Field(foreign_key=f"{SCHEMA}.facilitator.id")
    slot_id: UUID = Field(foreign_key=f"{SCHEMA}.slot.id")
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    mode: str
    status: str = domain.SessionStatus.BOOKED.value
    ics_path: str
    sequence: int = 0
    location: str | None = None
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    outcome_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    cancelled_by: str | None = None
    reminder_sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # A booked session whose outcome is not recorded after it ends: the facilitator is reminded, then
    # the regional lead told (the participant's report stays held until the outcome). Migration 0011.
    outcome_reminder_sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    outcome_escalated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))


def _now() -> datetime:
    return datetime.now(UTC)


def _tz_column(*, nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable, server_default=None if nullable else func.now())


class Participant(SQLModel, table=True):
    """The participant of a cycle, from CycleOpened: contact details for booking emails, and what matching
    needs (management line for conflicts of interest, never shown or logged; preferred session language).

    The management line is the union of the lines received from CycleOpened and ManagementLineChanged
    (a cycle's line only grows; `management_line_as_of` is the newest stamp among the events that added
    someone). A ManagementLineChanged that arrives first leaves a row with only the line (no name or
    email: the participant is not known yet) for the CycleOpened to complete.
    """

    __tablename__ = "participant"
    __table_args__ = {"schema": SCHEMA}

    cycle_id: UUID = Field(primary_key=True)
    participant_id: str | None = None
    name: str | None = None
    email: str | None = None
    organisation: str | None = None
    region: str | None = None
    facilitator_id: UUID | None = None
    management_line: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String), nullable=False, server_default="{}")
    )
    management_line_as_of: datetime | None = Field(default=None, sa_column=_tz_column())
    preferred_language: str | None = Field(default=None, sa_column=Column(Text))


class BookingRequest(SQLModel, table=True):
    """A finished report whose participant is invited to choose a feedback session time.

    While nothing can be offered, `unscheduled_reason` says why: the cycle is on the attention list
    (`GET /api/unscheduled`, the lead's page) and the retry job tries again. Offering or booking clears it.
    A booked cycle is put back on the list while its session still to come is with a facilitator now in
    the participant's management line (usecases.BOOKED_ACROSS_THE_LINE).
    """

    __tablename__ = "booking_request"
    __table_args__ = {"schema": SCHEMA}

    cycle_id: UUID = Field(primary_key=True)
    report_id: UUID
    participant_id: str
    organisation: str
    region: str
    chosen_facilitator_id: UUID | None = None
    correlation_id: UUID | None = None
    created_at: datetime = Field(default_factory=_now, sa_column=_tz_column(nullable=False))
    offered_at: datetime | None = Field(default=None, sa_column=_tz_column())
    escalated_at: datetime | None = Field(default=None, sa_column=_tz_column())
    # The participant was reminded to choose a time (once; migration 0012).
    booking_reminder_sent_at: datetime | None = Field(default=None, sa_column=_tz_column())
    unscheduled_reason: str | None = Field(default=None, sa_column=Column(Text))
    offer_attempts: int = 0  # attempts to offer that found nothing to offer
    last_offer_attempt_at: datetime | None = Field(default=None, sa_column=_tz_column())


class RegionalLead(SQLModel, table=True):
    __tablename__ = "regional_lead"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    region: str
    name: str
    email: str
    link_version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))


class OutgoingEmail(OutgoingEmailBase, table=True):
    """Mail outbox (shared.mail_outbox): rendered with the state change, sent by the send-emails job."""

    __tablename__ = "outgoing_email"
    __table_args__ = {"schema": SCHEMA}

    cycle_id: UUID | None = None
    to_address: str
    subject: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    ics: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    ics_method: str | None = None

    def trace_attributes(self) -> dict[str, str]:
        attributes = super().trace_attributes()
        if self.cycle_id is not None:
            attributes[ATTR_CYCLE_ID] = str(self.cycle_id)
        return attributes


class Callout(SQLModel, table=True):
    """A regional lead's call for facilitators to volunteer for a cohort peak."""

    __tablename__ = "callout"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    lead_id: UUID = Field(foreign_key=f"{SCHEMA}.regional_lead.id")
    region: str
    title: str
    details: str = Field(sa_column=Column(Text, nullable=False))
    mode: str
    period_start: date = Field(sa_column=Column(Date, nullable=False))
    period_end: date = Field(sa_column=Column(Date, nullable=False))
    participants: int
    register_by: date = Field(sa_column=Column(Date, nullable=False))
    created_at: datetime = Field(default_factory=_now, sa_column=_tz_column(nullable=False))


class CalloutVolunteer(SQLModel, table=True):
    __tablename__ = "callout_volunteer"
    __table_args__ = {"schema": SCHEMA}

    callout_id: UUID = Field(primary_key=True, foreign_key=f"{SCHEMA}.callout.id")
    facilitator_id: UUID = Field(primary_key=True, foreign_key=f"{SCHEMA}.facilitator.id")
    sessions_offered: int
    volunteered_at: datetime = Field(default_factory=_now, sa_column=_tz_column(nullable=False))


class CpdEvent(SQLModel, table=True):
    __tablename__ = "cpd_event"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    lead_id: UUID = Field(foreign_key=f"{SCHEMA}.regional_lead.id")
    region: str
    title: str
    starts_at: datetime = Field(sa_column=_tz_column(nullable=False))
    ends_at: datetime = Field(sa_column=_tz_column(nullable=False))
    venue: str
    places: int
    created_at: datetime = Field(default_factory=_now, sa_column=_tz_column(nullable=False))


class CpdRegistration(SQLModel, table=True):
    """A facilitator registered for a CPD event; `attended` is their CPD record once marked."""

    __tablename__ = "cpd_registration"
    __table_args__ = {"schema": SCHEMA}

    event_id: UUID = Field(primary_key=True, foreign_key=f"{SCHEMA}.cpd_event.id")
    facilitator_id: UUID = Field(primary_key=True, foreign_key=f"{SCHEMA}.facilitator.id")
    registered_at: datetime = Field(default_factory=_now, sa_column=_tz_column(nullable=False))
    attended: bool | None = Field(default=None, sa_column=Column(Boolean))


class CpdInterest(SQLModel, table=True):
    """An expression of interest in future CPD sessions."""

    __tablename__ = "cpd_interest"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    facilitator_id: UUID = Field(foreign_key=f"{SCHEMA}.facilitator.id")
    region: str
    mode: str
    months: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String), nullable=False))
    topics: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=_now, sa_column=_tz_column(nullable=False))
