"""Who may read a report: facilitator links when a session is booked, the participant's after release."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy import select
from sqlmodel import col

from reports.config import Settings
from reports.tables import (
    Cycle,
    Facilitator,
    FeedbackSession,
    Report,
)
from reports.usecases.common import lock_cycle, queue_email
from shared.contracts.events import (
    FacilitatorRegistered,
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
    ReportReleased,
)
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


async def record_facilitator(uow: UnitOfWork, event: FacilitatorRegistered, *, settings: Settings) -> None:
    """Keep the facilitator's name and email; send links for sessions that were waiting for it."""
    facilitator = await uow.session.get(Facilitator, event.facilitator_id, with_for_update=True)
    if facilitator is None:
        facilitator = Facilitator(id=event.facilitator_id, name=event.name, email=str(event.email))
    else:
        facilitator.name, facilitator.email = event.name, str(event.email)
    uow.session.add(facilitator)
    await uow.session.flush()
    cycles = await uow.session.execute(
        select(col(FeedbackSession.cycle_id)).where(
            col(FeedbackSession.facilitator_id) == event.facilitator_id,
            col(FeedbackSession.status) == "scheduled",
        )
    )
    for cycle_id in cycles.scalars().all():
        await offer_facilitator_links(uow, cycle_id=cycle_id, settings=settings)


async def record_session(
    uow: UnitOfWork, event: FeedbackSessionScheduled | FeedbackSessionRescheduled, *, settings: Settings
) -> None:
    """A session was booked or moved: its facilitator may read the report until shortly after it."""
    await lock_cycle(uow, event.cycle_id)
    session = await uow.session.get(FeedbackSession, event.session_id, with_for_update=True)
    if session is None:
        session = FeedbackSession(
            id=event.session_id,
            cycle_id=event.cycle_id,
            facilitator_id=event.facilitator_id,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
        )
    elif session.status in ("completed", "no_show"):
        return
    session.facilitator_id = event.facilitator_id
    session.starts_at, session.ends_at = event.starts_at, event.ends_at
    session.status = "scheduled"
    if isinstance(event, FeedbackSessionScheduled):
        session.report_id = event.report_id
    uow.session.add(session)
    await uow.session.flush()
    await offer_facilitator_links(uow, cycle_id=event.cycle_id, settings=settings)


async def record_session_cancelled(uow: UnitOfWork, event: FeedbackSessionCancelled) -> None:
    """A cancelled session's facilitator loses access (a new booking gives it back)."""
    session = await uow.session.get(FeedbackSession, event.session_id, with_for_update=True)
    if session is not None and session.status == "scheduled":
        session.status = "cancelled"
        uow.session.add(session)


async def record_session_completed(
    uow: UnitOfWork, event: FeedbackSessionCompleted, *, settings: Settings
) -> Report | None:
    """After a completed session the report is released to the participant (once)."""
    await lock_cycle(uow, event.cycle_id)
    session = await uow.session.get(FeedbackSession, event.session_id, with_for_update=True)
    if session is not None:
        session.status = event.outcome
        uow.session.add(session)
    if event.outcome != "completed":
        return None
    report = await uow.session.get(Report, event.report_id, with_for_update=True)
    if report is None or report.cycle_id != event.cycle_id:
        # A session booked on another system's report (or a test's): nothing of ours to release.
        log.warning(
            "session completed for a report this service does not have",
            extra={"cycle_id": str(event.cycle_id), "report_id": str(event.report_id)},
        )
        return None
    if report.released_at is not None:
        return None
    await _release(
        uow,
        report,
        reason="session_completed",
        at=event.occurred_at,
        correlation_id=event.correlation_id or event.cycle_id,
        settings=settings,
    )
    return report


async def release_by_admin(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings, now: datetime) -> str:
    """Admin override, e.g. the feedback conversation happened outside the booking system or cannot
    take place: release the report to the participant now. Returns 'released' or why not."""
    await lock_cycle(uow, cycle_id)
    report = (
        await uow.session.execute(select(Report).where(col(Report.cycle_id) == cycle_id).with_for_update())
    ).scalar_one_or_none()
    if report is None:
        return "no_report"
    if report.released_at is not None:
        return "already_released"
    await _release(uow, report, reason="released_by_admin", at=now, correlation_id=cycle_id, settings=settings)
    return "released"


async def _release(
    uow: UnitOfWork,
    report: Report,
    *,
    reason: Literal["session_completed", "released_by_admin"],
    at: datetime,
    correlation_id: UUID,
    settings: Settings,
) -> None:
    """Release a report once: ReportReleased, and the participant's personal link by email."""
    report.released_at = at
    uow.session.add(report)
    uow.emit(
        ReportReleased(
            producer="reports",
            correlation_id=correlation_id,
            cycle_id=report.cycle_id,
            report_id=report.id,
            reason=reason,
        )
    )
    cycle = await uow.session.get(Cycle, report.cycle_id)
    if cycle is not None and cycle.participant_email:
        queue_email(
            uow,
            kind="participant_released",
            subject_id=report.id,
            recipient=cycle.participant_email,
            role="participant",
            holder_id=None,
            expires_at=datetime.now(UTC) + timedelta(days=settings.participant_link_days),
        )
    log.info("report released", extra={"cycle_id": str(report.cycle_id), "report_id": str(report.id), "reason": reason})


async def offer_facilitator_links(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings) -> None:
    """Email the facilitator of each scheduled session a link, once per session time, when the
    report exists and their address is known."""
    report = (await uow.session.execute(select(Report).where(col(Report.cycle_id) == cycle_id))).scalar_one_or_none()
    if report is None:
        return
    sessions = await uow.session.execute(
        select(FeedbackSession).where(
            col(FeedbackSession.cycle_id) == cycle_id, col(FeedbackSession.status) == "scheduled"
        )
    )
    for session in sessions.scalars().all():
        if session.link_sent_for == session.ends_at:
            continue
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if facilitator is None:
            continue
        queue_email(
            uow,
            kind="facilitator_link",
            subject_id=report.id,
            recipient=facilitator.email,
            role="facilitator",
            holder_id=facilitator.id,
            expires_at=session.ends_at + timedelta(days=settings.facilitator_link_days_after_session),
        )
        session.link_sent_for = session.ends_at
        uow.session.add(session)


async def resend_participant_link(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings) -> str:
    """Admin: a fresh participant link (released reports only). Returns 'queued' or why not."""
    report = (await uow.session.execute(select(Report).where(col(Report.cycle_id) == cycle_id))).scalar_one_or_none()
    cycle = await uow.session.get(Cycle, cycle_id)
    if report is None or cycle is None:
        return "no_report"
    if report.released_at is None:
        return "not_released"
    if not cycle.participant_email:
        return "no_participant_email"
    queue_email(
        uow,
        kind="participant_released",
        subject_id=report.id,
        recipient=cycle.participant_email,
        role="participant",
        holder_id=None,
        expires_at=datetime.now(UTC) + timedelta(days=settings.participant_link_days),
    )
    return "queued"
