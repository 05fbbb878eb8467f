"""Tables of the reports service (PostgreSQL schema `reports`): a read model built from events,
and the generated reports."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Identity, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.mail_outbox import OutgoingEmailBase

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
    participant_email: str | None = None
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
    generated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))
    figures: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    pages: int
    html_path: str
    pdf_path: str
    released_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Facilitator(SQLModel, table=True):
    """Directory entry from FacilitatorRegistered: where to send a facilitator their report link."""

    __tablename__ = "facilitator"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    name: str
    email: str


class FeedbackSession(SQLModel, table=True):
    """Who facilitates a cycle's feedback session, and its state, from scheduling's events."""

    __tablename__ = "feedback_session"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    cycle_id: UUID = Field(index=True)
    report_id: UUID | None = None
    facilitator_id: UUID
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = "scheduled"  # scheduled | cancelled | completed | no_show
    link_sent_for: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AccessLog(SQLModel, table=True):
    """Audit: one row per attempt to read a report, granted or refused (ids and reasons only)."""

    __tablename__ = "access_log"
    __table_args__ = {"schema": SCHEMA}

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))
    kind: str  # report | self_assessment | cohort
    subject_id: UUID | None = None
    role: str | None = None
    holder_id: UUID | None = None
    format: str
    outcome: str  # granted | refused
    reason: str


class OutgoingEmail(OutgoingEmailBase, table=True):
    """Mail outbox (shared.mail_outbox): written with the state change, sent by the send-emails job
    with a link signed at send time from the columns below."""

    __tablename__ = "outgoing_email"
    __table_args__ = {"schema": SCHEMA}

    # kind: facilitator_link | participant_released | cohort_link
    subject_id: UUID
    recipient: str
    link_role: str
    holder_id: UUID | None = None
    link_expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SelfAssessment(SQLModel, table=True):
    """A free self-assessment and its rendered personal report (private to the token holder)."""

    __tablename__ = "self_assessment"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    access_token_sha256: str
    questionnaire_version: str
    completed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    figures: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CohortSnapshot(SQLModel, table=True):
    """A programme cohort report as generated at one moment, with the cycles it includes."""

    __tablename__ = "cohort_snapshot"
    __table_args__ = {"schema": SCHEMA}

    id: UUID = Field(primary_key=True)
    programme: str = Field(index=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    cycle_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    figures: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
