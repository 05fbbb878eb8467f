"""Scheduling in-process against real Kafka, PostgreSQL and SMTP: offering times, matching rules,
capacity, no double booking under concurrency, calendar updates, outcomes, reminders, escalation."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from scheduling import registry, usecases
from scheduling.config import Settings
from scheduling.domain import SEEDED_FACILITATOR_IDS, FacilitatorStatus, LinkPurpose
from scheduling.tables import (
    BookingRequest,
    Facilitator,
    FeedbackSession,
    OutgoingEmail,
    Participant,
    RegionalLead,
    Slot,
)
from shared.contracts.events import (
    CycleOpened,
    Event,
    FeedbackSessionCompleted,
    FeedbackSessionScheduled,
    ManagementLineChanged,
    ReportGenerated,
)
from shared.contracts.topics import topic_for
from shared.contracts.vocabulary import RaterGroup
from shared.db import OutboxMessage, ProcessedEvent, UnitOfWork, create_engine, session_factory
from shared.errors import Rejected
from shared.migrations import downgrade, upgrade
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service, scratch_database
from tests.support import TopicReader, eventually, publish_events

LONDON = ZoneInfo("Europe/London")
SECRET = "s" * 64
LINK = re.compile(r"https?://\S+(/book/[0-9a-f-]{36}/[A-Za-z0-9_\-]+)")
LONDON_LEAD = UUID("1d0c5a7e-0b1f-4e55-9a51-3c6f0a1e2b01")


@pytest.fixture
async def service(settings: StackSettings, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    async with running_service("scheduling", settings, link_secret=SECRET, output_dir=tmp_path,
                               seed_availability=False, mail_poll_seconds=0.2,
                               retry_unscheduled_seconds=2.0) as running:
        yield running
        await quiesce(running)


async def quiesce(service: ServiceUnderTest) -> None:
    """Stop only once every event is published, so no test ends with its events still in the outbox."""

    async def all_published() -> bool:
        async with service.runtime.uow() as uow:
            waiting = await uow.session.execute(select(OutboxMessage).where(col(OutboxMessage.published_at).is_(None)))
            return not list(waiting.scalars())

    await eventually(all_published, what="the outbox relay to publish every event")


def config(service: ServiceUnderTest) -> Settings:
    settings: Settings = service.app.state.settings
    return settings


def monday_in(weeks: int, *, hour: int = 10) -> datetime:
    """A Monday at least `weeks` weeks ahead, at a London wall-clock hour (in UTC)."""
    today = datetime.now(LONDON).date()
    monday = today + timedelta(days=7 * weeks - today.weekday())
    return datetime.combine(monday, time(hour), tzinfo=LONDON).astimezone(UTC)


async def add_facilitator(
    service: ServiceUnderTest, *, region: str = "London", organisation: str | None = None,
    email_address: str | None = None, capacity: int = 8, languages: tuple[str, ...] = ("en",),
    status: str = "active", score: int = 90,
) -> UUID:
    facilitator_id = uuid4()
    async with service.runtime.uow() as uow:
        uow.session.add(Facilitator(
            id=facilitator_id, name=f"Facilitator {facilitator_id.hex[:6]}",
            email=email_address or f"f.{facilitator_id.hex[:8]}@facilitators.example.nhs.uk", region=region,
            organisation=organisation or f"Trust {facilitator_id.hex[:6]}", status=status, elearning_score=score,
            elearning_passed_on=date(2024, 1, 10), course_completed_on=date(2024, 2, 1),
            monthly_capacity=capacity, languages=list(languages),
        ))
        await uow.commit()
    return facilitator_id


async def add_slot(
    service: ServiceUnderTest, facilitator_id: UUID, starts_at: datetime, *, minutes: int = 120
) -> UUID:
    slot_id = uuid4()
    async with service.runtime.uow() as uow:
        uow.session.add(Slot(id=slot_id, facilitator_id=facilitator_id, starts_at=starts_at,
                             ends_at=starts_at + timedelta(minutes=minutes), mode="virtual"))
        await uow.commit()
    return slot_id


def cycle_events(
    *, cycle_id: UUID, organisation: str = "Participant Trust", region: str = "London",
    email_address: str | None = None, chosen: UUID | None = None, management_line: tuple[str, ...] = (),
    preferred_language: str | None = None,
) -> tuple[CycleOpened, ReportGenerated]:
    opened = CycleOpened(
        producer="itest", cycle_id=cycle_id, participant_id=f"P-{cycle_id.hex[:6]}", participant_name="Amara Okafor",
        organisation=organisation, region=region,
        participant_email=email_address or f"participant.{cycle_id.hex[:8]}@participant.example.nhs.uk",
        facilitator_id=chosen, deadline=datetime.now(UTC) + timedelta(days=14),
        invited_per_group={RaterGroup.SELF: 1}, management_line=list(management_line),
        preferred_language=preferred_language,
    )
    report = ReportGenerated(producer="itest", cycle_id=cycle_id, report_id=uuid4(),
                             participant_id=opened.participant_id,
                             organisation=organisation, region=region, facilitator_id=chosen)
    return opened, report


async def open_booking(service: ServiceUnderTest, **kwargs: Any) -> UUID:
    """What the two Kafka handlers do, called directly: participant known, report ready."""
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id, **kwargs)
    async with service.runtime.uow() as uow:
        await usecases.record_participant(uow, opened)
        await usecases.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
        await uow.commit()
    return cycle_id


async def offer(service: ServiceUnderTest, cycle_id: UUID, *, language: str | None = None) -> usecases.Offer:
    async with service.runtime.uow() as uow:
        request = await uow.session.get(BookingRequest, cycle_id)
        assert request is not None
        return await usecases.offered_slots(uow, request, settings=config(service), now=datetime.now(UTC),
                                            language=language)


async def book(service: ServiceUnderTest, cycle_id: UUID, slot_id: UUID) -> FeedbackSession:
    async with service.runtime.uow() as uow:
        session = await usecases.choose_slot(uow, cycle_id=cycle_id, slot_id=slot_id, language=None,
                                             settings=config(service), now=datetime.now(UTC))
        await uow.commit()
    return session


async def emails(service: ServiceUnderTest, cycle_id: UUID) -> list[OutgoingEmail]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(select(OutgoingEmail).where(col(OutgoingEmail.cycle_id) == cycle_id)
                                         .order_by(col(OutgoingEmail.created_at), col(OutgoingEmail.kind)))
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def outbox(service: ServiceUnderTest, event_type: str) -> list[dict[str, Any]]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(select(OutboxMessage).where(col(OutboxMessage.event_type) == event_type)
                                         .order_by(col(OutboxMessage.id)))
        return [json.loads(row.payload) for row in rows.scalars()]


def booking_path(service: ServiceUnderTest, cycle_id: UUID) -> str:
    return usecases.links(config(service)).path(LinkPurpose.BOOKING, cycle_id)


def calendar_of(message: OutgoingEmail) -> tuple[str, Any]:
    assert message.ics is not None
    calendar = Calendar.from_ical(message.ics)
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


# --- the Kafka path ------------------------------------------------------------------------------


publish = publish_events


async def test_report_on_kafka_emails_a_booking_link_and_the_participant_books_over_http(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    near = await add_facilitator(service)
    first = await add_slot(service, near, monday_in(2))
    await add_slot(service, near, monday_in(2, hour=14))
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id)
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(FeedbackSessionScheduled)) as reader:
        await publish(settings.hlm360_kafka_bootstrap_servers, opened, report)

        async def sent_offer() -> OutgoingEmail | None:
            found = [m for m in await emails(service, cycle_id) if m.kind == "booking_offer" and m.sent_at]
            return found[0] if found else None

        offer_email = await eventually(sent_offer, what="the booking email sent through SMTP")
        assert offer_email.to_address == str(opened.participant_email)
        match = LINK.search(offer_email.body)
        assert match and match.group(1) == booking_path(service, cycle_id)
        assert (await service.client.get(booking_path(service, cycle_id)[:-2] + "xx")).status_code == 404

        page = await service.client.get(match.group(1))
        assert page.status_code == 200 and str(first) in page.text and "Choose a time" in page.text
        missing = await service.client.post(match.group(1), data={})
        assert missing.status_code == 400 and "Select a time for your feedback session" in missing.text
        chosen = await service.client.post(match.group(1), data={"slot": str(first)})
        assert chosen.status_code == 303
        booked = await service.client.get(chosen.headers["location"])
        assert "Your feedback session is booked" in booked.text

        api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
        assert api["status"] == "booked" and api["facilitator_id"] == str(near)
        assert set(api) >= {"id", "cycle_id", "facilitator_id", "starts_at", "ends_at", "mode", "status", "ics_path"}
        assert Path(api["ics_path"]).read_bytes().startswith(b"BEGIN:VCALENDAR")
        records = await reader.wait_for(lambda r: r.key == str(cycle_id).encode())
        assert json.loads(records[0].value)["session_id"] == api["id"]
    # Redelivery of the same report neither books nor emails again.
    async with service.runtime.uow() as uow:
        again = await usecases.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
        await uow.commit()
    assert again is usecases.Outcome.ALREADY_BOOKED
    kinds = sorted(m.kind for m in await emails(service, cycle_id))
    assert kinds == ["booking_offer", "session_booked", "session_booked"]


# --- matching ------------------------------------------------------------------------------------


async def test_matching_prefers_region_excludes_conflicts_and_ineligible_and_filters_language(
    service: ServiceUnderTest,
) -> None:
    start = monday_in(3)
    own_org = await add_facilitator(service, organisation="Participant Trust")
    same_domain = await add_facilitator(service, organisation="PT (other name)",
                                        email_address="someone@participant.example.nhs.uk")
    lapsed = await add_facilitator(service, status="lapsed")
    failed = await add_facilitator(service, score=70)
    near = await add_facilitator(service, languages=("en",))
    far = await add_facilitator(service, region="Midlands", languages=("en", "ta"))
    for n, facilitator in enumerate((own_org, same_domain, lapsed, failed, near, far)):
        await add_slot(service, facilitator, start + timedelta(hours=3 * n))
    far_early = await add_slot(service, far, start - timedelta(days=2))

    cycle_id = await open_booking(service)
    offered = await offer(service, cycle_id)
    owners = [o.slot.facilitator_id for o in offered.options]
    assert owners == [near, far, far], "same region first, then others by time; conflicts and ineligible never"
    assert offered.options[1].slot.id == far_early
    assert [o.slot.facilitator_id for o in (await offer(service, cycle_id, language="ta")).options] == [far, far]

    chose_far = await open_booking(service, chosen=far)
    own = await offer(service, chose_far)
    assert own.chose_facilitator and {o.slot.facilitator_id for o in own.options} == {far}
    chose_lapsed = await open_booking(service, chosen=lapsed)
    fallback = await offer(service, chose_lapsed)
    assert fallback.choice_unavailable and fallback.options[0].slot.facilitator_id == near
    chose_conflict = await open_booking(service, chosen=own_org)
    assert own_org not in {o.slot.facilitator_id for o in (await offer(service, chose_conflict)).options}


async def test_the_participants_management_line_is_never_offered_even_when_chosen(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    participant_email = f"amara.{uuid4().hex[:8]}@participant.example.nhs.uk"
    # Other trusts' email domains, so only the management line makes these two a conflict.
    manager = await add_facilitator(service, email_address=f"Jo.Bloggs.{uuid4().hex[:6]}@Elsewhere.example.nhs.uk")
    async with service.runtime.uow() as uow:
        manager_email = (await uow.session.get(Facilitator, manager)).email  # type: ignore[union-attr]
    # The regional lead registers a facilitator whose line manager is the participant.
    lead_page = usecases.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD)
    tag = uuid4().hex[:8]
    course = datetime.now(LONDON).date() - timedelta(days=30)
    registered = await service.client.post(f"{lead_page}/facilitators/new", data={
        "name": f"Report {tag}", "email": f"report.{tag}@another.example.nhs.uk", "organisation": f"Another {tag}",
        "line_manager_email": participant_email.upper(), "languages": "en", "capacity": "8", "score": "90",
        "elearning-day": str(course.day), "elearning-month": str(course.month), "elearning-year": str(course.year),
        "course-day": str(course.day), "course-month": str(course.month), "course-year": str(course.year),
    })
    assert registered.status_code == 303, registered.text
    async with service.runtime.uow() as uow:
        report, their_manager = (await uow.session.execute(
            select(col(Facilitator.id), col(Facilitator.line_manager_email))
            .where(col(Facilitator.email) == f"report.{tag}@another.example.nhs.uk"))).one()
    assert their_manager == participant_email
    other = await add_facilitator(service)
    manager_slot = await add_slot(service, manager, monday_in(2))
    report_slot = await add_slot(service, report, monday_in(2, hour=14))
    other_slot = await add_slot(service, other, monday_in(3))

    # Over Kafka: the participant chose their own line manager (the management line is stored, in any case).
    cycle_id = uuid4()
    opened, ready = cycle_events(cycle_id=cycle_id, email_address=participant_email, chosen=manager,
                                 management_line=(manager_email.upper(), "director@participant.example.nhs.uk"))
    await publish(settings.hlm360_kafka_bootstrap_servers, opened, ready)

    async def booking_offered() -> OutgoingEmail | None:
        return next((m for m in await emails(service, cycle_id) if m.kind == "booking_offer"), None)

    await eventually(booking_offered, what="the booking email")
    async with service.runtime.uow() as uow:
        stored = await uow.session.get(Participant, cycle_id)
        assert stored is not None and stored.preferred_language is None
        assert {m.casefold() for m in stored.management_line} == {
            manager_email.casefold(), "director@participant.example.nhs.uk"}
    offered = await offer(service, cycle_id)
    assert offered.choice_unavailable and not offered.chose_facilitator
    assert {o.slot.facilitator_id for o in offered.options} == {other}
    page = await service.client.get(booking_path(service, cycle_id))
    assert str(other_slot) in page.text and str(manager_slot) not in page.text and str(report_slot) not in page.text
    for forbidden in (manager_slot, report_slot):
        refused = await service.client.post(booking_path(service, cycle_id), data={"slot": str(forbidden)})
        assert refused.status_code == 409 and "That time has just been taken" in refused.text

    # Choosing the facilitator they line-manage is no better (and with no management line given, their
    # manager is just another facilitator).
    chose_report = await open_booking(service, email_address=participant_email, chosen=report)
    assert {o.slot.facilitator_id for o in (await offer(service, chose_report)).options} == {manager, other}


# --- the management line changes after opening (ManagementLineChanged, ADR 0005) -------------------


def line_changed(cycle_id: UUID, *line: str, occurred_at: datetime | None = None) -> ManagementLineChanged:
    when = {"occurred_at": occurred_at} if occurred_at else {}
    return ManagementLineChanged(producer="itest", cycle_id=cycle_id, management_line=list(line), **when)


async def applied(service: ServiceUnderTest, event: Event) -> None:
    """Wait until the service's consumer has applied the event (its inbox row is committed)."""

    async def probe() -> bool:
        async with service.runtime.uow() as uow:
            found = await uow.session.execute(
                select(ProcessedEvent).where(col(ProcessedEvent.event_id) == event.event_id))
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
    return (manager, await add_slot(service, manager, monday_in(2)),
            other, await add_slot(service, other, monday_in(2, hour=14)))


