"""Capacity and double booking (real PostgreSQL): a full month is not offered, nothing to offer
waits on the attention list until times appear, concurrent bookings of one time, and the database
itself refusing overlapping sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from scheduling.tables import (
    FeedbackSession,
    OutgoingEmail,
    Slot,
)
from scheduling.usecases import booking
from shared.db import OutboxMessage
from shared.errors import Rejected
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    LONDON,
    add_facilitator,
    add_slot,
    book,
    booking_path,
    config,
    cycle_events,
    emails,
    monday_in,
    offer,
    open_booking,
    service_fixture,  # noqa: F401 (the `service` fixture)
)
from tests.support import eventually


async def test_a_full_month_is_not_offered_and_cannot_be_booked(service: ServiceUnderTest) -> None:
    busy = await add_facilitator(service, capacity=1)
    month_start = monday_in(3)
    first = await add_slot(service, busy, month_start)
    same_month = await add_slot(service, busy, month_start + timedelta(hours=4))
    next_month_day = (month_start.astimezone(LONDON).replace(day=1) + timedelta(days=40)).replace(day=3)
    next_month = await add_slot(service, busy, next_month_day.astimezone(UTC))
    one, two = await open_booking(service), await open_booking(service)
    assert {o.slot.id for o in (await offer(service, two)).options} >= {first, same_month, next_month}
    await book(service, one, first)
    offered = {o.slot.id for o in (await offer(service, two)).options}
    assert same_month not in offered and next_month in offered
    with pytest.raises(Rejected):
        await book(service, two, same_month)


async def test_nothing_to_offer_is_kept_for_retry_and_offered_when_times_appear(service: ServiceUnderTest) -> None:
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id, region="East of England")
    for _ in range(2):  # the report, then its redelivery
        async with service.runtime.uow() as uow:
            await booking.record_participant(uow, opened)
            outcome = await booking.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
            await uow.commit()
        assert outcome is booking.Outcome.UNSCHEDULED
    (row,) = [r for r in (await service.admin.get("/api/unscheduled")).json() if r["cycle_id"] == str(cycle_id)]
    assert row["report_id"] == str(report.report_id) and row["reason"].startswith("no free slot")
    assert row["attempts"] >= 2 and row["first_seen_at"] <= row["last_attempt_at"]
    assert [m.kind for m in await emails(service, cycle_id)] == []
    facilitator = await add_facilitator(service, region="East of England")
    await add_slot(service, facilitator, monday_in(2))

    async def offered() -> list[OutgoingEmail] | None:
        found = [m for m in await emails(service, cycle_id) if m.kind == "booking_offer"]
        return found or None

    await eventually(offered, what="the retry job to email the booking link")
    assert cycle_id not in {UUID(row["cycle_id"]) for row in (await service.admin.get("/api/unscheduled")).json()}


async def test_concurrent_participants_cannot_book_the_same_time(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    contested = await add_slot(service, facilitator, monday_in(2))
    cycles = [await open_booking(service) for _ in range(12)]
    responses = await asyncio.gather(
        *(service.client.post(booking_path(service, cycle_id), data={"slot": str(contested)}) for cycle_id in cycles)
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [303] + [409] * 11, codes
    loser = next(r for r in responses if r.status_code == 409)
    assert "That time has just been taken" in loser.text and "There is a problem" in loser.text
    async with service.runtime.uow() as uow:
        live = await uow.session.execute(select(FeedbackSession).where(col(FeedbackSession.slot_id) == contested))
        assert len(list(live.scalars())) == 1
        scheduled = await uow.session.execute(
            select(OutboxMessage).where(
                col(OutboxMessage.event_type) == "FeedbackSessionScheduled",
                col(OutboxMessage.key).in_([str(c) for c in cycles]),
            )
        )
        assert len(list(scheduled.scalars())) == 1


async def test_the_database_itself_refuses_overlapping_sessions(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    starts = monday_in(2)
    slot_a = await add_slot(service, facilitator, starts)
    slot_b = await add_slot(service, facilitator, starts + timedelta(hours=3))
    await book(service, await open_booking(service), slot_a)
    async with service.runtime.uow() as uow:
        with pytest.raises(IntegrityError, match="ex_session_facilitator_overlap"):
            await uow.session.execute(
                text(
                    "INSERT INTO scheduling.session (id, cycle_id, report_id, facilitator_id, slot_id, starts_at,"
                    " ends_at, mode, status, ics_path)"
                    " VALUES (:id, :cycle, :report, :f, :slot, :s, :e, 'virtual', 'booked', 'x')"
                ),
                {
                    "id": uuid4(),
                    "cycle": uuid4(),
                    "report": uuid4(),
                    "f": facilitator,
                    "slot": slot_b,
                    "s": starts + timedelta(hours=1),
                    "e": starts + timedelta(hours=3),
                },
            )
    async with service.runtime.uow() as uow:
        with pytest.raises(IntegrityError, match="ex_slot_facilitator_overlap"):
            uow.session.add(
                Slot(
                    id=uuid4(),
                    facilitator_id=facilitator,
                    starts_at=starts + timedelta(minutes=30),
                    ends_at=starts + timedelta(hours=2),
                    mode="virtual",
                )
            )
            await uow.session.flush()
