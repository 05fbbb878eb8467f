"""Tables of the ratings service (PostgreSQL schema `ratings`). Raters are pseudonymous ids here:
no names or emails. Cycle and rater rows have no foreign key between them because RaterNominated
may arrive before CycleOpened (different topics)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "ratings"


def _now() -> datetime:
    return datetime.now(UTC)


class Cycle(SQLModel, table=True):
    __tablename__ = "cycle"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    status: str = "open"
    deadline: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    invited_per_group: dict[str, int] = Field(sa_column=Column(JSONB, nullable=False))
    correlation_id: UUID | None = None
    opened_at: datetime = Field(
        default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    close_reason: str | None = None
    # Shown on the rater's start page only ("who you are rating"); never logged.
    participant_name: str | None = None


class Rater(SQLModel, table=True):
    __tablename__ = "rater"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(index=True)
    group: str
    # None only for a withdrawal that arrived before its nomination.
    link_token_sha256: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, unique=True))
    nominated_at: datetime = Field(
        default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    replaces_rater_id: UUID | None = None
    declined_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    withdrawn_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Response(SQLModel, table=True):
    """One submitted questionnaire; unique per rater so a concurrent duplicate cannot count twice."""

    __tablename__ = "response"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    rater_id: UUID = Field(foreign_key=f"{SCHEMA}.rater.id", unique=True)
    cycle_id: UUID = Field(index=True)
    group: str
    questionnaire_version: str
    answers: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    importance: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    comments: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Draft(SQLModel, table=True):
    """Answers not sent yet, saved on every page so the journey can resume on any device.

    Keyed by the SHA-256 of the link token; deleted when the answers are sent, declined or the cycle closes."""

    __tablename__ = "draft"
    __table_args__ = {"schema": SCHEMA}

    token_sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    kind: str
    answers: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(
        default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    updated_at: datetime = Field(
        default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
