"""The mail outbox's data side: the columns every outbox table has, queueing a row in a use case's
transaction, the due query and the outcome of each try. Sending lives in `shared.mail_sender`.

A use case queues an email as a row of its service's own outbox table, in its own transaction, so
a rolled-back change sends nothing. Nothing here imports a web or broker framework: a service's
`tables.py` builds its outbox table on `OutgoingEmailBase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4, uuid5

from sqlalchemy import DateTime, Text, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from shared.db import UnitOfWork
from shared.telemetry import ATTR_EMAIL_ID, ATTR_EMAIL_KIND

MAX_BACKOFF_SECONDS = 600
_TZ = DateTime(timezone=True)
# uuid5 namespace of the ids of events that follow from an email row (never change it: a resent
# email must republish the id consumers have already seen)
FOLLOW_UP_EVENTS = UUID("4bab10bb-9553-5926-a7a0-23ef0fcbfeda")


def _now() -> datetime:
    return datetime.now(UTC)


class OutgoingEmailBase(SQLModel):
    """The columns every mail outbox table has. A service's table adds its name, schema and own
    columns: `class OutgoingEmail(OutgoingEmailBase, table=True)`."""

    # Timestamps by sa_type, not sa_column: each table built on this base needs its own Column.
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    kind: str
    created_at: datetime = Field(
        default_factory=_now, sa_type=_TZ, nullable=False, sa_column_kwargs={"server_default": func.now()}
    )
    sent_at: datetime | None = Field(default=None, sa_type=_TZ)
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=_now, sa_type=_TZ, nullable=False, sa_column_kwargs={"server_default": func.now()}
    )
    last_error: str | None = Field(default=None, sa_type=Text)
    # set when the outbox stops trying: refused for good, too many attempts, or no longer needed
    gave_up_at: datetime | None = Field(default=None, sa_type=_TZ)

    def trace_attributes(self) -> dict[str, str]:
        """Span attributes of this email: ids and kind only, never addresses or content."""
        return {ATTR_EMAIL_ID: str(self.id), ATTR_EMAIL_KIND: self.kind}


E = TypeVar("E", bound=OutgoingEmailBase)


# --- the outbox rows ----------------------------------------------------------------------------


def queue_email(uow: UnitOfWork, email: E) -> E:
    """Put an email in the outbox in the caller's transaction: it goes out only if that commits."""
    uow.session.add(email)
    return email


def due_email_query(table: type[E], *, now: datetime) -> SelectOfScalar[E]:
    """The send-emails job's query, run every poll on every instance: each service's migrations give
    it the partial index `ix_outgoing_email_due` (next_attempt_at WHERE sent_at IS NULL AND gave_up_at
    IS NULL), so it reads only the emails still waiting."""
    return (
        select(table)
        .where(
            col(table.sent_at).is_(None),
            col(table.gave_up_at).is_(None),
            col(table.next_attempt_at) <= now,
        )
        .order_by(col(table.next_attempt_at))
        .limit(1)
        .with_for_update(skip_locked=True)
    )


async def claim_due_email(uow: UnitOfWork, table: type[E], *, now: datetime | None = None) -> E | None:
    """Lock the due email that has waited longest; other senders skip locked rows."""
    return (await uow.session.execute(due_email_query(table, now=now or _now()))).scalars().first()


def backoff(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed tries: 2 s, 4 s, 8 s, ... at most 10 minutes."""
    return timedelta(seconds=min(2**attempts, MAX_BACKOFF_SECONDS))


def mark_email_sent(uow: UnitOfWork, email: OutgoingEmailBase, *, now: datetime | None = None) -> None:
    email.sent_at = now or _now()
    email.attempts += 1
    uow.session.add(email)


def mark_email_failed(
    uow: UnitOfWork, email: OutgoingEmailBase, *, error: str, max_attempts: int | None, now: datetime | None = None
) -> bool:
    """Count a temporary failure and try again after a backoff; True if that was the last attempt."""
    now = now or _now()
    email.attempts += 1
    email.last_error = error[:1000]
    email.next_attempt_at = now + backoff(email.attempts)
    gave_up = max_attempts is not None and email.attempts >= max_attempts
    if gave_up:
        email.gave_up_at = now
    uow.session.add(email)
    return gave_up


def mark_email_refused(uow: UnitOfWork, email: OutgoingEmailBase, *, code: int, now: datetime | None = None) -> None:
    """The server refused the email for good (5xx, e.g. no such mailbox): never try it again."""
    email.attempts += 1
    email.gave_up_at = now or _now()
    email.last_error = f"permanent SMTP failure {code}"
    uow.session.add(email)


def mark_email_unsendable(
    uow: UnitOfWork, email: OutgoingEmailBase, *, reason: str, now: datetime | None = None
) -> None:
    """The row can never become an email (e.g. a header that is not one line): never try it again.
    The reason names only the error's type: its text may quote a name or an address."""
    email.attempts += 1
    email.gave_up_at = now or _now()
    email.last_error = reason[:1000]
    uow.session.add(email)


def mark_email_not_needed(uow: UnitOfWork, email: OutgoingEmailBase, *, why: str, now: datetime | None = None) -> None:
    email.gave_up_at = now or _now()
    email.last_error = f"not sent: {why}"[:1000]
    uow.session.add(email)


@dataclass(frozen=True)
class NotNeeded:
    """What `compose` returns for an email that should no longer go out; the reason is stored on
    the row (never logged), so it must not contain names or addresses either."""

    reason: str


def follow_up_event_id(email: OutgoingEmailBase, event_type: str) -> UUID:
    """The id of the `event_type` event that follows from this email (e.g. InvitationSent): the
    same for every send of the row, so a resend after a crash republishes an id consumers drop."""
    return uuid5(FOLLOW_UP_EVENTS, f"{event_type}:{email.id}")
