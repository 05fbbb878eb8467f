"""Follow-ups and escalation (background jobs): reminders before sessions, participants who have not
chosen a time, missing outcomes, unconfirmed requests that lapse, unbooked sessions told to the
regional lead. Each claims its rows with FOR UPDATE SKIP LOCKED; the caller commits."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select
from sqlmodel import col

from scheduling import domain
from scheduling.config import Settings
from scheduling.domain import SessionStatus
from scheduling.tables import (
    BookingRequest,
    Facilitator,
    FeedbackSession,
    Participant,
)
from scheduling.usecases.common import (
    LIVE,
    lead_of_region,
    links,
    mark_cancelled,
    notify_both,
    queue_email,
)
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


async def remind_unbooked(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Remind participants who were offered times `booking_reminder_days` ago and have not chosen
    (no session requested or booked): once each. Returns how many were reminded."""
    has_live = exists().where(col(FeedbackSession.cycle_id) == col(BookingRequest.cycle_id), LIVE)
    rows = await uow.session.execute(
        select(BookingRequest, Participant)
        .join(Participant, col(Participant.cycle_id) == col(BookingRequest.cycle_id))
        .where(
            col(BookingRequest.booking_reminder_sent_at).is_(None),
            col(BookingRequest.offered_at) <= now - timedelta(days=settings.booking_reminder_days),
            col(Participant.email).is_not(None),
            ~has_live,
        )
        .order_by(col(BookingRequest.offered_at))
        .limit(limit)
        .with_for_update(of=BookingRequest, skip_locked=True)
    )
    waiting = list(rows.all())
    for request, participant in waiting:
        assert participant.email is not None
        queue_email(
            uow,
            kind="booking_reminder",
            to=participant.email,
            cycle_id=request.cycle_id,
            context={
                "name": participant.name,
                "link": links(settings).booking_url(request.cycle_id, now=now),
            },
        )
        request.booking_reminder_sent_at = now
        uow.session.add(request)
    if waiting:
        log.info("participants reminded to book", extra={"count": len(waiting)})
    return len(waiting)


async def escalate_unbooked(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Tell the regional lead about participants with no session `escalate_after_days` after their report."""
    cutoff = now - timedelta(days=settings.escalate_after_days)
    has_live = exists().where(col(FeedbackSession.cycle_id) == col(BookingRequest.cycle_id), LIVE)
    rows = await uow.session.execute(
        select(BookingRequest)
        .where(col(BookingRequest.escalated_at).is_(None), col(BookingRequest.created_at) <= cutoff, ~has_live)
        .order_by(col(BookingRequest.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    waiting = list(rows.scalars())
    if not waiting:
        return 0
    lead_of = await lead_of_region(uow)
    tz = ZoneInfo(settings.timezone)
    for request in waiting:
        if not domain.escalation_due(requested_at=request.created_at, now=now, after_days=settings.escalate_after_days):
            continue
        lead = lead_of(request.region)
        if lead is None:
            log.warning(
                "no regional lead for the region; escalation not sent", extra={"cycle_id": str(request.cycle_id)}
            )
        else:
            queue_email(
                uow,
                kind="escalation",
                to=lead.email,
                cycle_id=request.cycle_id,
                context={
                    "lead": lead.name,
                    "region": lead.region,
                    "days": (now - request.created_at).days,
                    "participant_id": request.participant_id,
                    "organisation": request.organisation,
                    "cycle_id": str(request.cycle_id),
                    "since": f"{request.created_at.astimezone(tz):%-d %B %Y}",
                    "reason": request.unscheduled_reason or "",
                    "link": links(settings).lead(lead),
                },
            )
        request.escalated_at = now
        uow.session.add(request)
    log.info("unbooked sessions escalated", extra={"count": len(waiting)})
    return len(waiting)


async def chase_outcomes(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> tuple[int, int]:
    """Booked sessions that ended without an outcome (the participant's report stays held until one is
    recorded): remind the facilitator `outcome_reminder_hours` after the end, once; tell the region's
    lead `outcome_escalate_days` after, once. Returns (reminded, escalated)."""
    reminded = await _remind_missing_outcomes(uow, settings=settings, now=now, limit=limit)
    escalated = await _escalate_missing_outcomes(uow, settings=settings, now=now, limit=limit)
    if reminded or escalated:
        log.info("missing session outcomes chased", extra={"reminded": reminded, "escalated": escalated})
    return reminded, escalated


_BOOKED = col(FeedbackSession.status) == SessionStatus.BOOKED.value


async def _remind_missing_outcomes(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int) -> int:
    """Remind each facilitator once, `outcome_reminder_hours` after a session ended without an outcome."""
    tz = ZoneInfo(settings.timezone)
    to_remind = list(
        (
            await uow.session.execute(
                select(FeedbackSession)
                .where(
                    _BOOKED,
                    col(FeedbackSession.outcome_reminder_sent_at).is_(None),
                    col(FeedbackSession.ends_at) <= now - timedelta(hours=settings.outcome_reminder_hours),
                )
                .order_by(col(FeedbackSession.ends_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    for session in to_remind:
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if facilitator is not None:
            queue_email(
                uow,
                kind="outcome_reminder",
                to=facilitator.email,
                cycle_id=session.cycle_id,
                context={
                    "facilitator": facilitator.name,
                    "when": domain.format_when(session.starts_at, session.ends_at, tz=tz),
                    "link": links(settings).facilitator(facilitator),
                },
            )
        session.outcome_reminder_sent_at = now
        uow.session.add(session)
    return len(to_remind)


async def _escalate_missing_outcomes(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int) -> int:
    """Tell the region's lead once, `outcome_escalate_days` after a session ended without an outcome."""
    tz = ZoneInfo(settings.timezone)
    to_escalate = list(
        (
            await uow.session.execute(
                select(FeedbackSession, BookingRequest)
                .join(BookingRequest, col(BookingRequest.cycle_id) == col(FeedbackSession.cycle_id))
                .where(
                    _BOOKED,
                    col(FeedbackSession.outcome_escalated_at).is_(None),
                    col(FeedbackSession.ends_at) <= now - timedelta(days=settings.outcome_escalate_days),
                )
                .order_by(col(FeedbackSession.ends_at))
                .limit(limit)
                .with_for_update(of=FeedbackSession, skip_locked=True)
            )
        ).all()
    )
    lead_of = await lead_of_region(uow) if to_escalate else (lambda region: None)
    for session, request in to_escalate:
        lead = lead_of(request.region)
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if lead is None:
            log.warning(
                "no regional lead for the region; missing outcome not escalated",
                extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id)},
            )
        else:
            queue_email(
                uow,
                kind="outcome_escalation",
                to=lead.email,
                cycle_id=session.cycle_id,
                context={
                    "lead": lead.name,
                    "region": lead.region,
                    "days": (now - session.ends_at).days,
                    "participant_id": request.participant_id,
                    "cycle_id": str(session.cycle_id),
                    "when": domain.format_when(session.starts_at, session.ends_at, tz=tz),
                    "facilitator": facilitator.name if facilitator else "unknown",
                    "link": links(settings).lead(lead),
                },
            )
        session.outcome_escalated_at = now
        uow.session.add(session)
    return len(to_escalate)


