"""Tables of the invitations service (PostgreSQL schema `invitations`). Personal data lives here."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Identity, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from shared.mail_outbox import OutgoingEmailBase
from shared.telemetry import ATTR_CYCLE_ID

SCHEMA = "invitations"


def _now() -> datetime:
    return datetime.now(UTC)


def _tz(nullable: bool = False, *, server_now: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable, server_default=func.now() if server_now else None)


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
    # the requested line (casefolded, never the participant); CycleOpened adds the line manager raters
    management_line: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String), nullable=False, server_default="{}")
    )
    preferred_language: str | None = Field(default=None, sa_column=Column(Text))
    deadline: datetime = Field(sa_column=_tz())
    original_deadline: datetime | None = Field(default=None, sa_column=_tz(True))
    funding_method: str
    funding_reference: str
    amount_net: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2)))
    amount_vat: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2)))
    amount_due: Decimal = Field(sa_column=Column(Numeric(10, 2), nullable=False))
    # awaiting_approval -> open -> closing -> closed; not_approved if the line manager says no
    status: str = "open"
    requested_by: str
    correlation_id: UUID | None = None
    close_requested_at: datetime | None = Field(default=None, sa_column=_tz(True))
    closed_at: datetime | None = Field(default=None, sa_column=_tz(True))
    report_released_at: datetime | None = Field(default=None, sa_column=_tz(True))
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))


class Rater(SQLModel, table=True):
    __tablename__ = "rater"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(foreign_key=f"{SCHEMA}.cycle.id", index=True)
    group: str
    name: str
    email: str
    # nominated -> invited -> submitted | declined | bounced; declined/bounced -> replaced
    status: str = "nominated"
    invited_at: datetime | None = Field(default=None, sa_column=_tz(True))
    status_changed_at: datetime | None = Field(default=None, sa_column=_tz(True))
    status_note: str | None = Field(default=None, sa_column=Column(Text))
    replaces_rater_id: UUID | None = None
    # The id (shared.links.key_id) of the key this rater's link token is derived with; NULL for a
    # rater recorded before keys had ids: derived with the current key (invitations.links).
    link_key_id: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))


class OutgoingEmail(OutgoingEmailBase, table=True):
    """Mail outbox (shared.mail_outbox): written with the state change, composed from the cycle and
    rater as they are when the send-emails job sends it, marked sent with its event."""

    __tablename__ = "outgoing_email"
    __table_args__ = {"schema": SCHEMA}

    cycle_id: UUID = Field(foreign_key=f"{SCHEMA}.cycle.id", index=True)
    rater_id: UUID | None = Field(default=None, foreign_key=f"{SCHEMA}.rater.id")
    context: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))

    def trace_attributes(self) -> dict[str, str]:
        return {**super().trace_attributes(), ATTR_CYCLE_ID: str(self.cycle_id)}


class Reminder(SQLModel, table=True):
    """One row per (rater, stage) reminded: the primary key makes each stage go out once."""

    __tablename__ = "reminder"
    __table_args__ = {"schema": SCHEMA}

    rater_id: UUID = Field(primary_key=True, foreign_key=f"{SCHEMA}.rater.id")
    stage_days: int = Field(primary_key=True)
    email_id: UUID = Field(foreign_key=f"{SCHEMA}.outgoing_email.id", index=True)
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))


class CreditAccount(SQLModel, table=True):
    """A programme's pre-paid 360s; `balance` has a CHECK (>= 0) so it cannot go negative."""

    __tablename__ = "credit_account"
    __table_args__ = {"schema": SCHEMA}

    reference: str = Field(primary_key=True)
    programme: str
    balance: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))


class CreditEntry(SQLModel, table=True):
    """Ledger of every credit movement: top_up (+n), debit (-1 per cycle), refund (+1)."""

    __tablename__ = "credit_entry"
    __table_args__ = {"schema": SCHEMA}

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    reference: str = Field(foreign_key=f"{SCHEMA}.credit_account.reference", index=True)
    kind: str
    delta: int
    cycle_id: UUID | None = None
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))


class Facilitator(SQLModel, table=True):
    """Read model of the scheduling service's facilitator events (directory data only)."""

    __tablename__ = "facilitator"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    name: str | None = None
    region: str | None = None
    organisation: str | None = None
    registered: bool = False
    accredited: bool = False
    status: str | None = None
    status_at: datetime | None = Field(default=None, sa_column=_tz(True))
    free_slots: int | None = None
    next_free_slot_at: datetime | None = Field(default=None, sa_column=_tz(True))
    modes: str = ""
    availability_at: datetime | None = Field(default=None, sa_column=_tz(True))
