"""The participant's management line (real Kafka and PostgreSQL): a line manager announced after
opening is no longer offered, a booked facilitator who joins the line goes on the attention list,
line changes merge in any order, a line arriving before CycleOpened is kept."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlmodel import col

from scheduling.links import LinkPurpose
from scheduling.tables import (
    BookingRequest,
    OutgoingEmail,
    Participant,
)
from scheduling.usecases import booking, common, sessions
from shared.contracts.events import (
    Event,
)
from shared.db import ProcessedEvent
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    LONDON_LEAD,
    add_facilitator,
    add_slot,
    book,
    booking_path,
    config,
    cycle_events,
    emails,
    line_changed,
    monday_in,
    offer,
    open_booking,
    publish,
    service_fixture,  # noqa: F401 (the `service` fixture)
)
from tests.support import eventually


async def applied(service: ServiceUnderTest, event: Event) -> None:
    """Wait until the service's consumer has applied the event (its inbox row is committed)."""

    async def probe() -> bool:
        async with service.runtime.uow() as uow:
            found = await uow.session.execute(
                select(ProcessedEvent).where(col(ProcessedEvent.event_id) == event.event_id)
            )
            return found.first() is not None

    await eventually(probe, what=f"{event.event_type} applied")


async def participant_row(service: ServiceUnderTest, cycle_id: UUID) -> Participant:
    async with service.runtime.uow() as uow:
        row = await uow.session.get(Participant, cycle_id)
        assert row is not None
        uow.session.expunge(row)
        return row


async def offered_facilitators(service: ServiceUnderTest, cycle_id: UUID) -> set[UUID]:
    return {o.slot.facilitator_id for o in (await offer(service, cycle_id)).options}


async def manager_and_another(service: ServiceUnderTest, address: str) -> tuple[UUID, UUID, UUID, UUID]:
    """A facilitator at `address` (who joins the participant's line in the test) and another, each
    with a free time two weeks ahead: (manager, manager's slot, other, other's slot)."""
    manager = await add_facilitator(service, email_address=address)
    other = await add_facilitator(service)
    return (
        manager,
        await add_slot(service, manager, monday_in(2)),
        other,
        await add_slot(service, other, monday_in(2, hour=14)),
    )


async def test_a_line_manager_announced_after_opening_is_no_longer_offered_nor_bookable(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    tag = uuid4().hex[:8]
    # Another trust's email domain: only the management line makes them a conflict.
    new_manager, manager_slot, other, other_slot = await manager_and_another(
        service, f"Kim.Manager.{tag}@Elsewhere.example.nhs.uk"
    )
    cycle_id = await open_booking(service, management_line=(f"director.{tag}@participant.example.nhs.uk",))
    assert await offered_facilitators(service, cycle_id) == {new_manager, other}

    changed = line_changed(
        cycle_id, f"director.{tag}@participant.example.nhs.uk", f"kim.manager.{tag}@elsewhere.example.nhs.uk"
    )
    await publish(settings.hlm360_kafka_bootstrap_servers, changed)
    await applied(service, changed)
    stored = await participant_row(service, cycle_id)
    assert stored.management_line_as_of == changed.occurred_at and stored.name == "Amara Okafor"
    assert await offered_facilitators(service, cycle_id) == {other}
    page = await service.client.get(booking_path(service, cycle_id))
    assert str(other_slot) in page.text and str(manager_slot) not in page.text
    refused = await service.client.post(booking_path(service, cycle_id), data={"slot": str(manager_slot)})
    assert refused.status_code == 409 and "That time has just been taken" in refused.text


async def test_a_booked_facilitator_who_joins_the_line_puts_the_cycle_on_the_attention_list_until_cancelled(
    settings: StackSettings, service: ServiceUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scheduling")
    tag = uuid4().hex[:8]
    address = f"kim.manager.{tag}@elsewhere.example.nhs.uk"
    new_manager, slot, other, _ = await manager_and_another(service, address)
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, slot)

    changed = line_changed(cycle_id, address.upper())
    await publish(settings.hlm360_kafka_bootstrap_servers, changed)
    await applied(service, changed)

    async def listed() -> dict[str, Any] | None:
        rows = (await service.admin.get("/api/unscheduled")).json()
        return next((r for r in rows if r["cycle_id"] == str(cycle_id)), None)

    flagged = await listed()
    assert flagged is not None and flagged["reason"] == booking.BOOKED_ACROSS_THE_LINE
    api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
    assert (api["id"], api["status"]) == (str(session.id), "booked"), "the booking stands until someone cancels it"
    lead_page = common.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD)
    assert (
        "The booked facilitator is now in the participant&#39;s management line"
        in (await service.client.get(lead_page)).text
    )
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("booked facilitator is now in")]
    assert (warning.levelno, warning.cycle_id, warning.session_id, warning.facilitator_id) == (  # type: ignore[attr-defined]
        logging.WARNING,
        str(cycle_id),
        str(session.id),
        str(new_manager),
    )
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records).casefold()
    assert address not in logged

    # The retry job looks again and keeps it listed while the session stands ...
    async def looked_again() -> bool:
        async with service.runtime.uow() as uow:
            request = await uow.session.get(BookingRequest, cycle_id)
            assert request is not None and request.last_offer_attempt_at is not None
            return request.last_offer_attempt_at > datetime.fromisoformat(flagged["last_attempt_at"])

    await eventually(looked_again, what="the retry job to look at the flagged cycle again")
    assert (await listed() or {}).get("reason") == booking.BOOKED_ACROSS_THE_LINE
    # ... and takes it off once the participant cancels; the new booking cannot be with the new manager.
    async with service.runtime.uow() as uow:
        await sessions.cancel_session(
            uow,
            session_id=session.id,
            by="participant",
            settings=config(service),
            now=datetime.now(UTC),
            cycle_id=cycle_id,
        )
        await uow.commit()

    async def unlisted() -> bool:
        return await listed() is None

    await eventually(unlisted, what="the retry job to take the cancelled cycle off the attention list")
    assert await offered_facilitators(service, cycle_id) == {other}


