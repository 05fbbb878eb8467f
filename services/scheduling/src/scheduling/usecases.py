"""Use cases of the scheduling service. Each runs inside the caller's unit of work; the caller
(a Kafka handler or a background job) commits, so one use case is one transaction."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col

from scheduling import domain, ics
from scheduling.config import Settings
from scheduling.tables import Facilitator, FeedbackSession, Slot, UnscheduledCycle
from shared.contracts.events import FeedbackSessionScheduled, ReportGenerated
from shared.contracts.vocabulary import SessionMode
from shared.db import UnitOfWork

log = logging.getLogger(__name__)

LIVE = col(FeedbackSession.status) != domain.SessionStatus.CANCELLED.value


class Outcome(StrEnum):
    BOOKED = "booked"
    ALREADY_BOOKED = "already_booked"
    UNSCHEDULED = "unscheduled"


@dataclass(frozen=True)
class BookingRequest:
    """A report waiting for its feedback session (from ReportGenerated, or a retry)."""

    cycle_id: UUID
    report_id: UUID
    participant_id: str
    organisation: str
    region: str
    chosen_facilitator_id: UUID | None
    correlation_id: UUID | None

    @classmethod
    def from_event(cls, report: ReportGenerated) -> BookingRequest:
        return cls(
            cycle_id=report.cycle_id,
            report_id=report.report_id,
            participant_id=report.participant_id,
            organisation=report.organisation,
            region=report.region,
            chosen_facilitator_id=report.facilitator_id,
            correlation_id=report.correlation_id or report.event_id,
        )

    @classmethod
    def from_unscheduled(cls, row: UnscheduledCycle) -> BookingRequest:
        return cls(
            cycle_id=row.cycle_id,
            report_id=row.report_id,
            participant_id=row.participant_id,
            organisation=row.organisation,
            region=row.region,
            chosen_facilitator_id=row.chosen_facilitator_id,
            correlation_id=row.correlation_id,
        )


class _MonthFull(Exception):
    """Raised inside a savepoint to roll it back (and release its row lock)."""


class _Attempt(StrEnum):
    BOOKED = "booked"
    TAKEN = "taken"
    MONTH_FULL = "month_full"


async def book_feedback_session(
    uow: UnitOfWork, request: BookingRequest, *, settings: Settings, now: datetime | None = None
) -> Outcome:
    """Book the earliest suitable slot with a matching facilitator, or record the cycle as unscheduled."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.timezone)
    if await _session_of(uow, cycle_id=request.cycle_id) is not None:
        await _mark_scheduled(uow, cycle_id=request.cycle_id, now=now)
        return Outcome.ALREADY_BOOKED

    match = domain.MatchRequest(
        organisation=request.organisation,
        region=request.region,
        chosen_facilitator_id=request.chosen_facilitator_id,
    )
    active = await uow.session.execute(
        select(Facilitator).where(col(Facilitator.status) == domain.FacilitatorStatus.ACTIVE.value)
    )
    ranked = domain.ranked_facilitators((f.rules_view() for f in active.scalars()), request=match)
    if not ranked:
        await _record_unscheduled(
            uow, request, now=now, reason="no active accredited facilitator without a conflict of interest"
        )
        return Outcome.UNSCHEDULED

    not_before = now + timedelta(hours=settings.min_notice_hours)
    facilitator_ids = [facilitator.id for _, facilitator in ranked]
    free = await _free_slots(
        uow, facilitator_ids=facilitator_ids, not_before=not_before, per_facilitator=settings.slot_search_limit
    )
    booked = domain.count_by_month(
        await _live_bookings(uow, facilitator_ids=facilitator_ids, since=domain.month_bounds(
            domain.month_key(now, tz=tz), tz=tz)[0]),
        tz=tz,
    )
    options = domain.booking_options(ranked=ranked, free_slots=free, booked=booked, not_before=not_before, tz=tz)
    capacity = {facilitator.id: facilitator.monthly_capacity for _, facilitator in ranked}

    session_id = uuid4()
    path = ics.ics_path(settings.output_dir, cycle_id=request.cycle_id)
    chosen: domain.FreeSlot | None = None
    full: set[tuple[UUID, domain.MonthKey]] = set()
    attempts = 0
    for option in options:
        month = (option.facilitator_id, domain.month_key(option.starts_at, tz=tz))
        if month in full:
            continue
        if attempts >= settings.max_booking_attempts:
            break
        attempts += 1
        attempt = await _try_book(
            uow, request, option=option, session_id=session_id, ics_path=path,
            monthly_capacity=capacity[option.facilitator_id], tz=tz,
        )
        if attempt is _Attempt.BOOKED:
            chosen = option
            break
        if attempt is _Attempt.MONTH_FULL:
            full.add(month)  # concurrent bookings used the last places: skip this facilitator's month
        elif await _session_of(uow, cycle_id=request.cycle_id) is not None:
            return Outcome.ALREADY_BOOKED  # a concurrent delivery for the same cycle won the race

    if chosen is None:
        reason = (
            f"no free slot at least {settings.min_notice_hours}h ahead with monthly capacity "
            f"among {len(ranked)} matching facilitator(s)"
            if not options
            else f"{attempts} candidate slot(s) tried were taken or their facilitator's month was full"
        )
        await _record_unscheduled(uow, request, now=now, reason=reason)
        return Outcome.UNSCHEDULED

    mode = SessionMode(chosen.mode)
    content = ics.session_ics(
        session_id=session_id, starts_at=chosen.starts_at, ends_at=chosen.ends_at, mode=mode, stamp=now
    )
    # Written before commit: if the commit fails, the redelivery books again and overwrites this file.
    await asyncio.to_thread(ics.write_atomically, path, content)
    await _mark_scheduled(uow, cycle_id=request.cycle_id, now=now)
    uow.emit(
        FeedbackSessionScheduled(
            producer="scheduling",
            correlation_id=request.correlation_id,
            cycle_id=request.cycle_id,
            session_id=session_id,
            report_id=request.report_id,
            facilitator_id=chosen.facilitator_id,
            starts_at=chosen.starts_at,
            ends_at=chosen.ends_at,
            mode=mode,
        )
    )
    log.info(
        "feedback session booked",
        extra={
            "cycle_id": str(request.cycle_id),
            "session_id": str(session_id),
            "facilitator_id": str(chosen.facilitator_id),
            "options": len(options),
        },
    )
    return Outcome.BOOKED


