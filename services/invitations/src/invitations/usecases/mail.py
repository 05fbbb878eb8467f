"""The mail outbox's callbacks (shared.mail_sender sends): what an email says when it goes, what a
sent invitation means (the rater is invited) and what a refused one means (the rater bounced)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlmodel import col

from invitations import emails
from invitations.config import Settings
from invitations.tables import Cycle, OutgoingEmail, Rater
from invitations.usecases.common import ACTIVE_RATER, PRODUCER, all_raters, emitted, get_cycle, set_status
from invitations.usecases.intake import keep_link_key
from invitations.usecases.reminders import pending_for_person
from shared import mail_outbox
from shared.contracts.events import InvitationSent, RaterWithdrawn
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork
from shared.mail_outbox import NotNeeded


async def compose_email(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> EmailMessage | NotNeeded:
    """The message to send, composed from the cycle and rater as they are now, or why it is no longer needed."""
    cycle = await uow.session.get(Cycle, email.cycle_id)
    rater = await uow.session.get(Rater, email.rater_id) if email.rater_id else None
    if cycle is None or rater is None:
        return NotNeeded("its cycle or recipient is gone")
    facts = emails.EmailFacts(cycle=cycle, rater=rater)
    if email.kind == "invitation" and rater.group == RaterGroup.SELF.value:
        facts.rater_count = (
            await uow.session.execute(
                select(func.count()).where(col(Rater.cycle_id) == cycle.id, col(Rater.group) != RaterGroup.SELF.value)
            )
        ).scalar_one()
    elif email.kind == "reminder":
        facts.pending = await pending_for_person(uow, rater.email)
    elif email.kind == "approval_request":
        facts.raters = await all_raters(uow, cycle.id)
    # Every rater link this email carries must be one ratings knows (docs/adr/0012).
    if email.kind == "invitation":
        keep_link_key(uow, cycle, rater, settings=settings)
    for pending, its_cycle in facts.pending:
        keep_link_key(uow, its_cycle, pending, settings=settings)
    return emails.build(email, facts, settings=settings)


async def record_email_sent(uow: UnitOfWork, email: OutgoingEmail) -> None:
    """An invitation went out: the rater is invited, and InvitationSent leaves in the same transaction.
    Its id comes from the email row, so a resend after a crash (or a second call) announces nothing new."""
    if email.kind != "invitation" or email.rater_id is None:
        return
    rater = await uow.session.get(Rater, email.rater_id)
    if rater is None:
        return
    if rater.status == "nominated":
        set_status(rater, "invited")
        rater.invited_at = email.sent_at
        uow.session.add(rater)
    event_id = mail_outbox.follow_up_event_id(email, "InvitationSent")
    if await emitted(uow, event_id):
        return
    cycle = await uow.session.get(Cycle, email.cycle_id)
    uow.emit(
        InvitationSent(
            event_id=event_id,
            occurred_at=email.sent_at or datetime.now(UTC),
            producer=PRODUCER,
            correlation_id=(cycle.correlation_id or cycle.id) if cycle else None,
            cycle_id=email.cycle_id,
            rater_id=rater.id,
            group=RaterGroup(rater.group),
        )
    )


async def record_bounce(uow: UnitOfWork, email: OutgoingEmail, code: int) -> None:
    """The mail server refused an invitation's address for good (the outbox stops mailing it):
    the invited rater needs replacing."""
    if email.kind != "invitation" or email.rater_id is None:
        return
    rater = await uow.session.get(Rater, email.rater_id)
    if rater is None or rater.status not in ACTIVE_RATER:
        return
    set_status(rater, "bounced", note=f"the email server refused the address ({code})")
    uow.session.add(rater)
    if rater.group == RaterGroup.SELF:
        return
    cycle = await get_cycle(uow, rater.cycle_id)
    uow.emit(
        RaterWithdrawn(
            event_id=mail_outbox.follow_up_event_id(email, "RaterWithdrawn"),
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=RaterGroup(rater.group),
            reason="bounced",
        )
    )
