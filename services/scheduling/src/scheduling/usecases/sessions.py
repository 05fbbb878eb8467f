"""Sessions and completion: the facilitator confirms, declines, moves or cancels a session, or records
its outcome (completed or no-show, which releases the report). The caller commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from scheduling import domain, ics
from scheduling.config import Settings
from scheduling.domain import SessionStatus
from scheduling.tables import (
    BookingRequest,
    Callout,
    CalloutVolunteer,
    CpdEvent,
    CpdRegistration,
    Facilitator,
    FeedbackSession,
    Participant,
)
from scheduling.usecases.common import (
    LIVE,
    SLOT_TAKEN,
    Actor,
    announce_booked,
    correlation_of,
    free_slots,
    links,
    lock_facilitator_month,
    mark_cancelled,
    notify_both,
    queue_email,
    write_calendar_file,
)
from scheduling.usecases.community import cpd_record, open_callouts, upcoming_cpd_events
from shared.contracts.events import (
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
)
from shared.contracts.vocabulary import SessionMode
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


async def _session_for_update(uow: UnitOfWork, *, session_id: UUID, facilitator_id: UUID | None) -> FeedbackSession:
    result = await uow.session.execute(
        select(FeedbackSession).where(col(FeedbackSession.id) == session_id).with_for_update()
    )
    session: FeedbackSession | None = result.scalars().first()
    if session is None or (facilitator_id is not None and session.facilitator_id != facilitator_id):
        raise Rejected("There is no such session")
    return session


async def confirm_session(
    uow: UnitOfWork, *, facilitator_id: UUID, session_id: UUID, settings: Settings, now: datetime
) -> FeedbackSession:
    """The facilitator confirms a requested session: it is booked and both get the invitation."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    domain.check_can_confirm(SessionStatus(session.status))
    request = await uow.session.get(BookingRequest, session.cycle_id)
    assert request is not None
    session.status = SessionStatus.BOOKED.value
    session.confirmed_at = now
    session.updated_at = now
    uow.session.add(session)
    await uow.session.flush()
    await announce_booked(uow, session, request=request, settings=settings, now=now)
    return session


async def cancel_session(
    uow: UnitOfWork,
    *,
    session_id: UUID,
    by: Actor,
    settings: Settings,
    now: datetime,
    facilitator_id: UUID | None = None,
    cycle_id: UUID | None = None,
) -> FeedbackSession:
    """Cancel (or, for a request, decline) a session that is still to come; the participant may choose again."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    if cycle_id is not None and session.cycle_id != cycle_id:
        raise Rejected("There is no such session")
    status = SessionStatus(session.status)
    domain.check_can_change(status, starts_at=session.starts_at, now=now)
    mark_cancelled(uow, session, by=by, now=now)
    await uow.session.flush()
    if status is SessionStatus.REQUESTED:
        participant = await uow.session.get(Participant, session.cycle_id)
        if by != "participant" and participant is not None and participant.email:
            queue_email(
                uow,
                kind="booking_declined",
                to=participant.email,
                cycle_id=session.cycle_id,
                context={
                    "name": participant.name,
                    "when": domain.format_when(session.starts_at, session.ends_at, tz=ZoneInfo(settings.timezone)),
                    "link": links(settings).booking_url(session.cycle_id, now=now),
                },
            )
        return session
    await write_calendar_file(uow, session, settings=settings, now=now, method=ics.CANCEL)
    uow.emit(
        FeedbackSessionCancelled(
            producer="scheduling",
            correlation_id=await correlation_of(uow, session),
            cycle_id=session.cycle_id,
            session_id=session.id,
            reason=by,
        )
    )
    await notify_both(
        uow, session, kind="session_cancelled", method=ics.CANCEL, settings=settings, now=now, cancelled_by=by
    )
    log.info("feedback session cancelled", extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id)})
    return session


async def _move_to(
    uow: UnitOfWork,
    session: FeedbackSession,
    target: domain.FreeSlot,
    *,
    facilitator: Facilitator,
    settings: Settings,
    now: datetime,
) -> None:
    """Put the session on the target slot under the facilitator's month lock; SLOT_TAKEN if it went."""
    try:
        async with uow.session.begin_nested():
            await lock_facilitator_month(
                uow, facilitator, starts_at=target.starts_at, tz=ZoneInfo(settings.timezone), excluding=session.id
            )
            session.slot_id = target.id
            session.starts_at = target.starts_at
            session.ends_at = target.ends_at
            session.mode = target.mode
            session.location = target.location
            session.sequence += 1
            session.reminder_sent_at = None
            session.updated_at = now
            uow.session.add(session)
            await uow.session.flush()
    except IntegrityError as error:
        await uow.session.refresh(session)
        raise Rejected(SLOT_TAKEN) from error