async def lapse_unconfirmed_requests(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Withdraw requests the facilitator has not confirmed in time (facilitator confirmation mode): within
    `confirm_within_hours` of the request, or by `confirm_before_start_hours` before the start. The time
    is freed, the participant asked to choose again and the facilitator told. Returns how many lapsed."""
    rows = await uow.session.execute(
        select(FeedbackSession)
        .where(
            col(FeedbackSession.status) == SessionStatus.REQUESTED.value,
            or_(
                col(FeedbackSession.created_at) <= now - timedelta(hours=settings.confirm_within_hours),
                col(FeedbackSession.starts_at) <= now + timedelta(hours=settings.confirm_before_start_hours),
            ),
        )
        .order_by(col(FeedbackSession.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sessions = list(rows.scalars())
    tz = ZoneInfo(settings.timezone)
    for session in sessions:
        mark_cancelled(uow, session, by="not_confirmed", now=now)
        when = domain.format_when(session.starts_at, session.ends_at, tz=tz)
        participant = await uow.session.get(Participant, session.cycle_id)
        if participant is not None and participant.email:
            queue_email(
                uow,
                kind="booking_lapsed",
                to=participant.email,
                cycle_id=session.cycle_id,
                context={
                    "name": participant.name,
                    "when": when,
                    "link": links(settings).booking_url(session.cycle_id, now=now),
                },
            )
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if facilitator is not None:
            queue_email(
                uow,
                kind="request_lapsed",
                to=facilitator.email,
                cycle_id=session.cycle_id,
                context={
                    "facilitator": facilitator.name,
                    "when": when,
                    "link": links(settings).facilitator(facilitator),
                },
            )
        log.info(
            "unconfirmed session request lapsed",
            extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id)},
        )
    await uow.session.flush()
    return len(sessions)


async def send_reminders(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Remind both people of booked sessions starting within `reminder_hours_before` hours (once each)."""
    rows = await uow.session.execute(
        select(FeedbackSession)
        .where(
            col(FeedbackSession.status) == SessionStatus.BOOKED.value,
            col(FeedbackSession.reminder_sent_at).is_(None),
            col(FeedbackSession.starts_at) > now,
            col(FeedbackSession.starts_at) <= now + timedelta(hours=settings.reminder_hours_before),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sessions = list(rows.scalars())
    for session in sessions:
        await notify_both(uow, session, kind="session_reminder", method=None, settings=settings, now=now)
        session.reminder_sent_at = now
        uow.session.add(session)
    if sessions:
        log.info("session reminders queued", extra={"sessions": len(sessions)})
    return len(sessions)
