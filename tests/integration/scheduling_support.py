"""Shared helpers of the scheduling integration tests (test_scheduling_*.py): the running service
fixture (with the demo's people, as `seed-demo` adds them), facilitators and slots, cycle events,
booking and reading emails, events and calendars."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlmodel import col

from scheduling import demo_seed
from scheduling.config import Settings
from scheduling.tables import (
    BookingRequest,
    Facilitator,
    FeedbackSession,
    OutgoingEmail,
    Slot,
)
from scheduling.usecases import booking, common
from shared.contracts.events import (
    CycleOpened,
    ManagementLineChanged,
    ReportGenerated,
)
from shared.contracts.vocabulary import RaterGroup
from shared.db import OutboxMessage
from shared.links import Freshness
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.support import eventually, publish_events

LONDON = ZoneInfo("Europe/London")


SECRET = "s" * 64


LINK = re.compile(r"https?://\S+(/book/[0-9a-f-]{36}/[0-9]+\.[A-Za-z0-9_\-]+)")


LONDON_LEAD = UUID("1d0c5a7e-0b1f-4e55-9a51-3c6f0a1e2b01")


@asynccontextmanager
async def running_scheduling(settings: StackSettings, **overrides: object) -> AsyncIterator[ServiceUnderTest]:
    """Scheduling in-process on a fresh database, with the demo's facilitators and regional leads
    added by the seed `make up` runs (scheduling/demo_seed.py), but not their availability."""
    async with running_service("scheduling", settings, **overrides) as running:
        await seed_demo_people(running)
        yield running


async def seed_demo_people(service: ServiceUnderTest) -> demo_seed.Seeded:
    async with service.runtime.uow() as uow:
        seeded = await demo_seed.seed(uow, settings=config(service), now=datetime.now(UTC), availability=False)
        await uow.commit()
    return seeded


@pytest.fixture(name="service")
async def service_fixture(settings: StackSettings, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    async with running_scheduling(
        settings,
        link_secret=SECRET,
        output_dir=tmp_path,
        seed_availability=False,
        mail_poll_seconds=0.2,
        retry_unscheduled_seconds=2.0,
    ) as running:
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
    service: ServiceUnderTest,
    *,
    region: str = "London",
    organisation: str | None = None,
    email_address: str | None = None,
    capacity: int = 8,
    languages: tuple[str, ...] = ("en",),
    status: str = "active",
    score: int = 90,
) -> UUID:
    facilitator_id = uuid4()
    async with service.runtime.uow() as uow:
        uow.session.add(
            Facilitator(
                id=facilitator_id,
                name=f"Facilitator {facilitator_id.hex[:6]}",
                email=email_address or f"f.{facilitator_id.hex[:8]}@facilitators.example.nhs.uk",
                region=region,
                organisation=organisation or f"Trust {facilitator_id.hex[:6]}",
                status=status,
                elearning_score=score,
                elearning_passed_on=date(2024, 1, 10),
                course_completed_on=date(2024, 2, 1),
                monthly_capacity=capacity,
                languages=list(languages),
            )
        )
        await uow.commit()
    return facilitator_id


async def add_slot(service: ServiceUnderTest, facilitator_id: UUID, starts_at: datetime, *, minutes: int = 120) -> UUID:
    slot_id = uuid4()
    async with service.runtime.uow() as uow:
        uow.session.add(
            Slot(
                id=slot_id,
                facilitator_id=facilitator_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=minutes),
                mode="virtual",
            )
        )
        await uow.commit()
    return slot_id


def cycle_events(
    *,
    cycle_id: UUID,
    organisation: str = "Participant Trust",
    region: str = "London",
    email_address: str | None = None,
    chosen: UUID | None = None,
    management_line: tuple[str, ...] = (),
    preferred_language: str | None = None,
) -> tuple[CycleOpened, ReportGenerated]:
    opened = CycleOpened(
        producer="itest",
        cycle_id=cycle_id,
        participant_id=f"P-{cycle_id.hex[:6]}",
        participant_name="Amara Okafor",
        organisation=organisation,
        region=region,
        participant_email=email_address or f"participant.{cycle_id.hex[:8]}@participant.example.nhs.uk",
        facilitator_id=chosen,
        deadline=datetime.now(UTC) + timedelta(days=14),
        invited_per_group={RaterGroup.SELF: 1},
        management_line=list(management_line),
        preferred_language=preferred_language,
    )
    report = ReportGenerated(
        producer="itest",
        cycle_id=cycle_id,
        report_id=uuid4(),
        participant_id=opened.participant_id,
        organisation=organisation,
        region=region,
        facilitator_id=chosen,
    )
    return opened, report


async def open_booking(service: ServiceUnderTest, **kwargs: Any) -> UUID:
    """What the two Kafka handlers do, called directly: participant known, report ready."""
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id, **kwargs)
    async with service.runtime.uow() as uow:
        await booking.record_participant(uow, opened)
        await booking.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
        await uow.commit()
    return cycle_id


async def offer(service: ServiceUnderTest, cycle_id: UUID, *, language: str | None = None) -> booking.Offer:
    async with service.runtime.uow() as uow:
        request = await uow.session.get(BookingRequest, cycle_id)
        assert request is not None
        return await booking.offered_slots(
            uow, request, settings=config(service), now=datetime.now(UTC), language=language
        )


async def book(service: ServiceUnderTest, cycle_id: UUID, slot_id: UUID) -> FeedbackSession:
    async with service.runtime.uow() as uow:
        session = await booking.choose_slot(
            uow, cycle_id=cycle_id, slot_id=slot_id, language=None, settings=config(service), now=datetime.now(UTC)
        )
        await uow.commit()
    return session


async def emails(service: ServiceUnderTest, cycle_id: UUID) -> list[OutgoingEmail]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(
            select(OutgoingEmail)
            .where(col(OutgoingEmail.cycle_id) == cycle_id)
            .order_by(col(OutgoingEmail.created_at), col(OutgoingEmail.kind))
        )
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def outbox(service: ServiceUnderTest, event_type: str) -> list[dict[str, Any]]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage).where(col(OutboxMessage.event_type) == event_type).order_by(col(OutboxMessage.id))
        )
        return [json.loads(row.payload) for row in rows.scalars()]


def booking_path(service: ServiceUnderTest, cycle_id: UUID, *, now: datetime | None = None) -> str:
    """A booking link as the service mints it at `now` (valid booking_link_days from then)."""
    return common.links(config(service)).booking_path(cycle_id, now=now or datetime.now(UTC))


def booking_link_in(service: ServiceUnderTest, cycle_id: UUID, body: str) -> str:
    """The booking link an email carries: this cycle's, and in date now (each email mints its own)."""
    match = LINK.search(body)
    assert match, "the email carries a booking link"
    path = match.group(1)
    _, kind, subject, token = path.split("/")
    freshness = common.links(config(service)).booking_freshness(cycle_id, token, now=datetime.now(UTC))
    assert (kind, subject, freshness) == ("book", str(cycle_id), Freshness.VALID), path
    return path


def calendar_of(message: OutgoingEmail) -> tuple[str, Any]:
    assert message.ics is not None
    calendar = Calendar.from_ical(message.ics)
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


publish = publish_events


def line_changed(cycle_id: UUID, *line: str, occurred_at: datetime | None = None) -> ManagementLineChanged:
    when = {"occurred_at": occurred_at} if occurred_at else {}
    return ManagementLineChanged(producer="itest", cycle_id=cycle_id, management_line=list(line), **when)
