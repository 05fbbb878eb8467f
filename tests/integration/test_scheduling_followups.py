"""Follow-ups and escalation (real PostgreSQL): participants who have not chosen a time, sessions
without an outcome, reminders before sessions, unbooked sessions escalated to the regional lead."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import select
from sqlmodel import col

from scheduling.links import LinkPurpose
from scheduling.tables import (
    BookingRequest,
    RegionalLead,
)
from scheduling.usecases import common, followups, sessions
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    LONDON_LEAD,
    add_facilitator,
    add_slot,
    book,
    booking_link_in,
    config,
    emails,
    monday_in,
    open_booking,
    outbox,
    service_fixture,  # noqa: F401 (the `service` fixture)
)


async def test_a_participant_who_has_not_chosen_a_time_is_reminded_once(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    await add_slot(service, facilitator, monday_in(2, hour=14))
    waiting, booked = await open_booking(service), await open_booking(service)
    await book(service, booked, slot)
    async with service.runtime.uow() as uow:
        request = await uow.session.get(BookingRequest, waiting)
        assert request is not None and request.offered_at is not None
        offered = request.offered_at

    async def reminders_after(after: timedelta) -> dict[UUID, int]:
        """Run the job `after` the offer; booking reminders so far of this test's two cycles (the
        service may also hold other tests' cycles, from their events on the same topics)."""
        async with service.runtime.uow() as uow:
            await followups.remind_unbooked(uow, settings=config(service), now=offered + after)
            await uow.commit()
        return {
            cycle: len([m for m in await emails(service, cycle) if m.kind == "booking_reminder"])
            for cycle in (waiting, booked)
        }

    assert await reminders_after(timedelta(days=2)) == {waiting: 0, booked: 0}
    assert await reminders_after(timedelta(days=3, hours=1)) == {waiting: 1, booked: 0}, "only the one to choose"
    assert await reminders_after(timedelta(days=4)) == {waiting: 1, booked: 0}, "once"
    (reminder,) = [m for m in await emails(service, waiting) if m.kind == "booking_reminder"]
    assert booking_link_in(service, waiting, reminder.body) and "not chosen a time" in reminder.body


async def test_a_session_without_an_outcome_is_chased_with_the_facilitator_then_the_lead(
    service: ServiceUnderTest,
) -> None:
    facilitator = await add_facilitator(service)
    cycle_id, done_cycle = await open_booking(service), await open_booking(service)
    session = await book(service, cycle_id, await add_slot(service, facilitator, monday_in(2)))
    done = await book(service, done_cycle, await add_slot(service, facilitator, monday_in(2, hour=14)))
    async with service.runtime.uow() as uow:  # the other session's outcome is recorded: never chased
        await sessions.record_outcome(
            uow,
            facilitator_id=facilitator,
            session_id=done.id,
            outcome="completed",
            now=done.ends_at + timedelta(minutes=5),
        )
        await uow.commit()

    async def chase(after_end: timedelta) -> tuple[int, int]:
        async with service.runtime.uow() as uow:
            chased = await followups.chase_outcomes(uow, settings=config(service), now=session.ends_at + after_end)
            await uow.commit()
        return chased

    assert await chase(timedelta(hours=23)) == (0, 0)
    assert await chase(timedelta(hours=25)) == (1, 0)
    assert await chase(timedelta(hours=26)) == (0, 0), "reminded once"
    assert await chase(timedelta(days=7, hours=1)) == (0, 1)
    assert await chase(timedelta(days=8)) == (0, 0), "told once"

    sent = {m.kind: m for m in await emails(service, cycle_id)}
    links = common.links(config(service))
    reminder, escalation = sent["outcome_reminder"], sent["outcome_escalation"]
    assert reminder.to_address.startswith("f.") and links.path(LinkPurpose.FACILITATOR, facilitator) in reminder.body
    assert escalation.to_address == "london.lead@hlm360.example.nhs.uk"
    assert links.path(LinkPurpose.LEAD, LONDON_LEAD) in escalation.body
    assert f"P-{cycle_id.hex[:6]}" in escalation.body and "still held" in escalation.body
    assert not [m for m in await emails(service, done_cycle) if m.kind.startswith("outcome_")]

    # Recording the outcome late still works and releases the report as usual.
    async with service.runtime.uow() as uow:
        await sessions.record_outcome(
            uow,
            facilitator_id=facilitator,
            session_id=session.id,
            outcome="completed",
            now=session.ends_at + timedelta(days=8),
        )
        await uow.commit()
    assert [
        e["session_id"] for e in await outbox(service, "FeedbackSessionCompleted") if e["cycle_id"] == str(cycle_id)
    ] == [str(session.id)]


async def test_reminders_go_to_both_once(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, slot)
    for when, expected in (
        (session.starts_at - timedelta(hours=30), 0),
        (session.starts_at - timedelta(hours=20), 1),
        (session.starts_at - timedelta(hours=10), 0),
    ):
        async with service.runtime.uow() as uow:
            count = await followups.send_reminders(uow, settings=config(service), now=when)
            await uow.commit()
        assert count == expected
    reminders = [m for m in await emails(service, cycle_id) if m.kind == "session_reminder"]
    assert len(reminders) == 2 and len({m.to_address for m in reminders}) == 2


async def test_unbooked_sessions_are_escalated_to_the_regional_lead_once(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service, region="North West")
    await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service, region="north  west")
    async with service.runtime.uow() as uow:
        request = await uow.session.get(BookingRequest, cycle_id)
        assert request is not None
        created = request.created_at
    for days, escalated_in_total in ((6, 0), (8, 1), (9, 1)):
        async with service.runtime.uow() as uow:
            await followups.escalate_unbooked(uow, settings=config(service), now=created + timedelta(days=days))
            await uow.commit()
        escalations = [m for m in await emails(service, cycle_id) if m.kind == "escalation"]
        assert len(escalations) == escalated_in_total, f"after {days} days"
    (escalation,) = [m for m in await emails(service, cycle_id) if m.kind == "escalation"]
    assert escalation.to_address == "northwest.lead@hlm360.example.nhs.uk"
    async with service.runtime.uow() as uow:
        lead_id = (
            await uow.session.execute(select(col(RegionalLead.id)).where(col(RegionalLead.region) == "North West"))
        ).scalar_one()
    lead_page = common.links(config(service)).path(LinkPurpose.LEAD, lead_id)
    assert lead_page in escalation.body
    page = await service.client.get(lead_page)
    assert page.status_code == 200 and f"P-{cycle_id.hex[:6]}" in page.text and "escalated to you" in page.text
