"""Tables of the observations service (PostgreSQL schema `observations`). An account holds only an
email address, a display name and an optional programme; a sign-in link is kept as the SHA-256 of
its token; observations belong to one account and go when it goes (ON DELETE CASCADE)."""

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column, Date, DateTime, ForeignKey, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.mail_outbox import OutgoingEmailBase

SCHEMA = "observations"


def _now() -> datetime:
    return datetime.now(UTC)


def _tz(*, nullable: bool = False, server_now: bool = False) -> Any:
    return Column(DateTime(timezone=True), nullable=nullable, server_default=func.now() if server_now else None)


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # normalised (domain.normalise_email): one mailbox, one account
    email: str = Field(sa_column=Column(String(254), nullable=False, unique=True))
    display_name: str
    programme: str | None = None
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))


class SignInLink(SQLModel, table=True):
    """A one-time link emailed to sign in (account_id set) or to create an account (None)."""

    __tablename__ = "sign_in_link"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    token_sha256: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    email: str = Field(sa_column=Column(String(254), nullable=False))
    account_id: UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey(f"{SCHEMA}.account.id", ondelete="CASCADE"))
    )
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))
    expires_at: datetime = Field(sa_column=_tz())
    used_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))


class Observation(SQLModel, table=True):
    """One journal entry; a draft may leave any field empty. `shown` is a list of
    {"dimension": ..., "level": ...} (a JSONB containment query filters by dimension)."""

    __tablename__ = "observation"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    account_id: UUID = Field(
        sa_column=Column(Uuid, ForeignKey(f"{SCHEMA}.account.id", ondelete="CASCADE"), nullable=False)
    )
    status: str
    observed_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    context: str = Field(default="", sa_column=Column(Text, nullable=False))
    whose: str | None = None
    shown: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    what_happened: str = Field(default="", sa_column=Column(Text, nullable=False))
    impact: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))
    updated_at: datetime = Field(default_factory=_now, sa_column=_tz(server_now=True))


class OutgoingEmail(OutgoingEmailBase, table=True):
    """Mail outbox (shared.mail_outbox): a sign-in or sign-up email, composed from its link when
    the send-emails job sends it (a link used, expired or deleted by then is not sent)."""

    __tablename__ = "outgoing_email"
    __table_args__ = {"schema": SCHEMA}

    link_id: UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey(f"{SCHEMA}.sign_in_link.id", ondelete="SET NULL"))
    )