async def _mark_scheduled(uow: UnitOfWork, *, cycle_id: UUID, now: datetime) -> None:
    waiting = await uow.session.get(UnscheduledCycle, cycle_id)
    if waiting is not None and waiting.scheduled_at is None:
        waiting.scheduled_at = now
        uow.session.add(waiting)


async def _session_of(uow: UnitOfWork, *, cycle_id: UUID) -> FeedbackSession | None:
    result = await uow.session.execute(select(FeedbackSession).where(col(FeedbackSession.cycle_id) == cycle_id))
    return result.scalars().first()


async def _free_slots(
    uow: UnitOfWork, *, facilitator_ids: list[UUID], not_before: datetime, per_facilitator: int
) -> list[domain.FreeSlot]:
    """The earliest slots of each facilitator that no live session overlaps."""
    booked = aliased(FeedbackSession)
    overlapping = exists().where(
        col(booked.facilitator_id) == col(Slot.facilitator_id),
        col(booked.status) != domain.SessionStatus.CANCELLED.value,
        and_(col(booked.starts_at) < Slot.ends_at, col(booked.ends_at) > Slot.starts_at),
    )
    numbered = (
        select(
            col(Slot.id),
            col(Slot.facilitator_id),
            col(Slot.starts_at),
            col(Slot.ends_at),
            col(Slot.mode),
            func.row_number()
            .over(partition_by=col(Slot.facilitator_id), order_by=col(Slot.starts_at))
            .label("n"),
        )
        .where(col(Slot.facilitator_id).in_(facilitator_ids), col(Slot.starts_at) >= not_before, ~overlapping)
        .subquery()
    )
    rows = await uow.session.execute(
        select(numbered.c.id, numbered.c.facilitator_id, numbered.c.starts_at, numbered.c.ends_at, numbered.c.mode)
        .where(numbered.c.n <= per_facilitator)
    )
    return [
        domain.FreeSlot(id=row.id, facilitator_id=row.facilitator_id, starts_at=row.starts_at,
                        ends_at=row.ends_at, mode=row.mode)
        for row in rows
    ]


async def _live_bookings(
    uow: UnitOfWork, *, facilitator_ids: list[UUID], since: datetime
) -> list[tuple[UUID, datetime]]:
    rows = await uow.session.execute(
        select(col(FeedbackSession.facilitator_id), col(FeedbackSession.starts_at)).where(
            col(FeedbackSession.facilitator_id).in_(facilitator_ids),
            col(FeedbackSession.starts_at) >= since,
            LIVE,
        )
    )
    return [(row[0], row[1]) for row in rows]


