"""Tables of the invitations service (PostgreSQL schema `invitations`). Personal data lives here."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Column, DateTime, Numeric, Text, func
from sqlmodel import Field, SQLModel

SCHEMA = "invitations"


class Cycle(SQLModel, table=True):
    __tablename__ = "cycle"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    participant_id: str
    given_name: str
    family_name: str
    email: str
    organisation: str
    region: str
    programme: str | None = None
    facilitator_id: UUID | None = None
    deadline: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    funding_method: str
    funding_reference: str
    amount_due: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    status: str = "open"
    requested_by: str
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Rater(SQLModel, table=True):
    __tablename__ = "rater"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(foreign_key=f"{SCHEMA}.cycle.id", index=True)
    group: str
    name: str
    email: str
    status: str = "nominated"


class OutgoingEmail(SQLModel, table=True):
    """Mail outbox: written with the state change, sent by the mail job, marked sent with its event."""

    __tablename__ = "outgoing_email"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    kind: str
    cycle_id: UUID = Field(foreign_key=f"{SCHEMA}.cycle.id", index=True)
    rater_id: UUID | None = Field(default=None, foreign_key=f"{SCHEMA}.rater.id")
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text))