async def test_a_line_manager_announced_after_opening_is_no_longer_offered_nor_bookable(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    tag = uuid4().hex[:8]
    # Another trust's email domain: only the management line makes them a conflict.
    new_manager, manager_slot, other, other_slot = await manager_and_another(
        service, f"Kim.Manager.{tag}@Elsewhere.example.nhs.uk")
    cycle_id = await open_booking(service, management_line=(f"director.{tag}@participant.example.nhs.uk",))
    assert await offered_facilitators(service, cycle_id) == {new_manager, other}

    changed = line_changed(cycle_id, f"director.{tag}@participant.example.nhs.uk",
                           f"kim.manager.{tag}@elsewhere.example.nhs.uk")
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
    assert flagged is not None and flagged["reason"] == usecases.BOOKED_ACROSS_THE_LINE
    api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
    assert (api["id"], api["status"]) == (str(session.id), "booked"), "the booking stands until someone cancels it"
    lead_page = usecases.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD)
    assert "The booked facilitator is now in the participant&#39;s management line" in (
        await service.client.get(lead_page)).text
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("booked facilitator is now in")]
    assert (warning.levelno, warning.cycle_id, warning.session_id, warning.facilitator_id) == (  # type: ignore[attr-defined]
        logging.WARNING, str(cycle_id), str(session.id), str(new_manager))
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records).casefold()
    assert address not in logged

    # The retry job looks again and keeps it listed while the session stands ...
    async def looked_again() -> bool:
        async with service.runtime.uow() as uow:
            request = await uow.session.get(BookingRequest, cycle_id)
            assert request is not None and request.last_offer_attempt_at is not None
            return request.last_offer_attempt_at > datetime.fromisoformat(flagged["last_attempt_at"])

    await eventually(looked_again, what="the retry job to look at the flagged cycle again")
    assert (await listed() or {}).get("reason") == usecases.BOOKED_ACROSS_THE_LINE
    # ... and takes it off once the participant cancels; the new booking cannot be with the new manager.
    async with service.runtime.uow() as uow:
        await usecases.cancel_session(uow, session_id=session.id, by="participant", settings=config(service),
                                      now=datetime.now(UTC), cycle_id=cycle_id)
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
        await usecases.record_participant(uow, opened)
        await usecases.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
        await uow.commit()

    first = line_changed(cycle_id, director, first_manager)
    behind = line_changed(cycle_id, director, first_manager, new_manager.upper(),
                          occurred_at=first.occurred_at - timedelta(hours=1))
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
        await usecases.record_participant(uow, opened)
        assert await usecases.change_management_line(uow, first, settings=config(service),
                                                     now=datetime.now(UTC)) is False, "nothing new in it"
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
        "Amara Okafor", str(opened.participant_email), "Participant Trust")
    assert (stored.management_line, stored.management_line_as_of) == ([first_manager, new_manager],
                                                                        changed.occurred_at)
    assert await offered_facilitators(service, cycle_id) == {other}