async def test_line_changes_merge_whatever_their_order_or_the_producers_clocks(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    """The line only grows, so it is merged: a later change stamped earlier (an instance whose clock
    is behind) still adds its manager; a stale or replayed line removes nobody."""
    tag = uuid4().hex[:8]
    director, first_manager = f"director.{tag}@elsewhere.example.nhs.uk", f"jo.{tag}@elsewhere.example.nhs.uk"
    new_manager = f"kim.{tag}@elsewhere.example.nhs.uk"
    _, _, other, _ = await manager_and_another(service, new_manager)
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id, management_line=(director,))
    async with service.runtime.uow() as uow:
        await booking.record_participant(uow, opened)
        await booking.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
        await uow.commit()

    first = line_changed(cycle_id, director, first_manager)
    behind = line_changed(
        cycle_id, director, first_manager, new_manager.upper(), occurred_at=first.occurred_at - timedelta(hours=1)
    )
    stale = line_changed(cycle_id, director, occurred_at=first.occurred_at + timedelta(hours=1))
    for event in (first, behind, stale):
        await publish(settings.hlm360_kafka_bootstrap_servers, event)
        await applied(service, event)
    # as of: the newest stamp among the events that added someone
    merged = ([director, first_manager, new_manager], first.occurred_at)
    stored = await participant_row(service, cycle_id)
    assert (stored.management_line, stored.management_line_as_of) == merged
    assert await offered_facilitators(service, cycle_id) == {other}
    # Nor does the cycle's CycleOpened delivered again (the inbox would drop a redelivery; this is a replay).
    async with service.runtime.uow() as uow:
        await booking.record_participant(uow, opened)
        assert (
            await booking.change_management_line(uow, first, settings=config(service), now=datetime.now(UTC)) is False
        ), "nothing new in it"
        await uow.commit()
    stored = await participant_row(service, cycle_id)
    assert (stored.management_line, stored.management_line_as_of) == merged
    assert await offered_facilitators(service, cycle_id) == {other}


async def test_a_management_line_arriving_before_the_cycle_opened_is_kept(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    tag = uuid4().hex[:8]
    first_manager, new_manager = f"jo.{tag}@elsewhere.example.nhs.uk", f"kim.{tag}@elsewhere.example.nhs.uk"
    _, _, other, _ = await manager_and_another(service, new_manager)
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id, management_line=(first_manager,))
    changed = line_changed(cycle_id, first_manager, new_manager)
    assert changed.occurred_at > opened.occurred_at

    await publish(settings.hlm360_kafka_bootstrap_servers, changed)
    await applied(service, changed)
    early = await participant_row(service, cycle_id)
    assert (early.name, early.email, early.management_line) == (None, None, [first_manager, new_manager])
    await publish(settings.hlm360_kafka_bootstrap_servers, opened, report)
    await applied(service, opened)

    async def booking_offered() -> OutgoingEmail | None:
        return next((m for m in await emails(service, cycle_id) if m.kind == "booking_offer"), None)

    await eventually(booking_offered, what="the booking email")
    stored = await participant_row(service, cycle_id)
    assert (stored.name, stored.email, stored.organisation) == (
        "Amara Okafor",
        str(opened.participant_email),
        "Participant Trust",
    )
    assert (stored.management_line, stored.management_line_as_of) == ([first_manager, new_manager], changed.occurred_at)
    assert await offered_facilitators(service, cycle_id) == {other}
