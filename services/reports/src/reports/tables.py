"""Tables of the reports service (PostgreSQL schema `reports`): a read model built from events,
and the generated reports."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SCHEMA = "reports"


class Cycle(SQLModel, table=True):
    """What the report needs about a cycle; filled by CycleOpened and CycleClosed in either order."""

    __tablename__ = "cycle"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    participant_id: str | None = None
    participant_name: str | None = None
    organisation: str | None = None
    region: str | None = None
    programme: str | None = None
    facilitator_id: UUID | None = None
    deadline: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    opened_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    close_reason: str | None = None
    responses_per_group: dict[str, int] | None = Field(default=None, sa_column=Column(JSONB))


class Response(SQLModel, table=True):
    """One submitted questionnaire, pseudonymous (rater id and group only)."""

    __tablename__ = "response"
    __table_args__ = {"schema": SCHEMA}

    rater_id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(index=True)
    group: str
    questionnaire_version: str
    answers: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    importance: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    comments: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Report(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(unique=True)
    generated_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    figures: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    pages: int
    html_path: str
    pdf_path: str