async def test_the_preferred_language_filters_the_offer_and_preselects_the_page_filter(
    service: ServiceUnderTest,
) -> None:
    welsh = await add_facilitator(service, languages=("en", "cy"))
    english = await add_facilitator(service, languages=("en",))
    welsh_slot = await add_slot(service, welsh, monday_in(2))
    english_slot = await add_slot(service, english, monday_in(2, hour=14))

    cycle_id = await open_booking(service, preferred_language="cy")
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id)).options} == {welsh}
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id, language="any")).options} == {
        welsh, english}
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id, language="en")).options} == {
        welsh, english}
    no_preference = await open_booking(service)
    assert {o.slot.facilitator_id for o in (await offer(service, no_preference)).options} == {welsh, english}

    page = (await service.client.get(booking_path(service, cycle_id))).text
    assert '<option value="cy" selected>Welsh</option>' in page
    assert str(welsh_slot) in page and str(english_slot) not in page
    everyone = (await service.client.get(booking_path(service, cycle_id), params={"language": "any"})).text
    assert '<option value="any" selected>Any language</option>' in everyone and str(english_slot) in everyone
    # The time chosen is checked against the filter the page showed.
    refused = await service.client.post(booking_path(service, cycle_id),
                                        data={"slot": str(english_slot), "language": "cy"})
    assert refused.status_code == 409
    booked = await service.client.post(booking_path(service, cycle_id),
                                       data={"slot": str(english_slot), "language": "any"})
    assert booked.status_code == 303


