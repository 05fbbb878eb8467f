"""The facilitator directory on Kafka and availability: announcing facilitators, keeping given
facilitators' diaries open (the demo's), publishing and removing free times (AvailabilityPublished).
The caller commits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from scheduling import domain, forms
from scheduling.config import Settings
from scheduling.tables import (
    Facilitator,
    FeedbackSession,
    Slot,
)
from scheduling.usecases.common import free_slots
from shared.contracts.events import (
    AvailabilityPublished,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
)
from shared.contracts.vocabulary import SessionMode
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


async def ensure_availability(
    uow: UnitOfWork, *, facilitator_ids: Sequence[UUID], settings: Settings, today: date
) -> int:
    """Give each active accredited facilitator of `facilitator_ids` (the demo's) weekday slots for the
    coming weeks; returns slots added."""
    tz = ZoneInfo(settings.timezone)
    rows = await uow.session.execute(select(Facilitator).where(col(Facilitator.id).in_(list(facilitator_ids))))
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
        {"id": uuid4(), "facilitator_id": f.id, "starts_at": start, "ends_at": end, "mode": SessionMode.VIRTUAL.value}
        for f in facilitators
        for start, end in times
    ]
    # No conflict target: skips both a repeated start and an overlap with a slot the facilitator added.
    result = await uow.session.execute(
        insert(Slot).values(values).on_conflict_do_nothing().returning(col(Slot.facilitator_id))
    )
    added = [row[0] for row in result.all()]
    for facilitator_id in sorted(set(added), key=str):
        await publish_availability_summary(
            uow, facilitator_id=facilitator_id, now=datetime.combine(today, datetime.min.time(), tzinfo=tz)
        )
    if added:
        log.info("availability added", extra={"slots": len(added), "facilitators": len(set(added))})
    return len(added)


async def publish_availability_summary(uow: UnitOfWork, *, facilitator_id: UUID, now: datetime) -> None:
    """AvailabilityPublished: how many free future slots a facilitator has, and the next one."""
    free = await free_slots(uow, facilitator_ids=[facilitator_id], not_before=now, per_facilitator=10_000)
    uow.emit(
        AvailabilityPublished(
            producer="scheduling",
            facilitator_id=facilitator_id,
            free_slots=len(free),
            next_free_slot_at=free[0].starts_at if free else None,
            modes=sorted({SessionMode(s.mode) for s in free}),
        )
    )


def directory_events(
    facilitator: Facilitator,
) -> list[FacilitatorRegistered | FacilitatorAccredited | FacilitatorStatusChanged]:
    """The events that describe a facilitator to other services (registration, accreditation, status)."""
    events: list[FacilitatorRegistered | FacilitatorAccredited | FacilitatorStatusChanged] = [
        FacilitatorRegistered(
            producer="scheduling",
            facilitator_id=facilitator.id,
            name=facilitator.name,
            email=facilitator.email,
            region=facilitator.region,
            organisation=facilitator.organisation,
            languages=[domain.language_name(code) for code in facilitator.languages] or ["English"],
            monthly_capacity=facilitator.monthly_capacity,
        )
    ]
    view = facilitator.rules_view()
    if domain.is_accredited(view):
        assert facilitator.elearning_score is not None and facilitator.course_completed_on is not None
        events.append(
            FacilitatorAccredited(
                producer="scheduling",
                facilitator_id=facilitator.id,
                elearning_score=facilitator.elearning_score,
                elearning_passed_on=facilitator.elearning_passed_on or facilitator.course_completed_on,
                course_completed_on=facilitator.course_completed_on,
            )
        )
    events.append(
        FacilitatorStatusChanged(producer="scheduling", facilitator_id=facilitator.id, status=view.status.value)
    )  # type: ignore[arg-type]
    return events


async def announce_facilitators(uow: UnitOfWork, *, now: datetime) -> int:
    """Publish the directory events of facilitators not yet announced (those written without the
    register's use case, such as the demo's seed, once)."""
    rows = await uow.session.execute(
        select(Facilitator).where(col(Facilitator.announced_at).is_(None)).with_for_update(skip_locked=True)
    )
    facilitators = list(rows.scalars())
    for facilitator in facilitators:
        for event in directory_events(facilitator):
            uow.emit(event)
        await publish_availability_summary(uow, facilitator_id=facilitator.id, now=now)
        facilitator.announced_at = now
        uow.session.add(facilitator)
    if facilitators:
        log.info("facilitators announced", extra={"facilitators": len(facilitators)})
    return len(facilitators)


async def publish_slots(
    uow: UnitOfWork, *, facilitator: Facilitator, availability: forms.AvailabilityInput, now: datetime
) -> list[Slot]:
    """Add weekly slots at the facilitator's local wall-clock time (DST-correct); overlaps are refused."""
    tz = ZoneInfo(facilitator.timezone)
    duration = timedelta(minutes=availability.minutes)
    starts = domain.weekly_starts(availability.first_day, availability.start, weeks=availability.weeks, tz=tz)
    if starts[0] <= now:
        raise Rejected("The first session must start in the future")
    existing = await uow.session.execute(
        select(Slot).where(
            col(Slot.facilitator_id) == facilitator.id,
            col(Slot.ends_at) > starts[0],
            col(Slot.starts_at) < starts[-1] + duration,
        )
    )
    mine = list(existing.scalars())
    for start in starts:
        clash = next((s for s in mine if domain.overlaps(s.starts_at, s.ends_at, start, start + duration)), None)
        if clash is not None:
            local = clash.starts_at.astimezone(tz)
            raise Rejected(
                f"You already have a time on {local:%A} {local.day} {local:%B %Y} at {local:%H:%M} "
                "that overlaps. Choose a different time or fewer weeks"
            )
    slots = [
        Slot(
            id=uuid4(),
            facilitator_id=facilitator.id,
            starts_at=start,
            ends_at=start + duration,
            mode=availability.mode,
            location=availability.location if availability.mode == "in_person" else None,
        )
        for start in starts
    ]
    try:
        async with uow.session.begin_nested():
            uow.session.add_all(slots)
            await uow.session.flush()
    except IntegrityError as error:  # a concurrent publication took an overlapping time
        raise Rejected("One of these times overlaps a time you have just added. Check your times") from error
    await publish_availability_summary(uow, facilitator_id=facilitator.id, now=now)
    log.info("availability published", extra={"facilitator_id": str(facilitator.id), "slots": len(slots)})
    return slots


async def remove_slot(uow: UnitOfWork, *, facilitator: Facilitator, slot_id: UUID, now: datetime) -> None:
    slot = await uow.session.get(Slot, slot_id, with_for_update=True)
    if slot is None or slot.facilitator_id != facilitator.id:
        raise Rejected("There is no such time")
    used = await uow.session.execute(select(col(FeedbackSession.id)).where(col(FeedbackSession.slot_id) == slot_id))
    if used.first() is not None:
        raise Rejected("This time has a session booked on it (now or before), so it cannot be removed")
    await uow.session.delete(slot)
    await uow.session.flush()
    await publish_availability_summary(uow, facilitator_id=facilitator.id, now=now)


async def bookable_facilitators(uow: UnitOfWork) -> list[Facilitator]:
    """Active accredited facilitators, by region and name (the public directory)."""
    rows = await uow.session.execute(
        select(Facilitator)
        .where(col(Facilitator.status) == domain.FacilitatorStatus.ACTIVE.value)
        .order_by(col(Facilitator.region), col(Facilitator.name))
    )
    return [f for f in rows.scalars() if domain.can_facilitate(f.rules_view())]
