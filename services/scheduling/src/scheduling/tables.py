"""Tables of the scheduling service (PostgreSQL schema `scheduling`).

Alembic owns the schema (migrations/versions); these classes mirror it for queries. The
constraints that make double booking impossible live in the database (see 0001_initial).
"""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Column, Date, DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from scheduling import domain

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

    def rules_view(self) -> domain.Facilitator:
        return domain.Facilitator(
            id=self.id,
            region=self.region,
            organisation=self.organisation,
            status=domain.FacilitatorStatus(self.status),
            elearning_score=self.elearning_score,
            course_completed_on=self.course_completed_on,
            monthly_capacity=self.monthly_capacity,
        )


class Slot(SQLModel, table=True):
    __tablename__ = "slot"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    facilitator_id: UUID = Field(foreign_key=f"{SCHEMA}.facilitator.id")
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    mode: str = "virtual"


class FeedbackSession(SQLModel, table=True):
    """A booked feedback conversation: one per cycle, one per slot, never overlapping for a facilitator."""

    __tablename__ = "session"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(unique=True)
    report_id: UUID
    facilitator_id: UUID = Field(foreign_key=f"{SCHEMA}.facilitator.id")
    slot_id: UUID = Field(foreign_key=f"{SCHEMA}.slot.id")
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    mode: str
    status: str = domain.SessionStatus.BOOKED.value
    ics_path: str
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


class UnscheduledCycle(SQLModel, table=True):
    """A report no facilitator or slot could be found for: needs attention, retried by a job."""

    __tablename__ = "unscheduled_cycle"
    __table_args__ = {"schema": SCHEMA}

    cycle_id: UUID = Field(primary_key=True)
    report_id: UUID
    participant_id: str
    organisation: str
    region: str
    chosen_facilitator_id: UUID | None = None
    correlation_id: UUID | None = None
    reason: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 1
    first_seen_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    last_attempt_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    scheduled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