async def test_nobody_speaking_the_preferred_language_leaves_the_cycle_unscheduled_for_the_lead(
    service: ServiceUnderTest,
) -> None:
    english = await add_facilitator(service, languages=("en",))
    await add_slot(service, english, monday_in(2))
    cycle_id = await open_booking(service, preferred_language="cy")
    (row,) = [r for r in (await service.admin.get("/api/unscheduled")).json() if r["cycle_id"] == str(cycle_id)]
    assert "no facilitator who speaks Welsh" in row["reason"]
    assert [m.kind for m in await emails(service, cycle_id)] == []

    lead_page = usecases.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD)
    assert "No facilitator who speaks Welsh" in (await service.client.get(lead_page)).text
    async with service.runtime.uow() as uow:
        request = await uow.session.get(BookingRequest, cycle_id)
        assert request is not None
        await usecases.escalate_unbooked(uow, settings=config(service), now=request.created_at + timedelta(days=8))
        await uow.commit()
    (escalation,) = [m for m in await emails(service, cycle_id) if m.kind == "escalation"]
    assert "who speaks Welsh" in escalation.body

    # A Welsh speaker with free time: the retry job offers the booking.
    welsh = await add_facilitator(service, region="Midlands", languages=("cy",))
    await add_slot(service, welsh, monday_in(3))

    async def offered() -> list[OutgoingEmail] | None:
        return [m for m in await emails(service, cycle_id) if m.kind == "booking_offer"] or None

    await eventually(offered, what="the retry job to email the booking link")
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id)).options} == {welsh}


