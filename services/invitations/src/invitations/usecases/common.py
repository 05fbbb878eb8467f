"""What the use cases share: the cycle and rater lookups, rater status changes, queuing an email."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlmodel import col

from invitations.config import Settings
from invitations.domain import NominationLimits
from invitations.tables import Cycle, OutgoingEmail, Rater
from shared import mail_outbox
from shared.contracts.vocabulary import RaterGroup
from shared.db import OutboxMessage, UnitOfWork
from shared.errors import Rejected

PRODUCER = "invitations"
ACTIVE_CYCLE = ("awaiting_approval", "open")
ACTIVE_RATER = ("nominated", "invited")


def limits_of(settings: Settings) -> NominationLimits:
    return NominationLimits(
        min_peers=settings.min_peers,
        min_direct_reports=settings.min_direct_reports,
        recommended=settings.recommended_raters,
        maximum=settings.max_raters,
        email_domains=settings.allowed_rater_domains(),
    )


def queue_email(
    uow: UnitOfWork, *, kind: str, cycle_id: UUID, rater_id: UUID, context: dict[str, Any] | None = None
) -> OutgoingEmail:
    """Queue an email to a rater; it is composed from their current state when it is sent (mail.compose_email)."""
    return mail_outbox.queue_email(
        uow, OutgoingEmail(id=uuid4(), kind=kind, cycle_id=cycle_id, rater_id=rater_id, context=context)
    )


async def get_cycle(uow: UnitOfWork, cycle_id: UUID, *, lock: bool = True) -> Cycle:
    cycle = await uow.session.get(Cycle, cycle_id, with_for_update=lock)
    if cycle is None:
        raise Rejected("there is no such 360")
    return cycle


async def all_raters(uow: UnitOfWork, cycle_id: UUID) -> list[Rater]:
    """Every rater of the cycle, the participant and replaced ones included."""
    rows = await uow.session.execute(select(Rater).where(col(Rater.cycle_id) == cycle_id))
    return list(rows.scalars())


async def participant_rater(uow: UnitOfWork, cycle_id: UUID) -> Rater:
    row = await uow.session.execute(
        select(Rater).where(col(Rater.cycle_id) == cycle_id, col(Rater.group) == RaterGroup.SELF.value)
    )
    participant: Rater = row.scalar_one()
    return participant


def set_status(rater: Rater, status: str, *, note: str | None = None) -> None:
    rater.status = status
    rater.status_changed_at = datetime.now(UTC)
    if note is not None:
        rater.status_note = note


async def emitted(uow: UnitOfWork, event_id: UUID) -> bool:
    """Whether this service's outbox already holds the event (flushed first, so this transaction's too)."""
    found = await uow.session.execute(select(col(OutboxMessage.id)).where(col(OutboxMessage.event_id) == event_id))
    return found.first() is not None