async def reschedule_session(
    uow: UnitOfWork,
    *,
    session_id: UUID,
    slot_id: UUID,
    by: Actor,
    settings: Settings,
    now: datetime,
    facilitator_id: UUID | None = None,
    cycle_id: UUID | None = None,
) -> FeedbackSession:
    """Move a booked session to another free slot of the same facilitator (same calendar event, SEQUENCE+1)."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    if cycle_id is not None and session.cycle_id != cycle_id:
        raise Rejected("There is no such session")
    status = SessionStatus(session.status)
    domain.check_can_change(status, starts_at=session.starts_at, now=now)
    if status is not SessionStatus.BOOKED:
        raise Rejected("Confirm or decline the request before moving it")
    candidates = await free_slots(
        uow,
        facilitator_ids=[session.facilitator_id],
        not_before=now + timedelta(hours=settings.min_notice_hours),
        per_facilitator=settings.slot_search_limit,
    )
    target = next((s for s in candidates if s.id == slot_id), None)
    if target is None:
        raise Rejected(SLOT_TAKEN)
    facilitator = await uow.session.get(Facilitator, session.facilitator_id)
    assert facilitator is not None
    previous = domain.format_when(session.starts_at, session.ends_at, tz=ZoneInfo(settings.timezone))
    await _move_to(uow, session, target, facilitator=facilitator, settings=settings, now=now)
    await write_calendar_file(uow, session, settings=settings, now=now)
    uow.emit(
        FeedbackSessionRescheduled(
            producer="scheduling",
            correlation_id=await correlation_of(uow, session),
            cycle_id=session.cycle_id,
            session_id=session.id,
            facilitator_id=session.facilitator_id,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            mode=SessionMode(session.mode),
        )
    )
    await notify_both(
        uow,
        session,
        kind="session_rescheduled",
        method=ics.REQUEST,
        settings=settings,
        now=now,
        extra={"previous_when": previous},
    )
    log.info(
        "feedback session rescheduled",
        extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id), "sequence": session.sequence},
    )
    return session


async def record_outcome(
    uow: UnitOfWork,
    *,
    facilitator_id: UUID,
    session_id: UUID,
    outcome: Literal["completed", "no_show"],
    now: datetime,
) -> FeedbackSession:
    """The facilitator records that the session took place (releases the report) or that nobody came."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    domain.check_can_record_outcome(SessionStatus(session.status), starts_at=session.starts_at, now=now)
    session.status = SessionStatus(outcome).value
    session.outcome_at = now
    session.updated_at = now
    uow.session.add(session)
    uow.emit(
        FeedbackSessionCompleted(
            producer="scheduling",
            correlation_id=await correlation_of(uow, session),
            cycle_id=session.cycle_id,
            session_id=session.id,
            report_id=session.report_id,
            facilitator_id=session.facilitator_id,
            outcome=outcome,
        )
    )
    log.info(
        "feedback session outcome recorded",
        extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id), "outcome": outcome},
    )
    return session


async def cancel_future_sessions(uow: UnitOfWork, *, facilitator_id: UUID, settings: Settings, now: datetime) -> int:
    """A facilitator can no longer take their sessions: cancel those still to come (participants choose again)."""
    rows = await uow.session.execute(
        select(col(FeedbackSession.id)).where(
            col(FeedbackSession.facilitator_id) == facilitator_id,
            col(FeedbackSession.starts_at) > now,
            col(FeedbackSession.status).in_([s.value for s in domain.CHANGEABLE_STATUSES]),
        )
    )
    ids = list(rows.scalars())
    for session_id in ids:
        await cancel_session(uow, session_id=session_id, by="admin", settings=settings, now=now)
    return len(ids)


# --- what the facilitator's pages show ----------------------------------------------------------------


@dataclass(frozen=True)
class FacilitatorHome:
    """The facilitator's page: their sessions, free times, call-outs and CPD events of their region."""

    sessions: list[FeedbackSession]
    free: list[domain.FreeSlot]
    callouts: list[tuple[Callout, CalloutVolunteer | None]]
    events: list[tuple[CpdEvent, CpdRegistration | None]]
    cpd: list[CpdEvent]


async def facilitator_home(uow: UnitOfWork, *, facilitator: Facilitator, today: date, now: datetime) -> FacilitatorHome:
    rows = await uow.session.execute(
        select(FeedbackSession)
        .where(col(FeedbackSession.facilitator_id) == facilitator.id, LIVE)
        .order_by(col(FeedbackSession.starts_at))
    )
    return FacilitatorHome(
        sessions=list(rows.scalars()),
        free=await free_slots(uow, facilitator_ids=[facilitator.id], not_before=now, per_facilitator=40),
        callouts=await open_callouts(uow, facilitator=facilitator, today=today),
        events=await upcoming_cpd_events(uow, facilitator=facilitator, now=now),
        cpd=await cpd_record(uow, facilitator_id=facilitator.id),
    )


@dataclass(frozen=True)
class RescheduleChoices:
    session: FeedbackSession
    free: list[domain.FreeSlot]


async def reschedule_choices(
    uow: UnitOfWork, *, facilitator: Facilitator, session_id: UUID, settings: Settings, now: datetime
) -> RescheduleChoices | None:
    """The facilitator's session and the free times it may move to; None if it is not theirs."""
    session = await uow.session.get(FeedbackSession, session_id)
    if session is None or session.facilitator_id != facilitator.id:
        return None
    free = await free_slots(
        uow,
        facilitator_ids=[facilitator.id],
        not_before=now + timedelta(hours=settings.min_notice_hours),
        per_facilitator=settings.offer_limit * 2,
    )
    return RescheduleChoices(session=session, free=free)