async def test_forged_foreign_or_stale_links_show_the_not_recognised_page(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    links = usecases.links(config(service))
    book_page = links.path(LinkPurpose.BOOKING, cycle_id)
    facilitator_page = links.path(LinkPurpose.FACILITATOR, facilitator)
    lead_page = links.path(LinkPurpose.LEAD, LONDON_LEAD)
    forged = [path[:-2] + "xx" for path in (book_page, facilitator_page, lead_page)]
    foreign = [
        f"/facilitator/{facilitator}/{lead_page.rsplit('/', 1)[1]}",  # another purpose's signature
        f"/lead/{LONDON_LEAD}/{facilitator_page.rsplit('/', 1)[1]}",
        f"/book/{cycle_id}/{'A' * 101}",  # longer than any signature
        links.path(LinkPurpose.FACILITATOR, uuid4()),  # signed, but nobody's
        links.path(LinkPurpose.LEAD, uuid4()),
    ]
    for path in forged + foreign:
        page = await service.client.get(path)
        assert page.status_code == 404 and "Link not recognised" in page.text, path
        assert page.headers["x-robots-tag"] == "noindex, nofollow"
    attempts = [
        (forged[0], {"slot": str(slot)}),
        (forged[0] + "/cancel", {"session_id": str(uuid4())}),
        (forged[1] + "/availability", {}),
        (forged[1] + "/interest", {"mode": "virtual", "months": "March"}),
        (forged[2] + "/facilitators/new", {"name": "Forged", "email": "forged@example.nhs.uk"}),
        (foreign[3] + f"/slots/{slot}/remove", {}),
    ]
    for path, data in attempts:
        refused = await service.client.post(path, data=data)
        assert refused.status_code == 404 and "Link not recognised" in refused.text, path
    assert await live_session(service, cycle_id) is None
    for path in (book_page, facilitator_page, f"{facilitator_page}/availability", lead_page,
                 f"{lead_page}/facilitators/new"):
        assert (await service.client.get(path)).status_code == 200, path


async def live_session(service: ServiceUnderTest, cycle_id: UUID) -> FeedbackSession | None:
    async with service.runtime.uow() as uow:
        return await usecases.live_session_of(uow, cycle_id=cycle_id)


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
            await usecases.record_participant(uow, opened)
            outcome = await usecases.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
            await uow.commit()
        assert outcome is usecases.Outcome.UNSCHEDULED
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


# --- no double booking -----------------------------------------------------------------------------


async def test_concurrent_participants_cannot_book_the_same_time(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    contested = await add_slot(service, facilitator, monday_in(2))
    cycles = [await open_booking(service) for _ in range(12)]
    responses = await asyncio.gather(*(
        service.client.post(booking_path(service, cycle_id), data={"slot": str(contested)}) for cycle_id in cycles
    ))
    codes = sorted(r.status_code for r in responses)
    assert codes == [303] + [409] * 11, codes
    loser = next(r for r in responses if r.status_code == 409)
    assert "That time has just been taken" in loser.text and "There is a problem" in loser.text
    async with service.runtime.uow() as uow:
        live = await uow.session.execute(select(FeedbackSession).where(col(FeedbackSession.slot_id) == contested))
        assert len(list(live.scalars())) == 1
        scheduled = await uow.session.execute(
            select(OutboxMessage).where(col(OutboxMessage.event_type) == "FeedbackSessionScheduled",
                                        col(OutboxMessage.key).in_([str(c) for c in cycles])))
        assert len(list(scheduled.scalars())) == 1


async def test_the_database_itself_refuses_overlapping_sessions(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    starts = monday_in(2)
    slot_a = await add_slot(service, facilitator, starts)
    slot_b = await add_slot(service, facilitator, starts + timedelta(hours=3))
    await book(service, await open_booking(service), slot_a)
    async with service.runtime.uow() as uow:
        with pytest.raises(IntegrityError, match="ex_session_facilitator_overlap"):
            await uow.session.execute(text(
                "INSERT INTO scheduling.session (id, cycle_id, report_id, facilitator_id, slot_id, starts_at, ends_at,"
                " mode, status, ics_path) VALUES (:id, :cycle, :report, :f, :slot, :s, :e, 'virtual', 'booked', 'x')"
            ), {"id": uuid4(), "cycle": uuid4(), "report": uuid4(), "f": facilitator, "slot": slot_b,
                "s": starts + timedelta(hours=1), "e": starts + timedelta(hours=3)})
    async with service.runtime.uow() as uow:
        with pytest.raises(IntegrityError, match="ex_slot_facilitator_overlap"):
            uow.session.add(Slot(id=uuid4(), facilitator_id=facilitator, starts_at=starts + timedelta(minutes=30),
                                 ends_at=starts + timedelta(hours=2), mode="virtual"))
            await uow.session.flush()


# --- calendar updates ------------------------------------------------------------------------------


async def test_reschedule_and_cancel_update_the_same_calendar_event(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    facilitator = await add_facilitator(service)
    first = await add_slot(service, facilitator, monday_in(2))
    later = await add_slot(service, facilitator, monday_in(3, hour=14))
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, first)
    async with service.runtime.uow() as uow:
        await usecases.reschedule_session(uow, session_id=session.id, slot_id=later, by="facilitator",
                                          settings=config(service), now=datetime.now(UTC), facilitator_id=facilitator)
        await uow.commit()
    async with service.runtime.uow() as uow:
        await usecases.cancel_session(uow, session_id=session.id, by="participant", settings=config(service),
                                      now=datetime.now(UTC), cycle_id=cycle_id)
        await uow.commit()

    sent = [m for m in await emails(service, cycle_id) if m.ics is not None]
    assert [m.kind for m in sent] == ["session_booked"] * 2 + ["session_rescheduled"] * 2 + ["session_cancelled"] * 2
    calendars = [calendar_of(m) for m in sent]
    assert {str(event["UID"]) for _, event in calendars} == {str(session.id)}
    assert [(method, int(event["SEQUENCE"])) for method, event in calendars[::2]] == [
        ("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)]
    assert calendars[0][1].decoded("DTSTART") == monday_in(2)
    assert calendars[2][1].decoded("DTSTART") == monday_in(3, hour=14)
    assert str(calendars[4][1]["STATUS"]) == "CANCELLED"
    attendees = {str(a) for a in calendars[2][1]["ATTENDEE"]}
    assert {m.to_address for m in sent[2:4]} == {a.removeprefix("mailto:") for a in attendees}
    on_disk = Calendar.from_ical(Path(session.ics_path).read_bytes())
    assert str(on_disk["METHOD"]) == "CANCEL" and on_disk.walk("VEVENT")[0].decoded("SEQUENCE") == 2
    assert "ATTENDEE" not in on_disk.walk("VEVENT")[0], "the file on disk names nobody"
    assert [e["reason"] for e in await outbox(service, "FeedbackSessionCancelled")] == ["participant"]
    assert [e["starts_at"][:16] for e in await outbox(service, "FeedbackSessionRescheduled")] == [
        monday_in(3, hour=14).isoformat()[:16]]

    # The cancellation really leaves through SMTP with the calendar attached as METHOD=CANCEL.
    cancel_email = sent[4]

    def find_delivered() -> Path | None:
        for path in sorted(settings.hlm360_mail_dir.glob("*.eml"), reverse=True)[:400]:
            if f"<{cancel_email.id}@" in path.read_text(errors="replace"):
                return path
        return None

    async def delivered() -> Path | None:
        return await asyncio.to_thread(find_delivered)

    eml = await eventually(delivered, what="the cancellation email in the SMTP sink")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes) and str(Calendar.from_ical(payload)["METHOD"]) == "CANCEL"

    # The cycle is free to book again, with a new calendar event.
    again = await book(service, cycle_id, first)
    assert again.id != session.id and again.status == "booked"


async def test_facilitator_confirmation_mode(settings: StackSettings, tmp_path: Path) -> None:
    async with running_service("scheduling", settings, link_secret=SECRET, output_dir=tmp_path,
                               seed_availability=False, booking_confirmation="facilitator") as service:
        facilitator = await add_facilitator(service)
        slot = await add_slot(service, facilitator, monday_in(2))
        cycle_id = await open_booking(service)
        session = await book(service, cycle_id, slot)
        assert session.status == "requested"
        assert await outbox(service, "FeedbackSessionScheduled") == []
        assert sorted(m.kind for m in await emails(service, cycle_id)) == [
            "booking_offer", "booking_pending", "booking_requested"]
        page = usecases.links(config(service)).path(LinkPurpose.FACILITATOR, facilitator)
        confirmed = await service.client.post(f"{page}/sessions/{session.id}", data={"action": "confirm"})
        assert confirmed.status_code == 303
        again = await service.client.post(f"{page}/sessions/{session.id}", data={"action": "confirm"})
        assert again.status_code == 409 and "needs no confirmation" in again.text
        api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
        assert api["status"] == "booked"
        assert [e["session_id"] for e in await outbox(service, "FeedbackSessionScheduled")] == [str(session.id)]
        invitations = [m for m in await emails(service, cycle_id) if m.kind == "session_booked"]
        assert len(invitations) == 2 and all(calendar_of(m)[0] == "REQUEST" for m in invitations)
        await quiesce(service)


async def lapse(service: ServiceUnderTest, now: datetime, settings: Settings | None = None) -> int:
    async with service.runtime.uow() as uow:
        lapsed = await usecases.lapse_unconfirmed_requests(uow, settings=settings or config(service), now=now)
        await uow.commit()
    return lapsed


async def test_a_request_the_facilitator_leaves_unconfirmed_lapses_and_the_participant_chooses_again(
    settings: StackSettings, tmp_path: Path
) -> None:
    async with running_service("scheduling", settings, link_secret=SECRET, output_dir=tmp_path,
                               seed_availability=False, booking_confirmation="facilitator") as service:
        facilitator = await add_facilitator(service)
        slot = await add_slot(service, facilitator, monday_in(2))
        cycle_id = await open_booking(service)
        session = await book(service, cycle_id, slot)
        assert session.status == "requested" and config(service).confirm_within_hours == 48
        asked = session.created_at

        assert await lapse(service, asked + timedelta(hours=47)) == 0, "still within 48 hours"
        assert await lapse(service, asked + timedelta(hours=49)) == 1
        assert await lapse(service, asked + timedelta(hours=50)) == 0, "once"
        api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
        assert api["status"] == "cancelled"
        async with service.runtime.uow() as uow:
            stored = await uow.session.get(FeedbackSession, session.id)
            assert stored is not None and stored.cancelled_by == "not_confirmed"
        sent = {m.kind: m for m in await emails(service, cycle_id)}
        deadline = (asked + timedelta(hours=48)).astimezone(LONDON)  # sooner than a day before the start
        assert (f"by {deadline:%H:%M} on {deadline:%A} {deadline.day} {deadline:%B %Y}. If it is not\nconfirmed by "
                "then, the request is withdrawn") in sent["booking_requested"].body
        assert booking_path(service, cycle_id) in sent["booking_lapsed"].body
        assert usecases.links(config(service)).path(LinkPurpose.FACILITATOR, facilitator) in sent["request_lapsed"].body
        assert sent["request_lapsed"].to_address.startswith("f.")
        assert await outbox(service, "FeedbackSessionCancelled") == [], "a request was never a booked session"

        page = usecases.links(config(service)).path(LinkPurpose.FACILITATOR, facilitator)
        late = await service.client.post(f"{page}/sessions/{session.id}", data={"action": "confirm"})
        assert late.status_code == 409
        again = await book(service, cycle_id, slot)  # the time is free again
        assert again.id != session.id and again.status == "requested"

        # However long the facilitator may take, a request lapses a day before the session would start.
        patient = config(service).model_copy(update={"confirm_within_hours": 10_000})
        assert await lapse(service, again.starts_at - timedelta(hours=25), patient) == 0
        assert await lapse(service, again.starts_at - timedelta(hours=23), patient) == 1
        await quiesce(service)


# --- outcome, reminders, escalation ----------------------------------------------------------------


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
            await usecases.remind_unbooked(uow, settings=config(service), now=offered + after)
            await uow.commit()
        return {cycle: len([m for m in await emails(service, cycle) if m.kind == "booking_reminder"])
                for cycle in (waiting, booked)}

    assert await reminders_after(timedelta(days=2)) == {waiting: 0, booked: 0}
    assert await reminders_after(timedelta(days=3, hours=1)) == {waiting: 1, booked: 0}, "only the one to choose"
    assert await reminders_after(timedelta(days=4)) == {waiting: 1, booked: 0}, "once"
    (reminder,) = [m for m in await emails(service, waiting) if m.kind == "booking_reminder"]
    assert booking_path(service, waiting) in reminder.body and "not chosen a time" in reminder.body


async def test_a_session_without_an_outcome_is_chased_with_the_facilitator_then_the_lead(
    service: ServiceUnderTest,
) -> None:
    facilitator = await add_facilitator(service)
    cycle_id, done_cycle = await open_booking(service), await open_booking(service)
    session = await book(service, cycle_id, await add_slot(service, facilitator, monday_in(2)))
    done = await book(service, done_cycle, await add_slot(service, facilitator, monday_in(2, hour=14)))
    async with service.runtime.uow() as uow:  # the other session's outcome is recorded: never chased
        await usecases.record_outcome(uow, facilitator_id=facilitator, session_id=done.id, outcome="completed",
                                      now=done.ends_at + timedelta(minutes=5))
        await uow.commit()

    async def chase(after_end: timedelta) -> tuple[int, int]:
        async with service.runtime.uow() as uow:
            chased = await usecases.chase_outcomes(uow, settings=config(service), now=session.ends_at + after_end)
            await uow.commit()
        return chased

    assert await chase(timedelta(hours=23)) == (0, 0)
    assert await chase(timedelta(hours=25)) == (1, 0)
    assert await chase(timedelta(hours=26)) == (0, 0), "reminded once"
    assert await chase(timedelta(days=7, hours=1)) == (0, 1)
    assert await chase(timedelta(days=8)) == (0, 0), "told once"

    sent = {m.kind: m for m in await emails(service, cycle_id)}
    links = usecases.links(config(service))
    reminder, escalation = sent["outcome_reminder"], sent["outcome_escalation"]
    assert reminder.to_address.startswith("f.") and links.path(LinkPurpose.FACILITATOR, facilitator) in reminder.body
    assert escalation.to_address == "london.lead@hlm360.example.nhs.uk"
    assert links.path(LinkPurpose.LEAD, LONDON_LEAD) in escalation.body
    assert f"P-{cycle_id.hex[:6]}" in escalation.body and "still held" in escalation.body
    assert not [m for m in await emails(service, done_cycle) if m.kind.startswith("outcome_")]

    # Recording the outcome late still works and releases the report as usual.
    async with service.runtime.uow() as uow:
        await usecases.record_outcome(uow, facilitator_id=facilitator, session_id=session.id, outcome="completed",
                                      now=session.ends_at + timedelta(days=8))
        await uow.commit()
    assert [e["session_id"] for e in await outbox(service, "FeedbackSessionCompleted")
            if e["cycle_id"] == str(cycle_id)] == [str(session.id)]


async def test_completion_emits_feedback_session_completed(settings: StackSettings, service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, slot)
    async with service.runtime.uow() as uow:
        with pytest.raises(Rejected, match="once the session has started"):
            await usecases.record_outcome(uow, facilitator_id=facilitator, session_id=session.id,
                                          outcome="completed", now=datetime.now(UTC))
    async with service.runtime.uow() as uow:
        with pytest.raises(Rejected, match="no such session"):
            await usecases.record_outcome(uow, facilitator_id=uuid4(), session_id=session.id, outcome="completed",
                                          now=session.starts_at + timedelta(hours=2))
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(FeedbackSessionCompleted)) as reader:
        async with service.runtime.uow() as uow:
            await usecases.record_outcome(uow, facilitator_id=facilitator, session_id=session.id,
                                          outcome="completed", now=session.starts_at + timedelta(hours=2))
            await uow.commit()
        (record,) = await reader.wait_for(lambda r: r.key == str(cycle_id).encode())
    completed = json.loads(record.value)
    assert completed["outcome"] == "completed" and completed["report_id"] == str(session.report_id)
    assert completed["session_id"] == str(session.id) and completed["facilitator_id"] == str(facilitator)
    api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
    assert api["status"] == "completed"


async def test_reminders_go_to_both_once(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, slot)
    for when, expected in ((session.starts_at - timedelta(hours=30), 0), (session.starts_at - timedelta(hours=20), 1),
                           (session.starts_at - timedelta(hours=10), 0)):
        async with service.runtime.uow() as uow:
            count = await usecases.send_reminders(uow, settings=config(service), now=when)
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
            await usecases.escalate_unbooked(uow, settings=config(service), now=created + timedelta(days=days))
            await uow.commit()
        escalations = [m for m in await emails(service, cycle_id) if m.kind == "escalation"]
        assert len(escalations) == escalated_in_total, f"after {days} days"
    (escalation,) = [m for m in await emails(service, cycle_id) if m.kind == "escalation"]
    assert escalation.to_address == "northwest.lead@hlm360.example.nhs.uk"
    async with service.runtime.uow() as uow:
        lead_id = (await uow.session.execute(
            select(col(RegionalLead.id)).where(col(RegionalLead.region) == "North West"))).scalar_one()
    lead_page = usecases.links(config(service)).path(LinkPurpose.LEAD, lead_id)
    assert lead_page in escalation.body
    page = await service.client.get(lead_page)
    assert page.status_code == 200 and f"P-{cycle_id.hex[:6]}" in page.text and "escalated to you" in page.text


# --- the facilitator directory on Kafka ------------------------------------------------------------


async def test_seeded_facilitators_are_announced_once_and_lapse_keeps_bookings(service: ServiceUnderTest) -> None:
    async def announced() -> list[dict[str, Any]] | None:
        found = await outbox(service, "FacilitatorRegistered")
        return found if len(found) >= 4 else None

    registered = await eventually(announced, what="the seeded facilitators' registrations")
    assert {UUID(e["facilitator_id"]) for e in registered} == set(SEEDED_FACILITATOR_IDS)
    statuses = {e["facilitator_id"]: e["status"] for e in await outbox(service, "FacilitatorStatusChanged")}
    assert statuses[str(SEEDED_FACILITATOR_IDS[3])] == "lapsed"
    assert len(await outbox(service, "FacilitatorAccredited")) == 4
    async with service.runtime.uow() as uow:
        assert await usecases.announce_facilitators(uow, now=datetime.now(UTC)) == 0

    facilitator = await add_facilitator(service, region="Midlands")
    slot = await add_slot(service, facilitator, monday_in(2))
    session = await book(service, await open_booking(service, region="Midlands"), slot)
    async with service.runtime.uow() as uow:
        lead = (await uow.session.execute(
            select(RegionalLead).where(col(RegionalLead.region) == "Midlands"))).scalar_one()
        kept = await registry.change_status(uow, lead=lead, facilitator_id=facilitator,
                                            status=FacilitatorStatus.LAPSED, settings=config(service),
                                            now=datetime.now(UTC))
        await uow.commit()
    assert kept == 0
    async with service.runtime.uow() as uow:
        cancelled = await registry.change_status(uow, lead=lead, facilitator_id=facilitator,
                                                 status=FacilitatorStatus.SUSPENDED, settings=config(service),
                                                 now=datetime.now(UTC))
        await uow.commit()
    assert cancelled == 1
    api = (await service.admin.get("/api/sessions", params={"cycle_id": str(session.cycle_id)})).json()
    assert api["status"] == "cancelled"
    assert [e["status"] for e in await outbox(service, "FacilitatorStatusChanged")
            if e["facilitator_id"] == str(facilitator)] == ["lapsed", "suspended"]


# --- renewing a personal link ---------------------------------------------------------------------


async def new_link_emails(service: ServiceUnderTest, address: str) -> list[OutgoingEmail]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(select(OutgoingEmail).where(
            col(OutgoingEmail.kind) == "new_link", col(OutgoingEmail.to_address) == address))
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def test_a_lead_renews_a_facilitators_link_and_the_old_one_stops_working(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    elsewhere = await add_facilitator(service, region="North West")
    links = usecases.links(config(service))
    old_page, lead_page = links.path(LinkPurpose.FACILITATOR, facilitator), links.path(LinkPurpose.LEAD, LONDON_LEAD)
    assert (await service.client.get(old_page)).status_code == 200
    record = await service.client.get(f"{lead_page}/facilitators/{facilitator}")
    assert "Email the facilitator a new link" in record.text

    renewed = await service.client.post(f"{lead_page}/facilitators/{facilitator}", data={"form": "link"})
    assert renewed.status_code == 303 and renewed.headers["location"] == f"{lead_page}?done=new_link"
    assert "Their previous link no longer works" in (await service.client.get(renewed.headers["location"])).text
    for attempt in (service.client.get(old_page), service.client.post(old_page + "/interest", data={})):
        response = await attempt
        assert response.status_code == 404 and "Link not recognised" in response.text

    async with service.runtime.uow() as uow:
        stored = await uow.session.get(Facilitator, facilitator)
        assert stored is not None and stored.link_version == 2
        address = stored.email
    (email_row,) = await new_link_emails(service, address)
    found = re.search(r"https?://\S+(/facilitator/\S+)", email_row.body)
    assert found is not None and found.group(1) == links.path(LinkPurpose.FACILITATOR, facilitator, 2)
    assert (await service.client.get(found.group(1))).status_code == 200
    assert old_page not in email_row.body and email_row.cycle_id is None

    # Not a facilitator of the lead's region: refused, nothing renewed or sent.
    refused = await service.client.post(f"{lead_page}/facilitators/{elsewhere}", data={"form": "link"})
    assert refused.status_code == 404 and "There is no such facilitator in your region" in refused.text
    assert (await service.client.get(links.path(LinkPurpose.FACILITATOR, elsewhere))).status_code == 200
    async with service.runtime.uow() as uow:
        other = await uow.session.get(Facilitator, elsewhere)
        assert other is not None and other.link_version == 1
        address = other.email
    assert await new_link_emails(service, address) == []


async def test_an_administrator_renews_a_leads_link_from_the_command_line(service: ServiceUnderTest) -> None:
    links = usecases.links(config(service))
    old_page = links.path(LinkPurpose.LEAD, LONDON_LEAD)
    assert (await service.client.get(old_page)).status_code == 200
    environment = {**os.environ, "SCHEDULING_DATABASE_URL": service.database_url, "SCHEDULING_LINK_SECRET": SECRET}

    async def run(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "scheduling", "links", "renew", *args],
                                       env=environment, capture_output=True, text=True, timeout=120)

    done = await run("lead", str(LONDON_LEAD))
    assert done.returncode == 0, done.stderr
    assert "emailed" in done.stdout and "/lead/" not in done.stdout, "the new link is emailed, never printed"
    assert (await service.client.get(old_page)).status_code == 404
    async with service.runtime.uow() as uow:
        lead = await uow.session.get(RegionalLead, LONDON_LEAD)
        assert lead is not None
        address = lead.email
    (email_row,) = await new_link_emails(service, address)
    assert links.path(LinkPurpose.LEAD, LONDON_LEAD, 2) in email_row.body
    assert (await service.client.get(links.path(LinkPurpose.LEAD, LONDON_LEAD, 2))).status_code == 200

    for bad in (("lead",), ("cohort", str(LONDON_LEAD)), ("lead", "not-an-id"), ("facilitator", str(uuid4()))):
        refused = await run(*bad)
        assert refused.returncode == 2 and refused.stderr, bad


# --- migration 0007: the attention list moves from unscheduled_cycle onto booking_request ----------

MIGRATIONS = Path(usecases.__file__).resolve().parents[2] / "migrations"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
BOOKING_FACTS = "cycle_id, report_id, participant_id, organisation, region, chosen_facilitator_id, correlation_id"


def booking_facts(cycle_id: UUID) -> dict[str, Any]:
    return {"cycle_id": cycle_id, "report_id": uuid4(), "participant_id": f"P-{cycle_id.hex[:6]}",
            "organisation": "Participant Trust", "region": "London", "chosen_facilitator_id": None,
            "correlation_id": uuid4()}


async def test_migration_0007_moves_the_attention_list_onto_booking_requests_and_back(
    settings: StackSettings,
) -> None:
    waiting, offered, orphan, scheduled_orphan, untouched = (uuid4() for _ in range(5))
    facts = {cycle: booking_facts(cycle) for cycle in (waiting, offered, orphan, scheduled_orphan, untouched)}
    async with scratch_database(settings, "scheduling_migration") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "0006")
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for cycle, offered_at in ((waiting, None), (offered, T0 + timedelta(hours=3)), (untouched, None)):
                    await connection.execute(text(
                        f"INSERT INTO scheduling.booking_request ({BOOKING_FACTS}, created_at, offered_at) "
                        "VALUES (:cycle_id, :report_id, :participant_id, :organisation, :region, "
                        ":chosen_facilitator_id, :correlation_id, :created_at, :offered_at)"
                    ), {**facts[cycle], "created_at": T0, "offered_at": offered_at})
                for cycle, attempts, scheduled_at, reason in (
                    (waiting, 3, None, "the participant's email is not known yet"),
                    (offered, 2, T0 + timedelta(hours=3), "no free slot"),
                    (orphan, 5, None, "no facilitator who speaks Welsh has a free slot"),
                    (scheduled_orphan, 1, T0 + timedelta(hours=1), "no free slot"),
                ):
                    await connection.execute(text(
                        f"INSERT INTO scheduling.unscheduled_cycle ({BOOKING_FACTS}, reason, attempts, "
                        "first_seen_at, last_attempt_at, scheduled_at) VALUES (:cycle_id, :report_id, "
                        ":participant_id, :organisation, :region, :chosen_facilitator_id, :correlation_id, "
                        ":reason, :attempts, :first_seen_at, :last_attempt_at, :scheduled_at)"
                    ), {**facts[cycle], "reason": reason, "attempts": attempts, "first_seen_at": T0,
                        "last_attempt_at": T0 + timedelta(hours=attempts), "scheduled_at": scheduled_at})

            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
            async with engine.connect() as connection:
                assert (await connection.execute(
                    text("SELECT to_regclass('scheduling.unscheduled_cycle')"))).scalar_one() is None
            async with UnitOfWork(session_factory(engine)) as uow:
                requests = {r.cycle_id: r for r in (await uow.session.execute(select(BookingRequest))).scalars()}
                assert set(requests) == {waiting, offered, orphan, untouched}
                assert (requests[waiting].unscheduled_reason, requests[waiting].offer_attempts,
                        requests[waiting].last_offer_attempt_at) == (
                    "the participant's email is not known yet", 3, T0 + timedelta(hours=3))
                assert (requests[offered].unscheduled_reason, requests[offered].offer_attempts,
                        requests[offered].offered_at) == (None, 2, T0 + timedelta(hours=3))
                assert (requests[untouched].unscheduled_reason, requests[untouched].offer_attempts,
                        requests[untouched].last_offer_attempt_at) == (None, 0, None)
                recreated = requests[orphan]
                assert {k: getattr(recreated, k) for k in facts[orphan]} == facts[orphan]
                assert (recreated.created_at, recreated.unscheduled_reason, recreated.offer_attempts) == (
                    T0, "no facilitator who speaks Welsh has a free slot", 5)
                # The retry job finds the moved cycles, longest since their last attempt first.
                claimed = await usecases.claim_unscheduled(uow, attempted_before=datetime.now(UTC))
                assert claimed is not None and claimed.cycle_id == waiting

            await asyncio.to_thread(downgrade, MIGRATIONS, url, "0006")
            async with engine.connect() as connection:
                rows = (await connection.execute(text(
                    "SELECT cycle_id, reason, attempts, first_seen_at, last_attempt_at, scheduled_at "
                    "FROM scheduling.unscheduled_cycle ORDER BY attempts"))).all()
                columns = (await connection.execute(text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'scheduling' AND table_name = 'booking_request'"))).scalars().all()
            assert [tuple(row) for row in rows] == [
                (offered, "", 2, T0, T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
                (waiting, "the participant's email is not known yet", 3, T0, T0 + timedelta(hours=3), None),
                (orphan, "no facilitator who speaks Welsh has a free slot", 5, T0, T0 + timedelta(hours=5), None),
            ]
            assert not {"unscheduled_reason", "offer_attempts", "last_offer_attempt_at"} & set(columns)
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
        finally:
            await engine.dispose()


async def test_migration_0008_dates_the_management_line_and_keeps_a_line_that_came_first(
    settings: StackSettings,
) -> None:
    opened, early = uuid4(), uuid4()
    async with scratch_database(settings, "scheduling_migration") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "0007")
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(
                    "INSERT INTO scheduling.participant (cycle_id, participant_id, name, organisation, region, "
                    "management_line) VALUES (:id, 'P-1', 'Amara Okafor', 'Participant Trust', 'London', "
                    "ARRAY['jo@example.nhs.uk'])"), {"id": opened})
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
            async with UnitOfWork(session_factory(engine)) as uow:
                kept = await uow.session.get(Participant, opened)
                assert kept is not None
                assert (kept.management_line, kept.management_line_as_of) == (["jo@example.nhs.uk"], None)
                # A line changed after opening is newer than any line recorded before the migration.
                rules = Settings(link_secret=SECRET, database_url=url)
                for changed in (line_changed(opened, "jo@example.nhs.uk", "kim@example.nhs.uk"),
                                line_changed(early, "kim@example.nhs.uk")):
                    assert await usecases.change_management_line(uow, changed, settings=rules, now=datetime.now(UTC))
                await uow.commit()

            await asyncio.to_thread(downgrade, MIGRATIONS, url, "0007")
            async with engine.connect() as connection:
                rows = (await connection.execute(text(
                    "SELECT cycle_id, management_line FROM scheduling.participant"))).all()
            assert [tuple(row) for row in rows] == [(opened, ["jo@example.nhs.uk", "kim@example.nhs.uk"])], (
                "the line-only row goes; the schema before 0008 cannot hold it")
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
        finally:
            await engine.dispose()
