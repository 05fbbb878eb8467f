"""Across the reports/scheduling boundary, over real Kafka and PostgreSQL, with no events faked in
between: ratings close -> reports compiles the report (ReportGenerated) -> scheduling emails the
participant a booking link -> the participant books over HTTP (FeedbackSessionScheduled) -> reports
holds the report for the facilitator -> the session starts, the facilitator marks it completed on
their page (FeedbackSessionCompleted) -> reports releases the report (ReportReleased) and the
participant's link opens it. The no-show outcome keeps the report held."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import anyio
import pytest
from sqlalchemy import select
from sqlmodel import col

from reports.links import Link, sign
from reports.tables import FeedbackSession as HeldSession
from scheduling.links import LinkPurpose
from scheduling.tables import Facilitator, OutgoingEmail, Slot
from scheduling.usecases.common import links as scheduling_links
from shared.contracts.events import (
    FeedbackSessionCompleted,
    FeedbackSessionScheduled,
    ReportGenerated,
    ReportReleased,
)
from shared.contracts.topics import topic_for
from shared.links import SigningKeys
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.scheduling_support import running_scheduling
from tests.support import TopicReader, closed_cycle, eventually, publish_events

LONDON = ZoneInfo("Europe/London")
REPORTS_SECRET = "release-flow-reports-secret-" + "r" * 24
SCHEDULING_SECRET = "release-flow-scheduling-secret-" + "s" * 24


@pytest.fixture
async def reports(settings: StackSettings, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    async with running_service(
        "reports",
        settings,
        link_secret=REPORTS_SECRET,
        admin_token="release-flow-admin",
        output_dir=tmp_path / "reports",
        public_base_url="http://reports.release.test",
        mail_poll_seconds=0.2,
    ) as service:
        yield service


@pytest.fixture
async def scheduling(settings: StackSettings, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    # No notice period, so a session can be booked to start seconds from now and really be held.
    async with running_scheduling(
        settings,
        link_secret=SCHEDULING_SECRET,
        output_dir=tmp_path / "sessions",
        seed_availability=False,
        min_notice_hours=0,
        mail_poll_seconds=0.2,
        retry_unscheduled_seconds=1.0,
    ) as service:
        yield service


publish = publish_events


async def add_facilitator_with_slot(scheduling: ServiceUnderTest) -> UUID:
    """An accredited London facilitator with one slot a fortnight ahead (so the booking email goes out)."""
    facilitator_id = uuid4()
    today = datetime.now(LONDON).date()
    monday = today + timedelta(days=14 - today.weekday())
    starts = datetime.combine(monday, time(10), tzinfo=LONDON).astimezone(UTC)
    async with scheduling.runtime.uow() as uow:
        uow.session.add(
            Facilitator(
                id=facilitator_id,
                name="Fola Facilitator",
                email=f"f.{facilitator_id.hex[:8]}@facilitators.example.nhs.uk",
                region="London",
                organisation=f"Trust {facilitator_id.hex[:6]}",
                status="active",
                elearning_score=92,
                elearning_passed_on=date(2024, 1, 10),
                course_completed_on=date(2024, 2, 1),
                monthly_capacity=30,
                languages=["en"],
            )
        )
        await uow.session.flush()
        uow.session.add(
            Slot(
                id=uuid4(),
                facilitator_id=facilitator_id,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                mode="virtual",
            )
        )
        await uow.commit()
    return facilitator_id


async def add_slot_starting_soon(scheduling: ServiceUnderTest, facilitator_id: UUID, *, seconds: int) -> Slot:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
    slot = Slot(
        id=uuid4(), facilitator_id=facilitator_id, starts_at=starts, ends_at=starts + timedelta(hours=2), mode="virtual"
    )
    async with scheduling.runtime.uow() as uow:
        uow.session.add(slot)
        await uow.commit()
    return slot


async def booking_offer_sent(scheduling: ServiceUnderTest, cycle_id: UUID) -> bool:
    async with scheduling.runtime.uow() as uow:
        rows = await uow.session.execute(
            select(OutgoingEmail).where(
                col(OutgoingEmail.cycle_id) == cycle_id,
                col(OutgoingEmail.kind) == "booking_offer",
                col(OutgoingEmail.sent_at).is_not(None),
            )
        )
        return rows.first() is not None


async def session_status_in_reports(reports: ServiceUnderTest, session_id: str) -> str | None:
    async with reports.runtime.uow() as uow:
        held = await uow.session.get(HeldSession, UUID(session_id))
        return held.status if held else None


def participant_link(report_id: UUID) -> str:
    link = Link("report", report_id, "participant", None, datetime.now(UTC) + timedelta(days=5))
    return f"/report/{sign(link, keys=SigningKeys(REPORTS_SECRET.encode()))}"


async def book_session_starting_soon(
    settings: StackSettings, reports: ServiceUnderTest, scheduling: ServiceUnderTest
) -> tuple[UUID, UUID, str, dict[str, Any]]:
    """Run the journey up to a booked session that starts in a few seconds; returns
    (cycle_id, report_id, facilitator page path, FeedbackSessionScheduled as published)."""
    bootstrap = settings.hlm360_kafka_bootstrap_servers
    facilitator_id = await add_facilitator_with_slot(scheduling)
    cycle_id = uuid4()
    async with (
        TopicReader(bootstrap, topic_for(ReportGenerated)) as generated,
        TopicReader(bootstrap, topic_for(FeedbackSessionScheduled)) as scheduled,
    ):
        opened, ratings, closed = closed_cycle(
            cycle_id,
            participant_id=f"REL-{cycle_id.hex[:6]}",
            organisation="Release Flow NHS Trust",
            seed=23,
            participant_email=f"amara.{cycle_id.hex[:8]}@example.nhs.uk",
        )
        await publish(bootstrap, opened, *ratings, closed)
        (record,) = await generated.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=60)
        report_id = UUID(json.loads(record.value)["report_id"])
        await eventually(
            lambda: booking_offer_sent(scheduling, cycle_id),
            timeout=30,
            what="scheduling to email the booking link after ReportGenerated",
        )

        links = scheduling_links(scheduling.app.state.settings)
        booking = links.booking_path(cycle_id, now=datetime.now(UTC))
        soon = await add_slot_starting_soon(scheduling, facilitator_id, seconds=4)
        page = await scheduling.client.get(booking)
        assert page.status_code == 200 and str(soon.id) in page.text
        chosen = await scheduling.client.post(booking, data={"slot": str(soon.id)})
        assert chosen.status_code == 303, chosen.text
        (record,) = await scheduled.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=30)
    session = json.loads(record.value)
    assert session["report_id"] == str(report_id) and session["facilitator_id"] == str(facilitator_id)

    async def held_for_the_facilitator() -> bool:
        return await session_status_in_reports(reports, session["session_id"]) == "scheduled"

    await eventually(held_for_the_facilitator, timeout=30, what="reports to record the booked session")
    assert (await reports.client.get(participant_link(report_id))).status_code == 403  # held until the session

    # The facilitator cannot record the outcome before the session starts...
    facilitator_page = links.path(LinkPurpose.FACILITATOR, facilitator_id)
    action = f"{facilitator_page}/sessions/{session['session_id']}"
    early = await scheduling.client.post(action, data={"action": "completed"})
    assert early.status_code == 409 and "once the session has started" in early.text
    # ... and can once it has (real time passes; nothing is faked).
    await anyio.sleep(max(0.0, (soon.starts_at - datetime.now(UTC)).total_seconds()) + 0.5)
    return cycle_id, report_id, action, session


async def test_completing_the_session_releases_the_report_to_the_participant(
    settings: StackSettings, reports: ServiceUnderTest, scheduling: ServiceUnderTest
) -> None:
    cycle_id, report_id, action, session = await book_session_starting_soon(settings, reports, scheduling)
    bootstrap = settings.hlm360_kafka_bootstrap_servers
    async with (
        TopicReader(bootstrap, topic_for(FeedbackSessionCompleted)) as completed,
        TopicReader(bootstrap, topic_for(ReportReleased)) as released,
    ):
        marked = await scheduling.client.post(action, data={"action": "completed"})
        assert marked.status_code == 303, marked.text
        (done,) = await completed.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=30)
        (release,) = await released.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=30)
    done_event = json.loads(done.value)
    assert done_event["outcome"] == "completed" and done_event["session_id"] == session["session_id"]
    release_event = json.loads(release.value)
    assert release_event["report_id"] == str(report_id) and release_event["reason"] == "session_completed"
    # Same trace: the release carries the cycle's correlation id from the start of the journey.
    assert release_event["correlation_id"] == done_event["correlation_id"] is not None

    own = await reports.client.get(participant_link(report_id))
    assert own.status_code == 200 and "Your feedback conversation" in own.text
    api = (await scheduling.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
    assert api["status"] == "completed"
    located = (await reports.admin.get(f"/api/cycles/{cycle_id}/report")).json()
    assert located["released"] is True


async def test_a_no_show_keeps_the_report_held(
    settings: StackSettings, reports: ServiceUnderTest, scheduling: ServiceUnderTest
) -> None:
    cycle_id, report_id, action, _ = await book_session_starting_soon(settings, reports, scheduling)
    bootstrap = settings.hlm360_kafka_bootstrap_servers
    async with TopicReader(bootstrap, topic_for(FeedbackSessionCompleted)) as completed:
        marked = await scheduling.client.post(action, data={"action": "no_show"})
        assert marked.status_code == 303, marked.text
        (done,) = await completed.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=30)
    done_event = json.loads(done.value)
    assert done_event["outcome"] == "no_show"

    async def consumed() -> bool:
        return await session_status_in_reports(reports, done_event["session_id"]) == "no_show"

    await eventually(consumed, timeout=30, what="reports to record the no-show")
    assert (await reports.client.get(participant_link(report_id))).status_code == 403
