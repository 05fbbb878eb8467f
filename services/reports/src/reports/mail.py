"""The reports service's emails (links only, never report content): templates, and the context
each kind needs, looked up when the shared mail outbox sends the email."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from uuid import UUID

from sqlalchemy import select
from sqlmodel import col

from reports import usecases
from reports.config import Settings
from reports.tables import CohortSnapshot, Cycle, Facilitator, FeedbackSession, OutgoingEmail, Report
from shared.db import UnitOfWork
from shared.mail import email_templates, new_message

__all__ = ["SUBJECTS", "build", "compose"]

_templates = email_templates("reports", "templates/email")

SUBJECTS = {
    "facilitator_link": "HLM 360 report ready for your feedback session with {participant}",
    "participant_released": "Your Healthcare Leadership Model 360 report is ready",
    "cohort_link": "HLM 360 cohort report for {programme}",
}


def compose(*, email_id: UUID, kind: str, sender: str, to: str, context: dict[str, object]) -> EmailMessage:
    message = new_message(email_id=email_id, sender=sender, to=to, subject=SUBJECTS[kind].format(**context))
    message.set_content(_templates.get_template(f"{kind}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{kind}.html").render(**context), subtype="html")
    return message


async def build(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> EmailMessage:
    """The message of a queued email, with its link signed now."""
    return compose(
        email_id=email.id,
        kind=email.kind,
        sender=settings.mail_from,
        to=email.recipient,
        context=await _context(uow, email, settings=settings),
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%A %d %B %Y at %H:%M UTC") if moment is not None else ""


async def _context(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> dict[str, object]:
    context: dict[str, object] = {
        "link": usecases.link_for(email, settings=settings),
        "expires": _when(email.link_expires_at),
    }
    if email.kind == "cohort_link":
        snapshot = await uow.session.get(CohortSnapshot, email.subject_id)
        context["programme"] = snapshot.programme if snapshot else ""
        return context
    report = await uow.session.get(Report, email.subject_id)
    cycle = await uow.session.get(Cycle, report.cycle_id) if report else None
    context["participant"] = (cycle.participant_name if cycle else None) or "the participant"
    if email.kind == "facilitator_link":
        facilitator = await uow.session.get(Facilitator, email.holder_id) if email.holder_id else None
        context["facilitator_name"] = facilitator.name if facilitator else "colleague"
        session = (
            await uow.session.execute(
                select(FeedbackSession)
                .where(
                    col(FeedbackSession.cycle_id) == (cycle.id if cycle else None),
                    col(FeedbackSession.facilitator_id) == email.holder_id,
                )
                .order_by(col(FeedbackSession.starts_at).desc())
            )
        ).scalars().first()
        context["session"] = _when(session.starts_at) if session else "the booked date"
    return context
