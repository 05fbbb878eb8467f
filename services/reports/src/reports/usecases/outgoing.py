"""Mail callbacks: what a queued email says, looked up when the shared mail outbox sends it
(the link is signed at that moment, so it is fresh)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from reports.config import Settings
from reports.tables import CohortSnapshot, Cycle, Facilitator, FeedbackSession, OutgoingEmail, Report
from reports.usecases.common import link_for
from shared.db import UnitOfWork


def _when(moment: datetime | None) -> str:
    return moment.strftime("%A %d %B %Y at %H:%M UTC") if moment is not None else ""


async def email_context(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> dict[str, object]:
    """The template context of a queued email: its signed link, its expiry and who it concerns."""
    context: dict[str, object] = {
        "link": link_for(email, settings=settings),
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
            (
                await uow.session.execute(
                    select(FeedbackSession)
                    .where(
                        col(FeedbackSession.cycle_id) == (cycle.id if cycle else None),
                        col(FeedbackSession.facilitator_id) == email.holder_id,
                    )
                    .order_by(col(FeedbackSession.starts_at).desc())
                )
            )
            .scalars()
            .first()
        )
        context["session"] = _when(session.starts_at) if session else "the booked date"
    return context