async def _try_book(
    uow: UnitOfWork,
    request: BookingRequest,
    *,
    option: domain.FreeSlot,
    session_id: UUID,
    ics_path: Path,
    monthly_capacity: int,
    tz: ZoneInfo,
) -> _Attempt:
    """Insert the session inside a SAVEPOINT: a lost race rolls back only this attempt."""
    try:
        async with uow.session.begin_nested():
            # Serialise bookings per facilitator so two concurrent bookings cannot both take the last place.
            await uow.session.execute(
                select(col(Facilitator.id)).where(col(Facilitator.id) == option.facilitator_id).with_for_update()
            )
            month_start, month_end = domain.month_bounds(domain.month_key(option.starts_at, tz=tz), tz=tz)
            used = (
                await uow.session.execute(
                    select(func.count()).where(
                        col(FeedbackSession.facilitator_id) == option.facilitator_id,
                        col(FeedbackSession.starts_at) >= month_start,
                        col(FeedbackSession.starts_at) < month_end,
                        LIVE,
                    )
                )
            ).scalar_one()
            if not domain.has_capacity(booked_in_month=used, monthly_capacity=monthly_capacity):
                raise _MonthFull
            await uow.session.execute(
                insert(FeedbackSession).values(
                    id=session_id,
                    cycle_id=request.cycle_id,
                    report_id=request.report_id,
                    facilitator_id=option.facilitator_id,
                    slot_id=option.id,
                    starts_at=option.starts_at,
                    ends_at=option.ends_at,
                    mode=option.mode,
                    status=domain.SessionStatus.BOOKED.value,
                    ics_path=str(ics_path),
                )
            )
    except _MonthFull:
        return _Attempt.MONTH_FULL
    except IntegrityError:
        return _Attempt.TAKEN
    return _Attempt.BOOKED


async def _record_unscheduled(uow: UnitOfWork, request: BookingRequest, *, now: datetime, reason: str) -> None:
    """Keep the cycle on the needs-attention list (one row per cycle, attempts counted)."""
    statement = insert(UnscheduledCycle).values(
        cycle_id=request.cycle_id,
        report_id=request.report_id,
        participant_id=request.participant_id,
        organisation=request.organisation,
        region=request.region,
        chosen_facilitator_id=request.chosen_facilitator_id,
        correlation_id=request.correlation_id,
        reason=reason,
        attempts=1,
        first_seen_at=now,
        last_attempt_at=now,
    )
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(UnscheduledCycle.cycle_id)],
            set_={
                "reason": reason,
                "attempts": UnscheduledCycle.__table__.c.attempts + 1,  # type: ignore[attr-defined]
                "last_attempt_at": now,
                "scheduled_at": None,
            },
        )
    )
    log.warning("feedback session could not be scheduled", extra={"cycle_id": str(request.cycle_id)})


async def claim_unscheduled(uow: UnitOfWork, *, attempted_before: datetime) -> UnscheduledCycle | None:
    """Lock the longest-waiting unscheduled cycle not yet retried in this round (other instances skip it)."""
    result = await uow.session.execute(
        select(UnscheduledCycle)
        .where(
            col(UnscheduledCycle.scheduled_at).is_(None),
            col(UnscheduledCycle.last_attempt_at) < attempted_before,
        )
        .order_by(col(UnscheduledCycle.last_attempt_at))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return result.scalars().first()


async def ensure_availability(uow: UnitOfWork, *, settings: Settings, today: date) -> int:
    """Give each active accredited seeded facilitator weekday slots for the coming weeks; returns slots added."""
    tz = ZoneInfo(settings.timezone)
    rows = await uow.session.execute(
        select(Facilitator).where(col(Facilitator.id).in_(domain.SEEDED_FACILITATOR_IDS))
    )
    facilitators = [f for f in rows.scalars() if domain.can_facilitate(f.rules_view())]
    times = domain.weekday_slots(
        first_day=today,
        days=settings.availability_days_ahead,
        local_times=settings.availability_local_times,
        duration=timedelta(minutes=settings.availability_slot_minutes),
        tz=tz,
    )
    if not facilitators or not times:
        return 0
    values = [
        {"id": uuid4(), "facilitator_id": f.id, "starts_at": start, "ends_at": end,
         "mode": SessionMode.VIRTUAL.value}
        for f in facilitators
        for start, end in times
    ]
    result = await uow.session.execute(
        insert(Slot)
        .values(values)
        .on_conflict_do_nothing(index_elements=[col(Slot.facilitator_id), col(Slot.starts_at)])
        .returning(col(Slot.id))
    )
    added = len(result.all())
    if added:
        log.info("availability added", extra={"slots": added, "facilitators": len(facilitators)})
    return added
