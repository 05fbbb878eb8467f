"""What several use cases share: the cycle lock, refusals, queueing a link email and signing its link."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from reports import links
from reports.config import Settings
from reports.tables import (
    Cycle,
    OutgoingEmail,
)
from shared import mail_outbox
from shared.db import UnitOfWork


async def lock_cycle(uow: UnitOfWork, cycle_id: UUID) -> Cycle:
    await uow.session.execute(insert(Cycle).values(id=cycle_id).on_conflict_do_nothing())
    result = await uow.session.execute(
        select(Cycle).where(col(Cycle.id) == cycle_id).with_for_update().execution_options(populate_existing=True)
    )
    cycle: Cycle = result.scalar_one()
    return cycle


@dataclass(frozen=True)
class Refused:
    reason: str
    status: int


def hmac_equal(a: str, b: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str, and a lone surrogate cannot be encoded strictly.
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def lock_key(value: UUID) -> int:
    return int.from_bytes(value.bytes[:8], "big", signed=True)


def queue_email(
    uow: UnitOfWork,
    *,
    kind: str,
    subject_id: UUID,
    recipient: str,
    role: str,
    holder_id: UUID | None,
    expires_at: datetime,
) -> OutgoingEmail:
    return mail_outbox.queue_email(
        uow,
        OutgoingEmail(
            id=uuid4(),
            kind=kind,
            subject_id=subject_id,
            recipient=recipient,
            link_role=role,
            holder_id=holder_id,
            link_expires_at=expires_at,
        ),
    )


def link_for(email: OutgoingEmail, *, settings: Settings) -> str:
    kind = "cohort" if email.link_role == "programme_lead" else "report"
    token = links.sign(
        links.Link(
            kind=kind,
            subject_id=email.subject_id,
            role=email.link_role,
            holder_id=email.holder_id,
            expires_at=email.link_expires_at,
        ),
        keys=settings.signing_keys(),
    )
    return f"{settings.base_url}/{kind}/{token}"
